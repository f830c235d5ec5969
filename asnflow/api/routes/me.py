"""The caller and the directory."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from asnflow.activities.directory import employee_case_id
from asnflow.activities.eventstore import read_case
from asnflow.api.deps import CurrentUser, DbDep, ResourcesDep
from asnflow.api.errors import ApiError
from asnflow.api.schemas import MePublic
from asnflow.domain.personal import redact

router = APIRouter(prefix="/api/v1", tags=["directory"])


@router.get("/me", response_model=MePublic)
async def me(user: CurrentUser) -> MePublic:
    """Who the token says I am."""
    return MePublic(nip=user.nip, name=user.name, roles=user.roles, unit=user.unit, tenant=user.tenant)


@router.get("/employees/{nip}/history")
async def employee_history(nip: str, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> dict[str, Any]:
    """A directory entry's events (career timeline): oneself, or HR and oversight; NIK and contacts redacted."""
    if not (user.nip == nip or user.has("BKPSDM", "ADMIN", "AUDITOR")):
        raise ApiError(404, "Pegawai tidak ditemukan.", "Employee not found.")
    stored = await asyncio.to_thread(read_case, res.event_store(), user.case_id(employee_case_id(nip)))
    if not stored:
        raise ApiError(404, "Pegawai tidak ditemukan.", "Employee not found.")
    return {
        "nip": nip,
        "data": [
            {"position": s.position, "type": type(s.event).__name__, "occurred_at": s.event.occurred_at,
             "payload": redact(s.event.payload), "reason": s.event.reason}
            for s in stored
        ],
    }


@router.get("/employees/{nip}")
async def employee(nip: str, user: CurrentUser, conn: DbDep) -> dict[str, Any]:
    """A directory entry: oneself, one's direct reports and superior, or anyone for HR and oversight."""
    row = await (
        await conn.execute(
            "SELECT nip, nama, golongan, jabatan, jenis_jabatan, unit, atasan_nip, roles FROM employees WHERE nip = %s",
            [nip],
        )
    ).fetchone()
    allowed = row is not None and (
        user.has("BKPSDM", "ADMIN", "AUDITOR", "SEKDA", "BUPATI")
        or user.nip in (row["nip"], row["atasan_nip"])
        or (user.has("KEPALA_OPD") and user.unit == row["unit"])
    )
    if not allowed:
        raise ApiError(404, "Pegawai tidak ditemukan.", "Employee not found.")
    return row  # type: ignore[return-value]


@router.get("/employees/{nip}/personal")
async def employee_personal(nip: str, user: CurrentUser, res: ResourcesDep) -> dict[str, Any]:
    """NIK, e-mail and phone from the (encrypted) directory record: only the person, BKPSDM and ADMIN."""
    if not (user.nip == nip or user.has("BKPSDM", "ADMIN")):
        # 404 rather than 403: whether someone is in the directory is not for everyone to probe.
        raise ApiError(404, "Pegawai tidak ditemukan.", "Employee not found.")
    stored = await asyncio.to_thread(read_case, res.event_store(), employee_case_id(nip))
    if not stored:
        raise ApiError(404, "Pegawai tidak ditemukan.", "Employee not found.")
    record: dict[str, Any] = {}
    for s in stored:
        p = s.event.payload
        # Imports carry the whole record; other updates (a promotion's new rank) carry only their changes.
        record = p["record"] if "record" in p else p if not record else {**record, **p.get("changes", {})}
    return {"nip": nip, "nik": record.get("nik"), "email": record.get("email"), "telepon": record.get("telepon")}
