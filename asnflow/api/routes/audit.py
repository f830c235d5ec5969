"""Audit: search, streaming export, verification, point in time, case bundles, legal holds; every auditor read recorded."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import psycopg
import structlog
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from asnflow.activities import audit as act
from asnflow.activities.eventstore import read_case
from asnflow.domain.personal import redact
from asnflow.api.auth import User
from asnflow.api.deps import CurrentUser, DbDep, MinPosition, Resources, ResourcesDep, catch_up, require
from asnflow.api.errors import ApiError, body, unavailable
from asnflow.api.schemas import BIGINT_MAX, ActorPublic, EventPublic, VerifyPublic
from asnflow.api.tenancy import require_case_tenant
from asnflow.domain.audit import temporal_url
from asnflow.domain.events import event_hash, hash_of

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
AUDIT_ROLES = ("AUDITOR", "ADMIN")
log = structlog.get_logger("audit")


class AuditEventPublic(EventPublic):
    temporal_url: str | None = Field(default=None, description="the Temporal UI page of the run that recorded the event")


class AuditEventsPage(BaseModel):
    data: list[AuditEventPublic]
    next_after: int | None


class AuditVerifyPublic(VerifyPublic):
    sealed_position: int = Field(description="last store position covered by a signed checkpoint")
    checkpoints_checked: int
    unsealed_events: int = Field(description="events after the last checkpoint (checked by their case chains only)")
    purged_events: int = Field(description="sealed events deleted by a recorded, retention-expired purge")
    key_ids: list[str]


class CheckpointPublic(BaseModel):
    seq: int
    position: int
    count: int
    chain: str
    created_at: str
    previous: str
    key_id: str
    signature: str


class CaseAsOfPublic(BaseModel):
    case_id: str
    at: datetime | None
    process: str
    status: str = Field(description="not_opened | open | completed | cancelled | rejected, as it stood")
    subject_nip: str | None
    unit: str | None
    title: str | None
    opened_at: datetime | None
    closed_at: datetime | None
    outcome: dict[str, Any]
    version: int
    position: int
    last_event: str | None
    chain_intact: bool
    open_tasks: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    events: list[AuditEventPublic]


class HoldCreate(BaseModel):
    reference: str = Field(min_length=1, max_length=200, description="e.g. the BPK or Inspektorat letter number")
    reason: str = Field(default="", max_length=4000)


class HoldPublic(BaseModel):
    case_id: str
    held: bool
    retention_class: str
    retention_years: int | None
    history: list[dict[str, Any]]


# --- recording every auditor access ------------------------------------------------------------------------
def access_action(path: str) -> str:
    """A short name of what an audited request reads."""
    parts = path.removeprefix("/api/v1/").strip("/").split("/")
    if parts[:2] == ["audit", "cases"]:
        return parts[3] if len(parts) > 3 else "point_in_time"
    if parts[0] == "audit" and len(parts) > 1:
        return {"events": "search"}.get(parts[1], parts[1])
    if parts[0] == "cases" and parts[-1] == "events":
        return "case_history"
    return "read"


def audited(path: str, user: User) -> bool:
    """Auditors are recorded on every read of the API; anyone on the audit endpoints."""
    if not path.startswith("/api/v1/") or path == "/api/v1/me":
        return False
    if path.startswith("/api/v1/audit/"):
        return user.has(*AUDIT_ROLES)
    return user.has("AUDITOR")


class AccessRecorder:
    """ASGI middleware: the access event is appended before the request is served, or the request is refused."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/v1/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        auth = request.headers.get("authorization", "")
        res: Resources = scope["app"].state.resources
        user = None
        if auth.lower().startswith("bearer "):
            try:
                user = res.verifier.verify(auth[7:].strip())
            except ApiError:
                user = None  # the route itself answers 401
            else:
                request.state.user = user  # the request's state: deps.authenticate takes it from here, verified once
        if user is not None and audited(scope["path"], user):
            actor = {"nip": user.nip, "role": "AUDITOR" if user.has("AUDITOR") else user.roles[0], "on_behalf_of": None}
            details = {"channel": "api", "method": scope["method"], "path": scope["path"], "query": request.url.query}
            try:
                await asyncio.to_thread(act.record_access, res.event_store(), actor, access_action(scope["path"]), details,
                    tenant_prefix=user.actor().tenant,
                )
            except Exception:  # noqa: BLE001 - an access that cannot be recorded is not served
                log.exception("access not recorded", path=scope["path"])
                err = unavailable("database")
                await JSONResponse(body(request, err), status_code=503, headers=err.headers)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    """Record every auditor access (search, export, verify, case history, bundles) as an event."""
    app.add_middleware(AccessRecorder)


# --- search -----------------------------------------------------------------------------------------------------
def ui_link(settings: Any, workflow_id: str | None, run_id: str | None) -> str | None:
    return temporal_url(act.temporal_ui_url(settings), settings.temporal_namespace, workflow_id or "", run_id or "")


@router.get("/events", response_model=AuditEventsPage)
async def search_events(
    user: CurrentUser,
    conn: DbDep,
    res: ResourcesDep,
    case_id: str | None = None,
    actor_nip: str | None = None,
    type: str | None = None,  # noqa: A002 - the public filter name
    process: str | None = None,
    unit: str | None = None,
    occurred_from: datetime | None = Query(default=None, alias="from"),
    occurred_to: datetime | None = Query(default=None, alias="to"),
    after: Annotated[int, Query(ge=0, le=BIGINT_MAX, description="return events after this position")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    min_position: MinPosition = None,
) -> AuditEventsPage:
    """Events by case, actor, type, process, unit and time, in store order (keyset pagination)."""
    require(user, *AUDIT_ROLES)
    await catch_up(conn, res, "audit_log", min_position)
    where, params = ["a.position > %s"], [after]
    for column, value in (("case_id", case_id), ("actor_nip", actor_nip), ("type", type), ("process", process)):
        if value is not None:
            where.append(f"a.{column} = %s")
            params.append(value)
    if unit is not None:
        where.append("EXISTS (SELECT 1 FROM cases c WHERE c.id = a.case_id AND c.unit = %s)")
        params.append(unit)
    if occurred_from is not None:
        where.append("a.occurred_at >= %s")
        params.append(occurred_from)
    if occurred_to is not None:
        where.append("a.occurred_at < %s")
        params.append(occurred_to)
    rows = await (
        await conn.execute(
            "SELECT * FROM audit_log a WHERE " + " AND ".join(where) + " ORDER BY a.position LIMIT %s",  # noqa: S608
            [*params, limit],
        )
    ).fetchall()
    data = [row_public(r, res.settings) for r in rows]
    return AuditEventsPage(data=data, next_after=data[-1].position if len(data) == limit else None)


def row_public(r: dict[str, Any], settings: Any = None) -> AuditEventPublic:
    occurred = r["occurred_at"].astimezone(UTC)
    recomputed = event_hash(
        type_name=r["type"], case_id=r["case_id"], process=r["process"], version=r["version"],
        occurred_at=occurred.isoformat(), actor=r["actor"], workflow_id=r["workflow_id"], run_id=r["run_id"],
        reason=r["reason"], payload=r["payload"], previous_hash=r["previous_hash"], tenant=r["tenant"],
    )
    # A row whose personal values the view never held: the check made when it was projected stands.
    valid = recomputed == r["hash"] if r.get("redacted_hash_valid") is None else bool(r["redacted_hash_valid"])
    return AuditEventPublic(
        position=r["position"], version=r["version"], type=r["type"], case_id=r["case_id"], process=r["process"],
        occurred_at=occurred, actor=ActorPublic(**{k: r["actor"].get(k) for k in ("nip", "role", "on_behalf_of")}),
        reason=r["reason"], payload=redact(r["payload"]), previous_hash=r["previous_hash"], hash=r["hash"],
        hash_valid=valid, workflow_id=r["workflow_id"], run_id=r["run_id"], tenant=r["tenant"],
        temporal_url=ui_link(settings, r["workflow_id"], r["run_id"]) if settings is not None else None,
    )


def event_public(position: int, event: Any, settings: Any) -> AuditEventPublic:
    return AuditEventPublic(
        position=position, version=event.originator_version, type=type(event).__name__, case_id=event.case_id,
        process=event.process, occurred_at=event.occurred_at,
        actor=ActorPublic(**{k: event.actor.get(k) for k in ("nip", "role", "on_behalf_of")}),
        reason=event.reason, payload=redact(event.payload), previous_hash=event.previous_hash, hash=event.hash,
        hash_valid=hash_of(event) == event.hash, workflow_id=event.workflow_id, run_id=event.run_id, tenant=event.tenant,
        temporal_url=ui_link(settings, event.workflow_id, event.run_id),
    )


# --- export ---------------------------------------------------------------------------------------------------------
def _max_position(database_url: str) -> int:
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        return act.max_row_position(conn)


@router.get(
    "/export",
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}, "description": "events, one per line"}},
)
async def export_events(
    user: CurrentUser,
    res: ResourcesDep,
    format: Literal["jsonl", "csv"] = "jsonl",  # noqa: A002 - the public parameter name
    case_id: str | None = None,
    actor_nip: str | None = None,
    type: str | None = None,  # noqa: A002
    process: str | None = None,
    unit: str | None = None,
    occurred_from: datetime | None = Query(default=None, alias="from"),
    occurred_to: datetime | None = Query(default=None, alias="to"),
    after: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
    until: Annotated[int | None, Query(ge=0, le=BIGINT_MAX, description="up to this position (default: the head when the export starts)")] = None,
) -> StreamingResponse:
    """Stream matching events from the event store (the record) as JSONL or CSV, in constant memory."""
    require(user, *AUDIT_ROLES)
    settings = res.settings
    # Fixing the head first also turns a database outage into a 503 before any byte is sent.
    head = await asyncio.to_thread(_max_position, settings.database_url)
    flt = act.ExportFilter(
        case_id=case_id, actor_nip=actor_nip, type=type, process=process, unit=unit, occurred_from=occurred_from,
        occurred_to=occurred_to, after=after, until=min(until, head) if until is not None else head, tenant=user.tenant,
    )
    chunks = act.export_chunks(
        settings.database_url, flt, format, codec=act.state_codec(settings), ui_url=act.temporal_ui_url(settings),
        namespace=settings.temporal_namespace,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        chunks,
        media_type="application/x-ndjson" if format == "jsonl" else "text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="asnflow-audit-{stamp}.{format}"', "X-Asnflow-Until": str(flt.until)},
    )


# --- verification ---------------------------------------------------------------------------------------------------
def verify_settings(settings: Any, case_id: str | None = None) -> act.VerifyReport:
    """Per-case chains, signed checkpoints and the sealed global chain, straight from PostgreSQL."""
    with psycopg.connect(settings.database_url, connect_timeout=5) as conn:
        return act.verify(conn, act.trusted_keys(settings), case_id, codec=act.state_codec(settings))


@router.get("/verify", response_model=AuditVerifyPublic)
async def verify(user: CurrentUser, res: ResourcesDep, case_id: str | None = None) -> AuditVerifyPublic:
    """Detect rows changed, deleted or inserted in PostgreSQL: case chains plus the signed global chain."""
    require(user, *AUDIT_ROLES)
    if case_id is not None:
        require_case_tenant(user, case_id, res.settings.default_tenant)
    report = await asyncio.to_thread(verify_settings, res.settings, case_id)
    return AuditVerifyPublic(**asdict(report))


@router.get("/checkpoints", response_model=list[CheckpointPublic])
async def list_checkpoints(user: CurrentUser, res: ResourcesDep) -> list[CheckpointPublic]:
    """The signed checkpoints of the global chain (made by `asnflow audit checkpoint`)."""
    require(user, *AUDIT_ROLES)

    def load() -> list[act.Checkpoint]:
        with psycopg.connect(res.settings.database_url, connect_timeout=5) as conn:
            act.ensure_tables(conn)
            return act.checkpoints(conn)

    return [CheckpointPublic(**asdict(cp)) for cp in await asyncio.to_thread(load)]


# --- one case: point in time, bundle, legal hold ----------------------------------------------------------------------
def not_found() -> ApiError:
    return ApiError(404, "Perkara tidak ditemukan.", "Case not found.")


def refused(err: act.AuditRefusedError, status: int = 409) -> ApiError:
    return ApiError(status, err.message_id, err.message_en)


@router.get("/cases/{case_id}", response_model=CaseAsOfPublic)
async def case_at(
    case_id: str,
    user: CurrentUser,
    res: ResourcesDep,
    at: Annotated[datetime | None, Query(description="the moment (ISO 8601); default now")] = None,
    version: Annotated[int | None, Query(ge=0, le=BIGINT_MAX, description="or: as of this case version")] = None,
) -> CaseAsOfPublic:
    """A case as it stood at time T (or version N), folded from the store: open tasks, decisions so far."""
    require(user, *AUDIT_ROLES)
    require_case_tenant(user, case_id, res.settings.default_tenant)
    if at is not None and at.tzinfo is None:
        raise ApiError(422, "Waktu `at` harus memuat zona waktu.", "`at` must carry a time zone.", [{"field": "at"}])
    store = res.event_store()
    state, included = await asyncio.to_thread(act.case_as_of, store, case_id, at=at, version=version)
    if not included and not await asyncio.to_thread(read_case, store, case_id, lte=1):
        raise not_found()
    return CaseAsOfPublic(
        case_id=case_id, at=at, process=state.process, status=state.status, subject_nip=state.subject_nip,
        unit=state.unit, title=state.title, opened_at=state.opened_at, closed_at=state.closed_at, outcome=state.outcome,
        version=state.version, position=state.position, last_event=state.last_event, chain_intact=state.chain_intact,
        open_tasks=state.open_tasks, tasks=list(state.tasks.values()), decisions=state.decisions,
        events=[event_public(s.position, s.event, res.settings) for s in included],
    )


@router.get("/cases/{case_id}/bundle", response_class=Response, responses={200: {"content": {"application/zip": {}}}})
async def case_bundle(case_id: str, user: CurrentUser, res: ResourcesDep) -> Response:
    """A signed bundle of one case for offline verification (`asnflow audit verify-bundle FILE`)."""
    require(user, *AUDIT_ROLES)
    require_case_tenant(user, case_id, res.settings.default_tenant)
    settings = res.settings

    def build() -> bytes:
        key = act.load_signing_key(settings)
        with psycopg.connect(settings.database_url, connect_timeout=5) as conn:
            return act.build_bundle(
                conn, case_id, key, codec=act.state_codec(settings), generated_by={"nip": user.nip, "roles": user.roles, "channel": "api"},
                ui_url=act.temporal_ui_url(settings), namespace=settings.temporal_namespace,
            )

    try:
        data = await asyncio.to_thread(build)
    except act.AuditRefusedError as err:
        raise (not_found() if err.message_en == "Case not found." else refused(err, 503)) from None
    filename = f"{case_id}.bundle.zip".replace('"', "")
    return Response(data, media_type="application/zip", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _hold_public(res: Resources, case_id: str) -> HoldPublic:
    store = res.event_store()
    first = read_case(store, case_id, lte=1)
    if not first:
        raise not_found()
    status = act.hold_status(store, case_id)
    process = first[0].event.process
    cls = act.retention_policy(res.settings).class_for(process)
    return HoldPublic(case_id=case_id, held=status.held, retention_class=cls.name, retention_years=cls.years, history=status.history)


@router.get("/cases/{case_id}/hold", response_model=HoldPublic)
async def get_hold(case_id: str, user: CurrentUser, res: ResourcesDep) -> HoldPublic:
    """The case's legal hold and its retention class."""
    require(user, *AUDIT_ROLES)
    require_case_tenant(user, case_id, res.settings.default_tenant)
    return await asyncio.to_thread(_hold_public, res, case_id)


async def _set_hold(case_id: str, user: User, res: Resources, body_: HoldCreate, held: bool) -> HoldPublic:
    require(user, *AUDIT_ROLES)
    require_case_tenant(user, case_id, res.settings.default_tenant)
    actor = user.actor().as_event_actor()
    try:
        await asyncio.to_thread(
            act.set_hold, res.event_store(), case_id, held=held, actor=actor, reference=body_.reference, reason=body_.reason
        )
    except act.AuditRefusedError as err:
        raise (not_found() if err.message_en == "Case not found." else refused(err)) from None
    return await asyncio.to_thread(_hold_public, res, case_id)


@router.post("/cases/{case_id}/hold", response_model=HoldPublic)
async def place_hold(case_id: str, body_: HoldCreate, user: CurrentUser, res: ResourcesDep) -> HoldPublic:
    """Place a legal hold: the case can no longer be purged, whatever its retention class."""
    return await _set_hold(case_id, user, res, body_, True)


@router.post("/cases/{case_id}/hold/release", response_model=HoldPublic)
async def release_hold(case_id: str, body_: HoldCreate, user: CurrentUser, res: ResourcesDep) -> HoldPublic:
    """Release a legal hold (recorded; retention applies again)."""
    return await _set_hold(case_id, user, res, body_, False)


@router.get("/retention")
async def retention(user: CurrentUser, res: ResourcesDep) -> dict[str, Any]:
    """The retention classes per process (record type) in force."""
    require(user, *AUDIT_ROLES)
    policy = act.retention_policy(res.settings)
    return {
        "version": policy.version, "default_class": policy.default_class, "processes": policy.processes,
        "classes": {n: {"years": c.years, "id": c.text_id, "en": c.text_en} for n, c in policy.classes.items()},
    }
