"""Bilingual errors: every refusal says why in Bahasa Indonesia and English, and changes nothing."""

from __future__ import annotations

from typing import Any

import psycopg
import structlog
from eventsourcing import persistence as es_persistence
from fastapi import FastAPI, Request
from pydantic import BaseModel
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

RETRY_AFTER_SECONDS = 5


class ProblemDoc(BaseModel):
    field: str | None = None
    id: str
    en: str
    rule: str | None = None


class ErrorDocument(BaseModel):
    """Every refusal: the message in the caller's language, both texts, and field-level problems."""

    status: int
    message: str
    message_id: str
    message_en: str
    problems: list[ProblemDoc] = []


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorDocument, "description": text}
    for code, text in (
        (401, "Authentication required / token invalid"),
        (403, "Not allowed (the rule is named)"),
        (404, "Not found"),
        (409, "Conflict: stale, closed or duplicate"),
        (422, "Invalid input (field-level problems)"),
        (429, "Too many requests"),
        (503, "A dependency is down (Retry-After)"),
    )
}
log = structlog.get_logger("api")


class ApiError(Exception):
    """An HTTP error with a message in both languages and optional field problems."""

    def __init__(
        self,
        status: int,
        message_id: str,
        message_en: str,
        problems: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message_en)
        self.status = status
        self.message_id = message_id
        self.message_en = message_en
        self.problems = problems or []
        self.headers = headers or {}


def unavailable(what: str) -> ApiError:
    """503 with Retry-After for a dependency that is down."""
    return ApiError(
        503,
        f"Layanan {what} sedang tidak tersedia. Coba lagi sebentar lagi.",
        f"The {what} service is unavailable. Try again shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _prefers_english(request: Request) -> bool:
    lang = request.headers.get("accept-language", "").lower()
    # Indonesian first: English only when it is asked for before Indonesian.
    en, idn = lang.find("en"), lang.find("id")
    return en != -1 and (idn == -1 or en < idn)


def body(request: Request, err: ApiError) -> dict[str, Any]:
    """The error document: `message` in the preferred language, both texts alongside."""
    return {
        "status": err.status,
        "message": err.message_en if _prefers_english(request) else err.message_id,
        "message_id": err.message_id,
        "message_en": err.message_en,
        "problems": err.problems,
    }


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the bilingual error document."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(body(request, exc), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                "id": f"Isian tidak valid: {e.get('msg')}",
                "en": f"Invalid input: {e.get('msg')}",
            }
            for e in exc.errors()
        ]
        err = ApiError(422, "Permintaan tidak valid.", "The request is invalid.", problems)
        return JSONResponse(body(request, err), status_code=422)

    @app.exception_handler(es_persistence.OperationalError)
    @app.exception_handler(es_persistence.InterfaceError)
    @app.exception_handler(psycopg.OperationalError)
    async def _store_down(request: Request, exc: Exception) -> JSONResponse:
        err = unavailable("database")
        return JSONResponse(body(request, err), status_code=503, headers=err.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Never a stack trace to the caller; the log has it.
        log.exception("unhandled error", path=request.url.path)
        err = ApiError(500, "Terjadi kesalahan internal.", "Internal error.")
        return JSONResponse(body(request, err), status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        texts = {
            404: ("Tidak ditemukan.", "Not found."),
            405: ("Metode tidak diizinkan.", "Method not allowed."),
            401: ("Perlu masuk (token bearer).", "Authentication required (bearer token)."),
        }
        message_id, message_en = texts.get(exc.status_code, (str(exc.detail), str(exc.detail)))
        err = ApiError(exc.status_code, message_id, message_en)
        return JSONResponse(body(request, err), status_code=exc.status_code, headers=getattr(exc, "headers", None))
