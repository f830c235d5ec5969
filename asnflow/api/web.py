"""Pages for people, rendered on the server and filled from the same JSON API (no CDN)."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from asnflow.api.auth import mint_token
from asnflow.api.deps import ResourcesDep
from asnflow.api.errors import ApiError
from asnflow.api.i18n import choose_language, texts
from asnflow.domain.deadlines import DELEGATION_TYPES

router = APIRouter(tags=["web"], include_in_schema=False)
HERE = Path(__file__).parent
STATIC = {"app.css": "text/css", "app.js": "text/javascript"}
DELEGATION_PROCESSES = ("evaluation", "promotion", "training", "complaint", "selection")  # a delegation's scope
_templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


def render(request: Request, res: ResourcesDep, page: str, **context: object) -> HTMLResponse:
    """A page in the caller's language; the script gets the same texts."""
    lang = choose_language(request)
    t = texts(lang)
    html = _templates.get_template(f"{page}.html").render(
        page=page, lang=lang, t=t, t_json=json.dumps(t, ensure_ascii=False), dev_mode=res.settings.dev_mode,
        other_lang="en" if lang == "id" else "id", **context,
    )
    response = HTMLResponse(html)
    if request.query_params.get("lang") == lang:
        response.set_cookie("lang", lang, max_age=365 * 24 * 3600, samesite="lax")
    return response


@router.get("/", response_class=HTMLResponse)
async def inbox_page(request: Request, res: ResourcesDep) -> HTMLResponse:
    """Approvers: my tasks and my roles' pool, decisions, bulk decisions."""
    return render(request, res, "inbox")


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(case_id: str, request: Request, res: ResourcesDep) -> HTMLResponse:
    """One case with its timeline and hash-chain status."""
    return render(request, res, "case", case_id=case_id)


@router.get("/me", response_class=HTMLResponse)
async def me_page(request: Request, res: ResourcesDep) -> HTMLResponse:
    """Employees: my cases, predicates, training hours and career timeline."""
    return render(request, res, "me")


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, res: ResourcesDep) -> HTMLResponse:
    """Auditors: event search, chain verification, exports."""
    return render(request, res, "audit")


@router.get("/dashboards", response_class=HTMLResponse)
async def dashboards_page(request: Request, res: ResourcesDep) -> HTMLResponse:
    """Charts drawn in the page from the stats API."""
    return render(request, res, "dashboards")


@router.get("/notifications", response_class=HTMLResponse)
async def notifications_page(request: Request, res: ResourcesDep) -> HTMLResponse:
    """My notifications: list, mark read."""
    return render(request, res, "notifications")


@router.get("/delegations", response_class=HTMLResponse)
async def delegations_page(request: Request, res: ResourcesDep) -> HTMLResponse:
    """Acting officials (Plt/Plh) and substitutes: grant, list mine, end early."""
    return render(
        request, res, "delegations", delegation_types=DELEGATION_TYPES,
        processes=DELEGATION_PROCESSES,
    )


@router.get("/static/{name}")
async def static(name: str) -> FileResponse:
    """The page's own assets (no CDN at run time)."""
    if name not in STATIC:
        raise ApiError(404, "Tidak ditemukan.", "Not found.")
    return FileResponse(HERE / "static" / name, media_type=STATIC[name], headers={"Cache-Control": "max-age=300"})


@router.get("/dev/users")
async def dev_users(res: ResourcesDep) -> list[dict[str, object]]:
    """Dev mode only: the demo users for the page's picker."""
    if not res.settings.dev_mode:
        raise ApiError(404, "Tidak ditemukan.", "Not found.")
    from asnflow.runtime import demo_muarojambi
    from asnflow.runtime.demo_org import demo_users

    return [
        *({k: u[k] for k in ("nip", "nama", "roles", "unit")} for u in demo_users()),
        *({k: u[k] for k in ("nip", "nama", "roles", "unit", "tenant")} for u in demo_muarojambi.users()),
    ]


@router.get("/dev/token")
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
        issuer=s.jwt_issuer, audience=s.jwt_audience, tenant=user["tenant"],
    )
    return {"token": token}
