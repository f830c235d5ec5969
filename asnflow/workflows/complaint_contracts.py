"""Inputs and results of the complaint workflow (stdlib only: the API imports them too)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The reporter acts without an account: events name the role, never a person.
REPORTER_ACTOR: dict[str, Any] = {"nip": None, "role": "PELAPOR", "on_behalf_of": None, "system": False}


@dataclass
class StartComplaintInput:
    """One public report; the reporter's identity arrives sealed (only complaint managers can open it)."""

    case_id: str
    kind: str
    unit: str
    description: str
    anonymous: bool
    confidential: bool
    fingerprint: str
    regulation: str
    identity_sealed: str | None = None
    asn_nip: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    channel: str = "web"


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
