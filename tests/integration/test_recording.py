"""Exactly-once recording against real PostgreSQL and the real Temporal dev server."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import CaseForkedError, EventStore, read_case, record
from asnflow.activities.recording import RecordingActivities
from asnflow.runtime.worker import build_worker
from asnflow.domain.events import GENESIS_HASH
from asnflow.workflows.contracts import Actor, DecisionInput, NewEvent, RecordInput, RecordResult, StartEvaluationInput
from asnflow.workflows.deadline_contracts import OpenTaskInput, OpenTaskResult, TaskDeadlinesInput
from asnflow.workflows.human_tasks import CaseWorkflow
from asnflow.workflows.evaluation import EvaluationWorkflow, evaluation_case_id
from tests.support import make_settings, prepare_database
from tests.workflows.test_evaluation_workflow import SKP, people


def record_input(case_id: str, payload: dict, version: int = 0, previous: str = GENESIS_HASH) -> RecordInput:
    return RecordInput(
        case_id=case_id, process="test", expected_version=version, previous_hash=previous, workflow_id=case_id,
        run_id="run", occurred_at="2026-11-28T08:00:00+00:00",
        events=[NewEvent("CaseOpened", payload, {"nip": None, "role": "SYSTEM"})],
    )


def test_retried_append_after_commit_is_one_event(fresh_database_url: str) -> None:
    store = EventStore(env=make_settings(fresh_database_url, Path("/tmp")).store_env())
    try:
        inp = record_input("case-retry", {"n": 1})
        first = record(store, inp)
        again = record(store, inp)  # the retry of an attempt whose commit was not acknowledged
        assert again == first
        assert len(read_case(store, "case-retry")) == 1
    finally:
        store.close()


def test_two_writers_cannot_fork_a_case(fresh_database_url: str) -> None:
    store = EventStore(env=make_settings(fresh_database_url, Path("/tmp")).store_env())
    try:
        barrier = threading.Barrier(2)
        outcomes: dict[str, object] = {}

        def writer(name: str) -> None:
            barrier.wait()
            try:
                outcomes[name] = record(store, record_input("case-fork", {"writer": name}))
            except CaseForkedError as exc:
                outcomes[name] = exc

        threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        won = [n for n, o in outcomes.items() if isinstance(o, RecordResult)]
        lost = [n for n, o in outcomes.items() if isinstance(o, CaseForkedError)]
        assert len(won) == 1 and len(lost) == 1
        stored = read_case(store, "case-fork")
        assert len(stored) == 1 and stored[0].event.payload == {"writer": won[0]}
    finally:
        store.close()


class FlakyRecording(RecordingActivities):
    """Commits, then fails once as if the worker died before reporting: the retry must not double."""

    def __init__(self, store: EventStore) -> None:
        super().__init__(store)
        self.failed_once = False
        self.calls = 0

    @activity.defn(name="record_events")
    def record_events(self, inp: RecordInput) -> RecordResult:
        self.calls += 1
        result = record(self.store, inp)
        if not self.failed_once:
            self.failed_once = True
            raise RuntimeError("lost the acknowledgement after commit")
        return result


async def test_activity_retry_after_commit_leaves_exactly_one_event(
    dev_server_env: WorkflowEnvironment, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    prepare_database(settings)
    store = EventStore(env=settings.store_env())
    flaky = FlakyRecording(store)
    employee, _, _ = people()
    case_id = evaluation_case_id(employee.nip, 2041)  # type: ignore[arg-type]
    with ThreadPoolExecutor(4) as executor:
        async with build_worker(dev_server_env.client, settings, store, executor, recording=flaky):
            await dev_server_env.client.start_workflow(
                EvaluationWorkflow.run,
                StartEvaluationInput(case_id=case_id, nip=employee.nip, year=2041, started_by=employee),  # type: ignore[arg-type]
                id=case_id,
                task_queue=settings.task_queue,
            )
            for _ in range(200):
                if read_case(store, case_id) and flaky.calls >= 2:
                    break
                await asyncio.sleep(0.05)
    events = read_case(store, case_id)
    assert flaky.calls >= 2, "the recording was retried"
    types = [type(s.event).__name__ for s in events]
    # The first step (case opened … first task opened) landed exactly once despite the retry.
    assert types[0] == "CaseOpened" and types.count("CaseOpened") == 1 and types.count("TaskOpened") == 1
    assert [s.event.originator_version for s in events] == list(range(1, len(events) + 1))
    store.close()


def test_large_append_over_the_embedded_unix_socket_is_one_event() -> None:
    """A several-MB event (a score file) over the embedded server's unix socket: recorded once, its retry unchanged.

    psycopg's pipeline mode hung for ever here at ~1 MB (the library's append is pipelined); the store's
    one-statement append must not."""
    import os
    import shutil
    import tempfile

    import psycopg

    from asnflow.runtime.services import EmbeddedPostgres

    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="af-"))
    pg = EmbeddedPostgres(root)
    try:
        url = pg.start()
        store = EventStore(env=make_settings(url, root).store_env())
        try:
            rows = {f"2415{i:08d}": os.urandom(24).hex() for i in range(60_000)}  # ~4 MB of JSON
            inp = record_input("case-large", {"scores": rows})
            first = record(store, inp)
            again = record(store, inp)  # a retry after an unacknowledged commit
            assert again == first
            stored = read_case(store, "case-large")
            assert len(stored) == 1 and stored[0].event.payload["scores"] == rows
            with psycopg.connect(url) as conn:
                size = conn.execute("SELECT length(state) FROM asnflow_events").fetchone()[0]
            assert size > 3_000_000
            small = record(store, record_input("case-small", {"n": 1}))
            assert small.version == 1
        finally:
            store.close()
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_a_task_opening_rerun_later_after_a_crash_keeps_its_first_plan(fresh_database_url: str) -> None:
    """The step re-run by another worker plans from a later workflow time: the stored opening and its plan stand."""
    store = EventStore(env=make_settings(fresh_database_url, Path("/tmp")).store_env())
    recording = RecordingActivities(store)
    opened = {
        "task_id": "case-late.t1", "kind": "SKP_DRAFT", "title": "SKP", "assignee_nip": "199602102022031001",
        "candidate_role": None, "unit": None, "due_at": None, "outcomes": ["SUBMITTED"], "subject_nip": None,
        "subject_may_act": True, "deadlines": None,
    }

    def attempt(at: str) -> OpenTaskInput:
        events = [NewEvent("CaseOpened", {"n": 1}, {"nip": None, "role": "SYSTEM"}), NewEvent("TaskOpened", opened, {"nip": None, "role": "SYSTEM"})]
        return OpenTaskInput(
            record=RecordInput(
                case_id="case-late", process="test", expected_version=0, previous_hash=GENESIS_HASH, workflow_id="case-late",
                run_id="run", occurred_at=at, events=events,
            ),
            plan=TaskDeadlinesInput(start=at, working_days=5, kind="SKP_DRAFT"),
        )

    try:
        first = recording.open_task(attempt("2026-11-27T01:00:00+00:00"))
        again = recording.open_task(attempt("2026-12-03T03:00:00+00:00"))  # days later: another due date if planned anew
        assert recording.deadlines.task_deadlines(attempt("2026-12-03T03:00:00+00:00").plan).due_at != first.deadlines.due_at
        assert again.deadlines == first.deadlines and again.recorded == first.recorded
        assert len(read_case(store, "case-late")) == 2
    finally:
        store.close()


def test_appends_go_on_after_the_pools_backends_are_terminated(fresh_database_url: str) -> None:
    """The pool pings only a connection the server wrote to: one whose backend was terminated is replaced, not used."""
    import psycopg

    store = EventStore(env=make_settings(fresh_database_url, Path("/tmp")).store_env())
    try:
        first = record(store, record_input("case-before", {"n": 1}))
        with psycopg.connect(fresh_database_url, autocommit=True) as conn:
            killed = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()[0]  # type: ignore[index]
            assert killed >= 1  # the store's pooled connection
            time.sleep(0.2)  # the FATAL message reaches the idle socket
            after = record(store, record_input("case-after", {"n": 2}))
            assert (first.version, after.version) == (1, 1)
            assert conn.execute("SELECT count(*) FROM asnflow_events").fetchone()[0] == 2  # type: ignore[index]
        # Found by the check before use (a connection used dead would be a failed attempt, retried).
        assert store.recorder.datastore.pool.get_stats().get("connections_lost", 0) >= 1  # type: ignore[attr-defined]
    finally:
        store.close()
