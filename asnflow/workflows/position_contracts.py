"""Inputs, outputs and messages of position promotion (Tim Penilai Kinerja) and the JPT open selection (stdlib only)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from asnflow.workflows.contracts import Actor

# Task kinds, in the order the cases meet them.
TPK_DECLARATION = "POSITION_TPK_DECLARATION"
TPK_RECOMMENDATION = "POSITION_TPK_RECOMMENDATION"
PPK_DECISION = "POSITION_PPK_DECISION"
POSITION_DECREE = "POSITION_DECREE"
INAUGURATION = "POSITION_INAUGURATION"
POSITION_MENDAGRI = "POSITION_MENDAGRI_APPROVAL"
PANSEL_FORMATION = "JPT_PANSEL_FORMATION"
PANSEL_DECLARATION = "JPT_PANSEL_DECLARATION"
ANNOUNCEMENT = "JPT_ANNOUNCEMENT"
ADMIN_CHECK = "JPT_ADMIN_CHECK"
ASSESSMENT = "JPT_ASSESSMENT"
PPK_PICK = "JPT_PPK_PICK"
NATIONAL_RECOMMENDATION = "JPT_NATIONAL_RECOMMENDATION"


def position_case_id(unit: str, jabatan: str, started_on: str) -> str:
    """One vacancy per post and day: 'position-20261128-DISKOMINFO-1a2b3c4d' (the post's name hashed, not spelled)."""
    digest = hashlib.sha256(f"{unit}|{jabatan.strip().lower()}".encode()).hexdigest()[:8]
    return f"position-{started_on.replace('-', '')[:8]}-{unit}-{digest}"


def selection_case_id(unit: str, started_on: str) -> str:
    """One open selection per unit head per day: 'jpt-20261128-DPUTR' (a failed selection may be reopened the next day)."""
    return f"jpt-{started_on.replace('-', '')[:8]}-{unit}"


@dataclass
class StartPositionInput:
    case_id: str
    jabatan: str
    jenis_jabatan: str  # ADMINISTRATOR | PENGAWAS
    unit: str
    panel: list[str]  # Tim Penilai Kinerja members' NIPs; the first chairs (usually the Sekda)
    proposed_by: Actor
    atasan_nip: str | None = None
    candidate_nips: list[str] | None = None  # limit the pool (e.g. one unit's staff); None: the whole directory
    note: str = ""


@dataclass
class PoolInput:
    jenis_jabatan: str
    on: str  # ISO date the requirements are checked on
    candidate_nips: list[str] | None = None
    members: list[str] = field(default_factory=list)


@dataclass
class PoolResult:
    candidates: list[dict[str, Any]]  # the talent pool, best first
    excluded: dict[str, int]  # how many were left out, per failed rule
    relatives: dict[str, dict[str, str]]  # NIP -> {relative NIP: relation}, for members and candidates
    names: dict[str, str]  # member NIP -> name (unknown members are absent)
    freezes: list[dict[str, Any]] = field(default_factory=list)  # configured election freezes (promotion.json)


@dataclass
class PanselMember:
    nama: str
    unsur: str  # INTERNAL | EKSTERNAL
    peran: str  # KETUA | SEKRETARIS | ANGGOTA
    nip: str | None = None  # internal members sign in; external members have none
    instansi: str = ""


@dataclass
class StartSelectionInput:
    case_id: str
    jabatan: str
    unit: str
    pansel: list[PanselMember]
    proposed_by: Actor
    atasan_nip: str | None = None
    registration_days: int | None = None  # None: the rule's default
    note: str = ""


@dataclass
class KinInput:
    nips: list[str]


@dataclass
class KinResult:
    relatives: dict[str, dict[str, str]]
    freezes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RegisterInput:
    """An applicant's registration; the API read the facts from the views, the workflow judges them."""

    actor: Actor
    nip: str
    nama: str
    jabatan: str
    unit: str
    facts: dict[str, Any]  # rules.Facts.to_dict() form


@dataclass
class RegisterResult:
    nip: str
    position: int
    applicants: int
