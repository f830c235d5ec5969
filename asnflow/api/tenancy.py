"""Each request reads its tenant's rows only: a schema of filtered views per tenant on the search path.

Every view table has a `tenant` column (asnflow/projections/views.py). For each tenant the API
keeps a schema `tenant_<id>` holding, for every table of the public schema, a view of the same
name: `SELECT * … WHERE tenant = '<id>'` for tables with a tenant column, the table itself for
tables without one (tracking positions, audit chain and checkpoints, the mail outbox). A request's
connection has only that schema on its search path, so a route's SQL names tables as before and
cannot see another tenant's rows even when it forgets to filter. Hot single-statement reads (the
inbox: deps.Reader) skip the search path and name `tenant_<id>.table` instead; their connection
has the empty schema on its path, so a table named without the schema is not found rather than
another tenant's. The event store's table is not
mirrored, so raw reads of the store must go through the tenant checks below. Writes through the
views (notification reads) take the tenant from the connection's setting and are checked by
the views' CHECK OPTION.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import psycopg
from fastapi import Request
from psycopg.pq import TransactionStatus

from asnflow.api.errors import ApiError
from asnflow.domain.tenancy import tenant_of, valid_tenant

# The event store is the record: read it through eventstore/audit helpers with an explicit tenant check.
NOT_MIRRORED = ("asnflow_events",)
TENANT_SETTING = "asnflow.tenant"
NO_TENANT_SCHEMA = "asnflow_no_tenant"  # an empty schema: a connection between requests sees no tables


def schema_of(tenant: str) -> str:
    """The schema of one tenant's filtered views (the tenant id is validated, so it is a safe identifier)."""
    if not valid_tenant(tenant):
        raise ValueError(tenant)
    return f"tenant_{tenant}"


async def prepare_schema(conn: psycopg.AsyncConnection[Any], tenant: str) -> None:
    """(Re)create the tenant's schema of filtered views over every public table (run once per process and tenant)."""
    schema = schema_of(tenant)
    async with conn.transaction():
        # Several API processes may start at once: one of them builds the schema at a time.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('asnflow tenant schemas'))")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {NO_TENANT_SCHEMA}")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        rows = await (
            await conn.execute(
                "SELECT t.tablename, EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = 'public'"
                " AND c.table_name = t.tablename AND c.column_name = 'tenant') AS has_tenant"
                " FROM pg_tables t WHERE t.schemaname = 'public' ORDER BY t.tablename"
            )
        ).fetchall()
        for row in rows:
            table, has_tenant = (row["tablename"], row["has_tenant"]) if isinstance(row, dict) else row
            if table in NOT_MIRRORED:
                continue
            await conn.execute(f'DROP VIEW IF EXISTS {schema}."{table}"')
            if has_tenant:
                await conn.execute(
                    f'CREATE VIEW {schema}."{table}" AS SELECT * FROM public."{table}" WHERE tenant = \'{tenant}\''
                    " WITH CASCADED CHECK OPTION"
                )
            else:
                await conn.execute(f'CREATE VIEW {schema}."{table}" AS SELECT * FROM public."{table}"')


class TenantSchemas:
    """The tenants whose schema this process has prepared (prepared again when a table is missing)."""

    def __init__(self) -> None:
        self.ready: set[str] = set()
        self.lock = asyncio.Lock()
        # Connections whose search path names a tenant: the pool's reset takes them back to none.
        self.entered: weakref.WeakSet[psycopg.AsyncConnection[Any]] = weakref.WeakSet()

    async def prepare(self, conn: psycopg.AsyncConnection[Any], tenant: str) -> str:
        """Make sure the tenant's schema of views exists; returns its name."""
        if tenant not in self.ready:
            async with self.lock:
                if tenant not in self.ready:
                    await prepare_schema(conn, tenant)
                    self.ready.add(tenant)
        return schema_of(tenant)

    async def enter(self, conn: psycopg.AsyncConnection[Any], tenant: str) -> None:
        """Point the connection at the tenant's views (committed, so a rollback in the handler keeps it)."""
        schema = await self.prepare(conn, tenant)
        self.entered.add(conn)
        await _session_settings(conn, schema, tenant)

    async def configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """A new pooled connection starts with no tenant's views on its search path."""
        await _session_settings(conn, NO_TENANT_SCHEMA, "")

    async def leave(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Back to no tenant before the connection returns to the pool."""
        if conn not in self.entered:
            # Never pointed at a tenant (its statements named the tenant's schema): nothing to undo but autocommit.
            await conn.set_autocommit(False)
            return
        await _session_settings(conn, NO_TENANT_SCHEMA, "")
        self.entered.discard(conn)

    def forget(self, tenant: str) -> None:
        """A table appeared after the schema was made (the projector started later): rebuild it next time."""
        self.ready.discard(tenant)


async def _session_settings(conn: psycopg.AsyncConnection[Any], search_path: str, tenant: str) -> None:
    """Set the connection's search path and tenant for the session, leaving it idle and not in autocommit.

    In autocommit the statement is its own transaction: one round trip instead of BEGIN, SELECT and
    COMMIT (bench/api.py), and a rollback in the handler cannot undo it either.
    """
    await conn.set_autocommit(True)
    try:
        await conn.execute(
            "SELECT set_config('search_path', %s, false), set_config(%s, %s, false)", [search_path, TENANT_SETTING, tenant]
        )
    finally:
        # A broken connection (not idle) is discarded by the pool; any other goes back to transactions.
        if conn.pgconn.transaction_status == TransactionStatus.IDLE:
            await conn.set_autocommit(False)


def request_tenant(request: Request, default: str) -> str:
    """The caller's tenant: the token's, or for public routes the `tenant` query parameter (else the default)."""
    user = getattr(request.state, "user", None)
    if user is not None:
        return str(user.tenant)
    tenant = request.query_params.get("tenant") or default
    if not valid_tenant(tenant):
        raise ApiError(422, "Instansi tidak dikenal.", "Unknown tenant.")
    return tenant


def tenant_prefix(request: Request, settings: Any) -> str | None:
    """The case-id prefix of the request's tenant (None for the default tenant)."""
    tenant = request_tenant(request, settings.default_tenant)
    return None if tenant == settings.default_tenant else tenant


def default_tenant_only(user: Any) -> None:
    """Refuse a process whose cases are not yet kept apart per tenant (their ids or views are keyed by year)."""
    if not user.default_tenant:
        raise ApiError(
            409,
            f"Proses ini belum tersedia untuk instansi {user.tenant}.",
            f"This process is not available for tenant {user.tenant} yet.",
        )


def require_case_tenant(user: Any, case_id: str, default: str) -> None:
    """404 for a case of another tenant (read straight from the store, where no view filters)."""
    if tenant_of(case_id, default) != user.tenant:
        raise ApiError(404, "Perkara tidak ditemukan.", "Case not found.")
