"""Inputs, outputs and messages shared by api, workflows and activities (stdlib only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TASK_QUEUE = "asnflow"

# Error types carried by ApplicationError from update validators; the API maps them to HTTP.
ERR_FORBIDDEN = "Forbidden"  # 403: the actor may not do this
ERR_CONFLICT = "Conflict"  # 409: the task is closed, claimed by another, or stale
ERR_INVALID = "Invalid"  # 422: malformed decision
ERR_NOT_FOUND = "NotFound"  # 404


@dataclass
class Actor:
    """Who acts: a person (from a verified token) or the system."""

    nip: str | None
    roles: list[str] = field(default_factory=list)
    unit: str | None = None
    name: str | None = None
    on_behalf_of: str | None = None
    # The caller's tenant as a case-id prefix (None: the default tenant, whose ids carry none);
    # update validators refuse a case of another tenant. Payloads from before tenancy lack it.
    tenant: str | None = None

    def as_event_actor(self) -> dict[str, Any]:
        """The actor as it is stored on an event."""
        if self.nip is None:
            return {"system": True, "nip": None, "role": "SYSTEM", "on_behalf_of": None}
        role = self.roles[0] if self.roles else None
        return {"nip": self.nip, "role": role, "on_behalf_of": self.on_behalf_of}


SYSTEM = Actor(nip=None, roles=["SYSTEM"])


@dataclass
class NewEvent:
    """One event a workflow asks to record (type name from domain.events)."""

    type: str
    payload: dict[str, Any]
    actor: dict[str, Any]
    reason: str = ""


@dataclass
class RecordInput:
    """Append `events` to a case at exactly `expected_version` (the count already recorded)."""

    case_id: str
    process: str
    expected_version: int
    previous_hash: str
    workflow_id: str
    run_id: str
    occurred_at: str  # ISO 8601 workflow time
    events: list[NewEvent]


@dataclass
class RecordResult:
    version: int  # events recorded for the case after this call
    last_hash: str
    positions: list[int]  # notification ids (global store positions)


@dataclass
class Employee:
    """A directory entry as workflows see it."""

    nip: str
    nama: str
    golongan: str | None
    jabatan: str
    jenis_jabatan: str
    unit: str
    atasan_nip: str | None


@dataclass
class LookupEmployeeInput:
    nip: str


@dataclass
class DueDateInput:
    start: str  # ISO datetime (workflow time)
    working_days: int


@dataclass
class StartEvaluationInput:
    case_id: str
    nip: str
    year: int
    started_by: Actor


@dataclass
class CaseResult:
    case_id: str
    status: str
    outcome: dict[str, Any] = field(default_factory=dict)


@dataclass
class ClaimInput:
    task_id: str
    actor: Actor


@dataclass
class ReleaseInput:
    task_id: str
    actor: Actor
    reason: str = ""


@dataclass
class DecisionInput:
    task_id: str
    actor: Actor
    outcome: str
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class CancelTaskInput:
    task_id: str
    actor: Actor
    reason: str


@dataclass
class TaskActionResult:
    task_id: str
    status: str
    event_type: str
    position: int  # global store position of the recorded event


def case_id_of_task(task_id: str) -> str:
    """Task ids are '<case id>.t<n>'; the case id is the workflow id."""
    case_id, sep, _ = task_id.rpartition(".t")
    if not sep or not case_id:
        raise ValueError(task_id)
    return case_id
