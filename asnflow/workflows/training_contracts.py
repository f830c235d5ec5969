"""Inputs, outputs and messages of the training workflows and activities (stdlib only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asnflow.workflows.contracts import Actor


def cycle_case_id(year: int) -> str:
    """One competency-development cycle (plan, budget, reminders, report) per year."""
    return f"training-{year}"


def enrolment_case_id(year: int, nip: str, course: str) -> str:
    """One enrolment per employee, course and year: a repeated proposal is the same case."""
    return f"training-{year}-{nip}-{course}"


def latsar_case_id(nip: str) -> str:
    """One Latsar case per CPNS."""
    return f"training-latsar-{nip}"


@dataclass
class TrainingSchedule:
    reminders: list[str]  # ISO moments of the Q4 reminders
    report_at: str  # ISO moment of the year-end compliance report
    done: list[str] = field(default_factory=list)  # reminders already sent (or folded into a later one)


@dataclass
class CycleState:
    """Everything a cycle carries across continue-as-new."""

    schedule: TrainingSchedule
    phase: str = "drafting"  # drafting | running | reporting | closed
    version: int = 0
    last_hash: str = ""
    task_seq: int = 0
    plan: dict[str, Any] = field(default_factory=dict)
    plan_version: int = 0
    ledger: dict[str, dict[str, Any]] = field(default_factory=dict)  # enrolment id -> {unit, course, nip, amount, status}


@dataclass
class StartCycleInput:
    case_id: str
    year: int
    started_by: Actor
    rules_version: str = ""
    assessments: dict[str, dict[str, int]] = field(default_factory=dict)
    schedule: TrainingSchedule | None = None
    max_ops_per_run: int = 2000  # budget operations before continuing as new (history stays small)
    state: CycleState | None = None


@dataclass
class HoldBudgetInput:
    enrolment_id: str
    nip: str
    unit: str
    course: str
    actor: Actor


@dataclass
class HoldBudgetResult:
    enrolment_id: str
    amount: int
    remaining: int
    plan_version: int
    report_at: str
    position: int


@dataclass
class BudgetSignal:
    enrolment_id: str
    actor: Actor
    reason: str = ""


@dataclass
class AmendPlanInput:
    actor: Actor
    plan: dict[str, Any]
    reason: str


@dataclass
class RescheduleInput:
    actor: Actor
    reminders: list[str]
    report_at: str
    reason: str


@dataclass
class TrainingActionResult:
    case_id: str
    event_type: str
    position: int


@dataclass
class StartEnrolmentInput:
    case_id: str
    year: int
    nip: str
    course: str
    proposed_by: Actor
    motivation: str = ""
    plan_version: int = 0
    amount: int = 0
    evidence_deadline: str = ""  # ISO: the cycle's report moment
    rules_version: str = ""


@dataclass
class EvidenceInput:
    actor: Actor
    file_sha256: str
    hours: int
    completed_on: str
    certificate_no: str = ""
    file_name: str = ""
    file_size: int = 0  # as the document store measured it
    media_type: str = ""  # as the document store recognised it by content

    def data(self) -> dict[str, Any]:
        return {
            "file_sha256": self.file_sha256, "hours": self.hours, "completed_on": self.completed_on,
            "certificate_no": self.certificate_no, "file_name": self.file_name,
            "file_size": self.file_size, "media_type": self.media_type,
        }


@dataclass
class StartLatsarInput:
    case_id: str
    nip: str
    nama: str
    unit: str
    tmt_cpns: str  # ISO date: the 1st of a month (encoded in the NIP)
    handed_off_by: Actor
    selection_case_id: str = ""
    formation: str = ""
    rules_version: str = ""


# --- activities ---------------------------------------------------------------------------------
@dataclass
class NeedsAnalysisInput:
    year: int
    rules_version: str = ""
    assessments: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class NeedsAnalysisResult:
    units: list[dict[str, Any]]  # [{unit, summary, employees}]
    predicate_years: list[int]


@dataclass
class JpTallyInput:
    year: int
    min_jp: int


@dataclass
class JpShortfalls:
    employees: list[dict[str, Any]]  # [{nip, unit, jp}]
    heads: list[dict[str, Any]]  # [{nip, unit, below}]


@dataclass
class ComplianceFigures:
    units: list[dict[str, Any]]
    overall: dict[str, Any]
    courses: list[dict[str, Any]]


@dataclass
class FindEvidenceInput:
    file_sha256: str
    exclude_case_id: str


@dataclass
class UnitHeadInput:
    unit: str


@dataclass
class JpReminderMailInput:
    """One Q4 reminder moment's mail: each employee below the yearly JP and each OPD head with their count."""

    key: str  # the moment's key; each mail's outbox key adds the recipient
    year: int
    min_jp: int
    scheduled_for: str
    employees: list[dict[str, Any]]  # {nip, unit, jp}
    heads: list[dict[str, Any]]  # {nip, unit, below}


@dataclass
class MailSummary:
    """Counts only: a year's reminder may reach thousands, and the keys stay in the outbox."""

    sent: int = 0
    already_sent: int = 0
    disabled: int = 0
