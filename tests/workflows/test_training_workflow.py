"""Training workflows on their own time-skipping server (a year passes in seconds), the real store and views."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import EventStore, read_case
from asnflow.activities.notifications import MailConfig, NotificationActivities
from asnflow.domain import documents as docs
from asnflow.domain import training as tr
from asnflow.projections.runner import run_projector
from asnflow.runtime.demo_org import (
    BKPSDM_STAFF_1_NIP,
    BUPATI_NIP,
    KEPALA_DISKOMINFO_NIP,
    demo_employees,
    roles_for,
)
from asnflow.runtime.settings import Settings
from asnflow.runtime.worker import build_worker
from asnflow.workflows.contracts import Actor, DecisionInput
from asnflow.workflows.human_tasks import CaseWorkflow
from asnflow.workflows.training import TrainingEnrolmentWorkflow, TrainingLatsarWorkflow, TrainingWorkflow
from asnflow.workflows.training_contracts import (
    EvidenceInput,
    HoldBudgetInput,
    JpReminderMailInput,
    StartCycleInput,
    StartEnrolmentInput,
    StartLatsarInput,
    cycle_case_id,
    enrolment_case_id,
    latsar_case_id,
)
from tests.mailbox import Mailbox, text_of
from tests.support import make_settings, prepare_database
from tests.workflows.test_evaluation_workflow import save_history


@dataclass
class Rig:
    env: WorkflowEnvironment
    client: Client
    settings: Settings
    store: EventStore
    mailbox: Mailbox | None = None  # the training year's mail; other processes' rigs send none


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
async def rig(temporal_test_server: str, tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> AsyncIterator[Rig]:
    from tests.conftest import create_database, drop_database

    # A server of our own: skipping a year here never moves the clock under other modules' cases.
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=temporal_test_server)
    url = create_database("asnflow_training_wf")
    settings = make_settings(url, tmp_path_factory.mktemp("training-wf"))
    prepare_database(settings)
    # Real mail: the Q4 reminders go through the outbox to this SMTP server.
    settings = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": mailbox.port})
    store = EventStore(env=settings.store_env())
    stop = threading.Event()
    projector = threading.Thread(
        target=run_projector, args=(settings.store_env(), ["employees", "cases", "tasks", "training"], stop), daemon=True
    )
    projector.start()
    try:
        with ThreadPoolExecutor(8) as executor:
            async with build_worker(env.client, settings, store, executor):
                yield Rig(env, env.client, settings, store, mailbox)
    finally:
        stop.set()
        projector.join(timeout=10)
        store.close()
        await env.shutdown()
        drop_database(url)


def person(nip: str) -> Actor:
    e = next((e for e in demo_employees() if e.nip == nip), None)
    return Actor(nip=nip, roles=roles_for(nip), unit=e.unit if e else None)


def types(store: EventStore, case_id: str) -> list[str]:
    return [type(s.event).__name__ for s in read_case(store, case_id)]


async def events_of(rig: Rig, case_id: str, kind: str, count: int = 1) -> list[Any]:
    for _ in range(300):
        found = [s for s in await asyncio.to_thread(read_case, rig.store, case_id) if type(s.event).__name__ == kind]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{case_id}: fewer than {count} {kind}")


async def decide(rig: Rig, case_id: str, n: int, actor: Actor, outcome: str, data: dict | None = None, reason: str = "") -> None:
    """Decide task n as `actor`, or as whoever an escalation has since handed it to."""
    task_id = f"{case_id}.t{n}"
    opened = await events_of(rig, case_id, "TaskOpened", n)
    assert any(s.event.payload["task_id"] == task_id for s in opened)
    escalated = [s.event.payload for s in read_case(rig.store, case_id) if type(s.event).__name__ == "TaskEscalated"
                 and s.event.payload["task_id"] == task_id and s.event.payload.get("mode") == "reassign"]
    if escalated and escalated[-1].get("to_nip"):
        actor = person(escalated[-1]["to_nip"])
    await rig.client.get_workflow_handle(case_id).execute_update(
        CaseWorkflow.decide, DecisionInput(task_id=task_id, actor=actor, outcome=outcome, reason=reason, data=data or {})
    )


async def refused(call: Any, kind: str) -> list[dict]:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await call
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == kind, cause
    return [d for d in cause.details if isinstance(d, dict)]


async def skip_to(rig: Rig, moment: datetime) -> None:
    now = await rig.env.get_current_time()
    assert moment > now, (moment, now)
    await rig.env.sleep(moment - now)


async def credited(rig: Rig, nip: str, year: int) -> int:
    for _ in range(200):
        with psycopg.connect(rig.settings.database_url) as conn:
            row = conn.execute("SELECT COALESCE(SUM(jp), 0) FROM training_credits WHERE nip = %s AND year = %s", [nip, year]).fetchone()
        if row and row[0]:
            return int(row[0])
        await asyncio.sleep(0.05)
    return 0


def at(moment: datetime, expected: datetime | str) -> bool:
    """A timer fired at `expected` (recorded right after its read of the views)."""
    expected = datetime.fromisoformat(expected) if isinstance(expected, str) else expected
    return timedelta(0) <= moment - expected < timedelta(minutes=1)


async def jp_mails(rig: Rig, year: int, count: int) -> None:
    """Wait until `count` JP reminder mails of the year have arrived."""
    for _ in range(2400):
        if len([k for k in rig.mailbox.keys() if k.startswith(f"training-jp:{year}:")]) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} JP reminder mails")


def diskominfo_staff() -> list[str]:
    return [e.nip for e in demo_employees() if e.unit == "DISKOMINFO" and roles_for(e.nip) == ["PEGAWAI"]]


async def test_a_year_budget_checks_jp_tally_and_q4_reminders(rig: Rig) -> None:
    year = (await rig.env.get_current_time()).year + 1
    case_id = cycle_case_id(year)
    hr, bupati, head = person(BKPSDM_STAFF_1_NIP), person(BUPATI_NIP), person(KEPALA_DISKOMINFO_NIP)
    a, b, c = (person(n) for n in diskominfo_staff()[:3])
    await rig.client.start_workflow(
        TrainingWorkflow.run, StartCycleInput(case_id=case_id, year=year, started_by=hr, max_ops_per_run=3),
        id=case_id, task_queue=rig.settings.task_queue,
    )
    handle = rig.client.get_workflow_handle_for(TrainingWorkflow.run, case_id)
    needs = await events_of(rig, case_id, "TrainingNeedsAnalysed")
    first_run = needs[0].event.run_id
    units = {s.event.payload["unit"]: s.event.payload for s in read_case(rig.store, case_id) if type(s.event).__name__ == "TrainingNeedsAnalysed"}
    assert len(units["DISKOMINFO"]["employees"]) == 22 and units["DISKOMINFO"]["summary"]["with_competency_gap"] > 0

    # The draft: an unknown course is refused before anything is written.
    await events_of(rig, case_id, "TaskOpened")
    before = len(read_case(rig.store, case_id))
    bad = {"budgets": {"DISKOMINFO": 8_000_000}, "items": [{"unit": "DISKOMINFO", "course": "KURSUS-FIKTIF", "participants": 1}]}
    problems = await refused(handle.execute_update(CaseWorkflow.decide, DecisionInput(f"{case_id}.t1", hr, "SUBMITTED", data=bad)), "Invalid")
    assert problems[0]["field"] == "items[0].course"
    assert len(read_case(rig.store, case_id)) == before
    plan = {"budgets": {"DISKOMINFO": 8_000_000}, "items": [
        {"unit": "DISKOMINFO", "course": "TEK-SPBE", "participants": 2},
        {"unit": "DISKOMINFO", "course": "SOS-BERAKHLAK", "participants": 20},
    ]}
    await decide(rig, case_id, 1, hr, "SUBMITTED", plan)
    await decide(rig, case_id, 2, bupati, "APPROVED", reason="Sesuai APBD")
    await events_of(rig, case_id, "TrainingPlanApproved")

    def hold(who: Actor, course: str) -> Any:
        return handle.execute_update(
            TrainingWorkflow.hold_budget,
            HoldBudgetInput(enrolment_id=enrolment_case_id(year, who.nip, course), nip=who.nip, unit="DISKOMINFO", course=course, actor=who),  # type: ignore[arg-type]
        )

    held_a = await hold(a, "TEK-SPBE")
    assert (held_a.amount, held_a.remaining) == (3_500_000, 4_500_000)
    held_b = await hold(b, "TEK-SPBE")
    assert held_b.remaining == 1_000_000
    before = len(read_case(rig.store, case_id))
    beyond = await refused(hold(c, "TEK-SPBE"), "Invalid")
    assert "exceeds the remaining budget of DISKOMINFO (Rp 1,000,000)" in beyond[0]["en"]
    await refused(hold(a, "TEK-SPBE"), "Conflict")  # the same enrolment twice
    await refused(hold(c, "PKN-II"), "Invalid")  # not in the unit's plan
    assert len(read_case(rig.store, case_id)) == before  # no refusal recorded anything

    async def enrol(who: Actor, held: Any) -> str:
        eid = enrolment_case_id(year, who.nip, "TEK-SPBE")  # type: ignore[arg-type]
        await rig.client.start_workflow(
            TrainingEnrolmentWorkflow.run,
            StartEnrolmentInput(case_id=eid, year=year, nip=who.nip, course="TEK-SPBE", proposed_by=who,  # type: ignore[arg-type]
                                plan_version=held.plan_version, amount=held.amount, evidence_deadline=held.report_at),
            id=eid, task_queue=rig.settings.task_queue,
        )
        return eid

    ea, eb = await enrol(a, held_a), await enrol(b, held_b)
    await decide(rig, ea, 1, head, "RECOMMENDED")
    await decide(rig, eb, 1, head, "NOT_RECOMMENDED", reason="Belum prioritas unit")
    await decide(rig, ea, 2, hr, "VALIDATED")
    await events_of(rig, case_id, "TrainingBudgetCommitted")
    released = await events_of(rig, case_id, "TrainingBudgetReleased")
    assert released[0].event.payload == {"enrolment_id": eb, "unit": "DISKOMINFO", "course": "TEK-SPBE", "amount": 3_500_000, "was": "held"}
    assert (await rig.client.get_workflow_handle_for(TrainingEnrolmentWorkflow.run, eb).result()).status == "rejected"

    # Evidence once the training has happened; hours beyond the course's 32 JP are refused.
    await skip_to(rig, datetime.fromisoformat(f"{year}-03-02T09:00:00+07:00"))
    evidence = EvidenceInput(actor=a, file_sha256=uuid.uuid4().hex * 2, hours=33, completed_on=f"{year}-02-27", certificate_no="SPBE/12")
    enrolment = rig.client.get_workflow_handle_for(TrainingEnrolmentWorkflow.run, ea)
    assert [p["field"] for p in await refused(enrolment.execute_update(TrainingEnrolmentWorkflow.submit_evidence, evidence), "Invalid")] == ["hours"]
    evidence.hours = 32
    await refused(enrolment.execute_update(TrainingEnrolmentWorkflow.submit_evidence, EvidenceInput(**{**evidence.__dict__, "actor": c})), "Forbidden")
    await enrolment.execute_update(TrainingEnrolmentWorkflow.submit_evidence, evidence)
    await decide(rig, ea, 3, hr, "VERIFIED")
    await decide(rig, ea, 4, a, "SUBMITTED", {"relevance": 5, "quality": 4, "comment": "Bermanfaat"})
    assert (await enrolment.result()).outcome == {"jp": 32, "course": "TEK-SPBE", "year": year}
    assert types(rig.store, ea)[-6:] == ["CompletionVerified", "JpCredited", "TaskOpened", "TaskDecided", "TrainingEvaluated", "CaseClosed"]
    assert await credited(rig, a.nip, year) == 32  # type: ignore[arg-type]

    # The fourth quarter: three reminders, each exactly at its configured moment.
    reminders, report_at = tr.default_schedule(year, tr.rules_for())
    await skip_to(rig, datetime.fromisoformat(reminders[0]) + timedelta(hours=1))
    first = (await events_of(rig, case_id, "JpShortfallReminded"))[0].event
    assert at(first.occurred_at, reminders[0])
    below = {e["nip"]: e["jp"] for e in first.payload["employees"]}
    assert a.nip not in below and below[b.nip] == 0 and below[c.nip] == 0
    assert {"nip": KEPALA_DISKOMINFO_NIP, "unit": "DISKOMINFO", "below": 21} in first.payload["heads"]
    assert first.run_id != first_run  # the cycle continued as new after its third budget operation
    # One moment at a time, each moment's mail delivered before the clock moves on (a loaded machine sends slowly).
    mailed = len(first.payload["employees"]) + len(first.payload["heads"])
    for n, moment in enumerate(reminders[1:], start=2):
        await jp_mails(rig, year, mailed)
        await skip_to(rig, datetime.fromisoformat(moment) + timedelta(hours=1))
        latest = (await events_of(rig, case_id, "JpShortfallReminded", n))[-1].event.payload
        mailed += len(latest["employees"]) + len(latest["heads"])
    sent = await events_of(rig, case_id, "JpShortfallReminded", 3)
    assert all(at(s.event.occurred_at, r) for s, r in zip(sent, reminders, strict=True))
    assert [s.event.payload["scheduled_for"] for s in sent] == reminders

    # Each moment's reminder is mailed through the outbox: every employee below 20 JP and every OPD head, once each.
    expected = sum(len(s.event.payload["employees"]) + len(s.event.payload["heads"]) for s in sent)
    await jp_mails(rig, year, expected)
    keys = [k for k in rig.mailbox.keys() if k.startswith(f"training-jp:{year}:")]
    assert len(keys) == len(set(keys)) == expected
    first_key = f"training-jp:{year}:{reminders[0]}"
    assert f"{first_key}:employee:{b.nip}" in keys and f"{first_key}:employee:{c.nip}" in keys
    assert f"{first_key}:employee:{a.nip}" not in keys  # a reached 32 JP
    head_mail = next(m for m in rig.mailbox.to(f"{KEPALA_DISKOMINFO_NIP}@asn.batangharikab.go.id") if m["X-Asnflow-Key"].strip() == f"{first_key}:head:{KEPALA_DISKOMINFO_NIP}")
    assert "21 pegawai di unit Anda belum mencapai 20 JP" in text_of(head_mail) and "21 staff of your unit" in text_of(head_mail)
    employee_mail = next(m for m in rig.mailbox.to(f"{b.nip}@asn.batangharikab.go.id") if m["X-Asnflow-Key"].strip() == f"{first_key}:employee:{b.nip}")
    assert "baru mengikuti 0 JP" in text_of(employee_mail) and "you have 0 lesson hours" in text_of(employee_mail)
    # A retry of the activity (same keys) sends nothing twice.
    first = sent[0].event.payload
    again = await NotificationActivities(rig.settings.database_url, MailConfig.from_settings(rig.settings)).send_jp_reminders(
        JpReminderMailInput(key=first["key"], year=year, min_jp=20, scheduled_for=first["scheduled_for"], employees=first["employees"], heads=first["heads"])
    )
    assert (again.sent, again.already_sent) == (0, len(first["employees"]) + len(first["heads"]))
    assert len([k for k in rig.mailbox.keys() if k.startswith(f"training-jp:{year}:")]) == expected

    await skip_to(rig, datetime.fromisoformat(report_at) + timedelta(minutes=5))
    result = await handle.result()
    report = (await events_of(rig, case_id, "ComplianceReportIssued"))[0].event
    assert at(report.occurred_at, report_at)
    diskominfo = next(u for u in report.payload["units"] if u["unit"] == "DISKOMINFO")
    assert (diskominfo["employees"], diskominfo["compliant"], diskominfo["jp_total"]) == (22, 1, 32)
    assert {"unit": "DISKOMINFO", "planned": 8_000_000, "held": 0, "committed": 3_500_000, "remaining": 4_500_000} in report.payload["budget"]
    assert report.payload["courses"] == [{"course": "TEK-SPBE", "participants": 1, "relevance": 5.0, "quality": 4.0}]
    assert result.status == "completed" and result.outcome["compliant"] >= 1
    assert types(rig.store, case_id)[-2:] == ["ComplianceReportIssued", "CaseClosed"]
    await save_history(handle, "training-year-cycle-mailed")
    await save_history(enrolment, "trainingenrolment-verified-claimed")


async def test_the_same_certificate_raced_by_two_enrolments_is_refused_for_one(rig: Rig) -> None:
    today = (await rig.env.get_current_time()).astimezone(tr.WIB).date()
    head, hr = person(KEPALA_DISKOMINFO_NIP), person(BKPSDM_STAFF_1_NIP)
    staff = [person(n) for n in diskominfo_staff()[3:6]]
    course = "SOS-BERAKHLAK"
    cases = []
    for who in staff:  # proposed by the head (recommendation implied), unfunded here: no cycle needed
        eid = enrolment_case_id(today.year, who.nip, course)  # type: ignore[arg-type]
        await rig.client.start_workflow(
            TrainingEnrolmentWorkflow.run,
            StartEnrolmentInput(case_id=eid, year=today.year, nip=who.nip, course=course, proposed_by=head),  # type: ignore[arg-type]
            id=eid, task_queue=rig.settings.task_queue,
        )
        await decide(rig, eid, 1, hr, "VALIDATED")
        await events_of(rig, eid, "EnrolmentValidated")
        cases.append(eid)
    digest = uuid.uuid4().hex * 2

    def submit(i: int) -> Any:
        evidence = EvidenceInput(actor=staff[i], file_sha256=digest, hours=10, completed_on=today.isoformat(), file_name="berakhlak.pdf")
        return rig.client.get_workflow_handle(cases[i]).execute_update(TrainingEnrolmentWorkflow.submit_evidence, evidence)

    # Two enrolments submit the same file at once: both pass the view check, one claim wins.
    results = await asyncio.gather(submit(0), submit(1), return_exceptions=True)
    won = [i for i, r in enumerate(results) if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1 and len(lost) == 1, results
    assert isinstance(lost[0], WorkflowUpdateFailedError) and isinstance(lost[0].cause, ApplicationError)
    assert lost[0].cause.type == "Conflict" and lost[0].cause.details[0]["field"] == "file_sha256"
    claims = read_case(rig.store, docs.claim_case_id(tr.EVIDENCE_PURPOSE, digest))
    assert [c.event.payload["owner_case_id"] for c in claims] == [cases[won[0]]]
    loser = cases[1 - won[0]]
    assert "CompletionEvidenceSubmitted" not in types(rig.store, loser)

    # The view lags (its row is gone as if the projector had not seen it yet): the claim still refuses.
    for _ in range(200):
        with psycopg.connect(rig.settings.database_url) as conn:
            if conn.execute("DELETE FROM training_evidence WHERE sha256 = %s", [digest]).rowcount:
                break
        await asyncio.sleep(0.05)
    await refused(submit(2), "Conflict")
    assert "CompletionEvidenceSubmitted" not in types(rig.store, cases[2])
    # The winner itself may be asked again (an Update retried): its own claim does not refuse it.
    assert len(read_case(rig.store, docs.claim_case_id(tr.EVIDENCE_PURPOSE, digest))) == 1


async def test_latsar_escalates_a_late_probation_and_credits_the_pass(rig: Rig) -> None:
    now = await rig.env.get_current_time()
    cpns = next(e for e in demo_employees() if e.nip[8:12] == "2025" and e.unit == "DISKOMINFO")
    # TMT eleven months ago: probation ends within a month, the warning date is already past.
    month = now.month - 11
    tmt = datetime(now.year + (month - 1) // 12, (month - 1) % 12 + 1, 1).date()
    case_id = latsar_case_id(cpns.nip)
    hr = person(BKPSDM_STAFF_1_NIP)
    await rig.client.start_workflow(
        TrainingLatsarWorkflow.run,
        StartLatsarInput(case_id=case_id, nip=cpns.nip, nama=cpns.nama, unit=cpns.unit, tmt_cpns=tmt.isoformat(), handed_off_by=hr,
                         selection_case_id="selection-2024-formasi-batanghari"),
        id=case_id, task_queue=rig.settings.task_queue,
    )
    handle = rig.client.get_workflow_handle_for(TrainingLatsarWorkflow.run, case_id)
    reminded = (await events_of(rig, case_id, "LatsarProbationReminded"))[0].event
    ends = tr.start_of_day(tr.add_months(tmt, 12))
    assert reminded.payload["probation_ends"] == ends.isoformat()
    assert not [t for t in types(rig.store, case_id) if t == "LatsarProbationEscalated"]

    await skip_to(rig, ends + timedelta(days=31))
    escalated = await events_of(rig, case_id, "LatsarProbationEscalated", 2)
    assert at(escalated[0].event.occurred_at, ends) and escalated[0].event.payload["level"] == 1
    assert at(escalated[1].event.occurred_at, ends + timedelta(days=30)) and escalated[1].event.payload["days_late"] == 30
    assert escalated[0].event.payload["escalate_to"][0] == {"role": "KEPALA_OPD", "unit": "BKPSDMD", "nip": "197507202002122001"}

    await decide(rig, case_id, 1, hr, "ENROLLED", {"cohort": "Angkatan XII", "provider": "BPSDM Provinsi Jambi",
                                                    "starts_on": f"{now.year}-02-01", "ends_on": f"{now.year}-03-15"})
    await events_of(rig, case_id, "LatsarEnrolled")
    opened = [s.event.payload for s in read_case(rig.store, case_id) if type(s.event).__name__ == "TaskOpened"]
    n = int(next(p["task_id"] for p in opened if p["kind"] == "LATSAR_RESULT").rsplit(".t", 1)[1])
    with pytest.raises(WorkflowUpdateFailedError):  # a pass below the pass mark
        await decide(rig, case_id, n, hr, "PASSED", {"score": 65, "certificate_sha256": "cd" * 32})
    await decide(rig, case_id, n, hr, "PASSED", {"score": 82.5, "certificate_sha256": "cd" * 32})
    result = await handle.result()
    assert result.status == "completed"
    assert result.outcome == {"passed": True, "score": 82.5, "within_probation": False, "appointable": True, "delay_reason_required": True}
    kinds = types(rig.store, case_id)
    assert kinds[-3:] == ["LatsarPassed", "JpCredited", "CaseClosed"]
    assert kinds.count("LatsarProbationEscalated") == 2
    await save_history(handle, "traininglatsar-late")
