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
from asnflow.workflows.deadline_contracts import OpenTaskInput, OpenTaskResult


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
        *before, opened = inp.record.events
        payload = {
            **opened.payload,
            "due_at": plan.due_at,
            "deadlines": {"policy": plan.policy_version, "steps": [{"step": s.step, "at": s.at} for s in plan.steps]},
        }
        record_input = dataclasses.replace(inp.record, events=[*before, dataclasses.replace(opened, payload=payload)])
        return OpenTaskResult(recorded=self.record_events(record_input), deadlines=plan)


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
