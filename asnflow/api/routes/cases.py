"""Cases: list, one case's state, and its full event history with the hash chain."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from asnflow.activities.eventstore import read_case
from asnflow.domain.personal import redact
from asnflow.api.auth import User
from asnflow.api.deps import CurrentUser, DbDep, MinPosition, ResourcesDep, catch_up
from asnflow.api.errors import ApiError
from asnflow.api.schemas import BIGINT_MAX, CaseEventsPublic, CasePublic, CasesPublic, EventPublic
from asnflow.api.tenancy import require_case_tenant
from asnflow.domain.events import GENESIS_HASH, hash_of

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])

SEE_ALL = ("ADMIN", "AUDITOR", "BKPSDM", "SEKDA", "BUPATI")
CASE_COLUMNS = (
    "c.id, c.process, c.subject_nip, c.unit, c.title, c.status, c.opened_at, c.closed_at, c.outcome, c.data,"
    " c.last_event, c.last_position, c.event_count, c.workflow_id, c.run_id"
)


def visibility(user: User) -> tuple[str, list[Any]]:
    """SQL restricting cases to those the user may see: own, involved, unit (heads), all (oversight)."""
    if user.has(*SEE_ALL):
        return "TRUE", []
    clauses = [
        "c.subject_nip = %s",
        "EXISTS (SELECT 1 FROM tasks t WHERE t.case_id = c.id AND"
        " (t.assignee_nip = %s OR t.claimed_by = %s OR t.decided_by = %s))",
    ]
    params: list[Any] = [user.nip, user.nip, user.nip, user.nip]
    if user.has("KEPALA_OPD") and user.unit:
        clauses.append("c.unit = %s")
        params.append(user.unit)
    return "(" + " OR ".join(clauses) + ")", params


def not_found() -> ApiError:
    return ApiError(404, "Perkara tidak ditemukan.", "Case not found.")


@router.get("", response_model=CasesPublic)
async def list_cases(
    user: CurrentUser,
    conn: DbDep,
    res: ResourcesDep,
    process: str | None = None,
    status: Literal["open", "completed", "cancelled", "rejected"] | None = None,
    subject_nip: Annotated[str | None, Query(pattern=r"^\d{18}$")] = None,
    unit: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
    min_position: MinPosition = None,
) -> CasesPublic:
    """Cases visible to the caller, newest first, with filters."""
    await catch_up(conn, res, "cases", min_position)
    where, params = visibility(user)
    for column, value in (("process", process), ("status", status), ("subject_nip", subject_nip), ("unit", unit)):
        if value is not None:
            where += f" AND c.{column} = %s"
            params.append(value)
    rows = await (
        await conn.execute(
            f"SELECT {CASE_COLUMNS}, count(*) OVER () AS total FROM cases c WHERE {where}"  # noqa: S608
            " ORDER BY c.opened_at DESC, c.id LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
    ).fetchall()
    return CasesPublic(data=[CasePublic(**r) for r in rows], count=rows[0]["total"] if rows else 0)


async def visible_case(conn: Any, user: User, case_id: str) -> dict[str, Any]:
    """One case row if the caller may see it (404 otherwise, so ids do not leak)."""
    where, params = visibility(user)
    row = await (
        await conn.execute(
            f"SELECT {CASE_COLUMNS} FROM cases c WHERE c.id = %s AND {where}",  # noqa: S608
            [case_id, *params],
        )
    ).fetchone()
    if row is None:
        raise not_found()
    return row  # type: ignore[no-any-return]


@router.get("/{case_id}", response_model=CasePublic)
async def get_case(
    case_id: str, user: CurrentUser, conn: DbDep, res: ResourcesDep, min_position: MinPosition = None
) -> CasePublic:
    """One case's current state (from the cases view)."""
    await catch_up(conn, res, "cases", min_position)
    return CasePublic(**await visible_case(conn, user, case_id))


def event_public(position: int, event: Any, hash_valid: bool) -> EventPublic:
    return EventPublic(
        position=position,
        version=event.originator_version,
        type=type(event).__name__,
        case_id=event.case_id,
        process=event.process,
        occurred_at=event.occurred_at,
        actor={k: event.actor.get(k) for k in ("nip", "role", "on_behalf_of")},  # type: ignore[arg-type]
        reason=event.reason,
        payload=redact(event.payload),  # NIK/contacts only through their own endpoints
        previous_hash=event.previous_hash,
        hash=event.hash,
        hash_valid=hash_valid,
        workflow_id=event.workflow_id,
        run_id=event.run_id,
        tenant=event.tenant,
    )


@router.get("/{case_id}/events", response_model=CaseEventsPublic)
async def case_events(case_id: str, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> CaseEventsPublic:
    """The case's full history from the event store, each hash and link checked."""
    require_case_tenant(user, case_id, res.settings.default_tenant)
    if not user.has(*SEE_ALL):
        await visible_case(conn, user, case_id)
    # Oversight reads the store directly: the record, not a view that may lag a moment behind.
    stored = await asyncio.to_thread(read_case, res.event_store(), case_id)
    if not stored:
        raise not_found()
    data, previous, broken_at = [], GENESIS_HASH, None
    for expected_version, item in enumerate(stored, start=1):
        ev = item.event
        valid = hash_of(ev) == ev.hash and ev.previous_hash == previous and ev.originator_version == expected_version
        if not valid and broken_at is None:
            broken_at = expected_version
        data.append(event_public(item.position, ev, valid))
        previous = ev.hash
    return CaseEventsPublic(case_id=case_id, data=data, chain_intact=broken_at is None, broken_at=broken_at)
