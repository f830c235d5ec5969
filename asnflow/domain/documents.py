"""Documents shared by every process: what may be stored, recognised by content (magic bytes), never by the declared type."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from asnflow.domain.events import CaseEvent

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MB = 1024 * 1024

# Media type -> (the extensions a name may carry, a test on the first bytes).
MEDIA_TYPES: dict[str, tuple[frozenset[str], Any]] = {
    "application/pdf": (frozenset({"pdf"}), lambda head: head.startswith(b"%PDF-")),
    "image/jpeg": (frozenset({"jpg", "jpeg"}), lambda head: head.startswith(b"\xff\xd8\xff")),
    "image/png": (frozenset({"png"}), lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    "image/webp": (frozenset({"webp"}), lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP"),
}


@dataclass(frozen=True)
class Purpose:
    """Why a file is stored: its allowed types and size (versioned configuration, like every limit)."""

    code: str
    label_id: str
    label_en: str
    media_types: frozenset[str]
    max_bytes: int


# Complaint limits follow the public intake (asnflow.domain.complaints.LIMITS: pdf/jpg/png/webp ≤ 10 MB);
# certificates and dossier documents are scans or PDFs from the issuing body (the regency's own limit, adjustable).
PURPOSES: dict[str, Purpose] = {
    p.code: p
    for p in (
        Purpose("complaint_attachment", "Lampiran pengaduan", "Complaint attachment",
                frozenset({"application/pdf", "image/jpeg", "image/png", "image/webp"}), 10 * MB),
        Purpose("training_certificate", "Sertifikat pelatihan", "Training certificate",
                frozenset({"application/pdf", "image/jpeg", "image/png"}), 10 * MB),
        Purpose("promotion_document", "Dokumen usul kenaikan pangkat", "Promotion dossier document",
                frozenset({"application/pdf", "image/jpeg", "image/png"}), 10 * MB),
    )
}


def problem(field_name: str | None, message_id: str, message_en: str) -> dict[str, Any]:
    """One bilingual problem of a refused file."""
    return {"field": field_name, "id": message_id, "en": message_en}


def sniff(content: bytes) -> str | None:
    """The media type the content really is (by its leading bytes), or None when it is none we accept."""
    head = content[:16]
    return next((media for media, (_, test) in MEDIA_TYPES.items() if test(head)), None)


def extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def clean_name(name: str | None, limit: int = 200) -> str:
    """A file name safe to record and to offer back: no folders, no control characters, bounded length."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name or ""))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip().strip(".")
    return base[-limit:] if len(base) > limit else base


def sha256_hex(content: bytes) -> str:
    """The hex SHA-256 of a file: its address in the store."""
    return hashlib.sha256(content).hexdigest()


def check_file(purpose: Purpose, name: str, content: bytes, field_name: str = "file") -> tuple[str | None, list[dict[str, Any]]]:
    """The media type of an acceptable file, or the problems (empty, too big, wrong content, name not matching it)."""
    found: list[dict[str, Any]] = []
    mb = purpose.max_bytes // MB
    if not content:
        found.append(problem(field_name, "Berkas kosong.", "The file is empty."))
        return None, found
    if len(content) > purpose.max_bytes:
        found.append(problem(field_name, f"Berkas lebih besar dari {mb} MB.", f"The file is larger than {mb} MB."))
        return None, found
    media = sniff(content)
    allowed = sorted(ext for m in purpose.media_types for ext in MEDIA_TYPES[m][0])
    if media is None or media not in purpose.media_types:
        found.append(
            problem(
                field_name,
                f"Isi berkas bukan jenis yang diizinkan ({', '.join(allowed)}); jenis dinilai dari isinya, bukan dari nama.",
                f"The file's content is not an allowed type ({', '.join(allowed)}); the type is judged by content, not by name.",
            )
        )
        return None, found
    if extension(name) not in MEDIA_TYPES[media][0]:
        found.append(
            problem(
                field_name,
                f"Nama berkas harus berakhiran sesuai isinya ({', '.join(sorted(MEDIA_TYPES[media][0]))}).",
                f"The file name must end as its content is ({', '.join(sorted(MEDIA_TYPES[media][0]))}).",
            )
        )
    return media, found


def reference(name: str, sha256: str, size: int, media_type: str) -> dict[str, Any]:
    """How an event names a stored file."""
    return {"name": name, "sha256": sha256, "size": size, "media_type": media_type}


def claim_case_id(purpose: str, sha256: str) -> str:
    """The one-event sequence that claims a file for one case (uuid5 of this id is its aggregate)."""
    return f"document-claim-{purpose}-{sha256}"


class DocumentClaimed(CaseEvent):
    """payload: purpose, sha256, owner_case_id (appended at version 1 only: the first case to use a file owns it)."""
