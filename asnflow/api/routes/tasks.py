"""The inbox and the actions on a task; every decision goes through the case's workflow Update."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from asnflow.api.auth import User
from asnflow.api.deps import CurrentUser, DbDep, MinPosition, Resources, ResourcesDep, catch_up, wait_for_view
from asnflow.api.errors import ApiError, unavailable
from asnflow.api.schemas import (
    BulkDecisionCreate,
    BulkDecisionPublic,
    BulkItemResult,
    DecisionCreate,
    ReasonCreate,
    TaskActionPublic,
    TaskPublic,
    TasksPublic,
)
from asnflow.workflows.contracts import (
    ERR_CONFLICT,
    ERR_FORBIDDEN,
    ERR_INVALID,
    ERR_NOT_FOUND,
    CancelTaskInput,
    ClaimInput,
    DecisionInput,
    ReleaseInput,
    case_id_of_task,
)
from asnflow.workflows.human_tasks import CaseWorkflow

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])

OVERSIGHT = ("ADMIN", "AUDITOR")
TASK_COLUMNS = (
    "t.id, t.case_id, t.process, t.kind, t.title, t.status, t.assignee_nip, t.candidate_role, t.unit,"
    " t.subject_nip, t.due_at, t.opened_at, t.outcomes, t.claimed_by, t.outcome, t.decided_by, t.closed_at,"
    " (t.status IN ('open', 'claimed') AND t.due_at < now()) AS overdue"
)
STATUS_BY_ERROR = {ERR_FORBIDDEN: 403, ERR_CONFLICT: 409, ERR_INVALID: 422, ERR_NOT_FOUND: 404}


def mine_sql(user: User) -> tuple[str, list[Any]]:
    return "(t.assignee_nip = %s OR t.claimed_by = %s)", [user.nip, user.nip]


def pool_sql(user: User) -> tuple[str, list[Any]]:
    """Tasks offered to one of my roles, in my unit unless unit-less; never on my own case."""
    return (
        "(t.assignee_nip IS NULL AND t.candidate_role = ANY(%s) AND (t.unit IS NULL OR t.unit = %s)"
        " AND t.subject_nip IS DISTINCT FROM %s)",
        [list(user.roles), user.unit, user.nip],
    )


@router.get("", response_model=TasksPublic)
async def inbox(
    user: CurrentUser,
    conn: DbDep,
    res: ResourcesDep,
    scope: Literal["inbox", "mine", "pool", "all"] = "inbox",
    status: Literal["active", "open", "claimed", "done", "cancelled", "any"] = "active",
    overdue: bool | None = None,
    process: str | None = None,
    kind: str | None = None,
    case_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    min_position: MinPosition = None,
) -> TasksPublic:
    """My tasks and my roles' pool, late first, then by due date."""
    await catch_up(conn, res, "tasks", min_position)
    if scope == "all":
        if not user.has(*OVERSIGHT):
            raise ApiError(403, "Hanya ADMIN/AUDITOR yang melihat semua tugas.", "Only ADMIN/AUDITOR see all tasks.")
        where, params = "TRUE", []
    elif scope == "mine":
        where, params = mine_sql(user)
    elif scope == "pool":
        where, params = pool_sql(user)
    else:
        (m, mp), (p, pp) = mine_sql(user), pool_sql(user)
        where, params = f"({m} OR {p})", [*mp, *pp]
    if status == "active":
        where += " AND t.status IN ('open', 'claimed')"
    elif status != "any":
        where += " AND t.status = %s"
        params.append(status)
    if overdue is not None:
        where += " AND " + ("" if overdue else "NOT ") + "(t.status IN ('open','claimed') AND t.due_at < now())"
    for column, value in (("process", process), ("kind", kind), ("case_id", case_id)):
        if value is not None:
            where += f" AND t.{column} = %s"
            params.append(value)
    rows = await (
        await conn.execute(
            f"SELECT {TASK_COLUMNS}, count(*) OVER () AS total FROM tasks t WHERE {where}"  # noqa: S608
            " ORDER BY overdue DESC, t.due_at ASC NULLS LAST, t.id LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
    ).fetchall()
    return TasksPublic(data=[TaskPublic(**r) for r in rows], count=rows[0]["total"] if rows else 0)


async def load_task(conn: Any, task_id: str) -> dict[str, Any] | None:
    return await (  # type: ignore[no-any-return]
        await conn.execute(f"SELECT {TASK_COLUMNS} FROM tasks t WHERE t.id = %s", [task_id])  # noqa: S608
    ).fetchone()


def may_see(user: User, task: dict[str, Any]) -> bool:
    if user.has(*OVERSIGHT) or user.nip in (task["assignee_nip"], task["claimed_by"], task["decided_by"], task["subject_nip"]):
        return True
    return task["assignee_nip"] is None and task["candidate_role"] in user.roles and task["unit"] in (None, user.unit)


@router.get("/{task_id}", response_model=TaskPublic)
async def get_task(task_id: str, user: CurrentUser, conn: DbDep) -> TaskPublic:
    """One task, if it is mine, my role's, my case's, or I oversee."""
    task = await load_task(conn, task_id)
    if task is None or not may_see(user, task):
        raise ApiError(404, "Tugas tidak ditemukan.", "Task not found.")
    return TaskPublic(**task)


async def act(res: Resources, conn: Any, task_id: str, update: Any, arg: Any) -> TaskActionPublic:
    """Deliver an action as an Update; the validator's refusal becomes 403/409/422 with nothing written."""
    try:
        case_id = case_id_of_task(task_id)
    except ValueError:
        raise ApiError(404, "Tugas tidak ditemukan.", "Task not found.") from None
    client = await res.temporal_client()
    handle = client.get_workflow_handle(case_id)
    try:
        result = await handle.execute_update(update, arg)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type in STATUS_BY_ERROR:
            problems = [d for d in cause.details if isinstance(d, dict)]
            first = problems[0] if problems else {"id": cause.message, "en": cause.message}
            raise ApiError(STATUS_BY_ERROR[cause.type], first["id"], first["en"], problems) from None
        raise
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            if await load_task(conn, task_id) is not None:
                raise ApiError(409, "Perkara sudah selesai; tugas ditutup.", "The case has ended; the task is closed.") from None
            raise ApiError(404, "Tugas tidak ditemukan.", "Task not found.") from None
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise unavailable("Temporal") from None
        raise
    seen = await wait_for_view(conn, "tasks", result.position, res.settings.read_wait_seconds)
    task = await load_task(conn, task_id) if seen else None
    return TaskActionPublic(
        task_id=result.task_id, status=result.status, event_type=result.event_type, position=result.position,
        task=TaskPublic(**task) if task else None,
    )


@router.post("/{task_id}/claim", response_model=TaskActionPublic)
async def claim(task_id: str, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> TaskActionPublic:
    """Claim a pool task."""
    return await act(res, conn, task_id, CaseWorkflow.claim, ClaimInput(task_id=task_id, actor=user.actor()))


@router.post("/{task_id}/release", response_model=TaskActionPublic)
async def release(
    task_id: str, user: CurrentUser, conn: DbDep, res: ResourcesDep, body: ReasonCreate | None = None
) -> TaskActionPublic:
    """Give a claimed task back to its pool."""
    reason = body.reason if body else ""
    return await act(res, conn, task_id, CaseWorkflow.release, ReleaseInput(task_id=task_id, actor=user.actor(), reason=reason))


@router.post("/{task_id}/decision", response_model=TaskActionPublic)
async def decide(task_id: str, body: DecisionCreate, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> TaskActionPublic:
    """Decide a task: `outcome` from the task's outcomes, a `reason`, and the kind's `data`."""
    inp = DecisionInput(task_id=task_id, actor=user.actor(), outcome=body.outcome, reason=body.reason, data=body.data)
    return await act(res, conn, task_id, CaseWorkflow.decide, inp)


@router.post("/{task_id}/cancel", response_model=TaskActionPublic)
async def cancel(task_id: str, body: ReasonCreate, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> TaskActionPublic:
    """Withdraw a task (ADMIN, with a reason); the case then closes as cancelled."""
    inp = CancelTaskInput(task_id=task_id, actor=user.actor(), reason=body.reason)
    return await act(res, conn, task_id, CaseWorkflow.cancel_task, inp)


@router.post("/decisions", response_model=BulkDecisionPublic)
async def decide_many(body: BulkDecisionCreate, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> BulkDecisionPublic:
    """Several decisions; each item succeeds or fails on its own, with its own result."""
    results: list[BulkItemResult] = []
    for item in body.items:
        inp = DecisionInput(
            task_id=item.task_id, actor=user.actor(), outcome=item.outcome, reason=item.reason, data=item.data
        )
        try:
            done = await act(res, conn, item.task_id, CaseWorkflow.decide, inp)
            results.append(BulkItemResult(task_id=item.task_id, ok=True, status=200, result=done))
        except ApiError as err:
            results.append(
                BulkItemResult(
                    task_id=item.task_id, ok=False, status=err.status,
                    error={"message_id": err.message_id, "message_en": err.message_en, "problems": err.problems},
                )
            )
    ok = sum(r.ok for r in results)
    return BulkDecisionPublic(results=results, succeeded=ok, failed=len(results) - ok)


