"""Activities: recording events, directory look-ups, working-day due dates."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from asnflow.activities.evaluation import shared_pool
from asnflow.activities.eventstore import (
    CaseForkedError,
    EventStore,
    UnknownEventTypeError,
    read_case,
    record,
)
from asnflow.activities.notifications import DeadlineActivities
from asnflow.domain.calendar import BusinessCalendar
from asnflow.domain.tenancy import DEFAULT_TENANT
from asnflow.workflows.contracts import (
    ERR_NOT_FOUND,
    DueDateInput,
    Employee,
    LookupEmployeeInput,
    RecordInput,
    RecordResult,
)
from asnflow.workflows.deadline_contracts import OpenTaskInput, OpenTaskResult, TaskDeadlines


class RecordingActivities:
    """The only door through which workflows write to the event store."""

    def __init__(self, store: EventStore, default_tenant: str = DEFAULT_TENANT, deadlines: DeadlineActivities | None = None) -> None:
        self.store = store
        self.default_tenant = default_tenant
        self.deadlines = deadlines or DeadlineActivities()

    @activity.defn(name="record_events")
    def record_events(self, inp: RecordInput) -> RecordResult:
        """Append one step's events to a case at the workflow's expected version."""
        try:
            return record(self.store, inp, self.default_tenant)
        except CaseForkedError as exc:
            raise ApplicationError(str(exc), type="CaseForked", non_retryable=True) from exc
        except UnknownEventTypeError as exc:
            raise ApplicationError(
                f"unknown event type {exc}", type="UnknownEventType", non_retryable=True
            ) from exc

    @activity.defn(name="record_task_opened")
    def open_task(self, inp: OpenTaskInput) -> OpenTaskResult:
        """Plan a task's due date and deadline steps and record the step's events with its TaskOpened, in one activity."""
        # The plan is a pure function of its input and the calendar data, so a retry after a commit
        # builds the same TaskOpened and meets the stored one as its own (exactly once, as record_events).
        plan = self.deadlines.task_deadlines(inp.plan)
        try:
            recorded = self.record_events(self._with_plan(inp, plan))
        except ApplicationError as exc:
            if exc.type != "CaseForked":
                raise
            # After a worker crash the step runs again at a later workflow time, so it plans from a later start;
            # if this run's first attempt is stored, its plan (from that attempt's time) stands, as its events do.
            stored = self._first_attempt_plan(inp)
            if stored is None:
                raise
            return OpenTaskResult(recorded=self.record_events(self._with_plan(inp, stored)), deadlines=stored)
        return OpenTaskResult(recorded=recorded, deadlines=plan)

    @staticmethod
    def _with_plan(inp: OpenTaskInput, plan: TaskDeadlines) -> RecordInput:
        *before, opened = inp.record.events
        payload = {
            **opened.payload,
            "due_at": plan.due_at,
            "deadlines": {"policy": plan.policy_version, "steps": [{"step": s.step, "at": s.at} for s in plan.steps]},
        }
        return dataclasses.replace(inp.record, events=[*before, dataclasses.replace(opened, payload=payload)])

    def _first_attempt_plan(self, inp: OpenTaskInput) -> TaskDeadlines | None:
        """The plan this workflow run's stored TaskOpened was made with (planned again from its time), or None."""
        opened = inp.record.events[-1]
        version = inp.record.expected_version + len(inp.record.events)
        stored = [s.event for s in read_case(self.store, inp.record.case_id, gt=version - 1, lte=version)]
        if not stored or type(stored[0]).__name__ != "TaskOpened" or stored[0].run_id != inp.record.run_id:
            return None
        if stored[0].payload.get("task_id") != opened.payload.get("task_id"):
            return None
        plan = self.deadlines.task_deadlines(dataclasses.replace(inp.plan, start=stored[0].occurred_at.isoformat()))
        kept = stored[0].payload
        same = kept.get("due_at") == plan.due_at and kept.get("deadlines", {}).get("steps") == [
            {"step": s.step, "at": s.at} for s in plan.steps
        ]
        return plan if same else None


class DirectoryActivities:
    """Reads the employee directory view (built from EmployeeRegistered/Updated events)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    @activity.defn(name="lookup_employee")
    def lookup_employee(self, inp: LookupEmployeeInput) -> Employee:
        """One employee with their direct superior, or a non-retryable NotFound."""
        # From the process's shared pool: a new connection per look-up cost a PostgreSQL backend start each.
        with shared_pool(self.database_url).connection() as conn:
            row = conn.execute(
                "SELECT nip, nama, golongan, jabatan, jenis_jabatan, unit, atasan_nip "
                "FROM employees WHERE nip = %s",
                (inp.nip,),
            ).fetchone()
        if row is None:
            raise ApplicationError(
                f"employee {inp.nip} is not in the directory", type=ERR_NOT_FOUND, non_retryable=True
            )
        return Employee(**row)


class CalendarActivities:
    """Working-day arithmetic; run as an activity so a holiday-data upgrade never breaks replay."""

    def __init__(self, calendar: BusinessCalendar | None = None) -> None:
        self.calendar = calendar or BusinessCalendar()

    @activity.defn(name="due_date")
    def due_date(self, inp: DueDateInput) -> str:
        """The due moment `working_days` Indonesian working days after `start`."""
        return self.calendar.add_working_days(datetime.fromisoformat(inp.start), inp.working_days).isoformat()
