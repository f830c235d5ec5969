"""Kill -9 drills: the worker mid-case, the projector mid-stream; then rebuilds equal the live views."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import EventStore, max_position, read_case, record
from asnflow.domain.events import GENESIS_HASH, hash_of
from asnflow.projections.views import PROJECTIONS
from asnflow.runtime.settings import Settings
from asnflow.workflows.contracts import DecisionInput, NewEvent, RecordInput
from asnflow.workflows.evaluation import EvaluationWorkflow, evaluation_case_id
from asnflow.workflows.evaluation_contracts import EvaluationInput
from asnflow.workflows.human_tasks import CaseWorkflow
from tests.support import client_address, make_settings, prepare_database
from tests.workflows.test_evaluation_workflow import AGREE, APPRAISER_RATES_HEADS, CHECKIN, RATING, SKP, head_people, open_task


def child_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "ASNFLOW_DATABASE_URL": settings.database_url,
        "ASNFLOW_TEMPORAL_ADDRESS": settings.temporal_address,
        "ASNFLOW_TASK_QUEUE": settings.task_queue,
        "ASNFLOW_DATA_DIR": str(settings.data_dir),
        "ASNFLOW_DEV_MODE": "true",  # the data folder's generated store key, as the in-process stack uses
    }


def spawn(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "asnflow.runtime.cli", *args],
        env=child_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def rebuild_view(settings: Settings, name: str) -> None:
    """`asnflow rebuild NAME` as its own process, as an operator runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "asnflow.runtime.cli", "rebuild", name], env=child_env(settings), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr


def kill9(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        kill9(proc)


async def test_worker_killed_mid_case_completes_without_loss_or_duplicates(
    dev_server_env: WorkflowEnvironment, database_url: str, tmp_path: Path
) -> None:
    client: Client = dev_server_env.client
    settings = make_settings(database_url, tmp_path, client_address(client))
    prepare_database(settings)
    store = EventStore(env=settings.store_env())
    employee, boss, _ = head_people("SETWAN")  # a unit head rated by the appraiser: the case runs to its end on its own
    case_id = evaluation_case_id(employee.nip, 2024)  # type: ignore[arg-type]
    worker = spawn(settings, "worker")
    try:
        handle = await client.start_workflow(
            EvaluationWorkflow.run,
            EvaluationInput(case_id=case_id, nip=employee.nip, year=2024, started_by=employee, policy=APPRAISER_RATES_HEADS),  # type: ignore[arg-type]
            id=case_id,
            task_queue=settings.task_queue,
        )
        steps = [
            (1, employee, "SUBMITTED", SKP), (2, boss, "AGREED", AGREE), (3, boss, "RECORDED", CHECKIN),
            (4, boss, "SUBMITTED", RATING), (5, employee, "ACKNOWLEDGED", {}),
        ]
        for n, actor, outcome, data in steps:
            task_id = f"{case_id}.t{n}"
            await asyncio.wait_for(open_task(store, case_id, task_id), 60)
            update = asyncio.create_task(
                handle.execute_update(CaseWorkflow.decide, DecisionInput(task_id=task_id, actor=actor, outcome=outcome, data=data))
            )
            if n in (2, 3):
                # The decision is in flight when the worker dies; a new worker finishes it.
                await asyncio.sleep(0.05 if n == 2 else 0.3)
                kill9(worker)
                worker = spawn(settings, "worker")
            await asyncio.wait_for(update, 90)
        result = await asyncio.wait_for(handle.result(), 90)
        assert result.status == "completed" and result.outcome["predicate"] == "SANGAT_BAIK"
    finally:
        stop(worker)
    events = read_case(store, case_id)
    types = [type(s.event).__name__ for s in events]
    assert types.count("TaskDecided") == 5 and types.count("TaskOpened") == 5 and types[-1] == "CaseClosed"
    assert len(types) == 26
    previous = GENESIS_HASH
    for version, stored in enumerate(events, start=1):
        assert stored.event.originator_version == version and stored.event.previous_hash == previous
        assert hash_of(stored.event) == stored.event.hash
        previous = stored.event.hash
    store.close()


def view_rows(url: str) -> dict[str, list[tuple]]:
    """Every table of every view, in a total order (row text), so two states compare exactly."""
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} t ORDER BY t::text").fetchall()  # noqa: S608
            for _, view_class in PROJECTIONS.values()
            for table in view_class.tables
        }


def tracking(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            name: (conn.execute(f"SELECT notification_id FROM {name}_tracking WHERE application_name='asnflow'").fetchone() or (0,))[0]  # noqa: S608
            for name in PROJECTIONS
        }


def test_projector_killed_mid_stream_resumes_exactly_once_and_rebuilds_match(fresh_database_url: str, tmp_path: Path) -> None:
    settings = make_settings(fresh_database_url, tmp_path)
    prepare_database(settings)
    store = EventStore(env=settings.store_env())
    record_drill_cases(store, 0, 1500)
    total = max_position(store)
    projector = spawn(settings, "projector")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(0 < p < total for p in tracking(fresh_database_url).values()):
        time.sleep(0.01)
    at_kill = tracking(fresh_database_url)
    kill9(projector)
    assert any(p < total for p in at_kill.values()), f"projector finished before the kill: {at_kill}"

    projector = spawn(settings, "projector")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and min(tracking(fresh_database_url).values()) < total:
            time.sleep(0.1)
    finally:
        stop(projector)
    assert min(tracking(fresh_database_url).values()) == total
    live = view_rows(fresh_database_url)
    assert len(live["audit_log"]) == total  # every position exactly once
    assert len(live["tasks"]) == 1500 and len(live["cases"]) == 1500

    for name in PROJECTIONS:
        rebuild_view(settings, name)
    assert view_rows(fresh_database_url) == live
    assert tracking(fresh_database_url) == dict.fromkeys(PROJECTIONS, total)
    store.close()


def record_drill_cases(store: EventStore, start: int, count: int) -> None:
    for i in range(start, start + count):
        case_id = f"drill-{i}"
        record(
            store,
            RecordInput(
                case_id=case_id, process="drill", expected_version=0, previous_hash=GENESIS_HASH, workflow_id=case_id,
                run_id="r", occurred_at="2026-11-28T08:00:00+00:00",
                events=[
                    NewEvent("CaseOpened", {"subject_nip": None, "unit": "BKPSDMD", "title": case_id}, {"nip": None}),
                    NewEvent("TaskOpened", {"task_id": f"{case_id}.t1", "kind": "DRILL", "outcomes": ["OK"],
                                            "due_at": "2026-12-01T16:59:59+00:00"}, {"nip": None}),
                ],
            ),
        )


def test_two_projectors_and_a_rebuild_under_appends_apply_every_event_once(fresh_database_url: str, tmp_path: Path) -> None:
    """Two projector processes (two replicas) follow the store while it grows and a view is rebuilt under them."""
    settings = make_settings(fresh_database_url, tmp_path)
    prepare_database(settings)
    store = EventStore(env=settings.store_env())
    projectors = [spawn(settings, "projector"), spawn(settings, "projector")]
    try:
        for batch in range(6):
            record_drill_cases(store, batch * 100, 100)
            if batch == 3:
                rebuild_view(settings, "tasks")
        total = max_position(store)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and min(tracking(fresh_database_url).values()) < total:
            time.sleep(0.1)
    finally:
        for proc in projectors:
            stop(proc)
    assert tracking(fresh_database_url) == dict.fromkeys(PROJECTIONS, total)
    live = view_rows(fresh_database_url)
    assert len(live["audit_log"]) == total  # every position exactly once, though two writers raced for each
    assert len(live["tasks"]) == 600 and len(live["cases"]) == 600
    for name in PROJECTIONS:
        rebuild_view(settings, name)
    assert view_rows(fresh_database_url) == live
    store.close()
