"""Activities: recording events, directory look-ups, working-day due dates."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.rows import dict_row
from temporalio import activity
from temporalio.exceptions import ApplicationError

from asnflow.activities.eventstore import (
    CaseForkedError,
    EventStore,
    UnknownEventTypeError,
    record,
)
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


class RecordingActivities:
    """The only door through which workflows write to the event store."""

    def __init__(self, store: EventStore, default_tenant: str = DEFAULT_TENANT) -> None:
        self.store = store
        self.default_tenant = default_tenant

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


class DirectoryActivities:
    """Reads the employee directory view (built from EmployeeRegistered/Updated events)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    @activity.defn(name="lookup_employee")
    def lookup_employee(self, inp: LookupEmployeeInput) -> Employee:
        """One employee with their direct superior, or a non-retryable NotFound."""
        with psycopg.connect(self.database_url, row_factory=dict_row) as conn:
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
