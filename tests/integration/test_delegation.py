"""Acting officials over the API: a delegation routes the holder's tasks, decisions say "on behalf of", and it expires by itself."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import EventStore, read_case
from asnflow.projections.runner import run_projector
from asnflow.runtime.demo_org import demo_employees, demo_users
from asnflow.runtime.settings import Settings
from asnflow.workflows.contracts import Actor
from asnflow.workflows.deadline_contracts import ActingDecisionInput, Delegation
from asnflow.workflows.human_tasks import CaseWorkflow
from tests.support import ApiClient, api_client, client_address, make_settings
from tests.workflows.deadline_probe import DEADLINE_VIEWS, DeadlineProbeWorkflow, ProbeInput, prepare_views, probe_worker


@dataclass
class Stack:
    api: ApiClient
    settings: Settings
    store: EventStore
    env: WorkflowEnvironment


@pytest.fixture(scope="module")
async def time_skipping_env(temporal_test_server: str) -> AsyncIterator[WorkflowEnvironment]:
    """A test server of this module's own: other modules' unfinished workflows cannot hold its clock."""
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=temporal_test_server)
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
async def stack(time_skipping_env: WorkflowEnvironment, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    settings = make_settings(database_url, tmp_path_factory.mktemp("delegation"), client_address(time_skipping_env.client))
    prepare_views(settings)
    store = EventStore(env=settings.store_env())
    stop = threading.Event()
    projector = threading.Thread(target=run_projector, args=(settings.store_env(), DEADLINE_VIEWS, stop), daemon=True)
    projector.start()
    try:
        with ThreadPoolExecutor(6) as executor:
            async with probe_worker(time_skipping_env.client, settings, store, executor, cold=True):
                async with api_client(settings) as api:
                    yield Stack(api, settings, store, time_skipping_env)
    finally:
        stop.set()
        projector.join(timeout=10)
        store.close()


def people() -> tuple[Any, Any, Any, str]:
    """A demo user's employee, their superior (the holder), a colleague of the superior (acting), and an ADMIN."""
    by_nip = {e.nip: e for e in demo_employees()}
    users = {u["nip"] for u in demo_users()}
    for e in demo_employees():
        boss = by_nip.get(e.atasan_nip or "")
        if boss is None or e.nip in users or boss.nip in users:
            continue
        acting = next((c for c in demo_employees() if c.unit == boss.unit and c.nip not in (e.nip, boss.nip, boss.atasan_nip) and c.nip not in users), None)
        if acting is not None and len({x.nip for x in demo_employees() if x.atasan_nip == boss.nip}) > 1:
            admin = next(u["nip"] for u in demo_users() if "ADMIN" in u["roles"])
            return e, boss, acting, admin
    raise AssertionError("no suitable people in the demo organisation")


async def env_now(env: WorkflowEnvironment) -> datetime:
    t = await env.get_current_time()
    return t if t.tzinfo else t.replace(tzinfo=UTC)


async def poll(check: Any, what: str, tries: int = 300) -> Any:
    for _ in range(tries):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def delegation_status(api: ApiClient, nip: str, did: str) -> str:
    r = await api.get(f"/api/v1/delegations/{did}", nip)
    return str(r.json()["status"]) if r.status_code == 200 else ""


async def inbox(api: ApiClient, nip: str, case_id: str) -> list[dict[str, Any]]:
    r = await api.get("/api/v1/tasks", nip, params={"case_id": case_id})
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


async def start_case(stack: Stack, subject: Any, boss: Any) -> tuple[str, Any]:
    case_id = f"probe-{uuid.uuid4().hex[:10]}"
    handle = await stack.env.client.start_workflow(
        DeadlineProbeWorkflow.run,
        ProbeInput(case_id=case_id, subject_nip=subject.nip, kind="SKP_AGREEMENT", working_days=5, assignee_nip=boss.nip, unit=boss.unit),
        id=case_id, task_queue=stack.settings.task_queue,
    )
    return case_id, handle


async def test_a_delegation_routes_records_on_behalf_of_and_expires(stack: Stack) -> None:
    # The clock moves only when this test says so (awaiting a result would otherwise skip ahead to the next timer).
    with stack.env.auto_time_skipping_disabled():
        await delegation_scenario(stack)


async def delegation_scenario(stack: Stack) -> None:
    api, env = stack.api, stack.env
    employee, boss, acting, admin = people()
    t0 = await env_now(env)
    grant = {
        "type": "PLH", "principal_nip": boss.nip, "acting_nip": acting.nip, "starts_at": (t0 - timedelta(hours=1)).isoformat(),
        "ends_at": (t0 + timedelta(days=3)).isoformat(), "legal_basis": "Sprint 800/117/BKPSDMD/2026", "reason": "Dinas luar daerah",
    }
    # Only BKPSDM/ADMIN appoint a Plh; an acting official can never pass authority on.
    assert (await api.post("/api/v1/delegations", acting.nip, json=grant)).status_code == 403
    assert (await api.post("/api/v1/delegations", boss.nip, json=grant)).status_code == 403
    assert (await api.post("/api/v1/delegations", admin, json={**grant, "legal_basis": ""})).status_code == 422
    r = await api.post("/api/v1/delegations", admin, json=grant)
    assert r.status_code == 202, r.text
    did = r.json()["id"]
    await poll(lambda: _is(delegation_status(api, admin, did), "active"), "the delegation to be active")
    overlap = await api.post("/api/v1/delegations", admin, json={**grant, "acting_nip": employee.nip})
    assert overlap.status_code == 409, overlap.text

    # The holder's task reaches the acting official, marked "on behalf of".
    case_id, handle = await start_case(stack, employee, boss)
    task_id = f"{case_id}.t1"
    routed = await poll(lambda: inbox(api, acting.nip, case_id), "the task in the acting official's inbox")
    assert [(t["id"], t["on_behalf_of"], t["delegation_id"]) for t in routed] == [(task_id, boss.nip, did)]
    assert [t["on_behalf_of"] for t in await inbox(api, boss.nip, case_id)] == [None]  # still the holder's own
    assert [t["id"] for t in (await api.get("/api/v1/tasks", acting.nip, params={"scope": "delegated"})).json()["data"]] == [task_id]

    r = await api.post(f"/api/v1/tasks/{task_id}/decision", acting.nip, json={"outcome": "AGREED", "reason": "Atas nama Kepala"})
    assert r.status_code == 200, r.text
    assert r.json()["task"]["decided_by"] == acting.nip
    result = await handle.result()
    assert result.outcome == {"outcome": "AGREED", "by": acting.nip, "on_behalf_of": boss.nip}
    decided = [s.event for s in read_case(stack.store, case_id) if type(s.event).__name__ == "TaskDecided"]
    assert decided[0].actor == {"nip": acting.nip, "role": "PLH", "on_behalf_of": boss.nip}
    assert decided[0].payload["delegation_id"] == did and decided[0].payload["on_behalf_of"] == boss.nip
    events = await api.get(f"/api/v1/cases/{case_id}/events", admin)
    assert events.status_code == 200, events.text
    assert [e["actor"]["on_behalf_of"] for e in events.json()["data"] if e["type"] == "TaskDecided"] == [boss.nip]

    # The delegation ends by itself at its end date: no more routing, and the workflow refuses a stale record.
    case2, handle2 = await start_case(stack, employee, boss)
    task2 = f"{case2}.t1"
    await poll(lambda: inbox(api, acting.nip, case2), "the second task routed")
    await env.sleep(timedelta(days=4))
    await poll(lambda: _is(delegation_status(api, admin, did), "expired"), "the delegation to expire")
    assert await inbox(api, acting.nip, case2) == []
    r = await api.post(f"/api/v1/tasks/{task2}/decision", acting.nip, json={"outcome": "AGREED"})
    assert r.status_code == 403, r.text
    stale = Delegation(
        delegation_id=did, type="PLH", principal_nip=boss.nip, acting_nip=acting.nip, starts_at=grant["starts_at"],
        ends_at=grant["ends_at"], principal_roles=["PEGAWAI", "ATASAN"], principal_unit=boss.unit,
    )
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle2.execute_update(
            CaseWorkflow.decide,
            ActingDecisionInput(task_id=task2, actor=Actor(nip=acting.nip, roles=["PEGAWAI"], unit=acting.unit, on_behalf_of=boss.nip), outcome="AGREED", delegation=stale),
        )
    assert isinstance(info.value.cause, ApplicationError) and info.value.cause.type == "Forbidden"
    assert "not in force" in str(info.value.cause)
    ended = [type(s.event).__name__ for s in read_case(stack.store, did)]
    assert ended == ["CaseOpened", "DelegationGranted", "DelegationEnded", "CaseClosed"]
    await save_history(env.client, did, "delegation-expired")

    # Both sides were told in-app, at the grant and at the end.
    r = await api.get("/api/v1/notifications", acting.nip, params={"kind": "delegation"}, headers={"Accept-Language": "en"})
    titles = [n["title"] for n in r.json()["data"]]
    assert any("You are appointed" in t for t in titles) and any("has ended" in t for t in titles), titles

    # Out-of-office substitution the same way: the holder names a substitute, then revokes it.
    t1 = await env_now(env)
    sub = {**grant, "type": "SUBSTITUTE", "legal_basis": "", "starts_at": t1.isoformat(), "ends_at": (t1 + timedelta(days=2)).isoformat()}
    r = await api.post("/api/v1/delegations", boss.nip, json=sub)
    assert r.status_code == 202, r.text
    sid = r.json()["id"]
    await poll(lambda: _is(delegation_status(api, boss.nip, sid), "active"), "the substitute to be active")
    await poll(lambda: inbox(api, acting.nip, case2), "the task routed to the substitute")
    assert (await api.post(f"/api/v1/delegations/{sid}/revoke", acting.nip, json={"reason": "x"})).status_code == 403
    r = await api.post(f"/api/v1/delegations/{sid}/revoke", boss.nip, json={"reason": "Sudah kembali ke kantor"})
    assert r.status_code == 200 and r.json()["status"] == "revoked", r.text
    await save_history(env.client, sid, "delegation-revoked")
    assert await inbox(api, acting.nip, case2) == []
    r = await api.post(f"/api/v1/tasks/{task2}/decision", boss.nip, json={"outcome": "AGREED"})
    assert r.status_code == 200, r.text
    assert (await handle2.result()).outcome["on_behalf_of"] is None


async def save_history(client: Any, workflow_id: str, name: str) -> None:
    """Refresh a replay fixture when asked to (ASNFLOW_RECORD_HISTORIES=1)."""
    if os.environ.get("ASNFLOW_RECORD_HISTORIES") == "1":
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        (Path(__file__).parents[1] / "workflows" / "histories" / f"{name}.json").write_text(history.to_json())


async def _is(status: Any, expected: str) -> bool:
    return bool(await status == expected)
