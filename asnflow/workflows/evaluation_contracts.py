"""Inputs, outputs and messages of the evaluation process: the case, the unit calibration and the season (stdlib only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asnflow.domain.rules import EvaluationPolicy
from asnflow.workflows.contracts import Actor

PROCESS = "evaluation"
CALIBRATION_PROCESS = "evaluation_calibration"
SEASON_PROCESS = "evaluation_season"
# Signals a unit's calibration sends its cases (EvaluationWorkflow's handlers), by name: the calibration's
# module does not import the case's, which the sandbox would otherwise execute for every calibration run.
CALIBRATED_SIGNAL = "calibrated"
CALIBRATION_CLOSED_SIGNAL = "calibration_closed"
UNIT_RESULT_SIGNAL = "unit_result"


def evaluation_case_id(nip: str, year: int) -> str:
    """One evaluation per employee per year: the natural key is the case (and workflow) id."""
    return f"evaluation-{year}-{nip}"


def calibration_case_id(unit: str, year: int, round_no: int = 1) -> str:
    """One calibration per unit and year; a unit whose calibration closed before a late case joins gets round 2, 3…"""
    base = f"calibration-{year}-{unit}"
    return base if round_no == 1 else f"{base}-r{round_no}"


def season_case_id(year: int, stamp: str) -> str:
    """Each run of the season kick-off is its own (administrative) case."""
    return f"evaluation-season-{year}-{stamp}"


@dataclass
class EvaluationInput:
    """Starts one evaluation; compatible with contracts.StartEvaluationInput (the policy is optional)."""

    case_id: str
    nip: str
    year: int
    started_by: Actor
    policy: EvaluationPolicy | None = None


@dataclass
class EvidenceInput:
    actor: Actor
    filename: str
    sha256: str
    size_bytes: int | None = None
    note: str = ""


@dataclass
class TransferInput:
    """A transfer (mutasi) effective on a date: closes the SKP period and opens one for the new post."""

    actor: Actor
    effective_date: str  # ISO date
    reason: str = ""
    decree: str = ""  # e.g. the SK number
    # The new post; what is left empty is read from the directory.
    unit: str | None = None
    jabatan: str | None = None
    jenis_jabatan: str | None = None
    appraiser_nip: str | None = None


@dataclass
class CaseActionResult:
    case_id: str
    event_type: str
    position: int


@dataclass
class MemberRating:
    """An evaluation case that needs calibrating, with its raw predicate."""

    case_id: str
    nip: str
    raw: str


@dataclass
class CalibratedPredicate:
    calibration_case_id: str
    predicate: str
    raw: str
    adjusted: bool
    justification: str = ""
    org_predicate: str = ""


@dataclass
class CalibrationInput:
    case_id: str
    unit: str
    year: int
    round_no: int = 1
    policy: EvaluationPolicy | None = None


@dataclass
class JoinCalibrationInput:
    case_id: str
    nip: str
    unit: str
    year: int
    raw: str
    policy: EvaluationPolicy | None = None
    as_head: bool = False  # the unit head waits for the unit's predicate instead of joining as a member
    closed: list[str] = field(default_factory=list)  # rounds that answered "closed" to this case: join a later one


@dataclass
class UnitResult:
    """The unit's organisation predicate, told to the unit head's evaluation case."""

    calibration_case_id: str
    org_predicate: str


@dataclass
class UnitContextInput:
    unit: str
    year: int
    calibration_case_id: str | None = None
    exclude_nip: str | None = None  # the unit head, whose own result is not calibrated by the unit


@dataclass
class UnitContext:
    unit: str
    head_nip: str | None
    leader_nip: str | None  # the leader one level up (the head's superior); None: the Bupati
    org_predicate: str | None  # set in an earlier round of the same unit and year
    final_predicates: list[str] = field(default_factory=list)  # finals of earlier rounds (count towards the quota)


@dataclass
class SkpContextInput:
    superior_nip: str | None
    year: int


@dataclass
class WorkingDaysInput:
    start: str  # ISO datetime
    end: str  # ISO datetime


@dataclass
class SeasonInput:
    case_id: str
    year: int
    started_by: Actor
    policy_overrides: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 100


@dataclass
class SeasonEmployeesInput:
    year: int
    tenant_prefix: str | None = None  # the season's tenant (None: the default); absent in older histories


@dataclass
class StartCasesInput:
    nips: list[str]
    year: int
    started_by: Actor
    policy_overrides: dict[str, Any] = field(default_factory=dict)
    tenant_prefix: str | None = None  # cases start in the season's tenant


@dataclass
class StartCasesResult:
    started: int
    existing: int
    failed: list[str] = field(default_factory=list)
