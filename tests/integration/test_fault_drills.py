"""Fault drills under load: the worker killed three times, PostgreSQL backends terminated, Temporal restarted.

The worker drill drives 500 real evaluation cases to their end (every task each case and its unit's
calibration opens, decided by its assignee with data by kind); the others drive cases through their
first decision. Then each checks the store: every case reached the state a fault-free case reaches,
each chain is whole (versions 1..n, hashes linked), and the event count is exactly what the cases
imply: none lost, none doubled.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from asnflow.activities.eventstore import EventStore, read_case, read_log
from asnflow.activities.temporal_client import connect_temporal
from asnflow.domain.events import GENESIS_HASH, hash_of
from asnflow.runtime.demo_org import BUPATI_NIP as BUPATI
from asnflow.runtime.demo_org import demo_employees
from asnflow.runtime.services import TemporalDevServer
from asnflow.runtime.settings import Settings
from asnflow.workflows.contracts import ERR_NOT_FOUND, Actor, DecisionInput, StartEvaluationInput
from asnflow.workflows.evaluation import EvaluationWorkflow, evaluation_case_id
from asnflow.workflows.human_tasks import CaseWorkflow
from tests.conftest import ADMIN_URL
from tests.integration.test_crashes import kill9, spawn, stop
from tests.support import ApiClient, api_client, make_settings, prepare_database

YEARS = (2024, 2025)  # past years: every case starts with its ordinary first task and can run to its end now
SKP = {"targets": [{"indikator": "Layanan kepegawaian terselesaikan tepat waktu", "target": "12 dokumen"}]}
# As expected: also what a unit head's work results are when the organisation predicate is Baik.
RATING = {"hasil_kerja": "SESUAI_EKSPEKTASI", "perilaku_kerja": "SESUAI_EKSPEKTASI"}
# The decision a drill makes on a task, by kind; other kinds take their first outcome with no data.
DECISIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "SKP_DRAFT": ("SUBMITTED", SKP),
    "SKP_AGREEMENT": ("AGREED", {}),
    "RATING": ("SUBMITTED", RATING),
    "ACKNOWLEDGEMENT": ("ACKNOWLEDGED", {}),
    "CHECK_IN": ("RECORDED", {"feedback": "Capaian sesuai rencana"}),
    "ORG_PREDICATE": ("SET", {"predicate": "BAIK"}),
    "CALIBRATION": ("CALIBRATED", {"adjustments": [], "quota_justification": "Distribusi mengikuti kinerja nyata unit (drill)"}),
}
# Per case, the event types a step may record more than once (one per task, check-in or round).
REPEATED = {
    "TaskOpened", "TaskDecided", "CheckInRecorded", "CalibrationRoundOpened", "UnitCalibrated", "CalibrationResultSent",
    "UnitHeadsInformed",
}
TASK_CLOSERS = ("TaskDecided", "TaskCancelled")
# Nothing decided and no case closed for this long: the drill is stuck, not slow (a new worker replays in seconds).
STALL = 180


def decision_for(task: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return DECISIONS.get(task["kind"], (task["outcomes"][0], {}))


def subjects(n: int) -> list[tuple[str, int]]:
    """(nip, year) of n cases: staff with a superior and an ordinary post, over the drill years."""
    staff = [e.nip for e in demo_employees() if e.atasan_nip and e.jenis_jabatan != "JPT"]
    pairs = [(nip, year) for year in YEARS for nip in staff]
    assert len(pairs) >= n, f"the demo organisation gives only {len(pairs)} cases"
    return pairs[:n]


@dataclass
class Ledger:
    """What the store says about the drill's cases, read from the global log as it grows."""

    store: EventStore
    position: int = 0
    opened: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # case -> TaskOpened payloads in order
    closed: Counter[str] = field(default_factory=Counter)  # task id -> closing events seen
    types: Counter[str] = field(default_factory=Counter)
    open_tasks: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # task id -> (case, TaskOpened payload)
    cases: set[str] = field(default_factory=set)  # every case opened, the calibrations included
    cases_closed: Counter[str] = field(default_factory=Counter)

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def refresh(self) -> None:
        # Deciders refresh too (to tell a recorded decision from a lost one): one reader at a time, or
        # two would apply the same page twice and move the position back under each other.
        async with self.lock:
            await self._refresh()

    async def _refresh(self) -> None:
        while page := await asyncio.to_thread(read_log, self.store, gt=self.position, limit=5000):
            for stored in page:
                event, name = stored.event, type(stored.event).__name__
                self.types[name] += 1
                if name == "TaskOpened":
                    self.opened.setdefault(event.case_id, []).append(event.payload)
                    self.open_tasks[event.payload["task_id"]] = (event.case_id, event.payload)
                elif name in TASK_CLOSERS:
                    self.closed[event.payload["task_id"]] += 1
                    self.open_tasks.pop(event.payload["task_id"], None)
                elif name == "CaseOpened":
                    self.cases.add(event.case_id)
                elif name == "CaseClosed":
                    self.cases_closed[event.case_id] += 1
            self.position = page[-1].position

    def first_task(self, case_id: str) -> dict[str, Any] | None:
        tasks = self.opened.get(case_id)
        return tasks[0] if tasks else None

    def reached_next_task(self, case_id: str) -> bool:
        """The first task is closed and a later one is open: where a fault-free case stands."""
        tasks = self.opened.get(case_id, [])
        return len(tasks) >= 2 and self.closed[tasks[0]["task_id"]] >= 1


class NotYetError(Exception):
    """The workflow has not registered a task the store already shows (it is replaying after a crash)."""


async def retrying(what: Callable[[], Awaitable[Any]], *, attempts: int = 240) -> Any:
    """Call until it stops failing for a reason a restarting server or worker gives (RPC errors, timeouts)."""
    for attempt in range(attempts):
        try:
            return await what()
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError, asyncio.TimeoutError, NotYetError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


@dataclass
class Driver:
    """Starts cases and decides each one's first task through Temporal, retrying through faults."""

    client: Client
    task_queue: str
    ledger: Ledger
    started: int = 0
    decided: int = 0

    async def start(self, nip: str, year: int) -> None:
        case_id = evaluation_case_id(nip, year)
        actor = Actor(nip=nip, roles=["PEGAWAI"])

        async def once() -> None:
            try:
                await self.client.start_workflow(
                    EvaluationWorkflow.run, StartEvaluationInput(case_id=case_id, nip=nip, year=year, started_by=actor),
                    id=case_id, task_queue=self.task_queue,
                )
            except WorkflowAlreadyStartedError:
                pass  # an earlier attempt got through before the fault

        await retrying(once)
        self.started += 1

    async def decide(self, case_id: str, task: dict[str, Any]) -> None:
        outcome, data = decision_for(task)
        if task["assignee_nip"]:
            actor = Actor(nip=task["assignee_nip"], roles=["PEGAWAI"], unit=task.get("unit"))
        else:  # a pool task: the Sekda's appraiser is the Bupati; other pools take whoever holds the role
            role = task["candidate_role"]
            actor = Actor(nip=BUPATI if role == "BUPATI" else None, roles=[role], unit=task.get("unit"))
        handle = self.client.get_workflow_handle(case_id)

        async def once() -> None:
            try:
                # One update id per task: a retry after a fault is the same update, never a second decision.
                await asyncio.wait_for(
                    handle.execute_update(
                        CaseWorkflow.decide, DecisionInput(task_id=task["task_id"], actor=actor, outcome=outcome, data=data),
                        id=f"drill-{task['task_id']}",
                    ),
                    30,
                )
            except WorkflowUpdateFailedError as exc:
                cause = exc.cause
                if isinstance(cause, ApplicationError) and cause.type == ERR_NOT_FOUND:
                    # TaskOpened is committed before the workflow registers the task; after a worker
                    # crash that gap lasts until a new worker has replayed the case.
                    raise NotYetError(task["task_id"]) from exc
                # Otherwise only acceptable when the decision is already recorded (the validator says 409).
                await self.ledger.refresh()
                if self.ledger.closed[task["task_id"]] == 0:
                    raise

        await retrying(once)
        self.decided += 1

    async def run(self, pairs: list[tuple[str, int]], *, timeout: float = 150) -> None:
        """Start every case, decide every first task as it opens, until every case has its next task open."""
        case_ids = [evaluation_case_id(nip, year) for nip, year in pairs]

        def first_tasks() -> Iterator[tuple[str, str, dict[str, Any]]]:
            for case_id in case_ids:
                task = self.ledger.first_task(case_id)
                if task is not None:
                    yield case_id, case_id, task

        def behind() -> list[str]:
            return [c for c in case_ids if not self.ledger.reached_next_task(c)]

        await self.drive(pairs, first_tasks, behind, timeout)

    async def run_to_the_end(self, pairs: list[tuple[str, int]], *, timeout: float = 900) -> None:
        """Start every case and decide every task any case opens (its unit's calibration too) until all are closed."""
        case_ids = [evaluation_case_id(nip, year) for nip, year in pairs]

        def open_tasks() -> Iterator[tuple[str, str, dict[str, Any]]]:
            for task_id, (case_id, task) in list(self.ledger.open_tasks.items()):
                yield task_id, case_id, task

        def behind() -> list[str]:
            return [c for c in sorted({*case_ids, *self.ledger.cases}) if not self.ledger.cases_closed[c]]

        await self.drive(pairs, open_tasks, behind, timeout)

    async def drive(
        self,
        pairs: list[tuple[str, int]],
        to_decide: Callable[[], Iterable[tuple[str, str, dict[str, Any]]]],
        behind: Callable[[], list[str]],
        timeout: float,
        concurrency: int = 16,
    ) -> None:
        """Start the cases; decide each (key, case, task) `to_decide` names, once per key, until nothing is `behind`."""
        sem = asyncio.Semaphore(concurrency)

        async def limited(coro: Awaitable[None]) -> None:
            async with sem:
                await coro

        starting = [asyncio.create_task(limited(self.start(nip, year))) for nip, year in pairs]
        deciding: dict[str, asyncio.Task[None]] = {}
        began = next_report = moved = time.monotonic()
        progress = (-1, -1)
        try:
            while True:
                await self.ledger.refresh()
                for key, case_id, task in to_decide():
                    if key not in deciding:
                        deciding[key] = asyncio.create_task(limited(self.decide(case_id, task)))
                for t in [*starting, *deciding.values()]:
                    if t.done() and t.exception() is not None:
                        raise t.exception()  # type: ignore[misc]
                late = behind()
                if not late:
                    break
                now = time.monotonic()
                if now > next_report:
                    next_report = now + 10
                    print(f"{now - began:5.1f}s started {self.started} decided {self.decided} behind {len(late)}")
                if (self.decided, len(late)) != progress:
                    progress, moved = (self.decided, len(late)), now
                if now > began + timeout or now > moved + STALL:
                    raise AssertionError(f"{len(late)} cases behind:\n{await self.diagnose(late[:3])}")
                await asyncio.sleep(0.2)
            await asyncio.gather(*starting, *deciding.values())
        finally:
            for t in [*starting, *deciding.values()]:
                t.cancel()

    async def diagnose(self, case_ids: list[str]) -> str:
        """Where each case stands: its last stored events and what Temporal says of its workflow."""
        lines = []
        for case_id in case_ids:
            stored = [type(s.event).__name__ for s in read_case(self.ledger.store, case_id)]
            lines.append(f"{case_id}: {len(stored)} events, last {stored[-6:]}")
            try:
                handle = self.client.get_workflow_handle(case_id)
                desc = await handle.describe()
                pending = desc.raw_description.pending_activities
                lines.append(f"  workflow {desc.status!r}, pending activities {[a.activity_type.name for a in pending]}")
                events = [e async for e in handle.fetch_history_events()]
                for e in events[-12:]:
                    attrs = e.WhichOneof("attributes")
                    detail = ""
                    if attrs and "failed" in attrs:
                        detail = str(getattr(e, attrs).failure.message)[:300]
                    elif attrs == "workflow_execution_signaled_event_attributes":
                        detail = e.workflow_execution_signaled_event_attributes.signal_name
                    elif attrs == "marker_recorded_event_attributes":
                        detail = e.marker_recorded_event_attributes.marker_name
                    lines.append(f"  {e.event_id} {e.event_time.ToDatetime():%H:%M:%S.%f} {attrs} {detail}")
            except Exception as exc:  # noqa: BLE001 - a diagnosis never hides the failure it explains
                lines.append(f"  (no workflow description: {exc!r})")
        return "\n".join(lines)


def whole_chain(store: EventStore, case_id: str) -> list[Any]:
    """The case's events, asserted whole: versions 1..n without gap or double, each hash linked and right."""
    events = read_case(store, case_id)
    previous = GENESIS_HASH
    for version, stored in enumerate(events, start=1):
        assert stored.event.originator_version == version, f"{case_id}: gap or double at version {version}"
        assert stored.event.previous_hash == previous and hash_of(stored.event) == stored.event.hash, case_id
        previous = stored.event.hash
    return events


def check_completed(store: EventStore, case_ids: list[str]) -> int:
    """Every case whole and closed once as completed, every task decided once, no step twice; returns their events."""
    total = 0
    for case_id in case_ids:
        events = whole_chain(store, case_id)
        types = Counter(type(s.event).__name__ for s in events)
        assert type(events[-1].event).__name__ == "CaseClosed" and events[-1].event.payload["status"] == "completed", case_id
        opened = [s.event.payload["task_id"] for s in events if type(s.event).__name__ == "TaskOpened"]
        decided = [s.event.payload["task_id"] for s in events if type(s.event).__name__ == "TaskDecided"]
        assert sorted(decided) == sorted(opened) and len(set(opened)) == len(opened), f"{case_id}: tasks {opened}, decided {decided}"
        kinds = Counter(s.event.payload["kind"] for s in events if type(s.event).__name__ == "TaskOpened")
        assert types["CheckInRecorded"] == kinds["CHECK_IN"] and types["UnitCalibrated"] == kinds["CALIBRATION"], (case_id, types)
        twice = {name: n for name, n in types.items() if n > 1 and name not in REPEATED}
        assert not twice, f"{case_id}: recorded twice {twice}"
        total += len(events)
    return total


def check_cases(store: EventStore, case_ids: list[str]) -> int:
    """Every chain whole, every case where a fault-free one stands; returns the events the cases imply."""
    shapes: Counter[tuple[str, ...]] = Counter()
    for case_id in case_ids:
        events = whole_chain(store, case_id)
        types = tuple(type(s.event).__name__ for s in events)
        opened = [s.event.payload["task_id"] for s in events if type(s.event).__name__ == "TaskOpened"]
        closed = [s.event.payload["task_id"] for s in events if type(s.event).__name__ in TASK_CLOSERS]
        # One decision per case, on its first task; nothing after the next task opened.
        assert closed == opened[:1], f"{case_id}: tasks {opened}, closed {closed}"
        assert len(opened) == 2 and types[-1] == "TaskOpened" and types.count("CaseOpened") == 1, (case_id, types)
        shapes[types] += 1
    # Every case of the load took the same path (same subjects' kind, same decision): one shape.
    assert len(shapes) == 1, f"cases diverged: {shapes}"
    shape = next(iter(shapes))
    return len(shape) * len(case_ids)


def store_count(url: str) -> int:
    """Every event in the store (the drill's cases are the only writers besides the directory seed)."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM asnflow_events").fetchone()[0]  # type: ignore[index]


@pytest.fixture
async def temporal(tmp_path: Path) -> AsyncIterator[TemporalDevServer]:
    """A file-backed dev server of the drill's own (SQLite with WAL under tmp_path), as `asnflow dev` runs it."""
    server = TemporalDevServer(tmp_path / "stack")
    server.start()
    server.wait_ready(60)
    try:
        yield server
    finally:
        server.stop()


async def connect(settings: Settings) -> Client:
    return await retrying(lambda: connect_temporal(settings))


async def test_worker_killed_three_times_during_500_cases_loses_and_doubles_nothing(
    fresh_database_url: str, temporal: TemporalDevServer, tmp_path: Path
) -> None:
    settings = make_settings(fresh_database_url, tmp_path, temporal.address)
    prepare_database(settings)
    seeded = store_count(fresh_database_url)
    store = EventStore(env=settings.store_env())
    client = await connect(settings)
    driver = Driver(client, settings.task_queue, Ledger(store))
    pairs = subjects(500)
    log = tmp_path / "workers.log"  # kept under the test's tmp_path: where a stuck drill's workers said why
    workers = [spawn(settings, "worker", log=log)]
    kills: list[tuple[int, int]] = []

    async def killer() -> None:
        # Three kills spread over the load (~3,000 decisions), each while cases are open and decisions in flight.
        for milestone in (300, 1200, 2100):
            while driver.decided < milestone:
                await asyncio.sleep(0.05)
            kill9(workers[-1])
            kills.append((driver.started, driver.decided))
            workers.append(spawn(settings, "worker", log=log))

    killing = asyncio.create_task(killer())
    try:
        await driver.run_to_the_end(pairs)
        await asyncio.wait_for(killing, 10)
    finally:
        killing.cancel()
        stop(workers[-1])
        await asyncio.sleep(0)
    assert len(kills) == 3 and all(decided < driver.decided for _, decided in kills), kills
    assert all(w.returncode == -signal.SIGKILL for w in workers[:3])
    cases = sorted(driver.ledger.cases)
    assert {evaluation_case_id(nip, year) for nip, year in pairs} < set(cases)  # the units' calibrations too
    implied = check_completed(store, cases)
    assert store_count(fresh_database_url) == seeded + implied  # none lost, none doubled, nothing stray
    store.close()


async def test_postgres_backends_terminated_under_load_give_503_then_recover_with_no_decision_lost(
    fresh_database_url: str, temporal: TemporalDevServer, tmp_path: Path
) -> None:
    settings = make_settings(fresh_database_url, tmp_path, temporal.address)
    prepare_database(settings)
    seeded = store_count(fresh_database_url)
    pairs = subjects(24)
    case_ids = [evaluation_case_id(nip, year) for nip, year in pairs]
    worker, projector = spawn(settings, "worker"), spawn(settings, "projector")
    statuses: Counter[int] = Counter()
    accepted: dict[str, int] = {}  # task id -> store position a 200 response reported
    storm = threading.Event()
    try:
        async with api_client(settings) as api:
            for nip, year in pairs:
                r = await api.post("/api/v1/evaluations", nip, json={"nip": nip, "year": year})
                assert r.status_code in (200, 201, 202), r.text
            began = time.monotonic()
            tasks = await first_tasks(api, pairs)
            print(f"{time.monotonic() - began:5.1f}s first tasks open")

            async def decide(nip: str, task: dict[str, Any]) -> None:
                outcome, data = decision_for(task)
                while True:
                    r = await api.post(f"/api/v1/tasks/{task['id']}/decision", nip, json={"outcome": outcome, "data": data})
                    statuses[r.status_code] += 1
                    if r.status_code == 200:
                        accepted[task["id"]] = r.json()["position"]
                        return
                    # Never 409: an accepted decision is never answered with an error that invites a retry.
                    assert r.status_code == 503 and r.headers.get("Retry-After"), (r.status_code, r.text)
                    await asyncio.sleep(0.2)  # sooner than Retry-After: the drill wants the recovery moment

            async def read_inbox(nip: str) -> None:
                while storm.is_set():
                    r = await api.get("/api/v1/tasks", nip)
                    statuses[r.status_code] += 1
                    assert r.status_code in (200, 503), (r.status_code, r.text)
                    if r.status_code == 503:
                        assert r.headers.get("Retry-After"), r.headers
                    await asyncio.sleep(0.02)

            storm.set()
            terminator = threading.Thread(target=terminate_backends, args=(fresh_database_url, storm), daemon=True)
            terminator.start()
            readers = [asyncio.create_task(read_inbox(nip)) for nip, _ in pairs[:4]]
            deciders = [asyncio.create_task(decide(nip, tasks[nip])) for nip, _ in pairs]
            await asyncio.sleep(3)  # decisions and inbox reads while every backend keeps dying
            storm.clear()
            terminator.join(10)
            await asyncio.wait_for(asyncio.gather(*readers, *deciders), 120)
            print(f"{time.monotonic() - began:5.1f}s decisions accepted: {len(accepted)}, statuses {dict(statuses)}")
            assert statuses[503] > 0, f"no request met the outage: {statuses}"
            # Recovered by itself: nothing was restarted, and reads answer again.
            r = await api.get("/api/v1/tasks", pairs[0][0])
            assert r.status_code == 200, r.text
        # The drill's own reader connects after the storm: only the stack had to live through it.
        store = EventStore(env=settings.store_env())
        ledger = Ledger(store)
        deadline = time.monotonic() + 90
        while not all(ledger.reached_next_task(c) for c in case_ids):
            assert time.monotonic() < deadline, "cases did not move on after their decisions"
            await ledger.refresh()
            await asyncio.sleep(0.2)
    finally:
        storm.clear()
        stop(worker)
        stop(projector)
    assert store_count(fresh_database_url) == seeded + check_cases(store, case_ids)
    decided = {s.event.payload["task_id"]: s.position for c in case_ids for s in read_case(store, c)
               if type(s.event).__name__ == "TaskDecided"}
    for task_id, position in accepted.items():
        assert decided.get(task_id) == position, f"accepted decision on {task_id} lost"
    store.close()


async def first_tasks(api: ApiClient, pairs: list[tuple[str, int]]) -> dict[str, dict[str, Any]]:
    """Each subject's first open task, read from their inbox."""
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 90
    while len(found) < len(pairs):
        assert time.monotonic() < deadline, f"only {len(found)} of {len(pairs)} first tasks opened"
        for nip, year in pairs:
            if nip in found:
                continue
            r = await api.get("/api/v1/tasks", nip, params={"case_id": evaluation_case_id(nip, year)})
            assert r.status_code == 200, r.text
            open_ = [t for t in r.json()["data"] if t["status"] == "open" and t["assignee_nip"] == nip]
            if open_:
                found[nip] = open_[0]
        await asyncio.sleep(0.2)
    return found


def terminate_backends(url: str, storm: threading.Event) -> None:
    """pg_terminate_backend on every connection to the drill's database, over and over while the storm lasts."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        while storm.is_set():
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            time.sleep(0.05)


async def test_temporal_dev_server_restarted_under_load_cases_resume(fresh_database_url: str, tmp_path: Path) -> None:
    server = TemporalDevServer(tmp_path / "stack")
    server.start()
    server.wait_ready(60)
    settings = make_settings(fresh_database_url, tmp_path, server.address)
    prepare_database(settings)
    seeded = store_count(fresh_database_url)
    store = EventStore(env=settings.store_env())
    worker = spawn(settings, "worker")
    restarts: list[tuple[int, int]] = []
    try:
        client = await connect(settings)
        driver = Driver(client, settings.task_queue, Ledger(store))
        pairs = subjects(60)

        async def restarter() -> None:
            while driver.decided < 20:  # mid-load: cases still opening, decisions in flight
                await asyncio.sleep(0.05)
            # A hard stop (SIGKILL to the server's process group), then the same data file and port again.
            os.killpg(os.getpgid(server.pid), signal.SIGKILL)  # type: ignore[arg-type]
            restarts.append((driver.started, driver.decided))
            await asyncio.sleep(2)
            server.stop()
            server.start()
            await asyncio.to_thread(server.wait_ready, 60)

        restarting = asyncio.create_task(restarter())
        await driver.run(pairs, timeout=180)
        await asyncio.wait_for(restarting, 60)
        assert restarts and restarts[0][0] + restarts[0][1] < 2 * len(pairs), restarts
        assert worker.poll() is None, "the worker gave up while Temporal was away"
    finally:
        stop(worker)
        server.stop()
    implied = check_cases(store, [evaluation_case_id(nip, year) for nip, year in pairs])
    assert store_count(fresh_database_url) == seeded + implied  # none lost, none doubled, nothing stray
    store.close()
