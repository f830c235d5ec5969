"""The evaluation process: start a case or a season, evidence, transfers, objections, and the evaluation views."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field
from temporalio.service import RPCError, RPCStatusCode

from asnflow.activities.evaluation import start_evaluation as start_case
from asnflow.activities.evaluation import start_season
from asnflow.api.auth import User
from asnflow.api.deps import CurrentUser, DbDep, MinPosition, Resources, ResourcesDep, catch_up, require
from asnflow.api.errors import ApiError, unavailable
from asnflow.api.updates import deliver
from asnflow.api.routes.tasks import act as act_on_task
from asnflow.api.schemas import NIP_PATTERN, CaseAccepted, EvaluationCreate, TaskActionPublic
from asnflow.domain import performance
from asnflow.domain.calendar import JAKARTA
from asnflow.domain.evaluation import season_year_problem
from asnflow.workflows.contracts import DecisionInput
from asnflow.workflows.evaluation import EvaluationWorkflow
from asnflow.workflows.evaluation_contracts import EvidenceInput, TransferInput, evaluation_case_id
from asnflow.workflows.human_tasks import CaseWorkflow

router = APIRouter(prefix="/api/v1/evaluations", tags=["evaluations"])

SEASON_ROLES = ("BKPSDM", "ADMIN")
SEE_ALL = ("ADMIN", "AUDITOR", "BKPSDM", "SEKDA", "BUPATI", "TIM_PENILAI")


class SeasonCreate(BaseModel):
    year: int = Field(ge=2022, le=2100, description="Performance year")


class EvidenceCreate(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    sha256: str | None = Field(default=None, description="SHA-256 of the file (hex); or send content_base64 and it is computed here")
    content_base64: str | None = Field(default=None, description="The file itself; only its hash is recorded, never the content")
    size_bytes: int | None = Field(default=None, ge=0)
    note: str = Field(default="", max_length=1000)


class TransferCreate(BaseModel):
    effective_date: str = Field(description="ISO date the new post starts")
    reason: str = ""
    decree: str = Field(default="", description="e.g. the SK number")
    unit: str | None = None
    jabatan: str | None = None
    jenis_jabatan: str | None = None
    appraiser_nip: str | None = Field(default=None, pattern=NIP_PATTERN)


class ObjectionCreate(BaseModel):
    reason: str = Field(min_length=1, max_length=4000, description="Why the result is wrong (keberatan)")


class CaseActionPublic(BaseModel):
    case_id: str
    event_type: str
    position: int


def _may_see_unit(user: User, unit: str | None) -> bool:
    return user.has(*SEE_ALL) or (user.has("KEPALA_OPD", "ATASAN") and unit is not None and unit == user.unit)


EVALUATION_CASE = re.compile(r"^evaluation-\d{4}-\d{18}$")
NOT_RUNNING = ApiError(409, "Perkara tidak berjalan (sudah selesai atau tidak ada).", "The case is not running (closed or unknown).")


async def _update(res: Resources, case_id: str, update: Any, arg: Any) -> Any:
    """Deliver an Update to an evaluation case; refusals become 403/409/422 with nothing written."""
    if not EVALUATION_CASE.match(case_id):
        # Not one employee's evaluation (a season's id, say): nothing to deliver to.
        raise ApiError(404, "Perkara evaluasi tidak ditemukan.", "Evaluation case not found.")
    return await deliver(await res.temporal_client(), case_id, update, arg, missing=NOT_RUNNING)


async def _case(conn: Any, case_id: str) -> dict[str, Any]:
    row = await (await conn.execute("SELECT * FROM evaluation_cases WHERE case_id = %s", [case_id])).fetchone()
    if row is None:
        raise ApiError(404, "Perkara evaluasi tidak ditemukan.", "Evaluation case not found.")
    return row  # type: ignore[no-any-return]


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=CaseAccepted)
async def start_evaluation(body: EvaluationCreate, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> CaseAccepted:
    """Open the annual evaluation of one employee (the employee, their superior, BKPSDM or ADMIN)."""
    row = await (
        await conn.execute("SELECT nip, atasan_nip, unit FROM employees WHERE nip = %s", [body.nip])
    ).fetchone()
    if row is None:
        raise ApiError(
            422, "NIP tidak terdaftar di direktori pegawai.", "The NIP is not in the employee directory.",
            [{"field": "nip", "id": "NIP tidak terdaftar.", "en": "Unknown NIP."}],
        )
    if not (user.nip in (row["nip"], row["atasan_nip"]) or user.has("BKPSDM", "ADMIN")):
        raise ApiError(
            403,
            "Hanya pegawai itu, atasannya, BKPSDM atau ADMIN yang boleh memulai evaluasinya.",
            "Only the employee, their superior, BKPSDM or ADMIN may start this evaluation.",
        )
    case_id = user.case_id(evaluation_case_id(body.nip, body.year))
    client = await res.temporal_client()
    try:
        started = await start_case(
            client, res.settings.task_queue, body.nip, body.year, row["unit"], user.actor(), res.settings.evaluation_policy,
            tenant_prefix=user.actor().tenant,
        )
    except RPCError as exc:
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise unavailable("Temporal") from None
        raise
    if not started:
        # One evaluation per employee per year, ever: a second start is a conflict, not a new case.
        raise ApiError(
            409, f"Evaluasi {body.year} untuk NIP ini sudah ada.", f"The {body.year} evaluation of this NIP already exists."
        )
    return CaseAccepted(
        id=case_id,
        process="evaluation",
        links={"case": f"/api/v1/cases/{case_id}", "events": f"/api/v1/cases/{case_id}/events"},
    )


@router.post("/season", status_code=status.HTTP_202_ACCEPTED, response_model=CaseAccepted)
async def start_evaluation_season(body: SeasonCreate, user: CurrentUser, res: ResourcesDep) -> CaseAccepted:
    """Start a case for every active employee (BKPSDM, ADMIN); running it again starts nothing twice."""
    require(user, *SEASON_ROLES)
    problem = season_year_problem(body.year, datetime.now(JAKARTA).year)
    if problem is not None:
        raise ApiError(422, *problem, [{"field": "year", "id": problem[0], "en": problem[1]}])
    client = await res.temporal_client()
    try:
        case_id, new = await start_season(
            client, res.settings.task_queue, res.settings.database_url, body.year, user.actor(), res.settings.evaluation_policy,
            tenant=user.tenant, default_tenant=res.settings.default_tenant,
        )
    except RPCError as exc:
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise unavailable("Temporal") from None
        raise
    return CaseAccepted(
        id=case_id,
        process="evaluation_season",
        status="starting" if new else "running",
        links={"case": f"/api/v1/cases/{case_id}", "events": f"/api/v1/cases/{case_id}/events"},
    )


@router.post("/{case_id}/evidence", response_model=CaseActionPublic)
async def add_evidence(case_id: str, body: EvidenceCreate, user: CurrentUser, res: ResourcesDep) -> CaseActionPublic:
    """Record an evidence file by its SHA-256 (the employee or the appraiser); the content is never stored."""
    digest = body.sha256
    if body.content_base64 is not None:
        try:
            content = base64.b64decode(body.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(
                422, "content_base64 bukan base64 yang sah.", "content_base64 is not valid base64.",
                [{"field": "content_base64", "id": "Bukan base64.", "en": "Not base64."}],
            ) from None
        computed = hashlib.sha256(content).hexdigest()
        if digest is not None and digest != computed:
            raise ApiError(
                422, "sha256 tidak cocok dengan isi berkas.", "sha256 does not match the file content.",
                [{"field": "sha256", "id": "Hash tidak cocok.", "en": "Hash mismatch."}],
            )
        digest = computed
    if digest is None:
        raise ApiError(
            422, "Kirim sha256 atau content_base64.", "Send sha256 or content_base64.",
            [{"field": "sha256", "id": "sha256 wajib diisi.", "en": "sha256 is required."}],
        )
    inp = EvidenceInput(actor=user.actor(), filename=body.filename, sha256=digest.lower(), size_bytes=body.size_bytes, note=body.note)
    done = await _update(res, case_id, EvaluationWorkflow.add_evidence, inp)
    return CaseActionPublic(case_id=done.case_id, event_type=done.event_type, position=done.position)


@router.post("/{case_id}/transfer", response_model=CaseActionPublic)
async def record_transfer(case_id: str, body: TransferCreate, user: CurrentUser, res: ResourcesDep) -> CaseActionPublic:
    """Record a mid-year transfer (BKPSDM, ADMIN): the SKP period closes and a new one opens for the new post."""
    inp = TransferInput(actor=user.actor(), **body.model_dump())
    done = await _update(res, case_id, EvaluationWorkflow.record_transfer, inp)
    return CaseActionPublic(case_id=done.case_id, event_type=done.event_type, position=done.position)


@router.post("/{case_id}/objection", response_model=TaskActionPublic)
async def file_objection(case_id: str, body: ObjectionCreate, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> TaskActionPublic:
    """The employee objects to the result within the window; a late objection is refused with the reason."""
    case = await _case(conn, case_id)
    if case["nip"] != user.nip:
        raise ApiError(403, "Hanya pegawai yang dinilai yang dapat mengajukan keberatan.", "Only the employee evaluated may object.")
    deadline = case["objection_deadline"]
    if deadline is not None and (case["objection"] == "WINDOW_CLOSED" or datetime.now(UTC) > deadline):
        raise ApiError(
            422,
            f"Keberatan ditolak: diajukan setelah batas waktu ({deadline.isoformat()}); hasil evaluasi sudah final.",
            f"Objection refused: filed after the deadline ({deadline.isoformat()}); the result is final.",
            [{"field": "reason", "id": "Terlambat.", "en": "Too late."}],
        )
    if case["waiting_kind"] != "ACKNOWLEDGEMENT" or case["waiting_task_id"] is None:
        raise ApiError(409, "Hasil evaluasi belum disampaikan atau keberatan sudah diajukan.", "No result is awaiting acknowledgement or objection.")
    task_id = case["waiting_task_id"]
    inp = DecisionInput(task_id=task_id, actor=user.actor(), outcome="OBJECTED", reason=body.reason)
    return await act_on_task(res, conn, task_id, CaseWorkflow.decide, inp)


@router.get("/distribution")
async def distribution(
    user: CurrentUser, conn: DbDep, res: ResourcesDep, year: int, unit: str | None = None, min_position: MinPosition = None
) -> dict[str, Any]:
    """Per unit and year: the final predicates of calibrated employees against the quota of the organisation predicate."""
    await catch_up(conn, res, "evaluation", min_position)
    if unit is not None and not _may_see_unit(user, unit):
        raise ApiError(403, "Anda tidak berwenang melihat unit ini.", "You may not see this unit.")
    if unit is None and not user.has(*SEE_ALL):
        if not user.has("KEPALA_OPD", "ATASAN"):
            raise ApiError(403, "Anda tidak berwenang melihat distribusi predikat.", "You may not see predicate distributions.")
        unit = user.unit
    where, params = "year = %s", [year]
    if unit is not None:
        where += " AND unit = %s"
        params.append(unit)
    rows = await (
        await conn.execute(f"SELECT * FROM evaluation_distribution WHERE {where} ORDER BY unit", params)  # noqa: S608
    ).fetchall()
    data = [
        {
            "unit": r["unit"], "year": r["year"], "org_predicate": r["org_predicate"], "total": r["total"], "counts": r["counts"],
            "raw_counts": r["raw_counts"], "quota": r["quota"], "quota_violations": r["quota_violations"], "within_quota": r["within_quota"],
        }
        for r in rows
    ]
    return {"data": data, "count": len(data)}


@router.get("/waiting")
async def waiting(
    user: CurrentUser,
    conn: DbDep,
    res: ResourcesDep,
    year: int,
    unit: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    min_position: MinPosition = None,
) -> dict[str, Any]:
    """Open evaluation cases and whom each waits on: a task's assignee, a role pool, or the unit's calibration."""
    await catch_up(conn, res, "evaluation", min_position)
    if unit is None and not user.has(*SEE_ALL):
        unit = user.unit
    if not (user.has(*SEE_ALL) or _may_see_unit(user, unit)):
        raise ApiError(403, "Anda tidak berwenang melihat unit ini.", "You may not see this unit.")
    where, params = "c.year = %s AND c.status = 'open'", [year]
    if unit is not None:
        where += " AND c.unit = %s"
        params.append(unit)
    rows = await (
        await conn.execute(
            "SELECT c.case_id, c.nip, c.unit, c.phase, c.waiting_task_id, c.waiting_kind, c.waiting_assignee_nip, c.waiting_role,"
            " c.waiting_since, c.waiting_due, c.calibration_case_id, k.waiting_kind AS cal_kind,"
            " k.waiting_assignee_nip AS cal_assignee, k.waiting_role AS cal_role, k.waiting_since AS cal_since"
            " FROM evaluation_cases c LEFT JOIN evaluation_calibrations k ON k.case_id = c.calibration_case_id"
            f" WHERE {where} ORDER BY COALESCE(c.waiting_since, k.waiting_since) NULLS LAST, c.case_id LIMIT %s",  # noqa: S608
            [*params, limit],
        )
    ).fetchall()
    data = []
    for r in rows:
        if r["waiting_kind"]:
            on = {"via": "task", "task_id": r["waiting_task_id"], "kind": r["waiting_kind"], "nip": r["waiting_assignee_nip"], "role": r["waiting_role"], "since": r["waiting_since"], "due_at": r["waiting_due"]}
        elif r["phase"] == "calibration" and r["calibration_case_id"]:
            on = {"via": "calibration", "case_id": r["calibration_case_id"], "kind": r["cal_kind"], "nip": r["cal_assignee"], "role": r["cal_role"], "since": r["cal_since"]}
        else:
            on = {"via": "timer", "kind": None, "nip": None, "role": None}  # e.g. the next check-in or the year's end
        data.append({"case_id": r["case_id"], "nip": r["nip"], "unit": r["unit"], "phase": r["phase"], "waiting_on": on})
    by_person: dict[str, int] = {}
    for d in data:
        key = d["waiting_on"]["nip"] or d["waiting_on"]["role"] or d["waiting_on"]["via"]
        by_person[key] = by_person.get(key, 0) + 1
    return {"data": data, "count": len(data), "by_assignee": by_person}


@router.get("/employees/{nip}/predicates")
async def predicates(nip: str, user: CurrentUser, conn: DbDep, res: ResourcesDep, as_of_year: int | None = None, min_position: MinPosition = None) -> dict[str, Any]:
    """An employee's final predicates and credit points by year; the last two, and whether they meet "at least Baik" for promotion."""
    await catch_up(conn, res, "evaluation", min_position)
    employee = await (await conn.execute("SELECT nip, atasan_nip, unit FROM employees WHERE nip = %s", [nip])).fetchone()
    if employee is None:
        raise ApiError(404, "Pegawai tidak ditemukan.", "Employee not found.")
    if not (user.nip in (employee["nip"], employee["atasan_nip"]) or _may_see_unit(user, employee["unit"])):
        raise ApiError(403, "Anda tidak berwenang melihat riwayat predikat pegawai ini.", "You may not see this employee's predicate history.")
    rows = await (
        await conn.execute("SELECT * FROM employee_predicates WHERE nip = %s ORDER BY year DESC", [nip])
    ).fetchall()
    history = {r["year"]: r["final"] for r in rows}
    as_of = as_of_year or datetime.now(UTC).year
    return {
        "nip": nip,
        "history": [
            {
                "year": r["year"], "case_id": r["case_id"], "final": r["final"], "raw": r["raw"], "calibrated": r["calibrated"],
                "credit_points": r["credit_points"], "credit": r["credit"], "objection": r["objection"], "jabatan": r["jabatan"],
            }
            for r in rows
        ],
        "last_two": performance.last_two(history, before_year=as_of),
        "promotion_performance_ok": performance.meets_promotion_performance(history, as_of),
        "as_of_year": as_of,
        "credit_points_total": round(sum(r["credit_points"] or 0 for r in rows), 3),
    }

