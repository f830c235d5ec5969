"""A whole CPNS round on its own time-skipping server: windows pass in milliseconds, the real store underneath."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import EventStore, read_case
from asnflow.activities.selection import stage_file
from asnflow.domain import selection as sel
from asnflow.domain.nip import make_nip
from asnflow.runtime.demo_org import BKPSDM_STAFF_1_NIP, BKPSDM_STAFF_2_NIP, BUPATI_NIP
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


async def test_full_cpns_round_with_objections_windows_and_latsar_hand_off(rig: Rig) -> None:
    case_id = f"selection-2024-wf-{uuid.uuid4().hex[:6]}"
    handle = await rig.client.start_workflow(
        SelectionWorkflow.run,
        StartSelectionInput(case_id=case_id, year=2024, kind=sel.CPNS, title="Seleksi CPNS 2024 (uji)", formations=FORMATIONS, started_by=STAFF,
                            schedule=SelectionSchedule(registration_days=2, objection_days=3, drh_days=5)),
        id=case_id, task_queue=rig.settings.task_queue,
    )
    await wait_for(rig, case_id, "SelectionAnnounced")

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
