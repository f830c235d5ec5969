"""Proof on one machine: two workers, two API processes and the projector as real processes against one
Temporal dev server and one PostgreSQL; a load spread over both APIs; one worker killed -9 mid-run.

Nothing is lost or doubled: every case's chain is whole with exactly the events a fault-free case has,
the store holds exactly the seed plus those events, and the projector's views agree with the store.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import EventStore, max_position
from asnflow.runtime.settings import Settings
from asnflow.workflows.evaluation import evaluation_case_id
from tests.integration.test_crashes import child_env, kill9, stop
from tests.integration.test_fault_drills import Ledger, check_cases, decision_for, store_count, subjects
from tests.support import client_address, make_settings, prepare_database, token_for

CASES = 60
# The views this proof reads: each projected view holds its own connections, and the machine's PostgreSQL is shared.
VIEW_ARGS = ("--view", "cases", "--view", "tasks", "--view", "audit_log")
RETRYABLE = (httpx.TransportError,)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn_role(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    """`asnflow <role>` as its own process, configured by environment variables only (as deploy/ runs it)."""
    log = (settings.data_dir / f"{'-'.join(args)}-{time.monotonic_ns()}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "asnflow.runtime.cli", *args],
        env={**child_env(settings), "ASNFLOW_DEV_MODE": "true", "ASNFLOW_READ_WAIT_SECONDS": "10"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def wait_ready(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get("/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never became ready")


class Load:
    """Starts the cases and decides each first task through the two APIs, alternating, retrying through faults."""

    def __init__(self, settings: Settings, apis: list[httpx.AsyncClient], ledger: Ledger) -> None:
        self.settings, self.apis, self.ledger = settings, apis, ledger
        self.requests: Counter[str] = Counter()
        self.turn = 0
        self.started = self.decided = 0

    async def call(self, path: str, nip: str, body: dict[str, Any], accept: tuple[int, ...]) -> httpx.Response:
        for attempt in range(120):
            api = self.apis[self.turn % len(self.apis)]
            self.turn += 1
            try:
                r = await api.post(path, json=body, headers={"Authorization": f"Bearer {token_for(self.settings, nip)}"})
            except RETRYABLE:
                r = None
            if r is not None:
                self.requests[str(api.base_url)] += 1
                if r.status_code in accept:
                    return r
                # 503: a dependency is restarting; 404: the task is in the store but its workflow is replaying on
                # the surviving worker after the kill (not yet registered). Both are worth another try.
                assert r.status_code in (503, 404), (path, r.status_code, r.text)
            await asyncio.sleep(0.25 if attempt < 20 else 1)
        raise AssertionError(f"{path} never succeeded")

    async def start(self, nip: str, year: int) -> None:
        # 409 only after an earlier attempt got through (one evaluation per NIP and year).
        await self.call("/api/v1/evaluations", nip, {"nip": nip, "year": year}, (202, 409))
        self.started += 1

    async def decide(self, task: dict[str, Any]) -> None:
        outcome, data = decision_for(task)
        r = await self.call(f"/api/v1/tasks/{task['task_id']}/decision", task["assignee_nip"], {"outcome": outcome, "data": data}, (200, 409))
        if r.status_code == 409:
            # Only acceptable when an earlier attempt's decision is recorded (the closed task refuses the retry).
            await self.ledger.refresh()
            assert self.ledger.closed[task["task_id"]] == 1, r.text
        self.decided += 1

    async def run(self, pairs: list[tuple[str, int]], timeout: float) -> None:
        case_ids = [evaluation_case_id(nip, year) for nip, year in pairs]
        sem = asyncio.Semaphore(12)

        async def limited(coro: Any) -> None:
            async with sem:
                await coro

        jobs = [asyncio.create_task(limited(self.start(nip, year))) for nip, year in pairs]
        deciding: set[str] = set()
        deadline = time.monotonic() + timeout
        try:
            while not all(self.ledger.reached_next_task(c) for c in case_ids):
                assert time.monotonic() < deadline, [c for c in case_ids if not self.ledger.reached_next_task(c)][:3]
                await self.ledger.refresh()
                for case_id in case_ids:
                    task = self.ledger.first_task(case_id)
                    if task is not None and case_id not in deciding:
                        deciding.add(case_id)
                        jobs.append(asyncio.create_task(limited(self.decide(task))))
                for job in jobs:
                    if job.done() and job.exception() is not None:
                        raise job.exception()  # type: ignore[misc]
                await asyncio.sleep(0.2)
            await asyncio.gather(*jobs)
        finally:
            for job in jobs:
                job.cancel()


async def test_two_workers_two_apis_and_the_projector_lose_nothing_when_a_worker_is_killed(
    fresh_database_url: str, dev_server_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    began = time.monotonic()
    settings = make_settings(fresh_database_url, tmp_path, client_address(dev_server_env.client))
    await asyncio.to_thread(prepare_database, settings)
    seeded = store_count(fresh_database_url)
    token_for(settings, pairs_nip := subjects(1)[0][0])  # the dev signing key exists before the APIs read it
    assert pairs_nip
    ports = [free_port(), free_port()]
    workers = [spawn_role(settings, "worker"), spawn_role(settings, "worker")]
    others = [spawn_role(settings, "projector", *VIEW_ARGS), *(spawn_role(settings, "api", "--port", str(p)) for p in ports)]
    store = EventStore(env=settings.store_env())
    apis = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{p}", timeout=30) for p in ports]
    try:
        await asyncio.gather(*(wait_ready(str(api.base_url)) for api in apis))
        load = Load(settings, apis, Ledger(store))
        pairs = subjects(CASES)

        killed_at: list[int] = []

        async def killer() -> None:
            # Mid-run: a third of the first tasks decided, many cases still starting or waiting on a decision.
            while load.decided < CASES // 3:
                await asyncio.sleep(0.05)
            kill9(workers[0])
            killed_at.append(load.decided)

        killing = asyncio.create_task(killer())
        print(f"stack ready after {time.monotonic() - began:.1f}s")
        await load.run(pairs, timeout=150)
        print(f"load done after {time.monotonic() - began:.1f}s")
        await asyncio.wait_for(killing, 1)
        assert workers[0].returncode == -signal.SIGKILL and workers[1].poll() is None
        assert load.decided == CASES and killed_at and killed_at[0] < CASES, killed_at

        case_ids = [evaluation_case_id(nip, year) for nip, year in pairs]
        implied = check_cases(store, case_ids)  # every chain whole, one decision each, each at its next task
        assert store_count(fresh_database_url) == seeded + implied  # none lost, none doubled, nothing stray
        # Both APIs carried the load.
        assert len(load.requests) == 2 and min(load.requests.values()) >= CASES // 2, load.requests

        # The projector process applied every event exactly once: views agree with the store.
        head = max_position(store)
        with psycopg.connect(fresh_database_url) as conn:
            for _ in range(100):
                tracked = conn.execute(
                    "SELECT least((SELECT max(notification_id) FROM cases_tracking),"
                    " (SELECT max(notification_id) FROM tasks_tracking), (SELECT max(notification_id) FROM audit_log_tracking))"
                ).fetchone()[0]
                conn.commit()
                if tracked == head:
                    break
                await asyncio.sleep(0.1)
            assert tracked == head
            cases = conn.execute("SELECT count(*), sum(event_count) FROM cases WHERE id = ANY(%s)", [case_ids]).fetchone()
            tasks = conn.execute(
                "SELECT status, count(*) FROM tasks WHERE case_id = ANY(%s) GROUP BY 1 ORDER BY 1", [case_ids]
            ).fetchall()
            audit = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        assert cases == (CASES, implied)
        assert tasks == [("done", CASES), ("open", CASES)]
        assert audit == seeded + implied
        elapsed = time.monotonic() - began
        # A figure, not an assertion (timed assertions flake on a shared machine): ~60-90 s here.
        print(f"{CASES} cases, {implied} events, requests {dict(load.requests)}, {elapsed:.1f}s in all")
    finally:
        for api in apis:
            await api.aclose()
        for proc in [*workers, *others]:
            if proc.poll() is None:
                stop(proc)
        store.close()
