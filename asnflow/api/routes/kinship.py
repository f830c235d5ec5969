"""The kinship registry: employees declare their relatives; relatives never act on each other's cases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from asnflow.activities.eventstore import CaseForkedError, read_case, record
from asnflow.api.auth import User
from asnflow.api.deps import CurrentUser, DbDep, ResourcesDep, catch_up
from asnflow.api.errors import ApiError
from asnflow.domain import kinship as kin
from asnflow.domain.events import GENESIS_HASH
from asnflow.workflows.contracts import NewEvent, RecordInput

router = APIRouter(prefix="/api/v1/kinship", tags=["kinship"])
OVERSIGHT = ("BKPSDM", "ADMIN", "AUDITOR")


class KinshipCreate(BaseModel):
    relative_nip: str = Field(pattern=r"^\d{18}$")
    relation: str = Field(description="One of " + ", ".join(kin.RELATIONS))


class KinshipWithdraw(BaseModel):
    relative_nip: str = Field(pattern=r"^\d{18}$")
    reason: str = Field(default="", max_length=2000)


class KinshipRecorded(BaseModel):
    nip: str
    relative_nip: str
    event_type: str
    position: int


async def related(conn: Any, a: str | None, b: str | None) -> dict[str, Any] | None:
    """A declared relation between two people, declared by either of them."""
    if not a or not b or a == b:
        return None
    return await (  # type: ignore[no-any-return]
        await conn.execute(
            "SELECT nip, relative_nip, relation FROM kinship WHERE (nip = %s AND relative_nip = %s)"
            " OR (nip = %s AND relative_nip = %s) LIMIT 1",
            [a, b, b, a],
        )
    ).fetchone()


async def refuse_relatives(conn: Any, actor_nip: str | None, subject_nip: str | None) -> None:
    """403 naming the rule when the actor declared (or was declared as) the subject's relative."""
    found = await related(conn, actor_nip, subject_nip)
    if found is not None:
        message_id = f"Anda tercatat sebagai kerabat ({found['relation']}) pegawai pada perkara ini."
        message_en = f"You are a declared relative ({found['relation']}) of this case's employee."
        raise ApiError(403, message_id, message_en, [{"field": None, "id": message_id, "en": message_en, "rule": kin.ANTI_NEPOTISM_RULE}])


async def _append(res: Any, user: User, type_name: str, payload: dict[str, Any], reason: str = "") -> int:
    """One event on the declarer's kinship sequence, at exactly the next version."""
    store = res.event_store()
    case_id = user.case_id(kin.kinship_case_id(user.nip))
    history = await asyncio.to_thread(read_case, store, case_id)
    inp = RecordInput(
        case_id=case_id, process="directory", expected_version=len(history),
        previous_hash=history[-1].event.hash if history else GENESIS_HASH, workflow_id="", run_id="",
        occurred_at=datetime.now(UTC).isoformat(),
        events=[NewEvent(type_name, payload, user.actor().as_event_actor(), reason)],
    )
    try:
        result = await asyncio.to_thread(record, store, inp)
    except CaseForkedError:
        raise ApiError(409, "Deklarasi lain sedang dicatat; coba lagi.", "Another declaration is being recorded; try again.") from None
    return result.positions[-1]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=KinshipRecorded)
async def declare(body: KinshipCreate, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> KinshipRecorded:
    """Declare a relative (both of you are then kept off each other's cases)."""
    if body.relation not in kin.RELATIONS:
        raise ApiError(422, "Hubungan kekerabatan tidak dikenal.", "Unknown relation.",
                       [{"field": "relation", "id": "Pilih salah satu: " + ", ".join(kin.RELATIONS), "en": "One of: " + ", ".join(kin.RELATIONS)}])
    if body.relative_nip == user.nip:
        raise ApiError(422, "Tidak dapat mendeklarasikan diri sendiri.", "You cannot declare yourself.", [{"field": "relative_nip", "id": "NIP sendiri.", "en": "Own NIP."}])
    exists = await (await conn.execute("SELECT 1 FROM employees WHERE nip = %s", [body.relative_nip])).fetchone()
    if exists is None:
        raise ApiError(422, "NIP kerabat tidak terdaftar.", "The relative's NIP is not in the directory.", [{"field": "relative_nip", "id": "NIP tidak terdaftar.", "en": "Unknown NIP."}])
    mine = await (await conn.execute("SELECT 1 FROM kinship WHERE nip = %s AND relative_nip = %s", [user.nip, body.relative_nip])).fetchone()
    if mine is not None:
        raise ApiError(409, "Kerabat ini sudah dideklarasikan.", "This relative is already declared.")
    position = await _append(res, user, "KinshipDeclared", {"nip": user.nip, "relative_nip": body.relative_nip, "relation": body.relation})
    await catch_up(conn, res, "employees", position)
    return KinshipRecorded(nip=user.nip, relative_nip=body.relative_nip, event_type="KinshipDeclared", position=position)


@router.post("/withdraw", response_model=KinshipRecorded)
async def withdraw(body: KinshipWithdraw, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> KinshipRecorded:
    """Withdraw one's own declaration (with a reason; the history keeps both)."""
    mine = await (await conn.execute("SELECT 1 FROM kinship WHERE nip = %s AND relative_nip = %s", [user.nip, body.relative_nip])).fetchone()
    if mine is None:
        raise ApiError(404, "Deklarasi tidak ditemukan.", "Declaration not found.")
    if not body.reason.strip():
        raise ApiError(422, "Alasan wajib diisi.", "A reason is required.", [{"field": "reason", "id": "Wajib.", "en": "Required."}])
    position = await _append(res, user, "KinshipWithdrawn", {"nip": user.nip, "relative_nip": body.relative_nip}, body.reason)
    await catch_up(conn, res, "employees", position)
    return KinshipRecorded(nip=user.nip, relative_nip=body.relative_nip, event_type="KinshipWithdrawn", position=position)


@router.get("")
async def list_kinship(user: CurrentUser, conn: DbDep, nip: str | None = None) -> dict[str, Any]:
    """My declarations (and those naming me); HR and oversight may ask for anyone's."""
    who = nip or user.nip
    if who != user.nip and not user.has(*OVERSIGHT):
        raise ApiError(403, "Hanya BKPSDM, ADMIN atau AUDITOR.", "Only BKPSDM, ADMIN or AUDITOR.")
    rows = await (
        await conn.execute(
            "SELECT nip, relative_nip, relation, declared_at FROM kinship WHERE nip = %s OR relative_nip = %s ORDER BY declared_at",
            [who, who],
        )
    ).fetchall()
    return {"nip": who, "data": rows, "count": len(rows)}
