"""Shared resources of the API (pool, Temporal client, store) and the Annotated dependencies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import psycopg
import structlog
from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ValidationError
from temporalio.client import Client

from asnflow.activities.eventstore import EventStore
from asnflow.activities.temporal_client import connect_temporal
from asnflow.api.auth import TokenVerifier, User
from asnflow.api.errors import ApiError, unavailable
from asnflow.api.tenancy import TenantSchemas, request_tenant

log = structlog.get_logger("api")
QueryModel = TypeVar("QueryModel", bound=BaseModel)


@dataclass
class Resources:
    """What every request may need; created once in the app's lifespan."""

    settings: Any
    pool: AsyncConnectionPool
    verifier: TokenVerifier
    store: EventStore | None = None
    temporal: Client | None = None
    temporal_lock: asyncio.Lock | None = None
    schemas: TenantSchemas = field(default_factory=TenantSchemas)

    async def temporal_client(self) -> Client:
        """The Temporal client, connected on first use so the API starts while Temporal is down."""
        if self.temporal is not None:
            return self.temporal
        assert self.temporal_lock is not None
        async with self.temporal_lock:
            if self.temporal is None:
                try:
                    self.temporal = await asyncio.wait_for(connect_temporal(self.settings), timeout=5)
                except Exception:  # noqa: BLE001 - any connect failure is "Temporal down"
                    raise unavailable("Temporal") from None
        return self.temporal

    def event_store(self) -> EventStore:
        if self.store is None:
            try:
                self.store = EventStore(env=self.settings.store_env())
            except Exception:  # noqa: BLE001
                raise unavailable("database") from None
        return self.store


def resources(request: Request) -> Resources:
    return request.app.state.resources  # type: ignore[no-any-return]


async def _resources(request: Request) -> Resources:
    """The dependency form of resources(): async, so FastAPI does not hand it to the thread pool."""
    return request.app.state.resources  # type: ignore[no-any-return]


ResourcesDep = Annotated[Resources, Depends(_resources)]

_bearer = HTTPBearer(auto_error=False)


def authenticate(request: Request) -> User:
    """The caller from the bearer JWT (verified once per request); 401 without a valid one."""
    cached = getattr(request.state, "user", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise ApiError(
            401, "Perlu masuk (token bearer).", "Authentication required (bearer token).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    user = resources(request).verifier.verify(credentials.strip())
    request.state.user = user
    return user


async def current_user(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> User:
    """The caller from a bearer JWT; 401 without one (declared for OpenAPI's security scheme)."""
    # Async although it does not await: a sync dependency would cost a hop through the thread pool on
    # every request, and the token is already verified on the event loop (policy.enforce, the cache).
    return authenticate(request)


CurrentUser = Annotated[User, Depends(current_user)]


async def db(request: Request, res: ResourcesDep) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A pooled connection for view reads that sees only the caller's tenant; 503 when the database is down."""
    async with _tenant_connection(request, res, autocommit=False) as conn:
        yield conn


@dataclass(frozen=True, slots=True)
class Reader:
    """A signed-in caller, a read connection, the shared resources and the request, for hot reads (the inbox).

    The connection is in autocommit and its search path names no tenant: the handler's statements name
    the tenant's schema (tenancy.schema_of), so a read takes one round trip instead of four
    (bench/api.py). A statement that forgets the schema finds no tables and fails; it never sees
    another tenant's rows.
    """

    user: User
    conn: psycopg.AsyncConnection[Any]
    res: Resources
    request: Request

    def query(self, model: type[QueryModel]) -> QueryModel:
        """The query string as `model` (declare it with query_parameters); 422 as FastAPI's own validation."""
        try:
            return model.model_validate(dict(self.request.query_params))
        except ValidationError as exc:
            raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]) from None


def query_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` documenting a query model's fields as FastAPI documents `Annotated[Model, Query()]`.

    For a hot route that validates its query itself (Reader.query): FastAPI's own handling of a
    query model re-inspects every field's annotation on every request, ~15 % of the inbox's CPU.
    """
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    parameters = []
    for name, prop in schema["properties"].items():
        if prop.get("default", ...) is None:
            del prop["default"]  # FastAPI leaves a null default out
        description = prop.get("description")
        parameters.append(
            {"name": name, "in": "query", "required": name in schema.get("required", ()), "schema": prop}
            | ({"description": description} if description else {})
        )
    return {"parameters": parameters}


async def reader(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> AsyncIterator[Reader]:
    """CurrentUser, a read connection and ResourcesDep as one dependency (see Reader).

    FastAPI solves every node of a route's dependency tree on every request, cached or not (tens of
    microseconds each): three nodes instead of six took a sixth of the inbox's CPU off (bench/api.py).
    """
    user = authenticate(request)
    res = resources(request)
    async with _tenant_connection(request, res, autocommit=True) as conn:
        yield Reader(user, conn, res, request)


ReaderDep = Annotated[Reader, Depends(reader)]


@asynccontextmanager
async def _tenant_connection(
    request: Request, res: Resources, *, autocommit: bool
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    answered = False
    tenant = request_tenant(request, res.settings.default_tenant)
    try:
        async with res.pool.connection(timeout=5) as conn:
            conn.row_factory = dict_row  # type: ignore[assignment]
            if autocommit:
                await res.schemas.prepare(conn, tenant)
                await conn.set_autocommit(True)  # the pool's reset (TenantSchemas.leave) turns it off again
            else:
                await res.schemas.enter(conn, tenant)
            yield conn
            answered = True
    except (psycopg.OperationalError, psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as exc:
        if not isinstance(exc, psycopg.OperationalError):
            # A table or column that appeared after this tenant's views were made: make them again next time.
            res.schemas.forget(tenant)
        if answered:
            # The connection broke after the answer was given (fault drill: backends terminated
            # between a read and its commit); the pool drops it, and a 503 now would come too late.
            log.warning("database connection lost after the response")
            return
        # PoolTimeout is an OperationalError; a missing view means the projector has not started.
        raise unavailable("database") from None


DbDep = Annotated[psycopg.AsyncConnection[Any], Depends(db)]


def require(user: User, *roles: str) -> None:
    """403 unless the user holds one of the roles."""
    if not user.has(*roles):
        raise ApiError(
            403,
            f"Hanya peran {', '.join(roles)} yang boleh melakukan ini.",
            f"Only roles {', '.join(roles)} may do this.",
        )


async def wait_for_view(conn: psycopg.AsyncConnection[Any], view: str, position: int, timeout: float) -> bool:
    """Read-your-writes: wait until a view has applied a store position."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        row = await (
            await conn.execute(
                f"SELECT notification_id FROM {view}_tracking WHERE application_name = 'asnflow'"  # noqa: S608
            )
        ).fetchone()
        await conn.commit()
        if row and row["notification_id"] >= position:  # type: ignore[index,call-overload]
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.05)


MIN_POSITION = "read-your-writes: wait (a few seconds at most) until the view has applied this store position"
MinPosition = Annotated[int | None, Query(ge=0, description=MIN_POSITION)]


async def catch_up(conn: psycopg.AsyncConnection[Any], res: Resources, view: str, position: int | None) -> None:
    """Wait for a view to reach a position the caller has seen (e.g. from a decision's response)."""
    if position:
        await wait_for_view(conn, view, position, res.settings.read_wait_seconds)
