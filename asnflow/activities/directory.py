"""Importing the employee directory as events (EmployeeRegistered / EmployeeUpdated)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asnflow.activities.eventstore import EventStore, build_events, read_case
from asnflow.domain.events import GENESIS_HASH
from asnflow.workflows.contracts import Actor, NewEvent, RecordInput


@dataclass
class ImportResult:
    registered: int
    updated: int
    unchanged: int
    positions: list[int]


def employee_case_id(nip: str) -> str:
    """The directory entry of one employee is its own event sequence."""
    return f"employee-{nip}"


def import_employees(
    store: EventStore,
    records: Iterable[dict[str, Any]],
    actor: Actor,
    *,
    source: str = "",
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Record new and changed employees in one transaction: the whole file lands, or none of it."""
    now = datetime.now(UTC).isoformat()
    events: list[Any] = []
    registered = updated = unchanged = 0
    for count, record in enumerate(records, start=1):
        case_id = employee_case_id(record["nip"])
        history = read_case(store, case_id)
        if history:
            last = history[-1].event
            current = last.payload.get("record", last.payload)
            changes = {k: v for k, v in record.items() if current.get(k) != v}
            if not changes:
                unchanged += 1
                continue
            new = NewEvent("EmployeeUpdated", {"changes": changes, "record": record}, actor.as_event_actor(), source)
            version, previous = last.originator_version, last.hash
            updated += 1
        else:
            new = NewEvent("EmployeeRegistered", record, actor.as_event_actor(), source)
            version, previous = 0, GENESIS_HASH
            registered += 1
        built, _ = build_events(
            RecordInput(
                case_id=case_id, process="directory", expected_version=version, previous_hash=previous,
                workflow_id="", run_id="", occurred_at=now, events=[new],
            )
        )
        events.extend(built)
        if progress:
            progress(count)
    # A concurrent import of the same employee makes this save conflict as a whole: nothing lands twice.
    recordings = store.save(*events) if events else []
    return ImportResult(registered, updated, unchanged, [r.notification.id for r in recordings])
