"""A whole CPNS round on its own time-skipping server: windows pass in milliseconds, the real store underneath."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import EventStore, read_case
from asnflow.activities.selection import stage_file
from asnflow.domain import selection as sel
from asnflow.domain.nip import make_nip
from asnflow.runtime.demo_org import BKPSDM_STAFF_1_NIP, BKPSDM_STAFF_2_NIP, BUPATI_NIP, KEPALA_BKPSDMD_NIP
from asnflow.runtime.worker import build_worker
from asnflow.workflows.contracts import ERR_CONFLICT, ERR_FORBIDDEN, ERR_INVALID, Actor, DecisionInput
from asnflow.workflows.human_tasks import CaseWorkflow
from asnflow.workflows.selection import SelectionWorkflow
from asnflow.workflows.selection_contracts import (
    STAGE_ADMIN,
    STAGE_FINAL,
    AnnounceInput,
    FileInput,
    ObjectionInput,
    SelectionSchedule,
    StartSelectionInput,
    application_case_id,
)
from tests.support import make_settings, prepare_database
from tests.workflows.test_evaluation_workflow import save_history
from tests.workflows.test_training_workflow import Rig, refused

STAFF = Actor(nip=BKPSDM_STAFF_1_NIP, roles=["BKPSDM"], unit="BKPSDMD")
STAFF2 = Actor(nip=BKPSDM_STAFF_2_NIP, roles=["BKPSDM"], unit="BKPSDMD")
BUPATI = Actor(nip=BUPATI_NIP, roles=["BUPATI"], unit=None)
FORMATIONS = [
    {"code": "PK-RSUD", "jabatan": "Pranata Komputer Ahli Pertama", "education": "S1 Informatika", "unit": "RSUD-HAMBA", "vacancies": 1},
    {"code": "PK-RSUD-D", "jabatan": "Pranata Komputer Ahli Pertama", "education": "S1 Informatika", "unit": "RSUD-HAMBA", "vacancies": 1,
     "track": "DISABILITAS"},
]
APPLICANTS = (
    "no_peserta,nama,formasi,jalur,tanggal_lahir,ipk\n"
    "24150100001,Ani,PK-RSUD,UMUM,1998-03-04,3.51\n"
    "24150100002,Budi,PK-RSUD,UMUM,1997-05-06,3.20\n"
    "24150100003,Citra,PK-RSUD,UMUM,1999-07-08,3.80\n"
    "24150100004,Dodi,PK-RSUD-D,DISABILITAS,1996-09-10,3.10\n"
    "24150100005,Eka,PK-RSUD,UMUM,2000-11-12,3.00\n"
)


@pytest.fixture(scope="module")
async def rig(temporal_test_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    from tests.conftest import create_database, drop_database

    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=temporal_test_server)
    url = create_database("asnflow_selection_wf")
    settings = make_settings(url, tmp_path_factory.mktemp("selection-wf"))
    prepare_database(settings)
    store = EventStore(env=settings.store_env())
    try:
        with ThreadPoolExecutor(8) as executor:
            async with build_worker(env.client, settings, store, executor):
                yield Rig(env, env.client, settings, store)
    finally:
        store.close()
        await env.shutdown()
        drop_database(url)


def stage(rig: Rig, case_id: str, kind: str, text: str) -> str:
    with psycopg.connect(rig.settings.database_url, autocommit=True) as conn:
        return stage_file(conn, case_id, kind, text.encode(), STAFF.nip)


def events(rig: Rig, case_id: str, kind: str | None = None) -> list[Any]:
    return [s.event for s in read_case(rig.store, case_id) if kind is None or type(s.event).__name__ == kind]


async def wait_for(rig: Rig, case_id: str, kind: str, count: int = 1) -> list[Any]:
    for _ in range(400):
        found = await asyncio.to_thread(events, rig, case_id, kind)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{case_id}: fewer than {count} {kind}")


async def decide(rig: Rig, case_id: str, task_id: str, actor: Actor, outcome: str, reason: str = "", data: dict | None = None) -> None:
    for _ in range(400):
        if any(e.payload["task_id"] == task_id for e in await asyncio.to_thread(events, rig, case_id, "TaskOpened")):
            break
        await asyncio.sleep(0.05)
    await rig.client.get_workflow_handle(case_id).execute_update(
        CaseWorkflow.decide, DecisionInput(task_id=task_id, actor=actor, outcome=outcome, reason=reason, data=data or {})
    )


async def phase(handle: WorkflowHandle, wanted: str) -> None:
    for _ in range(400):
        if await handle.query(SelectionWorkflow.phase) == wanted:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"phase {await handle.query(SelectionWorkflow.phase)} != {wanted}")


async def start_round(rig: Rig, case_id: str, title: str) -> WorkflowHandle:
    """A CPNS 2024 round of the test formations, announced (registration 2 days, objections 3, DRH 5)."""
    handle = await rig.client.start_workflow(
        SelectionWorkflow.run,
        StartSelectionInput(case_id=case_id, year=2024, kind=sel.CPNS, title=title, formations=FORMATIONS, started_by=STAFF,
                            schedule=SelectionSchedule(registration_days=2, objection_days=3, drh_days=5)),
        id=case_id, task_queue=rig.settings.task_queue,
    )
    await wait_for(rig, case_id, "SelectionAnnounced")
    return handle


async def test_full_cpns_round_with_objections_windows_and_latsar_hand_off(rig: Rig) -> None:
    case_id = f"selection-2024-wf-{uuid.uuid4().hex[:6]}"
    handle = await start_round(rig, case_id, "Seleksi CPNS 2024 (uji)")

    # Registration: a file with a duplicate row is refused whole and records nothing.
    bad = stage(rig, case_id, "REGISTRATION", APPLICANTS + "24150100001,Ani,PK-RSUD,UMUM,1998-03-04,3.51\n")
    before = len(events(rig, case_id))
    problems = await refused(handle.execute_update(SelectionWorkflow.register_applicants, FileInput(STAFF, bad)), ERR_INVALID)
    assert problems[0]["line"] == 7 and len(events(rig, case_id)) == before
    await refused(handle.execute_update(SelectionWorkflow.register_applicants, FileInput(BUPATI, bad)), ERR_FORBIDDEN)
    done = await handle.execute_update(SelectionWorkflow.register_applicants, FileInput(STAFF, stage(rig, case_id, "REGISTRATION", APPLICANTS)))
    assert done.summary["total"] == 5
    # The SKD cannot come before its step.
    await refused(handle.execute_update(SelectionWorkflow.import_scores, FileInput(STAFF, "0" * 64, "SKD")), ERR_CONFLICT)

    # The registration window closes by timer; each application becomes a case with a pool task.
    await rig.env.sleep(timedelta(days=2, hours=1))
    await phase(handle, "verification")
    regs = [f"241501000{i:02d}" for i in range(1, 6)]
    await refused(handle.execute_update(SelectionWorkflow.announce_administrative, AnnounceInput(STAFF)), ERR_CONFLICT)  # none verified yet
    for reg in regs:
        child = application_case_id(case_id, reg)
        if reg == "24150100005":
            await decide(rig, child, f"{child}.t1", STAFF2, sel.TMS, "Ijazah tidak sesuai kualifikasi formasi")
        else:
            await decide(rig, child, f"{child}.t1", STAFF2, sel.MS)
    for reg in regs:
        await wait_for(rig, application_case_id(case_id, reg), "ApplicationVerified")
    announced = await handle.execute_update(SelectionWorkflow.announce_administrative, AnnounceInput(STAFF))
    assert announced.summary["counts"] == {"MS": 4, "TMS": 1}

    # Objection window: one objection each; the committee accepts it (the error was the verifier's).
    await phase(handle, "admin_objection")
    objection = ObjectionInput(reg_no="24150100005", stage=STAGE_ADMIN, reason="Ijazah saya S1 Informatika, terlampir sejak pendaftaran")
    await handle.execute_update(SelectionWorkflow.file_objection, objection)
    await refused(handle.execute_update(SelectionWorkflow.file_objection, objection), ERR_CONFLICT)
    await decide(rig, case_id, f"{case_id}.t1", STAFF2, "ACCEPTED", "Kesalahan verifikator; ijazah sesuai")
    await rig.env.sleep(timedelta(days=3, hours=1))
    await wait_for(rig, case_id, "AdministrativeResultAnnounced", 2)
    second = events(rig, case_id, "AdministrativeResultAnnounced")[-1].payload
    assert second["round"] == 2 and second["changed"] == ["24150100005"] and second["counts"] == {"MS": 5}
    closed = events(rig, case_id, "ObjectionPeriodClosed")[0].payload  # the legal deadline, stated when the window closed
    assert datetime.fromisoformat(closed["reannounce_by"]) - datetime.fromisoformat(closed["closed_at"]) == timedelta(days=7)
    assert second["reannounce_by"] == closed["reannounce_by"] and second["late"] is False
    assert events(rig, case_id, "ReannouncementOverdue") == [] and events(rig, case_id, "TaskReminded") == []
    late = ObjectionInput(reg_no="24150100004", stage=STAGE_ADMIN, reason="Sanggah terlambat setelah masa sanggah")
    await refused(handle.execute_update(SelectionWorkflow.file_objection, late), ERR_CONFLICT)

    # SKD: an out-of-range file is refused whole; the good one is one event with its checksum, then the cut-off.
    await phase(handle, "skd")
    wrong = stage(rig, case_id, "SKD", "no_peserta,twk,tiu,tkp\n24150100001,160,80,166\n24150100099,65,80,166\n")
    problems = await refused(handle.execute_update(SelectionWorkflow.import_scores, FileInput(STAFF, wrong, "SKD")), ERR_INVALID)
    assert [p["line"] for p in problems] == [2, 3]
    skd_text = ("no_peserta,twk,tiu,tkp\n24150100001,100,100,180\n24150100002,65,80,166\n24150100003,90,110,170\n"
                "24150100004,40,60,190\n24150100005,60,120,200\n")
    skd_sha = stage(rig, case_id, "SKD", skd_text)
    res = await handle.execute_update(SelectionWorkflow.import_scores, FileInput(STAFF, skd_sha, "SKD"))
    assert res.summary["cut_off"] == {"passed": 4, "failed": 1, "skb_participants": 4}
    imported = events(rig, case_id, "ScoresImported")[0].payload
    assert imported["file_sha256"] == skd_sha and imported["rows"] == 5

    # SKB, then the ranking (40/60, tie-break chain) and the optimisation fill the disability vacancy if empty.
    skb_sha = stage(rig, case_id, "SKB", "no_peserta,nilai_skb\n24150100001,80\n24150100002,90\n24150100003,85\n24150100004,70\n")
    res = await handle.execute_update(SelectionWorkflow.import_scores, FileInput(STAFF, skb_sha, "SKB"))
    assert res.summary["final"]["counts"] == {"LULUS": 2, "TL": 3}
    assert staged_rows(rig, case_id) == []  # every file, refused or taken in, has left the staging table
    ranked = events(rig, case_id, "SelectionRanked")[0].payload
    assert [e["reg_no"] for e in ranked["ranking"]["PK-RSUD"]] == ["24150100003", "24150100002", "24150100001"]  # 77.909, 76.618, 75.636
    # Recomputing from the events gives the recorded ranking exactly.
    folded = sel.fold([(type(e).__name__, e.payload) for e in events(rig, case_id)])
    assert sel.rank_round(folded) == ranked

    # Final objection: accepted with a new status; the re-announcement applies it as an override.
    await phase(handle, "final_objection")
    await handle.execute_update(SelectionWorkflow.file_objection, ObjectionInput("24150100001", STAGE_FINAL, "Nilai SKB wawancara saya tidak terinput"))
    await decide(rig, case_id, f"{case_id}.t2", STAFF2, "ACCEPTED", "Nilai wawancara tertinggal; dikoreksi", {"final_status": sel.LULUS})
    await wait_for(rig, case_id, "ResultOverridden")
    await rig.env.sleep(timedelta(days=3, hours=1))
    finals = await wait_for(rig, case_id, "FinalResultAnnounced", 2)
    assert finals[-1].payload["results"]["24150100001"] == {"status": sel.LULUS, "formation": "PK-RSUD", "overridden": True}

    # Appointment: DRH window, NIP request, NIPs (validated against birth dates), SK, Latsar hand-off.
    await rig.env.sleep(timedelta(days=5, hours=1))
    await decide(rig, case_id, f"{case_id}.t3", STAFF, "SUBMITTED", data={"usul_nomor": "800/123/BKPSDMD"})
    births = {"24150100001": date(1998, 3, 4), "24150100003": date(1999, 7, 8), "24150100004": date(1996, 9, 10)}
    nips = {r: make_nip(b, date(2025, 3, 1), "P", i + 1) for i, (r, b) in enumerate(births.items())}
    await wait_for(rig, case_id, "TaskOpened", 4)
    reused = {**nips, "24150100001": nips["24150100003"]}
    problems = await refused(handle.execute_update(
        CaseWorkflow.decide, DecisionInput(task_id=f"{case_id}.t4", actor=STAFF, outcome="ISSUED", data={"nips": reused})), ERR_INVALID)
    assert any("birth date" in p["en"] for p in problems)
    await decide(rig, case_id, f"{case_id}.t4", STAFF, "ISSUED", data={"nips": nips})
    await decide(rig, case_id, f"{case_id}.t5", BUPATI, "SIGNED", data={"sk_nomor": "800/45/2025", "sk_tanggal": "2025-03-01"})
    result = await handle.result()
    assert result.status == "completed" and result.outcome["latsar"] == 3
    await save_history(handle, "selection-full-round")
    latsar = await wait_for(rig, f"training-latsar-{nips['24150100003']}", "LatsarHandedOff")
    assert latsar[0].payload["selection_case_id"] == case_id
    await save_history(rig.client.get_workflow_handle(application_case_id(case_id, "24150100005")), "selectionapplication-tms")


async def test_an_upload_arriving_with_the_first_task_waits_for_the_announcement(rig: Rig) -> None:
    case_id = f"selection-2024-early-{uuid.uuid4().hex[:6]}"
    sha = stage(rig, case_id, "REGISTRATION", APPLICANTS)
    handle = await rig.client.start_workflow(
        SelectionWorkflow.run,
        StartSelectionInput(case_id=case_id, year=2024, kind=sel.CPNS, title="Seleksi uji", formations=FORMATIONS, started_by=STAFF),
        id=case_id, task_queue=rig.settings.task_queue,
    )
    done = await handle.execute_update(SelectionWorkflow.register_applicants, FileInput(STAFF, sha))
    assert done.summary["total"] == 5
    assert [type(e).__name__ for e in events(rig, case_id)] == ["CaseOpened", "SelectionAnnounced", "ApplicantsRegistered"]
    await handle.terminate("test done")


# --- the staging table: staged files leave once their event is recorded, safely under retries ---------------
def staged_rows(rig: Rig, case_id: str) -> list[str]:
    with psycopg.connect(rig.settings.database_url) as conn:
        return [r[0] for r in conn.execute("SELECT sha256 FROM public.selection_files WHERE case_id = %s", [case_id])]


def announced_round(rig: Rig) -> tuple[str, Any]:
    """A round announced straight into the store (no workflow): the activity is driven as its retries would drive it."""
    from asnflow.activities.eventstore import record
    from asnflow.domain.events import GENESIS_HASH
    from asnflow.workflows.contracts import NewEvent, RecordInput

    case_id = f"selection-2024-stage-{uuid.uuid4().hex[:6]}"
    actor = STAFF.as_event_actor()
    opened = record(rig.store, RecordInput(
        case_id=case_id, process=sel.PROCESS, expected_version=0, previous_hash=GENESIS_HASH, workflow_id=case_id, run_id="run-1",
        occurred_at="2024-08-19T01:00:00+00:00",
        events=[NewEvent("SelectionAnnounced", {"year": 2024, "kind": sel.CPNS, "rules": "CPNS-2024", "formations": FORMATIONS}, actor)],
    ))
    return case_id, opened


def build_input(case_id: str, opened: Any, sha: str) -> Any:
    from asnflow.workflows.selection_contracts import BuildInput

    return BuildInput(case_id=case_id, process=sel.PROCESS, expected_version=opened.version, previous_hash=opened.last_hash,
                      workflow_id=case_id, run_id="run-1", occurred_at="2024-08-20T01:00:00+00:00", actor=STAFF.as_event_actor(),
                      step="REGISTER", file_sha256=sha)


def test_a_recorded_file_leaves_staging_and_a_retry_after_that_returns_the_same_result(rig: Rig) -> None:
    from asnflow.activities.selection import SelectionActivities

    acts = SelectionActivities(rig.store, rig.settings.database_url)
    case_id, opened = announced_round(rig)
    sha = stage(rig, case_id, "REGISTRATION", APPLICANTS)
    inp = build_input(case_id, opened, sha)
    first = acts.build(inp)
    assert staged_rows(rig, case_id) == []  # gone once its event is in the store
    # The attempt's answer was lost after it unstaged: the retry finds its event instead of the file.
    again = acts.build(inp)
    assert again == first and first.summary == {"count": 5, "total": 5}
    assert len(events(rig, case_id, "ApplicantsRegistered")) == 1


def test_an_attempt_that_died_before_unstaging_is_retried_without_a_second_event(rig: Rig) -> None:
    from asnflow.activities.selection import SelectionActivities

    acts = SelectionActivities(rig.store, rig.settings.database_url)
    case_id, opened = announced_round(rig)
    sha = stage(rig, case_id, "REGISTRATION", APPLICANTS)
    inp = build_input(case_id, opened, sha)
    first = acts.build(inp)
    stage(rig, case_id, "REGISTRATION", APPLICANTS)  # as if the attempt died between its append and its unstaging
    again = acts.build(inp)  # meets its own event at that version, then unstages
    assert again == first and staged_rows(rig, case_id) == []
    assert len(events(rig, case_id, "ApplicantsRegistered")) == 1
    # The same file sent again later is refused as taken in, and a leftover row of it is purged by the next step.
    stage(rig, case_id, "REGISTRATION", APPLICANTS)
    later = build_input(case_id, first, sha)
    from temporalio.exceptions import ApplicationError

    with pytest.raises(ApplicationError) as refused_again:
        acts.build(later)
    assert refused_again.value.type == ERR_CONFLICT and staged_rows(rig, case_id) == []
    assert len(events(rig, case_id)) == 2


def test_a_refused_file_and_stale_uploads_do_not_stay_in_staging(rig: Rig) -> None:
    from temporalio.exceptions import ApplicationError

    from asnflow.activities.selection import SelectionActivities

    acts = SelectionActivities(rig.store, rig.settings.database_url)
    case_id, opened = announced_round(rig)
    bad = stage(rig, case_id, "REGISTRATION", APPLICANTS + "24150100001,Ani,PK-RSUD,UMUM,1998-03-04,3.51\n")
    with pytest.raises(ApplicationError) as refused_file:
        acts.build(build_input(case_id, opened, bad))
    assert refused_file.value.type == ERR_INVALID and staged_rows(rig, case_id) == [] and len(events(rig, case_id)) == 1
    # An upload never taken in goes after the retention period, at the next upload anywhere.
    old = stage(rig, case_id, "REGISTRATION", APPLICANTS)
    with psycopg.connect(rig.settings.database_url, autocommit=True) as conn:
        conn.execute("UPDATE public.selection_files SET uploaded_at = now() - interval '8 days' WHERE sha256 = %s", [old])
    fresh = stage(rig, f"{case_id}-other", "SKD", "no_peserta,twk,tiu,tkp\n")
    assert staged_rows(rig, case_id) == [] and staged_rows(rig, f"{case_id}-other") == [fresh]


async def test_an_unanswered_objection_is_reminded_then_escalated_at_the_reannouncement_deadline(rig: Rig) -> None:
    case_id = f"selection-2024-late-{uuid.uuid4().hex[:6]}"
    handle = await start_round(rig, case_id, "Seleksi uji tenggat")
    await handle.execute_update(SelectionWorkflow.register_applicants, FileInput(STAFF, stage(rig, case_id, "REGISTRATION", APPLICANTS)))
    await rig.env.sleep(timedelta(days=2, hours=1))
    await phase(handle, "verification")
    for i in range(1, 6):
        child = application_case_id(case_id, f"241501000{i:02d}")
        await decide(rig, child, f"{child}.t1", STAFF2, sel.TMS if i == 5 else sel.MS, "Ijazah tidak sesuai" if i == 5 else "")
        await wait_for(rig, child, "ApplicationVerified")
    await handle.execute_update(SelectionWorkflow.announce_administrative, AnnounceInput(STAFF))
    await phase(handle, "admin_objection")
    await handle.execute_update(SelectionWorkflow.file_objection,
                                ObjectionInput("24150100005", STAGE_ADMIN, "Ijazah saya sesuai formasi, mohon diperiksa ulang"))
    review = f"{case_id}.t1"

    # The window closes with the objection unanswered: the deadline (7 calendar days) is recorded, nothing announced.
    await rig.env.sleep(timedelta(days=3, hours=1))
    closed = (await wait_for(rig, case_id, "ObjectionPeriodClosed"))[0].payload
    assert closed["open_objections"] == 1
    due = datetime.fromisoformat(closed["reannounce_by"])
    assert due - datetime.fromisoformat(closed["closed_at"]) == timedelta(days=7)
    # Two days before it, the committee is reminded of the review.
    await rig.env.sleep(timedelta(days=4, hours=12))
    assert events(rig, case_id, "TaskReminded") == []
    await rig.env.sleep(timedelta(days=1))
    reminded = (await wait_for(rig, case_id, "TaskReminded"))[0].payload
    assert reminded["task_id"] == review and reminded["step"] == "REANNOUNCE_R"
    assert events(rig, case_id, "ReannouncementOverdue") == [] and len(events(rig, case_id, "AdministrativeResultAnnounced")) == 1
    # At the deadline the breach is recorded and the head of BKPSDMD supervises the review; nobody's objection is decided for them.
    await rig.env.sleep(timedelta(days=2))
    overdue = (await wait_for(rig, case_id, "ReannouncementOverdue"))[0].payload
    assert overdue == {"stage": STAGE_ADMIN, "reannounce_by": closed["reannounce_by"], "open_objections": [review]}
    escalated = (await wait_for(rig, case_id, "TaskEscalated"))[0].payload
    assert escalated["task_id"] == review and escalated["mode"] == "supervise" and escalated["to_nip"] == KEPALA_BKPSDMD_NIP
    assert len(events(rig, case_id, "AdministrativeResultAnnounced")) == 1 and events(rig, case_id, "SelectionObjectionDecided") == []
    # The committee (still the committee: supervising does not take the task) answers; the re-announcement follows at once, marked late.
    await decide(rig, case_id, review, STAFF2, "REJECTED", "Ijazah D3, formasi mensyaratkan S1")
    second = (await wait_for(rig, case_id, "AdministrativeResultAnnounced", 2))[-1].payload
    assert second["round"] == 2 and second["late"] is True and second["reannounce_by"] == closed["reannounce_by"]
    assert second["counts"] == {"MS": 4, "TMS": 1}
    await phase(handle, "skd")
    await save_history(handle, "selection-reannouncement-overdue")
    await handle.terminate("test done")
