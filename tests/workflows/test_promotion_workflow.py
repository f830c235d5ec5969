"""The promotion chain, batches and rotation on the time-skipping server, with the real store on PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.directory import employee_case_id, import_employees
from asnflow.activities.eventstore import EventStore, read_case
from asnflow.domain import promotion as pr
from asnflow.domain.events import GENESIS_HASH, hash_of
from asnflow.domain.nip import make_nip
from asnflow.projections.runner import rebuild
from asnflow.runtime.demo_org import BKPSDM_STAFF_1_NIP, BKPSDM_STAFF_2_NIP, BUPATI_NIP, KABID_APTIKA_NIP, KEPALA_DISKOMINFO_NIP, SEKDA_NIP
from asnflow.runtime.settings import Settings
from asnflow.runtime.worker import build_worker
from asnflow.workflows.contracts import SYSTEM, Actor, DecisionInput
from asnflow.workflows.human_tasks import CaseWorkflow
from asnflow.workflows.promotion import PromotionBatchWorkflow, PromotionRotationWorkflow, PromotionWorkflow
from asnflow.workflows.promotion_contracts import BatchInput, StartPromotionInput, StartRotationInput, promotion_case_id, rotation_case_id
from tests.support import make_settings, prepare_database

OPD_HEAD = Actor(nip=KEPALA_DISKOMINFO_NIP, roles=["PEGAWAI", "ATASAN", "KEPALA_OPD"], unit="DISKOMINFO", name="Ahmad Zulkifli")
HR1 = Actor(nip=BKPSDM_STAFF_1_NIP, roles=["PEGAWAI", "BKPSDM"], unit="BKPSDMD", name="Siti Rahmawati")
HR2 = Actor(nip=BKPSDM_STAFF_2_NIP, roles=["PEGAWAI", "BKPSDM"], unit="BKPSDMD", name="Rizky Pratama")
BUPATI = Actor(nip=BUPATI_NIP, roles=["BUPATI"], unit=None, name="H. Syahrial Hakim, S.H., M.H.")
SEKDA = Actor(nip=SEKDA_NIP, roles=["PEGAWAI", "KEPALA_OPD", "TIM_PENILAI", "SEKDA"], unit="SETDA", name="Hasanuddin")
SHA = hashlib.sha256(b"scan").hexdigest()


HISTORIES = Path(__file__).parent / "histories"


async def save_history(handle: WorkflowHandle, name: str) -> None:
    """Refresh a replay fixture when asked to (ASNFLOW_RECORD_HISTORIES=1) after a workflow change."""
    if os.environ.get("ASNFLOW_RECORD_HISTORIES") == "1":
        (HISTORIES / f"{name}.json").write_text((await handle.fetch_history()).to_json())


TODAY: list[date] = []


def today_wib() -> date:
    """The test server's date in Jakarta (other modules' tests may have skipped its clock ahead)."""
    return TODAY[0]


def next_period() -> date:
    return pr.open_periods(today_wib())[0]


def years_before(day: date, years: int) -> date:
    return day.replace(year=day.year - years)


def register_employee(store: EventStore, **overrides: Any) -> str:
    """A fictional PELAKSANA II/c under the Kepala Bidang Aplikasi Informatika, eligible for the next period by default."""
    rng = random.Random(uuid.uuid4().int)
    birth = date(1985, 1, 1) + timedelta(days=rng.randrange(3000))
    nip = make_nip(birth, date(2012, 3, 1), rng.choice("LP"), rng.randrange(1, 999))
    record = {
        "nip": nip, "nama": f"Pegawai Uji {nip[-4:]}", "jenis_kelamin": "L" if nip[14] == "1" else "P", "tanggal_lahir": birth.isoformat(),
        "golongan": "II/c", "jabatan": "Pengelola Data", "jenis_jabatan": "PELAKSANA", "unit": "DISKOMINFO",
        "atasan_nip": KABID_APTIKA_NIP, "pendidikan": "D-III", "tmt_jabatan": "2018-01-02", "roles": ["PEGAWAI"],
    }
    record.update(overrides)
    if "tmt_golongan" not in record:
        record["tmt_golongan"] = years_before(next_period(), 4).isoformat()
    import_employees(store, [record], SYSTEM, source="test")
    return nip


def declared(period: date) -> dict[str, Any]:
    return {"predicates": {str(period.year - 1): "BAIK", str(period.year - 2): "BAIK"}}


def documents(kind: str = "REGULER", lama: str = "II/c", baru: str = "II/d") -> dict[str, Any]:
    return {"documents": [{"code": c, "sha256": SHA, "name": f"{c}.pdf"} for c in pr.required_documents(kind, lama, baru)]}


@pytest.fixture(scope="module")
async def promo_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory, time_skipping_env: WorkflowEnvironment) -> Settings:
    TODAY[:] = [(await time_skipping_env.get_current_time() + pr.WIB_OFFSET).date()]
    settings = make_settings(database_url, tmp_path_factory.mktemp("promo"))
    await asyncio.to_thread(prepare_database, settings)
    # A freeze covering today, so the rotation case needs the Home Minister's approval.
    config = {"freezes": [{"label": "Uji larangan", "starts": (today_wib() - timedelta(days=10)).isoformat(), "ends": (today_wib() + timedelta(days=60)).isoformat()}]}
    (settings.data_dir / "config").mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "config" / "promotion.json").write_text(json.dumps(config))
    return settings


@pytest.fixture(scope="module")
async def people(promo_settings: Settings) -> dict[str, str]:
    """Fictional employees for each test, registered once and projected into the employees view."""
    store = EventStore(env=promo_settings.store_env())
    try:
        made = {
            "chain": register_employee(store),
            "rejected": register_employee(store),
            "late": register_employee(store, tmt_golongan=(years_before(next_period(), 4) + timedelta(days=1)).isoformat()),
            "batch_ok": register_employee(store),
            "batch_late": register_employee(store, tmt_golongan=(years_before(next_period(), 4) + timedelta(days=1)).isoformat()),
            "rotation": register_employee(store, tmt_jabatan=years_before(today_wib(), 2).isoformat()),
            "rotation_early": register_employee(store, tmt_jabatan=(years_before(today_wib(), 2) + timedelta(days=1)).isoformat()),
        }
    finally:
        store.close()
    await asyncio.to_thread(rebuild, promo_settings.store_env(), "employees")
    return made


@pytest.fixture
async def running(time_skipping_env: WorkflowEnvironment, promo_settings: Settings) -> AsyncIterator[tuple[Client, Settings, EventStore]]:
    settings = promo_settings.model_copy(update={"task_queue": f"tq-{uuid.uuid4()}"})
    store = EventStore(env=settings.store_env())
    with ThreadPoolExecutor(8) as executor:
        async with build_worker(time_skipping_env.client, settings, store, executor):
            # No timers wait in these cases; auto-skipping would only jump the clock past the period under test.
            with time_skipping_env.auto_time_skipping_disabled():
                yield time_skipping_env.client, settings, store
    store.close()


async def opened(store: EventStore, case_id: str, n: int) -> str:
    task_id = f"{case_id}.t{n}"
    for _ in range(300):
        events = await asyncio.to_thread(read_case, store, case_id)
        if any(type(s.event).__name__ == "TaskOpened" and s.event.payload["task_id"] == task_id for s in events):
            return task_id
        await asyncio.sleep(0.05)
    raise AssertionError(f"{task_id} never opened: {await describe(store, case_id)}")


async def decide(handle: WorkflowHandle, task_id: str, actor: Actor, outcome: str, data: dict | None = None, reason: str = "") -> None:
    await handle.execute_update(CaseWorkflow.decide, DecisionInput(task_id=task_id, actor=actor, outcome=outcome, reason=reason, data=data or {}))


async def refused(handle: WorkflowHandle, task_id: str, actor: Actor, outcome: str, kind: str, data: dict | None = None, reason: str = "x") -> dict:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await decide(handle, task_id, actor, outcome, data, reason)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == kind, cause
    return cause.details[0] if cause.details else {}


async def start(client: Client, settings: Settings, nip: str, proposer: Actor = OPD_HEAD) -> tuple[str, WorkflowHandle]:
    period = next_period()
    case_id = promotion_case_id(nip, period.isoformat())
    handle = await client.start_workflow(
        PromotionWorkflow.run,
        StartPromotionInput(case_id=case_id, nip=nip, kind="REGULER", period=period.isoformat(), proposed_by=proposer, declared=declared(period)),
        id=case_id, task_queue=settings.task_queue,
    )
    return case_id, handle


def types(store: EventStore, case_id: str) -> list[str]:
    return [type(s.event).__name__ for s in read_case(store, case_id)]


async def test_full_chain_with_a_return_for_revision_ends_in_a_decree_and_a_new_rank(running: tuple, people: dict[str, str]) -> None:
    client, settings, store = running
    nip = people["chain"]
    case_id, handle = await start(client, settings, nip)

    t1 = await opened(store, case_id, 1)
    before = len(read_case(store, case_id))
    problem = await refused(handle, t1, Actor(nip=OPD_HEAD.nip, roles=["BKPSDM"], unit="BKPSDMD"), "VERIFIED", "Forbidden", documents())
    assert problem["rule"] == "PEMISAHAN_TUGAS"  # the proposer may not verify
    short = {"documents": documents()["documents"][:-1]}
    assert (await refused(handle, t1, HR1, "VERIFIED", "Invalid", short))["field"] == "documents"
    await refused(handle, t1, HR1, "RETURNED", "Invalid", reason="")  # a return needs its reason
    await refused(handle, t1, OPD_HEAD, "VERIFIED", "Forbidden", documents())  # not BKPSDM
    assert len(read_case(store, case_id)) == before  # no refusal recorded anything

    await decide(handle, t1, HR1, "RETURNED", reason="SKP 2024 belum dilampirkan")
    t2 = await opened(store, case_id, 2)
    await refused(handle, t2, HR1, "RESUBMITTED", "Forbidden")  # the revision is the proposer's
    bad = {"declared": {"predicates": {str(next_period().year - 1): "KURANG"}}}
    assert (await refused(handle, t2, OPD_HEAD, "RESUBMITTED", "Invalid", bad))["rule"] == "PREDIKAT_KINERJA"
    await decide(handle, t2, OPD_HEAD, "RESUBMITTED", {"declared": declared(next_period())}, "SKP dilampirkan")
    t3 = await opened(store, case_id, 3)
    await decide(handle, t3, HR1, "VERIFIED", documents(), "Berkas lengkap")
    t4 = await opened(store, case_id, 4)
    pertek_day = today_wib().isoformat()
    await refused(handle, t4, HR2, "APPROVED", "Invalid", {"nomor": "", "tanggal": "kemarin"})
    await decide(handle, t4, HR2, "APPROVED", {"nomor": "PT-0042/KR-VII/2026", "tanggal": pertek_day})
    t5 = await opened(store, case_id, 5)
    verifier_as_ppk = Actor(nip=HR1.nip, roles=["BKPSDM", "BUPATI"], unit="BKPSDMD")
    assert (await refused(handle, t5, verifier_as_ppk, "DECREED", "Forbidden", {"sk_nomor": "1", "sk_tanggal": pertek_day}))["rule"] == "PEMISAHAN_TUGAS"
    early = (date.fromisoformat(pertek_day) - timedelta(days=1)).isoformat()
    await refused(handle, t5, BUPATI, "DECREED", "Invalid", {"sk_nomor": "800/77/BKPSDMD", "sk_tanggal": early})
    await decide(handle, t5, BUPATI, "DECREED", {"sk_nomor": "800/77/BKPSDMD/2026", "sk_tanggal": pertek_day})

    result = await handle.result()
    assert result.status == "completed" and result.outcome["golongan_baru"] == "II/d"
    await save_history(handle, "promotion-full-chain")
    events = read_case(store, case_id)
    assert [type(s.event).__name__ for s in events if not type(s.event).__name__.startswith("Task")] == [
        "CaseOpened", "PromotionProposed", "PromotionReturned", "PromotionResubmitted", "PromotionDossierVerified",
        "PromotionPertekReceived", "PromotionDecreed", "PromotionApplied", "CaseClosed",
    ]
    previous = GENESIS_HASH
    for stored in events:
        assert stored.event.previous_hash == previous and hash_of(stored.event) == stored.event.hash
        previous = stored.event.hash
    decided = {s.event.payload["kind"]: s.event.actor["nip"] for s in events if type(s.event).__name__ == "TaskDecided"}
    assert decided == {"PROMOTION_VERIFICATION": HR1.nip, "PROMOTION_REVISION": OPD_HEAD.nip, "PROMOTION_BKN_PERTEK": HR2.nip, "PROMOTION_DECREE": BUPATI.nip}
    decreed = next(s.event for s in events if type(s.event).__name__ == "PromotionDecreed")
    pdf = (settings.data_dir / decreed.payload["document"]["path"]).read_bytes()
    assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == decreed.payload["document"]["sha256"] == result.outcome["sk_sha256"]
    directory = read_case(store, employee_case_id(nip))
    last = directory[-1].event
    assert type(last).__name__ == "EmployeeUpdated" and last.payload["source_case"] == case_id
    assert last.payload["changes"] == {"golongan": "II/d", "tmt_golongan": next_period().isoformat()}
    assert last.payload["record"]["golongan"] == "II/d" and last.previous_hash == directory[-2].event.hash
    applied = next(s.event for s in events if type(s.event).__name__ == "PromotionApplied")
    assert applied.payload["directory_position"] == directory[-1].position


async def test_rejection_and_refusals_that_record_nothing(running: tuple, people: dict[str, str]) -> None:
    client, settings, store = running
    case_id, handle = await start(client, settings, people["rejected"])
    t1 = await opened(store, case_id, 1)
    await decide(handle, t1, HR2, "REJECTED", reason="Berkas palsu")
    result = await handle.result()
    assert result.status == "rejected" and result.outcome["level"] == "VERIFICATION"
    await save_history(handle, "promotion-rejected")
    assert types(store, case_id)[-2:] == ["PromotionRejected", "CaseClosed"]

    # A day short of four years in rank: the start fails naming the rule, and the store stays empty.
    late_case, late = await start(client, settings, people["late"])
    with pytest.raises(WorkflowFailureError) as info:
        await late.result()
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "Refused"
    assert [d["rule"] for d in cause.details] == ["MASA_GOLONGAN"] and "PP 99/2000" in cause.details[0]["regulation"]
    assert read_case(store, late_case) == []
    # Nobody proposes their own promotion.
    own = Actor(nip=people["batch_ok"], roles=["KEPALA_OPD"], unit="DISKOMINFO")
    own_case, own_handle = await start(client, settings, people["batch_ok"], own)
    with pytest.raises(WorkflowFailureError) as info:
        await own_handle.result()
    assert info.value.cause.details[0]["rule"] == "PEMISAHAN_TUGAS"  # type: ignore[union-attr]
    assert read_case(store, own_case) == []


async def test_batch_lists_everyone_and_proposes_those_eligible(running: tuple, people: dict[str, str]) -> None:
    client, settings, store = running
    period = next_period().isoformat()
    case_id = f"promotion-batch-{period[:7]}-{uuid.uuid4().hex[:8]}"
    nips = [people["batch_ok"], people["batch_late"]]
    result = await client.execute_workflow(
        PromotionBatchWorkflow.run,
        BatchInput(case_id=case_id, period=period, started_by=HR1, nips=nips, declared={n: declared(next_period()) for n in nips}),
        id=case_id, task_queue=settings.task_queue,
    )
    assert result.outcome == {"listed": 2, "started": 1, "skipped": 0}
    listed = next(s.event for s in read_case(store, case_id) if type(s.event).__name__ == "PromotionBatchListed")
    by_nip = {e["nip"]: e for e in listed.payload["entries"]}
    assert by_nip[people["batch_ok"]]["eligible"] and by_nip[people["batch_late"]]["failures"] == ["MASA_GOLONGAN"]
    child = promotion_case_id(people["batch_ok"], period)
    await opened(store, child, 1)
    proposed = next(s.event for s in read_case(store, child) if type(s.event).__name__ == "PromotionProposed")
    assert proposed.payload["batch_id"] == case_id and proposed.actor["nip"] == HR1.nip
    # The batch proposer (BKPSDM) may not also verify: a colleague must.
    handle = client.get_workflow_handle_for(PromotionWorkflow.run, child)
    assert (await refused(handle, f"{child}.t1", HR1, "VERIFIED", "Forbidden", documents()))["rule"] == "PEMISAHAN_TUGAS"
    await save_history(client.get_workflow_handle(case_id), "promotionbatch-two-listed")
    await decide(handle, f"{child}.t1", HR2, "REJECTED", reason="uji")
    assert (await handle.result()).status == "rejected"


async def test_rotation_inside_a_freeze_needs_the_home_ministers_approval(running: tuple, people: dict[str, str]) -> None:
    client, settings, store = running
    nip = people["rotation"]
    on = today_wib().isoformat()

    early_id = rotation_case_id(people["rotation_early"], on)
    early = await client.start_workflow(
        PromotionRotationWorkflow.run,
        StartRotationInput(case_id=early_id, nip=people["rotation_early"], jabatan_baru="Pengelola Data", jenis_jabatan_baru="PELAKSANA",
                           unit_baru="BKPSDMD", proposed_by=HR1),
        id=early_id, task_queue=settings.task_queue,
    )
    with pytest.raises(WorkflowFailureError) as info:
        await early.result()
    assert info.value.cause.details[0]["rule"] == "MASA_MUTASI_MINIMAL" and read_case(store, early_id) == []  # type: ignore[union-attr]

    case_id = rotation_case_id(nip, on)
    handle = await client.start_workflow(
        PromotionRotationWorkflow.run,
        StartRotationInput(case_id=case_id, nip=nip, jabatan_baru="Pengelola Data", jenis_jabatan_baru="PELAKSANA", unit_baru="BKPSDMD",
                           proposed_by=HR1, atasan_nip_baru=None),
        id=case_id, task_queue=settings.task_queue,
    )
    t1 = await opened(store, case_id, 1)
    assert (await refused(handle, t1, SEKDA, "RECOMMENDED", "Forbidden", {"conflict_of_interest": True}))["rule"] == "KONFLIK_KEPENTINGAN"
    await decide(handle, t1, SEKDA, "RECOMMENDED", {"conflict_of_interest": False}, "Sesuai pola karier")
    t2 = await opened(store, case_id, 2)
    task_kinds = [s.event.payload["kind"] for s in read_case(store, case_id) if type(s.event).__name__ == "TaskOpened"]
    assert task_kinds == ["ROTATION_ADVICE", "ROTATION_MENDAGRI_APPROVAL"]
    await decide(handle, t2, HR2, "APPROVED", {"nomor": "100.2.2.6/1234/OTDA", "tanggal": on})
    t3 = await opened(store, case_id, 3)
    await refused(handle, t3, Actor(nip=SEKDA.nip, roles=["BUPATI"]), "DECREED", "Forbidden", {"sk_nomor": "1", "sk_tanggal": on})  # the adviser
    await decide(handle, t3, BUPATI, "DECREED", {"sk_nomor": "821.2/15/BKPSDMD/2026", "sk_tanggal": on})
    result = await handle.result()
    assert result.status == "completed" and result.outcome["unit"] == "BKPSDMD"
    await save_history(handle, "promotionrotation-freeze-approved")
    assert [t for t in types(store, case_id) if t.startswith("Rotation")] == [
        "RotationProposed", "RotationAdvised", "RotationFreezeApproved", "RotationDecreed", "RotationApplied",
    ]
    last = read_case(store, employee_case_id(nip))[-1].event
    assert last.payload["changes"]["unit"] == "BKPSDMD" and last.payload["record"]["tmt_jabatan"] == on


async def describe(store: EventStore, case_id: str) -> list[str]:
    return [type(s.event).__name__ for s in await asyncio.to_thread(read_case, store, case_id)]
