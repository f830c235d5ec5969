"""The FastAPI application: routers, error handlers and the lifespan's shared resources."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from psycopg_pool import AsyncConnectionPool

from asnflow.api import errors, hardening, policy, web
from asnflow.api.auth import ClaimMap, TokenVerifier, ensure_dev_keys
from asnflow.api.deps import Resources
from asnflow.api.routes import audit, cases, complaints, delegations, documents, evaluations, health, kinship, me, notifications, positions, promotions, selections, stats, tasks, trainings
from asnflow.api.tenancy import TenantSchemas

from asnflow.api.routes import forms  # decision forms (kept off the line above, which every process edits)


def make_verifier(settings: Any) -> TokenVerifier:
    """Dev mode trusts the data folder's key; otherwise a configured public key or JWKS is required."""
    claims = ClaimMap(
        nip=settings.jwt_nip_claim, roles=settings.jwt_roles_claim, unit=settings.jwt_unit_claim, name=settings.jwt_name_claim,
        tenant=settings.jwt_tenant_claim,
    )
    common = {
        "issuer": settings.jwt_issuer, "audience": settings.jwt_audience, "claims": claims, "default_tenant": settings.default_tenant,
    }
    if settings.jwks_url:
        return TokenVerifier(jwks_url=settings.jwks_url, jwks_cooldown=settings.jwks_refetch_cooldown_seconds, **common)
    if settings.jwt_public_key_file:
        pem = settings.jwt_public_key_file.read_bytes()
    elif settings.dev_mode:
        ensure_dev_keys(settings.dev_private_key_path, settings.dev_public_key_path)
        pem = settings.dev_public_key_path.read_bytes()
    else:
        raise RuntimeError(
            "No token verifier: set ASNFLOW_JWKS_URL or ASNFLOW_JWT_PUBLIC_KEY_FILE (or ASNFLOW_DEV_MODE=true)"
        )
    return TokenVerifier(public_key_pem=pem, **common)


def create_app(settings: Any) -> FastAPI:
    """Build the API for the given settings."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        schemas = TenantSchemas()
        # A connection in the pool sees no tenant's views until a request enters one (or names its schema).
        pool = AsyncConnectionPool(
            settings.database_url, min_size=1, max_size=10, open=False, timeout=5, configure=schemas.configure,
            reset=schemas.leave,
        )
        # Start even when PostgreSQL is down: requests then get 503 until it is back.
        await pool.open(wait=False)
        res = Resources(
            settings=settings, pool=pool, verifier=make_verifier(settings), temporal_lock=asyncio.Lock(), schemas=schemas
        )
        app.state.resources = res
        try:
            yield
        finally:
            await pool.close()
            if res.store is not None:
                res.store.close()

    app = FastAPI(
        title="asnflow API",
        version="0.1.0",
        description=(
            "Alur kerja kepegawaian ASN Kabupaten Batanghari — HR workflows of the civil servants of "
            "Kabupaten Batanghari. Errors carry `message_id` (Bahasa Indonesia) and `message_en`."
        ),
        lifespan=lifespan,
        # Deny by default: every route's access rule is checked before its handler (api/policy.py).
        dependencies=[Depends(policy.enforce)],
        responses=errors.ERROR_RESPONSES,  # documents our error shape (replaces FastAPI's default 422)
    )
    errors.install(app)
    hardening.install(app, settings)
    audit.install(app)  # every auditor access is recorded before it is served
    for module in (health, evaluations, cases, tasks, audit, me, kinship, promotions, positions, stats, complaints, notifications, delegations, trainings, selections, documents, web):
        app.include_router(module.router)
    app.include_router(forms.router)
    return app
