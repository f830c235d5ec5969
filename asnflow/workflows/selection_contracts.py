"""Inputs, outputs and messages of the selection workflows (stdlib only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asnflow.workflows.contracts import Actor

STAGE_ADMIN = "ADMINISTRASI"
STAGE_FINAL = "AKHIR"
# Applicant cases are started this many at a time; the round continues as new after this many starts.
CHILD_BATCH = 200
CHILDREN_PER_RUN = 2000


def selection_case_id(year: int, slug: str) -> str:
    """One case per formation set (e.g. `selection-2024-cpns`)."""
    return f"selection-{year}-{slug}"


def application_case_id(selection_case: str, reg_no: str) -> str:
    """The child case of one applicant."""
    return f"{selection_case}--{reg_no}"


@dataclass
class SelectionSchedule:
    """Windows in days (defaults from the rules); tests and rehearsals shorten them."""

    registration_days: float | None = None
    objection_days: float | None = None
    drh_days: float | None = None


@dataclass
class SelectionState:
    """Everything a continued run needs (no per-applicant data: that lives in the store)."""

    phase: str = "registration"
    version: int = 0
    last_hash: str = ""
    task_seq: int = 0
    registered: int = 0
    children_started: int = 0
    admin_round: int = 0
    final_round: int = 0
    window_closes: str | None = None  # ISO moment the current objection window closes
    reannounce_by: str | None = None  # ISO deadline of the re-announcement after the last closed window
    objected: dict[str, list[str]] = field(default_factory=dict)  # stage -> reg_nos that objected (one each)
    open_objections: int = 0
    accepted: dict[str, list[str]] = field(default_factory=dict)  # stage -> reg_nos whose objection was accepted
    appointees: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class StartSelectionInput:
    case_id: str
    year: int
    kind: str  # CPNS | PPPK
    title: str
    formations: list[dict[str, Any]]
    started_by: Actor
    rules_version: str = ""
    schedule: SelectionSchedule = field(default_factory=SelectionSchedule)
    state: SelectionState | None = None


@dataclass
class StartApplicationInput:
    case_id: str
    selection_case_id: str
    reg_no: str
    formation: str
    track: str
    verification_days: int
    verifier_unit: str


@dataclass
class FileInput:
    """A staged upload (content-addressed) the round should take in."""

    actor: Actor
    file_sha256: str
    stage: str = ""  # REGISTRATION | SKD | SKB | PPPK


@dataclass
class ObjectionInput:
    reg_no: str
    stage: str
    reason: str


@dataclass
class OverrideInput:
    actor: Actor
    reg_no: str
    field: str
    value: str
    justification: str


@dataclass
class AnnounceInput:
    actor: Actor


@dataclass
class SelectionActionResult:
    case_id: str
    event_type: str
    position: int
    summary: dict[str, Any] = field(default_factory=dict)


# --- activities ----------------------------------------------------------------------------------
@dataclass
class BuildInput:
    """An append whose payload an activity builds from the store and staged files (never through Temporal history).

    The same version counter and hash link as CaseWorkflow.record: a retried append finds its identical events.
    """

    case_id: str
    process: str
    expected_version: int
    previous_hash: str
    workflow_id: str
    run_id: str
    occurred_at: str
    actor: dict[str, Any]
    step: str  # REGISTER | IMPORT | CUT_OFF | RANK | ADMIN_RESULT | FINAL_RESULT | OVERRIDE
    file_sha256: str = ""
    stage: str = ""
    round: int = 0
    reason: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class BuildResult:
    version: int
    last_hash: str
    positions: list[int]
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class PageInput:
    case_id: str
    version: int  # read the round's events up to here
    offset: int
    limit: int


@dataclass
class ApplicantRef:
    reg_no: str
    formation: str
    track: str
