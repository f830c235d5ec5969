"""The whole SKP year on the time-skipping server with the real store: calibration, windows, transfers, fallback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import EventStore, read_case
from asnflow.domain.events import GENESIS_HASH, hash_of
from asnflow.domain.rules import EvaluationPolicy, skp_deadline
from asnflow.runtime.demo_org import demo_employees, roles_for
from asnflow.runtime.settings import Settings
from asnflow.runtime.worker import build_worker
from asnflow.workflows.contracts import Actor, DecisionInput
from asnflow.workflows.evaluation import EvaluationWorkflow
from asnflow.workflows.evaluation_calibration import EvaluationCalibrationWorkflow
from asnflow.workflows.evaluation_contracts import (
    CALIBRATION_CLOSED_SIGNAL,
    EvaluationInput,
    EvidenceInput,
    TransferInput,
    calibration_case_id,
    evaluation_case_id,
)
from asnflow.workflows.human_tasks import CaseWorkflow
from tests.support import make_settings, prepare_database
from tests.workflows.test_evaluation_workflow import save_history

BY_NIP = {e.nip: e for e in demo_employees()}
A, S, B = "DI_ATAS_EKSPEKTASI", "SESUAI_EKSPEKTASI", "DI_BAWAH_EKSPEKTASI"
SKP = {"targets": [{"indikator": "Layanan aplikasi tersedia", "target": "99%"}]}
AGREE = {"expectations": ["Laporan bulanan tepat waktu"]}
CHECKIN = {"feedback": "Capaian sesuai rencana", "evidence": [{"filename": "laporan-s1.pdf", "sha256": "a" * 64}]}
BUPATI = Actor(nip="197001011990011001", roles=["BUPATI"], unit=None)
ORG_FOR = {A: "ISTIMEWA", S: "BAIK", B: "BUTUH_PERBAIKAN"}  # the organisation predicate implying a head's work results


def actor(nip: str) -> Actor:
    e = BY_NIP[nip]
    return Actor(nip=nip, roles=roles_for(nip) or ["PEGAWAI"], unit=e.unit, name=e.nama)


def head_of(unit: str) -> str:
    members = {e.nip for e in demo_employees() if e.unit == unit}
    return next(e.nip for e in demo_employees() if e.unit == unit and e.atasan_nip not in members)


def staff_of(unit: str) -> list[str]:
    head = head_of(unit)
    return [e.nip for e in demo_employees() if e.unit == unit and e.nip != head]


@dataclass
class Env:
    env: WorkflowEnvironment
    client: Client
    settings: Settings
    store: EventStore


@pytest.fixture(scope="module")
async def tenv(temporal_test_server: str, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    # Its own test server: skipping weeks here must not move the clock under other modules' workflows.
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=temporal_test_server)
    settings = make_settings(database_url, tmp_path_factory.mktemp("year"), env.client.service_client.config.target_host)
    prepare_database(settings)
    store = EventStore(env=settings.store_env())
    try:
        # Time moves only when a test says so (env.sleep), never while a result is awaited.
        with env.auto_time_skipping_disabled(), ThreadPoolExecutor(8) as executor:
            async with build_worker(env.client, settings, store, executor):
                yield Env(env, env.client, settings, store)
    finally:
        store.close()
        await env.shutdown()


def types(store: EventStore, case_id: str) -> list[str]:
    return [type(s.event).__name__ for s in read_case(store, case_id)]


def payloads(store: EventStore, case_id: str, name: str) -> list[dict[str, Any]]:
    return [s.event.payload for s in read_case(store, case_id) if type(s.event).__name__ == name]


def open_tasks(store: EventStore, case_id: str) -> dict[str, dict[str, Any]]:
    tasks: dict[str, dict[str, Any]] = {}
    for s in read_case(store, case_id):
        name, p = type(s.event).__name__, s.event.payload
        if name == "TaskOpened":
            tasks[p["task_id"]] = p
        elif name in ("TaskDecided", "TaskCancelled"):
            tasks.pop(p["task_id"], None)
    return tasks


async def task_of(store: EventStore, case_id: str, kind: str, tries: int = 400) -> dict[str, Any]:
    for _ in range(tries):
        found = [t for t in (await asyncio.to_thread(open_tasks, store, case_id)).values() if t["kind"] == kind]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no open {kind} task on {case_id}: {types(store, case_id)}")


async def decide(e: Env, case_id: str, kind: str, who: Actor, outcome: str, data: dict | None = None, reason: str = "") -> str:
    task = await task_of(e.store, case_id, kind)
    await e.client.get_workflow_handle(case_id).execute_update(
        CaseWorkflow.decide, DecisionInput(task_id=task["task_id"], actor=who, outcome=outcome, reason=reason, data=data or {})
    )
    return task["task_id"]


async def refused(handle: WorkflowHandle, update: Any, arg: Any, kind: str) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update(update, arg)
    assert isinstance(info.value.cause, ApplicationError) and info.value.cause.type == kind, info.value.cause
    return info.value.cause


async def start(e: Env, nip: str, year: int, policy: EvaluationPolicy | None = None) -> tuple[str, WorkflowHandle]:
    case_id = evaluation_case_id(nip, year)
    handle = await e.client.start_workflow(
        EvaluationWorkflow.run,
        EvaluationInput(case_id=case_id, nip=nip, year=year, started_by=actor(nip), policy=policy),
        id=case_id,
        task_queue=e.settings.task_queue,
    )
    return case_id, handle


async def to_rating(e: Env, nip: str, year: int, rating: dict[str, str], policy: EvaluationPolicy | None = None) -> tuple[str, WorkflowHandle]:
    """Start a case of a past year and drive it through planning and the check-in to its rating."""
    case_id, handle = await start(e, nip, year, policy)
    boss = actor(BY_NIP[nip].atasan_nip)  # type: ignore[arg-type]
    await decide(e, case_id, "SKP_DRAFT", actor(nip), "SUBMITTED", SKP)
    await decide(e, case_id, "SKP_AGREEMENT", boss, "AGREED", AGREE)
    await decide(e, case_id, "CHECK_IN", boss, "RECORDED", CHECKIN)
    unit = BY_NIP[nip].unit
    if head_of(unit) == nip and (policy is None or policy.head_work_results == "UNIT_RESULT"):
        # A unit head's work results are the unit's predicate, which their appraiser sets as the leader one level up.
        await decide(e, f"calibration-{year}-{unit}", "ORG_PREDICATE", boss, "SET", {"predicate": ORG_FOR[rating["hasil_kerja"]]})
    await decide(e, case_id, "RATING", boss, "SUBMITTED", rating)
    return case_id, handle


async def calibration_of(e: Env, case_id: str) -> str:
    for _ in range(400):
        joined = payloads(e.store, case_id, "CalibrationJoined")
        if joined:
            return joined[-1]["calibration_case_id"]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{case_id} never joined a calibration")


def assert_chain(store: EventStore, case_id: str) -> None:
    previous = GENESIS_HASH
    for version, stored in enumerate(read_case(store, case_id), start=1):
        assert stored.event.originator_version == version and stored.event.previous_hash == previous
        assert hash_of(stored.event) == stored.event.hash
        previous = stored.event.hash


async def test_a_full_year_with_check_in_calibration_and_credit_points(tenv: Env) -> None:
    e = tenv
    unit = "DISKOMINFO"
    nip = "199602102022031001"  # Pranata Komputer Ahli Pertama: functional, earns credit points
    boss = actor(BY_NIP[nip].atasan_nip)  # type: ignore[arg-type]
    case_id, handle = await start(e, nip, 2025)
    await decide(e, case_id, "SKP_DRAFT", actor(nip), "SUBMITTED", SKP)
    agreement = await task_of(e.store, case_id, "SKP_AGREEMENT")
    await refused(
        handle, CaseWorkflow.decide,
        DecisionInput(task_id=agreement["task_id"], actor=boss, outcome="AGREED", data={"expectations": ["", 5]}), "Invalid",
    )  # stated expectations must be texts
    await decide(e, case_id, "SKP_AGREEMENT", boss, "AGREED", AGREE)
    evidence = await handle.execute_update(
        EvaluationWorkflow.add_evidence, EvidenceInput(actor=actor(nip), filename="notulen.pdf", sha256="b" * 64, size_bytes=1234)
    )
    assert evidence.event_type == "EvidenceRecorded"
    await refused(handle, EvaluationWorkflow.add_evidence, EvidenceInput(actor=actor(nip), filename="x.pdf", sha256="nope"), "Invalid")
    await decide(e, case_id, "CHECK_IN", boss, "RECORDED", {**CHECKIN, "hasil_kerja": S, "perilaku_kerja": A})
    await decide(e, case_id, "RATING", boss, "SUBMITTED", {"hasil_kerja": A, "perilaku_kerja": A})

    calibration = await calibration_of(e, case_id)
    assert calibration == f"calibration-2025-{unit}"
    head, leader = head_of(unit), BY_NIP[head_of(unit)].atasan_nip
    await decide(e, calibration, "ORG_PREDICATE", actor(leader), "SET", {"predicate": "ISTIMEWA"})  # type: ignore[arg-type]
    task = await task_of(e.store, calibration, "CALIBRATION")
    cause = await refused(
        e.client.get_workflow_handle(calibration), CaseWorkflow.decide,
        DecisionInput(task_id=task["task_id"], actor=actor(head), outcome="CALIBRATED", data={"adjustments": []}), "Invalid",
    )  # one Sangat Baik of one is 100 %, over the 70 % an Istimewa organisation allows
    assert cause.details[0]["field"] == "quota_justification" and "70%" in cause.details[0]["id"]
    await decide(
        e, calibration, "CALIBRATION", actor(head), "CALIBRATED",
        {"adjustments": [], "quota_justification": "Satu-satunya pegawai yang dinilai; kinerjanya memang istimewa"},
    )
    await decide(e, case_id, "ACKNOWLEDGEMENT", actor(nip), "ACKNOWLEDGED")
    result = await handle.result()
    assert result.status == "completed"
    assert result.outcome == {"predicate": "SANGAT_BAIK", "raw": "SANGAT_BAIK", "credit_points": 18.75}
    assert (await e.client.get_workflow_handle_for(EvaluationCalibrationWorkflow.run, calibration).result()).outcome["org_predicate"] == "ISTIMEWA"
    await save_history(handle, "evaluation-full-year")

    mine = [t for t in types(e.store, case_id) if t not in ("TaskOpened", "TaskDecided")]
    assert mine == [
        "CaseOpened", "EvaluationStarted", "SkpPeriodOpened", "SkpDrafted", "SkpAgreed", "LeaderExpectationsRecorded",
        "EvidenceRecorded", "CheckInRecorded", "SkpPeriodClosed", "RatingSubmitted", "PredicateDetermined", "CalibrationJoined",
        "PredicateCalibrated", "ResultDelivered", "EvaluationAcknowledged", "CreditPointsDetermined", "EvaluationFinalised", "CaseClosed",
    ]
    checkin = payloads(e.store, case_id, "CheckInRecorded")[0]
    assert checkin["period"] == "S1" and checkin["periodic_predicate"] == "BAIK" and checkin["evidence"][0]["sha256"] == "a" * 64
    credit = payloads(e.store, case_id, "CreditPointsDetermined")[0]
    assert credit["periods"] == [{"jabatan": "Pranata Komputer Ahli Pertama", "months": 12, "coefficient": 12.5, "points": 18.75}]
    assert_chain(e.store, case_id)
    assert_chain(e.store, calibration)


async def test_calibration_refuses_unjustified_deviations_and_its_result_is_final(tenv: Env) -> None:
    e = tenv
    unit, year = "BPBD", 2024
    nips = [n for n in staff_of(unit) if BY_NIP[n].atasan_nip != head_of(unit)][:3]
    assert len(nips) == 3
    ratings = [{"hasil_kerja": A, "perilaku_kerja": A}, {"hasil_kerja": A, "perilaku_kerja": A}, {"hasil_kerja": S, "perilaku_kerja": S}]
    cases = [await to_rating(e, n, year, r) for n, r in zip(nips, ratings, strict=True)]
    calibration = {await calibration_of(e, c) for c, _ in cases}
    assert calibration == {f"calibration-{year}-{unit}"}
    cal = calibration.pop()
    head, leader = head_of(unit), BY_NIP[head_of(unit)].atasan_nip
    org_task = await task_of(e.store, cal, "ORG_PREDICATE")
    assert org_task["assignee_nip"] == leader  # the leader one level up sets the organisation's predicate
    handle = e.client.get_workflow_handle(cal)
    await refused(handle, CaseWorkflow.decide, DecisionInput(task_id=org_task["task_id"], actor=actor(head), outcome="SET", data={"predicate": "BAIK"}), "Forbidden")
    await refused(handle, CaseWorkflow.decide, DecisionInput(task_id=org_task["task_id"], actor=actor(leader), outcome="SET", data={"predicate": "LUAR_BIASA"}), "Invalid")  # type: ignore[arg-type]
    await decide(e, cal, "ORG_PREDICATE", actor(leader), "SET", {"predicate": "BAIK"})  # type: ignore[arg-type]

    task = await task_of(e.store, cal, "CALIBRATION")
    assert task["assignee_nip"] == head
    opened = payloads(e.store, cal, "CalibrationRoundOpened")[0]
    assert sorted(m["nip"] for m in opened["members"]) == sorted(nips)
    assert [v["rule"] for v in opened["quota_violations"]] == ["min_count:BUTUH_PERBAIKAN+KURANG:1"]
    before = len(read_case(e.store, cal))

    async def calibrate_refused(data: dict[str, Any], field: str) -> None:
        cause = await refused(handle, CaseWorkflow.decide, DecisionInput(task_id=task["task_id"], actor=actor(head), outcome="CALIBRATED", data=data), "Invalid")
        assert cause.details[0]["field"] == field, cause.details

    await calibrate_refused({"adjustments": []}, "quota_justification")  # Baik needs at least one Butuh Perbaikan or Kurang
    await calibrate_refused({"adjustments": [{"nip": nips[1], "predicate": "BUTUH_PERBAIKAN"}]}, "adjustments[0].justification")
    await calibrate_refused({"adjustments": [{"nip": nips[1], "predicate": "BUTUH_PERBAIKAN", "justification": "kurang"}]}, "adjustments[0].justification")
    await calibrate_refused({"adjustments": [{"nip": head, "predicate": "BAIK", "justification": "bukan anggota kalibrasi"}]}, "adjustments[0].nip")
    assert len(read_case(e.store, cal)) == before  # refusals record nothing
    why = "Target utama semester II tidak tercapai menurut bukti dialog kinerja"
    await decide(e, cal, "CALIBRATION", actor(head), "CALIBRATED", {"adjustments": [{"nip": nips[1], "predicate": "BUTUH_PERBAIKAN", "justification": why}]})
    await e.client.get_workflow_handle(cal).result()
    await save_history(handle, "evaluationcalibration-adjusted-round-settled")
    calibrated = payloads(e.store, cal, "UnitCalibrated")[0]
    assert calibrated["adjustments"] == [{"nip": nips[1], "from": "SANGAT_BAIK", "to": "BUTUH_PERBAIKAN", "justification": why}]
    assert calibrated["quota_violations"] == [] and calibrated["distribution_after"]["BUTUH_PERBAIKAN"] == 1

    finals = []
    for nip, (case_id, case) in zip(nips, cases, strict=True):
        await decide(e, case_id, "ACKNOWLEDGEMENT", actor(nip), "ACKNOWLEDGED")
        finals.append((await case.result()).outcome["predicate"])
    assert finals == ["SANGAT_BAIK", "BUTUH_PERBAIKAN", "BAIK"]  # the calibrated result, not the raw one, is final
    adjusted = payloads(e.store, cases[1][0], "PredicateCalibrated")[0]
    assert adjusted["raw"] == "SANGAT_BAIK" and adjusted["calibrated"] == "BUTUH_PERBAIKAN" and adjusted["justification"] == why
    assert payloads(e.store, cases[1][0], "EvaluationFinalised")[0]["final"] == "BUTUH_PERBAIKAN"


async def test_objection_within_14_days_is_decided_by_the_appraisers_superior_and_late_is_closed(tenv: Env) -> None:
    e = tenv
    year = 2023
    early, late = head_of("DPUTR"), head_of("DISPERKIM")  # unit heads: their raw predicate is not calibrated by the unit
    sekda = BY_NIP[early].atasan_nip
    assert sekda == BY_NIP[late].atasan_nip and BY_NIP[sekda].atasan_nip is None  # type: ignore[index]
    a, ha = await to_rating(e, early, year, {"hasil_kerja": S, "perilaku_kerja": B})
    b, hb = await to_rating(e, late, year, {"hasil_kerja": S, "perilaku_kerja": S})
    delivered = {c: payloads(e.store, c, "ResultDelivered") for c in (a, b)}
    for c in (a, b):
        await task_of(e.store, c, "ACKNOWLEDGEMENT")
        delivered[c] = payloads(e.store, c, "ResultDelivered")[0]
    deadline = datetime.fromisoformat(delivered[a]["objection_deadline"])
    assert timedelta(days=14) <= deadline - datetime.fromisoformat(read_case(e.store, a)[-1].event.occurred_at.isoformat()) < timedelta(days=15)

    await e.env.sleep(timedelta(days=13))
    ack = await task_of(e.store, a, "ACKNOWLEDGEMENT")
    await refused(ha, CaseWorkflow.decide, DecisionInput(task_id=ack["task_id"], actor=actor(early), outcome="OBJECTED"), "Invalid")  # reason required
    await decide(e, a, "ACKNOWLEDGEMENT", actor(early), "OBJECTED", reason="Target fisik tercapai 100% sesuai laporan")
    await task_of(e.store, a, "OBJECTION_RESPONSE")
    assert payloads(e.store, a, "ObjectionFiled")[0]["to"] is None  # the Sekda has no superior in the directory: the Bupati
    await decide(e, a, "OBJECTION_RESPONSE", actor(sekda), "RESPONDED", {"explanation": "Perilaku kerja kurang kolaboratif"})  # type: ignore[arg-type]
    decision = await task_of(e.store, a, "OBJECTION_DECISION")
    assert decision["candidate_role"] == "BUPATI"
    await refused(ha, CaseWorkflow.decide, DecisionInput(task_id=decision["task_id"], actor=BUPATI, outcome="CHANGED", reason="x", data={"predicate": "KURANG"}), "Invalid")
    await decide(e, a, "OBJECTION_DECISION", BUPATI, "CHANGED", {"predicate": "BAIK"}, reason="Bukti capaian sah")
    result = await ha.result()
    assert result.outcome["raw"] == "KURANG" and result.outcome["predicate"] == "BAIK"
    assert payloads(e.store, a, "ObjectionDecided")[0] == {"decision": "CHANGED", "before": "KURANG", "after": "BAIK", "decided_by": BUPATI.nip, "final": True}
    await save_history(ha, "evaluation-objection-changed")

    await e.env.sleep(timedelta(days=2))  # b's 14 days are over without an objection
    assert (await hb.result()).outcome["predicate"] == "BAIK"
    closed = payloads(e.store, b, "ObjectionWindowClosed")
    assert closed and closed[0]["deadline"] == delivered[b]["objection_deadline"]
    assert "EvaluationAcknowledged" not in types(e.store, b)
    with pytest.raises((WorkflowUpdateFailedError, RPCError)):  # too late: the case is closed, the result final
        await hb.execute_update(CaseWorkflow.decide, DecisionInput(task_id=closed and f"{b}.t5", actor=actor(late), outcome="OBJECTED", reason="terlambat"))


async def test_a_transfer_closes_the_skp_period_and_credit_is_pro_rated_per_post(tenv: Env) -> None:
    e = tenv
    year, nip = 2022, "199602102022031001"
    old_boss = actor(BY_NIP[nip].atasan_nip)  # type: ignore[arg-type]
    new_unit = "BKPSDMD"
    new_boss = head_of(new_unit)
    case_id, handle = await start(e, nip, year)
    await decide(e, case_id, "SKP_DRAFT", actor(nip), "SUBMITTED", SKP)
    await decide(e, case_id, "SKP_AGREEMENT", old_boss, "AGREED", AGREE)
    checkin = await task_of(e.store, case_id, "CHECK_IN")
    move = TransferInput(
        actor=actor("199104122019032001"), effective_date=f"{year}-04-15", reason="Mutasi ke BKPSDMD", decree="800/123/BKPSDMD/2022",
        unit=new_unit, jabatan="Pranata Komputer Ahli Muda", jenis_jabatan="FUNGSIONAL", appraiser_nip=new_boss,
    )
    await refused(handle, EvaluationWorkflow.record_transfer, TransferInput(**{**move.__dict__, "actor": actor(nip)}), "Forbidden")
    await refused(handle, EvaluationWorkflow.record_transfer, TransferInput(**{**move.__dict__, "effective_date": "2099-01-01"}), "Invalid")
    done = await handle.execute_update(EvaluationWorkflow.record_transfer, move)
    assert done.event_type == "TransferRecorded" and done.position > 0
    cancelled = [p for p in payloads(e.store, case_id, "TaskCancelled") if p["task_id"] == checkin["task_id"]]
    assert cancelled, "the old appraiser's open check-in closes with the period"
    assert payloads(e.store, case_id, "SkpPeriodClosed")[0] == {"number": 1, "ends": f"{year}-04-14", "months": 3, "cause": "transfer"}

    draft = await task_of(e.store, case_id, "SKP_DRAFT")
    assert draft["unit"] == new_unit
    await decide(e, case_id, "SKP_DRAFT", actor(nip), "SUBMITTED", SKP)
    agreement = await task_of(e.store, case_id, "SKP_AGREEMENT")
    assert agreement["assignee_nip"] == new_boss
    await decide(e, case_id, "SKP_AGREEMENT", actor(new_boss), "AGREED", AGREE)
    await decide(e, case_id, "CHECK_IN", actor(new_boss), "RECORDED", CHECKIN)  # S1 ends after the transfer: the new appraiser's
    await decide(e, case_id, "RATING", actor(new_boss), "SUBMITTED", {"hasil_kerja": S, "perilaku_kerja": S})
    cal = await calibration_of(e, case_id)
    assert cal == f"calibration-{year}-{new_unit}"
    nb_head = head_of(new_unit)
    await decide(e, cal, "ORG_PREDICATE", actor(BY_NIP[nb_head].atasan_nip), "SET", {"predicate": "ISTIMEWA"})  # type: ignore[arg-type]
    await decide(e, cal, "CALIBRATION", actor(nb_head), "CALIBRATED", {"adjustments": []})
    await decide(e, case_id, "ACKNOWLEDGEMENT", actor(nip), "ACKNOWLEDGED")
    result = await handle.result()
    # Baik: 3/12 x 100% x 12.5 (Ahli Pertama) + 9/12 x 100% x 25 (Ahli Muda)
    assert result.outcome == {"predicate": "BAIK", "raw": "BAIK", "credit_points": 21.875}
    periods = payloads(e.store, case_id, "SkpPeriodOpened")
    assert [(p["number"], p["starts"], p["appraiser_nip"]) for p in periods] == [(1, f"{year}-01-01", old_boss.nip), (2, f"{year}-04-15", new_boss)]
    await save_history(handle, "evaluation-transfer")
    assert_chain(e.store, case_id)


async def test_skp_deadline_fallback_and_the_check_in_calendar(tenv: Env) -> None:
    e = tenv
    year = (await e.env.get_current_time()).year + 1
    nip = "199602102022031001"
    boss = actor(BY_NIP[nip].atasan_nip)  # type: ignore[arg-type]
    policy = EvaluationPolicy(predecessor_fallback=True, checkin_period="QUARTERLY")
    case_id, handle = await start(e, nip, year, policy)
    other = staff_of("INSPEKTORAT")[-1]
    plain_id, plain = await start(e, other, year)  # the default policy: no fallback, the task just goes overdue
    draft = await task_of(e.store, case_id, "SKP_DRAFT")
    deadline = skp_deadline(year, policy)
    assert datetime.fromisoformat(draft["due_at"]) <= deadline  # due by the end of January, in working days
    now = await e.env.get_current_time()
    await e.env.sleep(deadline - now + timedelta(hours=2))

    replacement = await task_of(e.store, case_id, "SKP_DRAFT")
    assert replacement["assignee_nip"] == boss.nip and replacement["task_id"] != draft["task_id"]
    assert [p for p in payloads(e.store, case_id, "TaskCancelled") if p["task_id"] == draft["task_id"]]
    assert payloads(e.store, case_id, "SkpDraftOverdue")[0]["fallback"] is True
    assert (await task_of(e.store, plain_id, "SKP_DRAFT"))["assignee_nip"] == other  # still the employee's, overdue
    assert not payloads(e.store, plain_id, "SkpDraftOverdue")

    await decide(e, case_id, "SKP_DRAFT", boss, "SUBMITTED", {**SKP, **AGREE})
    for _ in range(100):
        if "SkpAgreed" in types(e.store, case_id):
            break
        await asyncio.sleep(0.05)
    drafted = payloads(e.store, case_id, "SkpDrafted")[0]
    assert drafted["predecessor_rule"] is True and payloads(e.store, case_id, "SkpAgreed")[0]["agreed_by"] == boss.nip
    await asyncio.sleep(0.5)
    assert not [t for t in open_tasks(e.store, case_id).values() if t["kind"] == "CHECK_IN"]  # the first quarter is not over yet
    now = await e.env.get_current_time()
    await e.env.sleep(datetime(year, 4, 1, 1, tzinfo=deadline.tzinfo) - now)
    checkin = await task_of(e.store, case_id, "CHECK_IN")
    assert checkin["assignee_nip"] == boss.nip and "TW1" in checkin["title"]
    for h in (handle, plain):
        await h.terminate("test over")



async def test_a_late_objection_over_http_is_refused_with_the_reason(tenv: Env) -> None:
    import threading

    from asnflow.projections.runner import run_projector
    from tests.support import api_client

    e = tenv
    nip = head_of("BPBD")
    case_id, handle = await to_rating(e, nip, 2023, {"hasil_kerja": S, "perilaku_kerja": S})
    await task_of(e.store, case_id, "ACKNOWLEDGEMENT")
    await e.env.sleep(timedelta(days=15))
    assert (await handle.result()).status == "completed"
    stop = threading.Event()
    projector = threading.Thread(target=run_projector, args=(e.settings.store_env(), ["evaluation"], stop), daemon=True)
    projector.start()
    try:
        last = read_case(e.store, case_id)[-1].position
        async with api_client(e.settings) as api:
            r = await api.post(f"/api/v1/evaluations/{case_id}/objection?min_position={last}", nip, json={"reason": "Nilai tidak sesuai bukti"})
            for _ in range(100):  # the view catches up with the closed window
                if r.status_code == 422:
                    break
                await asyncio.sleep(0.1)
                r = await api.post(f"/api/v1/evaluations/{case_id}/objection", nip, json={"reason": "Nilai tidak sesuai bukti"})
            assert r.status_code == 422, r.text
            assert "batas waktu" in r.json()["message_id"] and "deadline" in r.json()["message_en"]
            r = await api.post(f"/api/v1/evaluations/{case_id}/objection", head_of("DPUTR"), json={"reason": "bukan perkara saya"})
            assert r.status_code == 403
    finally:
        stop.set()
        projector.join(timeout=10)


async def test_a_unit_heads_work_results_are_the_units_organisation_predicate(tenv: Env) -> None:
    """SE MenPANRB 3/2023 step 3: the head's rating waits for the unit's predicate and cannot depart from it."""
    e = tenv
    unit, year = "INSPEKTORAT", 2022
    head = head_of(unit)
    leader = actor(BY_NIP[head].atasan_nip)  # type: ignore[arg-type]
    case_id, handle = await start(e, head, year)
    await decide(e, case_id, "SKP_DRAFT", actor(head), "SUBMITTED", SKP)
    await decide(e, case_id, "SKP_AGREEMENT", leader, "AGREED", AGREE)
    await decide(e, case_id, "CHECK_IN", leader, "RECORDED", CHECKIN)
    calibration = f"calibration-{year}-{unit}"
    org = await task_of(e.store, calibration, "ORG_PREDICATE")  # the head's case asked the unit's calibration
    assert org["assignee_nip"] == leader.nip
    assert "RATING" not in {t["kind"] for t in open_tasks(e.store, case_id).values()}  # no rating before the unit's result
    await decide(e, calibration, "ORG_PREDICATE", leader, "SET", {"predicate": "BAIK"})
    rating = await task_of(e.store, case_id, "RATING")
    assert S in rating["title"]
    cause = await refused(
        handle, CaseWorkflow.decide,
        DecisionInput(task_id=rating["task_id"], actor=leader, outcome="SUBMITTED", data={"hasil_kerja": A, "perilaku_kerja": A}), "Invalid",
    )
    assert cause.details[0]["field"] == "hasil_kerja" and "predikat organisasi" in cause.details[0]["id"]
    await decide(e, case_id, "RATING", leader, "SUBMITTED", {"perilaku_kerja": A})
    await decide(e, case_id, "ACKNOWLEDGEMENT", actor(head), "ACKNOWLEDGED")
    result = await handle.result()
    assert result.outcome["predicate"] == "BAIK"  # as expected x above expectation
    assert payloads(e.store, case_id, "UnitResultApplied") == [
        {"unit": unit, "org_predicate": "BAIK", "hasil_kerja": S, "rules": "SE-MenPANRB-3/2023"}
    ]
    assert payloads(e.store, case_id, "RatingSubmitted")[0]["hasil_kerja"] == S
    closed = await e.client.get_workflow_handle_for(EvaluationCalibrationWorkflow.run, calibration).result()
    assert closed.outcome["calibrated"] == 0  # the unit had nobody else to calibrate
    assert payloads(e.store, calibration, "UnitHeadsInformed") == [{"org_predicate": "BAIK", "case_ids": [case_id]}]
    await save_history(handle, "evaluation-unit-head")
    await save_history(e.client.get_workflow_handle(calibration), "evaluationcalibration-head-only")
    assert_chain(e.store, case_id)
    assert_chain(e.store, calibration)


async def test_a_lapsed_calibration_reminds_the_unit_head_then_passes_to_the_leader(tenv: Env) -> None:
    """Deadline policy 2026.2: calibration is an approval like any other; a head who lets it lapse loses it upward."""
    e = tenv
    unit, year = "KEC-MERSAM", 2021
    head = head_of(unit)
    leader = BY_NIP[head].atasan_nip
    member = next(n for n in staff_of(unit) if BY_NIP[n].atasan_nip == head)
    case_id, _ = await to_rating(e, member, year, {"hasil_kerja": S, "perilaku_kerja": S})
    calibration = await calibration_of(e, case_id)
    await decide(e, calibration, "ORG_PREDICATE", actor(leader), "SET", {"predicate": "ISTIMEWA"})  # type: ignore[arg-type]
    task = await task_of(e.store, calibration, "CALIBRATION")
    assert task["assignee_nip"] == head and task["deadlines"]["policy"] == "batanghari-deadlines-2026.2"
    steps = [s["step"] for s in task["deadlines"]["steps"]]
    assert steps[:2] == ["R2", "R0"] and "E1" in steps
    e1 = next(datetime.fromisoformat(s["at"]) for s in task["deadlines"]["steps"] if s["step"] == "E1")
    await e.env.sleep(e1 - await e.env.get_current_time() + timedelta(minutes=5))
    for _ in range(400):
        escalated = payloads(e.store, calibration, "TaskEscalated")
        if escalated:
            break
        await asyncio.sleep(0.05)
    assert [r["step"] for r in payloads(e.store, calibration, "TaskReminded")] == ["R2", "R0"]
    assert escalated[0]["from_nip"] == head and escalated[0]["to_nip"] == leader and escalated[0]["mode"] == "reassign"
    task = await task_of(e.store, calibration, "CALIBRATION")
    await refused(
        e.client.get_workflow_handle(calibration), CaseWorkflow.decide,
        DecisionInput(task_id=task["task_id"], actor=actor(head), outcome="CALIBRATED", data={"adjustments": []}), "Forbidden",
    )  # it is the leader's now
    await decide(e, calibration, "CALIBRATION", actor(leader), "CALIBRATED", {"adjustments": []})  # type: ignore[arg-type]
    assert payloads(e.store, calibration, "UnitCalibrated")[0]["final"] == {member: "BAIK"}


async def test_a_case_told_its_round_closed_joins_the_next_round_even_while_that_one_finishes(tenv: Env) -> None:
    """A round that answered "closed" is never signalled again: still finishing, it would take the join unanswered."""
    e = tenv
    unit, year = "KEC-PEMAYUNG", 2020
    head = head_of(unit)
    member = next(n for n in staff_of(unit) if BY_NIP[n].atasan_nip == head)
    case_id, handle = await to_rating(e, member, year, {"hasil_kerja": S, "perilaku_kerja": S})
    first = await calibration_of(e, case_id)
    assert first == calibration_case_id(unit, year, 1)
    # What round 1 sends a member whose join arrived as it closed; here round 1 is still running, as it is
    # for a moment after it sends that answer.
    await handle.signal(CALIBRATION_CLOSED_SIGNAL, first)
    for _ in range(400):
        joined = [p["calibration_case_id"] for p in payloads(e.store, case_id, "CalibrationJoined")]
        if len(joined) == 2:
            break
        await asyncio.sleep(0.05)
    assert joined == [first, calibration_case_id(unit, year, 2)], joined
    second = joined[1]
    await decide(e, second, "ORG_PREDICATE", actor(BY_NIP[head].atasan_nip), "SET", {"predicate": "ISTIMEWA"})  # type: ignore[arg-type]
    await decide(e, second, "CALIBRATION", actor(head), "CALIBRATED", {"adjustments": []})
    for _ in range(400):
        calibrated = payloads(e.store, case_id, "PredicateCalibrated")
        if calibrated:
            break
        await asyncio.sleep(0.05)
    assert calibrated and calibrated[0]["calibration_case_id"] == second, calibrated
