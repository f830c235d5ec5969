"""Public complaints: intake and tracking without login, managers' lists, evidence for appraisers, metrics, pages."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from asnflow.api.auth import User
from asnflow.api.deps import CurrentUser, DbDep, MinPosition, Resources, ResourcesDep, catch_up, wait_for_view
from asnflow.api.schemas import BIGINT_MAX
from asnflow.api.errors import ApiError, unavailable
from asnflow.activities.eventstore import EventStore, read_case
from asnflow.api.updates import deliver
from asnflow.api.tenancy import tenant_prefix
from asnflow.domain import complaints as cp
from asnflow.domain.organisation import INSPEKTORAT, UNITS, UNITS_BY_CODE, Role
from asnflow.domain.tenancy import with_prefix
from asnflow.workflows.complaint import ComplaintWorkflow
from asnflow.workflows.complaint_contracts import ReporterResponseInput, StartComplaintInput

router = APIRouter(tags=["complaints"])
API = "/api/v1/complaints"
MANAGER = Role.PENGELOLA_PENGADUAN.value
LIAISON = Role.PENGHUBUNG_PENGADUAN.value
SEE_ALL = (MANAGER, "ADMIN", "AUDITOR")
SEE_UNIT = (LIAISON, "KEPALA_OPD")
EVIDENCE_OVERSIGHT = (MANAGER, "ADMIN", "BKPSDM", "TIM_PENILAI")
DUPLICATE_DAYS = 30
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent.parent / "templates"), autoescape=select_autoescape(["html"])
)

STAGE_LABELS: dict[str, dict[str, str]] = {
    "verification": {"id": "Menunggu verifikasi", "en": "Awaiting verification"},
    "postponed": {"id": "Ditunda: menunggu keterangan pelapor", "en": "Postponed: waiting for the reporter's details"},
    "follow_up": {"id": "Diteruskan ke perangkat daerah", "en": "Routed to the agency"},
    "awaiting_reply": {"id": "Tindak lanjut diberikan: menunggu tanggapan pelapor", "en": "Followed up: waiting for the reporter"},
    "closed": {"id": "Selesai", "en": "Closed"},
}
CLOSURE_LABELS: dict[str, dict[str, str]] = {
    "resolved": {"id": "Selesai dan dikonfirmasi pelapor", "en": "Resolved, confirmed by the reporter"},
    "closed_without_reply": {"id": "Ditutup otomatis: tidak ada tanggapan 10 hari kerja", "en": "Closed automatically: no reply in 10 working days"},
    "archived": {"id": "Diarsipkan", "en": "Archived"},
    "not_our_authority": {"id": "Bukan kewenangan Pemkab Batanghari", "en": "Not within the regency's authority"},
    "cancelled": {"id": "Dibatalkan", "en": "Cancelled"},
}
STEP_LABELS: dict[str, dict[str, str]] = {
    "ComplaintFiled": {"id": "Laporan diterima", "en": "Report received"},
    "ComplaintPostponed": {"id": "Verifikasi ditunda", "en": "Verification postponed"},
    "ComplaintVerified": {"id": "Laporan diverifikasi", "en": "Report verified"},
    "ComplaintRouted": {"id": "Diteruskan ke penghubung OPD", "en": "Routed to the agency liaison"},
    "FollowUpPlanPosted": {"id": "Tindak lanjut diberikan", "en": "Follow-up posted"},
    "ReporterResponded": {"id": "Pelapor menanggapi", "en": "Reporter replied"},
    "ServiceLevelBreached": {"id": "Batas waktu layanan terlampaui", "en": "Service level breached"},
    "ComplaintEscalated": {"id": "Dieskalasi ke Inspektorat", "en": "Escalated to the Inspectorate"},
    "ComplaintOutsideAuthority": {"id": "Bukan kewenangan", "en": "Not our authority"},
    "ComplaintArchived": {"id": "Diarsipkan", "en": "Archived"},
    "ComplaintAutoClosed": {"id": "Ditutup otomatis", "en": "Closed automatically"},
    "ComplaintResolved": {"id": "Selesai", "en": "Resolved"},
    "CaseClosed": {"id": "Perkara ditutup", "en": "Case closed"},
}


# --- abuse protection ---------------------------------------------------------------------------------
class RateLimiter:
    """Token buckets per client address and action, in this process only (N API processes allow N times as much)."""

    def __init__(self, rules: dict[str, tuple[int, float]], max_clients: int = 10_000) -> None:
        self.rules = rules  # action -> (burst, seconds per token)
        self.max_clients = max_clients
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()

    def retry_after(self, action: str, client: str, now: float | None = None) -> float:
        """0 when the request may pass (and is counted), else the seconds until it may."""
        burst, per_token = self.rules[action]
        now = time.monotonic() if now is None else now
        key = (action, client)
        tokens, since = self._buckets.pop(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - since) / per_token)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) * per_token
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_clients:  # forget the least recently seen clients
            self._buckets.popitem(last=False)
        return wait


LIMITS_PER_CLIENT: dict[str, tuple[int, float]] = {
    "file": (5, 120.0),  # 5 reports at once, then one per 2 minutes
    "respond": (10, 30.0),
    "read": (60, 1.0),
}


def _state(request: Request, name: str, make: Callable[[], Any]) -> Any:
    value = getattr(request.app.state, name, None)
    if value is None:
        value = make()
        setattr(request.app.state, name, value)
    return value


def limited(action: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency: 429 with Retry-After when this client exceeds the action's rate; 413 for big bodies."""

    async def check(request: Request) -> None:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > cp.LIMITS.body_bytes_max:
            kb = cp.LIMITS.body_bytes_max // 1024
            raise ApiError(413, f"Permintaan lebih besar dari {kb} KB.", f"The request is larger than {kb} KB.")
        limiter: RateLimiter = _state(request, "complaint_limiter", lambda: RateLimiter(LIMITS_PER_CLIENT))
        client = request.client.host if request.client else "unknown"
        wait = limiter.retry_after(action, client)
        if wait > 0:
            seconds = max(1, int(wait + 0.999))
            raise ApiError(
                429,
                f"Terlalu banyak permintaan. Coba lagi dalam {seconds} detik.",
                f"Too many requests. Try again in {seconds} second(s).",
                headers={"Retry-After": str(seconds)},
            )

    return check


# --- reporter identities: encrypted with every stored event, read back only for complaint managers ------------
def reporter_identity(store: EventStore, case_id: str) -> dict[str, str] | None:
    """The reporter's name and contact from the complaint's first event in the store (None when anonymous)."""
    filed = read_case(store, case_id, lte=2)
    for stored in filed:
        p = stored.event.payload
        if type(stored.event).__name__ == "ComplaintFiled" and p.get("reporter_name"):
            return {"name": p["reporter_name"], "contact": p.get("reporter_contact") or ""}
    return None


# --- schemas ---------------------------------------------------------------------------------------------
class AttachmentIn(BaseModel):
    """An attachment's metadata; the file itself goes to the document store, not through this API."""

    name: str | None = Field(default=None, max_length=200, description="file name with extension (pdf, jpg, jpeg, png, webp)")
    sha256: str | None = Field(default=None, max_length=64, description="hex SHA-256 of the file")
    size: int | None = Field(default=None, description="bytes, at most 10 MB")
    media_type: str | None = Field(default=None, max_length=100)


class ComplaintCreate(BaseModel):
    """A public report. Required fields are checked with bilingual messages, so they are typed as optional here."""

    model_config = ConfigDict(extra="forbid")
    kind: str | None = Field(default=None, description=f"one of {list(cp.KINDS)}")
    unit: str | None = Field(default=None, description="code of the agency (OPD) concerned, e.g. DISKOMINFO")
    description: str | None = Field(default=None, max_length=20_000, description="20–5000 characters")
    anonymous: bool = False
    confidential: bool = Field(default=False, description="hide the content from the public tracking page")
    asn_nip: str | None = Field(default=None, description="NIP of the civil servant concerned, if any")
    reporter_name: str | None = Field(default=None, max_length=500, description="required unless anonymous")
    reporter_contact: str | None = Field(default=None, max_length=500, description="phone or e-mail, optional")
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=50)


class ComplaintFiledPublic(BaseModel):
    code: str
    status: str = "filed"
    links: dict[str, str]


class ReplyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(default="", max_length=20_000)
    satisfied: bool = False


class ReplyPublic(BaseModel):
    event_type: str
    position: int
    stage: str


# --- services used by the API and the pages ------------------------------------------------------------------
def invalid(problems: list[dict[str, Any]]) -> ApiError:
    first = problems[0]
    return ApiError(422, first["id"], first["en"], problems)


def bad_code() -> ApiError:
    return ApiError(
        422,
        "Format kode pelacakan salah (contoh: LPR-7K2M-Q9XD-4HNB).",
        "Malformed tracking code (e.g. LPR-7K2M-Q9XD-4HNB).",
        [{"field": "code", "id": "Format kode salah.", "en": "Malformed code."}],
    )


def unknown_code() -> ApiError:
    return ApiError(404, "Kode pelacakan tidak dikenal.", "Unknown tracking code.")


def _recent(request: Request) -> dict[str, float]:
    return _state(request, "complaint_recent", dict)  # type: ignore[no-any-return]


async def file_complaint(
    request: Request, res: Resources, conn: Any, body: ComplaintCreate, channel: str
) -> ComplaintFiledPublic:
    """Check and start one report; nothing is recorded when any check fails."""
    prefix = tenant_prefix(request, res.settings)
    if prefix is not None:
        # The desk's units, roles and periods are Batanghari's; another tenant's desk is not set up yet.
        raise ApiError(
            409, f"Layanan pengaduan instansi {prefix} belum tersedia.", f"The complaint desk of tenant {prefix} is not available yet.",
        )
    data = body.model_dump()
    data["attachments"] = [a.model_dump() for a in body.attachments]
    problems = cp.validate_intake(data)
    if problems:
        raise invalid(problems)
    if body.asn_nip is not None:
        known = await (await conn.execute("SELECT 1 FROM employees WHERE nip = %s", [body.asn_nip])).fetchone()
        if known is None:
            raise invalid([cp.problem("asn_nip", "NIP tidak terdaftar sebagai ASN Pemkab Batanghari.", "The NIP is not a civil servant of the regency.")])
    description = (body.description or "").strip()
    fingerprint = cp.fingerprint(body.kind or "", body.unit or "", description, body.asn_nip)
    recent = _recent(request)
    now = time.monotonic()
    for key in [k for k, at in recent.items() if now - at > 600]:
        del recent[key]
    duplicate = fingerprint in recent or await (
        await conn.execute(
            "SELECT 1 FROM complaints WHERE fingerprint = %s AND stage <> 'closed'"
            " AND filed_at > now() - make_interval(days => %s) LIMIT 1",
            [fingerprint, DUPLICATE_DAYS],
        )
    ).fetchone()
    if duplicate:
        raise ApiError(
            409,
            "Laporan yang sama sudah diterima dan sedang diproses; lacak dengan kode yang Anda terima saat itu.",
            "The same report has already been received and is in progress; track it with the code you received then.",
        )
    client = await res.temporal_client()
    for _ in range(3):  # a code collision (60 random bits) is practically impossible, but is not an error
        code = cp.format_code(secrets.randbits(60))
        # The report belongs to the tenant the intake names (`?tenant=`, else the default tenant).
        case_id = with_prefix(prefix, cp.case_id_for_code(code))
        inp = StartComplaintInput(
            case_id=case_id,
            kind=body.kind or "",
            unit=body.unit or "",
            description=description,
            anonymous=body.anonymous,
            confidential=body.confidential or body.kind in cp.ALWAYS_CONFIDENTIAL,
            fingerprint=fingerprint,
            regulation=cp.COMPLAINT_REGULATION,
            reporter_name=None if body.anonymous else (body.reporter_name or "").strip() or None,
            reporter_contact=None if body.anonymous else (body.reporter_contact or "").strip() or None,
            asn_nip=body.asn_nip,
            attachments=[{k: a[k] for k in ("name", "sha256", "size", "media_type")} for a in data["attachments"]],
            channel=channel,
        )
        try:
            # No search attributes: nothing about the reporter reaches Temporal's visibility store.
            await client.start_workflow(
                ComplaintWorkflow.run, inp, id=case_id, task_queue=res.settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE, id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
        except WorkflowAlreadyStartedError:
            continue
        except RPCError as exc:
            if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
                raise unavailable("Temporal") from None
            raise
        recent[fingerprint] = now
        await _wait_filed(conn, case_id, res.settings.read_wait_seconds)
        return ComplaintFiledPublic(code=code, links={"status": f"{API}/{code}", "page": "/pengaduan/lacak"})
    raise ApiError(503, "Coba lagi.", "Try again.", headers={"Retry-After": "1"})


async def _wait_filed(conn: Any, case_id: str, timeout: float) -> None:
    """Read-your-writes for the reporter: the status page knows the code once this returns."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        row = await (await conn.execute("SELECT 1 FROM complaints WHERE case_id = %s", [case_id])).fetchone()
        await conn.commit()
        if row:
            return
        await asyncio.sleep(0.05)


async def load_by_code(conn: Any, raw_code: str) -> tuple[str, dict[str, Any]]:
    code = cp.normalise_code(raw_code)
    if code is None:
        raise bad_code()
    # The connection sees its tenant's rows only; a non-default tenant's case ids carry its prefix.
    case_id = cp.case_id_for_code(code)
    row = await (
        await conn.execute(
            "SELECT * FROM complaints WHERE case_id = %s OR case_id = current_setting('asnflow.tenant') || '.' || %s",
            [case_id, case_id],
        )
    ).fetchone()
    if row is None:
        raise unknown_code()
    return code, row


def labels(table: dict[str, dict[str, str]], key: str | None) -> dict[str, str] | None:
    return table.get(key or "", {"id": key, "en": key}) if key else None


def public_status(code: str, row: dict[str, Any]) -> dict[str, Any]:
    """What anyone holding the code may see: progress and texts, never people."""
    unit = UNITS_BY_CODE.get(row["unit"])
    return {
        "code": code,
        "kind": row["kind"],
        "kind_label": cp.KINDS[row["kind"]],
        "unit": row["unit"],
        "unit_label": {"id": unit.name, "en": unit.name_en} if unit else None,
        "stage": row["stage"],
        "stage_label": labels(STAGE_LABELS, row["stage"]),
        "closure": row["closure"],
        "closure_label": labels(CLOSURE_LABELS, row["closure"]),
        "confidential": row["confidential"],
        "description": None if row["confidential"] else row["description"],
        "attachments": len(row["attachments"]),
        "filed_at": row["filed_at"],
        "verified_at": row["verified_at"],
        "closed_at": row["closed_at"],
        "due": row["due"],
        "breaches": [{**b, "label": cp.LEVEL_LABELS.get(b["level"])} for b in row["breaches"]],
        "escalated_to": INSPEKTORAT if row["escalated"] else None,
        "follow_ups": row["follow_ups"],
        "responses": row["responses"],
        "timeline": [{**s, "label": labels(STEP_LABELS, s["type"])} for s in row["timeline"]],
        "can_respond": row["stage"] in ("postponed", "awaiting_reply"),
    }


async def reply(res: Resources, conn: Any, raw_code: str, body: ReplyCreate) -> ReplyPublic:
    """The reporter's reply, delivered as the workflow's Update (validated there before anything is written)."""
    _, row = await load_by_code(conn, raw_code)
    result = await deliver(
        await res.temporal_client(), row["case_id"], ComplaintWorkflow.reporter_respond,
        ReporterResponseInput(message=body.message, satisfied=body.satisfied),
        missing=ApiError(409, "Laporan sudah ditutup.", "The report is closed."),
    )
    await wait_for_view(conn, "complaints", result.position, res.settings.read_wait_seconds)
    return ReplyPublic(event_type=result.event_type, position=result.position, stage=result.stage)


async def metrics(conn: Any, year: int | None) -> dict[str, Any]:
    """Anonymised figures per agency from the facts view (no text, no people)."""
    where, params = "TRUE", []
    if year is not None:
        where, params = "extract(year FROM filed_at AT TIME ZONE 'Asia/Jakarta') = %s", [year]
    per_kind = await (
        await conn.execute(f"SELECT unit, kind, count(*) AS n FROM complaint_facts WHERE {where} GROUP BY unit, kind", params)  # noqa: S608
    ).fetchall()
    per_unit = await (
        await conn.execute(
            "SELECT unit, count(*) AS total, count(closure) AS closed,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY follow_up_working_days) AS median_follow_up,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY resolution_days) AS median_resolution,"
            " avg(CASE WHEN jsonb_array_length(breached_levels) = 0 THEN 1.0 ELSE 0.0 END) AS within,"
            " count(*) FILTER (WHERE breached_levels ? 'verification') AS b_verification,"
            " count(*) FILTER (WHERE breached_levels ? 'follow_up') AS b_follow_up,"
            " count(*) FILTER (WHERE breached_levels ? 'resolution') AS b_resolution"
            f" FROM complaint_facts WHERE {where} GROUP BY unit ORDER BY unit",  # noqa: S608
            params,
        )
    ).fetchall()
    kinds: dict[str, dict[str, int]] = {}
    for r in per_kind:
        kinds.setdefault(r["unit"], {k: 0 for k in cp.KINDS})[r["kind"]] = r["n"]
    units = []
    for r in per_unit:
        unit = UNITS_BY_CODE.get(r["unit"])
        units.append(
            {
                "unit": r["unit"],
                "unit_label": {"id": unit.name, "en": unit.name_en} if unit else None,
                "total": r["total"],
                "closed": r["closed"],
                "by_kind": kinds.get(r["unit"], {}),
                "median_working_days_to_follow_up": _num(r["median_follow_up"]),
                "median_days_to_resolution": _num(r["median_resolution"]),
                "share_within_service_levels": round(float(r["within"]), 3) if r["within"] is not None else None,
                "breaches": {"verification": r["b_verification"], "follow_up": r["b_follow_up"], "resolution": r["b_resolution"]},
            }
        )
    return {
        "year": year,
        "definitions": {
            "id": "Hari kerja sampai tindak lanjut pertama dan hari kalender sampai selesai, dihitung dari laporan diterima; "
            "'dalam batas layanan' = tanpa satu pun batas waktu terlampaui.",
            "en": "Working days to the first follow-up and calendar days to resolution, counted from receipt; "
            "'within service levels' = no service level breached.",
        },
        "service_levels": {k: {"days": v.days, "working_days": v.working} for k, v in cp.SERVICE_LEVELS[cp.COMPLAINT_REGULATION].items()},
        "units": units,
    }


def _num(value: Any) -> float | None:
    return round(float(value), 1) if value is not None else None


# --- the public API -----------------------------------------------------------------------------------------
@router.post(API, status_code=status.HTTP_202_ACCEPTED, response_model=ComplaintFiledPublic, dependencies=[Depends(limited("file"))])
async def file_report(
    body: ComplaintCreate, request: Request, conn: DbDep, res: ResourcesDep
) -> ComplaintFiledPublic:
    """File a report without logging in; keep the returned `code` to track it and to reply."""
    return await file_complaint(request, res, conn, body, channel="api")


@router.get(f"{API}/metrics", dependencies=[Depends(limited("read"))])
async def public_metrics(conn: DbDep, year: Annotated[int | None, Query(ge=2020, le=2100)] = None) -> dict[str, Any]:
    """Public, anonymised service figures per agency (OPD)."""
    return await metrics(conn, year)


def _may_manage(user: User) -> None:
    if not user.has(*SEE_ALL, *SEE_UNIT):
        raise ApiError(
            403,
            "Hanya pengelola pengaduan, penghubung OPD, kepala OPD, auditor atau ADMIN yang melihat daftar pengaduan.",
            "Only complaint managers, agency liaisons, agency heads, auditors or ADMIN see complaint lists.",
        )


def managed_row(row: dict[str, Any], user: User, store: EventStore | None) -> dict[str, Any]:
    """A complaint for staff; the reporter's identity only for complaint managers."""
    out = {k: row[k] for k in (
        "case_id", "kind", "unit", "filed_unit", "stage", "closure", "description", "anonymous", "confidential",
        "asn_nip", "attachments", "filed_at", "verified_at", "closed_at", "due", "breaches", "escalated", "follow_ups", "responses",
    )}
    out["identity"] = None
    out["identity_visible"] = user.has(MANAGER)
    if store is not None and user.has(MANAGER) and not row["anonymous"]:
        out["identity"] = reporter_identity(store, row["case_id"])
    return out


def _visible_sql(user: User) -> tuple[str, list[Any]]:
    if user.has(*SEE_ALL):
        return "TRUE", []
    return "unit = %s", [user.unit]


@router.get(f"{API}/manage")
async def managed_list(
    user: CurrentUser,
    conn: DbDep,
    res: ResourcesDep,
    stage: str | None = None,
    escalated: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
    min_position: MinPosition = None,
) -> dict[str, Any]:
    """Complaints for staff: all for managers, auditors and ADMIN; their own agency's for liaisons and heads."""
    _may_manage(user)
    await catch_up(conn, res, "complaints", min_position)
    where, params = _visible_sql(user)
    if stage is not None:
        where += " AND stage = %s"
        params.append(stage)
    if escalated is not None:
        where += " AND escalated = %s"
        params.append(escalated)
    rows = await (
        await conn.execute(
            f"SELECT *, count(*) OVER () AS total FROM complaints WHERE {where}"  # noqa: S608
            " ORDER BY filed_at DESC, case_id LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
    ).fetchall()
    store = res.event_store() if user.has(MANAGER) else None
    data = await asyncio.to_thread(lambda: [managed_row(r, user, store) for r in rows])
    return {"data": data, "count": rows[0]["total"] if rows else 0}


@router.get(f"{API}/manage/{{case_id}}")
async def managed_one(case_id: str, user: CurrentUser, conn: DbDep, res: ResourcesDep, min_position: MinPosition = None) -> dict[str, Any]:
    """One complaint for staff (404 outside one's visibility)."""
    _may_manage(user)
    await catch_up(conn, res, "complaints", min_position)
    where, params = _visible_sql(user)
    row = await (
        await conn.execute(f"SELECT * FROM complaints WHERE case_id = %s AND {where}", [case_id, *params])  # noqa: S608
    ).fetchone()
    if row is None:
        raise ApiError(404, "Pengaduan tidak ditemukan.", "Complaint not found.")
    store = res.event_store() if user.has(MANAGER) else None
    return await asyncio.to_thread(managed_row, row, user, store)


@router.get(f"{API}/escalations")
async def escalations(user: CurrentUser, conn: DbDep, res: ResourcesDep, min_position: MinPosition = None) -> dict[str, Any]:
    """Breached service levels escalated to the Inspektorat (no identities)."""
    inspectorate_head = user.has("KEPALA_OPD") and user.unit == INSPEKTORAT
    if not (user.has("AUDITOR", MANAGER, "ADMIN") or inspectorate_head):
        raise ApiError(
            403,
            "Hanya Inspektorat, pengelola pengaduan atau ADMIN yang melihat eskalasi.",
            "Only the Inspectorate, complaint managers or ADMIN see escalations.",
        )
    await catch_up(conn, res, "complaints", min_position)
    rows = await (
        await conn.execute(
            "SELECT case_id, kind, unit, stage, closure, filed_at, due, breaches FROM complaints"
            " WHERE escalated ORDER BY filed_at DESC LIMIT 500"
        )
    ).fetchall()
    return {"data": rows, "count": len(rows)}


@router.get(f"{API}/evidence")
async def evidence(
    user: CurrentUser, conn: DbDep, res: ResourcesDep, nip: Annotated[str | None, Query(pattern=r"^\d{18}$")] = None,
    min_position: MinPosition = None,
) -> dict[str, Any]:
    """Verified complaints naming an ASN: for the ASN, their appraiser (direct superior) and oversight."""
    await catch_up(conn, res, "complaints", min_position)
    oversight = user.has(*EVIDENCE_OVERSIGHT)
    if nip is not None and not oversight and nip != user.nip:
        boss = await (await conn.execute("SELECT atasan_nip FROM employees WHERE nip = %s", [nip])).fetchone()
        if boss is None or boss["atasan_nip"] != user.nip:
            raise ApiError(
                403,
                "Bukti pengaduan hanya untuk ASN yang bersangkutan, atasannya (pejabat penilai) atau pengelola.",
                "Complaint evidence is only for the ASN concerned, their appraiser (direct superior) or managers.",
            )
    where, params = "v.visible", []
    if nip is not None:
        where += " AND v.asn_nip = %s"
        params.append(nip)
    if not oversight:
        where += " AND (v.asn_nip = %s OR e.atasan_nip = %s)"
        params += [user.nip, user.nip]
    rows = await (
        await conn.execute(
            "SELECT v.case_id, v.asn_nip, e.nama AS asn_name, e.atasan_nip AS appraiser_nip, v.kind, v.unit,"
            " v.description, v.filed_at, v.verified_at, v.follow_ups, v.asn_response, v.asn_responded_at, v.closure,"
            f" v.closed_at FROM complaint_evidence v LEFT JOIN employees e ON e.nip = v.asn_nip WHERE {where}"  # noqa: S608
            " ORDER BY v.verified_at DESC LIMIT 500",
            params,
        )
    ).fetchall()
    return {"data": rows, "count": len(rows)}


@router.get(f"{API}/{{code}}", dependencies=[Depends(limited("read"))])
async def track(code: str, conn: DbDep, res: ResourcesDep, min_position: MinPosition = None) -> dict[str, Any]:
    """Public status by tracking code: progress, service levels and breaches, never identities."""
    await catch_up(conn, res, "complaints", min_position)
    canonical, row = await load_by_code(conn, code)
    return public_status(canonical, row)


@router.post(f"{API}/{{code}}/responses", response_model=ReplyPublic, dependencies=[Depends(limited("respond"))])
async def respond(code: str, body: ReplyCreate, conn: DbDep, res: ResourcesDep) -> ReplyPublic:
    """The reporter replies by code: details when postponed, or to a follow-up (`satisfied` closes the report)."""
    return await reply(res, conn, code, body)


# --- public pages (Bahasa Indonesia first, English alongside; no login, no CDN) ---------------------------------
def page(name: str, **context: Any) -> HTMLResponse:
    html = _templates.get_template(f"complaint_{name}.html").render(
        active=name, kinds=cp.KINDS, units=UNITS, limits=cp.LIMITS, stages=STAGE_LABELS, **context
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


async def form_fields(request: Request) -> dict[str, str]:
    raw = await request.body()
    if len(raw) > cp.LIMITS.body_bytes_max:
        raise ApiError(413, "Permintaan terlalu besar.", "The request is too large.")
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}


@router.get("/pengaduan", response_class=HTMLResponse, include_in_schema=False)
async def form_page() -> HTMLResponse:
    """The public report form (the page's script posts JSON to the API and shows the code)."""
    return page("form")


@router.get("/pengaduan/lacak", response_class=HTMLResponse, include_in_schema=False)
async def track_page() -> HTMLResponse:
    """Enter a tracking code (posted, so the code stays out of addresses and access logs)."""
    return page("track", status=None)


@router.post("/pengaduan/lacak", response_class=HTMLResponse, include_in_schema=False, dependencies=[Depends(limited("read"))])
async def track_page_result(request: Request, conn: DbDep, res: ResourcesDep) -> HTMLResponse:
    """The status of one code, and the reply form when a reply is expected."""
    fields = await form_fields(request)
    notice = error = status_ = None
    try:
        code, row = await load_by_code(conn, fields.get("code", ""))
        if "message" in fields or fields.get("satisfied"):
            try:
                body = ReplyCreate(message=fields.get("message", "")[:20_000], satisfied=bool(fields.get("satisfied")))
                await reply(res, conn, code, body)
                notice = {"id": "Tanggapan Anda tercatat.", "en": "Your reply has been recorded."}
                code, row = await load_by_code(conn, code)
            except ApiError as err:
                error = {"id": err.message_id, "en": err.message_en}
        status_ = public_status(code, row)
    except ApiError as err:
        error = {"id": err.message_id, "en": err.message_en}
    return page("track", status=status_, notice=notice, error=error, code=fields.get("code", ""))


@router.get("/pengaduan/statistik", response_class=HTMLResponse, include_in_schema=False, dependencies=[Depends(limited("read"))])
async def metrics_page(conn: DbDep, year: Annotated[int | None, Query(ge=2020, le=2100)] = None) -> HTMLResponse:
    """The public dashboard: the metrics endpoint as a table."""
    return page("metrics", metrics=await metrics(conn, year))
