"""The web page for people (served by the app itself, no CDN) and the dev-only token helper."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from asnflow.api.auth import mint_token
from asnflow.api.deps import ResourcesDep
from asnflow.api.errors import ApiError

router = APIRouter(tags=["web"])
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index(request: Request, res: ResourcesDep) -> HTMLResponse:
    """Inbox, decisions and case timelines in one page over the same API."""
    html = _templates.get_template("index.html").render(dev_mode=res.settings.dev_mode)
    return HTMLResponse(html)


@router.get("/dev/users", include_in_schema=False)
async def dev_users(res: ResourcesDep) -> list[dict[str, object]]:
    """Dev mode only: the demo users for the page's picker."""
    if not res.settings.dev_mode:
        raise ApiError(404, "Tidak ditemukan.", "Not found.")
    from asnflow.runtime.demo_org import demo_users

    return [{k: u[k] for k in ("nip", "nama", "roles", "unit")} for u in demo_users()]


@router.get("/dev/token", include_in_schema=False)
async def dev_token(nip: str, res: ResourcesDep) -> dict[str, str]:
    """Dev mode only: a token for a seeded demo user (the page's user picker)."""
    if not res.settings.dev_mode:
        raise ApiError(404, "Tidak ditemukan.", "Not found.")
    from asnflow.runtime.demo_org import demo_person

    user = demo_person(nip)
    if user is None:
        raise ApiError(404, "Bukan pengguna demo.", "Not a demo user.")
    s = res.settings
    token = mint_token(
        s.dev_private_key_path, nip=user["nip"], name=user["nama"], roles=list(user["roles"]), unit=user["unit"],
        issuer=s.jwt_issuer, audience=s.jwt_audience,
    )
    return {"token": token}
