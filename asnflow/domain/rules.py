"""Versioned process configuration: task due periods in working days, by regulation."""

from __future__ import annotations

# Keys: regulation id -> task kind -> working days. Values are configuration, not law:
# PermenPANRB 6/2022 sets "SKP by end of January" and a 14-day objection window; the
# per-step periods below are the regency's own service standard (unconfirmed, adjustable).
EVALUATION_REGULATION = "PermenPANRB-6/2022"

TASK_DUE_WORKING_DAYS: dict[str, dict[str, int]] = {
    "PermenPANRB-6/2022": {
        "SKP_DRAFT": 10,
        "SKP_AGREEMENT": 5,
        "RATING": 10,
        "ACKNOWLEDGEMENT": 5,
    },
}


def due_working_days(regulation: str, kind: str) -> int:
    """Working days allowed for a task kind under a regulation version."""
    return TASK_DUE_WORKING_DAYS[regulation][kind]
