"""Competency development: the yearly cycle, enrolments and evidence, the Latsar hand-off, and the JP, budget and compliance views."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from asnflow.api.auth import User
from asnflow.api.deps import CurrentUser, DbDep, MinPosition, Resources, ResourcesDep, catch_up
from asnflow.api.updates import deliver
from asnflow.api.errors import ApiError, unavailable
from asnflow.api.tenancy import default_tenant_only
from asnflow.domain import training as tr
from asnflow.domain.organisation import UNITS_BY_CODE
from asnflow.workflows.training import TrainingEnrolmentWorkflow, TrainingLatsarWorkflow, TrainingWorkflow
from asnflow.workflows.training_contracts import (
    AmendPlanInput,
    BudgetSignal,
    EvidenceInput,
    HoldBudgetInput,
    RescheduleInput,
    StartCycleInput,
    StartEnrolmentInput,
    StartLatsarInput,
    TrainingSchedule,
    cycle_case_id,
    enrolment_case_id,
    latsar_case_id,
)

router = APIRouter(prefix="/api/v1/trainings", tags=["trainings"])

OVERSIGHT = ("BKPSDM", "ADMIN", "AUDITOR", "SEKDA", "BUPATI")
NIP = r"^\d{18}$"
Year = Annotated[int, Query(ge=2022, le=2100)]


class ScheduleIn(BaseModel):
    reminders: list[str] = Field(max_length=12, description="ISO 8601 moments with a time zone, inside the year")
    report_at: str = Field(description="ISO 8601 moment of the year-end compliance report")


class CycleCreate(BaseModel):
    year: int = Field(ge=2022, le=2100)
    assessments: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="Assessed levels (1–5) per NIP and competency (MANAJERIAL, SOSIAL_KULTURAL, TEKNIS)"
    )
    schedule: ScheduleIn | None = Field(default=None, description="This year's reminder and report moments (default: the rules' Q4 dates)")


class ScheduleChange(ScheduleIn):
    reason: str = Field(min_length=1, max_length=2000)


class AmendmentCreate(BaseModel):
    budgets: dict[str, int] = Field(description="Rupiah per unit code")
    items: list[dict[str, Any]] = Field(max_length=2000, description="[{unit, course, participants}]")
    reason: str = Field(min_length=1, max_length=2000)


class EnrolmentCreate(BaseModel):
    nip: str = Field(pattern=NIP)
    year: int = Field(ge=2022, le=2100)
    course: str = Field(min_length=1, max_length=64)
    motivation: str = Field(default="", max_length=2000)


class EvidenceCreate(BaseModel):
    file_sha256: str = Field(max_length=128, description="SHA-256 of the certificate file (64 lowercase hex characters)")
    hours: int = Field(description="Lesson hours (JP) stated on the certificate")
    completed_on: str = Field(max_length=32, description="ISO date the activity was completed")
    certificate_no: str = Field(default="", max_length=100)
    file_name: str = Field(default="", max_length=200)


class LatsarCreate(BaseModel):
    nip: str = Field(pattern=NIP)
    nama: str | None = Field(default=None, max_length=200)
    unit: str | None = Field(default=None, max_length=64)
    tmt_cpns: date | None = Field(default=None, description="Start of CPNS status (default: from NIP digits 9–14)")
    selection_case_id: str = Field(default="", max_length=200, description="The selection case handing the CPNS over")
    formation: str = Field(default="", max_length=200)


class Accepted(BaseModel):
    id: str
    process: str = tr.PROCESS
    status: str = "starting"
    links: dict[str, str]
    budget: dict[str, Any] | None = None


class ActionDone(BaseModel):
    case_id: str
    event_type: str
    position: int


def _links(case_id: str) -> dict[str, str]:
    return {"case": f"/api/v1/cases/{case_id}", "events": f"/api/v1/cases/{case_id}/events"}


def _problems_error(status_code: int, problems: list[dict[str, Any]]) -> ApiError:
    first = problems[0]
    return ApiError(status_code, first["id"], first["en"], problems)


async def _start(res: Resources, run: Any, arg: Any, case_id: str, duplicate: ApiError) -> None:
    client = await res.temporal_client()
    try:
        await client.start_workflow(
            run, arg, id=case_id, task_queue=res.settings.task_queue,
            # The case id is a natural key: a second start is a conflict, never a second case.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE, id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        raise duplicate from None
    except RPCError as exc:
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise unavailable("Temporal") from None
        raise


async def _update(res: Resources, case_id: str, update: Any, arg: Any, missing: ApiError) -> Any:
    """Deliver an Update; a validator's refusal becomes 403/409/422 and nothing is recorded."""
    return await deliver(await res.temporal_client(), case_id, update, arg, missing=missing)


async def _employee(conn: Any, nip: str) -> dict[str, Any] | None:
    return await (  # type: ignore[no-any-return]
        await conn.execute(
            "SELECT nip, nama, unit, jabatan, jenis_jabatan, golongan, tmt_golongan, tanggal_lahir, atasan_nip FROM employees WHERE nip = %s",
            [nip],
        )
    ).fetchone()


def _scope(user: User, unit: str | None, nip: str | None, alias: str = "") -> tuple[str, list[Any]]:
    """Oversight sees all, a unit head their unit, everyone else themselves; plus the filters asked for."""
    a = f"{alias}." if alias else ""
    if user.has(*OVERSIGHT):
        where, params = "TRUE", []
    elif user.has("KEPALA_OPD") and user.unit:
        where, params = f"({a}unit = %s OR {a}nip = %s)", [user.unit, user.nip]
    else:
        where, params = f"{a}nip = %s", [user.nip]
    for column, value in (("unit", unit), ("nip", nip)):
        if value is not None:
            where += f" AND {a}{column} = %s"
            params.append(value)
    return where, params


def _today() -> date:
    return datetime.now(tr.WIB).date()


# --- the yearly cycle ---------------------------------------------------------------------------------
@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def start_cycle(body: CycleCreate, user: CurrentUser, res: ResourcesDep) -> Accepted:
    """Open the year's cycle (BKPSDM): needs analysis, then the plan for the PPK, reminders and the year-end report."""
    if not user.has("BKPSDM", "ADMIN"):
        raise ApiError(403, "Hanya BKPSDM yang membuka siklus pengembangan kompetensi.", "Only BKPSDM opens the development cycle.")
    problems = tr.validate_assessments(body.assessments)
    schedule = None
    if body.schedule is not None:
        problems += tr.validate_schedule(body.year, body.schedule.reminders, body.schedule.report_at)
        schedule = TrainingSchedule(reminders=body.schedule.reminders, report_at=body.schedule.report_at)
    if problems:
        raise _problems_error(422, problems)
    default_tenant_only(user)
    case_id = cycle_case_id(body.year)
    await _start(
        res, TrainingWorkflow.run,
        StartCycleInput(case_id=case_id, year=body.year, started_by=user.actor(), assessments=body.assessments, schedule=schedule),
        case_id, ApiError(409, f"Siklus pengembangan kompetensi {body.year} sudah ada.", f"The {body.year} development cycle already exists."),
    )
    return Accepted(id=case_id, links=_links(case_id))


@router.get("/catalogue")
async def course_catalogue(user: CurrentUser) -> dict[str, Any]:
    """Courses, forms of development and leadership levels under the current rules."""
    rules = tr.rules_for()
    return {
        "rules": rules.version, "min_jp_per_year": rules.min_jp_per_year, "jp_minutes": rules.jp_minutes,
        "reminder_dates": list(rules.reminder_dates),
        "forms": {f.value: {"label_id": r.label_id, "label_en": r.label_en, "path": r.path, "methods": list(r.methods),
                            "funded": r.funded, "credits_jp": r.credits_jp} for f, r in tr.FORMS.items()},
        "courses": [c.public() for c in tr.catalogue(rules).values()],
        "leadership": [{"level": lv.code, "name_id": lv.name_id, "name_en": lv.name_en, "selection_test": lv.selection_test,
                        "rules_confirmed": lv.confirmed} for lv in tr.LEADERSHIP_RULES[rules.leadership].values()],
    }


@router.get("/leadership-eligibility")
async def leadership_eligibility(
    user: CurrentUser, conn: DbDep, nip: Annotated[str, Query(pattern=NIP)], level: str = "PKN_II", on: date | None = None
) -> dict[str, Any]:
    """Whether an employee may join a leadership training (PKN Tingkat II; PKP and PKA by configuration)."""
    emp = await _employee(conn, nip)
    if emp is None or not (user.nip == nip or user.has(*OVERSIGHT) or (user.has("KEPALA_OPD") and user.unit == emp["unit"])):
        raise ApiError(404, "Pegawai tidak ditemukan.", "Employee not found.")
    try:
        result = tr.leadership_eligibility(emp, level, on or _today(), tr.rules_for())
    except KeyError:
        raise ApiError(422, f"Jenjang pelatihan kepemimpinan {level} tidak dikenal.", f"Unknown leadership level {level}.",
                       [{"field": "level", "id": "Jenjang tidak dikenal.", "en": "Unknown level."}]) from None
    return {"nip": nip, **result}


# --- enrolments and evidence ----------------------------------------------------------------------------
@router.post("/enrolments", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def propose_enrolment(body: EnrolmentCreate, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> Accepted:
    """The employee or their OPD head proposes a course; the plan's place and budget are held at once (or refused)."""
    emp = await _employee(conn, body.nip)
    if emp is None:
        raise ApiError(422, "NIP tidak terdaftar di direktori pegawai.", "The NIP is not in the employee directory.",
                       [{"field": "nip", "id": "NIP tidak terdaftar.", "en": "Unknown NIP."}])
    if not (user.nip == body.nip or (user.has("KEPALA_OPD") and user.unit == emp["unit"])):
        raise ApiError(403, "Hanya pegawai itu atau kepala perangkat daerahnya yang boleh mengusulkan.",
                       "Only the employee or the head of their agency may propose.")
    rules = tr.rules_for()
    course = tr.catalogue(rules).get(body.course)
    if course is None:
        raise ApiError(422, f"Kursus {body.course!r} tidak ada dalam katalog.", f"Unknown course {body.course!r}.",
                       [{"field": "course", "id": "Kursus tidak dikenal.", "en": "Unknown course."}])
    if course.leadership:
        eligibility = tr.leadership_eligibility(emp, course.leadership, _today(), rules)
        if not eligibility["eligible"]:
            reasons = [{"field": "course", **r} for r in eligibility["reasons"]]
            raise ApiError(422, f"Pegawai belum memenuhi syarat {course.code}.", f"The employee does not qualify for {course.code}.", reasons)
    default_tenant_only(user)
    case_id = enrolment_case_id(body.year, body.nip, course.code)
    duplicate = ApiError(409, f"Usulan {course.code} {body.year} untuk NIP ini sudah ada.", f"This {body.year} {course.code} proposal already exists.")
    if await (await conn.execute("SELECT 1 FROM training_enrolments WHERE case_id = %s", [case_id])).fetchone():
        raise duplicate
    budget = None
    deadline = tr.default_schedule(body.year, rules)[1]
    amount, plan_version = 0, 0
    if tr.FORMS[course.form].funded:
        hold = await _update(
            res, cycle_case_id(body.year), TrainingWorkflow.hold_budget,
            HoldBudgetInput(enrolment_id=case_id, nip=body.nip, unit=emp["unit"], course=course.code, actor=user.actor()),
            ApiError(409, f"Belum ada siklus pengembangan kompetensi {body.year} yang berjalan.", f"No {body.year} development cycle is running."),
        )
        amount, plan_version, deadline = hold.amount, hold.plan_version, hold.report_at
        budget = {"amount": hold.amount, "remaining": hold.remaining, "plan_version": hold.plan_version, "position": hold.position}
    try:
        await _start(
            res, TrainingEnrolmentWorkflow.run,
            StartEnrolmentInput(case_id=case_id, year=body.year, nip=body.nip, course=course.code, proposed_by=user.actor(),
                                motivation=body.motivation, plan_version=plan_version, amount=amount, evidence_deadline=deadline,
                                rules_version=rules.version),
            case_id, duplicate,
        )
    except Exception:
        if budget is not None:
            # The held place goes back: the enrolment never started.
            client = await res.temporal_client()
            await client.get_workflow_handle(cycle_case_id(body.year)).signal(
                TrainingWorkflow.release_budget, BudgetSignal(enrolment_id=case_id, actor=user.actor(), reason="enrolment not started")
            )
        raise
    return Accepted(id=case_id, links=_links(case_id), budget=budget)


@router.get("/enrolments")
async def list_enrolments(
    user: CurrentUser, conn: DbDep, res: ResourcesDep, year: Year | None = None, unit: str | None = None,
    nip: Annotated[str | None, Query(pattern=NIP)] = None, status_: Annotated[str | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200, min_position: MinPosition = None,
) -> dict[str, Any]:
    """Enrolments I may see: mine, my unit's (heads), all (BKPSDM and oversight)."""
    await catch_up(conn, res, "training", min_position)
    where, params = _scope(user, unit, nip)
    for column, value in (("year", year), ("status", status_)):
        if value is not None:
            where += f" AND {column} = %s"
            params.append(value)
    rows = await (
        await conn.execute(f"SELECT * FROM training_enrolments WHERE {where} ORDER BY proposed_at DESC LIMIT %s", [*params, limit])  # noqa: S608
    ).fetchall()
    return {"data": rows, "count": len(rows)}


@router.post("/enrolments/{case_id}/evidence", response_model=ActionDone)
async def submit_evidence(case_id: str, body: EvidenceCreate, user: CurrentUser, res: ResourcesDep) -> ActionDone:
    """Completion evidence: the certificate by its SHA-256, its lesson hours and date (a reused file is refused)."""
    parts = case_id.split("-")
    if len(parts) < 4 or parts[0] != "training" or not parts[1].isdigit():
        raise ApiError(404, "Pelatihan tidak ditemukan.", "Enrolment not found.")
    done = await _update(
        res, case_id, TrainingEnrolmentWorkflow.submit_evidence,
        EvidenceInput(actor=user.actor(), file_sha256=body.file_sha256, hours=body.hours, completed_on=body.completed_on,
                      certificate_no=body.certificate_no, file_name=body.file_name),
        ApiError(404, "Pelatihan tidak ditemukan atau sudah selesai.", "Enrolment not found or already closed."),
    )
    return ActionDone(case_id=done.case_id, event_type=done.event_type, position=done.position)


@router.get("/reminders")
async def my_reminders(user: CurrentUser, conn: DbDep, res: ResourcesDep, year: Year | None = None, min_position: MinPosition = None) -> dict[str, Any]:
    """The 20 JP reminders (and Latsar escalations) addressed to me."""
    await catch_up(conn, res, "training", min_position)
    where, params = "recipient_nip = %s", [user.nip]
    if year is not None:
        where += " AND year = %s"
        params.append(year)
    rows = await (
        await conn.execute(f"SELECT * FROM training_reminders WHERE {where} ORDER BY reminded_at DESC, position DESC LIMIT 200", params)  # noqa: S608
    ).fetchall()
    return {"data": rows, "count": len(rows)}


# --- Latsar ----------------------------------------------------------------------------------------------
@router.post("/latsar", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def hand_off_latsar(body: LatsarCreate, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> Accepted:
    """The selection's hand-off of a new CPNS (BKPSDM, or the selection process): starts Latsar and the probation timer."""
    if not user.has("BKPSDM", "ADMIN"):
        raise ApiError(403, "Hanya BKPSDM yang menyerahkan CPNS ke Latsar.", "Only BKPSDM hands a CPNS over to Latsar.")
    emp = await _employee(conn, body.nip)
    nama = body.nama or (emp["nama"] if emp else None)
    unit = body.unit or (emp["unit"] if emp else None)
    tmt = body.tmt_cpns
    if tmt is None:
        try:
            tmt = date(int(body.nip[8:12]), int(body.nip[12:14]), 1)
        except ValueError:
            tmt = None
    problems = []
    if not nama:
        problems.append({"field": "nama", "id": "Nama wajib diisi bila NIP belum ada di direktori.", "en": "A name is required when the NIP is not in the directory."})
    if unit not in UNITS_BY_CODE:
        problems.append({"field": "unit", "id": "Unit penempatan tidak dikenal.", "en": "Unknown placement unit."})
    if tmt is None or tmt.day != 1:
        problems.append({"field": "tmt_cpns", "id": "TMT CPNS selalu tanggal 1 suatu bulan.", "en": "TMT CPNS is always the 1st of a month."})
    if problems:
        raise _problems_error(422, problems)
    default_tenant_only(user)
    case_id = latsar_case_id(body.nip)
    await _start(
        res, TrainingLatsarWorkflow.run,
        StartLatsarInput(case_id=case_id, nip=body.nip, nama=nama, unit=unit, tmt_cpns=tmt.isoformat(), handed_off_by=user.actor(),  # type: ignore[arg-type,union-attr]
                         selection_case_id=body.selection_case_id, formation=body.formation),
        case_id, ApiError(409, "CPNS ini sudah diserahkan ke Latsar.", "This CPNS has already been handed over to Latsar."),
    )
    return Accepted(id=case_id, links=_links(case_id))


@router.get("/latsar")
async def list_latsar(
    user: CurrentUser, conn: DbDep, res: ResourcesDep, unit: str | None = None, late: bool | None = None, min_position: MinPosition = None
) -> dict[str, Any]:
    """CPNS in Latsar; `late=true`: probation over without a pass."""
    await catch_up(conn, res, "training", min_position)
    where, params = _scope(user, unit, None)
    if late is not None:
        where += (" AND " if late else " AND NOT ") + "(probation_ends < now() AND status <> 'passed')"
    rows = await (await conn.execute(f"SELECT * FROM training_latsar WHERE {where} ORDER BY probation_ends LIMIT 500", params)).fetchall()  # noqa: S608
    return {"data": rows, "count": len(rows)}


# --- one year's cycle and its views ------------------------------------------------------------------------
@router.get("/{year}")
async def cycle(year: int, user: CurrentUser, conn: DbDep, res: ResourcesDep, min_position: MinPosition = None) -> dict[str, Any]:
    """The cycle's state: schedule, the plan in force (and a pending amendment), the needs per unit, the report if issued."""
    await catch_up(conn, res, "training", min_position)
    row = await (await conn.execute("SELECT * FROM training_cycles WHERE year = %s", [year])).fetchone()
    if row is None:
        raise ApiError(404, f"Belum ada siklus pengembangan kompetensi {year}.", f"No {year} development cycle.")
    plan = await (await conn.execute("SELECT * FROM training_plans WHERE year = %s", [year])).fetchone()
    units = await (await conn.execute("SELECT unit, summary FROM training_needs_units WHERE year = %s ORDER BY unit", [year])).fetchall()
    report = await (await conn.execute("SELECT issued_at FROM training_reports WHERE year = %s", [year])).fetchone()
    return {**row, "plan": plan, "needs": units, "report_issued_at": report["issued_at"] if report else None}


@router.get("/{year}/needs")
async def needs(
    year: int, user: CurrentUser, conn: DbDep, res: ResourcesDep, unit: str | None = None,
    nip: Annotated[str | None, Query(pattern=NIP)] = None, min_position: MinPosition = None,
) -> dict[str, Any]:
    """Competency and performance gaps per employee, highest priority first."""
    await catch_up(conn, res, "training", min_position)
    where, params = _scope(user, unit, nip)
    rows = await (
        await conn.execute(f"SELECT * FROM training_needs WHERE year = %s AND {where} ORDER BY priority DESC, unit, nip", [year, *params])  # noqa: S608
    ).fetchall()
    return {"year": year, "data": rows, "count": len(rows)}


@router.post("/{year}/plan/amendments", response_model=ActionDone)
async def amend_plan(year: int, body: AmendmentCreate, user: CurrentUser, res: ResourcesDep) -> ActionDone:
    """BKPSDM proposes the plan's next version (the PPK approves it in the inbox); it may not undercut what is in use."""
    done = await _update(
        res, cycle_case_id(year), TrainingWorkflow.propose_amendment,
        AmendPlanInput(actor=user.actor(), plan={"budgets": body.budgets, "items": body.items}, reason=body.reason),
        ApiError(409, f"Siklus {year} tidak berjalan.", f"The {year} cycle is not running."),
    )
    return ActionDone(case_id=done.case_id, event_type=done.event_type, position=done.position)


@router.post("/{year}/schedule", response_model=ActionDone)
async def change_schedule(year: int, body: ScheduleChange, user: CurrentUser, res: ResourcesDep) -> ActionDone:
    """BKPSDM sets this year's remaining reminder moments and the report moment."""
    done = await _update(
        res, cycle_case_id(year), TrainingWorkflow.reschedule,
        RescheduleInput(actor=user.actor(), reminders=body.reminders, report_at=body.report_at, reason=body.reason),
        ApiError(409, f"Siklus {year} tidak berjalan.", f"The {year} cycle is not running."),
    )
    return ActionDone(case_id=done.case_id, event_type=done.event_type, position=done.position)


@router.get("/{year}/jp")
async def jp_per_employee(
    year: int, user: CurrentUser, conn: DbDep, res: ResourcesDep, unit: str | None = None,
    nip: Annotated[str | None, Query(pattern=NIP)] = None, below: bool | None = None, min_position: MinPosition = None,
) -> dict[str, Any]:
    """JP credited per employee in the year, against the yearly minimum."""
    await catch_up(conn, res, "training", min_position)
    minimum = tr.rules_for().min_jp_per_year
    where, params = _scope(user, unit, nip, alias="e")
    having = "" if below is None else (" HAVING COALESCE(SUM(c.jp), 0) < %s" if below else " HAVING COALESCE(SUM(c.jp), 0) >= %s")
    rows = await (
        await conn.execute(
            "SELECT e.nip, e.nama, e.unit, COALESCE(SUM(c.jp), 0)::int AS jp, COUNT(c.case_id)::int AS activities"
            f" FROM employees e LEFT JOIN training_credits c ON c.nip = e.nip AND c.year = %s WHERE {where}"  # noqa: S608
            f" GROUP BY e.nip, e.nama, e.unit{having} ORDER BY e.unit, e.nip",
            [year, *params, *([minimum] if below is not None else [])],
        )
    ).fetchall()
    data = [{**r, "min_jp": minimum, "compliant": r["jp"] >= minimum, "shortfall": max(0, minimum - r["jp"])} for r in rows]
    return {"year": year, "min_jp": minimum, "data": data, "count": len(data)}


@router.get("/{year}/jp/units")
async def jp_per_unit(year: int, user: CurrentUser, conn: DbDep, res: ResourcesDep, min_position: MinPosition = None) -> dict[str, Any]:
    """Per unit: employees, JP total and average, how many reached the minimum, and the compliance %."""
    await catch_up(conn, res, "training", min_position)
    minimum = tr.rules_for().min_jp_per_year
    where, params = ("TRUE", []) if user.has(*OVERSIGHT) else ("unit = %s", [user.unit])
    rows = await (
        await conn.execute(
            "WITH per AS (SELECT e.nip, e.unit, COALESCE(SUM(c.jp), 0) AS jp FROM employees e"
            " LEFT JOIN training_credits c ON c.nip = e.nip AND c.year = %s GROUP BY e.nip, e.unit)"
            " SELECT unit, COUNT(*)::int AS employees, SUM(jp)::int AS jp_total, ROUND(AVG(jp), 1)::float AS jp_average,"
            " COUNT(*) FILTER (WHERE jp >= %s)::int AS compliant,"
            " ROUND(100.0 * COUNT(*) FILTER (WHERE jp >= %s) / COUNT(*), 1)::float AS compliance_pct"
            f" FROM per WHERE {where} GROUP BY unit ORDER BY unit",  # noqa: S608
            [year, minimum, minimum, *params],
        )
    ).fetchall()
    return {"year": year, "min_jp": minimum, "data": rows, "count": len(rows)}


@router.get("/{year}/budget")
async def budget(year: int, user: CurrentUser, conn: DbDep, res: ResourcesDep, min_position: MinPosition = None) -> dict[str, Any]:
    """The plan against its realisation per unit: planned, held, committed, released, realised (verified), remaining."""
    await catch_up(conn, res, "training", min_position)
    where, params = ("TRUE", []) if user.has(*OVERSIGHT) else ("unit = %s", [user.unit])
    rows = await (
        await conn.execute(
            "SELECT unit, planned, held, committed, released, realised, planned - held - committed AS remaining,"
            " CASE WHEN planned > 0 THEN ROUND(100.0 * realised / planned, 1)::float END AS realisation_pct"
            f" FROM training_budget WHERE year = %s AND {where} ORDER BY unit",  # noqa: S608
            [year, *params],
        )
    ).fetchall()
    totals = {k: sum(int(r[k]) for r in rows) for k in ("planned", "held", "committed", "released", "realised", "remaining")}
    return {"year": year, "data": rows, "totals": totals}


@router.get("/{year}/compliance-report")
async def compliance_report(year: int, user: CurrentUser, conn: DbDep, res: ResourcesDep, min_position: MinPosition = None) -> dict[str, Any]:
    """The year-end compliance report per unit as the cycle recorded it."""
    await catch_up(conn, res, "training", min_position)
    if not user.has(*OVERSIGHT, "KEPALA_OPD"):
        raise ApiError(403, "Laporan kepatuhan untuk BKPSDM, pimpinan dan kepala perangkat daerah.", "The compliance report is for BKPSDM, leaders and agency heads.")
    row = await (await conn.execute("SELECT * FROM training_reports WHERE year = %s", [year])).fetchone()
    if row is None:
        raise ApiError(404, f"Laporan kepatuhan {year} belum diterbitkan.", f"The {year} compliance report has not been issued yet.")
    return row  # type: ignore[no-any-return]
