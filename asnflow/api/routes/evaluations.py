"""Starting evaluation cases."""

from __future__ import annotations

from fastapi import APIRouter, status
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from asnflow.api.deps import CurrentUser, DbDep, ResourcesDep
from asnflow.api.errors import ApiError, unavailable
from asnflow.api.schemas import CaseAccepted, EvaluationCreate
from asnflow.workflows.contracts import StartEvaluationInput
from asnflow.workflows.evaluation import EvaluationWorkflow, evaluation_case_id

router = APIRouter(prefix="/api/v1/evaluations", tags=["evaluations"])


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=CaseAccepted)
async def start_evaluation(body: EvaluationCreate, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> CaseAccepted:
    """Open the annual evaluation of one employee (the employee, their superior, BKPSDM or ADMIN)."""
    row = await (
        await conn.execute("SELECT nip, atasan_nip FROM employees WHERE nip = %s", [body.nip])
    ).fetchone()
    if row is None:
        raise ApiError(
            422, "NIP tidak terdaftar di direktori pegawai.", "The NIP is not in the employee directory.",
            [{"field": "nip", "id": "NIP tidak terdaftar.", "en": "Unknown NIP."}],
        )
    if not (user.nip in (row["nip"], row["atasan_nip"]) or user.has("BKPSDM", "ADMIN")):
        raise ApiError(
            403,
            "Hanya pegawai itu, atasannya, BKPSDM atau ADMIN yang boleh memulai evaluasinya.",
            "Only the employee, their superior, BKPSDM or ADMIN may start this evaluation.",
        )
    case_id = evaluation_case_id(body.nip, body.year)
    client = await res.temporal_client()
    try:
        await client.start_workflow(
            EvaluationWorkflow.run,
            StartEvaluationInput(case_id=case_id, nip=body.nip, year=body.year, started_by=user.actor()),
            id=case_id,
            task_queue=res.settings.task_queue,
            # One evaluation per employee per year, ever: a second start is a conflict, not a new case.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        raise ApiError(
            409, f"Evaluasi {body.year} untuk NIP ini sudah ada.", f"The {body.year} evaluation of this NIP already exists."
        ) from None
    except RPCError as exc:
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise unavailable("Temporal") from None
        raise
    return CaseAccepted(
        id=case_id,
        process="evaluation",
        links={"case": f"/api/v1/cases/{case_id}", "events": f"/api/v1/cases/{case_id}/events"},
    )
