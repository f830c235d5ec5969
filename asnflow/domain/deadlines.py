"""Deadlines that act: reminder offsets, escalation chains, delegations and schedules (versioned configuration) and their events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from asnflow.domain.calendar import BusinessCalendar
from asnflow.domain.events import CaseEvent

# --- reminders and escalation ------------------------------------------------------------------
# Values are the regency's service standard, not law: adjust them by adding a new version, so a
# task keeps the plan it was opened with (its TaskOpened event names the version).
DEADLINES_VERSION = "batanghari-deadlines-2026.2"

SUPERIOR = "SUPERIOR"  # the current assignee's direct superior in the directory (a pool task: the unit's head)
REASSIGN = "reassign"  # the task moves to the target
SUPERVISE = "supervise"  # the task stays; the target gets a supervising task and is told
SUPERVISION_KIND = "SUPERVISION"


@dataclass(frozen=True)
class EscalationStep:
    """One level of a chain: who takes over (or supervises) and when."""

    target: str  # SUPERIOR or "ROLE:<role>" (that role in the task's unit)
    mode: str  # REASSIGN | SUPERVISE
    after_working_days: int  # after the due day (first level) or after the previous level


@dataclass(frozen=True)
class DeadlinePolicy:
    """Reminders before/on the due day and the escalation chain after it."""

    remind_before: tuple[int, ...]  # working days before the due day; 0 = on the due day
    escalation: tuple[EscalationStep, ...] = ()
    hour: int = 8  # reminders and escalations go out at 08:00 Jakarta time on working days
    supervision_working_days: int = 2  # due period of a supervising task


# Opt-in per task kind: a kind without a policy has no reminders (e.g. complaints race their own
# service levels). Approvers who let a task lapse lose it to their superior, then to the next level;
# the employee's own steps cannot be taken over, so their superior is told and supervises.
_APPROVAL = DeadlinePolicy(
    remind_before=(2, 0), escalation=(EscalationStep(SUPERIOR, REASSIGN, 1), EscalationStep(SUPERIOR, REASSIGN, 3))
)
_OWN_STEP = DeadlinePolicy(remind_before=(2, 0), escalation=(EscalationStep(SUPERIOR, SUPERVISE, 1),))
DEADLINE_POLICIES: dict[str, dict[str, DeadlinePolicy]] = {
    "batanghari-deadlines-2026.1": {
        "SKP_DRAFT": DeadlinePolicy(remind_before=(3, 1, 0), escalation=(EscalationStep(SUPERIOR, SUPERVISE, 1),)),
        "SKP_AGREEMENT": _APPROVAL,
        "RATING": _APPROVAL,
        "ACKNOWLEDGEMENT": _OWN_STEP,
        # The periodic check-in reminders: each period's CHECK_IN task reminds the appraiser.
        "CHECK_IN": DeadlinePolicy(remind_before=(2, 0)),
    },
}
# 2026.2: the calibration and objection steps act on their deadlines too. A leader who does not
# set the organisation predicate, or a unit head who does not calibrate, holds up every result of
# the unit, so the task passes up the line like any approval; an objection is decided by the
# appraiser's superior, and its answer and decision are approvals of the same kind.
DEADLINE_POLICIES["batanghari-deadlines-2026.2"] = {
    **DEADLINE_POLICIES["batanghari-deadlines-2026.1"],
    "ORG_PREDICATE": _APPROVAL,
    "CALIBRATION": _APPROVAL,
    "OBJECTION_RESPONSE": _APPROVAL,
    "OBJECTION_DECISION": _APPROVAL,
}


def policy_for(kind: str, version: str = DEADLINES_VERSION) -> DeadlinePolicy | None:
    """The policy of a task kind under a configuration version, or None when the kind has none."""
    return DEADLINE_POLICIES[version].get(kind)


@dataclass(frozen=True)
class PlannedStep:
    """A moment at which an open task reminds or escalates; `step` is part of the notification key."""

    step: str  # "R2" (2 working days before), "R0" (the due day), "E1", "E2"…
    action: str  # "remind" | "escalate"
    at: datetime
    level: int = 0
    target: str = ""
    mode: str = ""


def plan(calendar: BusinessCalendar, policy: DeadlinePolicy, opened_at: datetime, due_at: datetime) -> list[PlannedStep]:
    """The reminder and escalation moments of a task; moments before it opened are dropped."""
    due_day = calendar.local_date(due_at)
    steps: list[PlannedStep] = []
    for n in sorted(set(policy.remind_before), reverse=True):
        at = calendar.at_hour(calendar.subtract_working_days(due_day, n), policy.hour)
        if at > opened_at:
            steps.append(PlannedStep(step=f"R{n}", action="remind", at=at))
    day = due_day
    for level, esc in enumerate(policy.escalation, start=1):
        day = calendar.local_date(calendar.add_working_days(datetime.combine(day, time(12), calendar.tz), esc.after_working_days))
        steps.append(PlannedStep(step=f"E{level}", action="escalate", at=calendar.at_hour(day, policy.hour), level=level, target=esc.target, mode=esc.mode))
    return sorted(steps, key=lambda s: s.at)


def notification_key(task_id: str, kind: str, step: str) -> str:
    """Idempotency key of one notification: task, kind and due step (a recipient suffix makes one mail's key)."""
    return f"{task_id}:{kind}:{step}"


# --- acting officials (Plt/Plh) and out-of-office substitutes ---------------------------------
# UNCONFIRMED periods: BKN circulars set Plt/Plh terms of up to three months (extendable);
# the regency's own limit for out-of-office substitutes is an assumption.
DELEGATION_TYPES: dict[str, dict[str, Any]] = {
    "PLT": {"id": "Pelaksana Tugas (Plt)", "en": "acting official for a vacant position", "max_days": 93, "by_decree": True},
    "PLH": {"id": "Pelaksana Harian (Plh)", "en": "acting official while the holder is away", "max_days": 93, "by_decree": True},
    "SUBSTITUTE": {"id": "Pengganti selama tidak di kantor", "en": "out-of-office substitute", "max_days": 31, "by_decree": False},
}
# Who may grant a position's authority besides its holder (the holder only for substitutes).
DELEGATION_GRANTORS = ("BKPSDM", "ADMIN")


def scope_covers(processes: list[str], kinds: list[str], process: str, kind: str) -> bool:
    """An empty list means every process (or kind)."""
    return (not processes or process in processes) and (not kinds or kind in kinds)


def period_contains(starts_at: str, ends_at: str, moment: datetime) -> bool:
    """Half-open [starts_at, ends_at)."""
    return datetime.fromisoformat(starts_at) <= moment < datetime.fromisoformat(ends_at)


# --- schedules (Temporal Schedules, applied by `asnflow schedules apply`) -----------------------
SCHEDULES_VERSION = "batanghari-schedules-2026.1"
SCHEDULE_TIME_ZONE = "Asia/Jakarta"


@dataclass(frozen=True)
class ScheduleDef:
    """A recurring scheduled job (ScheduledJobWorkflow)."""

    id: str
    cron: str  # in SCHEDULE_TIME_ZONE
    job: str  # digest | notice | evaluation-season
    notice: str | None = None
    note_id: str = ""
    note_en: str = ""


# Check-in reminders are the CHECK_IN tasks' own reminders (above) and the Q4 training-hours reminders
# are timers of each year's training cycle (asnflow.workflows.training): a schedule here would mail twice.
SCHEDULES: tuple[ScheduleDef, ...] = (
    ScheduleDef("asnflow-daily-digest", "0 7 * * *", "digest", None,
                "Ringkasan harian tugas yang menunggu dan terlambat", "daily digest of waiting and late tasks"),
    # The SKP year starts in January: every employee gets this year's evaluation case.
    ScheduleDef("asnflow-evaluation-season", "0 8 2 1 *", "evaluation-season", None,
                "Pembukaan musim evaluasi kinerja (Januari)", "evaluation season kick-off (January)"),
    ScheduleDef("asnflow-promotion-period", "0 8 1 * *", "notice", "PROMOTION_PERIOD",
                "Periode usulan kenaikan pangkat bulanan", "monthly promotion proposal period"),
)


@dataclass(frozen=True)
class Notice:
    """A periodic announcement: who hears it and what it says (both languages)."""

    roles: tuple[str, ...]
    subject_id: str
    subject_en: str
    body_id: str
    body_en: str
    period: str = "month"  # "month" | "quarter" | "year": one announcement per period


NOTICES: dict[str, Notice] = {
    "PROMOTION_PERIOD": Notice(
        ("BKPSDM", "KEPALA_OPD"), "Periode usulan kenaikan pangkat", "Promotion proposal period",
        "Periode usulan kenaikan pangkat bulan ini dibuka. Ajukan usulan sebelum batas waktu BKPSDMD.",
        "This month's promotion proposal period is open. Submit proposals before the BKPSDMD deadline.",
    ),
}


def period_key(notice: Notice, day: date) -> str:
    """The period an announcement belongs to, e.g. 2026-11, 2026Q4, 2026."""
    if notice.period == "quarter":
        return f"{day.year}Q{(day.month - 1) // 3 + 1}"
    if notice.period == "year":
        return str(day.year)
    return f"{day.year}-{day.month:02d}"


# --- events -------------------------------------------------------------------------------------
class TaskReminded(CaseEvent):
    """payload: task_id, kind, step, key, scheduled_for, due_at, recipients [{nip, nama, email, reason, on_behalf_of, subject_id, subject_en}]."""


class TaskEscalated(CaseEvent):
    """payload: task_id, kind, level, step, key, mode, target_rule, from_nip, to_nip, supervision_task_id, scheduled_for, recipients."""


class NotificationFailed(CaseEvent):
    """payload: key, task_id, error, recipients: mail that could not be delivered after every retry."""


class DelegationGranted(CaseEvent):
    """payload: delegation_id, type, principal_nip, principal_roles, principal_unit, acting_nip, processes, kinds, starts_at, ends_at, legal_basis, status."""


class DelegationStarted(CaseEvent):
    """payload: delegation_id (a delegation granted ahead of its period became active)."""


class DelegationEnded(CaseEvent):
    """payload: delegation_id, status (expired|revoked)."""


class NoticeAnnounced(CaseEvent):
    """payload: notice, period, key, subject_id, subject_en, recipients [nip]."""
