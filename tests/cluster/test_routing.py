"""The router: affinity by key while loads are close, the least loaded replica when not, and
keys that stay put when another replica goes."""

from __future__ import annotations

from cluster_graphs import shared_prefix_graph

import flowc
from cluster import Router, plan_key, prompt_key


def test_a_key_keeps_its_replica_while_loads_are_close() -> None:
    router = Router(slack=4)
    first = router.pick("plan-a", {0: 0, 1: 0, 2: 0})
    assert all(router.pick("plan-a", {0: 3, 1: 2, 2: 1} | {first: 3}) == first
               for _ in range(5))
    assert router.affine == router.routed == 6


def test_load_well_above_the_others_sends_the_key_to_the_least_loaded() -> None:
    router = Router(slack=4, ratio=1.5)
    preferred = router.pick("plan-a", {0: 0, 1: 0})
    other = 1 - preferred
    assert router.pick("plan-a", {preferred: 5, other: 0}) == other
    assert router.pick("plan-a", {preferred: 4, other: 0}) == preferred
    assert router.pick("plan-a", {preferred: 140, other: 100}) == preferred
    assert router.pick("plan-a", {preferred: 160, other: 100}) == other


def test_losing_a_replica_moves_only_its_keys() -> None:
    router = Router()
    keys = [f"plan-{i}" for i in range(200)]
    before = {k: router.pick(k, {0: 0, 1: 0, 2: 0}) for k in keys}
    after = {k: router.pick(k, {0: 0, 2: 0}) for k in keys}
    assert {before[k] for k in keys} == {0, 1, 2}
    assert all(after[k] == before[k] for k in keys if before[k] != 1)


def test_round_robin_ignores_keys() -> None:
    router = Router(affinity=False)
    picks = [router.pick("plan-a", {0: 0, 1: 0}) for _ in range(4)]
    assert sorted(picks) == [0, 0, 1, 1]


def test_plan_key_is_the_graphs_prefix_groups_not_the_compile() -> None:
    graph = shared_prefix_graph()
    first, again = flowc.compile(graph), flowc.compile(graph)
    assert first is not again and plan_key(first) == plan_key(again)
    assert plan_key(flowc.compile(shared_prefix_graph())) != plan_key(first)


def test_prompt_key_is_the_prompts_head() -> None:
    head = list(range(300))
    assert prompt_key(head + [1, 2]) == prompt_key(head + [3])
    assert prompt_key(list(range(40))) != prompt_key(list(range(1, 41)))
