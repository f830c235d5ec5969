"""The API over the real stack: dev server, worker, projector and PostgreSQL, in this process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import max_position
from asnflow.runtime.demo_org import demo_employees, demo_users
from tests.support import Stack, api_client, api_stack, open_task


@pytest.fixture(scope="module")
async def stack(dev_server_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with api_stack(dev_server_env.client, tmp_path_factory.mktemp("api"), "asnflow_api", None) as s:
        yield s


def demo(role_word: str) -> dict:
    return next(u for u in demo_users() if role_word in u["roles"])


def employee_and_boss() -> tuple[str, str]:
    """The demo employee (only PEGAWAI) whose superior is a demo user."""
    users = {u["nip"] for u in demo_users()}
    by_nip = {e.nip: e for e in demo_employees()}
    for u in demo_users():
        e = by_nip.get(u["nip"])
        if e is not None and u["roles"] == ["PEGAWAI"] and e.atasan_nip in users:
            return e.nip, e.atasan_nip  # type: ignore[return-value]
    raise AssertionError("the demo organisation has no employee under a demo supervisor")


async def test_supervisor_decides_from_the_inbox_and_the_history_shows_it(stack: Stack) -> None:
    employee, boss = employee_and_boss()
    r = await stack.api.post("/api/v1/evaluations", employee, json={"nip": employee, "year": 2026})
    assert r.status_code == 202, r.text
    case_id = r.json()["id"]
    again = await stack.api.post("/api/v1/evaluations", boss, json={"nip": employee, "year": 2026})
    assert again.status_code == 409 and again.json()["message_en"]

    task = await open_task(stack, employee, case_id, "SKP_DRAFT")
    assert task["assignee_nip"] == employee and task["outcomes"] == ["SUBMITTED"] and task["due_at"]
    skp = {"targets": [{"indikator": "Dokumen kepegawaian terverifikasi", "target": "100%"}]}
    r = await stack.api.post(f"/api/v1/tasks/{task['id']}/decision", employee, json={"outcome": "SUBMITTED", "data": skp})
    assert r.status_code == 200, r.text
    assert r.json()["task"]["status"] == "done"  # read-your-writes: the view already shows it

    inbox = await open_task(stack, boss, case_id, "SKP_AGREEMENT")
    before = max_position(stack.store)
    # Refusals: each gets its status and a bilingual message, and records nothing.
    r = await stack.api.post(f"/api/v1/tasks/{inbox['id']}/decision", employee, json={"outcome": "AGREED"})
    assert r.status_code == 403 and r.json()["message_id"] and r.json()["message_en"]
    r = await stack.api.post(f"/api/v1/tasks/{inbox['id']}/decision", boss, json={"outcome": "MAYBE"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "outcome"
    r = await stack.api.post(f"/api/v1/tasks/{inbox['id']}/decision", boss, json={"reason": 5})
    assert r.status_code == 422
    r = await stack.api.post(f"/api/v1/tasks/{inbox['id']}/decision", json={"outcome": "AGREED"})
    assert r.status_code == 401
    r = await stack.api.post(f"/api/v1/tasks/{task['id']}/decision", employee, json={"outcome": "SUBMITTED", "data": skp})
    assert r.status_code == 409
    assert max_position(stack.store) == before

    r = await stack.api.post(
        f"/api/v1/tasks/{inbox['id']}/decision", boss, json={"outcome": "AGREED", "reason": "Sesuai rencana strategis"},
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 200, r.text

    r = await stack.api.get(f"/api/v1/cases/{case_id}/events", boss)
    assert r.status_code == 200
    history = r.json()
    assert history["chain_intact"] is True
    decided = [e for e in history["data"] if e["type"] == "TaskDecided"]
    assert decided[-1]["actor"]["nip"] == boss and decided[-1]["payload"]["outcome"] == "AGREED"
    assert all(e["hash_valid"] for e in history["data"])

    r = await stack.api.get(f"/api/v1/cases/{case_id}", employee)
    assert r.status_code == 200 and r.json()["subject_nip"] == employee and r.json()["status"] == "open"
    auditor = demo("AUDITOR")["nip"]
    last = history["data"][-1]["position"]
    r = await stack.api.get("/api/v1/audit/events", auditor, params={"case_id": case_id, "min_position": last})
    assert r.status_code == 200 and len(r.json()["data"]) == history["data"][-1]["version"]
    assert all(e["hash_valid"] for e in r.json()["data"])
    r = await stack.api.get("/api/v1/audit/verify", auditor)
    assert r.status_code == 200 and r.json()["ok"] is True
    r = await stack.api.get("/api/v1/audit/events", employee)
    assert r.status_code == 403


async def test_bulk_decisions_report_each_item(stack: Stack) -> None:
    employee, boss = employee_and_boss()
    r = await stack.api.post("/api/v1/evaluations", boss, json={"nip": employee, "year": 2027})
    assert r.status_code == 202
    case_id = r.json()["id"]
    task = await open_task(stack, employee, case_id, "SKP_DRAFT")
    skp = {"targets": [{"indikator": "Arsip tertata", "target": "12 bulan"}]}
    r = await stack.api.post(
        "/api/v1/tasks/decisions", employee,
        json={"items": [
            {"task_id": task["id"], "outcome": "SUBMITTED", "data": skp},
            {"task_id": task["id"], "outcome": "SUBMITTED", "data": skp},
            {"task_id": "nope", "outcome": "X"},
        ]},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [i["status"] for i in body["results"]] == [200, 409, 404]
    assert body["succeeded"] == 1 and body["failed"] == 2

    agreement = await open_task(stack, boss, case_id, "SKP_AGREEMENT")
    r = await stack.api.post(f"/api/v1/tasks/{agreement['id']}/cancel", boss, json={"reason": "salah input"})
    assert r.status_code == 403
    admin = demo("ADMIN")["nip"]
    r = await stack.api.post(f"/api/v1/tasks/{agreement['id']}/cancel", admin, json={"reason": "pegawai dimutasi"})
    assert r.status_code == 200, r.text
    assert r.json()["task"]["status"] == "cancelled"
    for _ in range(100):
        case = (await stack.api.get(f"/api/v1/cases/{case_id}", admin)).json()
        if case["status"] == "cancelled":
            break
        await asyncio.sleep(0.05)
    assert case["status"] == "cancelled" and case["closed_at"]


async def test_unknown_nip_and_wrong_starter_are_refused(stack: Stack) -> None:
    employee, boss = employee_and_boss()
    r = await stack.api.post("/api/v1/evaluations", employee, json={"nip": "199001012015011999", "year": 2026})
    assert r.status_code == 422
    r = await stack.api.post("/api/v1/evaluations", employee, json={"nip": "12", "year": 2026})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "nip"
    other = next(e.nip for e in demo_employees() if e.nip not in (employee, boss) and e.atasan_nip not in (employee,))
    r = await stack.api.post("/api/v1/evaluations", employee, json={"nip": other, "year": 2026})
    assert r.status_code == 403


async def test_ready_stays_ready_after_requests_have_used_the_pool(stack: Stack) -> None:
    """A pooled connection returns to the pool pointed at no tenant; readiness must not depend on it."""
    employee, _ = employee_and_boss()
    async with api_client(stack.settings) as api:  # a fresh app: its pool holds only connections used below
        for _ in range(3):
            assert (await api.get("/api/v1/tasks", employee)).status_code == 200
            r = await api.get("/ready")
            assert r.status_code == 200, r.text


async def test_dependencies_down_give_503_with_retry_after(stack: Stack, tmp_path: Path) -> None:
    employee, _ = employee_and_boss()
    no_temporal = stack.settings.model_copy(update={"temporal_address": "127.0.0.1:1"})
    async with api_client(no_temporal) as api:
        r = await api.post("/api/v1/evaluations", employee, json={"nip": employee, "year": 2030})
        assert r.status_code == 503 and r.headers["Retry-After"]
        r = await api.get("/ready")
        assert r.status_code == 503
    no_db = stack.settings.model_copy(update={"database_url": "postgresql://postgres@127.0.0.1:1/asnflow"})
    async with api_client(no_db) as api:
        r = await api.get("/api/v1/tasks", employee)
        assert r.status_code == 503 and r.headers["Retry-After"] and "message_en" in r.json()
        r = await api.get("/ready")
        assert r.status_code == 503 and r.json()["checks"]["database"].startswith("unavailable")


async def test_declared_relatives_never_decide_each_others_cases(stack: Stack) -> None:
    employee, boss = employee_and_boss()
    r = await stack.api.post("/api/v1/kinship", boss, json={"relative_nip": employee, "relation": "BESTIE"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "relation"
    r = await stack.api.post("/api/v1/kinship", boss, json={"relative_nip": boss, "relation": "IPAR"})
    assert r.status_code == 422
    r = await stack.api.post("/api/v1/kinship", boss, json={"relative_nip": employee, "relation": "IPAR"})
    assert r.status_code == 201, r.text
    assert (await stack.api.post("/api/v1/kinship", boss, json={"relative_nip": employee, "relation": "IPAR"})).status_code == 409
    mine = (await stack.api.get("/api/v1/kinship", employee)).json()
    assert [(k["nip"], k["relative_nip"]) for k in mine["data"]] == [(boss, employee)]  # the employee sees it too

    r = await stack.api.post("/api/v1/evaluations", employee, json={"nip": employee, "year": 2025})
    assert r.status_code == 202, r.text
    case_id = r.json()["id"]
    task = await open_task(stack, employee, case_id, "SKP_DRAFT")
    skp = {"targets": [{"indikator": "Arsip digital", "target": "100%"}]}
    assert (await stack.api.post(f"/api/v1/tasks/{task['id']}/decision", employee, json={"outcome": "SUBMITTED", "data": skp})).status_code == 200
    agreement = await open_task(stack, boss, case_id, "SKP_AGREEMENT")
    before = max_position(stack.store)
    r = await stack.api.post(f"/api/v1/tasks/{agreement['id']}/decision", boss, json={"outcome": "AGREED", "reason": "ok"})
    assert r.status_code == 403 and r.json()["problems"][0]["rule"].startswith("anti-nepotism")
    assert max_position(stack.store) == before  # refused before anything was written

    r = await stack.api.post("/api/v1/kinship/withdraw", boss, json={"relative_nip": employee, "reason": "salah input"})
    assert r.status_code == 200
    r = await stack.api.post(f"/api/v1/tasks/{agreement['id']}/decision", boss, json={"outcome": "AGREED", "reason": "ok"})
    assert r.status_code == 200, r.text


async def test_a_task_shown_before_its_case_registers_it_is_waited_for_then_503(stack: Stack) -> None:
    """The view can show a TaskOpened before the case's workflow task completes: the API retries, then says 503, never 404."""
    employee, boss = employee_and_boss()
    # A year of its own: every module shares the session's Temporal server, where case ids are per NIP and year.
    r = await stack.api.post("/api/v1/evaluations", boss, json={"nip": employee, "year": 2029})
    assert r.status_code == 202, r.text
    case_id = r.json()["id"]
    task = await open_task(stack, employee, case_id, "SKP_DRAFT")
    unborn = f"{case_id}.t99"  # shown open by the view, never opened by the case: it stays unregistered
    url = stack.settings.database_url
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("CREATE TEMP TABLE shown AS SELECT * FROM tasks WHERE id = %s", [task["id"]])
        await conn.execute("UPDATE shown SET id = %s", [unborn])
        await conn.execute("INSERT INTO tasks SELECT * FROM shown")
        try:
            before = max_position(stack.store)
            skp = {"targets": [{"indikator": "Arsip tertata", "target": "12 bulan"}]}
            r = await stack.api.post(f"/api/v1/tasks/{unborn}/decision", employee, json={"outcome": "SUBMITTED", "data": skp})
            assert r.status_code == 503 and r.headers["Retry-After"] == "1", r.text
            assert r.json()["message_id"].startswith("Tugas sedang disiapkan") and r.json()["message_en"]
            assert max_position(stack.store) == before  # refused: nothing recorded
        finally:
            await conn.execute("DELETE FROM tasks WHERE id = %s", [unborn])
    r = await stack.api.post(f"/api/v1/tasks/{unborn}/decision", employee, json={"outcome": "SUBMITTED", "data": skp})
    assert r.status_code == 404, r.text  # unknown to the view and the case alike
    r = await stack.api.post(f"/api/v1/tasks/{task['id']}/decision", employee, json={"outcome": "SUBMITTED", "data": skp})
    assert r.status_code == 200, r.text
