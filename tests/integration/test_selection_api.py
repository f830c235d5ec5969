"""A small CPNS round over the API on the real stack: uploads, pool verification, objections, SKD, SKB, ranking, public desk."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import read_case
from asnflow.runtime.demo_org import BKPSDM_STAFF_1_NIP, BKPSDM_STAFF_2_NIP, PEGAWAI_NIP
from asnflow.workflows.selection_contracts import application_case_id
from tests.support import Stack, api_stack

HR, VERIFIER = BKPSDM_STAFF_1_NIP, BKPSDM_STAFF_2_NIP
SECONDS = 1 / 86400  # windows in days: a few seconds here
CSV = {"Content-Type": "text/csv"}
FORMATIONS = [
    {"code": "ARS-DINKES", "jabatan": "Arsiparis Ahli Pertama", "education": "S1 Kearsipan", "unit": "RSUD-HAMBA", "vacancies": 1},
    {"code": "ARS-DINSOS", "jabatan": "Arsiparis Ahli Pertama", "education": "S1 Kearsipan", "unit": "DPMPTSP", "vacancies": 1},
]
APPLICANTS = (
    "no_peserta,nama,formasi,jalur,tanggal_lahir,ipk\n"
    "24150200001,Fajar,ARS-DINKES,UMUM,1998-01-01,3.40\n"
    "24150200002,Gita,ARS-DINKES,UMUM,1997-02-02,3.60\n"
    "24150200003,Hadi,ARS-DINKES,UMUM,1999-03-03,3.10\n"
    "24150200004,Intan,ARS-DINSOS,UMUM,1996-04-04,3.90\n"
)


@pytest.fixture(scope="module")
async def stack(dev_server_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with api_stack(dev_server_env.client, tmp_path_factory.mktemp("selection-api"), "asnflow_selection_api",
                         ["employees", "cases", "tasks", "selection"]) as s:
        yield s


async def until(check: Any, what: str, tries: int = 400) -> Any:
    for _ in range(tries):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def open_task(stack: Stack, nip: str, case_id: str, kind: str) -> dict[str, Any]:
    async def find() -> Any:
        r = await stack.api.get("/api/v1/tasks", nip, params={"case_id": case_id, "kind": kind})
        return r.status_code == 200 and r.json()["data"] and r.json()["data"][0]
    return await until(find, f"{kind} on {case_id}")  # type: ignore[no-any-return]


async def decide(stack: Stack, nip: str, case_id: str, kind: str, outcome: str, reason: str = "", data: dict | None = None) -> None:
    t = await open_task(stack, nip, case_id, kind)
    r = await stack.api.post(f"/api/v1/tasks/{t['id']}/decision", nip, json={"outcome": outcome, "reason": reason, "data": data or {}})
    assert r.status_code == 200, r.text


def count(stack: Stack, case_id: str) -> int:
    return len(read_case(stack.store, case_id))


async def test_a_small_round_through_the_api_with_objections(stack: Stack) -> None:
    api, slug = stack.api, f"cpns-{uuid.uuid4().hex[:6]}"
    body = {"year": 2024, "kind": "CPNS", "slug": slug, "title": "Seleksi CPNS 2024 Arsiparis", "formations": FORMATIONS,
            "registration_days": 6 * SECONDS, "objection_days": 6 * SECONDS, "drh_days": SECONDS}
    assert (await api.post("/api/v1/selections", PEGAWAI_NIP, json=body)).status_code == 403
    bad = await api.post("/api/v1/selections", HR, json={**body, "formations": [{**FORMATIONS[0], "vacancies": 0}]})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "formations[0].vacancies"
    r = await api.post("/api/v1/selections", HR, json=body)
    assert r.status_code == 202, r.text
    case_id = r.json()["id"]
    assert (await api.post("/api/v1/selections", HR, json=body)).status_code == 409

    # Registration: a file with an unknown formation is refused whole; the good one answers each secret code once.
    await until(lambda: asyncio.to_thread(count, stack, case_id), "announcement")
    before = count(stack, case_id)
    r = await api.post(f"/api/v1/selections/{case_id}/applicants", HR, headers=CSV, content=APPLICANTS + "24150200005,Joko,ARS-XXX,UMUM,1995-05-05,3.0\n")
    assert r.status_code == 422, r.text
    assert r.json()["problems"][0].get("line") == 6 and count(stack, case_id) == before, r.text
    r = await api.post(f"/api/v1/selections/{case_id}/applicants", HR, headers=CSV, content=APPLICANTS)
    assert r.status_code == 200, r.text
    secret = {s["reg_no"]: s["secret"] for s in r.json()["secrets"]}
    assert r.json()["total"] == 4

    # Verifiers claim applications from the BKPSDM pool; one is TMS with its reason.
    for reg in secret:
        child = application_case_id(case_id, reg)
        t = await open_task(stack, VERIFIER, child, "SELECTION_ADMIN_VERIFICATION")
        assert (await api.post(f"/api/v1/tasks/{t['id']}/claim", VERIFIER)).status_code == 200
        outcome, reason = ("TMS", "Transkrip nilai tidak diunggah") if reg == "24150200003" else ("MS", "")
        r = await api.post(f"/api/v1/tasks/{t['id']}/decision", VERIFIER, json={"outcome": outcome, "reason": reason, "data": {}})
        assert r.status_code == 200, r.text

    async def announce() -> Any:
        r = await api.post(f"/api/v1/selections/{case_id}/administrative-result", HR)
        assert r.status_code in (200, 409), r.text
        return r.status_code == 200 and r.json()
    announced = await until(announce, "every application verified")
    assert announced["counts"] == {"MS": 3, "TMS": 1}

    # The applicant sees their own result with the secret code; a wrong code learns nothing.
    async def status_of(reg: str) -> Any:
        r = await api.post("/api/v1/selections/status", json={"reg_no": reg, "secret": secret[reg]})
        return r.status_code == 200 and r.json()["administrative_result"] and r.json()
    mine = await until(lambda: status_of("24150200003"), "own status")
    assert mine["administrative_result"] == "TMS" and mine["case_id"] == case_id
    wrong = await api.post("/api/v1/selections/status", json={"reg_no": "24150200003", "secret": "x" * 20})
    assert wrong.status_code == 404 and wrong.json()["message_en"] == "Wrong registration number or secret code."
    public = await api.get(f"/api/v1/selections/{case_id}/announcements/ADMINISTRASI")
    assert public.status_code == 200 and set(public.json()["data"][0]) == {"reg_no", "nama", "formation", "result"}

    # One objection in the window; a second one is refused; the committee accepts it (verifier's error).
    objection = {"reg_no": "24150200003", "secret": secret["24150200003"], "stage": "ADMINISTRASI", "reason": "Transkrip sudah diunggah bersama ijazah"}
    r = await api.post(f"/api/v1/selections/{case_id}/objections", json=objection)
    assert r.status_code == 202, r.text
    assert (await api.post(f"/api/v1/selections/{case_id}/objections", json=objection)).status_code == 409
    await decide(stack, VERIFIER, case_id, "SELECTION_OBJECTION_REVIEW", "ACCEPTED", "Transkrip ada di berkas ijazah")

    async def re_announced() -> Any:
        return (await status_of("24150200003") or {}).get("administrative_result") == "MS"
    await until(re_announced, "re-announcement after the objection window", tries=600)
    late = await api.post(f"/api/v1/selections/{case_id}/objections", json={**objection, "reg_no": "24150200001", "secret": secret["24150200001"]})
    assert late.status_code == 409

    # SKD: refused whole with line numbers (nothing recorded), then one event with its checksum and the cut-off.
    async def skd_open() -> bool:
        r = await api.get(f"/api/v1/selections/{case_id}", HR)
        return r.json()["counts"]["ms"] == 4
    await until(skd_open, "four MS applicants")
    before = count(stack, case_id)
    r = await api.post(f"/api/v1/selections/{case_id}/scores/SKD", HR, headers=CSV,
                       content="no_peserta,twk,tiu,tkp\n24150200001,100,100,180\n24150200001,100,100,180\n24150200009,65,80,166\n24150200002,65,82,166\n")
    assert r.status_code == 422, r.text
    assert [p["line"] for p in r.json()["problems"]] == [3, 4, 5] and count(stack, case_id) == before
    r = await api.post(f"/api/v1/selections/{case_id}/scores/SKD", HR, headers=CSV, content="no_peserta,twk\n24150200001,100\n")
    assert r.status_code == 422 and "columns" in r.json()["problems"][0]["en"]
    skd = "no_peserta,twk,tiu,tkp\n24150200001,100,100,180\n24150200002,90,110,170\n24150200003,60,120,200\n24150200004,80,90,170\n"
    r = await api.post(f"/api/v1/selections/{case_id}/scores/SKD", HR, headers=CSV, content=skd)
    assert r.status_code == 200, r.text
    assert r.json()["cut_off"] == {"passed": 3, "failed": 1, "skb_participants": 3}  # 003 misses TWK 65

    # SKB: ranking 40/60; the DINSOS vacancy is filled by its own applicant, DINKES by the best.
    r = await api.post(f"/api/v1/selections/{case_id}/scores/SKB", HR, headers=CSV, content="no_peserta,nilai_skb\n24150200001,70\n24150200002,90\n24150200004,60\n")
    assert r.status_code == 200, r.text
    assert r.json()["final"]["counts"] == {"LULUS": 2, "TL": 2}

    async def ranked() -> Any:
        r = await api.get(f"/api/v1/selections/{case_id}/rankings", HR, params={"formation": "ARS-DINKES"})
        data = r.json()["data"] if r.status_code == 200 else []
        # Ranked and announced are two events of one append: wait until the view has both.
        return len(data) == 2 and all(x["final_status"] for x in data) and data
    rows = await until(ranked, "ranking view")
    assert [(x["reg_no"], x["rank"], x["final_status"]) for x in rows] == [("24150200002", 1, "LULUS"), ("24150200001", 2, "TL")]

    # Final objection: rejected with a reason; after the window the final list publishes only who passed.
    r = await api.post(f"/api/v1/selections/{case_id}/objections",
                       json={"reg_no": "24150200001", "secret": secret["24150200001"], "stage": "AKHIR", "reason": "Mohon peninjauan nilai SKB saya"})
    assert r.status_code == 202, r.text
    await decide(stack, VERIFIER, case_id, "SELECTION_OBJECTION_REVIEW", "REJECTED", "Nilai SKB sesuai berita acara")

    async def objections_done() -> Any:
        r = await api.get(f"/api/v1/selections/{case_id}/objections", HR)
        return r.status_code == 200 and all(o["outcome"] for o in r.json()["data"]) and r.json()["data"]
    outcomes = await until(objections_done, "objection outcomes")
    assert [(o["stage"], o["outcome"]) for o in outcomes] == [("ADMINISTRASI", "ACCEPTED"), ("AKHIR", "REJECTED")]
    await until(lambda: _opened(stack, case_id, "SELECTION_NIP_REQUEST"), "appointment step", tries=600)
    final = await api.get(f"/api/v1/selections/{case_id}/announcements/AKHIR")
    assert sorted((x["reg_no"], x["status"]) for x in final.json()["data"]) == [("24150200002", "LULUS"), ("24150200004", "LULUS")]
    again = await api.post(f"/api/v1/selections/{case_id}/objections",
                           json={"reg_no": "24150200004", "secret": secret["24150200004"], "stage": "AKHIR", "reason": "Sanggah setelah masa sanggah"})
    assert again.status_code == 409


async def _opened(stack: Stack, case_id: str, kind: str) -> bool:
    events = await asyncio.to_thread(read_case, stack.store, case_id)
    return any(type(s.event).__name__ == "TaskOpened" and s.event.payload["kind"] == kind for s in events)
