"""Versioned process configuration: task due periods in working days, the evaluation year's calendar and policy."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

# Keys: regulation id -> task kind -> working days. Values are configuration, not law:
# PermenPANRB 6/2022 sets "SKP by end of January" and a 14-day objection window; the
# per-step periods below are the regency's own service standard (unconfirmed, adjustable).
EVALUATION_REGULATION = "PermenPANRB-6/2022"

TASK_DUE_WORKING_DAYS: dict[str, dict[str, int]] = {
    "PermenPANRB-6/2022": {
        "SKP_DRAFT": 10,
        "SKP_AGREEMENT": 5,
        "CHECK_IN": 10,
        "RATING": 10,
        "ORG_PREDICATE": 10,
        "CALIBRATION": 10,
        "ACKNOWLEDGEMENT": 10,  # the objection window itself is 14 calendar days, see EvaluationPolicy
        "OBJECTION_RESPONSE": 5,
        "OBJECTION_DECISION": 10,
    },
}


def due_working_days(regulation: str, kind: str) -> int:
    """Working days allowed for a task kind under a regulation version."""
    return TASK_DUE_WORKING_DAYS[regulation][kind]


# Western Indonesia Time has had no DST since 1964; a fixed offset keeps workflow code free of tz data.
WIB = timezone(timedelta(hours=7), "WIB")

CHECKIN_PERIODS: dict[str, int] = {"MONTHLY": 1, "QUARTERLY": 3, "SEMESTER": 6}
CHECKIN_LABEL_PREFIX = {"MONTHLY": "B", "QUARTERLY": "TW", "SEMESTER": "S"}


@dataclass(frozen=True)
class EvaluationPolicy:
    """The evaluation year's configurable rules, resolved for one unit when a case starts."""

    regulation: str = EVALUATION_REGULATION
    # "by the end of January" (PermenPANRB 6/2022); MM-DD of the performance year.
    skp_deadline: str = "01-31"
    # Predecessor rule (PermenPANRB 8/2021): when nobody has drafted the SKP by the deadline, the
    # appraiser as performance manager drafts it. Whether 6/2022 keeps it is unconfirmed: opt-in.
    predecessor_fallback: bool = False
    checkin_period: str = "SEMESTER"  # MONTHLY | QUARTERLY | SEMESTER (unconfirmed options, §3)
    objection_days: int = 14  # calendar days from receiving the result (PP 30/2019 art. 59)
    quota_rules: str = "SE-MenPANRB-3/2023"
    credit_rules: str = "PerBKN-3/2023"
    coefficient_rules: str = "PermenPANRB-1/2023"
    # UNIT_RESULT: a unit head's work results are the unit's organisation predicate (SE MenPANRB
    # 3/2023, step 3); APPRAISER: the appraiser rates them like anyone else's.
    head_work_results: str = "UNIT_RESULT"


def policy_for(unit: str | None, overrides: dict[str, Any] | None = None) -> EvaluationPolicy:
    """The policy of a unit from the settings' overrides: top-level keys, then `units.<code>` keys."""
    overrides = dict(overrides or {})
    names = {f.name for f in fields(EvaluationPolicy)}
    per_unit = overrides.pop("units", {}) or {}
    values = {k: v for k, v in overrides.items() if k in names}
    if unit is not None:
        values.update({k: v for k, v in (per_unit.get(unit) or {}).items() if k in names})
    policy = replace(EvaluationPolicy(), **values)
    if policy.head_work_results not in ("UNIT_RESULT", "APPRAISER"):
        raise ValueError(f"head_work_results must be UNIT_RESULT or APPRAISER, got {policy.head_work_results!r}")
    if policy.checkin_period not in CHECKIN_PERIODS:
        raise ValueError(f"checkin_period must be one of {sorted(CHECKIN_PERIODS)}, got {policy.checkin_period!r}")
    return policy


def start_of_day(day: date) -> datetime:
    """Midnight at the start of `day`, Jakarta time."""
    return datetime.combine(day, time(0, 0), tzinfo=WIB)


def skp_deadline(year: int, policy: EvaluationPolicy) -> datetime:
    """End of the SKP deadline day (23:59:59 WIB) of the performance year."""
    month, day = (int(x) for x in policy.skp_deadline.split("-"))
    return datetime.combine(date(year, month, day), time(23, 59, 59), tzinfo=WIB)


def year_end(year: int) -> datetime:
    """The moment the performance year is over and the annual rating opens."""
    return start_of_day(date(year + 1, 1, 1))


@dataclass(frozen=True)
class CheckinPeriod:
    label: str  # e.g. "S1", "TW2", "B07"
    starts: date
    ends: date  # inclusive

    @property
    def due(self) -> datetime:
        """The check-in opens when its period is over."""
        return start_of_day(self.ends + timedelta(days=1))


def _month_end(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def checkin_periods(year: int, period: str) -> list[CheckinPeriod]:
    """The periodic check-ins of a year; the last period is covered by the annual rating itself."""
    step, prefix = CHECKIN_PERIODS[period], CHECKIN_LABEL_PREFIX[period]
    out = []
    for n, first in enumerate(range(1, 13, step), start=1):
        label = f"{prefix}{n:02d}" if period == "MONTHLY" else f"{prefix}{n}"
        out.append(CheckinPeriod(label, date(year, first, 1), _month_end(year, first + step - 1)))
    return out[:-1]


def months_covered(starts: date, ends: date) -> int:
    """Whole months of an SKP period (a transfer on the 15th splits that month by rounding)."""
    days = (ends - starts).days + 1
    return max(0, min(12, round(days * 12 / 365)))


def objection_deadline(delivered_at: datetime, policy: EvaluationPolicy) -> datetime:
    """End of the last day (23:59:59 WIB) on which an objection to a delivered result is in time."""
    day = delivered_at.astimezone(WIB).date() + timedelta(days=policy.objection_days)
    return datetime.combine(day, time(23, 59, 59), tzinfo=WIB)

