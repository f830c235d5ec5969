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

router = APIRouter(prefix="/api/v1", tags=["directory"])


@router.get("/me", response_model=MePublic)
async def me(user: CurrentUser) -> MePublic:
    """Who the token says I am."""
    return MePublic(nip=user.nip, name=user.name, roles=user.roles, unit=user.unit, tenant=user.tenant)


@router.get("/employees/{nip}/history")
async def employee_history(nip: str, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> dict[str, Any]:
    """A directory entry's events (career timeline): oneself, or HR and oversight."""
    if not (user.nip == nip or user.has("BKPSDM", "ADMIN", "AUDITOR")):
        raise ApiError(404, "Pegawai tidak ditemukan.", "Employee not found.")
    stored = await asyncio.to_thread(read_case, res.event_store(), user.case_id(employee_case_id(nip)))
    if not stored:
        raise ApiError(404, "Pegawai tidak ditemukan.", "Employee not found.")
    return {
        "nip": nip,
        "data": [
            {"position": s.position, "type": type(s.event).__name__, "occurred_at": s.event.occurred_at,
             "payload": s.event.payload, "reason": s.event.reason}
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
