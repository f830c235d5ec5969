"""In-app notifications per person, and the mail outbox (delivery status, failures included)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import psycopg
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from asnflow.api.deps import CurrentUser, DbDep, MinPosition, ResourcesDep, catch_up, require
from asnflow.api.schemas import BIGINT_MAX
from asnflow.api.errors import ApiError

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


class NotificationPublic(BaseModel):
    id: str
    kind: str  # task_opened | reminder | escalation | delegation | notice
    case_id: str
    task_id: str | None
    title: str  # in the language of Accept-Language
    title_id: str
    title_en: str
    link: str | None
    on_behalf_of: str | None
    reason: str | None
    created_at: datetime
    position: int
    read: bool


class NotificationsPublic(BaseModel):
    data: list[NotificationPublic]
    count: int
    unread: int


class ReadPublic(BaseModel):
    marked: int


class OutboxPublic(BaseModel):
    key: str
    case_id: str | None
    task_id: str | None
    recipient_nip: str
    recipient_email: str | None
    subject: str
    status: str  # pending | sent | failed | disabled
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None


class OutboxListPublic(BaseModel):
    data: list[OutboxPublic]
    count: int


def english(request: Request) -> bool:
    """English only when asked for before Indonesian."""
    lang = request.headers.get("accept-language", "").lower()
    en, idn = lang.find("en"), lang.find("id")
    return en != -1 and (idn == -1 or en < idn)


@router.get("", response_model=NotificationsPublic)
async def my_notifications(
    request: Request,
    user: CurrentUser,
    conn: DbDep,
    res: ResourcesDep,
    unread: bool | None = None,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
    min_position: MinPosition = None,
) -> NotificationsPublic:
    """My notifications, newest first: new tasks, reminders, escalations, delegations, notices."""
    await catch_up(conn, res, "notifications", min_position)
    where, params = "n.nip = %s", [user.nip]
    if unread is not None:
        where += " AND r.id IS " + ("NULL" if unread else "NOT NULL")
    if kind is not None:
        where += " AND n.kind = %s"
        params.append(kind)
    rows = await (
        await conn.execute(
            "SELECT n.*, r.id IS NOT NULL AS read, count(*) OVER () AS total FROM notifications n"  # noqa: S608
            " LEFT JOIN notification_reads r ON r.id = n.id AND r.nip = n.nip"
            f" WHERE {where} ORDER BY n.created_at DESC, n.position DESC, n.id LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
    ).fetchall()
    unread_count = await (
        await conn.execute(
            "SELECT count(*) AS c FROM notifications n LEFT JOIN notification_reads r ON r.id = n.id AND r.nip = n.nip"
            " WHERE n.nip = %s AND r.id IS NULL",
            [user.nip],
        )
    ).fetchone()
    en = english(request)
    data = [
        NotificationPublic(**{k: v for k, v in r.items() if k not in ("nip", "total")}, title=r["title_en"] if en else r["title_id"])
        for r in rows
    ]
    return NotificationsPublic(data=data, count=rows[0]["total"] if rows else 0, unread=unread_count["c"] if unread_count else 0)


@router.post("/{notification_id}/read", response_model=ReadPublic)
async def mark_read(notification_id: str, user: CurrentUser, conn: DbDep) -> ReadPublic:
    """Mark one of my notifications read."""
    found = await (await conn.execute("SELECT 1 FROM notifications WHERE id = %s AND nip = %s", [notification_id, user.nip])).fetchone()
    if found is None:
        raise ApiError(404, "Pemberitahuan tidak ditemukan.", "Notification not found.")
    cur = await conn.execute(
        "INSERT INTO notification_reads (id, nip) VALUES (%s, %s) ON CONFLICT DO NOTHING", [notification_id, user.nip]
    )
    await conn.commit()
    return ReadPublic(marked=cur.rowcount)


@router.post("/read-all", response_model=ReadPublic)
async def mark_all_read(user: CurrentUser, conn: DbDep) -> ReadPublic:
    """Mark all my notifications read."""
    cur = await conn.execute(
        "INSERT INTO notification_reads (id, nip) SELECT id, nip FROM notifications WHERE nip = %s ON CONFLICT DO NOTHING",
        [user.nip],
    )
    await conn.commit()
    return ReadPublic(marked=cur.rowcount)


@router.get("/outbox", response_model=OutboxListPublic)
async def outbox(
    user: CurrentUser,
    conn: DbDep,
    state: Annotated[Literal["pending", "sent", "failed", "disabled"] | None, Query(alias="status")] = None,
    recipient_nip: str | None = None,
    task_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> OutboxListPublic:
    """Mail delivery status (ADMIN, AUDITOR): every attempt's outcome, failures with their last error."""
    require(user, "ADMIN", "AUDITOR")
    where, params = "TRUE", []
    for column, value in (("status", state), ("recipient_nip", recipient_nip), ("task_id", task_id)):
        if value is not None:
            where += f" AND {column} = %s"
            params.append(value)
    try:
        rows = await (
            await conn.execute(f"SELECT * FROM notification_outbox WHERE {where} ORDER BY updated_at DESC LIMIT %s", [*params, limit])  # noqa: S608
        ).fetchall()
    except psycopg.errors.UndefinedTable:
        await conn.rollback()
        rows = []  # nothing was ever mailed
    return OutboxListPublic(data=[OutboxPublic(**r) for r in rows], count=len(rows))
