"""A rebuild writes exactly the rows the live projector wrote: every task event, tenants, redaction, held rows written early."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from asnflow.activities.eventstore import EventStore, max_position, record
from asnflow.domain.events import GENESIS_HASH
from asnflow.projections.runner import ensure_tables, open_view, rebuild_views, run_projector, tracking_position
from asnflow.projections.views import PROJECTIONS
from asnflow.workflows.contracts import NewEvent, RecordInput
from tests.support import make_settings

VIEWS = ("tasks", "audit_log")
SYSTEM = {"system": True, "nip": None, "role": "SYSTEM", "on_behalf_of": None}
EMP = {"nip": "199602102022031001", "role": "PEGAWAI", "on_behalf_of": None}
BOSS = {"nip": "198306172008012001", "role": "ATASAN", "on_behalf_of": None}


class Case:
    """A case whose events are recorded one step at a time, as a workflow records them."""

    def __init__(self, store: EventStore, case_id: str) -> None:
        self.store, self.case_id, self.version, self.hash = store, case_id, 0, GENESIS_HASH

    def step(self, *events: NewEvent) -> None:
        result = record(self.store, RecordInput(
            case_id=self.case_id, process="drill", expected_version=self.version, previous_hash=self.hash,
            workflow_id=self.case_id, run_id="r", occurred_at=f"2026-11-{10 + self.version // 4:02d}T08:{self.version:02d}:00+07:00",
            events=list(events),
        ))
        self.version, self.hash = result.version, result.last_hash

    def opened(self, n: int, **extra: Any) -> NewEvent:
        payload = {"task_id": f"{self.case_id}.t{n}", "kind": "DRILL", "title": f"Tugas {n}", "assignee_nip": EMP["nip"],
                   "candidate_role": None, "unit": "BKPSDMD", "subject_nip": EMP["nip"], "due_at": "2026-12-01T16:59:59+07:00",
                   "outcomes": ["OK", "NO"], **extra}
        return NewEvent("TaskOpened", payload, SYSTEM)

    def task(self, event_type: str, n: int, actor: dict[str, Any] = SYSTEM, reason: str = "", **payload: Any) -> NewEvent:
        return NewEvent(event_type, {"task_id": f"{self.case_id}.t{n}", **payload}, actor, reason)


def record_every_task_event(store: EventStore) -> None:
    """Tasks of three cases (two tenants) through every event the tasks view handles, interleaved across cases."""
    a, b, c = Case(store, "drill-a"), Case(store, "drill-b"), Case(store, "kotajambi.drill-c")
    a.step(NewEvent("CaseOpened", {"subject_nip": EMP["nip"], "unit": "BKPSDMD", "title": "A"}, EMP), a.opened(1))
    b.step(NewEvent("CaseOpened", {"subject_nip": None, "unit": "BKPSDMD", "title": "B"}, SYSTEM),
           b.opened(1, assignee_nip=None, candidate_role="VERIFIKATOR", supervises="drill-a.t1", due_at=None))
    c.step(NewEvent("CaseOpened", {"subject_nip": EMP["nip"], "unit": "DINKES", "title": "C"}, EMP), c.opened(1, outcomes=[]))
    a.step(a.task("TaskClaimed", 1, EMP, claimed_by=EMP["nip"]))
    b.step(b.task("TaskEscalated", 1, level=1, mode="reassign", to_nip=BOSS["nip"], step=1, key="k1"))
    a.step(a.task("TaskReleased", 1, EMP))
    b.step(b.task("TaskReminded", 1, step=1, key="r1", recipients=[]))
    a.step(a.task("TaskClaimed", 1, BOSS, claimed_by=BOSS["nip"]))
    a.step(a.task("TaskDecided", 1, BOSS, "sesuai / as agreed", kind="DRILL", outcome="OK",
                  data={"nik": "1504031503720001", "catatan": None, "nested": [{"email": "a@b.id", "n": 1.5}]}))
    c.step(c.task("TaskDecided", 1, EMP, outcome="NO", kind="DRILL", data={"alasan": "tidak lengkap", "flag": True}))
    b.step(b.task("TaskCancelled", 1, reason="kasus ditutup / case closed"))
    # A reassignment after the task closed changes nothing; a supervision escalation still records its level.
    b.step(b.task("TaskEscalated", 1, level=2, mode="reassign", to_nip=EMP["nip"], step=2, key="k2"))
    b.step(b.task("TaskEscalated", 1, level=3, mode="supervise", to_nip=None, step=3, key="k3"))
    c.step(c.task("TaskReminded", 9, step=1, key="r9", recipients=[]))  # no such task: no row
    a.step(a.opened(2, assignee_nip=BOSS["nip"]))
    a.step(a.task("TaskEscalated", 2, level=1, mode="reassign", to_nip=EMP["nip"], step=1, key="k4"))


def recorded(url: str, tmp_path: Path) -> tuple[dict[str, str], int]:
    """The store's environment after `record_every_task_event`, and the last position recorded."""
    env = make_settings(url, tmp_path).store_env()
    ensure_tables(env, VIEWS)
    store = EventStore(env=env)
    try:
        record_every_task_event(store)
        return env, max_position(store)
    finally:
        store.close()


def view_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        rows = {table: conn.execute(f"SELECT * FROM {table} t ORDER BY t::text").fetchall() for table in VIEWS}  # noqa: S608
        # The inbox's counts of active tasks per assignee (kept by triggers); a count that fell to 0 may stay as a row.
        counted = conn.execute("SELECT tenant, assignee_nip, process, kind, n FROM task_counts WHERE n <> 0 ORDER BY 1, 2, 3, 4").fetchall()
        recounted = conn.execute(
            "SELECT tenant, assignee_nip, process, kind, count(*) FROM tasks WHERE assignee_nip IS NOT NULL"
            " AND status IN ('open', 'claimed') GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
        ).fetchall()
    assert counted == recounted and recounted, "task_counts must equal a fresh count of the active tasks"
    return rows


@pytest.mark.parametrize("held", [PROJECTIONS["tasks"][1].fold_limit, 2])
def test_a_rebuild_writes_what_the_live_projector_wrote(
    fresh_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held: int
) -> None:
    env, total = recorded(fresh_database_url, tmp_path)

    stop = threading.Event()
    projector = threading.Thread(target=run_projector, args=(env, VIEWS, stop), daemon=True)
    projector.start()
    views = [open_view(name, env) for name in VIEWS]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and min(tracking_position(view) for view in views) < total:
            time.sleep(0.05)
        assert [tracking_position(view) for view in views] == [total, total]
    finally:
        stop.set()
        projector.join(timeout=30)
        for view in views:
            view.datastore.close()
    live = view_rows(fresh_database_url)

    with psycopg.connect(fresh_database_url) as conn:
        tasks = {r[0]: r for r in conn.execute("SELECT id, status, assignee_nip, claimed_by, escalation_level, supervises, tenant,"
                                                " last_reminded_at IS NOT NULL, data FROM tasks").fetchall()}
    assert tasks["drill-a.t1"][1:4] == ("done", EMP["nip"], BOSS["nip"])
    assert tasks["drill-a.t1"][8] == {"nik": "1504031503720001", "catatan": None, "nested": [{"email": "a@b.id", "n": 1.5}]}
    assert tasks["drill-a.t2"][1:5] == ("open", EMP["nip"], None, 1)
    assert tasks["drill-b.t1"][1:8] == ("cancelled", BOSS["nip"], None, 3, "drill-a.t1", "batanghari", True)
    assert tasks["kotajambi.drill-c.t1"][1] == "done" and tasks["kotajambi.drill-c.t1"][6] == "kotajambi"
    assert len(live["audit_log"]) == total

    # held=2: task rows are written while the rebuild runs, and later events change them with SQL.
    monkeypatch.setattr(PROJECTIONS["tasks"][1], "fold_limit", held)
    assert rebuild_views(env, VIEWS) == total
    assert view_rows(fresh_database_url) == live


def test_a_failing_view_does_not_hold_back_the_others(fresh_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page goes to every view in one transaction; when one view fails, the others still advance, and it catches up."""
    env, total = recorded(fresh_database_url, tmp_path)
    tasks_view = PROJECTIONS["tasks"][1]
    broken = threading.Event()
    broken.set()
    on_decided = tasks_view.on_decided

    def failing(self: Any, curs: Any, event: Any, position: int) -> None:
        if broken.is_set():
            raise RuntimeError("a handler's bug")
        on_decided(self, curs, event, position)

    monkeypatch.setattr(tasks_view, "on_decided", failing)
    stop = threading.Event()
    # A page per event, so the failing view stops right before the event it cannot apply.
    projector = threading.Thread(target=run_projector, args=(env, VIEWS, stop), kwargs={"batch": 1}, daemon=True)
    projector.start()
    views = {name: open_view(name, env) for name in VIEWS}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and tracking_position(views["audit_log"]) < total:
            time.sleep(0.05)
        assert tracking_position(views["audit_log"]) == total
        time.sleep(1.5)  # the failing view is retried every second: it stays before its first TaskDecided
        with psycopg.connect(fresh_database_url) as conn:
            first_decided = conn.execute(
                "SELECT min(position) FROM audit_log WHERE type = 'TaskDecided'"
            ).fetchone()[0]  # type: ignore[index]
        assert tracking_position(views["tasks"]) == first_decided - 1
        broken.clear()
        while time.monotonic() < deadline and tracking_position(views["tasks"]) < total:
            time.sleep(0.05)
        assert tracking_position(views["tasks"]) == total
    finally:
        stop.set()
        projector.join(timeout=30)
        for view in views.values():
            view.datastore.close()
    live = view_rows(fresh_database_url)
    assert rebuild_views(env, VIEWS) == total
    assert view_rows(fresh_database_url) == live
