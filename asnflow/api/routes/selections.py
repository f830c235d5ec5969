"""Selection of new civil servants: start a round, bulk uploads, announcements, objections, rankings, the applicant's own status."""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from asnflow.activities.selection import PURGE_STALE_SQL, STAGE_SQL, STAGING_DDL, STAGING_RETENTION_DAYS
from asnflow.api.deps import CurrentUser, DbDep, MinPosition, ResourcesDep, catch_up
from asnflow.api.errors import ApiError
from asnflow.api.routes.complaints import RateLimiter, _state
from asnflow.api.routes.trainings import _problems_error, _start, _update
from asnflow.api.tenancy import default_tenant_only
from asnflow.domain import selection as sel
from asnflow.domain.organisation import UNITS_BY_CODE
from asnflow.workflows.selection import SelectionWorkflow
from asnflow.workflows.selection_contracts import (
    STAGE_ADMIN,
    STAGE_FINAL,
    AnnounceInput,
    FileInput,
    ObjectionInput,
    OverrideInput,
    SelectionSchedule,
    StartSelectionInput,
    selection_case_id,
)

router = APIRouter(prefix="/api/v1/selections", tags=["selections"])

MAX_UPLOAD = 64 * 1024 * 1024  # a 250 k-row BKN file is ~10 MB
REG = r"^\d{8,20}$"
PUBLIC_LIMITS: dict[str, tuple[int, float]] = {"status": (20, 3.0), "objection": (10, 30.0), "announcement": (60, 1.0)}
MISSING = ApiError(404, "Seleksi tidak ditemukan.", "Selection not found.")


class SelectionCreate(BaseModel):
    year: int = Field(ge=2019, le=2100)
    kind: str = Field(pattern="^(CPNS|PPPK)$")
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$", description="Distinguishes rounds of one year (e.g. `cpns`, `pppk-guru`)")
    title: str = Field(min_length=3, max_length=200)
    formations: list[dict[str, Any]] = Field(max_length=5000, description="[{code, jabatan, education, unit, vacancies, track}]")
    rules_version: str = Field(default="", max_length=32, description="e.g. CPNS-2024 (default: the latest for the kind)")
    registration_days: float | None = Field(default=None, gt=0, le=120)
    objection_days: float | None = Field(default=None, gt=0, le=30)
    drh_days: float | None = Field(default=None, gt=0, le=120)


class Accepted(BaseModel):
    id: str
    process: str = sel.PROCESS
    status: str = "starting"
    links: dict[str, str]


class OverrideCreate(BaseModel):
    reg_no: str = Field(pattern=REG)
    field: str = Field(pattern="^(final_status|admin_result)$")
    value: str = Field(max_length=32)
    justification: str = Field(min_length=1, max_length=2000)


class ApplicantSecret(BaseModel):
    reg_no: str = Field(pattern=REG)
    secret: str = Field(min_length=8, max_length=64)


class ObjectionCreate(ApplicantSecret):
    stage: str = Field(pattern=f"^({STAGE_ADMIN}|{STAGE_FINAL})$")
    reason: str = Field(min_length=1, max_length=4000)


def limited(action: str) -> Any:
    """429 with Retry-After when a client asks too often (the public desk guesses no codes by brute force)."""

    async def check(request: Request) -> None:
        limiter: RateLimiter = _state(request, "selection_limiter", lambda: RateLimiter(PUBLIC_LIMITS))
        wait = limiter.retry_after(action, request.client.host if request.client else "unknown")
        if wait > 0:
            seconds = max(1, int(wait + 0.999))
            raise ApiError(429, f"Terlalu banyak permintaan. Coba lagi dalam {seconds} detik.", f"Too many requests. Try again in {seconds} second(s).",
                           headers={"Retry-After": str(seconds)})

    return Depends(check)


def _links(case_id: str) -> dict[str, str]:
    return {"case": f"/api/v1/cases/{case_id}", "events": f"/api/v1/cases/{case_id}/events", "round": f"/api/v1/selections/{case_id}"}


async def _body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_UPLOAD:
        raise ApiError(413, "Berkas terlalu besar (maks. 64 MB).", "The file is too large (max. 64 MB).")
    content = await request.body()
    if not content or len(content) > MAX_UPLOAD:
        raise ApiError(422, "Berkas CSV wajib dikirim sebagai isi permintaan (text/csv).", "Send the CSV file as the request body (text/csv).")
    return content


async def _stage(conn: Any, case_id: str, stage: str, content: bytes, nip: str | None, extra: dict[str, Any] | None = None) -> str:
    """Stage an upload under its SHA-256 and commit, so the workflow's activity can read it."""
    sha = sel.file_sha256(content)
    await conn.execute(STAGING_DDL)
    await conn.execute(PURGE_STALE_SQL, [STAGING_RETENTION_DAYS])
    await conn.execute(STAGE_SQL, [sha, case_id, stage, content, Jsonb(extra or {}), nip])
    await conn.commit()
    return sha


# --- committee (BKPSDM) ------------------------------------------------------------------------------
@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def start_selection(body: SelectionCreate, user: CurrentUser, res: ResourcesDep) -> Accepted:
    """Announce a round for a formation set (the case); registration opens at once."""
    rules = sel.rules_for(body.kind, body.rules_version) if body.rules_version in ("", *sel.RULES) else None
    if rules is None or rules.kind != body.kind:
        raise ApiError(422, "Versi aturan tidak dikenal untuk jenis seleksi ini.", "Unknown rules version for this kind of selection.",
                       [{"field": "rules_version", "id": "Versi aturan tidak dikenal.", "en": f"Known: {sorted(sel.RULES)}"}])
    problems = sel.formation_problems(body.formations, rules, set(UNITS_BY_CODE))
    if problems:
        raise _problems_error(422, problems)
    default_tenant_only(user)  # rounds, views and the public desk are not yet kept apart per tenant
    case_id = selection_case_id(body.year, body.slug)
    await _start(
        res, SelectionWorkflow.run,
        StartSelectionInput(case_id=case_id, year=body.year, kind=body.kind, title=body.title, formations=body.formations, started_by=user.actor(),
                            rules_version=rules.version,
                            schedule=SelectionSchedule(body.registration_days, body.objection_days, body.drh_days)),
        case_id, ApiError(409, "Seleksi ini sudah ada.", "This selection already exists."),
    )
    return Accepted(id=case_id, links=_links(case_id))


@router.post("/{case_id}/applicants")
async def register_applicants(case_id: str, request: Request, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> dict[str, Any]:
    """SSCASN's applicant file (CSV body: no_peserta,nama,formasi,jalur,tanggal_lahir,ipk); answers each applicant's secret code once."""
    content = await _body(request)
    # Codes are made here and only their digests travel on: the store never sees a code.
    regs = [m.group(1) for m in re.finditer(rb"^\s*(\d{8,20})[,;]", content, re.M)]
    codes = {r.decode(): secrets.token_urlsafe(15) for r in regs}
    digests = {r: sel.secret_digest(r, c) for r, c in codes.items()}
    sha = await _stage(conn, case_id, "REGISTRATION", content, user.nip, {"secrets": digests})
    done = await _update(res, _round_id(case_id), SelectionWorkflow.register_applicants, FileInput(user.actor(), sha, "REGISTRATION"), MISSING)
    return {"case_id": case_id, "event_type": done.event_type, "position": done.position, "file_sha256": sha, **done.summary,
            "secrets": [{"reg_no": r, "secret": c} for r, c in codes.items()]}


@router.post("/{case_id}/scores/{stage}")
async def import_scores(case_id: str, stage: str, request: Request, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> dict[str, Any]:
    """A BKN score file (CSV body) for SKD, SKB or PPPK; refused whole with line-numbered reasons, else one event with its checksum."""
    if stage not in ("SKD", "SKB", "PPPK"):
        raise ApiError(404, "Tahap nilai tidak dikenal.", "Unknown score stage.")
    content = await _body(request)
    sha = await _stage(conn, case_id, stage, content, user.nip)
    done = await _update(res, _round_id(case_id), SelectionWorkflow.import_scores, FileInput(user.actor(), sha, stage), MISSING)
    return {"case_id": case_id, "event_type": done.event_type, "position": done.position, "file_sha256": sha, **done.summary}


@router.post("/{case_id}/administrative-result")
async def announce_administrative(case_id: str, user: CurrentUser, res: ResourcesDep) -> dict[str, Any]:
    """Announce MS/TMS once every application is verified; the 3-day objection window opens."""
    done = await _update(res, _round_id(case_id), SelectionWorkflow.announce_administrative, AnnounceInput(user.actor()), MISSING)
    return {"case_id": case_id, "event_type": done.event_type, "position": done.position, **done.summary}


def _round_id(case_id: str) -> str:
    """The id of a selection round, or 404: an Update must never reach another process's workflow."""
    if not case_id.startswith("selection-"):
        raise MISSING
    return case_id


@router.post("/{case_id}/overrides")
async def override(case_id: str, body: OverrideCreate, user: CurrentUser, res: ResourcesDep) -> dict[str, Any]:
    """A manual override of a computed result with its written justification (recorded, shown in the audit)."""
    done = await _update(res, _round_id(case_id), SelectionWorkflow.override_result,
                         OverrideInput(user.actor(), body.reg_no, body.field, body.value, body.justification), MISSING)
    return {"case_id": case_id, "event_type": done.event_type, "position": done.position, **done.summary}


# --- reads -----------------------------------------------------------------------------------------------
async def _round(conn: Any, case_id: str) -> dict[str, Any]:
    row = await (await conn.execute("SELECT * FROM selection_rounds WHERE case_id = %s", [case_id])).fetchone()
    if row is None:
        raise MISSING
    return row  # type: ignore[no-any-return]


@router.get("/{case_id}")
async def round_status(case_id: str, user: CurrentUser, conn: DbDep, res: ResourcesDep, min_position: MinPosition = None) -> dict[str, Any]:
    """The round, its stage and the counts per stage."""
    await catch_up(conn, res, "selection", min_position)
    row = await _round(conn, case_id)
    counts = await (await conn.execute(
        "SELECT count(*) AS registered, count(*) FILTER (WHERE verification IS NOT NULL) AS verified,"
        " count(*) FILTER (WHERE admin_result = 'MS') AS ms, count(*) FILTER (WHERE admin_result = 'TMS') AS tms,"
        " count(skd_total) AS skd_taken, count(*) FILTER (WHERE skd_passed) AS skd_passed, count(*) FILTER (WHERE skb_participant) AS skb_participants,"
        " count(skb) AS skb_taken, count(*) FILTER (WHERE final_status = 'LULUS') AS lulus,"
        " count(*) FILTER (WHERE final_status = 'LULUS_OPTIMALISASI') AS lulus_optimalisasi FROM selection_applicants WHERE case_id = %s", [case_id])).fetchone()
    return {**row, "counts": counts}


@router.get("/{case_id}/rankings")
async def rankings(
    case_id: str, user: CurrentUser, conn: DbDep, res: ResourcesDep, formation: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200, offset: Annotated[int, Query(ge=0)] = 0, min_position: MinPosition = None,
) -> dict[str, Any]:
    """The final ranking per formation (rank, integrated score, SKD, SKB, status), best first."""
    await catch_up(conn, res, "selection", min_position)
    await _round(conn, case_id)
    where, params = "case_id = %s AND rank IS NOT NULL", [case_id]
    if formation:
        where += " AND formation = %s"
        params.append(formation)
    rows = await (await conn.execute(
        f"SELECT reg_no, nama, formation, track, rank, final, skd, skd_total, skb, final_status, placed_formation, overridden FROM selection_applicants"  # noqa: S608
        f" WHERE {where} ORDER BY formation, rank, reg_no LIMIT %s OFFSET %s", [*params, limit, offset])).fetchall()
    return {"data": rows, "count": len(rows)}


@router.get("/{case_id}/objections")
async def objections(case_id: str, user: CurrentUser, conn: DbDep, res: ResourcesDep, min_position: MinPosition = None) -> dict[str, Any]:
    """Objections and their outcomes."""
    await catch_up(conn, res, "selection", min_position)
    rows = await (await conn.execute("SELECT * FROM selection_objections WHERE case_id = %s ORDER BY filed_at, objection_id", [case_id])).fetchall()
    return {"data": rows, "count": len(rows)}


# --- the public desk (no login) ------------------------------------------------------------------------
async def _applicant(conn: Any, body: ApplicantSecret) -> dict[str, Any]:
    """The applicant whose registration number and secret code match (compared in constant time)."""
    rows = await (await conn.execute(
        "SELECT a.*, r.kind, r.year, r.title, r.stage AS round_stage FROM selection_applicants a JOIN selection_rounds r USING (case_id)"
        " WHERE a.reg_no = %s", [body.reg_no])).fetchall()
    digest = sel.secret_digest(body.reg_no, body.secret)
    found = None
    for row in rows:
        if row["secret_sha256"] and hmac.compare_digest(row["secret_sha256"], digest):
            found = row
    if found is None:
        # The same answer for an unknown number and a wrong code: nothing to learn by guessing.
        raise ApiError(404, "Nomor peserta atau kode rahasia salah.", "Wrong registration number or secret code.")
    return found


@router.post("/status", dependencies=[limited("status")])
async def applicant_status(body: ApplicantSecret, conn: DbDep) -> dict[str, Any]:
    """An applicant's own status (registration number + secret code, posted, never in an address)."""
    a = await _applicant(conn, body)
    return {
        "case_id": a["case_id"], "reg_no": a["reg_no"], "nama": a["nama"], "formation": a["formation"], "track": a["track"],
        "round": {"kind": a["kind"], "year": a["year"], "title": a["title"], "stage": a["round_stage"]},
        "administrative_result": a["admin_result"], "skd": a["skd"], "skd_total": a["skd_total"], "skd_passed": a["skd_passed"],
        "skb_participant": a["skb_participant"], "skb": a["skb"], "final": a["final"], "rank": a["rank"], "final_status": a["final_status"],
        "placed_formation": a["placed_formation"],
    }


@router.post("/{case_id}/objections", status_code=status.HTTP_202_ACCEPTED, dependencies=[limited("objection")])
async def file_objection(case_id: str, body: ObjectionCreate, conn: DbDep, res: ResourcesDep) -> dict[str, Any]:
    """The applicant's one objection per announcement, inside its window, about their own result only."""
    a = await _applicant(conn, body)
    if a["case_id"] != case_id:
        raise ApiError(404, "Nomor peserta atau kode rahasia salah.", "Wrong registration number or secret code.")
    done = await _update(res, _round_id(case_id), SelectionWorkflow.file_objection, ObjectionInput(body.reg_no, body.stage, body.reason), MISSING)
    return {"case_id": case_id, "event_type": done.event_type, "position": done.position, **done.summary}


@router.get("/{case_id}/announcements/{stage}", dependencies=[limited("announcement")])
async def announcement(
    case_id: str, stage: str, conn: DbDep, formation: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """A public list as the regulation publishes it: the administrative result, the SKB participants, or those who passed."""
    queries = {
        "ADMINISTRASI": ("reg_no, nama, formation, admin_result AS result", "admin_result IS NOT NULL"),
        "SKD": ("reg_no, nama, formation, skd_total", "skb_participant"),
        "AKHIR": ("reg_no, nama, placed_formation AS formation, final, final_status AS status", "final_status IN ('LULUS', 'LULUS_OPTIMALISASI')"),
    }
    if stage not in queries:
        raise ApiError(404, "Pengumuman tidak dikenal.", "Unknown announcement.")
    await _round(conn, case_id)
    columns, where = queries[stage]
    params: list[Any] = [case_id]
    if formation:
        where += " AND formation = %s"
        params.append(formation)
    rows = await (await conn.execute(
        f"SELECT {columns} FROM selection_applicants WHERE case_id = %s AND {where} ORDER BY formation, reg_no LIMIT %s OFFSET %s",  # noqa: S608
        [*params, limit, offset])).fetchall()
    return {"stage": stage, "fields": list(sel.PUBLIC_FIELDS[stage]), "data": rows, "count": len(rows)}
