"""Audit: search the event log and verify every case's hash chain."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from asnflow.activities.eventstore import EventStore, read_log
from asnflow.api.deps import CurrentUser, DbDep, MinPosition, ResourcesDep, catch_up, require
from asnflow.api.schemas import ActorPublic, AuditEventsPublic, EventPublic, VerifyPublic
from asnflow.domain.events import GENESIS_HASH, event_hash, hash_of

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
AUDIT_ROLES = ("AUDITOR", "ADMIN")


@router.get("/events", response_model=AuditEventsPublic)
async def search_events(
    user: CurrentUser,
    conn: DbDep,
    res: ResourcesDep,
    case_id: str | None = None,
    actor_nip: str | None = None,
    type: str | None = None,  # noqa: A002 - the public filter name
    process: str | None = None,
    unit: str | None = None,
    occurred_from: datetime | None = Query(default=None, alias="from"),
    occurred_to: datetime | None = Query(default=None, alias="to"),
    after: Annotated[int, Query(ge=0, description="return events after this position")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    min_position: MinPosition = None,
) -> AuditEventsPublic:
    """Events by case, actor, type, process, unit and time, in store order (keyset pagination)."""
    require(user, *AUDIT_ROLES)
    await catch_up(conn, res, "audit_log", min_position)
    where, params = ["a.position > %s"], [after]
    for column, value in (("case_id", case_id), ("actor_nip", actor_nip), ("type", type), ("process", process)):
        if value is not None:
            where.append(f"a.{column} = %s")
            params.append(value)
    if unit is not None:
        where.append("EXISTS (SELECT 1 FROM cases c WHERE c.id = a.case_id AND c.unit = %s)")
        params.append(unit)
    if occurred_from is not None:
        where.append("a.occurred_at >= %s")
        params.append(occurred_from)
    if occurred_to is not None:
        where.append("a.occurred_at < %s")
        params.append(occurred_to)
    rows = await (
        await conn.execute(
            "SELECT * FROM audit_log a WHERE " + " AND ".join(where) + " ORDER BY a.position LIMIT %s",  # noqa: S608
            [*params, limit],
        )
    ).fetchall()
    data = [row_public(r) for r in rows]
    return AuditEventsPublic(data=data, next_after=data[-1].position if len(data) == limit else None)


def row_public(r: dict[str, Any]) -> EventPublic:
    occurred = r["occurred_at"].astimezone(UTC)
    recomputed = event_hash(
        type_name=r["type"], case_id=r["case_id"], process=r["process"], version=r["version"],
        occurred_at=occurred.isoformat(), actor=r["actor"], workflow_id=r["workflow_id"], run_id=r["run_id"],
        reason=r["reason"], payload=r["payload"], previous_hash=r["previous_hash"],
    )
    return EventPublic(
        position=r["position"], version=r["version"], type=r["type"], case_id=r["case_id"], process=r["process"],
        occurred_at=occurred, actor=ActorPublic(**{k: r["actor"].get(k) for k in ("nip", "role", "on_behalf_of")}),
        reason=r["reason"], payload=r["payload"], previous_hash=r["previous_hash"], hash=r["hash"],
        hash_valid=recomputed == r["hash"], workflow_id=r["workflow_id"], run_id=r["run_id"],
    )


def verify_store(store: EventStore, case_id: str | None = None, page: int = 5000) -> VerifyPublic:
    """Walk the store in order: every event's hash, its link to the case's previous event, no gaps."""
    last: dict[str, tuple[int, str]] = {}
    problems: list[dict[str, Any]] = []
    checked, position = 0, 0
    while True:
        rows = read_log(store, gt=position, limit=page)
        if not rows:
            break
        for item in rows:
            ev = item.event
            position = item.position
            if case_id is not None and ev.case_id != case_id:
                continue
            checked += 1
            version, previous = last.get(ev.case_id, (0, GENESIS_HASH))
            where = {"case_id": ev.case_id, "version": ev.originator_version, "position": item.position}
            if ev.originator_version != version + 1:
                problems.append({**where, "problem": f"missing events: expected version {version + 1}"})
            elif ev.previous_hash != previous:
                problems.append({**where, "problem": "link to the previous event is broken"})
            if hash_of(ev) != ev.hash:
                problems.append({**where, "problem": "event content does not match its hash"})
            last[ev.case_id] = (ev.originator_version, ev.hash)
    return VerifyPublic(ok=not problems, cases_checked=len(last), events_checked=checked, problems=problems)


@router.get("/verify", response_model=VerifyPublic)
async def verify(user: CurrentUser, res: ResourcesDep, case_id: str | None = None) -> VerifyPublic:
    """Verify the hash chains of all cases (or one) against the event store itself."""
    require(user, *AUDIT_ROLES)
    return await asyncio.to_thread(verify_store, res.event_store(), case_id)
