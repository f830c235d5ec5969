"""Delivering an Update to a case's workflow: one mapping of Temporal's answers to HTTP for every route."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from asnflow.api.errors import ApiError, unavailable
from asnflow.workflows.contracts import ERR_CONFLICT, ERR_FORBIDDEN, ERR_INVALID, ERR_NOT_FOUND

STATUS_BY_ERROR = {ERR_FORBIDDEN: 403, ERR_CONFLICT: 409, ERR_INVALID: 422, ERR_NOT_FOUND: 404}
# The workflow cannot take an Update now (its current workflow task is failing or the server is overloaded):
# the same request succeeds once it recovers, so this is a 503 to retry, not a 500.
_RETRY_LATER = (
    RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.FAILED_PRECONDITION,
    RPCStatusCode.RESOURCE_EXHAUSTED,
)


def refusal(exc: WorkflowUpdateFailedError, missing: ApiError) -> ApiError | None:
    """The HTTP error for a failed Update, or None when it is a genuine fault (then it is re-raised)."""
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type in STATUS_BY_ERROR:
        problems = [d for d in cause.details if isinstance(d, dict)]
        first = problems[0] if problems else {"id": cause.message, "en": cause.message}
        return ApiError(STATUS_BY_ERROR[cause.type], first["id"], first["en"], problems)
    if isinstance(cause, ApplicationError) and "Update handler for" in cause.message and "not found" in cause.message:
        # The id names a running workflow of another kind (e.g. a season instead of one employee's case).
        return missing
    if isinstance(cause, ActivityError):
        return unavailable("database")
    return None


async def deliver(client: Client, workflow_id: str, update: Any, arg: Any, *, missing: ApiError) -> Any:
    """Execute an Update: validator refusals become 403/404/409/422, an unknown or closed case `missing`,
    a case or server that cannot take it now 503 with Retry-After."""
    try:
        return await client.get_workflow_handle(workflow_id).execute_update(update, arg)
    except WorkflowUpdateFailedError as exc:
        mapped = refusal(exc, missing)
        if mapped is None:
            raise
        raise mapped from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise missing from None
        if exc.status in _RETRY_LATER:
            raise unavailable("Temporal") from None
        raise
