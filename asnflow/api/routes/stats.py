"""Dashboard figures from the views: who is each unit's work waiting on, and since when."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from asnflow.api.auth import User
from asnflow.api.deps import CurrentUser, DbDep
from asnflow.api.errors import ApiError

router = APIRouter(prefix="/api/v1/stats", tags=["dashboards"])

OVERSIGHT = ("ADMIN", "AUDITOR", "BKPSDM", "SEKDA", "BUPATI")


def unit_scope(user: User) -> tuple[str, list[Any]]:
    """Oversight roles see the regency; an OPD head sees their unit; others are refused."""
    if user.has(*OVERSIGHT):
        return "TRUE", []
    if user.has("KEPALA_OPD") and user.unit:
        return "unit = %s", [user.unit]
    raise ApiError(403, "Dasbor hanya untuk pimpinan, BKPSDM dan pengawas.", "Dashboards are for heads, BKPSDM and oversight.")


@router.get("/waiting")
async def waiting(user: CurrentUser, conn: DbDep) -> dict[str, Any]:
    """Open and late tasks per unit and process, with the oldest waiting since."""
    where, params = unit_scope(user)
    rows = await (
        await conn.execute(
            "SELECT coalesce(unit, '-') AS unit, process, count(*) AS open,"
            " count(*) FILTER (WHERE due_at < now()) AS overdue, min(opened_at) AS oldest"
            f" FROM tasks WHERE status IN ('open', 'claimed') AND {where}"  # noqa: S608
            " GROUP BY 1, 2 ORDER BY overdue DESC, open DESC",
            params,
        )
    ).fetchall()
    return {"data": rows}


@router.get("/cases")
async def cases(user: CurrentUser, conn: DbDep) -> dict[str, Any]:
    """Cases per process and status."""
    where, params = unit_scope(user)
    rows = await (
        await conn.execute(
            f"SELECT process, status, count(*) AS count FROM cases WHERE {where}"  # noqa: S608
            " GROUP BY 1, 2 ORDER BY 1, 2",
            params,
        )
    ).fetchall()
    return {"data": rows}
