"""What the evaluation workflows share: the read retry, the head-rating patch and whom a task goes to."""

from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy

# The case, the unit calibration and the season each live in a module of their own (evaluation.py,
# evaluation_calibration.py, evaluation_season.py): the workflow sandbox executes a workflow's module
# afresh for every run it creates, `workflow.defn` included, and the case runs once per employee.
# What more than one of them needs is here, so that none of them imports another.

# Short reads and one signal-with-start: local activities, no extra round trips through the server.
READ_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
TOP_ROLE = "BUPATI"  # appraiser of whoever has no superior in the directory (the Sekda)
# Cases started before this change replay without it: their heads were rated like everyone else.
HEAD_RATING_PATCH = "head-rating-follows-unit-result"


def assignee(nip: str | None, unit: str | None) -> dict[str, Any]:
    """A person's task, or the Bupati's pool when the directory has nobody above."""
    if nip is None:
        return {"assignee_nip": None, "candidate_role": TOP_ROLE, "unit": None}
    return {"assignee_nip": nip, "unit": unit}
