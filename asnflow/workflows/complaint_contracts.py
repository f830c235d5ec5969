"""Inputs and results of the complaint workflow (stdlib only: the API imports them too)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The reporter acts without an account: events name the role, never a person.
REPORTER_ACTOR: dict[str, Any] = {"nip": None, "role": "PELAPOR", "on_behalf_of": None, "system": False}


@dataclass
class StartComplaintInput:
    """One public report. The reporter's name and contact travel encrypted by the payload codec and are stored
    encrypted with every event; only complaint managers' API reads them back (never a view or a search attribute)."""

    case_id: str
    kind: str
    unit: str
    description: str
    anonymous: bool
    confidential: bool
    fingerprint: str
    regulation: str
    identity_sealed: str | None = None  # legacy: sealed in the API before the store encrypted every event
    asn_nip: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    channel: str = "web"
    reporter_name: str | None = None
    reporter_contact: str | None = None


@dataclass
class ReporterResponseInput:
    """The reporter's reply through the tracking code (a supplement when postponed)."""

    message: str
    satisfied: bool = False


@dataclass
class ComplaintActionResult:
    event_type: str
    position: int
    stage: str
