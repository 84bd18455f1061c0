"""Benchmark mode B-LG: real LangGraph driving a flowc workflow through an OpenAI-compatible
server (`flowc serve`, vLLM or SGLang), as a LangGraph user in front of such a server would.

Any flowc workflow (the JSON format of docs/format.md) is translated, generally, into a
LangGraph `StateGraph`:

- one LangGraph node per flowc node; the state holds the inputs, the declared `state` entries
  (each through its flowc reducer) and every node's output;
- `llm` nodes render their messages with flowc's templates against the state, put the earlier
  turns of their `thread` first (the turns of the thread's nodes that are their ancestors or
  loop mates, each as its rendered messages and the reply's text) and call
  `/v1/chat/completions` with the node's sampling settings over the workflow's defaults;
  `choices` become vLLM's `extra_body={"guided_choice": [...]}`, `json_schema` a
  `response_format`, `regex` vLLM's `guided_regex`, and free-text nodes ask for
  `ignore_eos` when `build_langgraph(..., ignore_eos=True)`;
- `select` nodes are guided_choice completions too (greedy), not flowc's likelihood scoring;
- `tool` nodes call flowc's tool registry; `set` nodes evaluate their expressions in order;
- `map` nodes fan out with LangGraph's `Send`: the body is a compiled sub-graph invoked once
  per item, the `result` of every item gathered in item order;
- `when`/`else` edges become conditional edges (flowc's `evaluate`), every holding `when`
  edge fires and `else` only when none did; a join whose in-edges always fire together is a
  LangGraph barrier (`add_edge([a, b], c)`), any other join (after a router) is a deferred
  node, which runs once nothing else in its graph is left to run (flowc runs it as soon as
  none of its own in-edges can fire any more); back edges loop, bounded by
  `limits.max_node_visits` as in flowc.

LangGraph runs the nodes of a superstep concurrently and every call is an async request, so
parallel branches and map items are concurrent requests to the server.

    outputs = asyncio.run(run_langgraph(workflow, [{}, {"alert": "..."}],
                                        "http://127.0.0.1:8000/v1", ["examples/tools.py"],
                                        ignore_eos=False))

Not carried over from flowc's executor: `limits.max_tokens_total` and `timeout_s`, a map's
`max_concurrency` (every item is sent at once), `top_k` and `regex` on flowc's own server
(sent as vLLM's `top_k` / `guided_regex`, which flowc's server ignores: a regex node then
fails unless its free reply happens to match), and the derived per-call seeds of sampled
nodes without a seed (the server picks its own). Prompts are the same text as flowc's but
tokenized whole by the server, where flowc tokenizes static text and template values apart:
after `Name: {{ x }}` flowc has the tokens `:`, ` `, `x...` and the server `:`, ` x...`.

`build_langgraph` names the model "default" (any name serves on flowc's server; vLLM wants
the served name); `run_instances` and `run_langgraph` ask the server for it.
"""

from __future__ import annotations

import asyncio
import json
import operator
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypedDict

import networkx as nx
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Overwrite, Send
from openai import AsyncOpenAI

from executor import ToolRegistry, load_tools, render_args, render_value
from graph import (
    LlmNode,
    MapNode,
    Node,
    Reducer,
    Sampling,
    SelectNode,
    SetNode,
    ToolNode,
    Workflow,
    evaluate,
    first_readers,
    load,
    reducers_of,
    render,
    resolve_inputs,
)
from graph.model import Edge
from graph.topology import is_end_target, node_graph

# Channels of the translation's own bookkeeping (templates cannot name `__` variables).
TURNS = "__flowc_turns"  # finished thread turns of this graph, in order
CALLS = "__flowc_calls"  # one record per chat completion, body calls included
WRITES = "__flowc_writes"  # (state entry, value) written in this graph, for map bodies
VISITS = "__flowc_visits"  # node id -> times it ran
PRIVATE = "__flowc_"

FLOWC_MAX_TOKENS = 256  # flowc's SamplingParams default when neither node nor defaults say
FLOWC_TEMPERATURE = 0.0  # flowc's default: greedy
RECURSION_SLACK = 16
_CHANNEL_TYPES: dict[str, type] = {"append": list, "extend": list, "merge": dict,
                                   "replace": object}

State = dict[str, Any]
NodeFn = Callable[[State], Awaitable[State]]
Tools = ToolRegistry | Iterable[str | Path] | None


@dataclass(frozen=True)
class Turn:
    """One finished call on a thread: its rendered messages and the reply's text."""

    thread: str
    node: str
    messages: tuple[dict[str, str], ...]
    reply: str


@dataclass(frozen=True)
class Batch:
    """Several writes to one declared state entry (a map item's), combined in order."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class Settings:
    """What every node of a translated workflow shares."""

    client: AsyncOpenAI
    model: str
    tools: ToolRegistry
    defaults: Sampling
    reducers: Mapping[str, Reducer]
    max_visits: int
    ignore_eos: bool


@dataclass(frozen=True)
class Shape:
    """One flowc graph (the workflow's or a map body's): its nodes, edges and joins."""

    nodes: dict[str, Node]
    edges: tuple[Edge, ...]
    back: frozenset[tuple[str, str]]
    visible: dict[str, frozenset[str]]
    barriers: dict[str, tuple[str, ...]]  # join -> the sources LangGraph's barrier awaits
    deferred: frozenset[str]  # joins LangGraph runs once nothing else is left to run

    def out_edges(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.from_ == node_id]

    def is_node(self, target: str) -> bool:
        return not is_end_target(target, self.nodes)

    def starts(self) -> list[str]:
        targets = {e.to for e in self.edges}
        return [n for n in self.nodes if n not in targets]


@dataclass
class RunRecord:
    """One instance's run: the workflow's outputs, its final state and its calls."""

    outputs: dict[str, Any]
    state: dict[str, Any]
    calls: list[dict[str, Any]]


# -- the public entry points ---------------------------------------------------------------


def build_langgraph(workflow: dict[str, Any] | Workflow, base_url: str, tools: Tools = None,
                    *, ignore_eos: bool = False, model: str = "default",
                    client: AsyncOpenAI | None = None) -> CompiledStateGraph:
    """The workflow as a compiled LangGraph calling the chat completions of `base_url` (an
    OpenAI-compatible `/v1`). Invoke it with `initial_state(workflow, inputs)` and read the
    results with `render_outputs(workflow, final_state)`. Build it inside the event loop
    that runs it (the client's connections belong to that loop), or pass `client`."""
    flow = _workflow(workflow)
    settings = Settings(
        client=client or AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0,
                                     timeout=600.0),
        model=model, tools=_registry(tools), defaults=flow.defaults,
        reducers=reducers_of(flow.state), max_visits=flow.limits.max_node_visits,
        ignore_eos=ignore_eos)
    outer = set(flow.inputs) | set(flow.state)
    return _compile(flow.nodes, flow.edges, outer, settings)


def initial_state(workflow: dict[str, Any] | Workflow, inputs: Mapping[str, Any]) -> State:
    """The graph's input: the run's inputs (defaults filled in, types coerced as flowc does)
    and every declared state entry at its initial value."""
    flow = _workflow(workflow)
    values: State = dict(resolve_inputs(flow.inputs, inputs, first_readers(flow.nodes)))
    for name, reducer in reducers_of(flow.state).items():
        values[name] = Overwrite(reducer.initial(flow.state[name]))
    return values


def render_outputs(workflow: dict[str, Any] | Workflow, state: Mapping[str, Any]
                   ) -> dict[str, Any]:
    """The workflow's `outputs` rendered as flowc renders them (a lone `{{ expression }}`
    keeps its type; None for a variable only a branch not taken writes)."""
    outputs: dict[str, Any] = {}
    for name, template in _workflow(workflow).outputs.items():
        try:
            outputs[name] = render_value(template, state)
        except Exception:
            outputs[name] = None
    return outputs


async def run_instances(workflow: dict[str, Any] | Workflow, instances: Sequence[Mapping[str, Any]],
                        base_url: str, tools: Tools = None, ignore_eos: bool = False,
                        model: str | None = None) -> list[RunRecord]:
    """Every instance (a dict of inputs) through one compiled graph, all concurrently.
    `model` None asks the server for its first model's name."""
    flow = _workflow(workflow)
    async with AsyncOpenAI(base_url=base_url, api_key="EMPTY", timeout=600.0) as client:
        served = model or (await client.models.list()).data[0].id
        app = build_langgraph(flow, base_url, tools, ignore_eos=ignore_eos, model=served,
                              client=client)
        return list(await asyncio.gather(*(_run_one(app, flow, i) for i in instances)))


async def run_langgraph(workflow: dict[str, Any] | Workflow, instances: Sequence[Mapping[str, Any]],
                        base_url: str, tools: Tools = None, ignore_eos: bool = False
                        ) -> list[dict[str, Any]]:
    """Every instance concurrently; each run's outputs rendered as flowc renders them."""
    records = await run_instances(workflow, instances, base_url, tools, ignore_eos)
    return [record.outputs for record in records]


async def _run_one(app: CompiledStateGraph, flow: Workflow, inputs: Mapping[str, Any]
                   ) -> RunRecord:
    final = await app.ainvoke(initial_state(flow, inputs))
    return RunRecord(render_outputs(flow, final), _public(final), list(final.get(CALLS, [])))


def _workflow(workflow: dict[str, Any] | Workflow) -> Workflow:
    return workflow if isinstance(workflow, Workflow) else load(workflow)


def _registry(tools: Tools) -> ToolRegistry:
    if isinstance(tools, ToolRegistry):
        return tools
    return load_tools(list(tools or ()))


# -- values --------------------------------------------------------------------------------


def _public(state: Mapping[str, Any]) -> State:
    return {k: v for k, v in state.items() if not k.startswith(PRIVATE)}


# -- the graph's shape -------------------------------------------------------------------


def _shape(nodes: Sequence[Node], edges: Sequence[Edge]) -> Shape:
    """Back edges, per-node thread visibility (ancestors and loop mates, as flowc's executor
    sees thread turns) and how each join waits."""
    full = node_graph(nodes, edges)
    back = frozenset((u, v) for u, v, data in full.edges(data=True) if data["back_edge"])
    dag = nx.DiGraph()
    dag.add_nodes_from(full.nodes)
    dag.add_edges_from((u, v) for u, v in full.edges if (u, v) not in back)
    # node_graph returns flowc's own DiGraph: copy its edges into networkx's
    cycles = nx.strongly_connected_components(nx.DiGraph(list(full.edges)))
    loops = {n: c for c in cycles if len(c) > 1 for n in c}
    cyclic = set(loops) | {u for u, v in full.edges if u == v}
    visible = {n: frozenset(nx.ancestors(dag, n) | loops.get(n, set()) | {n}) for n in full}
    forward = [e for e in edges if e.to in full and (e.from_, e.to) not in back]
    barriers, deferred = _joins(forward, dag, cyclic)
    return Shape({n.id: n for n in nodes}, tuple(edges), back, visible, barriers,
                 frozenset(deferred))


def _joins(forward: list[Edge], dag: nx.DiGraph, cyclic: set[str]
           ) -> tuple[dict[str, tuple[str, ...]], set[str]]:
    """Which joins are barriers and which are deferred. A node's trigger is the event that
    makes it run: the run's start, or itself for a node after a condition, in a loop, or
    after a deferred join; an unconditional chain inherits its source's trigger. A join whose
    sources share one trigger always sees all of them run: LangGraph's barrier waits for
    them. Any other join may see only some of its sources run: it is deferred (LangGraph
    runs it once nothing else is left to run)."""
    trigger: dict[str, frozenset[str]] = {}
    barriers: dict[str, tuple[str, ...]] = {}
    deferred: set[str] = set()
    for node_id in nx.topological_sort(dag):
        ins = [e for e in forward if e.to == node_id]
        if not ins:
            trigger[node_id] = frozenset({START})
            continue
        sources = {trigger[e.from_] for e in ins}
        conditional = any(e.when is not None for e in ins)
        if len(ins) > 1 and (conditional or len(sources) > 1):
            deferred.add(node_id)
        elif len(ins) > 1:
            barriers[node_id] = tuple(e.from_ for e in ins)
        own = conditional or node_id in cyclic or node_id in deferred
        trigger[node_id] = frozenset({node_id}) if own else next(iter(sources))
    return barriers, deferred


def _exit(shape: Shape, node_id: str) -> str:
    """The LangGraph node that finishes a flowc node: a map's gather step."""
    return f"{node_id}.gather" if isinstance(shape.nodes[node_id], MapNode) else node_id


# -- building ----------------------------------------------------------------------------


def _compile(nodes: Sequence[Node], edges: Sequence[Edge], outer: set[str],
             settings: Settings) -> CompiledStateGraph:
    """One flowc graph as a compiled StateGraph; `outer` are the variables it sees from
    outside (inputs and state, or the enclosing graph's variables in a map body)."""
    shape = _shape(nodes, edges)
    builder = StateGraph(_schema(nodes, outer, settings.reducers))
    for node in nodes:
        _add_node(builder, shape, node, outer, settings)
    _add_edges(builder, shape)
    helpers = sum(3 if isinstance(n, MapNode) else 1 for n in nodes)
    limit = helpers * settings.max_visits + RECURSION_SLACK
    return builder.compile().with_config(recursion_limit=limit)


def _schema(nodes: Sequence[Node], outer: set[str], reducers: Mapping[str, Reducer]) -> type:
    """The state: every variable (declared state entries through their reducer, others the
    last value written) and the private channels."""
    fields: dict[str, Any] = {name: Any for name in outer | _writes(nodes)}
    for name, reducer in reducers.items():
        fields[name] = Annotated[_CHANNEL_TYPES[reducer.name], _combine(reducer, name)]
    fields.update({TURNS: Annotated[list, operator.add], CALLS: Annotated[list, operator.add],
                   WRITES: Annotated[list, operator.add], VISITS: Annotated[dict, _count]})
    for node in nodes:
        if isinstance(node, MapNode):
            fields[_items_key(node.id)] = Any
            fields[_results_key(node.id)] = Annotated[list, operator.add]
    return TypedDict("FlowcState", fields, total=False)  # type: ignore[operator]


def _writes(nodes: Sequence[Node]) -> set[str]:
    names: set[str] = set()
    for node in nodes:
        names |= set(node.assign) if isinstance(node, SetNode) else {node.output}
    return names


def _combine(reducer: Reducer, name: str) -> Callable[[Any, Any], Any]:
    def combine(current: Any, update: Any) -> Any:
        for value in update.values if isinstance(update, Batch) else (update,):
            current = reducer.combine(current, value, name)
        return current

    return combine


def _count(current: dict[str, int], update: dict[str, int]) -> dict[str, int]:
    return {**current, **{k: current.get(k, 0) + v for k, v in update.items()}}


def _items_key(node_id: str) -> str:
    return f"{PRIVATE}items_{node_id}"


def _results_key(node_id: str) -> str:
    return f"{PRIVATE}results_{node_id}"


def _add_node(builder: StateGraph, shape: Shape, node: Node, outer: set[str],
              settings: Settings) -> None:
    defer = node.id in shape.deferred
    if isinstance(node, MapNode):
        body = _compile(node.body.nodes, node.body.edges,
                        outer | _writes(shape.nodes.values()) | {node.as_, "loop"}, settings)
        builder.add_node(node.id, _visited(node.id, settings, _map_start(node)), defer=defer)
        builder.add_node(f"{node.id}.each", _map_item(node, body, settings))
        builder.add_node(f"{node.id}.gather", _map_gather(node))
        builder.add_conditional_edges(node.id, _map_sends(node),
                                      [f"{node.id}.each", f"{node.id}.gather"])
        builder.add_edge(f"{node.id}.each", f"{node.id}.gather")
        return
    work: NodeFn
    if isinstance(node, LlmNode):
        work = _llm_node(node, shape.visible[node.id], settings)
    elif isinstance(node, SelectNode):
        work = _select_node(node, shape.visible[node.id], settings)
    elif isinstance(node, ToolNode):
        work = _tool_node(node, settings)
    else:
        work = _set_node(node)
    builder.add_node(node.id, _visited(node.id, settings, work), defer=defer)


def _add_edges(builder: StateGraph, shape: Shape) -> None:
    for start in shape.starts():
        builder.add_edge(START, start)
    for target, sources in shape.barriers.items():
        builder.add_edge([_exit(shape, s) for s in sources], target)
    for node_id in shape.nodes:
        edges = shape.out_edges(node_id)
        for edge in edges:
            waited = (edge.to in shape.barriers and (edge.from_, edge.to) not in shape.back)
            if edge.when is None and shape.is_node(edge.to) and not waited:
                builder.add_edge(_exit(shape, node_id), edge.to)
        routed = [e for e in edges if e.when is not None]
        if routed:
            targets = [e.to for e in routed if shape.is_node(e.to)]
            builder.add_conditional_edges(_exit(shape, node_id), _router(shape, routed),
                                          targets or None)


def _router(shape: Shape, edges: list[Edge]) -> Callable[[State], list[str]]:
    """Every `when` edge that holds fires; `else` only when none did."""
    whens = [e for e in edges if not e.is_else]
    otherwise = [e for e in edges if e.is_else]

    def route(state: State) -> list[str]:
        fired = [e for e in whens if bool(evaluate(e.when or "", state))] or otherwise
        return [e.to for e in fired if shape.is_node(e.to)]

    return route


def _visited(node_id: str, settings: Settings, work: NodeFn) -> NodeFn:
    """The node's work after counting its visit against limits.max_node_visits."""

    async def run(state: State) -> State:
        visit = state.get(VISITS, {}).get(node_id, 0) + 1
        if visit > settings.max_visits:
            raise RuntimeError(f"node '{node_id}' exceeded limits.max_node_visits "
                               f"({settings.max_visits})")
        writes = await work(state)
        logged = [(k, v) for k, v in writes.items() if k in settings.reducers]
        return {**writes, VISITS: {node_id: 1}, WRITES: [*writes.get(WRITES, []), *logged]}

    return run


# -- llm and select nodes ------------------------------------------------------------------


def _llm_node(node: LlmNode, visible: frozenset[str], settings: Settings) -> NodeFn:
    request = llm_request(node, settings.defaults, settings.ignore_eos)

    async def run(state: State) -> State:
        own = _messages(node, state)
        reply, call = await _chat(settings, node.id, [*_history(node, state, visible), *own],
                                  request)
        return {node.output: check_output(node, reply), CALLS: [call],
                **_turn(node, own, reply)}

    return run


def check_output(node: LlmNode, reply: str) -> Any:
    """The node's value as flowc's executor checks it: JSON parsed under a json_schema, and
    a reply outside its regex or choices is an error (a server that ignores `guided_regex`,
    as flowc's own does, fails here rather than further on)."""
    if node.json_schema is not None:
        return json.loads(reply)
    if node.regex is not None and not re.fullmatch(node.regex, reply, re.DOTALL):
        raise ValueError(f"node '{node.id}': output does not match its regex {node.regex!r}: "
                         f"{reply[:120]!r}")
    if node.choices is not None and reply not in node.choices:
        raise ValueError(f"node '{node.id}': output is none of its choices: {reply[:120]!r}")
    return reply


def _select_node(node: SelectNode, visible: frozenset[str], settings: Settings) -> NodeFn:
    request = select_request(node)

    async def run(state: State) -> State:
        own = _messages(node, state)
        reply, call = await _chat(settings, node.id, [*_history(node, state, visible), *own],
                                  request)
        if reply not in node.choices:
            raise ValueError(f"node '{node.id}': output is none of its choices: {reply!r}")
        return {node.output: reply, CALLS: [call], **_turn(node, own, reply)}

    return run


def llm_request(node: LlmNode, defaults: Sampling, ignore_eos: bool) -> dict[str, Any]:
    """The chat completion's arguments: the node's sampling over the workflow's defaults
    over flowc's own defaults, and its constraint as vLLM takes it."""
    def pick(name: str) -> Any:
        value = getattr(node, name)
        return value if value is not None else getattr(defaults, name)

    temperature = pick("temperature")
    request: dict[str, Any] = {
        "max_tokens": pick("max_tokens") or FLOWC_MAX_TOKENS,
        "temperature": FLOWC_TEMPERATURE if temperature is None else temperature,
    }
    request.update({k: pick(k) for k in ("top_p", "stop", "seed") if pick(k) is not None})
    extra: dict[str, Any] = {"top_k": pick("top_k")} if pick("top_k") else {}
    if node.choices is not None:
        extra["guided_choice"] = list(node.choices)
    elif node.regex is not None:
        extra["guided_regex"] = node.regex
    elif node.json_schema is not None:
        request["response_format"] = {"type": "json_schema", "json_schema": {
            "name": node.output, "schema": node.json_schema, "strict": True}}
    elif ignore_eos:
        extra["ignore_eos"] = True
    if extra:
        request["extra_body"] = extra
    return request


def select_request(node: SelectNode) -> dict[str, Any]:
    """A select node as a greedy guided_choice completion, with room for its longest choice
    (a token is at least one byte) and the end-of-sequence token."""
    room = max(len(choice.encode()) for choice in node.choices) + 1
    return {"max_tokens": room, "temperature": 0.0,
            "extra_body": {"guided_choice": list(node.choices)}}


def _messages(node: LlmNode | SelectNode, state: State) -> list[dict[str, str]]:
    return [{"role": m.role, "content": render(m.content, state)} for m in node.chat()]


def _history(node: LlmNode | SelectNode, state: State, visible: frozenset[str]
             ) -> list[dict[str, str]]:
    """The thread's earlier turns this node sees, as messages and replies."""
    if node.thread is None:
        return []
    messages: list[dict[str, str]] = []
    for turn in state.get(TURNS, []):
        if turn.thread == node.thread and turn.node in visible:
            messages += [*turn.messages, {"role": "assistant", "content": turn.reply}]
    return messages


def _turn(node: LlmNode | SelectNode, own: list[dict[str, str]], reply: str) -> State:
    if node.thread is None:
        return {}
    return {TURNS: [Turn(node.thread, node.id, tuple(own), reply)]}


async def _chat(settings: Settings, node_id: str, messages: list[dict[str, str]],
                request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """One chat completion: the reply's text and the call's record."""
    response = await settings.client.chat.completions.create(
        model=settings.model, messages=messages, **request)  # type: ignore[arg-type]
    choice = response.choices[0]
    usage = response.usage
    details = usage.prompt_tokens_details if usage is not None else None
    call = {"node": node_id, "finish_reason": choice.finish_reason,
            "prompt_tokens": usage.prompt_tokens if usage else 0,
            "completion_tokens": usage.completion_tokens if usage else 0,
            "cached_tokens": (details.cached_tokens or 0) if details else 0}
    return choice.message.content or "", call


# -- tool and set nodes ----------------------------------------------------------------------


def _tool_node(node: ToolNode, settings: Settings) -> NodeFn:
    async def run(state: State) -> State:
        args = render_args(node.args, state)
        return {node.output: await settings.tools.call(node.tool, args, node.timeout_s)}

    return run


def _set_node(node: SetNode) -> NodeFn:
    async def run(state: State) -> State:
        results: State = {}
        for name, expression in node.assign.items():
            results[name] = evaluate(expression, {**state, **results})
        return results

    return run


# -- map nodes ---------------------------------------------------------------------------


def _map_start(node: MapNode) -> NodeFn:
    """Evaluate `over` and clear the results of an earlier visit."""

    async def run(state: State) -> State:
        items = evaluate(node.over, state)
        if not isinstance(items, list | tuple):
            raise ValueError(f"node '{node.id}': over {node.over!r} gave "
                             f"{type(items).__name__}, not a list")
        return {_items_key(node.id): list(items), _results_key(node.id): Overwrite([])}

    return run


def _map_sends(node: MapNode) -> Callable[[State], list[Send] | list[str]]:
    """One Send per item, carrying the variables the body sees; none: straight to gather."""

    def sends(state: State) -> list[Send] | list[str]:
        items = state[_items_key(node.id)]
        if not items:
            return [f"{node.id}.gather"]
        scope = _public(state)
        return [Send(f"{node.id}.each", {"index": i, "item": item, "length": len(items),
                                          "scope": scope})
                for i, item in enumerate(items)]

    return sends


def _map_item(node: MapNode, body: CompiledStateGraph, settings: Settings) -> NodeFn:
    """One item through the body sub-graph; its result, calls and state writes go up."""

    async def run(payload: State) -> State:
        index, length = payload["index"], payload["length"]
        loop = {"index0": index, "index": index + 1, "length": length, "first": index == 0,
                "last": index == length - 1}
        scope = {k: Overwrite(v) if k in settings.reducers else v
                 for k, v in payload["scope"].items()}
        final = await body.ainvoke({**scope, node.as_: payload["item"], "loop": loop})
        writes = list(final.get(WRITES, []))
        batches = {name: Batch(tuple(v for k, v in writes if k == name))
                   for name in dict.fromkeys(k for k, _ in writes)}
        result = render_value(node.body.result, final)
        return {_results_key(node.id): [(index, result)], CALLS: final.get(CALLS, []),
                WRITES: writes, **batches}

    return run


def _map_gather(node: MapNode) -> NodeFn:
    async def run(state: State) -> State:
        results = sorted(state.get(_results_key(node.id), []), key=operator.itemgetter(0))
        return {node.output: [value for _, value in results]}

    return run
