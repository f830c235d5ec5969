"""Every route × every role, generated from the app's own route list: a route without a rule fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from asnflow.api.app import create_app
from asnflow.api.auth import ensure_dev_keys, mint_token
from asnflow.api.policy import ALL_ROLES, PUBLIC, SIGNED_IN, rule_for
from tests.support import api_client, make_settings

SAMPLE = {
    "case_id": "evaluation-2026-199602102022031001", "task_id": "nope.t1", "nip": "199602102022031001",
    "year": "2026", "code": "ABCD-EFGH", "notification_id": "1", "delegation_id": "nope", "name": "app.css",
}


def routes(app: object) -> list[tuple[str, str]]:
    """(method, path template) of every API route, however the routers were included."""
    def walk(items: list) -> list:
        out = []
        for r in items:
            out.extend(walk(r.original_router.routes) if hasattr(r, "original_router") else [r])
        return out

    found = []
    for r in walk(app.routes):  # type: ignore[attr-defined]
        if isinstance(r, APIRoute):
            found.extend((m, r.path) for m in sorted(r.methods - {"HEAD"}))
        elif getattr(r, "path", None) in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"):
            found.append(("GET", r.path))
    return found


def concrete(path: str) -> str:
    for key, value in SAMPLE.items():
        path = path.replace("{" + key + "}", value)
    return path


def test_every_route_has_an_access_rule(tmp_path: Path) -> None:
    app = create_app(make_settings("postgresql://postgres@127.0.0.1:5432/postgres", tmp_path))
    missing = [f"{m} {p}" for m, p in routes(app) if rule_for(m, p) is None]
    assert not missing, f"routes without a rule in asnflow/api/policy.py: {missing}"
    assert len(routes(app)) > 50


def expected_denial(rule: object, role: str | None) -> int | None:
    if rule == PUBLIC:
        return None
    if role is None:
        return 401
    if rule == SIGNED_IN or role in rule:  # type: ignore[operator]
        return None
    return 403


async def test_route_by_role_matrix_is_enforced_before_handlers(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, "127.0.0.1:1")  # Temporal unreachable: nothing can start
    ensure_dev_keys(settings.dev_private_key_path, settings.dev_public_key_path)
    tokens = {
        role: mint_token(settings.dev_private_key_path, nip="199001012015011001", name=role, roles=[role],
                         unit="DISKOMINFO", issuer=settings.jwt_issuer, audience=settings.jwt_audience)
        for role in ALL_ROLES
    }
    checked = 0
    async with api_client(settings) as api:
        for method, path in routes(api.http._transport.app):  # type: ignore[attr-defined]
            rule = rule_for(method, path)
            for role in (None, *ALL_ROLES):
                headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
                # An empty body: allowed callers get past the policy (then 404/409/422/503…), nothing is written.
                r = await api.http.request(method, concrete(path), headers=headers, json={} if method == "POST" else None)
                body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
                policy_rule = next((p.get("rule") for p in body.get("problems", []) if isinstance(p, dict) and p.get("rule")), None) if isinstance(body, dict) else None
                denial = expected_denial(rule, role)
                if denial == 401:
                    assert r.status_code == 401, (method, path, role, r.status_code)
                elif denial == 403:
                    assert r.status_code == 403 and policy_rule == "policy:role", (method, path, role, r.status_code, body)
                else:
                    assert r.status_code != 401 and policy_rule is None, (method, path, role, r.status_code, body)
                checked += 1
    assert checked > 500


def test_an_unlisted_route_is_refused_to_everyone(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    app = create_app(make_settings("postgresql://postgres@127.0.0.1:1/none", tmp_path))

    @app.get("/api/v1/forgotten")
    async def forgotten() -> dict[str, str]:
        return {"leak": "yes"}

    with TestClient(app) as client:
        r = client.get("/api/v1/forgotten")
    assert r.status_code == 403 and r.json()["problems"][0]["rule"] == "policy:missing"
