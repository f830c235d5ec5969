"""Position promotion and the JPT open selection through the API: real PostgreSQL, worker, projector and Temporal.

The Tim Penilai route runs on the Temporal dev server. The open selection waits out a registration
window of days, so it runs on the time-skipping server (same API, worker, projector and database).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import max_position
from asnflow.domain import position as pos
from asnflow.domain import promotion as pr
from asnflow.runtime.demo_org import AUDITOR_NIP, KABID_APTIKA_NIP, KEPALA_BKPSDMD_NIP, KEPALA_DISKOMINFO_NIP, SEKDA_NIP
from tests.integration.test_promotion_api import BUPATI, HR1, HR2, as_subject, case_status, decide, task_of
from tests.support import Stack, api_stack
from tests.workflows.test_position_workflow import SHA, person, years_before

VIEWS = ["employees", "cases", "tasks", "career"]


def today() -> date:
    return (datetime.now(UTC) + pr.WIB_OFFSET).date()


@pytest.fixture(scope="module")
async def tpk_stack(dev_server_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with api_stack(dev_server_env.client, tmp_path_factory.mktemp("position-api"), "asnflow_pos", VIEWS) as s:
        yield s


@pytest.fixture(scope="module")
async def jpt_stack(time_skipping_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with api_stack(time_skipping_env.client, tmp_path_factory.mktemp("jpt-api"), "asnflow_jpt", VIEWS) as s:
        yield s


async def people(stack: Stack, on: date, *specs: dict[str, Any]) -> list[str]:
    """Fictional PNS with past predicates, waited for until the directory and evaluation views hold them."""
    nips = [await asyncio.to_thread(lambda s=s: person(stack.store, on=on, **s)) for s in specs]
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        for _ in range(300):
            seen = conn.execute(
                "SELECT (SELECT count(*) FROM employees WHERE nip = ANY(%s)), (SELECT count(*) FROM cases WHERE process = 'evaluation'"
                " AND status = 'completed' AND subject_nip = ANY(%s))", [nips, nips]).fetchone()
            if seen == (len(nips), 2 * len(nips)):
                return nips
            await asyncio.sleep(0.05)
    raise AssertionError("the views never caught up with the new employees")


async def test_pengawas_vacancy_through_the_api(tpk_stack: Stack) -> None:
    stack, on = tpk_stack, today()
    star, good, cousin = await people(stack, on, {"predicates": ("SANGAT_BAIK", "SANGAT_BAIK"), "nilai_kompetensi": 86.0}, {}, {"nilai_kompetensi": 91.0})
    r = await stack.api.post("/api/v1/kinship", KABID_APTIKA_NIP, json={"relative_nip": cousin, "relation": "SEPUPU"})
    assert r.status_code == 201, r.text

    r = await stack.api.get("/api/v1/promotions/positions/talent-pool", HR1, params={"jenis_jabatan": "PENGAWAS", "unit": "DISKOMINFO"})
    assert r.status_code == 200 and [c["nip"] for c in r.json()["data"]] == [star, cousin, good]
    r = await stack.api.get("/api/v1/promotions/positions/talent-pool", "199602102022031001", params={"jenis_jabatan": "PENGAWAS"})
    assert r.status_code == 403  # a PEGAWAI does not browse the pool

    panel = [SEKDA_NIP, KEPALA_BKPSDMD_NIP, AUDITOR_NIP, KABID_APTIKA_NIP]
    body = {"jabatan": "Kepala Seksi Layanan Data", "jenis_jabatan": "PENGAWAS", "unit": "DISKOMINFO", "panel": panel,
            "candidate_nips": [star, good, cousin], "atasan_nip": KABID_APTIKA_NIP}
    before = max_position(stack.store)
    r = await stack.api.post("/api/v1/promotions/positions", KEPALA_DISKOMINFO_NIP, json={**body, "panel": [KEPALA_DISKOMINFO_NIP, *panel[:3]]})
    assert r.status_code == 403 and r.json()["problems"][0]["rule"] == "PEMISAHAN_TUGAS"
    r = await stack.api.post("/api/v1/promotions/positions", KEPALA_DISKOMINFO_NIP, json={**body, "candidate_nips": [star], "panel": panel[:2]})
    assert r.status_code == 422 and r.json()["problems"][0]["rule"] == "KUORUM_PANEL" and r.json()["message_en"]
    r = await stack.api.post("/api/v1/promotions/positions", KEPALA_DISKOMINFO_NIP, json={**body, "jenis_jabatan": "JPT"})
    assert r.status_code == 422
    r = await stack.api.post("/api/v1/promotions/positions", KEPALA_DISKOMINFO_NIP, json={**body, "unit": "SETWAN"})
    assert r.status_code == 403  # not the head of that unit
    r = await stack.api.post("/api/v1/promotions/positions", KEPALA_DISKOMINFO_NIP, json={**body, "candidate_nips": [KEPALA_DISKOMINFO_NIP]})
    assert r.status_code == 422 and r.json()["problems"][0]["rule"] == "KELOMPOK_TALENTA_KOSONG"
    assert max_position(stack.store) == before  # no refusal recorded anything

    r = await stack.api.post("/api/v1/promotions/positions", KEPALA_DISKOMINFO_NIP, json=body)
    assert r.status_code == 202, r.text
    case_id = r.json()["id"]
    assert (await stack.api.post("/api/v1/promotions/positions", HR1, json=body)).status_code == 409

    for member in panel[:3]:
        task = await task_of(stack, member, case_id, "POSITION_TPK_DECLARATION")
        assert task["assignee_nip"] == member
        await decide(stack, member, task, "NO_CONFLICT")
    r = await stack.api.get("/api/v1/tasks", KABID_APTIKA_NIP, params={"case_id": case_id})
    assert r.json()["data"] == []  # recused by the registry: no task
    chair = await task_of(stack, SEKDA_NIP, case_id, "POSITION_TPK_RECOMMENDATION")
    await decide(stack, SEKDA_NIP, chair, "RECOMMENDED", {"ranking": [good, star]}, "Sidang TPK 3/2026")
    ppk = await task_of(stack, BUPATI, case_id, "POSITION_PPK_DECISION")
    r = await stack.api.post(f"/api/v1/tasks/{ppk['id']}/decision", BUPATI, json={"outcome": "APPOINTED", "data": {"nip": cousin}})
    assert r.status_code == 422 and r.json()["message_en"]
    await decide(stack, BUPATI, ppk, "APPOINTED", {"nip": star}, "Kotak talenta tertinggi")
    decree = await task_of(stack, BUPATI, case_id, "POSITION_DECREE")
    await decide(stack, BUPATI, decree, "DECREED", {"sk_nomor": "821.2/61/BKPSDMD/2026", "sk_tanggal": on.isoformat()})
    oath = await task_of(stack, HR2, case_id, "POSITION_INAUGURATION")
    await decide(stack, HR2, oath, "INAUGURATED", {"tanggal": on.isoformat(), "berita_acara_nomor": "BA-12/2026", "sumpah": True})
    case = await case_status(stack, case_id, "completed")

    r = await stack.api.get(f"/api/v1/promotions/positions/{case_id}", HR1, params={"min_position": case["last_position"]})
    row = r.json()
    assert row["stage"] == "SELESAI" and row["chosen_nip"] == star and row["recused"] == [KABID_APTIKA_NIP] and row["shortlist"] == [good, star]
    summary = (await stack.api.get(f"/api/v1/promotions/positions/{case_id}", headers=as_subject(stack, good))).json()
    assert "candidates" not in summary and summary["stage"] == "SELESAI"  # others see the summary only
    r = await stack.api.get(f"/api/v1/promotions/{case_id}/decree", headers=as_subject(stack, star))  # the appointee's own SK
    assert r.status_code == 200 and r.content.startswith(b"%PDF") and hashlib.sha256(r.content).hexdigest() == row["sk_sha256"]
    assert (await stack.api.get(f"/api/v1/promotions/{case_id}/decree", headers=as_subject(stack, good))).status_code == 404
    r = await stack.api.get(f"/api/v1/promotions/career/{star}", headers=as_subject(stack, star), params={"min_position": case["last_position"]})
    moves = [e for e in r.json()["data"] if e["entry"] == "JABATAN"]
    assert moves[-1]["jabatan"] == "Kepala Seksi Layanan Data" and moves[-1]["sk_nomor"] == "821.2/61/BKPSDMD/2026"
    assert r.json()["current"]["jenis_jabatan"] == "PENGAWAS"


def pansel(n_external: int = 4) -> list[dict[str, Any]]:
    internal = [{"nama": "Sekda", "unsur": "INTERNAL", "peran": "KETUA", "nip": SEKDA_NIP},
                {"nama": "Kepala BKPSDMD", "unsur": "INTERNAL", "peran": "ANGGOTA", "nip": KEPALA_BKPSDMD_NIP},
                {"nama": "Inspektur", "unsur": "INTERNAL", "peran": "ANGGOTA", "nip": AUDITOR_NIP}]
    return internal + [{"nama": f"Akademisi {i}", "unsur": "EKSTERNAL", "peran": "ANGGOTA", "instansi": "UNJA"} for i in range(n_external)]


async def test_jpt_open_selection_through_the_api(jpt_stack: Stack, time_skipping_env: WorkflowEnvironment) -> None:
    stack, env = jpt_stack, time_skipping_env
    on = (await env.get_current_time() + pr.WIB_OFFSET).date()
    adm = {"jenis_jabatan": "ADMINISTRATOR", "golongan": "IV/a", "jabatan": "Sekretaris Dinas Uji", "tmt_jabatan": years_before(on, 3).isoformat()}
    applicants = await people(stack, on, adm, adm, adm)
    (old,) = await people(stack, on, {**adm, "born": years_before(on, 57)})

    body = {"jabatan": "Kepala Dinas Perumahan dan Permukiman", "unit": "DISPERKIM", "pansel": pansel(), "registration_days": 7}
    before = max_position(stack.store)
    r = await stack.api.post("/api/v1/promotions/selections", HR1, json={**body, "pansel": pansel(1)})
    assert r.status_code == 422 and r.json()["problems"][0]["rule"] == "KUORUM_PANEL"
    r = await stack.api.post("/api/v1/promotions/selections", KEPALA_DISKOMINFO_NIP, json=body)
    assert r.status_code == 403
    assert max_position(stack.store) == before
    r = await stack.api.post("/api/v1/promotions/selections", HR1, json=body)
    assert r.status_code == 202, r.text
    case_id = r.json()["id"]

    formation = await task_of(stack, BUPATI, case_id, "JPT_PANSEL_FORMATION")
    await decide(stack, BUPATI, formation, "FORMED", {"sk_nomor": "800/21/2026", "sk_tanggal": on.isoformat()})
    announce = await task_of(stack, HR2, case_id, "JPT_ANNOUNCEMENT")
    await decide(stack, HR2, announce, "ANNOUNCED", {"nomor": "PENG-03/PANSEL/2026", "tanggal": on.isoformat()})
    for _ in range(300):
        listed = (await stack.api.get("/api/v1/promotions/positions", headers=as_subject(stack, applicants[0]), params={"route": "JPT"})).json()["data"]
        if listed and listed[0]["stage"] == "PENDAFTARAN":
            break
        await asyncio.sleep(0.05)
    assert listed[0]["case_id"] == case_id and listed[0]["window_closes"]

    before = max_position(stack.store)
    r = await stack.api.post(f"/api/v1/promotions/selections/{case_id}/registrations", headers=as_subject(stack, old))
    assert r.status_code == 422 and [p["rule"] for p in r.json()["problems"]] == ["USIA"]
    assert max_position(stack.store) == before
    for nip in applicants:
        r = await stack.api.post(f"/api/v1/promotions/selections/{case_id}/registrations", headers=as_subject(stack, nip))
        assert r.status_code == 200, r.text
    r = await stack.api.post(f"/api/v1/promotions/selections/{case_id}/registrations", headers=as_subject(stack, applicants[0]))
    assert r.status_code == 409  # once only

    await env.sleep(timedelta(days=7, hours=1))  # the registration window closes
    for member in (SEKDA_NIP, KEPALA_BKPSDMD_NIP, AUDITOR_NIP):
        await decide(stack, member, await task_of(stack, member, case_id, "JPT_PANSEL_DECLARATION"), "NO_CONFLICT")
    docs = {"documents": [{"code": c, "sha256": SHA} for c in pos.ADMIN_DOCUMENTS]}
    for _ in applicants:
        await decide(stack, HR2, await task_of(stack, HR2, case_id, "JPT_ADMIN_CHECK"), "PASSED", docs)
    for n, scores in enumerate(([80, 75, 90], [85, 70, 88], [80, 80, 80], [78, 72, 90])):
        task = await task_of(stack, SEKDA_NIP, case_id, "JPT_ASSESSMENT")
        if n == 0:
            r = await stack.api.post(f"/api/v1/tasks/{task['id']}/decision", SEKDA_NIP, json={"outcome": "SCORED", "data": {"scores": {applicants[0]: 101}}})
            assert r.status_code == 422
        await decide(stack, SEKDA_NIP, task, "SCORED", {"scores": dict(zip(applicants, scores))})
    pick = await task_of(stack, BUPATI, case_id, "JPT_PPK_PICK")
    for _ in range(300):  # the positions view may apply the shortlist a moment after the tasks view shows the pick
        r = await stack.api.get(f"/api/v1/promotions/positions/{case_id}", HR1)
        if r.json()["shortlist"] is not None:
            break
        await asyncio.sleep(0.05)
    assert r.json()["shortlist"] == [applicants[2], applicants[0], applicants[1]]  # 88.2, 81.4, 72.6
    await decide(stack, BUPATI, pick, "PICKED", {"nip": applicants[0]})
    await task_of(stack, HR2, case_id, "JPT_NATIONAL_RECOMMENDATION")

    # The national body's letter arrives as a file: a wrong NIP is reported, the right one decides the step.
    r = await stack.api.post("/api/v1/promotions/selections/recommendations/import", HR1, json={"source": "surat BKN", "items": [
        {"case_id": case_id, "nip": applicants[1], "status": "RECOMMENDED", "nomor": "B-9/BKN/2026", "tanggal": on.isoformat()},
        {"case_id": case_id, "nip": applicants[0], "status": "RECOMMENDED", "nomor": "B-9/BKN/2026", "tanggal": on.isoformat()},
    ]})
    assert r.status_code == 200, r.text
    assert [i["status"] for i in r.json()["results"]] == [409, 200]
    decree = await task_of(stack, BUPATI, case_id, "POSITION_DECREE")
    day = (await env.get_current_time() + pr.WIB_OFFSET).date().isoformat()
    await decide(stack, BUPATI, decree, "DECREED", {"sk_nomor": "821.2/70/BKPSDMD/2026", "sk_tanggal": day})
    oath = await task_of(stack, HR2, case_id, "POSITION_INAUGURATION")
    await decide(stack, HR2, oath, "INAUGURATED", {"tanggal": day, "berita_acara_nomor": "BA-20/2026", "sumpah": True})
    case = await case_status(stack, case_id, "completed")
    assert case["outcome"]["nip"] == applicants[0]
    events = (await stack.api.get(f"/api/v1/cases/{case_id}/events", HR1)).json()
    assert events["chain_intact"] is True
    national = next(e for e in events["data"] if e["type"] == "JptNationalRecommendation")
    assert national["payload"]["source"] == "import" and len(national["payload"]["import_sha256"]) == 64
    r = await stack.api.get(f"/api/v1/promotions/career/{applicants[0]}", HR1, params={"min_position": case["last_position"]})
    assert r.json()["current"]["jenis_jabatan"] == "JPT" and r.json()["current"]["unit"] == "DISPERKIM"
