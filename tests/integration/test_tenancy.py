"""Two regencies on one stack: each sees, claims, decides and audits only its own cases, events and people."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import psycopg
import pytest
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import max_position, read_case
from asnflow.domain.events import hash_of
from asnflow.projections.views import PROJECTIONS
from asnflow.runtime import demo_muarojambi as mj
from asnflow.runtime.demo_org import AUDITOR_NIP, KABID_APTIKA_NIP, PEGAWAI_NIP
from asnflow.runtime.demo_org import ADMIN_NIP as BH_ADMIN
from tests.support import Stack, api_stack, open_task

YEAR = 2031  # an evaluation year no other module of the session starts for these employees
SKP = {"targets": [{"indikator": "Layanan aplikasi tersedia", "target": "99%"}]}


@pytest.fixture(scope="module")
async def stack(dev_server_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    # Only the views these tests read are projected (each runner holds connections; PostgreSQL is shared).
    views = ["employees", "cases", "tasks", "audit_log", "delegations", "evaluation", "complaints"]
    async with api_stack(dev_server_env.client, tmp_path_factory.mktemp("tenancy"), "asnflow_tenancy", views) as s:
        yield s


async def start_and_submit(stack: Stack, employee: str, boss: str) -> tuple[str, dict]:
    """An evaluation whose SKP is drafted: returns the case id and the boss's open SKP_AGREEMENT task."""
    # 2031: the session's dev server is shared, and test_api starts this employee's 2026 case.
    r = await stack.api.post("/api/v1/evaluations", employee, json={"nip": employee, "year": YEAR})
    assert r.status_code == 202, r.text
    case_id = r.json()["id"]
    draft = await open_task(stack, employee, case_id, "SKP_DRAFT")
    r = await stack.api.post(f"/api/v1/tasks/{draft['id']}/decision", employee, json={"outcome": "SUBMITTED", "data": SKP})
    assert r.status_code == 200, r.text
    return case_id, await open_task(stack, boss, case_id, "SKP_AGREEMENT")


async def test_each_regency_sees_and_acts_on_its_own_cases_only(stack: Stack) -> None:
    mj_case, mj_task = await start_and_submit(stack, mj.PEGAWAI_NIP, mj.KABID_NIP)
    bh_case, bh_task = await start_and_submit(stack, PEGAWAI_NIP, KABID_APTIKA_NIP)
    # The tenant is part of the case's identity; the default tenant's ids are as before tenancy.
    assert mj_case == f"muarojambi.evaluation-{YEAR}-{mj.PEGAWAI_NIP}" and bh_case == f"evaluation-{YEAR}-{PEGAWAI_NIP}"

    # Inboxes and the oversight view of all tasks: one's own tenant only.
    for nip, own, other in ((BH_ADMIN, bh_case, mj_case), (mj.ADMIN_NIP, mj_case, bh_case)):
        r = await stack.api.get("/api/v1/tasks", nip, params={"scope": "all", "status": "any", "limit": 500})
        cases = {t["case_id"] for t in r.json()["data"]}
        assert own in cases and other not in cases, nip
    r = await stack.api.get("/api/v1/tasks", KABID_APTIKA_NIP)
    assert all(not t["case_id"].startswith("muarojambi.") for t in r.json()["data"])
    assert (await stack.api.get(f"/api/v1/tasks/{mj_task['id']}", BH_ADMIN)).status_code == 404
    assert (await stack.api.get(f"/api/v1/tasks/{mj_task['id']}", mj.KABID_NIP)).status_code == 200

    # Commands on another tenant's task are refused as unknown, and record nothing.
    before = max_position(stack.store)
    for nip in (BH_ADMIN, KABID_APTIKA_NIP):
        assert (await stack.api.post(f"/api/v1/tasks/{mj_task['id']}/claim", nip)).status_code == 404
        r = await stack.api.post(f"/api/v1/tasks/{mj_task['id']}/decision", nip, json={"outcome": "AGREED"})
        assert r.status_code == 404 and r.json()["message_id"] and r.json()["message_en"]
    r = await stack.api.post(f"/api/v1/tasks/{bh_task['id']}/decision", mj.KABID_NIP, json={"outcome": "AGREED"})
    assert r.status_code == 404
    assert max_position(stack.store) == before

    # Cases and their histories.
    r = await stack.api.get("/api/v1/cases", BH_ADMIN, params={"limit": 500})
    assert bh_case in {c["id"] for c in r.json()["data"]} and mj_case not in {c["id"] for c in r.json()["data"]}
    r = await stack.api.get("/api/v1/cases", mj.ADMIN_NIP, params={"limit": 500})
    assert {c["id"] for c in r.json()["data"]} == {mj_case}
    for path in (f"/api/v1/cases/{mj_case}", f"/api/v1/cases/{mj_case}/events"):
        assert (await stack.api.get(path, BH_ADMIN)).status_code == 404, path
        assert (await stack.api.get(path, AUDITOR_NIP)).status_code == 404, path
    r = await stack.api.get(f"/api/v1/cases/{mj_case}/events", mj.AUDITOR_NIP)
    assert r.status_code == 200 and r.json()["chain_intact"] is True
    assert {e["tenant"] for e in r.json()["data"]} == {"muarojambi"}
    r = await stack.api.get(f"/api/v1/cases/{bh_case}/events", AUDITOR_NIP)
    assert {e["tenant"] for e in r.json()["data"]} == {"batanghari"}

    # The decision goes on in its own tenant.
    r = await stack.api.post(f"/api/v1/tasks/{mj_task['id']}/decision", mj.KABID_NIP, json={"outcome": "AGREED"})
    assert r.status_code == 200, r.text


async def test_audit_is_per_tenant(stack: Stack) -> None:
    mj_case, _ = await start_and_submit(stack, mj.PEGAWAI_2_NIP, mj.KABID_NIP)
    last = max_position(stack.store)
    r = await stack.api.get("/api/v1/audit/events", mj.AUDITOR_NIP, params={"min_position": last, "limit": 1000})
    assert r.status_code == 200
    rows = r.json()["data"]
    assert rows and {e["tenant"] for e in rows} == {"muarojambi"} and all(e["hash_valid"] for e in rows)
    assert mj_case in {e["case_id"] for e in rows}
    r = await stack.api.get("/api/v1/audit/events", AUDITOR_NIP, params={"min_position": last, "limit": 1000})
    assert rows and all(e["tenant"] == "batanghari" for e in r.json()["data"])
    assert mj_case not in {e["case_id"] for e in r.json()["data"]}

    r = await stack.api.get("/api/v1/audit/export", mj.AUDITOR_NIP, params={"format": "jsonl"})
    assert r.status_code == 200, r.text
    exported = [json.loads(line) for line in r.text.splitlines()]
    assert exported and {e["tenant"] for e in exported} == {"muarojambi"} and all(e["hash_valid"] for e in exported)
    # The auditor's own reads are recorded in their tenant's access log.
    assert any(e["case_id"].startswith(f"muarojambi.audit-access-{mj.AUDITOR_NIP}-") for e in exported)
    r = await stack.api.get("/api/v1/audit/export", AUDITOR_NIP, params={"format": "jsonl"})
    assert all(json.loads(line)["tenant"] == "batanghari" for line in r.text.splitlines())

    for path in (f"/api/v1/audit/cases/{mj_case}", f"/api/v1/audit/cases/{mj_case}/hold", f"/api/v1/audit/cases/{mj_case}/bundle"):
        assert (await stack.api.get(path, AUDITOR_NIP)).status_code == 404, path
    assert (await stack.api.get(f"/api/v1/audit/cases/{mj_case}", mj.AUDITOR_NIP)).status_code == 200
    r = await stack.api.get("/api/v1/audit/verify", mj.AUDITOR_NIP, params={"case_id": mj_case})
    assert r.status_code == 200 and r.json()["ok"] is True
    assert (await stack.api.get("/api/v1/audit/verify", AUDITOR_NIP, params={"case_id": mj_case})).status_code == 404

    # A non-legacy tenant is bound into each hash: moving an event to another tenant breaks its chain.
    stored = read_case(stack.store, mj_case)
    assert stored and all(hash_of(s.event) == s.event.hash for s in stored)
    moved = stored[0].event.__class__.__new__(stored[0].event.__class__)
    moved.__dict__.update({**stored[0].event.__dict__, "tenant": "batanghari"})
    assert hash_of(moved) != stored[0].event.hash


async def test_directory_me_and_dashboards_are_per_tenant(stack: Stack) -> None:
    r = await stack.api.get("/api/v1/me", mj.PEGAWAI_NIP)
    assert r.json()["tenant"] == "muarojambi"
    assert (await stack.api.get("/api/v1/me", PEGAWAI_NIP)).json()["tenant"] == "batanghari"
    assert (await stack.api.get(f"/api/v1/employees/{mj.PEGAWAI_NIP}", BH_ADMIN)).status_code == 404
    assert (await stack.api.get(f"/api/v1/employees/{PEGAWAI_NIP}", mj.ADMIN_NIP)).status_code == 404
    assert (await stack.api.get(f"/api/v1/employees/{mj.PEGAWAI_NIP}", mj.ADMIN_NIP)).status_code == 200
    assert (await stack.api.get(f"/api/v1/employees/{PEGAWAI_NIP}/history", mj.ADMIN_NIP)).status_code == 404
    r = await stack.api.get(f"/api/v1/employees/{mj.PEGAWAI_NIP}/history", mj.ADMIN_NIP)
    assert r.status_code == 200 and r.json()["data"][0]["type"] == "EmployeeRegistered"

    await start_and_submit(stack, mj.ADMIN_NIP, mj.KABID_NIP)
    mj_units = {mj.SETDA, mj.BKPSDMD, mj.DISKOMINFO, mj.INSPEKTORAT}
    r = await stack.api.get("/api/v1/stats/waiting", mj.ADMIN_NIP)
    assert r.status_code == 200 and r.json()["data"] and {row["unit"] for row in r.json()["data"]} <= mj_units
    r = await stack.api.get("/api/v1/stats/waiting", BH_ADMIN)
    assert not {row["unit"] for row in r.json()["data"]} & mj_units
    r = await stack.api.get("/api/v1/stats/cases", mj.ADMIN_NIP)
    counts = {(row["process"], row["status"]): row["count"] for row in r.json()["data"]}
    with psycopg.connect(stack.settings.database_url) as conn:
        expected = conn.execute("SELECT count(*) FROM cases WHERE tenant = 'muarojambi' AND process = 'evaluation'").fetchone()
    assert counts[("evaluation", "open")] == expected[0] >= 2


async def test_processes_not_yet_kept_apart_refuse_other_tenants(stack: Stack) -> None:
    r = await stack.api.post("/api/v1/trainings", mj.KEPALA_BKPSDMD_NIP, json={"year": 2026})
    assert r.status_code == 409 and "muarojambi" in r.json()["message_en"]


def test_every_view_table_has_a_tenant_column(stack: Stack) -> None:
    # Every table a view creates is declared (tests/unit/test_tenancy.py); each declared one has the column.
    declared = {t for _, view in PROJECTIONS.values() for t in (*view.tables, *view.kept_tables)}
    with psycopg.connect(stack.settings.database_url) as conn:
        missing = conn.execute(
            "SELECT t.tablename FROM pg_tables t WHERE t.schemaname = 'public' AND t.tablename = ANY(%s) AND NOT EXISTS"
            " (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = 'public' AND c.table_name = t.tablename"
            " AND c.column_name = 'tenant')",
            [sorted(declared)],
        ).fetchall()
        present = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY(%s)", [sorted(declared)]).fetchone()
    assert missing == [] and present[0] == len(declared)


def test_tenant_schema_names_are_safe_identifiers() -> None:
    from asnflow.api.tenancy import schema_of

    assert schema_of("muarojambi") == "tenant_muarojambi"
    with pytest.raises(ValueError):
        schema_of("x; DROP TABLE cases")


async def test_a_season_kick_off_starts_its_own_tenants_cases_only(stack: Stack) -> None:
    r = await stack.api.post("/api/v1/evaluations/season", mj.KEPALA_BKPSDMD_NIP, json={"year": 2027})
    assert r.status_code == 202, r.text
    season = r.json()["id"]
    assert season.startswith("muarojambi.")
    for _ in range(600):
        r = await stack.api.get(f"/api/v1/cases/{season}", mj.KEPALA_BKPSDMD_NIP)
        if r.status_code == 200 and r.json()["status"] == "completed":
            break
        await asyncio.sleep(0.1)
    assert r.json()["status"] == "completed" and r.json()["outcome"]["started"] == len(mj.employees()), r.json()
    ids: set[str] = set()
    for _ in range(600):
        r = await stack.api.get("/api/v1/cases", mj.ADMIN_NIP, params={"process": "evaluation", "limit": 500})
        ids = {c["id"] for c in r.json()["data"] if "-2027-" in c["id"]}
        if len(ids) == len(mj.employees()):
            break
        await asyncio.sleep(0.1)
    assert ids == {f"muarojambi.evaluation-2027-{e.nip}" for e in mj.employees()}
    r = await stack.api.get("/api/v1/cases", BH_ADMIN, params={"process": "evaluation", "limit": 500})
    assert not [c for c in r.json()["data"] if "-2027-" in c["id"]]
    with psycopg.connect(stack.settings.database_url) as conn:
        tenants = conn.execute("SELECT DISTINCT tenant FROM cases WHERE id LIKE %s", ["%evaluation-2027-%"]).fetchall()
    assert tenants == [("muarojambi",)]


async def test_the_public_complaint_desk_names_its_tenant(stack: Stack) -> None:
    body = {
        "kind": "PENGADUAN", "unit": "DISKOMINFO", "anonymous": True, "attachments": [],
        "description": "Permohonan akun layanan daring tidak diproses dua minggu (uji instansi).",
    }
    r = await stack.api.post("/api/v1/complaints", params={"tenant": "muarojambi"}, json=body)
    assert r.status_code == 409 and "muarojambi" in r.json()["message_en"]
    assert (await stack.api.post("/api/v1/complaints", params={"tenant": "Muaro Jambi"}, json=body)).status_code == 422
    r = await stack.api.post("/api/v1/complaints", json=body)
    assert r.status_code in (200, 201, 202), r.text
    code = r.json()["code"]
    for _ in range(200):
        if (await stack.api.get(f"/api/v1/complaints/{code}")).status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert (await stack.api.get(f"/api/v1/complaints/{code}")).status_code == 200
    # Tracked at another tenant's desk, the code is unknown.
    assert (await stack.api.get(f"/api/v1/complaints/{code}", params={"tenant": "muarojambi"})).status_code == 404
