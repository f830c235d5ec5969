"""Inputs, outputs and messages of the promotion and rotation processes (stdlib only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asnflow.workflows.contracts import Actor

PROMOTION_PROCESS = "promotion"

# Task kinds of the chain, in order.
VERIFICATION = "PROMOTION_VERIFICATION"
REVISION = "PROMOTION_REVISION"
BKN_PERTEK = "PROMOTION_BKN_PERTEK"
DECREE = "PROMOTION_DECREE"
ROTATION_ADVICE = "ROTATION_ADVICE"
ROTATION_MENDAGRI = "ROTATION_MENDAGRI_APPROVAL"
ROTATION_DECREE = "ROTATION_DECREE"


def promotion_case_id(nip: str, period: str) -> str:
    """One rank proposal per employee per period: 'promotion-2026-12-<NIP>'."""
    return f"promotion-{period[:7]}-{nip}"


def rotation_case_id(nip: str, started_on: str) -> str:
    """One transfer proposal per employee per day: 'rotation-20261128-<NIP>'."""
    return f"rotation-{started_on.replace('-', '')[:8]}-{nip}"


@dataclass
class StartPromotionInput:
    case_id: str
    nip: str
    kind: str
    period: str  # ISO date of the period (the new rank's TMT)
    proposed_by: Actor
    declared: dict[str, Any] = field(default_factory=dict)  # predicates {year: predicate}, angka_kredit, ijazah_baru
    note: str = ""
    batch_id: str | None = None


@dataclass
class FactsInput:
    nip: str


@dataclass
class PromotionFacts:
    """The employee's record for eligibility (Facts.to_dict form) and the configuration in force."""

    facts: dict[str, Any]
    unit: str
    nama: str
    config: dict[str, Any] = field(default_factory=dict)  # period_overrides, freezes


@dataclass
class DecreeDocumentInput:
    case_id: str
    kind: str  # RANK | ROTATION
    fields: dict[str, Any]


@dataclass
class DocumentRef:
    name: str
    path: str  # relative to the data folder
    sha256: str
    size: int
    media_type: str = "application/pdf"


@dataclass
class DirectoryChangeInput:
    """Change an employee's directory entry because of a decree (exactly once per case)."""

    source_case: str
    nip: str
    changes: dict[str, Any]
    actor: dict[str, Any]
    reason: str
    occurred_at: str
    workflow_id: str
    run_id: str
    decree: dict[str, Any] = field(default_factory=dict)


@dataclass
class DirectoryChangeResult:
    directory_case: str
    position: int
    version: int


@dataclass
class BatchInput:
    case_id: str
    period: str
    started_by: Actor
    unit: str | None = None
    nips: list[str] | None = None
    declared: dict[str, dict[str, Any]] = field(default_factory=dict)  # per NIP


@dataclass
class EligibilityListInput:
    period: str
    unit: str | None = None
    nips: list[str] | None = None
    declared: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class EligibilityList:
    period: str
    entries: list[dict[str, Any]]  # {nip, nama, unit, kind, eligible, golongan_lama, golongan_baru, eligible_from, failures, facts}
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class StartRotationInput:
    case_id: str
    nip: str
    jabatan_baru: str
    jenis_jabatan_baru: str
    unit_baru: str
    proposed_by: Actor
    atasan_nip_baru: str | None = None
    note: str = ""
