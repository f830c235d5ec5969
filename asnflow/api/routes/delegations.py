"""Acting officials (Plt/Plh) and out-of-office substitutes: grant, list, revoke."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field
from temporalio.service import RPCError

from asnflow.api.auth import User
from asnflow.api.deps import CurrentUser, DbDep, MinPosition, ResourcesDep, catch_up, wait_for_view
from asnflow.api.updates import deliver
from asnflow.api.errors import ApiError, unavailable
from asnflow.api.schemas import NIP_PATTERN
from asnflow.domain import deadlines as dl
from asnflow.workflows.deadline_contracts import Delegation, GrantDelegationInput, RevokeDelegationInput
from asnflow.workflows.delegation import DelegationWorkflow, delegation_case_id

router = APIRouter(prefix="/api/v1/delegations", tags=["delegations"])

SEE_ALL = ("BKPSDM", "ADMIN", "AUDITOR")
COLUMNS = (
    "id, type, principal_nip, principal_roles, principal_unit, acting_nip, processes, kinds, starts_at, ends_at, status,"
    " legal_basis, reason, granted_by, granted_at, ended_at, ended_by, end_reason, updated_position"
)


class DelegationCreate(BaseModel):
    type: Literal["PLT", "PLH", "SUBSTITUTE"] = Field(description="PLT/PLH by decree (BKPSDM, ADMIN); SUBSTITUTE by the holder too")
    principal_nip: str = Field(pattern=NIP_PATTERN, description="whose authority is delegated (the position holder)")
    acting_nip: str = Field(pattern=NIP_PATTERN, description="who acts on their behalf")
    starts_at: datetime
    ends_at: datetime = Field(description="the delegation ends by itself at this moment")
    processes: list[str] = Field(default_factory=list, description="empty: every process")
    kinds: list[str] = Field(default_factory=list, description="empty: every task kind")
    legal_basis: str = Field(default="", max_length=500, description="e.g. Surat Perintah Plh number (required for PLT/PLH)")
    reason: str = Field(default="", max_length=2000)


class RevokeCreate(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class DelegationPublic(BaseModel):
    id: str
    type: str
    principal_nip: str
    principal_roles: list[str]
    principal_unit: str | None
    acting_nip: str
    processes: list[str]
    kinds: list[str]
    starts_at: datetime
    ends_at: datetime
    status: str  # scheduled | active | expired | revoked
    legal_basis: str | None
    reason: str | None
    granted_by: str | None
    granted_at: datetime
    ended_at: datetime | None
    ended_by: str | None
    end_reason: str | None
    updated_position: int


class DelegationsPublic(BaseModel):
    data: list[DelegationPublic]
    count: int


class DelegationAccepted(BaseModel):
    id: str
    status: str = "starting"
    links: dict[str, str]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _employee(conn: Any, nip: str) -> dict[str, Any] | None:
    return await (await conn.execute("SELECT nip, nama, unit, roles FROM employees WHERE nip = %s", [nip])).fetchone()  # type: ignore[no-any-return]


@router.post("", response_model=DelegationAccepted, status_code=status.HTTP_202_ACCEPTED)
async def grant(body: DelegationCreate, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> DelegationAccepted:
    """Grant a position's authority to an acting official for a period (no re-delegation: only the holder or BKPSDM/ADMIN grant)."""
    kind = dl.DELEGATION_TYPES[body.type]
    by_holder = user.nip == body.principal_nip and not kind["by_decree"]
    if not (by_holder or user.has(*dl.DELEGATION_GRANTORS)):
        raise ApiError(
            403,
            "Hanya BKPSDM/ADMIN (atau pemegang jabatan untuk pengganti sementara) yang boleh melimpahkan wewenang; wewenang yang diterima dari pelimpahan tidak dapat dilimpahkan lagi.",
            "Only BKPSDM/ADMIN (or the holder, for a substitute) may delegate; authority received by delegation cannot be delegated again.",
        )
    starts, ends = _aware(body.starts_at), _aware(body.ends_at)
    problems = []
    if body.principal_nip == body.acting_nip:
        problems.append({"field": "acting_nip", "id": "Pelaksana harus orang lain.", "en": "The acting official must be someone else."})
    if ends <= starts:
        problems.append({"field": "ends_at", "id": "Akhir harus sesudah awal.", "en": "The end must come after the start."})
    if ends <= datetime.now(UTC):
        problems.append({"field": "ends_at", "id": "Akhir sudah lewat.", "en": "The end is already past."})
    if ends - starts > timedelta(days=kind["max_days"]):
        problems.append({"field": "ends_at", "id": f"Paling lama {kind['max_days']} hari.", "en": f"At most {kind['max_days']} days."})
    if kind["by_decree"] and not body.legal_basis.strip():
        problems.append({"field": "legal_basis", "id": "Nomor surat perintah wajib diisi.", "en": "The decree (surat perintah) number is required."})
    principal, acting = await _employee(conn, body.principal_nip), await _employee(conn, body.acting_nip)
    for field_name, found in (("principal_nip", principal), ("acting_nip", acting)):
        if found is None:
            problems.append({"field": field_name, "id": "Pegawai tidak ada di direktori.", "en": "Not in the employee directory."})
    if problems:
        raise ApiError(422, problems[0]["id"], problems[0]["en"], problems)
    assert principal is not None
    clash = await (
        await conn.execute(
            "SELECT id, principal_nip, acting_nip FROM delegations WHERE status IN ('scheduled', 'active')"
            " AND starts_at < %s AND %s < ends_at AND (principal_nip = %s OR principal_nip = %s) LIMIT 1",
            [ends, starts, body.principal_nip, body.acting_nip],
        )
    ).fetchone()
    if clash is not None:
        if clash["principal_nip"] == body.principal_nip:
            raise ApiError(409, f"Sudah ada pelimpahan {clash['id']} untuk masa ini.", f"Delegation {clash['id']} already covers this period.")
        raise ApiError(
            409, "Pelaksana sendiri sedang melimpahkan wewenangnya pada masa ini.", "The acting official is away (has delegated) in this period."
        )
    delegation_id = user.case_id(delegation_case_id(uuid.uuid4().hex[:12]))
    inp = GrantDelegationInput(
        delegation_id=delegation_id,
        delegation=Delegation(
            delegation_id=delegation_id, type=body.type, principal_nip=body.principal_nip, acting_nip=body.acting_nip,
            starts_at=starts.isoformat(), ends_at=ends.isoformat(), principal_roles=list(principal["roles"]),
            principal_unit=principal["unit"], processes=body.processes, kinds=body.kinds,
        ),
        granted_by=user.actor(), legal_basis=body.legal_basis, reason=body.reason,
    )
    client = await res.temporal_client()
    try:
        await client.start_workflow(DelegationWorkflow.run, inp, id=delegation_id, task_queue=res.settings.task_queue)
    except RPCError:
        raise unavailable("Temporal") from None
    return DelegationAccepted(
        id=delegation_id, links={"self": f"/api/v1/delegations/{delegation_id}", "events": f"/api/v1/cases/{delegation_id}/events"}
    )


def _visible(user: User) -> tuple[str, list[Any]]:
    if user.has(*SEE_ALL):
        return "TRUE", []
    return "(principal_nip = %s OR acting_nip = %s OR granted_by = %s)", [user.nip, user.nip, user.nip]


@router.get("", response_model=DelegationsPublic)
async def list_delegations(
    user: CurrentUser,
    conn: DbDep,
    res: ResourcesDep,
    role: Literal["any", "principal", "acting"] = "any",
    state: Annotated[Literal["scheduled", "active", "expired", "revoked", "current", "all"], Query(alias="status")] = "all",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    min_position: MinPosition = None,
) -> DelegationsPublic:
    """Delegations I granted, hold or act in (BKPSDM/ADMIN/AUDITOR: all)."""
    await catch_up(conn, res, "delegations", min_position)
    where, params = _visible(user)
    if role != "any":
        where += f" AND {role}_nip = %s"
        params.append(user.nip)
    if state == "current":
        where += " AND status IN ('scheduled', 'active')"
    elif state != "all":
        where += " AND status = %s"
        params.append(state)
    rows = await (
        await conn.execute(f"SELECT {COLUMNS} FROM delegations WHERE {where} ORDER BY starts_at DESC LIMIT %s", [*params, limit])  # noqa: S608
    ).fetchall()
    return DelegationsPublic(data=[DelegationPublic(**r) for r in rows], count=len(rows))


async def _load(conn: Any, user: User, delegation_id: str) -> dict[str, Any]:
    where, params = _visible(user)
    row = await (
        await conn.execute(f"SELECT {COLUMNS} FROM delegations WHERE id = %s AND {where}", [delegation_id, *params])  # noqa: S608
    ).fetchone()
    if row is None:
        raise ApiError(404, "Pelimpahan wewenang tidak ditemukan.", "Delegation not found.")
    return row  # type: ignore[no-any-return]


@router.get("/{delegation_id}", response_model=DelegationPublic)
async def get_delegation(delegation_id: str, user: CurrentUser, conn: DbDep, res: ResourcesDep, min_position: MinPosition = None) -> DelegationPublic:
    """One delegation."""
    await catch_up(conn, res, "delegations", min_position)
    return DelegationPublic(**await _load(conn, user, delegation_id))


@router.post("/{delegation_id}/revoke", response_model=DelegationPublic)
async def revoke(delegation_id: str, body: RevokeCreate, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> DelegationPublic:
    """End a delegation early (the holder, whoever granted it, or BKPSDM/ADMIN)."""
    row = await _load(conn, user, delegation_id)
    if not (user.has(*dl.DELEGATION_GRANTORS) or user.nip in (row["principal_nip"], row["granted_by"])):
        raise ApiError(403, "Anda tidak boleh mencabut pelimpahan ini.", "You may not revoke this delegation.")
    result = await deliver(
        await res.temporal_client(), delegation_id, DelegationWorkflow.revoke,
        RevokeDelegationInput(actor=user.actor(), reason=body.reason),
        missing=ApiError(409, "Pelimpahan wewenang sudah berakhir.", "The delegation has already ended."),
    )
    await wait_for_view(conn, "delegations", result.position, res.settings.read_wait_seconds)
    return DelegationPublic(**await _load(conn, user, delegation_id))
