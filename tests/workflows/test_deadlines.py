"""Reminders and escalation on the time-skipping server: working days, a long weekend, real SMTP, nothing twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from asnflow.activities.eventstore import EventStore, read_case
from asnflow.activities.notifications import DeadlineActivities
from asnflow.domain.calendar import JAKARTA
from asnflow.runtime.demo_org import demo_employees
from asnflow.runtime.settings import Settings
from asnflow.workflows.contracts import Actor, DecisionInput
from asnflow.workflows.deadline_contracts import TaskDeadlinesInput
from asnflow.workflows.human_tasks import CaseWorkflow
from tests.mailbox import Mailbox, free_port, html_of, text_of
from tests.support import make_settings
from tests.workflows.deadline_probe import DeadlineProbeWorkflow, ProbeInput, prepare_views, probe_worker

PUBLIC_URL = "https://asnflow.batangharikab.go.id"


@dataclass(frozen=True)
class Scenario:
    """A Thursday before a long weekend; the expected dates are counted by hand from the published holidays."""

    opened: date
    due: date
    remind_2: date  # two working days before the due day
    remind_0: date  # the due day
    escalate_1: date  # the first working day after the due day
    escalate_2: date  # three working days after that


SCENARIOS = (
    # Fri 1 Jan 2027 New Year's Day makes Fri–Sun a long weekend; Tue 5 Jan (Isra' Mi'raj) is skipped too.
    Scenario(date(2026, 12, 31), date(2027, 1, 11), date(2027, 1, 7), date(2027, 1, 11), date(2027, 1, 12), date(2027, 1, 15)),
    # Fri 24 Dec 2027 cuti bersama, Sat 25 Christmas; Sat 1 Jan 2028 New Year's Day.
    Scenario(date(2027, 12, 23), date(2027, 12, 31), date(2027, 12, 29), date(2027, 12, 31), date(2028, 1, 3), date(2028, 1, 6)),
)


def wib(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=JAKARTA)


async def now(env: WorkflowEnvironment) -> datetime:
    t = await env.get_current_time()
    return t if t.tzinfo else t.replace(tzinfo=UTC)


async def goto(env: WorkflowEnvironment, moment: datetime) -> None:
    delta = moment - await now(env)
    assert delta > timedelta(0), f"{moment} is in the past"
    await env.sleep(delta)


def chain() -> tuple[Any, Any, Any, Any]:
    """An employee, their superior, the superior's superior and the next one up (all in the directory)."""
    by_nip = {e.nip: e for e in demo_employees()}
    for e in demo_employees():
        b = by_nip.get(e.atasan_nip or "")
        b2 = by_nip.get(b.atasan_nip or "") if b else None
        b3 = by_nip.get(b2.atasan_nip or "") if b2 else None
        if b and b2 and b3 and e.jenis_jabatan != "JPT":
            return e, b, b2, b3
    raise AssertionError("no four-level chain in the demo organisation")


def actor(e: Any) -> Actor:
    return Actor(nip=e.nip, roles=["PEGAWAI", "ATASAN"], unit=e.unit, name=e.nama)


def address(nip: str) -> str:
    return f"{nip}@asn.batangharikab.go.id"


@pytest.fixture(scope="module")
async def time_skipping_env(temporal_test_server: str) -> AsyncIterator[WorkflowEnvironment]:
    """A test server of this module's own: other modules' unfinished workflows cannot hold its clock."""
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=temporal_test_server)
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def dl_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Settings:
    settings = make_settings(database_url, tmp_path_factory.mktemp("deadlines"))
    prepare_views(settings)
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": mailbox.port, "public_url": PUBLIC_URL})


@pytest.fixture
def store(dl_settings: Settings) -> Iterator[EventStore]:
    s = EventStore(env=dl_settings.store_env())
    yield s
    s.close()


def events_of(store: EventStore, case_id: str, name: str) -> list[Any]:
    return [s.event for s in read_case(store, case_id) if type(s.event).__name__ == name]


async def first(store: EventStore, case_id: str, name: str) -> Any:
    for _ in range(300):
        found = await asyncio.to_thread(events_of, store, case_id, name)
        if found:
            return found[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {name} in {case_id}")


async def refused(handle: WorkflowHandle, inp: DecisionInput) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update(CaseWorkflow.decide, inp)
    assert isinstance(info.value.cause, ApplicationError)
    return str(info.value.cause.type)


async def test_a_task_opened_before_a_long_weekend_reminds_and_escalates_on_working_days(
    time_skipping_env: WorkflowEnvironment, dl_settings: Settings, store: EventStore, mailbox: Mailbox
) -> None:
    env = time_skipping_env
    current = await now(env)
    sc = next((s for s in SCENARIOS if wib(s.opened, 10) > current + timedelta(minutes=5)), None)
    assert sc is not None, f"every scenario lies before the test server's clock ({current}); add the next long weekend"
    employee, boss, boss2, _ = chain()
    settings = dl_settings.model_copy(update={"task_queue": f"tq-{uuid.uuid4()}"})
    case_id = f"probe-{uuid.uuid4().hex[:10]}"
    task_id = f"{case_id}.t1"
    mailbox.received.clear()
    await goto(env, wib(sc.opened, 10))

    with ThreadPoolExecutor(6) as executor:
        async with probe_worker(env.client, settings, store, executor, cold=True):
            handle = await env.client.start_workflow(
                DeadlineProbeWorkflow.run,
                ProbeInput(case_id=case_id, subject_nip=employee.nip, kind="SKP_AGREEMENT", working_days=5, assignee_nip=boss.nip, unit=boss.unit),
                id=case_id, task_queue=settings.task_queue,
            )
            opened = await first(store, case_id, "TaskOpened")
            assert datetime.fromisoformat(opened.payload["due_at"]) == wib(sc.due, 23, 59, 59)
            assert opened.payload["deadlines"]["steps"] == [
                {"step": "R2", "at": wib(sc.remind_2, 8).isoformat()},
                {"step": "R0", "at": wib(sc.remind_0, 8).isoformat()},
                {"step": "E1", "at": wib(sc.escalate_1, 8).isoformat()},
                {"step": "E2", "at": wib(sc.escalate_2, 8).isoformat()},
            ]
            # Over the long weekend nothing fires; the first reminder comes two working days before the due day.
            await goto(env, wib(sc.remind_2, 12))
            reminded = await first(store, case_id, "TaskReminded")
            assert reminded.occurred_at.astimezone(JAKARTA).date() == sc.remind_2
            assert reminded.occurred_at.astimezone(JAKARTA).hour == 8
            assert [r["nip"] for r in reminded.payload["recipients"]] == [boss.nip]
            mailbox.wait_for(1)

        # A worker restart (a new worker replays the history at every step) sends nothing again.
        async with probe_worker(env.client, settings, store, executor, cold=True):
            await goto(env, wib(sc.escalate_1, 12))
            escalated = await first(store, case_id, "TaskEscalated")
            mailbox.wait_for(4)

            reminders = await asyncio.to_thread(events_of, store, case_id, "TaskReminded")
            assert [(r.payload["step"], r.occurred_at.astimezone(JAKARTA).date()) for r in reminders] == [
                ("R2", sc.remind_2), ("R0", sc.remind_0),
            ]
            assert escalated.occurred_at.astimezone(JAKARTA).date() == sc.escalate_1
            p = escalated.payload
            assert (p["level"], p["mode"], p["from_nip"], p["to_nip"]) == (1, "reassign", boss.nip, boss2.nip)
            assert {(r["nip"], r["reason"]) for r in p["recipients"]} == {(boss2.nip, "escalated_to"), (boss.nip, "previous_assignee")}

            # Exactly one mail per notification key and recipient, across the restart.
            keys = mailbox.keys()
            assert sorted(keys) == sorted({
                f"{task_id}:reminder:R2:{boss.nip}", f"{task_id}:reminder:R0:{boss.nip}",
                f"{task_id}:escalation:E1:{boss2.nip}", f"{task_id}:escalation:E1:{boss.nip}",
            })
            r2 = mailbox.to(address(boss.nip))[0]
            assert r2["Subject"].startswith("[asnflow] Pengingat: Uji tenggat SKP_AGREEMENT")
            assert "Reminder:" in r2["Subject"]
            body = text_of(r2)
            due_id = {date(2027, 1, 11): "Senin, 11 Januari 2027", date(2027, 12, 31): "Jumat, 31 Desember 2027"}[sc.due]
            due_en = {date(2027, 1, 11): "Monday 11 January 2027", date(2027, 12, 31): "Friday 31 December 2027"}[sc.due]
            assert f"jatuh tempo {due_id} pukul 23.59 WIB" in body
            assert f"is due {due_en}, 23:59 WIB" in body
            assert f"Yth. {boss.nama}" in body and f"Dear {boss.nama}" in body
            assert f"{PUBLIC_URL}/?task={task_id}" in body
            assert f'href="{PUBLIC_URL}/?task={task_id}"' in html_of(r2)
            to_boss2 = mailbox.to(address(boss2.nip))
            assert len(to_boss2) == 1 and "dialihkan kepada Anda" in to_boss2[0]["Subject"] and "reassigned to you" in to_boss2[0]["Subject"]
            assert boss.nama in text_of(to_boss2[0])

            # The task is the superior's superior's now: the former assignee is refused, the new one decides.
            assert await refused(handle, DecisionInput(task_id=task_id, actor=actor(boss), outcome="AGREED")) == "Forbidden"
            await handle.execute_update(CaseWorkflow.decide, DecisionInput(task_id=task_id, actor=actor(boss2), outcome="AGREED"))
            result = await handle.result()
            assert result.status == "completed" and result.outcome["by"] == boss2.nip
            await asyncio.sleep(0.2)
            assert len(mailbox.received) == 4  # the second level never fired
            assert not await asyncio.to_thread(events_of, store, case_id, "NotificationFailed")
            history = await handle.fetch_history()
    # The timers and notices replay deterministically.
    await Replayer(workflows=[DeadlineProbeWorkflow]).replay_workflow(history)


async def test_an_own_step_gets_a_supervising_task_that_closes_with_it(
    time_skipping_env: WorkflowEnvironment, dl_settings: Settings, store: EventStore, mailbox: Mailbox
) -> None:
    env = time_skipping_env
    employee, boss, _, _ = chain()
    settings = dl_settings.model_copy(update={"task_queue": f"tq-{uuid.uuid4()}"})
    case_id = f"probe-{uuid.uuid4().hex[:10]}"
    mailbox.received.clear()
    with ThreadPoolExecutor(6) as executor:
        async with probe_worker(env.client, settings, store, executor):
            handle = await env.client.start_workflow(
                DeadlineProbeWorkflow.run,
                ProbeInput(
                    case_id=case_id, subject_nip=employee.nip, kind="ACKNOWLEDGEMENT", working_days=1,
                    assignee_nip=employee.nip, unit=employee.unit, subject_may_act=True,
                ),
                id=case_id, task_queue=settings.task_queue,
            )
            opened = await first(store, case_id, "TaskOpened")
            due = datetime.fromisoformat(opened.payload["due_at"])
            await goto(env, due + timedelta(days=6))  # past the first working day after the due day, whatever the calendar
            escalated = await first(store, case_id, "TaskEscalated")
            p = escalated.payload
            assert (p["mode"], p["to_nip"], p["supervision_task_id"]) == ("supervise", boss.nip, f"{case_id}.t2")
            supervision = [e for e in await asyncio.to_thread(events_of, store, case_id, "TaskOpened") if e.payload.get("supervises")]
            assert [s.payload["assignee_nip"] for s in supervision] == [boss.nip]
            # The employee keeps the task: their superior cannot decide it, only supervise.
            employee_actor = Actor(nip=employee.nip, roles=["PEGAWAI"], unit=employee.unit)
            assert await refused(handle, DecisionInput(task_id=f"{case_id}.t1", actor=actor(boss), outcome="AGREED")) == "Forbidden"
            await handle.execute_update(CaseWorkflow.decide, DecisionInput(task_id=f"{case_id}.t1", actor=employee_actor, outcome="AGREED"))
            assert (await handle.result()).status == "completed"
            types = [type(s.event).__name__ for s in await asyncio.to_thread(read_case, store, case_id)]
            assert types[-3:] == ["TaskDecided", "TaskCancelled", "CaseClosed"]  # the supervising task closed with it
            mailbox.wait_for(3)
            supervise_mail = mailbox.to(address(boss.nip))
            assert any("Pantau:" in m["Subject"] and "Supervise:" in m["Subject"] for m in supervise_mail)
            assert len(mailbox.received) == 3  # R0 to the employee; E1 to the superior and the employee
            history = await handle.fetch_history()
    await Replayer(workflows=[DeadlineProbeWorkflow]).replay_workflow(history)


async def test_mail_that_cannot_be_delivered_is_retried_with_backoff_then_recorded(
    time_skipping_env: WorkflowEnvironment, dl_settings: Settings, store: EventStore
) -> None:
    env = time_skipping_env
    employee, boss, _, _ = chain()
    dead_port = free_port()  # nothing listens here: every attempt is refused
    settings = dl_settings.model_copy(update={"task_queue": f"tq-{uuid.uuid4()}", "smtp_port": dead_port})
    case_id = f"probe-{uuid.uuid4().hex[:10]}"
    with ThreadPoolExecutor(6) as executor, env.auto_time_skipping_disabled():
        async with probe_worker(env.client, settings, store, executor):
            handle = await env.client.start_workflow(
                DeadlineProbeWorkflow.run,
                ProbeInput(case_id=case_id, subject_nip=employee.nip, kind="RATING", working_days=5, assignee_nip=boss.nip, unit=boss.unit),
                id=case_id, task_queue=settings.task_queue,
            )
            opened = await first(store, case_id, "TaskOpened")
            first_step = opened.payload["deadlines"]["steps"][0]
            await goto(env, datetime.fromisoformat(first_step["at"]) + timedelta(hours=6))
            failed = await first(store, case_id, "NotificationFailed")
            reminded = await first(store, case_id, "TaskReminded")
            key = f"{reminded.payload['key']}:{boss.nip}"
            assert failed.payload["key"] == reminded.payload["key"] and failed.payload["recipients"] == [boss.nip]
            assert "MailDeliveryFailed" in failed.payload["error"] or "failed" in failed.payload["error"]
            # Ten attempts spread over hours by the backoff, each one stored on the outbox row.
            with psycopg.connect(settings.database_url, row_factory=dict_row) as conn:
                row = conn.execute("SELECT status, attempts, last_error FROM notification_outbox WHERE key = %s", (key,)).fetchone()
            assert row is not None and (row["status"], row["attempts"]) == ("failed", 10) and row["last_error"]
            assert failed.occurred_at - reminded.occurred_at > timedelta(hours=1)
            # A RATING task: its decision carries what the RATING form asks for (checked by every workflow).
            rating = {"hasil_kerja": "SESUAI_EKSPEKTASI", "perilaku_kerja": "SESUAI_EKSPEKTASI"}
            await handle.execute_update(
                CaseWorkflow.decide, DecisionInput(task_id=f"{case_id}.t1", actor=actor(boss), outcome="AGREED", data=rating)
            )
            assert (await handle.result()).status == "completed"


def test_the_plan_is_configuration_by_kind_and_skips_moments_already_past() -> None:
    plan = DeadlineActivities().task_deadlines
    # Monday 4 January 2027, 10:00: one working day (Tue 5 Jan is Isra' Mi'raj) puts the due day on Wednesday.
    short = plan(TaskDeadlinesInput(start=wib(date(2027, 1, 4), 10).isoformat(), working_days=1, kind="SKP_AGREEMENT"))
    assert datetime.fromisoformat(short.due_at) == wib(date(2027, 1, 6), 23, 59, 59)
    assert [(s.step, s.at) for s in short.steps] == [  # "two working days before" would be before it opened
        ("R0", wib(date(2027, 1, 6), 8).isoformat()), ("E1", wib(date(2027, 1, 7), 8).isoformat()), ("E2", wib(date(2027, 1, 12), 8).isoformat()),
    ]
    draft = plan(TaskDeadlinesInput(start=wib(date(2026, 12, 31), 10).isoformat(), working_days=10, kind="SKP_DRAFT"))
    assert [(s.step, s.mode) for s in draft.steps] == [("R3", ""), ("R1", ""), ("R0", ""), ("E1", "supervise")]
    assert plan(TaskDeadlinesInput(start=wib(date(2027, 1, 4), 10).isoformat(), working_days=3, kind="COMPLAINT_VERIFY")).steps == []
    assert plan(TaskDeadlinesInput(start=wib(date(2027, 1, 4), 10).isoformat(), working_days=3, kind="RATING", with_plan=False)).steps == []
