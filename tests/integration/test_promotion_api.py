"""Promotions over the real stack: dev server, worker, projector, PostgreSQL and the API, in this process."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import max_position
from asnflow.api.auth import ensure_dev_keys, mint_token
from asnflow.domain import promotion as pr
from asnflow.runtime.demo_org import (
    BKPSDM_STAFF_1_NIP,
    BKPSDM_STAFF_2_NIP,
    BUPATI_NIP,
    KABID_APTIKA_NIP,
    KEPALA_BKPSDMD_NIP,
    KEPALA_DISKOMINFO_NIP,
)
from tests.support import Stack, api_stack, pdf_bytes, upload
from tests.workflows.test_promotion_workflow import register_employee

OPD_HEAD, HR1, HR2, BUPATI = KEPALA_DISKOMINFO_NIP, BKPSDM_STAFF_1_NIP, BKPSDM_STAFF_2_NIP, BUPATI_NIP
TODAY = (datetime.now(UTC) + pr.WIB_OFFSET).date()
PERIOD = pr.open_periods(TODAY)[0]


@pytest.fixture(scope="module")
async def stack(dev_server_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with api_stack(dev_server_env.client, tmp_path_factory.mktemp("promo-api"), "asnflow_promo", None) as s:
        yield s


SHA = ""  # the dossier file the OPD head uploads to the document store (set by the fixture below)


@pytest.fixture(scope="module", autouse=True)
async def dossier_file(stack: Stack) -> None:
    """A verified dossier names only stored files: the proposer uploads one first."""
    global SHA
    r = await upload(stack.api, OPD_HEAD, pdf_bytes("berkas usul kenaikan pangkat"), "berkas-usul.pdf", "promotion_document")
    assert r.status_code == 201, r.text
    SHA = r.json()["sha256"]


def tmt_for(period: date, years: int = 4, late_days: int = 0) -> str:
    return (period.replace(year=period.year - years) + timedelta(days=late_days)).isoformat()


def declared() -> dict[str, Any]:
    return {"predicates": {str(PERIOD.year - 1): "BAIK", str(PERIOD.year - 2): "BAIK"}}


async def employee(stack: Stack, **overrides: Any) -> str:
    """A fictional employee, registered through the directory and visible in the employees view."""
    nip = await asyncio.to_thread(lambda: register_employee(stack.store, **{"tmt_golongan": tmt_for(PERIOD), **overrides}))
    for _ in range(200):
        if (await stack.api.get(f"/api/v1/employees/{nip}", HR1)).status_code == 200:
            return nip
        await asyncio.sleep(0.05)
    raise AssertionError(f"{nip} never reached the employees view")


async def task_of(stack: Stack, nip: str, case_id: str, kind: str) -> dict:
    for _ in range(300):
        r = await stack.api.get("/api/v1/tasks", nip, params={"case_id": case_id})
        assert r.status_code == 200, r.text
        found = [t for t in r.json()["data"] if t["kind"] == kind and t["status"] in ("open", "claimed")]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no open {kind} task for {nip} in {case_id}")


async def case_status(stack: Stack, case_id: str, want: str) -> dict:
    for _ in range(300):
        r = await stack.api.get(f"/api/v1/cases/{case_id}", HR1)
        if r.status_code == 200 and r.json()["status"] == want:
            return r.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{case_id} never became {want}")


async def decide(stack: Stack, nip: str, task: dict, outcome: str, data: dict | None = None, reason: str = "") -> dict:
    r = await stack.api.post(f"/api/v1/tasks/{task['id']}/decision", nip, json={"outcome": outcome, "reason": reason, "data": data or {}})
    assert r.status_code == 200, r.text
    return r.json()


def as_subject(stack: Stack, nip: str) -> dict[str, str]:
    """A token for a fictional employee (not a demo user): PEGAWAI of Diskominfo."""
    s = stack.settings
    ensure_dev_keys(s.dev_private_key_path, s.dev_public_key_path)
    token = mint_token(s.dev_private_key_path, nip=nip, name="Pegawai Uji", roles=["PEGAWAI"], unit="DISKOMINFO", issuer=s.jwt_issuer, audience=s.jwt_audience)
    return {"Authorization": f"Bearer {token}"}


def docs(lama: str = "II/c", baru: str = "II/d") -> dict[str, Any]:
    return {"documents": [{"code": c, "sha256": SHA} for c in pr.required_documents("REGULER", lama, baru)]}


async def test_refusals_name_the_rule_and_record_nothing(stack: Stack) -> None:
    late = await employee(stack, tmt_golongan=tmt_for(PERIOD, late_days=1))
    ok = await employee(stack)
    before = max_position(stack.store)
    body = {"nip": late, "kind": "REGULER", "period": PERIOD.isoformat(), "declared": declared()}
    r = await stack.api.post("/api/v1/promotions", OPD_HEAD, json=body)
    assert r.status_code == 422, r.text
    problem = r.json()["problems"][0]
    assert problem["rule"] == "MASA_GOLONGAN" and "PP 99/2000" in problem["regulation"] and "MASA_GOLONGAN" in r.json()["message_id"]
    r = await stack.api.post("/api/v1/promotions", OPD_HEAD, json={**body, "nip": ok, "declared": {}})
    assert r.status_code == 422 and {p["rule"] for p in r.json()["problems"]} == {"PREDIKAT_KINERJA"}
    closed = TODAY.replace(day=1)  # this month's period: its window closed the day before it began
    r = await stack.api.post("/api/v1/promotions", OPD_HEAD, json={**body, "nip": ok, "period": closed.isoformat()})
    assert r.status_code == 422 and r.json()["problems"][0]["rule"] == "PERIODE_TERTUTUP"
    r = await stack.api.post("/api/v1/promotions", OPD_HEAD, json={**body, "nip": ok, "period": PERIOD.replace(day=15).isoformat()})
    assert r.status_code == 422 and r.json()["problems"][0]["rule"] == "PERIODE"
    r = await stack.api.post("/api/v1/promotions", KABID_APTIKA_NIP, json={**body, "nip": ok})  # not an OPD head
    assert r.status_code == 403 and r.json()["message_en"]
    r = await stack.api.post("/api/v1/promotions", KEPALA_BKPSDMD_NIP, json={**body, "nip": KEPALA_BKPSDMD_NIP})
    assert r.status_code == 403 and r.json()["problems"][0]["rule"] == "PEMISAHAN_TUGAS"
    assert max_position(stack.store) == before  # nothing recorded by any refusal

    r = await stack.api.get("/api/v1/promotions/eligibility", HR1, params={"period": PERIOD.isoformat(), "unit": "DISKOMINFO"})
    assert r.status_code == 200
    rows = {e["nip"]: e for e in r.json()["data"]}
    assert [f["rule"] for f in rows[late]["failures"]] == ["MASA_GOLONGAN", "PREDIKAT_KINERJA", "PREDIKAT_KINERJA"]
    assert rows[late]["eligible_from"] == tmt_for(PERIOD, 0, 1)
    r = await stack.api.get("/api/v1/promotions/periods", HR1, params={"year": 2023})
    assert [p["date"] for p in r.json()["periods"]] == ["2023-04-01", "2023-10-01"] and PERIOD.isoformat() in r.json()["open"]


async def test_chain_with_return_rejection_and_decree_through_the_api(stack: Stack) -> None:
    nip = await employee(stack)
    r = await stack.api.post("/api/v1/promotions", OPD_HEAD, json={"nip": nip, "kind": "REGULER", "period": PERIOD.isoformat(), "declared": declared()})
    assert r.status_code == 202, r.text
    case_id = r.json()["id"]
    again = await stack.api.post("/api/v1/promotions", HR1, json={"nip": nip, "kind": "REGULER", "period": PERIOD.isoformat(), "declared": declared()})
    assert again.status_code == 409

    verify = await task_of(stack, HR1, case_id, "PROMOTION_VERIFICATION")
    assert verify["candidate_role"] == "BKPSDM" and verify["due_at"]
    r = await stack.api.post(f"/api/v1/tasks/{verify['id']}/decision", HR1, json={"outcome": "VERIFIED", "data": {"documents": docs()["documents"][:2]}})
    assert r.status_code == 422 and r.json()["problems"][0]["missing"]
    await decide(stack, HR1, verify, "RETURNED", reason="Ijazah belum dilegalisir")
    revision = await task_of(stack, OPD_HEAD, case_id, "PROMOTION_REVISION")
    await decide(stack, OPD_HEAD, revision, "RESUBMITTED", reason="Ijazah legalisir dilampirkan")
    verify = await task_of(stack, HR1, case_id, "PROMOTION_VERIFICATION")
    unknown = {"documents": [{**d, "sha256": "ef" * 32} for d in docs()["documents"]]}
    r = await stack.api.post(f"/api/v1/tasks/{verify['id']}/decision", HR1, json={"outcome": "VERIFIED", "data": unknown, "reason": "Lengkap"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "documents.0.sha256", r.text  # never uploaded
    await decide(stack, HR1, verify, "VERIFIED", docs(), "Lengkap")
    await task_of(stack, HR2, case_id, "PROMOTION_BKN_PERTEK")
    # The dossier file: for the proposer, BKPSDM and the employee; not for a colleague.
    assert (await stack.api.get(f"/api/v1/documents/{SHA}", HR1)).content == pdf_bytes("berkas usul kenaikan pangkat")
    assert (await stack.api.http.get(f"/api/v1/documents/{SHA}", headers=as_subject(stack, nip))).status_code == 200
    assert (await stack.api.get(f"/api/v1/documents/{SHA}", KABID_APTIKA_NIP)).status_code == 403

    # BKN's approvals arrive as a file: the matching case continues, an unknown one is reported.
    stranger = "199001012015031999"
    r = await stack.api.post(
        "/api/v1/promotions/pertek/import", HR2,
        json={"source": "SIASN ekspor", "items": [
            {"nip": nip, "period": PERIOD.isoformat(), "status": "APPROVED", "nomor": "PT-77/KR-VII/2026", "tanggal": TODAY.isoformat()},
            {"nip": stranger, "period": PERIOD.isoformat(), "status": "APPROVED", "nomor": "PT-78", "tanggal": TODAY.isoformat()},
        ]},
    )
    assert r.status_code == 200, r.text
    assert [i["status"] for i in r.json()["results"]] == [200, 404] and len(r.json()["import_sha256"]) == 64

    decree = await task_of(stack, BUPATI, case_id, "PROMOTION_DECREE")
    r = await stack.api.post(f"/api/v1/tasks/{decree['id']}/decision", HR1, json={"outcome": "DECREED", "data": {}})
    assert r.status_code == 403
    await decide(stack, BUPATI, decree, "DECREED", {"sk_nomor": "800/912/BKPSDMD/2026", "sk_tanggal": TODAY.isoformat()}, "Ditetapkan")
    case = await case_status(stack, case_id, "completed")
    assert case["outcome"]["golongan_baru"] == "II/d"

    r = await stack.api.get(f"/api/v1/promotions/{case_id}/decree", headers=as_subject(stack, nip))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    assert hashlib.sha256(r.content).hexdigest() == r.headers["x-document-sha256"] == case["outcome"]["sk_sha256"]
    events = (await stack.api.get(f"/api/v1/cases/{case_id}/events", HR1)).json()
    assert events["chain_intact"] is True
    decreed = next(e for e in events["data"] if e["type"] == "PromotionDecreed")
    assert decreed["payload"]["document"]["sha256"] == case["outcome"]["sk_sha256"]
    r = await stack.api.get(f"/api/v1/promotions/{case_id}/decree", KABID_APTIKA_NIP)  # neither the subject nor HR
    assert r.status_code == 404

    last = events["data"][-1]["position"]
    r = await stack.api.get(f"/api/v1/promotions/career/{nip}", headers=as_subject(stack, nip), params={"min_position": last})
    assert r.status_code == 200
    ranks = [row for row in r.json()["data"] if row["entry"] == "PANGKAT"]
    assert [row["golongan"] for row in ranks] == ["II/c", "II/d"]
    assert ranks[-1]["sk_nomor"] == "800/912/BKPSDMD/2026" and ranks[-1]["source_case"] == case_id and ranks[-1]["pangkat"] == "Pengatur Tingkat I"
    assert r.json()["current"]["golongan"] == "II/d"
    r = await stack.api.get("/api/v1/promotions/pipeline", OPD_HEAD, params={"period": PERIOD.isoformat(), "min_position": last})
    row = next(p for p in r.json()["data"] if p["case_id"] == case_id)
    assert row["stage"] == "SELESAI" and row["returns"] == 1 and row["verified_by"] == HR1 and row["decided_by"] == BUPATI

    # A second proposal, rejected by the PPK with a reason.
    other = await employee(stack)
    r = await stack.api.post("/api/v1/promotions", HR1, json={"nip": other, "kind": "REGULER", "period": PERIOD.isoformat(), "declared": declared()})
    assert r.status_code == 202, r.text
    other_case = r.json()["id"]
    verify = await task_of(stack, HR2, other_case, "PROMOTION_VERIFICATION")
    r = await stack.api.post(f"/api/v1/tasks/{verify['id']}/decision", HR1, json={"outcome": "VERIFIED", "data": docs()})
    assert r.status_code == 403 and "PEMISAHAN_TUGAS" in r.json()["message_id"]  # the batch/HR proposer may not verify
    await decide(stack, HR2, verify, "VERIFIED", docs())
    pertek = await task_of(stack, HR2, other_case, "PROMOTION_BKN_PERTEK")
    await decide(stack, HR2, pertek, "APPROVED", {"nomor": "PT-79", "tanggal": TODAY.isoformat()})
    decree = await task_of(stack, BUPATI, other_case, "PROMOTION_DECREE")
    r = await stack.api.post(f"/api/v1/tasks/{decree['id']}/decision", BUPATI, json={"outcome": "REJECTED"})
    assert r.status_code == 422  # a rejection needs its reason
    await decide(stack, BUPATI, decree, "REJECTED", reason="Formasi pangkat ditunda")
    rejected = await case_status(stack, other_case, "rejected")
    assert rejected["outcome"]["level"] == "DECREE"
    r = await stack.api.get(f"/api/v1/promotions/{other_case}/decree", HR1)
    assert r.status_code == 404


async def test_batch_proposes_everyone_eligible_in_a_unit(stack: Stack) -> None:
    nips = [await employee(stack), await employee(stack, tmt_golongan=tmt_for(PERIOD, late_days=1))]
    r = await stack.api.post("/api/v1/promotions/batches", OPD_HEAD, json={"period": PERIOD.isoformat(), "nips": nips})
    assert r.status_code == 403
    r = await stack.api.post(
        "/api/v1/promotions/batches", HR1,
        json={"period": PERIOD.isoformat(), "unit": "DISKOMINFO", "nips": nips, "declared": {n: declared() for n in nips}},
    )
    assert r.status_code == 202, r.text
    batch_id = r.json()["id"]
    await case_status(stack, batch_id, "completed")
    for _ in range(200):
        listed = (await stack.api.get(f"/api/v1/promotions/batches/{batch_id}", HR1)).json()
        if listed["data"] and all(row["proposed_case_id"] or not row["eligible"] for row in listed["data"]):
            break
        await asyncio.sleep(0.05)
    rows = {row["nip"]: row for row in listed["data"]}
    assert rows[nips[0]]["eligible"] and rows[nips[0]]["proposed_case_id"] == f"promotion-{PERIOD.isoformat()[:7]}-{nips[0]}"
    assert not rows[nips[1]]["eligible"] and rows[nips[1]]["failures"] == ["MASA_GOLONGAN"] and rows[nips[1]]["proposed_case_id"] is None
    await task_of(stack, HR2, rows[nips[0]]["proposed_case_id"], "PROMOTION_VERIFICATION")


async def test_rotation_through_the_api_moves_the_employee(stack: Stack) -> None:
    sekda = "197203152000031001"  # chairs the Tim Penilai Kinerja
    early = await employee(stack, tmt_jabatan=(TODAY.replace(year=TODAY.year - 2) + timedelta(days=30)).isoformat())  # margin: the run may cross midnight WIB
    other = await employee(stack)
    body = {"nip": early, "jabatan_baru": "Pengelola Data", "jenis_jabatan_baru": "PELAKSANA", "unit_baru": "BKPSDMD"}
    before = max_position(stack.store)
    r = await stack.api.post("/api/v1/promotions/rotations", OPD_HEAD, json=body)
    assert r.status_code == 422 and r.json()["problems"][0]["rule"] == "MASA_MUTASI_MINIMAL"
    r = await stack.api.post("/api/v1/promotions/rotations", OPD_HEAD, json={**body, "unit_baru": "NOWHERE", "nip": other})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "unit_baru"
    assert max_position(stack.store) == before

    nip = await employee(stack, tmt_jabatan=TODAY.replace(year=TODAY.year - 2).isoformat())
    r = await stack.api.post("/api/v1/promotions/rotations", OPD_HEAD, json={**body, "nip": nip})
    assert r.status_code == 202, r.text
    case_id = r.json()["id"]
    advice = await task_of(stack, sekda, case_id, "ROTATION_ADVICE")
    r = await stack.api.post(f"/api/v1/tasks/{advice['id']}/decision", sekda, json={"outcome": "RECOMMENDED", "data": {}})
    assert r.status_code == 403 and r.json()["problems"][0]["rule"] == "KONFLIK_KEPENTINGAN"
    await decide(stack, sekda, advice, "RECOMMENDED", {"conflict_of_interest": False}, "Sesuai pola karier")
    decree = await task_of(stack, BUPATI, case_id, "ROTATION_DECREE")  # no freeze configured here: no Home Minister step
    await decide(stack, BUPATI, decree, "DECREED", {"sk_nomor": "821.2/31/BKPSDMD/2026", "sk_tanggal": TODAY.isoformat()})
    case = await case_status(stack, case_id, "completed")
    r = await stack.api.get(f"/api/v1/promotions/career/{nip}", HR1, params={"min_position": case["last_position"]})
    moves = [row for row in r.json()["data"] if row["entry"] == "JABATAN"]
    assert moves[-1]["unit"] == "BKPSDMD" and moves[-1]["sk_nomor"] == "821.2/31/BKPSDMD/2026" and r.json()["current"]["unit"] == "BKPSDMD"
