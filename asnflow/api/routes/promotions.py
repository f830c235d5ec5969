"""Career development: rank proposals (one or a batch), eligibility lists, BKN pertek import, decrees, pipeline, timeline, rotation."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Query, Response, status
from psycopg.rows import dict_row
from pydantic import BaseModel, Field
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from asnflow.activities import promotion as acts
from asnflow.activities.eventstore import read_case
from asnflow.api.auth import User
from asnflow.api.deps import CurrentUser, DbDep, MinPosition, Resources, ResourcesDep, catch_up, require
from asnflow.api.errors import ApiError, unavailable
from asnflow.api.routes.tasks import act
from asnflow.api.schemas import NIP_PATTERN, CaseAccepted
from asnflow.api.tenancy import default_tenant_only
from asnflow.domain import promotion as rules
from asnflow.domain.events import canonical
from asnflow.domain.organisation import UNITS_BY_CODE, JenisJabatan
from asnflow.workflows.contracts import DecisionInput
from asnflow.workflows.human_tasks import CaseWorkflow
from asnflow.workflows.promotion import PromotionBatchWorkflow, PromotionRotationWorkflow, PromotionWorkflow
from asnflow.workflows.promotion_contracts import (
    BKN_PERTEK,
    BatchInput,
    EligibilityListInput,
    StartPromotionInput,
    StartRotationInput,
    promotion_case_id,
    rotation_case_id,
)

router = APIRouter(prefix="/api/v1/promotions", tags=["promotions"])

SEE_ALL = ("BKPSDM", "ADMIN", "AUDITOR", "SEKDA", "BUPATI", "TIM_PENILAI")
PredicateName = Literal["SANGAT_BAIK", "BAIK", "BUTUH_PERBAIKAN", "KURANG", "SANGAT_KURANG"]


class Declared(BaseModel):
    """Facts the proposer supplies from the dossier; a predicate the system holds always wins."""

    predicates: dict[str, PredicateName] = Field(default_factory=dict, description="{year: predicate} from paper SKPs")
    angka_kredit: float | None = Field(default=None, ge=0, description="cumulative credit points (functional posts)")
    ijazah_baru: str | None = Field(default=None, description="new diploma level (penyesuaian ijazah)")


class PromotionCreate(BaseModel):
    nip: str = Field(pattern=NIP_PATTERN)
    kind: rules.PromotionKind
    period: date = Field(description="the period's date, i.e. the new rank's TMT (1st of a month from Oct 2025)")
    declared: Declared = Field(default_factory=Declared)
    note: str = Field(default="", max_length=1000)


class BatchCreate(BaseModel):
    period: date
    unit: str | None = None
    nips: list[Annotated[str, Field(pattern=NIP_PATTERN)]] | None = None
    declared: dict[str, Declared] = Field(default_factory=dict, description="per NIP")


class PertekItem(BaseModel):
    nip: str = Field(pattern=NIP_PATTERN)
    period: date
    status: Literal["APPROVED", "RETURNED", "REJECTED"]
    nomor: str = Field(default="", max_length=200)
    tanggal: date | None = None
    reason: str = Field(default="", max_length=1000)


class PertekImport(BaseModel):
    source: str = Field(min_length=1, max_length=200, description="where the file came from, e.g. 'SIASN export 2026-11-30'")
    items: list[PertekItem] = Field(min_length=1, max_length=1000)


class RotationCreate(BaseModel):
    nip: str = Field(pattern=NIP_PATTERN)
    jabatan_baru: str = Field(min_length=1, max_length=300)
    jenis_jabatan_baru: JenisJabatan
    unit_baru: str
    atasan_nip_baru: str | None = Field(default=None, pattern=NIP_PATTERN)
    note: str = Field(default="", max_length=1000)


def today() -> date:
    """The Jakarta date (periods and windows count in WIB)."""
    return (datetime.now(UTC) + rules.WIB_OFFSET).date()


def unprocessable(message_id: str, message_en: str, problems: list[dict[str, Any]]) -> ApiError:
    return ApiError(422, message_id, message_en, problems)


def _declared(d: Declared | None) -> dict[str, Any]:
    if d is None:
        return {}
    out: dict[str, Any] = {}
    if d.predicates:
        out["predicates"] = dict(d.predicates)
    if d.angka_kredit is not None:
        out["angka_kredit"] = d.angka_kredit
    if d.ijazah_baru:
        out["ijazah_baru"] = d.ijazah_baru
    return out


def _sync(res: Resources, fn: Any, *args: Any) -> Any:
    """Run a sync read (views + store) with its own connection; 503 when the database is down."""
    try:
        with psycopg.connect(res.settings.database_url, row_factory=dict_row, connect_timeout=5) as conn:
            return fn(conn, res.event_store(), *args)
    except psycopg.OperationalError:
        raise unavailable("database") from None


async def facts_of(res: Resources, nip: str) -> tuple[rules.Facts, dict[str, Any]]:
    found = await asyncio.to_thread(_sync, res, acts.load_facts, nip)
    if found is None:
        raise unprocessable("NIP tidak terdaftar di direktori pegawai.", "The NIP is not in the employee directory.",
                            [rules.problem("nip", "NIP tidak terdaftar.", "Unknown NIP.")])
    return found  # type: ignore[no-any-return]


def may_propose(user: User, unit: str) -> bool:
    """BKPSDM for anyone; an OPD head for their own unit."""
    return user.has("BKPSDM") or (user.has("KEPALA_OPD") and user.unit == unit)


def segregation_problems(user: User, nip: str, facts: rules.Facts) -> list[dict[str, Any]]:
    if user.nip == nip:
        return [rules.problem(None, "Tidak seorang pun boleh mengusulkan perkaranya sendiri. [PEMISAHAN_TUGAS]", "Nobody may propose their own case. [SEGREGATION_OF_DUTIES]", rule="PEMISAHAN_TUGAS")]
    if user.nip in facts.relatives:
        return [rules.problem(None, "Pengusul adalah kerabat yang dideklarasikan pegawai ini. [KERABAT]", "The proposer is a declared relative of this employee. [RELATIVE]", rule="KERABAT")]
    return []


def rpc_errors(exc: RPCError) -> ApiError:
    if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return unavailable("Temporal")
    raise exc


def links(case_id: str, **extra: str) -> dict[str, str]:
    return {"case": f"/api/v1/cases/{case_id}", "events": f"/api/v1/cases/{case_id}/events", **extra}


@router.get("/periods")
async def list_periods(user: CurrentUser, res: ResourcesDep, year: Annotated[int, Query(ge=2000, le=2100)]) -> dict[str, Any]:
    """The promotion periods of a year under the configured calendars, and those open for proposals today."""
    policy = rules.policy_from_config(acts.load_config(res.settings.data_dir))
    return {
        "year": year,
        "periods": [{"date": p.isoformat(), "calendar": rules.calendar_on(p, policy),
                     "window": [d.isoformat() for d in rules.submission_window(p, policy)]} for p in rules.periods(year, policy)],
        "open": [p.isoformat() for p in rules.open_periods(today(), policy)],
    }


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=CaseAccepted)
async def propose(body: PromotionCreate, user: CurrentUser, res: ResourcesDep) -> CaseAccepted:
    """Propose one employee's rank promotion for a period (the OPD head of their unit, or BKPSDM); refusals name the rule."""
    facts, row = await facts_of(res, body.nip)
    if not may_propose(user, row["unit"]):
        raise ApiError(403, "Hanya kepala OPD unit pegawai ini atau BKPSDM yang boleh mengusulkan.",
                       "Only the head of this employee's unit or BKPSDM may propose.")
    blocked = segregation_problems(user, body.nip, facts)
    if blocked:
        raise ApiError(403, blocked[0]["id"], blocked[0]["en"], blocked)
    config = acts.load_config(res.settings.data_dir)
    problems = rules.period_problems(body.period, today(), rules.policy_from_config(config))
    if problems:
        raise unprocessable(problems[0]["id"], problems[0]["en"], problems)
    declared = _declared(body.declared)
    result = rules.check_eligibility(body.kind.value, rules.merge_declared(facts, declared), body.period)
    if not result.eligible:
        failures = [f.as_problem() for f in result.failures]
        codes = ", ".join(f.rule for f in result.failures)
        raise unprocessable(f"Usulan tidak memenuhi syarat ({codes}).", f"The proposal does not meet the requirements ({codes}).", failures)
    period = body.period.isoformat()
    default_tenant_only(user)  # the directory look-ups and unit checks of promotion are Batanghari's
    case_id = promotion_case_id(body.nip, period)
    client = await res.temporal_client()
    try:
        await client.start_workflow(
            PromotionWorkflow.run,
            StartPromotionInput(case_id=case_id, nip=body.nip, kind=body.kind.value, period=period, proposed_by=user.actor(),
                                declared=declared, note=body.note),
            id=case_id,
            task_queue=res.settings.task_queue,
            # One proposal per employee and period; only a start refused for a race may be retried.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        raise ApiError(409, f"Usulan periode {period} untuk NIP ini sudah ada.", f"A proposal for the {period} period of this NIP already exists.") from None
    except RPCError as exc:
        raise rpc_errors(exc) from None
    return CaseAccepted(id=case_id, process="promotion", links=links(case_id, decree=f"/api/v1/promotions/{case_id}/decree"))


@router.get("/eligibility")
async def eligibility(
    user: CurrentUser,
    res: ResourcesDep,
    period: date,
    unit: str | None = None,
    only_eligible: bool = False,
) -> dict[str, Any]:
    """Everyone (of a unit) checked for a period on their post's route, with every failed rule named."""
    if not user.has(*SEE_ALL):
        if not user.has("KEPALA_OPD"):
            raise ApiError(403, "Hanya BKPSDM, pimpinan atau kepala OPD yang melihat daftar ini.", "Only BKPSDM, leadership or OPD heads see this list.")
        unit = user.unit
    listed = await asyncio.to_thread(
        _sync, res, lambda conn, store: acts.eligibility_list(conn, store, EligibilityListInput(period=period.isoformat(), unit=unit), {})
    )
    entries = [{k: v for k, v in e.items() if k != "facts"} for e in listed.entries if e["eligible"] or not only_eligible]
    return {"period": period.isoformat(), "unit": unit, "count": len(entries), "eligible": sum(e["eligible"] for e in entries), "data": entries}


@router.post("/batches", status_code=status.HTTP_202_ACCEPTED, response_model=CaseAccepted)
async def propose_batch(body: BatchCreate, user: CurrentUser, res: ResourcesDep) -> CaseAccepted:
    """BKPSDM lists everyone eligible for a period (optionally one unit or some NIPs) and proposes them all."""
    require(user, "BKPSDM")
    if body.unit is not None and body.unit not in UNITS_BY_CODE:
        raise unprocessable("Unit tidak dikenal.", "Unknown unit.", [rules.problem("unit", "Unit tidak dikenal.", "Unknown unit.")])
    config = acts.load_config(res.settings.data_dir)
    problems = rules.period_problems(body.period, today(), rules.policy_from_config(config))
    if problems:
        raise unprocessable(problems[0]["id"], problems[0]["en"], problems)
    period = body.period.isoformat()
    default_tenant_only(user)
    case_id = f"promotion-batch-{period[:7]}-{uuid.uuid4().hex[:8]}"
    client = await res.temporal_client()
    try:
        await client.start_workflow(
            PromotionBatchWorkflow.run,
            BatchInput(case_id=case_id, period=period, started_by=user.actor(), unit=body.unit, nips=body.nips,
                       declared={nip: _declared(d) for nip, d in body.declared.items()}),
            id=case_id,
            task_queue=res.settings.task_queue,
        )
    except RPCError as exc:
        raise rpc_errors(exc) from None
    return CaseAccepted(id=case_id, process="promotion", links=links(case_id, list=f"/api/v1/promotions/batches/{case_id}"))


@router.get("/batches/{case_id}")
async def batch(case_id: str, user: CurrentUser, conn: DbDep, res: ResourcesDep, min_position: MinPosition = None) -> dict[str, Any]:
    """A generated eligibility list and which of its entries were proposed."""
    if not user.has(*SEE_ALL):
        raise ApiError(404, "Daftar tidak ditemukan.", "List not found.")
    await catch_up(conn, res, "career", min_position)
    rows = await (await conn.execute(
        "SELECT nip, nama, unit, period, kind, eligible, golongan_lama, golongan_baru, eligible_from, failures, proposed_case_id,"
        " skipped, generated_at, list_sha256 FROM promotion_eligibility_lists WHERE batch_case_id = %s ORDER BY eligible DESC, unit, nip",
        [case_id],
    )).fetchall()
    case = await (await conn.execute("SELECT status, outcome FROM cases WHERE id = %s", [case_id])).fetchone()
    if case is None and not rows:
        raise ApiError(404, "Daftar tidak ditemukan.", "List not found.")
    return {"id": case_id, "status": case["status"] if case else "open", "outcome": case["outcome"] if case else {}, "data": rows}


@router.post("/pertek/import")
async def import_pertek(body: PertekImport, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> dict[str, Any]:
    """BKN's technical approvals from a file: each item decides its case's waiting pertek task; one result per item."""
    require(user, "BKPSDM")
    digest = hashlib.sha256(canonical(body.model_dump(mode="json")).encode()).hexdigest()
    results = []
    for item in body.items:
        case_id = promotion_case_id(item.nip, item.period.isoformat())
        data = {"nomor": item.nomor, "tanggal": item.tanggal.isoformat() if item.tanggal else None, "source": "import",
                "import_sha256": digest, "import_source": body.source}
        results.append({"nip": item.nip, **await decide_imported(res, conn, user, case_id, BKN_PERTEK, item.status, item.reason, data)})
    ok = sum(r["ok"] for r in results)
    return {"import_sha256": digest, "succeeded": ok, "failed": len(results) - ok, "results": results}


async def decide_imported(
    res: Resources, conn: Any, user: User, case_id: str, kind: str, outcome: str, reason: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Decide a case's waiting task of one kind from an imported file's item; the result (never an exception) for the item."""
    task = await (await conn.execute(
        "SELECT id FROM tasks WHERE case_id = %s AND kind = %s AND status IN ('open', 'claimed')", [case_id, kind]
    )).fetchone()
    if task is None:
        return {"case_id": case_id, "ok": False, "status": 404,
                "message_id": "Tidak ada perkara yang menunggu langkah ini untuk butir ini.", "message_en": "No case awaits this step for this item."}
    inp = DecisionInput(task_id=task["id"], actor=user.actor(), outcome=outcome, reason=reason, data=data)
    try:
        done = await act(res, conn, task["id"], CaseWorkflow.decide, inp)
        return {"case_id": case_id, "ok": True, "status": 200, "position": done.position}
    except ApiError as err:
        return {"case_id": case_id, "ok": False, "status": err.status, "message_id": err.message_id, "message_en": err.message_en, "problems": err.problems}


@router.get("/pipeline")
async def pipeline(
    user: CurrentUser,
    conn: DbDep,
    res: ResourcesDep,
    period: date | None = None,
    stage: str | None = None,
    unit: str | None = None,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    min_position: MinPosition = None,
) -> dict[str, Any]:
    """Proposals per period and stage (BKPSDM and leadership: all; OPD heads: their unit; others: their own)."""
    await catch_up(conn, res, "career", min_position)
    where, params = "TRUE", []
    if not user.has(*SEE_ALL):
        if user.has("KEPALA_OPD"):
            where, params = "(p.unit = %s OR p.nip = %s)", [user.unit, user.nip]
        else:
            where, params = "p.nip = %s", [user.nip]
    for column, value in (("period", period), ("stage", stage), ("unit", unit), ("kind", kind)):
        if value is not None:
            where += f" AND p.{column} = %s"
            params.append(value)
    rows = await (await conn.execute(
        f"SELECT p.*, e.nama FROM promotion_pipeline p LEFT JOIN employees e ON e.nip = p.nip WHERE {where}"  # noqa: S608
        " ORDER BY p.period NULLS LAST, p.stage, p.case_id LIMIT %s",
        [*params, limit],
    )).fetchall()
    counts = await (await conn.execute(
        f"SELECT p.period, p.stage, count(*) AS n FROM promotion_pipeline p WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2", params  # noqa: S608
    )).fetchall()
    return {"data": rows, "by_period_and_stage": counts}


@router.get("/career/{nip}")
async def career(nip: str, user: CurrentUser, conn: DbDep, res: ResourcesDep, min_position: MinPosition = None) -> dict[str, Any]:
    """An employee's rank and position history (directory events), newest last, with the decree behind each change."""
    await catch_up(conn, res, "career", min_position)
    current = await (await conn.execute(
        "SELECT nip, nama, golongan, tmt_golongan, jabatan, jenis_jabatan, unit, tmt_jabatan, atasan_nip FROM employees WHERE nip = %s", [nip]
    )).fetchone()
    allowed = current is not None and (
        user.has(*SEE_ALL) or user.nip in (nip, current["atasan_nip"]) or (user.has("KEPALA_OPD") and user.unit == current["unit"])
    )
    if not allowed:
        raise ApiError(404, "Pegawai tidak ditemukan.", "Employee not found.")
    rows = await (await conn.execute(
        "SELECT position, entry, occurred_at, golongan, pangkat, tmt_golongan, jabatan, jenis_jabatan, unit, tmt_jabatan, source,"
        " source_case, sk_nomor, sk_tanggal FROM career_timeline WHERE nip = %s ORDER BY position, entry", [nip]
    )).fetchall()
    return {"nip": nip, "current": current, "data": rows}


@router.post("/rotations", status_code=status.HTTP_202_ACCEPTED, response_model=CaseAccepted)
async def propose_rotation(body: RotationCreate, user: CurrentUser, res: ResourcesDep) -> CaseAccepted:
    """Propose a transfer inside the regency (BKPSDM, or the head of the employee's unit); the 2-5-year window applies."""
    facts, row = await facts_of(res, body.nip)
    if not may_propose(user, row["unit"]):
        raise ApiError(403, "Hanya kepala OPD unit pegawai ini atau BKPSDM yang boleh mengusulkan mutasi.",
                       "Only the head of this employee's unit or BKPSDM may propose a transfer.")
    blocked = segregation_problems(user, body.nip, facts)
    if blocked:
        raise ApiError(403, blocked[0]["id"], blocked[0]["en"], blocked)
    problems, _ = rules.rotation_problems(facts.tmt_jabatan, today())
    if body.unit_baru not in UNITS_BY_CODE:
        problems.append(rules.problem("unit_baru", "Unit tujuan tidak dikenal.", "Unknown destination unit."))
    if problems:
        raise unprocessable(problems[0]["id"], problems[0]["en"], problems)
    default_tenant_only(user)
    case_id = rotation_case_id(body.nip, today().isoformat())
    client = await res.temporal_client()
    try:
        await client.start_workflow(
            PromotionRotationWorkflow.run,
            StartRotationInput(case_id=case_id, nip=body.nip, jabatan_baru=body.jabatan_baru, jenis_jabatan_baru=body.jenis_jabatan_baru.value,
                               unit_baru=body.unit_baru, proposed_by=user.actor(), atasan_nip_baru=body.atasan_nip_baru, note=body.note),
            id=case_id,
            task_queue=res.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        raise ApiError(409, "Usulan mutasi pegawai ini hari ini sudah ada.", "A transfer proposal for this employee already exists today.") from None
    except RPCError as exc:
        raise rpc_errors(exc) from None
    return CaseAccepted(id=case_id, process="promotion", links=links(case_id, decree=f"/api/v1/promotions/{case_id}/decree"))


@router.get("/{case_id}/decree")
async def decree(case_id: str, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> Response:
    """The SK PDF, served only when its bytes still match the hash recorded in the decree event."""
    case = await (await conn.execute("SELECT subject_nip, unit FROM cases WHERE id = %s AND process = 'promotion'", [case_id])).fetchone()
    allowed = case is not None and (
        user.has(*SEE_ALL) or user.nip == case["subject_nip"] or (user.has("KEPALA_OPD") and user.unit == case["unit"])
    )
    if case is not None and not allowed and case["subject_nip"] is None:
        # A vacancy has no subject until the PPK chooses: the appointee may then read their own decree.
        chosen = await (await conn.execute("SELECT chosen_nip FROM position_cases WHERE case_id = %s", [case_id])).fetchone()
        allowed = chosen is not None and chosen["chosen_nip"] == user.nip
    if not allowed:
        raise ApiError(404, "Perkara tidak ditemukan.", "Case not found.")
    stored = await asyncio.to_thread(read_case, res.event_store(), case_id)
    decreed = [s.event for s in stored if type(s.event).__name__ in ("PromotionDecreed", "RotationDecreed", "PositionDecreed")]
    if not decreed:
        raise ApiError(404, "SK belum ditetapkan.", "No decree has been issued yet.")
    doc = decreed[-1].payload["document"]
    path = res.settings.data_dir / doc["path"]
    try:
        content = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        raise ApiError(410, "Berkas SK tidak ditemukan di folder data.", "The decree file is missing from the data folder.") from None
    if hashlib.sha256(content).hexdigest() != doc["sha256"]:
        raise ApiError(409, "Berkas SK tidak cocok dengan hash yang tercatat; jangan gunakan.", "The decree file does not match its recorded hash; do not use it.")
    return Response(
        content, media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{doc["name"]}"', "X-Document-SHA256": doc["sha256"]},
    )
