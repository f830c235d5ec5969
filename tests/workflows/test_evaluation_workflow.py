"""The evaluation workflow on the time-skipping server, with the real store on PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import os
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import EventStore, read_case
from asnflow.domain.events import GENESIS_HASH, hash_of
from asnflow.domain.rules import EvaluationPolicy
from asnflow.runtime.demo_org import demo_employees, demo_users
from asnflow.runtime.settings import Settings
from asnflow.runtime.worker import build_worker
from asnflow.workflows.contracts import (
    Actor,
    CancelTaskInput,
    ClaimInput,
    DecisionInput,
    ReleaseInput,
)
from asnflow.workflows.evaluation import EvaluationWorkflow, evaluation_case_id
from asnflow.workflows.evaluation_contracts import EvaluationInput
from asnflow.workflows.human_tasks import CaseWorkflow, TaskSpec, TaskState
from tests.support import make_settings, prepare_database


@pytest.fixture(scope="module")
def wf_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = make_settings(database_url, tmp_path_factory.mktemp("wf"))
    prepare_database(settings)
    return settings


@pytest.fixture
async def running(time_skipping_env: WorkflowEnvironment, wf_settings: Settings) -> AsyncIterator[tuple[Client, Settings, EventStore]]:
    settings = wf_settings.model_copy(update={"task_queue": f"tq-{uuid.uuid4()}"})
    store = EventStore(env=settings.store_env())
    with ThreadPoolExecutor(8) as executor:
        async with build_worker(time_skipping_env.client, settings, store, executor):
            yield time_skipping_env.client, settings, store
    store.close()


def people() -> tuple[Actor, Actor, Actor]:
    """An employee with a superior, the superior, and a colleague who is neither."""
    by_nip = {e.nip: e for e in demo_employees()}
    staff = [e for e in demo_employees() if e.atasan_nip and e.jenis_jabatan != "JPT"]
    # Different tests use different employees so their cases never collide.
    employee = staff[int(uuid.uuid4().int % len(staff))]
    boss = by_nip[employee.atasan_nip]
    other = next(e for e in staff if e.nip not in (employee.nip, boss.nip) and e.atasan_nip != employee.nip)

    def actor(e: object) -> Actor:
        return Actor(nip=e.nip, roles=["PEGAWAI"], unit=e.unit, name=e.nama)  # type: ignore[attr-defined]

    return actor(employee), actor(boss), actor(other)


def head_people(unit: str) -> tuple[Actor, Actor, Actor]:
    """A unit head (whose result the unit does not calibrate), their superior, and someone who is neither."""
    members = {e.nip for e in demo_employees() if e.unit == unit}
    by_nip = {e.nip: e for e in demo_employees()}
    head = next(e for e in demo_employees() if e.unit == unit and e.atasan_nip not in members)
    boss = by_nip[head.atasan_nip]  # type: ignore[index]
    other = next(e for e in demo_employees() if e.unit == unit and e.nip != head.nip)

    def actor(e: object) -> Actor:
        return Actor(nip=e.nip, roles=["PEGAWAI"], unit=e.unit, name=e.nama)  # type: ignore[attr-defined]

    return actor(head), actor(boss), actor(other)


async def open_task(store: EventStore, case_id: str, task_id: str, timeout: float = 60) -> None:
    # A deadline, not a count of polls: a worker process started under load takes seconds to import and poll.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = await asyncio.to_thread(read_case, store, case_id)
        if any(type(s.event).__name__ == "TaskOpened" and s.event.payload["task_id"] == task_id for s in events):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{task_id} never opened")


async def decide(handle: WorkflowHandle, store: EventStore, case_id: str, n: int, actor: Actor, outcome: str, data: dict | None = None, reason: str = "") -> None:
    task_id = f"{case_id}.t{n}"
    await open_task(store, case_id, task_id)
    await handle.execute_update(CaseWorkflow.decide, DecisionInput(task_id=task_id, actor=actor, outcome=outcome, reason=reason, data=data or {}))


HISTORIES = Path(__file__).parent / "histories"


async def save_history(handle: WorkflowHandle, name: str) -> None:
    """Refresh a replay fixture when asked to (ASNFLOW_RECORD_HISTORIES=1) after a workflow change."""
    if os.environ.get("ASNFLOW_RECORD_HISTORIES") == "1":
        history = await handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json())


SKP = {"targets": [{"indikator": "Laporan layanan publik", "target": "12 laporan"}]}
AGREE = {"expectations": ["Laporan diserahkan setiap akhir bulan"]}
CHECKIN = {"feedback": "Capaian semester I sesuai rencana"}
RATING = {"hasil_kerja": "DI_ATAS_EKSPEKTASI", "perilaku_kerja": "DI_ATAS_EKSPEKTASI"}
# A past year: every period is over, so a case runs from task to task without waiting on the calendar.
# Unit heads are not calibrated by their own unit, so their cases need no calibration here.
APPRAISER_RATES_HEADS = EvaluationPolicy(head_work_results="APPRAISER")


async def start(client: Client, settings: Settings, employee: Actor, year: int) -> tuple[str, WorkflowHandle]:
    case_id = evaluation_case_id(employee.nip, year)  # type: ignore[arg-type]
    handle = await client.start_workflow(
        EvaluationWorkflow.run,
        # These cases test the task mechanism on their own, so a head is rated by the appraiser here; the
        # default (a head's work results are the unit's predicate) has its own tests in test_evaluation_year.
        EvaluationInput(case_id=case_id, nip=employee.nip, year=year, started_by=employee, policy=APPRAISER_RATES_HEADS),  # type: ignore[arg-type]
        id=case_id,
        task_queue=settings.task_queue,
    )
    return case_id, handle


async def test_whole_evaluation_records_one_chain(running: tuple[Client, Settings, EventStore]) -> None:
    client, settings, store = running
    employee, boss, _ = head_people("DPMPTSP")
    case_id, handle = await start(client, settings, employee, 2021)
    await decide(handle, store, case_id, 1, employee, "SUBMITTED", SKP)
    await decide(handle, store, case_id, 2, boss, "AGREED", AGREE)
    await decide(handle, store, case_id, 3, boss, "RECORDED", CHECKIN)
    await decide(handle, store, case_id, 4, boss, "SUBMITTED", RATING)
    await decide(handle, store, case_id, 5, employee, "ACKNOWLEDGED")
    result = await handle.result()
    assert result.status == "completed"
    assert result.outcome == {"predicate": "SANGAT_BAIK", "raw": "SANGAT_BAIK", "credit_points": 0.0}  # a JPT earns no credit points
    await save_history(handle, "evaluation-completed")

    events = read_case(store, case_id)
    types = [type(s.event).__name__ for s in events]
    assert types == [
        "CaseOpened", "EvaluationStarted", "SkpPeriodOpened", "TaskOpened", "TaskDecided", "SkpDrafted", "TaskOpened",
        "TaskDecided", "SkpAgreed", "LeaderExpectationsRecorded", "TaskOpened", "TaskDecided", "CheckInRecorded", "SkpPeriodClosed",
        "TaskOpened", "TaskDecided", "RatingSubmitted", "PredicateDetermined", "CalibrationJoined", "ResultDelivered",
        "TaskOpened", "TaskDecided", "EvaluationAcknowledged", "CreditPointsDetermined", "EvaluationFinalised", "CaseClosed",
    ]
    previous = GENESIS_HASH
    for version, stored in enumerate(events, start=1):
        assert stored.event.originator_version == version
        assert stored.event.previous_hash == previous
        assert hash_of(stored.event) == stored.event.hash
        previous = stored.event.hash
    decided = [s.event for s in events if type(s.event).__name__ == "TaskDecided"]
    assert [d.actor["nip"] for d in decided] == [employee.nip, boss.nip, boss.nip, boss.nip, employee.nip]


async def test_validator_rejects_before_anything_is_written(running: tuple[Client, Settings, EventStore]) -> None:
    client, settings, store = running
    employee, boss, other = head_people("DISDIKBUD")
    case_id, handle = await start(client, settings, employee, 2020)
    first = f"{case_id}.t1"
    await open_task(store, case_id, first)
    before = len(read_case(store, case_id))

    async def refused(actor: Actor, outcome: str, data: dict, kind: str, task_id: str = first, reason: str = "") -> None:
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update(CaseWorkflow.decide, DecisionInput(task_id=task_id, actor=actor, outcome=outcome, reason=reason, data=data))
        assert isinstance(info.value.cause, ApplicationError)
        assert info.value.cause.type == kind, info.value.cause

    await refused(other, "SUBMITTED", SKP, "Forbidden")  # not the assignee
    await refused(employee, "APPROVED", SKP, "Invalid")  # not an outcome of this task
    await refused(employee, "SUBMITTED", {"targets": []}, "Invalid")  # malformed SKP
    await refused(employee, "SUBMITTED", SKP, "NotFound", task_id=f"{case_id}.t9")
    assert len(read_case(store, case_id)) == before  # nothing recorded by any refusal

    await decide(handle, store, case_id, 1, employee, "SUBMITTED", SKP)
    await refused(employee, "SUBMITTED", SKP, "Conflict")  # already decided
    await open_task(store, case_id, f"{case_id}.t2")
    await refused(boss, "RETURNED", {}, "Invalid", task_id=f"{case_id}.t2")  # reason required
    await refused(employee, "AGREED", AGREE, "Forbidden", task_id=f"{case_id}.t2")  # own SKP: the superior agrees
    await decide(handle, store, case_id, 2, boss, "RETURNED", reason="Target belum terukur")
    await open_task(store, case_id, f"{case_id}.t3")  # back to drafting
    await decide(handle, store, case_id, 3, employee, "SUBMITTED", SKP)
    await decide(handle, store, case_id, 4, boss, "AGREED", AGREE)
    await open_task(store, case_id, f"{case_id}.t5")
    await refused(boss, "RECORDED", {"feedback": " "}, "Invalid", task_id=f"{case_id}.t5")  # a check-in needs feedback
    await decide(handle, store, case_id, 5, boss, "RECORDED", CHECKIN)
    await open_task(store, case_id, f"{case_id}.t6")
    await refused(boss, "SUBMITTED", {"hasil_kerja": "LUAR_BIASA", "perilaku_kerja": "SESUAI_EKSPEKTASI"}, "Invalid", task_id=f"{case_id}.t6")
    await decide(handle, store, case_id, 6, boss, "SUBMITTED", {"hasil_kerja": "DI_BAWAH_EKSPEKTASI", "perilaku_kerja": "DI_BAWAH_EKSPEKTASI"})
    await decide(handle, store, case_id, 7, employee, "ACKNOWLEDGED")
    result = await handle.result()
    assert result.outcome["predicate"] == "SANGAT_KURANG"
    await save_history(handle, "evaluation-returned-and-refused")
    types = [type(s.event).__name__ for s in read_case(store, case_id)]
    assert types.count("TaskDecided") == 7 and "SkpReturned" in types


async def test_claim_release_and_cancel_are_events_of_the_task(running: tuple[Client, Settings, EventStore]) -> None:
    client, settings, store = running
    employee, boss, other = people()
    admin_user = next(u for u in demo_users() if "ADMIN" in u["roles"])
    admin = Actor(nip=admin_user["nip"], roles=admin_user["roles"], unit=admin_user["unit"])
    case_id, handle = await start(client, settings, employee, 2033)
    task_id = f"{case_id}.t1"
    await open_task(store, case_id, task_id)

    async def refused(update: object, arg: object, kind: str) -> None:
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update(update, arg)  # type: ignore[arg-type]
        assert isinstance(info.value.cause, ApplicationError) and info.value.cause.type == kind, info.value.cause

    claimed = await handle.execute_update(CaseWorkflow.claim, ClaimInput(task_id=task_id, actor=employee))
    assert claimed.status == "claimed" and claimed.event_type == "TaskClaimed"
    await refused(CaseWorkflow.claim, ClaimInput(task_id=task_id, actor=employee), "Conflict")
    await refused(CaseWorkflow.claim, ClaimInput(task_id=task_id, actor=other), "Forbidden")
    await refused(CaseWorkflow.release, ReleaseInput(task_id=task_id, actor=other), "Conflict")
    released = await handle.execute_update(CaseWorkflow.release, ReleaseInput(task_id=task_id, actor=employee, reason="cuti"))
    assert released.status == "open"
    await refused(CaseWorkflow.cancel_task, CancelTaskInput(task_id=task_id, actor=boss, reason="x"), "Forbidden")
    await refused(CaseWorkflow.cancel_task, CancelTaskInput(task_id=task_id, actor=admin, reason=" "), "Invalid")
    cancelled = await handle.execute_update(CaseWorkflow.cancel_task, CancelTaskInput(task_id=task_id, actor=admin, reason="pegawai mutasi"))
    assert cancelled.event_type == "TaskCancelled"
    result = await handle.result()
    assert result.status == "cancelled"
    types = [type(s.event).__name__ for s in read_case(store, case_id)]
    assert types[-4:] == ["TaskClaimed", "TaskReleased", "TaskCancelled", "CaseClosed"]


def pool_case() -> tuple[EvaluationWorkflow, TaskState]:
    """A case holding one pool task offered to BKPSDM in BKPSDMD (no workflow context needed)."""
    wf = EvaluationWorkflow()
    wf._init_case("case-x", subject_nip="199602102022031001")  # noqa: SLF001
    task = TaskState(
        task_id="case-x.t1",
        spec=TaskSpec(kind="VERIFY", title="Verifikasi", outcomes=["OK"], due_working_days=3, candidate_role="BKPSDM", unit="BKPSDMD"),
        due_at="2026-12-01T23:59:59+07:00",
    )
    wf._tasks[task.task_id] = task  # noqa: SLF001
    return wf, task


def rejection(call: object, *args: object) -> str | None:
    try:
        call(*args)  # type: ignore[operator]
    except ApplicationError as err:
        return err.type
    return None


def test_pool_tasks_go_to_the_role_in_the_unit_and_never_to_the_subject() -> None:
    wf, task = pool_case()
    hr = Actor(nip="199104122019032001", roles=["PEGAWAI", "BKPSDM"], unit="BKPSDMD")
    hr2 = Actor(nip="198808082010011001", roles=["PEGAWAI", "BKPSDM"], unit="BKPSDMD")
    elsewhere = Actor(nip="198306172008012001", roles=["PEGAWAI", "BKPSDM"], unit="DISKOMINFO")
    subject = Actor(nip="199602102022031001", roles=["PEGAWAI", "BKPSDM"], unit="BKPSDMD")
    decision = lambda actor: DecisionInput(task_id=task.task_id, actor=actor, outcome="OK")  # noqa: E731
    assert rejection(wf.validate_claim, ClaimInput(task.task_id, hr)) is None
    assert rejection(wf.validate_claim, ClaimInput(task.task_id, elsewhere)) == "Forbidden"
    assert rejection(wf.validate_decide, decision(subject)) == "Forbidden"  # own case
    task.claimed_by, task.status = hr.nip, "claimed"
    assert rejection(wf.validate_decide, decision(hr2)) == "Conflict"  # claimed by a colleague
    assert rejection(wf.validate_decide, decision(hr)) is None
    task.status = "done"
    assert rejection(wf.validate_decide, decision(hr)) == "Conflict"
