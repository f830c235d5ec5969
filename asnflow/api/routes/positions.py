"""Position filling: administrator/pengawas vacancies through the Tim Penilai Kinerja, and JPT pratama open selections."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from asnflow.activities.position import compute_pool
from asnflow.api.tenancy import default_tenant_only
from asnflow.api.deps import CurrentUser, DbDep, MinPosition, ResourcesDep, catch_up, require
from asnflow.api.errors import ApiError
from asnflow.api.routes.promotions import SEE_ALL, _sync, decide_imported, facts_of, links, may_propose, rpc_errors, today, unprocessable
from asnflow.api.updates import deliver
from asnflow.api.schemas import NIP_PATTERN, CaseAccepted
from asnflow.domain import position as pos
from asnflow.domain.events import canonical
from asnflow.workflows.position import JptSelectionWorkflow, PositionPromotionWorkflow, pansel_problems, start_problems
from asnflow.workflows.position_contracts import (
    NATIONAL_RECOMMENDATION,
    PanselMember,
    PoolInput,
    RegisterInput,
    StartPositionInput,
    StartSelectionInput,
    position_case_id,
    selection_case_id,
)

router = APIRouter(prefix="/api/v1/promotions", tags=["positions"])

Nip = Annotated[str, Field(pattern=NIP_PATTERN)]


class PositionCreate(BaseModel):
    jabatan: str = Field(min_length=1, max_length=300, description="the vacant post, e.g. 'Kepala Bidang Aplikasi Informatika'")
    jenis_jabatan: Literal["ADMINISTRATOR", "PENGAWAS"]
    unit: str
    panel: list[Nip] = Field(min_length=1, max_length=15, description="Tim Penilai Kinerja members; the first chairs")
    atasan_nip: Nip | None = None
    candidate_nips: list[Nip] | None = Field(default=None, max_length=2000, description="limit the pool; default: the whole directory")
    note: str = Field(default="", max_length=1000)


class PanselMemberIn(BaseModel):
    nama: str = Field(min_length=1, max_length=200)
    unsur: Literal["INTERNAL", "EKSTERNAL"]
    peran: Literal["KETUA", "SEKRETARIS", "ANGGOTA"]
    nip: Nip | None = None
    instansi: str = Field(default="", max_length=200)


class SelectionCreate(BaseModel):
    jabatan: str = Field(min_length=1, max_length=300, description="the vacant JPT pratama post, e.g. 'Kepala Dinas Kesehatan'")
    unit: str
    pansel: list[PanselMemberIn] = Field(min_length=1, max_length=15)
    atasan_nip: Nip | None = None
    registration_days: int | None = Field(default=None, ge=1, le=60)
    note: str = Field(default="", max_length=1000)


class RecommendationItem(BaseModel):
    case_id: str = Field(pattern=r"^jpt-\d{8}-[A-Z0-9_-]+$")
    nip: Nip
    status: Literal["RECOMMENDED", "NOT_RECOMMENDED"]
    nomor: str = Field(min_length=1, max_length=200)
    tanggal: date
    reason: str = Field(default="", max_length=1000)


class RecommendationImport(BaseModel):
    source: str = Field(min_length=1, max_length=200, description="where the file came from, e.g. 'surat BKN 2026-12-01'")
    items: list[RecommendationItem] = Field(min_length=1, max_length=200)


def refused(problems: list[dict[str, Any]]) -> ApiError:
    """403 for segregation of duties, otherwise 422; the first problem is the message."""
    code = 403 if any(p.get("rule") == "PEMISAHAN_TUGAS" for p in problems) else 422
    return ApiError(code, problems[0]["id"], problems[0]["en"], problems)


async def start(res: Any, workflow_run: Any, arg: Any, case_id: str, duplicate: tuple[str, str]) -> None:
    """Start a vacancy's workflow once (409 for a duplicate, 503 when Temporal is down)."""
    client = await res.temporal_client()
    try:
        await client.start_workflow(
            workflow_run, arg, id=case_id, task_queue=res.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY, id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        raise ApiError(409, *duplicate) from None
    except RPCError as exc:
        raise rpc_errors(exc) from None


@router.get("/positions/talent-pool")
async def talent_pool(
    user: CurrentUser, res: ResourcesDep, jenis_jabatan: Literal["ADMINISTRATOR", "PENGAWAS", "JPT"], unit: str | None = None
) -> dict[str, Any]:
    """Who meets a post type's requirements today, in nine-box order, and how many each rule left out (computed from the views)."""
    if not user.has(*SEE_ALL):
        unit = user.unit  # OPD heads see their own unit's staff
    pool = await asyncio.to_thread(
        _sync, res, lambda conn, store: compute_pool(conn, PoolInput(jenis_jabatan=jenis_jabatan, on=today().isoformat(),
                                                                      candidate_nips=unit_nips(conn, unit) if unit else None))
    )
    return {"jenis_jabatan": jenis_jabatan, "on": today().isoformat(), "unit": unit, "rules": pos.POSITION_RULES_VERSION,
            "count": len(pool.candidates), "data": pool.candidates, "excluded": pool.excluded}


def unit_nips(conn: Any, unit: str) -> list[str]:
    return [r["nip"] for r in conn.execute("SELECT nip FROM employees WHERE unit = %s", [unit]).fetchall()]


@router.post("/positions", status_code=status.HTTP_202_ACCEPTED, response_model=CaseAccepted)
async def open_position(body: PositionCreate, user: CurrentUser, res: ResourcesDep) -> CaseAccepted:
    """Open an administrator/pengawas vacancy (BKPSDM, or the head of its unit): pool, Tim Penilai session, PPK, SK, inauguration."""
    if not may_propose(user, body.unit):
        raise ApiError(403, "Hanya kepala OPD unit ini atau BKPSDM yang boleh mengusulkan pengisian jabatan.",
                       "Only the head of this unit or BKPSDM may open a vacancy.")
    panel = list(dict.fromkeys(body.panel))
    pool = await asyncio.to_thread(
        _sync, res, lambda conn, store: compute_pool(conn, PoolInput(jenis_jabatan=body.jenis_jabatan, on=today().isoformat(),
                                                                      candidate_nips=body.candidate_nips, members=panel))
    )
    problems = start_problems(body.jenis_jabatan, body.unit, panel, pool.names, user.actor(), pool.candidates)
    if problems:
        raise refused(problems)
    default_tenant_only(user)  # units, positions and directory look-ups of this process are Batanghari's
    case_id = position_case_id(body.unit, body.jabatan, today().isoformat())
    arg = StartPositionInput(case_id=case_id, jabatan=body.jabatan, jenis_jabatan=body.jenis_jabatan, unit=body.unit, panel=panel,
                             proposed_by=user.actor(), atasan_nip=body.atasan_nip, candidate_nips=body.candidate_nips, note=body.note)
    await start(res, PositionPromotionWorkflow.run, arg, case_id,
                ("Pengisian jabatan ini sudah diusulkan hari ini.", "This vacancy was already opened today."))
    return CaseAccepted(id=case_id, process="promotion", links=links(case_id, position=f"/api/v1/promotions/positions/{case_id}"))


@router.post("/selections", status_code=status.HTTP_202_ACCEPTED, response_model=CaseAccepted)
async def open_selection(body: SelectionCreate, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> CaseAccepted:
    """Open a JPT pratama selection (BKPSDM) with the proposed pansel; the PPK forms it, then the announcement opens registration."""
    require(user, "BKPSDM")
    members = [PanselMember(nama=m.nama, unsur=m.unsur, peran=m.peran, nip=m.nip, instansi=m.instansi) for m in body.pansel]
    nips = [m.nip for m in members if m.nip]
    rows = await (await conn.execute("SELECT nip, nama FROM employees WHERE nip = ANY(%s)", [nips])).fetchall()
    problems = pansel_problems(members, body.unit, user.actor(), {r["nip"]: r["nama"] for r in rows})
    if problems:
        raise refused(problems)
    default_tenant_only(user)
    case_id = selection_case_id(body.unit, today().isoformat())
    arg = StartSelectionInput(case_id=case_id, jabatan=body.jabatan, unit=body.unit, pansel=members, proposed_by=user.actor(),
                              atasan_nip=body.atasan_nip, registration_days=body.registration_days, note=body.note)
    await start(res, JptSelectionWorkflow.run, arg, case_id,
                ("Seleksi terbuka untuk unit ini sudah dibuka hari ini.", "An open selection for this unit was already opened today."))
    return CaseAccepted(id=case_id, process="promotion", links=links(case_id, position=f"/api/v1/promotions/positions/{case_id}",
                                                                      register=f"/api/v1/promotions/selections/{case_id}/registrations"))


@router.post("/selections/{case_id}/registrations")
async def register(case_id: str, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> dict[str, Any]:
    """Apply to an open selection (the applicant themself): requirements judged on the directory and evaluation views."""
    case = await (await conn.execute("SELECT route, stage FROM position_cases WHERE case_id = %s", [case_id])).fetchone()
    if case is None or case["route"] != "JPT":
        raise ApiError(404, "Seleksi tidak ditemukan.", "Selection not found.")
    facts, row = await facts_of(res, user.nip)
    failures = pos.position_failures("JPT", facts, today())
    if failures:
        problems = [f.as_problem() for f in failures]
        codes = ", ".join(f.rule for f in failures)
        raise unprocessable(f"Belum memenuhi syarat JPT pratama ({codes}).", f"The JPT pratama requirements are not met ({codes}).", problems)
    arg = RegisterInput(actor=user.actor(), nip=user.nip, nama=row["nama"], jabatan=row["jabatan"], unit=row["unit"], facts=facts.to_dict())
    done = await deliver(
        await res.temporal_client(), case_id, JptSelectionWorkflow.register, arg,
        missing=ApiError(409, "Seleksi sudah selesai.", "The selection has ended."),
    )
    return {"case_id": case_id, "nip": done.nip, "position": done.position, "applicants": done.applicants}


@router.post("/selections/recommendations/import")
async def import_recommendations(body: RecommendationImport, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> dict[str, Any]:
    """The national body's recommendations from a file: each item decides its selection's waiting step; one result per item."""
    require(user, "BKPSDM")
    digest = hashlib.sha256(canonical(body.model_dump(mode="json")).encode()).hexdigest()
    results = []
    for item in body.items:
        chosen = await (await conn.execute("SELECT chosen_nip FROM position_cases WHERE case_id = %s", [item.case_id])).fetchone()
        if chosen is None or chosen["chosen_nip"] != item.nip:
            results.append({"nip": item.nip, "case_id": item.case_id, "ok": False, "status": 409,
                            "message_id": "NIP bukan calon yang dipilih PPK pada seleksi ini.", "message_en": "This NIP is not the PPK's pick in this selection."})
            continue
        data = {"nomor": item.nomor, "tanggal": item.tanggal.isoformat(), "source": "import", "import_sha256": digest, "import_source": body.source}
        results.append({"nip": item.nip, **await decide_imported(res, conn, user, item.case_id, NATIONAL_RECOMMENDATION, item.status, item.reason, data)})
    ok = sum(r["ok"] for r in results)
    return {"import_sha256": digest, "succeeded": ok, "failed": len(results) - ok, "results": results}


SUMMARY = "case_id, route, jabatan, jenis_jabatan, unit, stage, status, window_closes, chosen_nip, sk_nomor, sk_tanggal, tmt_jabatan, failed_rule, opened_at, updated_at"


@router.get("/positions")
async def list_positions(
    user: CurrentUser, conn: DbDep, res: ResourcesDep, route: Literal["TPK", "JPT"] | None = None, stage: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100, min_position: MinPosition = None,
) -> dict[str, Any]:
    """Vacancies and selections with their stage (everyone sees open selections to apply to; details per case)."""
    await catch_up(conn, res, "career", min_position)
    where, params = "TRUE", []
    for column, value in (("route", route), ("stage", stage)):
        if value is not None:
            where += f" AND {column} = %s"
            params.append(value)
    rows = await (await conn.execute(
        f"SELECT {SUMMARY} FROM position_cases WHERE {where} ORDER BY opened_at DESC LIMIT %s", [*params, limit]  # noqa: S608
    )).fetchall()
    return {"data": rows}


@router.get("/positions/{case_id}")
async def position(case_id: str, user: CurrentUser, conn: DbDep, res: ResourcesDep, min_position: MinPosition = None) -> dict[str, Any]:
    """One vacancy: its summary for anyone signed in; the pool, panel, scores and ranking for HR, leadership, its unit head and its panel."""
    await catch_up(conn, res, "career", min_position)
    row = await (await conn.execute("SELECT * FROM position_cases WHERE case_id = %s", [case_id])).fetchone()
    if row is None:
        raise ApiError(404, "Perkara tidak ditemukan.", "Case not found.")
    panel = {m.get("nip") for m in row["panel"]}
    if user.has(*SEE_ALL) or user.nip in panel or (user.has("KEPALA_OPD") and user.unit == row["unit"]):
        return dict(row)
    summary = {k: row[k] for k in SUMMARY.split(", ")}
    mine = [a for a in row["applicants"] if a["nip"] == user.nip]
    return {**summary, "applicants": mine}
