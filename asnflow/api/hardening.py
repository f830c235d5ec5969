"""Security headers on every response and a deliberate CORS policy (same-origin unless configured)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The pages load only their own script and styles; the small inline bootstrap (texts for the
# script) needs 'unsafe-inline' until it moves into a data attribute.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_RAW_HEADERS = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in HEADERS.items()]


class SecurityHeaders:
    """ASGI middleware adding HEADERS (and CSP, no-store) unless the response set its own.

    Plain ASGI rather than @app.middleware("http"): that wrapper streams every response through a
    task and a memory channel, a cost the inbox paid on every request (bench/api.py).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        extra = list(_RAW_HEADERS)
        if not path.startswith(("/docs", "/redoc")):  # Swagger UI loads its own bundle inline
            extra.append((b"content-security-policy", CSP.encode("latin-1")))
        if path.startswith("/api/"):
            extra.append((b"cache-control", b"no-store"))  # personal data never sits in shared caches

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in extra if header[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI, settings: Any) -> None:
    """Add the headers; allow cross-origin calls only from the origins the settings list."""
    app.add_middleware(SecurityHeaders)

    origins = list(getattr(settings, "cors_origins", []) or [])
    if origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Accept-Language"], allow_credentials=False, max_age=600,
        )
