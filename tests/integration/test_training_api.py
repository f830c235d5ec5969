"""A year's competency cycle for Diskominfo over the API: needs analysis to the compliance report, on the real stack."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import max_position, read_case
from asnflow.domain import training as tr
from asnflow.projections.runner import rebuild
from asnflow.projections.training import TrainingView
from asnflow.runtime.demo_org import (
    BKPSDM_STAFF_1_NIP,
    BUPATI_NIP,
    KABID_APTIKA_NIP,
    KEPALA_DISKOMINFO_NIP,
    PEGAWAI_NIP,
    demo_employees,
    roles_for,
)
from asnflow.runtime.settings import Settings
from tests.support import Stack, api_stack, pdf_bytes, upload

HR, HEAD = BKPSDM_STAFF_1_NIP, KEPALA_DISKOMINFO_NIP
PROJECTED = ["employees", "cases", "tasks", "training"]


@pytest.fixture(scope="module")
async def stack(dev_server_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with api_stack(dev_server_env.client, tmp_path_factory.mktemp("training-api"), "asnflow_training_api", PROJECTED) as s:
        yield s


async def task(stack: Stack, nip: str, case_id: str, kind: str) -> dict[str, Any]:
    for _ in range(300):
        r = await stack.api.get("/api/v1/tasks", nip, params={"case_id": case_id, "kind": kind})
        assert r.status_code == 200, r.text
        if r.json()["data"]:
            return r.json()["data"][0]  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no open {kind} on {case_id} for {nip}")


async def decide(stack: Stack, nip: str, case_id: str, kind: str, outcome: str, data: dict | None = None, reason: str = "") -> dict:
    t = await task(stack, nip, case_id, kind)
    r = await stack.api.post(f"/api/v1/tasks/{t['id']}/decision", nip, json={"outcome": outcome, "data": data or {}, "reason": reason})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def until(stack: Stack, who: str, path: str, check: Any, **params: Any) -> Any:
    for _ in range(300):
        r = await stack.api.get(path, who, params=params)
        if r.status_code == 200 and check(r.json()):
            return r.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path}: {r.status_code} {r.text[:500]}")


def snapshot(settings: Settings) -> dict[str, list[str]]:
    with psycopg.connect(settings.database_url) as conn:
        return {
            table: [r[0] for r in conn.execute(f"SELECT row_to_json(t)::text AS j FROM {table} t ORDER BY j").fetchall()]  # noqa: S608
            for table in TrainingView.tables
        }


def staff() -> list[str]:
    return [e.nip for e in demo_employees() if e.unit == "DISKOMINFO" and roles_for(e.nip) == ["PEGAWAI"] and e.nip != PEGAWAI_NIP]


async def test_a_year_for_diskominfo_from_needs_analysis_to_the_compliance_report(stack: Stack) -> None:
    api = stack.api
    now = datetime.now(tr.WIB)
    year, today = now.year, now.date()
    cycle = f"training-{year}"
    a, (b, c) = PEGAWAI_NIP, staff()[:2]

    # Needs analysis opens the cycle; assessments raise a measured profile.
    r = await api.post("/api/v1/trainings", a, json={"year": year})
    assert r.status_code == 403
    r = await api.post("/api/v1/trainings", HR, json={"year": year, "assessments": {a: {"TEKNIS": 9}}})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == f"assessments.{a}.TEKNIS"
    r = await api.post("/api/v1/trainings", HR, json={"year": year, "assessments": {c: {"MANAJERIAL": 3, "SOSIAL_KULTURAL": 3}}})
    assert r.status_code == 202 and r.json()["id"] == cycle, r.text
    assert (await api.post("/api/v1/trainings", HR, json={"year": year})).status_code == 409
    await task(stack, HR, cycle, "TRAINING_PLAN_DRAFT")
    needs = await until(stack, HEAD, f"/api/v1/trainings/{year}/needs", lambda j: j["count"] == 22, unit="DISKOMINFO")
    assert needs["data"][0]["priority"] >= needs["data"][-1]["priority"]
    mine = (await api.get(f"/api/v1/trainings/{year}/needs", a)).json()
    assert [n["nip"] for n in mine["data"]] == [a] and mine["data"][0]["gaps"]["TEKNIS"] >= 0
    assessed = next(n for n in needs["data"] if n["nip"] == c)
    assert assessed["profile"]["MANAJERIAL"] == 3

    # BKPSDM drafts the plan (an unknown course is refused), the Bupati approves it.
    t = await task(stack, HR, cycle, "TRAINING_PLAN_DRAFT")
    before = max_position(stack.store)
    bad = {"budgets": {"DISKOMINFO": 8_000_000}, "items": [{"unit": "DISKOMINFO", "course": "KURSUS-FIKTIF", "participants": 1}]}
    r = await api.post(f"/api/v1/tasks/{t['id']}/decision", HR, json={"outcome": "SUBMITTED", "data": bad})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "items[0].course"
    assert max_position(stack.store) == before
    plan = {"budgets": {"DISKOMINFO": 8_000_000, "BPBD": 2_000_000}, "items": [
        {"unit": "DISKOMINFO", "course": "TEK-SPBE", "participants": 2},
        {"unit": "DISKOMINFO", "course": "SOS-BERAKHLAK", "participants": 22},
        {"unit": "BPBD", "course": "SOS-WAWASAN-KEBANGSAAN", "participants": 2},
    ]}
    await decide(stack, HR, cycle, "TRAINING_PLAN_DRAFT", "SUBMITTED", plan)
    done = await decide(stack, BUPATI_NIP, cycle, "TRAINING_PLAN_APPROVAL", "APPROVED", reason="Sesuai APBD")
    state = await until(stack, HR, f"/api/v1/trainings/{year}", lambda j: (j.get("plan") or {}).get("status") == "approved",
                        min_position=done["position"])
    assert state["plan"]["version"] == 1 and state["plan"]["total"] == 10_000_000 and len(state["needs"]) >= 19

    # Enrolment: the employee or the head proposes; the budget is held at once or the proposal is refused.
    enrol = "/api/v1/trainings/enrolments"
    r = await api.post(enrol, a, json={"nip": a, "year": year, "course": "TEK-SPBE", "motivation": "SPBE Diskominfo"})
    assert r.status_code == 202 and r.json()["budget"]["remaining"] == 4_500_000, r.text
    ea = r.json()["id"]
    r = await api.post(enrol, HEAD, json={"nip": b, "year": year, "course": "TEK-SPBE"})
    assert r.status_code == 202 and r.json()["budget"]["remaining"] == 1_000_000
    eb = r.json()["id"]
    await task(stack, HEAD, ea, "TRAINING_RECOMMENDATION")
    await task(stack, HR, eb, "TRAINING_VALIDATION")  # both cases have settled: what follows must add nothing
    before = max_position(stack.store)
    r = await api.post(enrol, c, json={"nip": c, "year": year, "course": "TEK-SPBE"}, headers={"Accept-Language": "en"})
    assert r.status_code == 422 and "exceeds the remaining budget of DISKOMINFO (Rp 1,000,000)" in r.json()["message"]
    assert r.json()["message_id"].startswith("Biaya Rp 3,500,000 melebihi sisa anggaran")
    for who, body, code in (
        (c, {"nip": c, "year": year, "course": "KURSUS-FIKTIF"}, 422),  # unknown course
        (c, {"nip": c, "year": year, "course": "TEK-KEUDA"}, 422),  # not in Diskominfo's plan
        (c, {"nip": c, "year": year, "course": "PKN-II"}, 422),  # not eligible for PKN Tingkat II
        (a, {"nip": a, "year": year, "course": "TEK-SPBE"}, 409),  # proposed already
        (c, {"nip": a, "year": year, "course": "SOS-BERAKHLAK"}, 403),  # a colleague cannot propose for me
    ):
        r = await api.post(enrol, who, json=body)
        assert r.status_code == code, (body, r.text)
    assert max_position(stack.store) == before  # no refusal recorded anything

    await decide(stack, HEAD, ea, "TRAINING_RECOMMENDATION", "RECOMMENDED")
    await decide(stack, HR, ea, "TRAINING_VALIDATION", "VALIDATED")
    await decide(stack, HR, eb, "TRAINING_VALIDATION", "VALIDATED")  # the head proposed: recommendation implied
    await until(stack, HEAD, enrol, lambda j: {e["status"] for e in j["data"]} == {"validated"}, year=year, unit="DISKOMINFO")

    # Completion evidence: the certificate goes to the document store first; a hash nothing was uploaded under is refused.
    r = await upload(stack.api, a, pdf_bytes("sertifikat A"))
    assert r.status_code == 201 and r.json()["media_type"] == "application/pdf", r.text
    digest = r.json()["sha256"]
    evidence = {"file_sha256": uuid.uuid4().hex * 2, "hours": 32, "completed_on": today.isoformat(), "certificate_no": "BIMTEK-SPBE/001"}
    r = await api.post(f"{enrol}/{ea}/evidence", a, json=evidence)
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "file_sha256" and "unggah" in r.json()["message_id"]
    evidence["file_sha256"], evidence["hours"] = digest, 40
    r = await api.post(f"{enrol}/{ea}/evidence", a, json=evidence)
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "hours"
    r = await api.post(f"{enrol}/{ea}/evidence", a, json={**evidence, "hours": 32})
    assert r.status_code == 200, r.text
    await until(stack, a, enrol, lambda j: j["data"][0]["evidence_sha256"] == digest, nip=a, min_position=r.json()["position"])
    before = max_position(stack.store)
    r = await api.post(f"{enrol}/{eb}/evidence", b, json={**evidence, "hours": 24})
    assert r.status_code == 409 and r.json()["problems"][0]["field"] == "file_sha256"
    assert max_position(stack.store) == before
    other = (await upload(stack.api, b, pdf_bytes("sertifikat B"), "sertifikat-b.pdf")).json()["sha256"]
    r = await api.post(f"{enrol}/{eb}/evidence", b, json={**evidence, "hours": 24, "file_sha256": other})
    assert r.status_code == 200
    # The certificate is readable by its participant, BKPSDM and the unit's head; not by a colleague.
    assert (await api.get(f"/api/v1/documents/{digest}", a)).content == pdf_bytes("sertifikat A")
    for nip, code in ((HR, 200), (HEAD, 200), (c, 403)):
        assert (await api.get(f"/api/v1/documents/{digest}", nip)).status_code == code, nip
    submitted = [s.event.payload for s in read_case(stack.store, ea) if type(s.event).__name__ == "CompletionEvidenceSubmitted"][0]
    assert (submitted["file_name"], submitted["file_size"], submitted["media_type"]) == ("sertifikat.pdf", len(pdf_bytes("sertifikat A")), "application/pdf")
    for nip, eid in ((a, ea), (b, eb)):
        await decide(stack, HR, eid, "TRAINING_VERIFICATION", "VERIFIED")
        await decide(stack, nip, eid, "TRAINING_EVALUATION", "SUBMITTED", {"relevance": 4, "quality": 5})

    # The views: JP per employee and unit, plan against realisation.
    jp = await until(stack, HEAD, f"/api/v1/trainings/{year}/jp", lambda j: sum(e["jp"] for e in j["data"]) == 56, unit="DISKOMINFO")
    by_nip = {e["nip"]: e for e in jp["data"]}
    assert (by_nip[a]["jp"], by_nip[a]["compliant"], by_nip[b]["jp"], by_nip[c]["shortfall"]) == (32, True, 24, 20)
    units = (await api.get(f"/api/v1/trainings/{year}/jp/units", HR)).json()["data"]
    diskominfo = next(u for u in units if u["unit"] == "DISKOMINFO")
    assert (diskominfo["employees"], diskominfo["compliant"], diskominfo["compliance_pct"]) == (22, 2, 9.1)
    budget = (await api.get(f"/api/v1/trainings/{year}/budget", HEAD)).json()
    assert budget["data"] == [{"unit": "DISKOMINFO", "planned": 8_000_000, "held": 0, "committed": 7_000_000, "released": 0,
                               "realised": 7_000_000, "remaining": 1_000_000, "realisation_pct": 87.5}]

    # Amendments are versioned and cannot undercut what is in use.
    r = await api.post(f"/api/v1/trainings/{year}/plan/amendments", HR,
                       json={"budgets": {"DISKOMINFO": 5_000_000}, "items": plan["items"][:2], "reason": "Refocusing anggaran"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "budgets.DISKOMINFO"
    r = await api.post(f"/api/v1/trainings/{year}/plan/amendments", HR,
                       json={"budgets": {"DISKOMINFO": 12_000_000, "BPBD": 2_000_000}, "items": plan["items"], "reason": "Tambahan APBD-P"})
    assert r.status_code == 200 and r.json()["event_type"] == "TrainingPlanAmendmentProposed"
    await decide(stack, BUPATI_NIP, cycle, "TRAINING_AMENDMENT_APPROVAL", "APPROVED")
    await until(stack, HR, f"/api/v1/trainings/{year}", lambda j: j["plan"]["version"] == 2 and j["plan"]["budgets"]["DISKOMINFO"] == 12_000_000)

    # BKPSDM brings the reminder and the report forward (the defaults sit in Q4 and mid-January).
    soon = datetime.now(tr.WIB)
    r = await api.post(f"/api/v1/trainings/{year}/schedule", HR,
                       json={"reminders": [(soon - timedelta(hours=1)).isoformat()], "report_at": (soon + timedelta(seconds=3)).isoformat(), "reason": "uji"})
    assert r.status_code == 422
    reminder_at = (soon + timedelta(seconds=1)).isoformat()
    r = await api.post(f"/api/v1/trainings/{year}/schedule", HR,
                       json={"reminders": [reminder_at], "report_at": (soon + timedelta(seconds=3)).isoformat(), "reason": "Evaluasi akhir tahun dipercepat"})
    assert r.status_code == 200, r.text
    head_reminders = await until(stack, HEAD, "/api/v1/trainings/reminders", lambda j: any(x["audience"] == "HEAD" and x["below"] == 20 for x in j["data"]), year=year)
    assert head_reminders["data"][0]["unit"] == "DISKOMINFO"
    c_reminders = (await api.get("/api/v1/trainings/reminders", c, params={"year": year})).json()["data"]
    assert c_reminders and all(x["jp"] == 0 and x["audience"] == "EMPLOYEE" for x in c_reminders)
    a_latest = [x for x in (await api.get("/api/v1/trainings/reminders", a, params={"year": year})).json()["data"]
                if x["scheduled_for"] and datetime.fromisoformat(x["scheduled_for"].replace("Z", "+00:00")) >= soon]
    assert a_latest == []  # 32 JP: not reminded

    report = await until(stack, HR, f"/api/v1/trainings/{year}/compliance-report", lambda j: True)
    units = {u["unit"]: u for u in report["report"]["units"]}
    assert (units["DISKOMINFO"]["employees"], units["DISKOMINFO"]["compliant"], units["DISKOMINFO"]["pct"]) == (22, 2, 9.1)
    assert {"unit": "DISKOMINFO", "planned": 12_000_000, "held": 0, "committed": 7_000_000, "remaining": 5_000_000} in report["report"]["budget"]
    assert report["report"]["plan_version"] == 2
    assert (await api.get(f"/api/v1/trainings/{year}/compliance-report", a)).status_code == 403
    closed = await until(stack, HR, f"/api/v1/cases/{cycle}", lambda j: j["status"] == "completed")
    assert closed["outcome"]["compliant"] == report["report"]["overall"]["compliant"]
    history = (await api.get(f"/api/v1/cases/{cycle}/events", HR)).json()
    assert history["chain_intact"] is True
    names = [e["type"] for e in history["data"]]
    assert names.index("TrainingNeedsAnalysed") < names.index("TrainingPlanApproved") < names.index("TrainingPlanAmended") < names.index("ComplianceReportIssued")
    r = await api.post(enrol, c, json={"nip": c, "year": year, "course": "SOS-BERAKHLAK"})
    assert r.status_code == 409  # the year is closed

    # The views are a function of the events: rebuilt from the store they equal the live ones.
    live = await asyncio.to_thread(snapshot, stack.settings)
    assert await asyncio.to_thread(rebuild, stack.settings.store_env(), "training") > 0
    assert await asyncio.to_thread(snapshot, stack.settings) == live


async def test_latsar_hand_off_and_leadership_eligibility(stack: Stack) -> None:
    api = stack.api
    cpns = next(e for e in demo_employees() if e.nip[8:12] == "2025" and e.unit == "BPBD")
    body = {"nip": cpns.nip, "selection_case_id": "selection-2024-batanghari", "formation": "Analis Kebencanaan"}
    assert (await api.post("/api/v1/trainings/latsar", PEGAWAI_NIP, json=body)).status_code == 403
    r = await api.post("/api/v1/trainings/latsar", HR, json={**body, "tmt_cpns": "2025-06-15"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "tmt_cpns"
    r = await api.post("/api/v1/trainings/latsar", HR, json=body)
    assert r.status_code == 202 and r.json()["id"] == f"training-latsar-{cpns.nip}"
    assert (await api.post("/api/v1/trainings/latsar", HR, json=body)).status_code == 409
    listed = await until(stack, HR, "/api/v1/trainings/latsar", lambda j: j["count"] >= 1, unit="BPBD")
    row = listed["data"][0]
    assert row["nip"] == cpns.nip and row["tmt_cpns"] == f"2025-{cpns.nip[12:14]}-01" and row["status"] == "handed_off"
    await task(stack, HR, row["case_id"], "LATSAR_ENROLMENT")

    kabid = (await api.get("/api/v1/trainings/leadership-eligibility", KABID_APTIKA_NIP, params={"nip": KABID_APTIKA_NIP})).json()
    assert kabid["eligible"] and kabid["route"] == "ADMINISTRATOR" and kabid["selection_test_required"]
    staff_member = (await api.get("/api/v1/trainings/leadership-eligibility", PEGAWAI_NIP, params={"nip": PEGAWAI_NIP})).json()
    assert not staff_member["eligible"] and staff_member["reasons"]
    assert (await api.get("/api/v1/trainings/leadership-eligibility", PEGAWAI_NIP, params={"nip": KABID_APTIKA_NIP})).status_code == 404
    catalogue = (await api.get("/api/v1/trainings/catalogue", PEGAWAI_NIP)).json()
    assert catalogue["min_jp_per_year"] == 20 and {"KLASIKAL", "NON_KLASIKAL", "TUGAS_BELAJAR", "IZIN_BELAJAR"} == set(catalogue["forms"])
