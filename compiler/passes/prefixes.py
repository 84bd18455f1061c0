"""Shared prompt prefixes: a radix tree over every call site's segments (thread histories and
map bodies included; a map body's call counts once per estimated item) gives the prefix
groups to prefill once, with when they are ready and when they can be released, plus a
speculative group for the static prefix of every router target."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from compiler.context import CompileContext
from compiler.cost import TokenEstimates, segment_tokens
from compiler.plan import CallSite, PrefixGroup, Segment
from compiler.radix import RadixNode, RadixTree
from compiler.reach import Reach

MIN_GROUP_TOKENS = 16  # a group must add at least this many tokens to its parent: a KV page


@dataclass(frozen=True)
class _Draft:
    node: RadixNode
    tokens: int
    increment: int
    parent: RadixNode | None


@dataclass(frozen=True)
class PrefixesPass:
    name: str = "prefixes"

    def apply(self, ctx: CompileContext) -> CompileContext:
        tree = RadixTree()
        ends: dict[str, RadixNode] = {}
        item_locals = _item_locals(ctx)
        for step_id, call in ctx.calls.items():
            units = _units(call, item_locals.get(ctx.sites[step_id].scope, frozenset()))
            ends[step_id] = tree.insert(units, step_id, ctx.runs[step_id])
        drafts = _drafts(tree, ctx.dynamic_tokens)
        groups, by_node = _groups(ctx, drafts)
        groups += _speculative_groups(ctx, ends, by_node)
        return dataclasses.replace(ctx, prefix_groups=tuple(groups))

    def summary(self, ctx: CompileContext) -> str:
        saved = sum(g.saved_tokens for g in ctx.prefix_groups)
        speculative = sum(g.speculative for g in ctx.prefix_groups)
        return (
            f"{len(ctx.prefix_groups)} prefix groups ({speculative} speculative), "
            f"{saved} prefill tokens saved"
        )


def _item_locals(ctx: CompileContext) -> dict[str, frozenset[str]]:
    """Per map body scope: the variables whose value differs from item to item."""
    body_writes: dict[str, set[str]] = {}
    for step_id, site in ctx.sites.items():
        if site.scope:
            body_writes.setdefault(site.scope, set()).update(ctx.flows[step_id].writes)
    result: dict[str, frozenset[str]] = {}
    for step_id, site in ctx.sites.items():  # a map precedes its body's maps
        if site.node.type == "map":
            inherited = result.get(site.scope, frozenset())
            local = {site.node.as_, "loop", *body_writes.get(step_id, ())}
            result[step_id] = inherited | local
    return result


def _units(call: CallSite, item_locals: frozenset[str]) -> list[Hashable]:
    """The call's prompt as trie units: static token ids, then one unit per dynamic segment;
    it stops at the first segment whose value changes from item to item."""
    units: list[Hashable] = []
    for segment in call.segments:
        if segment.kind == "static":
            units.extend(segment.token_ids)
        elif item_locals.intersection(segment.variables):
            break
        else:
            units.append(("dynamic", segment.text, segment.variables))
    return units


def _unit_tokens(unit: Hashable, estimates: TokenEstimates) -> int:
    if isinstance(unit, int):
        return 1
    assert isinstance(unit, tuple)
    return segment_tokens(Segment("dynamic", unit[1], variables=unit[2]), estimates)


def _drafts(tree: RadixTree, estimates: TokenEstimates) -> list[_Draft]:
    """Radix nodes shared by two or more calls that add enough tokens to their parent."""
    tokens: dict[int, int] = {id(tree.root): 0}
    emitted: dict[int, RadixNode | None] = {id(tree.root): None}  # nearest emitted ancestor
    drafts: list[_Draft] = []
    by_node: dict[int, _Draft] = {}
    for node in tree.nodes():
        assert node.parent is not None
        total = tokens[id(node.parent)] + sum(_unit_tokens(u, estimates) for u in node.edge)
        tokens[id(node)] = total
        ancestor = emitted[id(node.parent)]
        base = by_node[id(ancestor)].tokens if ancestor is not None else 0
        if node.weight >= 2 and total - base >= MIN_GROUP_TOKENS:
            draft = _Draft(node, total, total - base, ancestor)
            drafts.append(draft)
            by_node[id(node)] = draft
            emitted[id(node)] = node
        else:
            emitted[id(node)] = ancestor
    return drafts


def _groups(
    ctx: CompileContext, drafts: list[_Draft]
) -> tuple[list[PrefixGroup], dict[int, PrefixGroup]]:
    """The shared groups, ordered by first consumer, and each one by its radix node's id."""
    order = {step_id: i for i, step_id in enumerate(ctx.sites)}
    reach = Reach(ctx.scopes[""].dag)
    keyed = []
    for draft in drafts:
        consumers = sorted(set(draft.node.consumers()), key=order.__getitem__)
        keyed.append(((order[consumers[0]], draft.tokens), draft, consumers))
    keyed.sort(key=lambda item: item[0])
    names = {id(draft.node): f"g{i + 1}" for i, (_, draft, _) in enumerate(keyed)}
    groups = []
    by_node: dict[int, PrefixGroup] = {}
    for _, draft, consumers in keyed:
        segments = _cut(ctx, ctx.calls[consumers[0]].segments, draft.node.depth)
        waits_on = sorted({v for s in segments for v in s.variables})
        groups.append(
            PrefixGroup(
                id=names[id(draft.node)],
                segments=segments,
                consumers=tuple(consumers),
                tokens=draft.tokens,
                waits_on=tuple(waits_on),
                ready_after=_writers(ctx, waits_on, consumers, reach),
                release_after=tuple(reach.maximal(ctx.sites[c].top for c in consumers)),
                saved_tokens=draft.increment * (draft.node.weight - 1),
                parent=names[id(draft.parent)] if draft.parent is not None else None,
                runs=draft.node.weight,
            )
        )
        by_node[id(draft.node)] = groups[-1]
    return groups, by_node


def _writers(
    ctx: CompileContext, variables: list[str], consumers: list[str], reach: Reach
) -> tuple[str, ...]:
    """The steps that write `variables` before some consumer runs. A writer reached only
    through a back edge (a loop-carried value) is left out: the first pass reads the
    variable's initial value."""
    tops = {ctx.sites[c].top for c in consumers}
    steps = {
        w for v in variables for w in ctx.writers.get(v, ())
        if any(reach.precedes(w, top) for top in tops)
    }
    return tuple(sorted(steps, key=reach.index.__getitem__))


def _cut(ctx: CompileContext, segments: tuple[Segment, ...], units: int) -> tuple[Segment, ...]:
    """The first `units` trie units of a call's segments (a static segment may be cut)."""
    kept: list[Segment] = []
    for segment in segments:
        if units <= 0:
            break
        if segment.kind == "dynamic":
            kept.append(segment)
            units -= 1
        elif len(segment.token_ids) <= units:
            kept.append(segment)
            units -= len(segment.token_ids)
        else:
            ids = segment.token_ids[:units]
            text = ctx.tokenizer.decode(list(ids), clean_up_tokenization_spaces=False)
            kept.append(Segment("static", text, token_ids=ids))
            units = 0
    return tuple(kept)


def _speculative_groups(
    ctx: CompileContext,
    ends: Mapping[str, RadixNode],
    by_node: Mapping[int, PrefixGroup],
) -> list[PrefixGroup]:
    """One group per router target whose static prefix outgrows its shared groups."""
    speculative: list[PrefixGroup] = []
    seen: set[str] = set()
    for router, target in _router_targets(ctx):
        if target in seen or target not in ctx.calls:
            continue
        seen.add(target)
        call = ctx.calls[target]
        shared = _deepest_group(ends[target], by_node)
        covered = min(shared.tokens, call.static_prefix_tokens) if shared else 0
        if call.static_prefix_tokens - covered < MIN_GROUP_TOKENS:
            continue
        segments = _cut(ctx, call.segments, call.static_prefix_tokens)
        speculative.append(
            PrefixGroup(
                id=f"s{len(speculative) + 1}",
                segments=segments,
                consumers=(target,),
                tokens=call.static_prefix_tokens,
                release_after=(ctx.sites[target].top,),
                speculative=True,
                parent=shared.id if shared else None,
                runs=ctx.runs[target],
                speculate_with=router,
            )
        )
    return speculative


def _deepest_group(end: RadixNode, by_node: Mapping[int, PrefixGroup]) -> PrefixGroup | None:
    node: RadixNode | None = end
    while node is not None:
        if id(node) in by_node:
            return by_node[id(node)]
        node = node.parent
    return None


def _router_targets(ctx: CompileContext) -> list[tuple[str, str]]:
    pairs = []
    for scope in ctx.scopes.values():
        for source, target, when in scope.graph.edges(data="when"):
            if when is not None and not scope.graph.edges[source, target].get("back_edge"):
                pairs.append((source, target))
    order = {step_id: i for i, step_id in enumerate(ctx.sites)}
    return sorted(pairs, key=lambda p: (order[p[0]], order[p[1]]))

