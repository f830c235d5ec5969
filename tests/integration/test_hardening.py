"""Security headers on every response; cross-origin calls only from configured origins."""

from __future__ import annotations

from pathlib import Path

from tests.support import api_client, make_settings


async def test_security_headers_and_same_origin_by_default(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path)
    async with api_client(settings) as api:
        for path in ("/health", "/", "/api/v1/tasks"):
            r = await api.http.get(path)
            assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert (await api.http.get("/api/v1/tasks")).headers["Cache-Control"] == "no-store"
        preflight = await api.http.options(
            "/api/v1/tasks", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        )
        assert "access-control-allow-origin" not in preflight.headers


async def test_configured_origins_may_call_cross_origin(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path).model_copy(update={"cors_origins": ["https://portal.batangharikab.go.id"]})
    async with api_client(settings) as api:
        ok = await api.http.options(
            "/api/v1/tasks",
            headers={"Origin": "https://portal.batangharikab.go.id", "Access-Control-Request-Method": "GET"},
        )
        assert ok.headers["access-control-allow-origin"] == "https://portal.batangharikab.go.id"
        other = await api.http.options(
            "/api/v1/tasks", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        )
        assert "access-control-allow-origin" not in other.headers
