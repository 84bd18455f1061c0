"""The store on a real SQLite file: versions, deletion, runs, events, interruption."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from web.store import EventRecord, Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'nested' / 'flowc.db'}")


def test_versions_count_up_and_stay_readable(store: Store) -> None:
    first = store.add_graph("a", {"v": 1})
    second = store.add_version(first.id, "b", {"v": 2})
    assert second is not None and second.version == 2
    assert store.get_graph(first.id).source == {"v": 2}
    assert store.get_graph(first.id, 1).source == {"v": 1}
    assert store.get_graph(first.id, 3) is None
    assert store.list_graphs()[0].latest_version == 2
    assert store.add_version("g_none", "x", {}) is None


def test_delete_removes_versions_but_keeps_runs(store: Store) -> None:
    graph = store.add_graph("a", {})
    store.add_run("run_1", graph.id, 1, {"x": 1})
    assert store.delete_graph(graph.id)
    assert store.get_graph(graph.id, 1) is None and not store.delete_graph(graph.id)
    assert store.get_run("run_1").graph_id == graph.id


def test_events_in_order_and_unique(store: Store) -> None:
    store.add_run("run_1", "g", 1, {})
    store.add_events("run_1", [EventRecord(i, "token", "n", {"text": str(i)}, float(i))
                               for i in range(5)])
    assert [e.seq for e in store.events("run_1")] == [0, 1, 2, 3, 4]
    assert [e.seq for e in store.events("run_1", after=2)] == [3, 4]
    with pytest.raises(IntegrityError):
        store.add_events("run_1", [EventRecord(4, "token", "n", {}, 9.0)])
    assert len(store.events("run_1")) == 5


def test_only_runs_in_flight_become_interrupted(store: Store) -> None:
    for run_id in ("queued", "running", "done"):
        store.add_run(run_id, "g", 1, {}, owner="here:8000")
    store.add_run("elsewhere", "g", 1, {}, owner="there:8000")
    store.set_status("running", "running")
    store.finish_run("done", "succeeded", {"y": 1}, None, None, {"steps": []})
    assert store.mark_interrupted("here:8000") == 2
    assert store.get_run("queued").status == "interrupted"
    assert store.get_run("done").status == "succeeded"
    assert store.get_trace("done") == {"steps": []}
    assert store.count_runs("interrupted") == 2
    assert store.get_run("elsewhere").status == "queued"  # another server's run goes on
    assert store.count_runs(graph_id="g") == 4 and store.count_runs(graph_id="h") == 0
