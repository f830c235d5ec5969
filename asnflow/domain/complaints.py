"""Public complaints (SP4N-LAPOR!, Perpres 76/2013): kinds, service levels, intake rules and events."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from statistics import median
from typing import Any

from asnflow.domain.events import CaseEvent
from asnflow.domain.organisation import INSPEKTORAT, UNITS_BY_CODE

PROCESS = "complaint"
# WIB has had no daylight saving since 1964, so a fixed offset is exact (and sandbox-safe).
WIB = timezone(timedelta(hours=7), "WIB")
END_OF_DAY = time(23, 59, 59)

KINDS: dict[str, dict[str, str]] = {
    "PENGADUAN": {"id": "Pengaduan", "en": "Complaint"},
    "ASPIRASI": {"id": "Aspirasi", "en": "Aspiration"},
    "PERMINTAAN_INFORMASI": {"id": "Permintaan informasi", "en": "Information request"},
    "WHISTLEBLOWING": {"id": "Pelaporan pelanggaran (whistleblowing)", "en": "Whistleblowing"},
}
# Whistleblowing content is never shown on the public tracking page.
ALWAYS_CONFIDENTIAL = frozenset({"WHISTLEBLOWING"})
ESCALATION_UNIT = INSPEKTORAT


@dataclass(frozen=True)
class ServiceLevel:
    """A period in working days (Indonesian government calendar) or calendar days."""

    days: int
    working: bool = True


# Versioned configuration (REGULATIONS.md §5). verification, follow_up and auto_close come from the
# LAPOR! guidance; resolution from Perpres 76/2013 art. (60 days after the file is complete).
# supplement (a postponed report waiting for the reporter) and asn_response are the regency's own
# standard: unconfirmed, adjustable.
COMPLAINT_REGULATION = "SP4N-LAPOR/Perpres-76/2013"
SERVICE_LEVELS: dict[str, dict[str, ServiceLevel]] = {
    COMPLAINT_REGULATION: {
        "verification": ServiceLevel(3),
        "follow_up": ServiceLevel(5),
        "auto_close": ServiceLevel(10),
        "resolution": ServiceLevel(60, working=False),
        "supplement": ServiceLevel(10),
        "asn_response": ServiceLevel(10),
    },
}
LEVEL_LABELS: dict[str, dict[str, str]] = {
    "verification": {"id": "Verifikasi (3 hari kerja)", "en": "Verification (3 working days)"},
    "follow_up": {"id": "Rencana tindak lanjut (5 hari kerja)", "en": "Follow-up plan (5 working days)"},
    "resolution": {"id": "Penyelesaian (60 hari)", "en": "Resolution (60 days)"},
}


def service_level(regulation: str, level: str) -> ServiceLevel:
    """The period of one service level under a regulation version."""
    return SERVICE_LEVELS[regulation][level]


def calendar_due(start: datetime, days: int) -> datetime:
    """End (23:59:59 WIB) of the calendar day `days` after the WIB day of `start`."""
    local = start.astimezone(WIB).date() if start.tzinfo else start.date()
    return datetime.combine(local + timedelta(days=days), END_OF_DAY, tzinfo=WIB)


# --- intake rules (versioned limits, enforced by the API before anything is recorded) ----------
@dataclass(frozen=True)
class IntakeLimits:
    description_min: int = 20
    description_max: int = 5000
    name_max: int = 120
    contact_max: int = 200
    attachments_max: int = 5
    attachment_bytes_max: int = 10 * 1024 * 1024
    attachment_types: frozenset[str] = frozenset({"pdf", "jpg", "jpeg", "png", "webp"})
    response_max: int = 4000
    body_bytes_max: int = 32 * 1024


LIMITS = IntakeLimits()
NIP_RE = re.compile(r"^\d{18}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def problem(field_name: str | None, message_id: str, message_en: str) -> dict[str, Any]:
    """One bilingual problem of rejected input."""
    return {"field": field_name, "id": message_id, "en": message_en}


def validate_intake(data: dict[str, Any], limits: IntakeLimits = LIMITS) -> list[dict[str, Any]]:
    """Every problem of a complaint's intake (types are checked by the API schema first)."""
    problems: list[dict[str, Any]] = []
    if data.get("kind") not in KINDS:
        problems.append(problem("kind", f"Jenis harus salah satu dari {list(KINDS)}.", f"Kind must be one of {list(KINDS)}."))
    if data.get("unit") not in UNITS_BY_CODE:
        problems.append(problem("unit", "Perangkat daerah tidak dikenal.", "Unknown regional agency (unit code)."))
    text = (data.get("description") or "").strip()
    if len(text) < limits.description_min:
        problems.append(
            problem(
                "description",
                f"Uraian minimal {limits.description_min} karakter.",
                f"The description needs at least {limits.description_min} characters.",
            )
        )
    elif len(text) > limits.description_max:
        problems.append(
            problem(
                "description",
                f"Uraian maksimal {limits.description_max} karakter.",
                f"The description may have at most {limits.description_max} characters.",
            )
        )
    asn = data.get("asn_nip")
    if asn is not None and not NIP_RE.match(str(asn)):
        problems.append(problem("asn_nip", "NIP harus 18 angka.", "The NIP must be 18 digits."))
    name, contact = (data.get("reporter_name") or "").strip(), (data.get("reporter_contact") or "").strip()
    if data.get("anonymous"):
        if name or contact:
            problems.append(
                problem(
                    "anonymous",
                    "Laporan anonim tidak boleh memuat nama atau kontak pelapor.",
                    "An anonymous report must not carry the reporter's name or contact.",
                )
            )
    elif len(name) < 2:
        problems.append(
            problem(
                "reporter_name",
                "Nama pelapor wajib diisi (atau pilih anonim).",
                "The reporter's name is required (or choose anonymous).",
            )
        )
    if len(name) > limits.name_max:
        problems.append(problem("reporter_name", "Nama terlalu panjang.", "The name is too long."))
    if len(contact) > limits.contact_max:
        problems.append(problem("reporter_contact", "Kontak terlalu panjang.", "The contact is too long."))
    attachments = data.get("attachments") or []
    if len(attachments) > limits.attachments_max:
        problems.append(
            problem(
                "attachments",
                f"Lampiran paling banyak {limits.attachments_max}.",
                f"At most {limits.attachments_max} attachments.",
            )
        )
    for i, att in enumerate(attachments):
        problems.extend(_attachment_problems(i, att, limits))
    return problems


def _attachment_problems(i: int, att: dict[str, Any], limits: IntakeLimits) -> list[dict[str, Any]]:
    found = []
    name = str(att.get("name") or "")
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in limits.attachment_types:
        types = ", ".join(sorted(limits.attachment_types))
        found.append(
            problem(f"attachments.{i}.name", f"Jenis berkas tidak diizinkan (boleh: {types}).", f"File type not allowed (allowed: {types}).")
        )
    size = att.get("size")
    if not isinstance(size, int) or size <= 0 or size > limits.attachment_bytes_max:
        mb = limits.attachment_bytes_max // (1024 * 1024)
        found.append(
            problem(f"attachments.{i}.size", f"Ukuran berkas harus 1 bait sampai {mb} MB.", f"File size must be 1 byte to {mb} MB.")
        )
    if not SHA256_RE.match(str(att.get("sha256") or "").lower()):
        found.append(
            problem(f"attachments.{i}.sha256", "Sidik SHA-256 harus 64 karakter heksadesimal.", "SHA-256 must be 64 hex characters.")
        )
    return found


def fingerprint(kind: str, unit: str, description: str, asn_nip: str | None) -> str:
    """Duplicate detector: the same kind, unit, ASN and text (case, spacing, punctuation ignored)."""
    text = unicodedata.normalize("NFKC", description).casefold()
    text = " ".join(re.sub(r"[^\w\s]", " ", text).split())
    return hashlib.sha256(f"{kind}|{unit}|{asn_nip or ''}|{text}".encode()).hexdigest()


# --- tracking codes ------------------------------------------------------------------------------
# Crockford base32 without I, L, O, U: readable over the phone, no ambiguous characters.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_RE = re.compile(r"^LPR-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


def format_code(random_bits: int) -> str:
    """A tracking code from 60 random bits, e.g. LPR-7K2M-Q9XD-4HNB."""
    chars = []
    for _ in range(12):
        chars.append(CODE_ALPHABET[random_bits & 31])
        random_bits >>= 5
    s = "".join(chars)
    return f"LPR-{s[0:4]}-{s[4:8]}-{s[8:12]}"


def normalise_code(code: str) -> str | None:
    """The canonical code, or None when it cannot be one (lower case and spaces are forgiven)."""
    c = "".join(code.split()).upper()
    return c if CODE_RE.match(c) else None


def case_id_for_code(code: str) -> str:
    """The case (workflow) id of a code: a one-way hash, so ids in views and logs never reveal the code."""
    return f"complaint-{hashlib.sha256(code.encode()).hexdigest()[:32]}"


# --- metrics (public, anonymised) ---------------------------------------------------------------
def median_or_none(values: list[float]) -> float | None:
    """Median of the values, or None for none."""
    return float(median(values)) if values else None


def local_date(moment: datetime) -> date:
    """The WIB calendar date of a moment."""
    return moment.astimezone(WIB).date()


# --- events ---------------------------------------------------------------------------------------
class ComplaintFiled(CaseEvent):
    """payload: kind, unit, description, anonymous, confidential, reporter_name, reporter_contact, asn_nip, attachments,
    fingerprint, regulation, channel, verification_due_at."""


class ComplaintVerified(CaseEvent):
    """payload: unit, resolution_due_at (the reason is on the envelope)."""


class ComplaintPostponed(CaseEvent):
    """payload: supplement_due_at (what is missing is the reason)."""


class ComplaintOutsideAuthority(CaseEvent):
    """payload: {} (bukan wewenang; the reason names the competent body)."""


class ComplaintArchived(CaseEvent):
    """payload: cause (decided | no_supplement)."""


class ComplaintRouted(CaseEvent):
    """payload: unit, follow_up_due_at, round."""


class FollowUpPlanPosted(CaseEvent):
    """payload: text, final, round, reply_window_until."""


class ReporterResponded(CaseEvent):
    """payload: message, satisfied, stage (postponed | awaiting_reply)."""


class AsnResponded(CaseEvent):
    """payload: asn_nip, response."""


class ServiceLevelBreached(CaseEvent):
    """payload: level, due_at, unit."""


class ComplaintEscalated(CaseEvent):
    """payload: level, to_unit (the Inspektorat), due_at."""


class ComplaintAutoClosed(CaseEvent):
    """payload: followed_up_at, reply_window_until."""


class ComplaintResolved(CaseEvent):
    """payload: how (reporter_confirmed | no_reply_after_follow_up), final_follow_up."""
