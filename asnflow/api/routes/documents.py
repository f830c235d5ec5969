"""The document store over HTTP: uploads checked by content, downloads only for those who may read a referencing case."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from asnflow.activities.documents import DocumentCorruptError, DocumentStore
from asnflow.api.auth import User
from asnflow.api.deps import CurrentUser, DbDep
from asnflow.api.errors import ApiError
from asnflow.domain import documents as docs

router = APIRouter(prefix="/api/v1/documents", tags=["documents"])

# Who uploads which kind of file through the signed-in endpoint (complaint attachments come with the public report).
UPLOADERS: dict[str, tuple[str, ...] | None] = {
    "training_certificate": None,  # any signed-in participant
    "promotion_document": ("KEPALA_OPD", "BKPSDM", "ADMIN"),
}
OVERSIGHT = ("ADMIN", "AUDITOR")
COMPLAINT_READERS = ("PENGELOLA_PENGADUAN", "ADMIN", "AUDITOR")
COMPLAINT_UNIT_READERS = ("PENGHUBUNG_PENGADUAN", "KEPALA_OPD")
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small text fields beside the files


def upload_body(**fields: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI for a one-file multipart body (read by hand so that its size is refused before it is parsed)."""
    properties = {"file": {"type": "string", "format": "binary"}, **fields}
    schema = {"type": "object", "required": ["file", *fields], "properties": properties}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


Sha256 = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the file")]


class DocumentRef(BaseModel):
    """How events and clients name a stored file."""

    name: str
    sha256: str
    size: int
    media_type: str
    purpose: str
    new: bool


STORE = DocumentStore()
# Decisions whose data name stored files: (task kind, outcome) -> (list field, purpose).
DECISION_DOCUMENTS = {("PROMOTION_VERIFICATION", "VERIFIED"): ("documents", "promotion_document")}


def document_store(request: Request | None = None) -> DocumentStore:
    """The process's store object (it remembers that its tables exist)."""
    return STORE


def invalid_file(problems: list[dict[str, Any]]) -> ApiError:
    return ApiError(422, problems[0]["id"], problems[0]["en"], problems)


def corrupt() -> ApiError:
    return ApiError(
        409,
        "Berkas tersimpan tidak cocok lagi dengan sidik SHA-256-nya; berkas ditolak. Unggah ulang berkas aslinya.",
        "The stored file no longer matches its SHA-256; it is refused. Upload the original file again.",
    )


def check_length(request: Request, limit: int) -> None:
    """Refuse an oversized body before reading it (413), and a body of unknown length (411)."""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise ApiError(411, "Panjang permintaan (Content-Length) wajib ada.", "The request needs a Content-Length.")
    if int(length) > limit:
        mb = limit / docs.MB
        raise ApiError(413, f"Permintaan lebih besar dari {mb:.1f} MB.", f"The request is larger than {mb:.1f} MB.")


async def read_files(files: list[Any], purpose: docs.Purpose, field_name: str) -> tuple[list[tuple[str, bytes, str]], list[dict[str, Any]]]:
    """Read and check uploaded files: (name, content, media type) of the good ones, and every problem."""
    good: list[tuple[str, bytes, str]] = []
    problems: list[dict[str, Any]] = []
    for i, upload in enumerate(files):
        where = f"{field_name}.{i}" if len(files) > 1 or field_name == "attachments" else field_name
        if not isinstance(upload, UploadFile):
            problems.append(docs.problem(where, "Bagian ini harus berupa berkas.", "This part must be a file."))
            continue
        content = await upload.read(purpose.max_bytes + 1)  # never more than one byte past the limit
        name = docs.clean_name(upload.filename)
        media, found = docs.check_file(purpose, name, content, where)
        problems += found
        if media is not None and not found:
            good.append((name, content, media))
    return good, problems


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=DocumentRef,
    openapi_extra=upload_body(purpose={"type": "string", "enum": sorted(UPLOADERS)}),
)
async def upload(request: Request, user: CurrentUser, conn: DbDep) -> DocumentRef:
    """Upload one file (multipart: `file`, `purpose`): typed by its content, stored once per SHA-256; the hash names it in events."""
    form = await read_form(request, max(p.max_bytes for p in docs.PURPOSES.values()) + FORM_OVERHEAD, "file, purpose")
    purpose = docs.PURPOSES.get(str(form.get("purpose") or ""))
    allowed = UPLOADERS.get(purpose.code) if purpose else None
    if purpose is None or purpose.code not in UPLOADERS:
        raise invalid_file([docs.problem("purpose", f"Tujuan berkas harus salah satu dari {sorted(UPLOADERS)}.",
                                         f"The purpose must be one of {sorted(UPLOADERS)}.")])
    if allowed is not None and not user.has(*allowed):
        raise ApiError(403, f"Hanya peran {', '.join(allowed)} yang mengunggah {purpose.label_id.lower()}.",
                       f"Only roles {', '.join(allowed)} upload a {purpose.label_en.lower()}.")
    return await store_one(request, conn, form.get("file"), purpose, user.nip)


async def read_form(request: Request, limit: int, fields: str) -> Any:
    """A small multipart form with one file, its size refused before it is read."""
    check_length(request, limit)
    try:
        return await request.form(max_files=1, max_fields=4, max_part_size=4096)
    except Exception:  # noqa: BLE001 - a malformed multipart body is the caller's error
        raise ApiError(422, f"Kirim berkas sebagai multipart/form-data ({fields}).", f"Send the file as multipart/form-data ({fields}).") from None


async def store_one(request: Request, conn: Any, file: Any, purpose: docs.Purpose, uploaded_by: str | None) -> DocumentRef:
    """Check one uploaded file by content and store it under its hash."""
    if file is None:
        raise invalid_file([docs.problem("file", "Berkas wajib dilampirkan.", "A file is required.")])
    good, problems = await read_files([file], purpose, "file")
    if problems:
        raise invalid_file(problems)
    name, content, media = good[0]
    ref, new = await document_store(request).put(conn, content, name, media, purpose.code, uploaded_by)
    return DocumentRef(**ref, purpose=purpose.code, new=new)


async def stored_reference(request: Request | None, conn: Any, sha256: str, purpose: str, field_name: str) -> dict[str, Any]:
    """A file an event may name: uploaded for this purpose and still matching its hash; else 422/409."""
    store = document_store(request)
    meta = await store.meta(conn, sha256)
    if meta is None or purpose not in meta.purposes:
        label = docs.PURPOSES[purpose]
        raise invalid_file([docs.problem(
            field_name,
            f"Berkas dengan sidik ini belum diunggah sebagai {label.label_id.lower()}; unggah dulu berkasnya.",
            f"No file with this hash has been uploaded as a {label.label_en.lower()}; upload the file first.",
        )])
    try:
        await store.verified(conn, sha256)
    except DocumentCorruptError:
        raise corrupt() from None
    name = meta.names[meta.purposes.index(purpose)]
    return docs.reference(name, meta.sha256, meta.size, meta.media_type)


async def check_decision_documents(conn: Any, kind: str, outcome: str, data: dict[str, Any]) -> None:
    """A decision naming files (a verified promotion dossier) names only stored, intact files of their purpose."""
    rule = DECISION_DOCUMENTS.get((kind, outcome))
    items = data.get(rule[0]) if rule and isinstance(data, dict) else None
    if not rule or not isinstance(items, list):
        return  # the workflow's validator reports a missing or malformed list
    for n, item in enumerate(items):
        digest = str(item.get("sha256", "")) if isinstance(item, dict) else ""
        if docs.SHA256_RE.match(digest):
            await stored_reference(None, conn, digest, rule[1], f"{rule[0]}.{n}.sha256")


# --- who may read a file: anyone who may read a case that names it ------------------------------------
async def _complaint_readable(conn: Any, user: User, sha256: str) -> bool:
    rows = await (
        await conn.execute("SELECT unit FROM complaints WHERE attachments @> %s::jsonb", [f'[{{"sha256": "{sha256}"}}]'])
    ).fetchall()
    if not rows:
        return False
    if user.has(*COMPLAINT_READERS):
        return True
    return user.has(*COMPLAINT_UNIT_READERS) and any(r["unit"] == user.unit for r in rows)


async def _certificate_readable(conn: Any, user: User, sha256: str) -> bool:
    rows = await (
        await conn.execute(
            "SELECT v.nip, e.unit FROM training_evidence v LEFT JOIN employees e ON e.nip = v.nip WHERE v.sha256 = %s", [sha256]
        )
    ).fetchall()
    if not rows:
        return False
    if user.has("BKPSDM", *OVERSIGHT):
        return True
    return any(r["nip"] == user.nip or (user.has("KEPALA_OPD") and r["unit"] == user.unit) for r in rows)


async def _dossier_readable(conn: Any, user: User, sha256: str) -> bool:
    rows = await (
        await conn.execute(
            "SELECT c.subject_nip, c.unit FROM tasks t JOIN cases c ON c.id = t.case_id"
            " WHERE t.kind = 'PROMOTION_VERIFICATION' AND t.data -> 'documents' @> %s::jsonb",
            [f'[{{"sha256": "{sha256}"}}]'],
        )
    ).fetchall()
    if not rows:
        return False
    if user.has("BKPSDM", *OVERSIGHT):
        return True
    return any(r["subject_nip"] == user.nip or (user.has("KEPALA_OPD") and r["unit"] == user.unit) for r in rows)


async def may_read(conn: Any, user: User, meta: Any) -> bool:
    """The uploader, or a reader of a case that references the file (complaints, certificates, verified dossiers: from views)."""
    if user.nip in meta.uploaders:
        return True
    for readable in (_complaint_readable, _certificate_readable, _dossier_readable):
        if await readable(conn, user, meta.sha256):
            return True
    return False


@router.get("/{sha256}", responses={200: {"content": {"application/octet-stream": {}}, "description": "the file"}})
async def download(sha256: Sha256, request: Request, user: CurrentUser, conn: DbDep) -> Response:
    """The file, served only while its content matches its hash and only to someone who may read a case naming it."""
    store = document_store(request)
    meta = await store.meta(conn, sha256)
    if meta is None:
        raise ApiError(404, "Berkas tidak ditemukan.", "Document not found.")
    if not await may_read(conn, user, meta):
        raise ApiError(
            403,
            "Berkas hanya untuk pengunggahnya dan yang berhak membaca perkara yang memuatnya.",
            "The file is only for its uploader and for those who may read a case that names it.",
        )
    try:
        content = await store.verified(conn, sha256)
    except DocumentCorruptError:
        raise corrupt() from None
    assert content is not None
    name = meta.names[-1] or f"{sha256[:12]}"
    return Response(
        content,
        media_type=meta.media_type,
        headers={
            # Always a download, never rendered inline from our origin.
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "X-Content-SHA256": sha256,
            "Cache-Control": "private, no-store",
        },
    )
