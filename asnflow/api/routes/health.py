"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from asnflow.api.deps import ResourcesDep
from asnflow.api.errors import RETRY_AFTER_SECONDS

router = APIRouter(tags=["health"])


class Readiness(BaseModel):
    """Each dependency's state: "ok" or "unavailable: <error>"."""

    status: str
    checks: dict[str, str]


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness, "description": "A dependency is down"}})
async def ready(res: ResourcesDep) -> JSONResponse:
    """Ready when both PostgreSQL and Temporal answer."""
    checks: dict[str, str] = {}
    try:
        async with res.pool.connection(timeout=3) as conn:
            # Schema-qualified: a pooled connection between requests searches the empty no-tenant schema.
            await conn.execute("SELECT 1 FROM public.tasks_tracking LIMIT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        client = await res.temporal_client()
        await asyncio.wait_for(client.service_client.check_health(), timeout=3)
        checks["temporal"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["temporal"] = f"unavailable: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    headers = {} if ok else {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return JSONResponse({"status": "ready" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503, headers=headers)
