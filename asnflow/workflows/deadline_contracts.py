"""Messages of reminders, escalation, delegations and schedules (stdlib only, like contracts.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asnflow.workflows.contracts import Actor, ClaimInput, DecisionInput, RecordInput, RecordResult


@dataclass
class Delegation:
    """An acting official's authority as the API found it in the delegations view."""

    delegation_id: str
    type: str  # PLT | PLH | SUBSTITUTE
    principal_nip: str
    acting_nip: str
    starts_at: str  # ISO datetimes; the period is [starts_at, ends_at)
    ends_at: str
    principal_roles: list[str] = field(default_factory=list)
    principal_unit: str | None = None
    processes: list[str] = field(default_factory=list)  # empty: every process
    kinds: list[str] = field(default_factory=list)  # empty: every task kind


@dataclass
class ActingClaimInput(ClaimInput):
    """A claim, by an acting official when `delegation` is given (actor.on_behalf_of = its principal)."""

    delegation: Delegation | None = None


@dataclass
class ActingDecisionInput(DecisionInput):
    """A decision, by an acting official when `delegation` is given (actor.on_behalf_of = its principal)."""

    delegation: Delegation | None = None


@dataclass
class TaskDeadlinesInput:
    start: str  # ISO datetime (workflow time)
    working_days: int
    kind: str
    with_plan: bool = True


@dataclass
class PlannedStepData:
    step: str
    action: str  # remind | escalate
    at: str  # ISO datetime
    level: int = 0
    target: str = ""
    mode: str = ""


@dataclass
class TaskDeadlines:
    due_at: str
    policy_version: str
    steps: list[PlannedStepData] = field(default_factory=list)


@dataclass
class OpenTaskInput:
    """A step's events ending with its TaskOpened, whose `due_at` and `deadlines` the activity fills from `plan`."""

    record: RecordInput
    plan: TaskDeadlinesInput


@dataclass
class OpenTaskResult:
    recorded: RecordResult
    deadlines: TaskDeadlines


@dataclass
class TaskRef:
    """What a notification needs to know about a task."""

    task_id: str
    case_id: str
    process: str
    kind: str
    title: str
    due_at: str
    assignee_nip: str | None
    candidate_role: str | None
    unit: str | None
    subject_nip: str | None


@dataclass
class PrepareNoticeInput:
    """Resolve who hears of a reminder or escalation and render their mail."""

    key: str
    action: str  # remind | escalate
    task: TaskRef
    step: str
    scheduled_for: str
    level: int = 0
    target: str = ""
    mode: str = ""


@dataclass
class Recipient:
    nip: str
    nama: str
    email: str | None
    reason: str  # assignee | acting | pool | escalated_to | previous_assignee | supervisor
    on_behalf_of: str | None = None
    subject_id: str = ""
    subject_en: str = ""


@dataclass
class MailMessage:
    key: str  # notification key + recipient: one outbox row, sent at most once
    case_id: str
    task_id: str | None
    recipient_nip: str
    to: str
    subject: str
    text: str
    html: str


@dataclass
class PreparedNotice:
    key: str
    recipients: list[Recipient]
    messages: list[MailMessage]
    target_nip: str | None = None
    target_name: str | None = None
    supervision_due_at: str | None = None


@dataclass
class DeliverInput:
    messages: list[MailMessage]


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)  # keys sent now
    already_sent: list[str] = field(default_factory=list)  # keys a previous attempt had sent
    disabled: list[str] = field(default_factory=list)  # keys not mailed: SMTP not configured


@dataclass
class GrantDelegationInput:
    """Start of a delegation's lifecycle (workflow id = case id = delegation id)."""

    delegation_id: str
    delegation: Delegation
    granted_by: Actor
    legal_basis: str = ""
    reason: str = ""


@dataclass
class RevokeDelegationInput:
    actor: Actor
    reason: str


@dataclass
class DelegationResult:
    delegation_id: str
    status: str  # expired | revoked
    position: int = 0


@dataclass
class DigestInput:
    day: str | None = None  # ISO date; default: today in Jakarta (workflow time)
    at: str | None = None  # ISO datetime "late" is measured against; default: workflow time


@dataclass
class DigestResult:
    day: str
    working_day: bool
    recipients: int = 0
    sent: int = 0


JOB_DIGEST = "digest"
JOB_NOTICE = "notice"
JOB_EVALUATION_SEASON = "evaluation-season"


@dataclass
class ScheduledJobInput:
    """What a schedule asks for; dates default to today in Jakarta (workflow time)."""

    job: str  # digest | notice | evaluation-season
    notice: str | None = None  # a key of asnflow.domain.deadlines.NOTICES (job "notice")
    day: str | None = None  # ISO date
    year: int | None = None  # evaluation season year


@dataclass
class ScheduledJobResult:
    job: str
    status: str
    case_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class NoticeCaseInput:
    case_id: str
    notice: str
    period: str


@dataclass
class PrepareAnnouncementInput:
    key: str
    case_id: str
    notice: str
    period: str


@dataclass
class PreparedAnnouncement:
    key: str
    subject_id: str
    subject_en: str
    recipients: list[str]


@dataclass
class DeliverAnnouncementInput:
    """Render and send an announcement to its recipients (rendered in the activity: hundreds of mails)."""

    key: str
    case_id: str
    notice: str
    period: str
    recipients: list[str]


@dataclass
class NoticeResult:
    case_id: str
    status: str  # announced | already_announced
    recipients: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
