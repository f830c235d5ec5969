"""Kill -9 drills: the worker mid-case, the projector mid-stream; then rebuilds equal the live views."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import EventStore, max_position, read_case, record
from asnflow.domain.events import GENESIS_HASH, hash_of
from asnflow.projections.views import PROJECTIONS
from asnflow.runtime.demo_org import demo_employees
from asnflow.runtime.settings import Settings
from asnflow.runtime.worker import build_worker
from asnflow.workflows.contracts import DecisionInput, NewEvent, RecordInput
from asnflow.workflows.evaluation import EvaluationWorkflow, evaluation_case_id
from asnflow.workflows.evaluation_calibration import EvaluationCalibrationWorkflow
from asnflow.workflows.evaluation_contracts import CalibrationInput, EvaluationInput, MemberRating, calibration_case_id
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


def spawn(settings: Settings, *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """`asnflow ARGS` as its own process; its output to `log` (appended) or nowhere."""
    out = log.open("ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen([sys.executable, "-m", "asnflow.runtime.cli", *args], env=child_env(settings), stdout=out, stderr=out)
    finally:
        if log:
            out.close()  # type: ignore[union-attr]


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
    assert_chain_intact(store, case_id)
    store.close()


def assert_chain_intact(store: EventStore, case_id: str) -> None:
    """Versions 1..n without a gap, each event hashing to its hash and linking to the one before."""
    previous = GENESIS_HASH
    for version, stored in enumerate(read_case(store, case_id), start=1):
        assert stored.event.originator_version == version and stored.event.previous_hash == previous
        assert hash_of(stored.event) == stored.event.hash
        previous = stored.event.hash


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


async def test_a_calibration_round_recorded_just_before_a_crash_stays_that_round(
    dev_server_env: WorkflowEnvironment, database_url: str, tmp_path: Path
) -> None:
    """A member signalling while the round's workflow task is lost joins the next round; the case never forks.

    The round opens in the workflow task that receives the first member's signal. Recorded there, the
    task's retry after the crash would hold the second member's signal too and record another round at
    the same version (CaseForked); the round is settled by a completed task first (ROUND_SETTLED_PATCH).
    """
    client: Client = dev_server_env.client
    settings = make_settings(database_url, tmp_path, client_address(client))
    prepare_database(settings)
    store = EventStore(env=settings.store_env())
    unit, year = "DISKOMINFO", 2017
    head, leader, _ = head_people(unit)
    first, second = [
        MemberRating(case_id=evaluation_case_id(e.nip, year), nip=e.nip, raw="BAIK")
        for e in demo_employees() if e.unit == unit and e.nip != head.nip
    ][:2]
    case_id = calibration_case_id(unit, year)
    # The real recording, except that it never answers once a round is committed: a crash after the commit.
    worker = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_round_crash_worker.py"))], env=child_env(settings),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        handle = await client.start_workflow(
            EvaluationCalibrationWorkflow.run, CalibrationInput(case_id=case_id, unit=unit, year=year), id=case_id,
            task_queue=settings.task_queue,
        )
        await asyncio.wait_for(open_task(store, case_id, f"{case_id}.t1"), 60)
        await handle.execute_update(
            CaseWorkflow.decide, DecisionInput(task_id=f"{case_id}.t1", actor=leader, outcome="SET", data={"predicate": "BAIK"})
        )
        await asyncio.sleep(1)  # the case waits for its members now
        await handle.signal(EvaluationCalibrationWorkflow.rating_submitted, first)
        await asyncio.wait_for(_recorded(store, case_id, "CalibrationRoundOpened"), 60)
    finally:
        kill9(worker)
    # The second member arrives while the round's workflow task waits for its timeout on the server.
    await handle.signal(EvaluationCalibrationWorkflow.rating_submitted, second)
    with ThreadPoolExecutor(8) as executor:
        async with build_worker(client, settings, store, executor):
            await asyncio.wait_for(open_task(store, case_id, f"{case_id}.t2"), 90)
            calibrate = {"adjustments": [], "quota_justification": "Seluruh pegawai memenuhi target (uji)"}
            await _decide_when_registered(handle, f"{case_id}.t2", head, "CALIBRATED", calibrate)
            await asyncio.wait_for(open_task(store, case_id, f"{case_id}.t3"), 60)  # the next round, for the second member
            await _decide_when_registered(handle, f"{case_id}.t3", head, "CALIBRATED", calibrate)
            result = await asyncio.wait_for(handle.result(), 60)
    assert result.status == "completed" and result.outcome["calibrated"] == 2
    rounds = [s.event.payload for s in read_case(store, case_id) if type(s.event).__name__ == "CalibrationRoundOpened"]
    assert [[m["nip"] for m in r["members"]] for r in rounds] == [[first.nip], [second.nip]]
    assert_chain_intact(store, case_id)


async def _recorded(store: EventStore, case_id: str, event_type: str) -> None:
    while not any(type(s.event).__name__ == event_type for s in await asyncio.to_thread(read_case, store, case_id)):
        await asyncio.sleep(0.05)


async def _decide_when_registered(handle: Any, task_id: str, actor: Any, outcome: str, data: dict[str, Any]) -> None:
    """A decision sent just as the task opens may meet NotFound (the task is stored before it is registered): retry it."""
    for _ in range(100):
        try:
            await handle.execute_update(CaseWorkflow.decide, DecisionInput(task_id=task_id, actor=actor, outcome=outcome, data=data))
            return
        except WorkflowUpdateFailedError as exc:
            if getattr(exc.cause, "type", None) != "NotFound":
                raise
            await asyncio.sleep(0.1)
    raise AssertionError(f"{task_id} never took a decision")
