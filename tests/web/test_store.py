"""The store on a real SQLite file and a real PostgreSQL database: versions, deletion, runs,
events, leases and interruption, checkpoints and resumption, outages."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from web.store import EventRecord, Store
from web.store_faults import StoreUnavailable


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    yield store
    store.close()


def test_a_sqlite_folder_is_made(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'nested' / 'flowc.db'}")
    assert store.add_graph("a", {}).version == 1
    store.close()


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


def test_runs_of_an_expired_lease_become_interrupted(store: Store) -> None:
    now = time.time()
    store.renew_lease("alive", "here:1", now + 30)
    store.renew_lease("dead", "there:2", now - 1)
    for run_id, owner in (("mine", "alive"), ("orphan", "dead"), ("unknown", "gone")):
        store.add_run(run_id, "g", 1, {}, owner=owner)
    store.add_run("finished", "g", 1, {}, owner="dead")
    store.finish_run("finished", "succeeded", {}, None, None, None)
    assert store.interrupt_orphans(now) == 2
    assert store.get_run("orphan").status == "interrupted"
    assert store.get_run("unknown").status == "interrupted"
    assert store.get_run("mine").status == "queued"
    assert store.get_run("finished").status == "succeeded"
    assert store.interrupt_orphans(now) == 0
    store.drop_lease("alive")
    assert store.interrupt_orphans(now) == 1


def test_an_interrupted_run_is_claimed_once_with_its_checkpoint(store: Store) -> None:
    store.add_run("r", "g", 1, {"x": 1}, owner="dead")
    store.add_events("r", [EventRecord(i, "node_end", "n", {}, float(i)) for i in range(3)])
    store.save_checkpoint("r", {"format": 1, "done": ["a"]})
    store.save_checkpoint("r", {"format": 1, "done": ["a", "b"]})
    assert not store.claim_interrupted("r", "me")  # still queued: not interrupted
    assert store.interrupt_orphans(time.time()) == 1
    assert store.claim_interrupted("r", "me")
    assert not store.claim_interrupted("r", "another")
    run = store.get_run("r")
    assert (run.status, run.error, run.finished_at) == ("queued", None, None)
    assert store.get_checkpoint("r") == {"format": 1, "done": ["a", "b"]}
    assert store.last_seq("r") == 2 and store.last_seq("none") == -1
    store.finish_run("r", "succeeded", {"y": 2}, None, None, None)
    assert store.get_checkpoint("r") is None


def test_a_deleted_sqlite_file_is_an_outage_not_a_silent_loss(tmp_path: Path) -> None:
    path = tmp_path / "flowc.db"
    store = Store(f"sqlite:///{path}")
    kept = store.add_graph("kept", {"v": 1})
    assert store.health() is None
    os.unlink(path)
    with pytest.raises(StoreUnavailable, match="deleted"):
        store.add_graph("lost", {})
    with pytest.raises(StoreUnavailable, match="deleted"):
        store.get_graph(kept.id)
    assert "deleted" in (store.health() or "")
    fresh = Store(f"sqlite:///{path}")  # an operator puts a database back at the path
    fresh.close()
    assert store.get_graph(kept.id) is None  # the store now reads the file that is there
    assert store.add_graph("after", {}).version == 1
    assert store.health() is None
    store.close()


def test_a_full_database_is_an_outage_and_nothing_is_half_stored(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'flowc.db'}")
    kept = store.add_graph("kept", {"v": 1})
    with store.engine.connect() as db:  # every connection of the pool: one, as it is idle
        pages = db.exec_driver_sql("PRAGMA page_count").scalar()
    store.engine.pool.dispose()

    from sqlalchemy import event

    def cap(dbapi_connection, _record):  # the file may not grow: SQLite's "disk is full"
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(store.engine, "connect", cap)
    with pytest.raises(StoreUnavailable, match="full"):
        store.add_graph("big", {"blob": "x" * 200_000})
    assert "full" in (store.health() or "")
    assert [g.name for g in store.list_graphs()] == ["kept"]
    event.remove(store.engine, "connect", cap)
    store.engine.pool.dispose()
    assert store.add_graph("after", {}).version == 1 and store.health() is None
    assert store.get_graph(kept.id).source == {"v": 1}
    store.close()


def test_a_nul_character_anywhere_is_stored_and_read_back(store: Store) -> None:
    nul = "before\x00after"
    graph = store.add_graph("nul", {"description": nul, "ui": {nul: nul}})
    store.add_run("run_nul", graph.id, graph.version, {"text": nul})
    store.add_events("run_nul", [EventRecord(0, "token", "n", {"text": nul}, 0.1)])
    store.save_checkpoint("run_nul", {"state": {"text": nul}})
    assert store.get_checkpoint("run_nul") == {"state": {"text": nul}}
    store.finish_run("run_nul", "failed", {"out": nul}, f"tool failed on {nul!s}", "n",
                     {"note": nul})
    found = store.get_graph(graph.id)
    assert found is not None and found.source["ui"] == {nul: nul}
    run = store.get_run("run_nul")
    assert run is not None and run.inputs == {"text": nul} and run.outputs == {"out": nul}
    assert run.status == "failed" and run.error == "tool failed on before\\x00after"
    assert store.events("run_nul")[0].data == {"text": nul}
    assert store.get_trace("run_nul") == {"note": nul}


def test_servers_starting_together_on_a_new_sqlite_file_all_start(tmp_path: Path) -> None:
    import subprocess
    import sys

    for trial in range(3):
        url = f"sqlite:///{tmp_path}/together-{trial}.db"
        starts = [subprocess.Popen([sys.executable, "-c", "import sys; from web.db import "
                                    "connect; connect(sys.argv[1])", url],
                                   stderr=subprocess.PIPE) for _ in range(6)]
        errors = [p.communicate(timeout=120)[1].decode() for p in starts]
        assert [p.returncode for p in starts] == [0] * 6, errors
    store = Store(url)
    assert store.count_graphs() == 0
    store.close()
