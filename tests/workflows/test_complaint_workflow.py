"""Complaint service levels on the time-skipping server: breaches, escalation and auto-close on working days."""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import holidays
import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import EventStore, read_case
from asnflow.domain import complaints as cp
from asnflow.domain.calendar import BusinessCalendar
from asnflow.domain.events import GENESIS_HASH, hash_of
from asnflow.runtime.settings import Settings
from asnflow.runtime.worker import build_worker
from asnflow.workflows.complaint import ASN_RESPONSE, FOLLOW_UP, VERIFY, ComplaintWorkflow
from asnflow.workflows.complaint_contracts import ReporterResponseInput, StartComplaintInput
from asnflow.workflows.contracts import Actor, DecisionInput
from asnflow.workflows.human_tasks import CaseWorkflow
from tests.support import make_settings

MANAGER = Actor(nip="199302122018021001", roles=["PEGAWAI", "PENGELOLA_PENGADUAN"], unit="DISKOMINFO")
MANAGER_2 = Actor(nip="199508022019082001", roles=["PEGAWAI", "PENGELOLA_PENGADUAN"], unit="DISKOMINFO")
LIAISON = Actor(nip="199608242023082001", roles=["PEGAWAI", "PENGHUBUNG_PENGADUAN"], unit="DISKOMINFO")
CAL = BusinessCalendar()
NATIONAL = holidays.country_holidays("ID", years=range(2025, 2032), categories=("public",))
HISTORIES = Path(__file__).parent / "histories"


@pytest.fixture(scope="module")
def cp_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = make_settings(database_url, tmp_path_factory.mktemp("cpwf"))
    EventStore(env=settings.store_env()).close()  # the store's tables; these tests need no directory
    return settings


@pytest.fixture
async def running(time_skipping_env: WorkflowEnvironment, cp_settings: Settings) -> AsyncIterator[tuple[WorkflowEnvironment, Settings, EventStore]]:
    settings = cp_settings.model_copy(update={"task_queue": f"tq-{uuid.uuid4()}"})
    store = EventStore(env=settings.store_env())
    with ThreadPoolExecutor(8) as executor:
        async with build_worker(time_skipping_env.client, settings, store, executor):
            yield time_skipping_env, settings, store
    store.close()


async def save_history(handle: WorkflowHandle, name: str) -> None:
    """Refresh a replay fixture when asked to (ASNFLOW_RECORD_HISTORIES=1)."""
    if os.environ.get("ASNFLOW_RECORD_HISTORIES") == "1":
        history = await handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json())


async def now(env: WorkflowEnvironment) -> datetime:
    t = await env.get_current_time()
    return t if t.tzinfo else t.replace(tzinfo=UTC)


async def goto(env: WorkflowEnvironment, moment: datetime) -> None:
    """Skip the test server's clock to `moment`."""
    delta = moment - await now(env)
    assert delta > timedelta(0), f"{moment} is in the past"
    await env.sleep(delta)


def wib(day: date, at: time = time(9, 0)) -> datetime:
    return datetime.combine(day, at, tzinfo=cp.WIB)


def end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=cp.WIB)


def nth_working_day(start: date, n: int) -> date:
    """Counted by hand: Monday–Friday and not a holiday; the start day itself never counts."""
    d, left = start, n
    while left:
        d += timedelta(days=1)
        if d.weekday() < 5 and not CAL.is_holiday(d):
            left -= 1
    return d


def holiday_window(after: date, n: int) -> tuple[date, date]:
    """The first working day whose next `n` working days span a weekend and a national weekday holiday."""
    s = after
    while True:
        s += timedelta(days=1)
        if not CAL.is_working_day(s):
            continue
        due = nth_working_day(s, n)
        span = [s + timedelta(days=i) for i in range(1, (due - s).days + 1)]
        if any(d.weekday() == 5 for d in span) and any(d.weekday() < 5 and d in NATIONAL for d in span):
            return s, due


def types(store: EventStore, case_id: str) -> list[str]:
    return [type(s.event).__name__ for s in read_case(store, case_id)]


def of_type(store: EventStore, case_id: str, name: str) -> list[Any]:
    return [s.event for s in read_case(store, case_id) if type(s.event).__name__ == name]


async def eventually(store: EventStore, case_id: str, name: str, count: int = 1) -> list[Any]:
    for _ in range(300):
        found = await asyncio.to_thread(of_type, store, case_id, name)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.03)
    raise AssertionError(f"{case_id}: no {count}x {name}; have {types(store, case_id)}")


async def open_task(store: EventStore, case_id: str, kind: str) -> str:
    """The id of the open task of this kind (waits until it is opened)."""
    for _ in range(300):
        events = await asyncio.to_thread(read_case, store, case_id)
        closed = {s.event.payload["task_id"] for s in events if type(s.event).__name__ in ("TaskDecided", "TaskCancelled")}
        opened = [
            s.event.payload["task_id"] for s in events
            if type(s.event).__name__ == "TaskOpened" and s.event.payload["kind"] == kind and s.event.payload["task_id"] not in closed
        ]
        if opened:
            return opened[-1]
        await asyncio.sleep(0.03)
    raise AssertionError(f"no open {kind} task in {case_id}")


async def decide(handle: WorkflowHandle, store: EventStore, case_id: str, kind: str, actor: Actor, outcome: str, reason: str = "", data: dict | None = None) -> str:
    task_id = await open_task(store, case_id, kind)
    await handle.execute_update(CaseWorkflow.decide, DecisionInput(task_id=task_id, actor=actor, outcome=outcome, reason=reason, data=data or {}))
    return task_id


async def refused(call: Any, kind: str) -> None:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await call
    assert isinstance(info.value.cause, ApplicationError) and info.value.cause.type == kind, info.value.cause


async def file(client: Client, settings: Settings, *, kind: str = "PENGADUAN", asn_nip: str | None = None) -> tuple[str, WorkflowHandle]:
    code = cp.format_code(secrets.randbits(60))
    case_id = cp.case_id_for_code(code)
    text = f"Pelayanan perizinan di loket lambat sekali {uuid.uuid4()}"
    inp = StartComplaintInput(
        case_id=case_id, kind=kind, unit="DISKOMINFO", description=text, anonymous=True, confidential=False,
        fingerprint=cp.fingerprint(kind, "DISKOMINFO", text, asn_nip), regulation=cp.COMPLAINT_REGULATION, asn_nip=asn_nip,
    )
    handle = await client.start_workflow(ComplaintWorkflow.run, inp, id=case_id, task_queue=settings.task_queue)
    return case_id, handle


async def absent(store: EventStore, case_id: str, name: str, count: int = 0) -> None:
    """No more than `count` events of this type (after giving the worker time to act had a timer fired)."""
    await asyncio.sleep(0.4)
    assert len(await asyncio.to_thread(of_type, store, case_id, name)) == count


def chain_intact(store: EventStore, case_id: str) -> None:
    previous = GENESIS_HASH
    for version, stored in enumerate(read_case(store, case_id), start=1):
        assert stored.event.originator_version == version and stored.event.previous_hash == previous
        assert hash_of(stored.event) == stored.event.hash
        previous = stored.event.hash


async def test_verification_breach_waits_for_the_weekend_and_a_national_holiday(running: Any) -> None:
    env, settings, store = running
    start, due_day = holiday_window(cp.local_date(await now(env)), 3)
    assert (due_day - start).days >= 3 + 2 + 1  # three working days, a weekend and a holiday
    await goto(env, wib(start))
    case_id, handle = await file(env.client, settings)
    await open_task(store, case_id, VERIFY)
    due = end_of(due_day)
    assert of_type(store, case_id, "ComplaintFiled")[0].payload["verification_due_at"] == due.isoformat()

    await goto(env, due - timedelta(minutes=1))
    await absent(store, case_id, "ServiceLevelBreached")
    await goto(env, due + timedelta(seconds=5))
    breach = (await eventually(store, case_id, "ServiceLevelBreached"))[0]
    assert breach.payload == {"level": "verification", "due_at": due.isoformat(), "unit": "DISKOMINFO"}
    assert due <= breach.occurred_at < due + timedelta(minutes=1)
    escalated = of_type(store, case_id, "ComplaintEscalated")[0]
    assert escalated.payload["to_unit"] == "INSPEKTORAT" and escalated.payload["level"] == "verification"

    # The breach does not close the task: the manager still verifies, late.
    await decide(handle, store, case_id, VERIFY, MANAGER, "VERIFIED", "Lengkap", {"unit": "DISKOMINFO"})
    await decide(handle, store, case_id, FOLLOW_UP, LIAISON, "RESOLVED", data={"text": "Loket ditambah dua petugas mulai Senin."})
    await eventually(store, case_id, "FollowUpPlanPosted")
    await handle.execute_update(ComplaintWorkflow.reporter_respond, ReporterResponseInput(message="Terima kasih, sudah lebih cepat.", satisfied=True))
    result = await handle.result()
    assert result.status == "completed" and result.outcome == {"closure": "resolved"}
    assert of_type(store, case_id, "ComplaintResolved")[0].payload["how"] == "reporter_confirmed"
    assert [b.payload["level"] for b in of_type(store, case_id, "ServiceLevelBreached")] == ["verification"]
    chain_intact(store, case_id)
    await save_history(handle, "complaint-verification-breached")


async def test_follow_up_breach_then_auto_close_on_the_tenth_working_day(running: Any) -> None:
    env, settings, store = running
    case_id, handle = await file(env.client, settings)
    verify_day, due_day = holiday_window(cp.local_date(await now(env)), 5)
    assert (due_day - verify_day).days >= 5 + 2 + 1
    await goto(env, wib(verify_day, time(14, 0)))
    await decide(handle, store, case_id, VERIFY, MANAGER, "VERIFIED", "Lengkap dan jelas")
    routed = (await eventually(store, case_id, "ComplaintRouted"))[0]
    follow_due = datetime.fromisoformat(routed.payload["follow_up_due_at"])
    assert follow_due == end_of(due_day)
    # Waiting for that window may already have breached verification; follow-up is what is tested here.
    earlier = len(of_type(store, case_id, "ServiceLevelBreached"))

    await goto(env, follow_due - timedelta(minutes=1))
    await absent(store, case_id, "ServiceLevelBreached", count=earlier)
    await goto(env, follow_due + timedelta(seconds=5))
    breach = (await eventually(store, case_id, "ServiceLevelBreached", earlier + 1))[-1]
    assert breach.payload["level"] == "follow_up" and breach.payload["due_at"] == follow_due.isoformat()

    start, close_day = holiday_window(cp.local_date(await now(env)), 10)
    await goto(env, wib(start, time(10, 0)))
    await decide(handle, store, case_id, FOLLOW_UP, LIAISON, "PLAN_POSTED", data={"text": "Petugas loket dibina; jadwal layanan diperpanjang."})
    posted = (await eventually(store, case_id, "FollowUpPlanPosted"))[0]
    close_at = end_of(close_day)
    assert posted.payload["reply_window_until"] == close_at.isoformat()
    assert (close_day - start).days >= 10 + 2 + 1

    await goto(env, close_at - timedelta(minutes=1))
    await absent(store, case_id, "ComplaintAutoClosed")
    await goto(env, close_at + timedelta(seconds=5))
    result = await handle.result()
    assert result.outcome == {"closure": "closed_without_reply"}
    closed = of_type(store, case_id, "ComplaintAutoClosed")[0]
    assert close_at <= closed.occurred_at < close_at + timedelta(minutes=1)
    assert of_type(store, case_id, "ComplaintResolved")[0].payload["how"] == "no_reply_after_follow_up"
    assert types(store, case_id)[-3:] == ["ComplaintAutoClosed", "ComplaintResolved", "CaseClosed"]
    # Too late now: the case is closed.
    with pytest.raises(Exception):  # noqa: B017 - the workflow has completed, any update is refused
        await handle.execute_update(ComplaintWorkflow.reporter_respond, ReporterResponseInput(message="Belum beres"))
    chain_intact(store, case_id)
    await save_history(handle, "complaint-auto-closed")


async def test_resolution_breach_after_sixty_days_and_the_named_asn_responds(running: Any) -> None:
    env, settings, store = running
    # The complaint names a complaint manager: they may not verify it, but may answer it.
    case_id, handle = await file(env.client, settings, asn_nip=MANAGER_2.nip)
    verify_task = await open_task(store, case_id, VERIFY)
    await refused(
        handle.execute_update(CaseWorkflow.decide, DecisionInput(task_id=verify_task, actor=MANAGER_2, outcome="VERIFIED", reason="x")),
        "Forbidden",
    )
    await refused(handle.execute_update(ComplaintWorkflow.reporter_respond, ReporterResponseInput(message="halo")), "Conflict")
    await refused(
        handle.execute_update(CaseWorkflow.decide, DecisionInput(task_id=verify_task, actor=MANAGER, outcome="VERIFIED")), "Invalid"
    )  # a reason is required
    await refused(
        handle.execute_update(
            CaseWorkflow.decide,
            DecisionInput(task_id=verify_task, actor=MANAGER, outcome="VERIFIED", reason="ok", data={"unit": "NOWHERE"}),
        ),
        "Invalid",
    )
    await decide(handle, store, case_id, VERIFY, MANAGER, "VERIFIED", "Terverifikasi")
    verified = (await eventually(store, case_id, "ComplaintVerified"))[0]
    assert verified.payload["asn_nip"] == MANAGER_2.nip
    resolution_due = datetime.fromisoformat(verified.payload["resolution_due_at"])
    assert resolution_due == end_of(cp.local_date(verified.occurred_at) + timedelta(days=60))

    await decide(handle, store, case_id, ASN_RESPONSE, MANAGER_2, "RESPONDED", data={"response": "Saat itu sistem antrean sedang gangguan."})
    assert (await eventually(store, case_id, "AsnResponded"))[0].payload["asn_nip"] == MANAGER_2.nip
    plan_task = await open_task(store, case_id, FOLLOW_UP)
    await refused(
        handle.execute_update(CaseWorkflow.decide, DecisionInput(task_id=plan_task, actor=LIAISON, outcome="PLAN_POSTED", data={"text": ""})),
        "Invalid",
    )
    await decide(handle, store, case_id, FOLLOW_UP, LIAISON, "PLAN_POSTED", data={"text": "Sistem antrean diperbaiki bulan ini."})
    await eventually(store, case_id, "FollowUpPlanPosted")
    await refused(handle.execute_update(ComplaintWorkflow.reporter_respond, ReporterResponseInput(message=" ")), "Invalid")
    await handle.execute_update(ComplaintWorkflow.reporter_respond, ReporterResponseInput(message="Masih antre tiga jam."))
    second = (await eventually(store, case_id, "ComplaintRouted", 2))[1]
    assert second.payload["round"] == 2

    await goto(env, resolution_due + timedelta(seconds=5))
    breaches = await eventually(store, case_id, "ServiceLevelBreached", 2)
    assert [b.payload["level"] for b in breaches] == ["follow_up", "resolution"]
    assert breaches[1].payload["due_at"] == resolution_due.isoformat()
    assert len(of_type(store, case_id, "ComplaintEscalated")) == 2

    await decide(handle, store, case_id, FOLLOW_UP, LIAISON, "RESOLVED", data={"text": "Antrean daring aktif; waktu tunggu 20 menit."})
    await eventually(store, case_id, "FollowUpPlanPosted", 2)
    await handle.execute_update(ComplaintWorkflow.reporter_respond, ReporterResponseInput(message="", satisfied=True))
    result = await handle.result()
    assert result.outcome == {"closure": "resolved"}
    chain_intact(store, case_id)
    await save_history(handle, "complaint-resolution-breached")


async def test_postponed_report_is_re_verified_after_a_supplement_or_archived_without_one(running: Any) -> None:
    env, settings, store = running
    case_id, handle = await file(env.client, settings, kind="WHISTLEBLOWING", asn_nip=LIAISON.nip)
    await decide(handle, store, case_id, VERIFY, MANAGER, "POSTPONED", "Sebutkan tanggal dan lokasi kejadian")
    await eventually(store, case_id, "ComplaintPostponed")
    await handle.execute_update(ComplaintWorkflow.reporter_respond, ReporterResponseInput(message="Tanggal 3 Maret, loket 2."))
    assert len(await eventually(store, case_id, "TaskOpened", 2)) == 2  # verification again
    await decide(handle, store, case_id, VERIFY, MANAGER, "ARCHIVED", "Bukan pelanggaran")
    result = await handle.result()
    assert result.status == "rejected" and result.outcome == {"closure": "archived"}
    assert "ASN_RESPONSE" not in str(of_type(store, case_id, "TaskOpened"))  # whistleblowing is never announced
    await save_history(handle, "complaint-postponed-then-archived")

    case_id, handle = await file(env.client, settings)
    await decide(handle, store, case_id, VERIFY, MANAGER, "POSTPONED", "Lampiran tidak terbaca")
    postponed = (await eventually(store, case_id, "ComplaintPostponed"))[0]
    supplement_due = datetime.fromisoformat(postponed.payload["supplement_due_at"])
    assert supplement_due == end_of(nth_working_day(cp.local_date(postponed.occurred_at), 10))
    await goto(env, supplement_due + timedelta(seconds=5))
    result = await handle.result()
    assert result.status == "rejected"
    assert of_type(store, case_id, "ComplaintArchived")[0].payload == {"cause": "no_supplement"}
