"""Input and output schemas of the HTTP API (separate from the workflow contracts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

# PostgreSQL bigint: a larger position or offset would be a 500 from the database, not a 422 from the edge.
BIGINT_MAX = 2**63 - 1
NIP_PATTERN = r"^\d{18}$"


class EvaluationCreate(BaseModel):
    nip: str = Field(pattern=NIP_PATTERN, description="NIP of the employee evaluated (18 digits)")
    year: int = Field(ge=2022, le=2100, description="Performance year")


class CaseAccepted(BaseModel):
    id: str
    process: str
    status: str = "starting"
    links: dict[str, str]


class CasePublic(BaseModel):
    id: str
    process: str
    subject_nip: str | None
    unit: str | None
    title: str | None
    status: str
    opened_at: datetime
    closed_at: datetime | None
    outcome: dict[str, Any]
    data: dict[str, Any]
    last_event: str | None
    last_position: int
    event_count: int
    workflow_id: str
    run_id: str


class CasesPublic(BaseModel):
    data: list[CasePublic]
    count: int


class ActorPublic(BaseModel):
    nip: str | None
    role: str | None
    on_behalf_of: str | None = None


class EventPublic(BaseModel):
    position: int
    version: int
    type: str
    case_id: str
    process: str
    occurred_at: datetime
    actor: ActorPublic
    reason: str
    payload: dict[str, Any]
    previous_hash: str
    hash: str
    hash_valid: bool
    workflow_id: str
    run_id: str
    tenant: str


class CaseEventsPublic(BaseModel):
    case_id: str
    data: list[EventPublic]
    chain_intact: bool
    broken_at: int | None = Field(default=None, description="first version whose hash or link fails")


class TaskPublic(BaseModel):
    id: str
    case_id: str
    process: str
    kind: str
    title: str | None
    status: str
    assignee_nip: str | None
    candidate_role: str | None
    unit: str | None
    subject_nip: str | None
    due_at: datetime | None
    opened_at: datetime
    outcomes: list[str]
    claimed_by: str | None
    outcome: str | None
    decided_by: str | None
    closed_at: datetime | None
    overdue: bool = False


class TasksPublic(BaseModel):
    data: list[TaskPublic]
    count: int


class DecisionCreate(BaseModel):
    outcome: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="", max_length=4000)
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("data")
    @classmethod
    def _small(cls, v: dict[str, Any]) -> dict[str, Any]:
        import json

        if len(json.dumps(v, default=str)) > 64_000:
            raise ValueError("data is larger than 64 kB")
        return v


class ReasonCreate(BaseModel):
    reason: str = Field(default="", max_length=4000)


class BulkDecisionItem(DecisionCreate):
    task_id: str = Field(min_length=1, max_length=200)


class BulkDecisionCreate(BaseModel):
    items: list[BulkDecisionItem] = Field(min_length=1, max_length=200)


class TaskActionPublic(BaseModel):
    task_id: str
    status: str
    event_type: str
    position: int
    task: TaskPublic | None = None


class BulkItemResult(BaseModel):
    task_id: str
    ok: bool
    status: int
    result: TaskActionPublic | None = None
    error: dict[str, Any] | None = None


class BulkDecisionPublic(BaseModel):
    results: list[BulkItemResult]
    succeeded: int
    failed: int


class AuditEventsPublic(BaseModel):
    data: list[EventPublic]
    next_after: int | None


class VerifyPublic(BaseModel):
    ok: bool
    cases_checked: int
    events_checked: int
    problems: list[dict[str, Any]]


class MePublic(BaseModel):
    nip: str
    name: str
    roles: list[str]
    unit: str | None
    tenant: str = Field(description="the instansi (tenant) the token belongs to; every read and command is limited to it")
