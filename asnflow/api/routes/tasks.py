"""The inbox and the actions on a task; every decision goes through the case's workflow Update."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal

import psycopg
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from asnflow.api.auth import User
from asnflow.api.deps import MIN_POSITION, CurrentUser, DbDep, ReaderDep, Resources, ResourcesDep, catch_up, query_parameters, wait_for_view
from asnflow.api.errors import ApiError
from asnflow.api.routes.documents import check_decision_documents
from asnflow.api.task_context import task_context
from asnflow.api.routes.kinship import refuse_relatives
from asnflow.api.updates import deliver
from asnflow.api.schemas import (
    BIGINT_MAX,
    BulkDecisionCreate,
    BulkDecisionPublic,
    BulkItemResult,
    DecisionCreate,
    ReasonCreate,
    TaskActionPublic,
    TaskPublic,
)
from asnflow.api.tenancy import schema_of
from asnflow.domain.tenancy import case_prefix
from asnflow.workflows.contracts import (
    CancelTaskInput,
    ReleaseInput,
    case_id_of_task,
)
from asnflow.workflows.deadline_contracts import ActingClaimInput, ActingDecisionInput, Delegation
from asnflow.workflows.human_tasks import CaseWorkflow

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])

OVERSIGHT = ("ADMIN", "AUDITOR")
TASK_COLUMNS = (
    "t.id, t.case_id, t.process, t.kind, t.title, t.status, t.assignee_nip, t.candidate_role, t.unit,"
    " t.subject_nip, t.due_at, t.opened_at, t.outcomes, t.claimed_by, t.outcome, t.decided_by, t.closed_at,"
    " (t.status IN ('open', 'claimed') AND t.due_at < now()) AS overdue"
)
# Delegated to me: the assignee (or, for a pool task, a holder of its role in its unit) has an active
# delegation to me that covers the task; personal tasks (assignee = subject) never are. Direct only:
# a delegation names the task's own assignee, so authority is never passed on a second time.
DELEGATION_MATCH = (
    "d.acting_nip = %s AND d.status = 'active'"
    " AND (jsonb_array_length(d.processes) = 0 OR d.processes ? t.process)"
    " AND (jsonb_array_length(d.kinds) = 0 OR d.kinds ? t.kind)"
    " AND t.subject_nip IS DISTINCT FROM d.acting_nip AND t.assignee_nip IS DISTINCT FROM t.subject_nip"
    " AND (d.principal_nip = t.assignee_nip OR (t.assignee_nip IS NULL AND d.principal_roles ? t.candidate_role"
    " AND (t.unit IS NULL OR t.unit = d.principal_unit) AND t.subject_nip IS DISTINCT FROM d.principal_nip))"
)
DELEGATED_JOIN = (  # {schema}: the tenant's schema of views (the inbox's connection has none on its search path)
    " LEFT JOIN LATERAL (SELECT d.id AS delegation_id, d.principal_nip AS acting_for FROM {schema}.delegations d"
    f" WHERE {DELEGATION_MATCH} ORDER BY d.starts_at LIMIT 1) dg ON TRUE"
)
NO_DELEGATION_JOIN = " LEFT JOIN LATERAL (SELECT NULL::text AS delegation_id, NULL::text AS acting_for) dg ON TRUE"
TASK_NOT_FOUND = ApiError(404, "Tugas tidak ditemukan.", "Task not found.")


def mine_sql(user: User) -> tuple[str, list[Any]]:
    return "(t.assignee_nip = %s OR t.claimed_by = %s)", [user.nip, user.nip]


class InboxTaskPublic(TaskPublic):
    """A task in an inbox; `on_behalf_of` names the assignee when it reaches me as their acting official."""

    on_behalf_of: str | None = None
    delegation_id: str | None = None
    escalation_level: int = 0
    last_reminded_at: datetime | None = None


class InboxPublic(BaseModel):
    data: list[InboxTaskPublic]
    count: int


def own(user: User, task: dict[str, Any]) -> bool:
    """Mine by assignment or by role; anything else needs a delegation."""
    if task["assignee_nip"] is not None:
        return bool(task["assignee_nip"] == user.nip)
    return task["candidate_role"] in user.roles and task["unit"] in (None, user.unit)


def pool_sql(user: User) -> tuple[str, list[Any]]:
    """Tasks offered to one of my roles, in my unit unless unit-less; never on my own case."""
    return (
        "(t.assignee_nip IS NULL AND t.candidate_role = ANY(%s) AND (t.unit IS NULL OR t.unit = %s)"
        " AND t.subject_nip IS DISTINCT FROM %s)",
        [list(user.roles), user.unit, user.nip],
    )


# The fields of InboxTaskPublic in its order: PostgreSQL writes the inbox's JSON (bench/api.py).
INBOX_FIELDS = (*TaskPublic.model_fields, *(f for f in InboxTaskPublic.model_fields if f not in TaskPublic.model_fields))
ACTIVE = ("active", "open", "claimed")


def _iso(column: str) -> str:
    """SQL: a timestamptz as pydantic writes a datetime (`…THH:MM:SS[.ffffff]Z`, or the session's `±HH:MM`)."""
    # One to_char per value; `+00:00` can only be the zone's suffix. Kept short: psycopg parses a
    # statement longer than 4,096 characters afresh on every call instead of caching it.
    return (
        f"replace(to_char({column}, CASE WHEN date_part('microseconds', {column})::bigint %% 1000000 = 0"
        " THEN 'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM' ELSE 'YYYY-MM-DD\"T\"HH24:MI:SS.USTZH:TZM' END), '+00:00', 'Z')"
    )


def _item_sql(name: str) -> str:
    """SQL of one InboxTaskPublic field over a page row `p` (TASK_COLUMNS + escalation, delegation and `delegated`)."""
    special = {
        # A task without a due date is never late (the comparison gives NULL there; the model says false).
        "overdue": "coalesce(p.overdue, false)",
        "context": "NULL",  # reading material comes with one task (GET /tasks/{id}), never in a list
        "on_behalf_of": "CASE WHEN p.delegated THEN p.acting_for END",
        "delegation_id": "CASE WHEN p.delegated THEN p.delegation_id END",
    }
    if name in special:
        return special[name]
    annotation = InboxTaskPublic.model_fields[name].annotation
    return _iso(f"p.{name}") if annotation in (datetime, datetime | None) else f"p.{name}"


# One page row `p` as InboxTaskPublic's fields, for `json_agg(i …) FROM page p CROSS JOIN LATERAL (SELECT …) i`:
# PostgreSQL writes the page's JSON (in C, on its own core) instead of the API decoding 50 rows into
# Python and encoding them again, which was most of the inbox's CPU per request (bench/api.py).
# row_to_json keeps the row's field order and is cheaper than json_build_object, which looks up the
# type of every argument on every row. Same text as pydantic's but for spaces (tests: test_inbox_json).
INBOX_ITEM = ", ".join(f'{_item_sql(name)} AS "{name}"' for name in INBOX_FIELDS)


def _own_sql(user: User, t: str) -> tuple[str, list[Any]]:
    """SQL of own() over task row `t`: mine by assignment or by role (anything else came by a delegation)."""
    return (
        f"coalesce(CASE WHEN {t}.assignee_nip IS NOT NULL THEN {t}.assignee_nip = %s"
        f" ELSE {t}.candidate_role = ANY(%s) AND ({t}.unit IS NULL OR {t}.unit = %s) END, false)",
        [user.nip, list(user.roles), user.unit],
    )


def _inbox_filters(status: str, overdue: bool | None, process: str | None, kind: str | None, case_id: str | None) -> tuple[str, list[Any]]:
    """The inbox's filters as SQL appended to a WHERE clause, with their parameters."""
    where: str = ""
    params: list[Any] = []
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
    return where, params


async def _inbox_by_due_date(
    conn: Any, schema: str, user: User, q: InboxQuery, filters: tuple[str, list[Any]]
) -> tuple[bool, str]:
    """(acting for someone?, the page's JSON) in one statement, for active tasks and the scopes without delegations.

    For active tasks the inbox's order (late first, then by due date; NULL sorts first in
    `overdue DESC`) is `due_at NULLS FIRST`: each branch of mine / claimed / pool below is disjoint
    from the others and read from an index in that order, so the page needs the first rows of three
    index scans instead of a sort of all of the person's open tasks.
    """
    where, params = filters
    mine = ("t.assignee_nip = %s", [user.nip])
    claimed = ("t.claimed_by = %s AND t.assignee_nip IS DISTINCT FROM %s", [user.nip, user.nip])
    pool, pool_params = pool_sql(user)
    if q.scope == "pool":
        branches = [(pool, pool_params)]
    elif q.scope == "mine":
        branches = [mine, claimed]
    else:  # the pool minus what I claimed (that is in `claimed` already)
        branches = [mine, claimed, (f"{pool} AND t.claimed_by IS DISTINCT FROM %s", [*pool_params, user.nip])]
    count_sql, count_params = [], []
    for branch in branches:
        b, b_params = branch
        if branch is mine and q.status == "active" and q.overdue is None and q.case_id is None:
            # My own active tasks are counted by the tasks projection (views.TASK_COUNTS_DDL).
            by = [(column, value) for column, value in (("process", q.process), ("kind", q.kind)) if value is not None]
            count_sql.append(
                f"(SELECT coalesce(sum(c.n), 0) FROM {schema}.task_counts c WHERE c.assignee_nip = %s"  # noqa: S608
                + "".join(f" AND c.{column} = %s" for column, _ in by) + ")"
            )
            count_params += [user.nip, *(value for _, value in by)]
        else:
            count_sql.append(f"(SELECT count(*) FROM {schema}.tasks t WHERE {b}{where})")
            count_params += [*b_params, *params]
    counts = " + ".join(count_sql)
    # Each branch takes its own first offset + limit rows: PostgreSQL does not merge the ordered scans
    # of UNION ALL branches that have WHERE clauses, so the order is asked of each branch. The branches
    # carry only the sort key (index-only for my own tasks); the page's rows are read by id after.
    union = " UNION ALL ".join(
        f"(SELECT t.id, t.due_at FROM {schema}.tasks t WHERE {b}{where}"
        " ORDER BY t.due_at ASC NULLS FIRST, t.id LIMIT %s)"
        for b, _ in branches
    )
    page_params = [v for b in branches for v in (*b[1], *params, q.offset + q.limit)]
    row = await (
        await conn.execute(
            # Past the last page the count is 0, as the window count(*) of the general query gives it.
            "SELECT f.acting, concat('{\"data\":', pg.data, ',\"count\":', CASE WHEN pg.n > 0 OR %s = 0 THEN f.total ELSE 0 END, '}') AS body"  # noqa: S608
            f" FROM (SELECT EXISTS (SELECT 1 FROM {schema}.delegations WHERE acting_nip = %s AND status = 'active') AS acting,"
            f" {counts} AS total) f, LATERAL (SELECT coalesce(json_agg(i ORDER BY p.due_at ASC NULLS FIRST, p.id), '[]') AS data,"
            f" count(*) AS n FROM (SELECT {TASK_COLUMNS}, t.escalation_level, t.last_reminded_at, NULL::text AS delegation_id,"
            f" NULL::text AS acting_for, FALSE AS delegated FROM (SELECT * FROM ({union}) u ORDER BY u.due_at ASC NULLS FIRST, u.id"
            f" LIMIT %s OFFSET %s) u JOIN {schema}.tasks t ON t.id = u.id) p CROSS JOIN LATERAL (SELECT {INBOX_ITEM}) i) pg",
            [q.offset, user.nip, *count_params, *page_params, q.limit, q.offset],
        )
    ).fetchone()
    return bool(row["acting"]), row["body"]


class InboxQuery(BaseModel):
    """The inbox's query parameters, validated as one model."""

    scope: Literal["inbox", "mine", "pool", "delegated", "all"] = "inbox"
    status: Literal["active", "open", "claimed", "done", "cancelled", "any"] = "active"
    overdue: bool | None = None
    process: str | None = None
    kind: str | None = None
    case_id: str | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=BIGINT_MAX)
    min_position: int | None = Field(None, ge=0, description=MIN_POSITION)


@router.get("", response_model=InboxPublic, openapi_extra=query_parameters(InboxQuery))
async def inbox(reader: ReaderDep) -> Response:
    """My tasks, my roles' pool and what is delegated to me as acting official, late first, then by due date."""
    user, conn, res, q = reader.user, reader.conn, reader.res, reader.query(InboxQuery)
    scope, status, limit, offset = q.scope, q.status, q.limit, q.offset
    # One statement per request where it can be (the connection is in autocommit): bench/api.py.
    schema = schema_of(user.tenant)  # the connection names no tenant: every statement below names its schema
    await catch_up(conn, res, f"{schema}.tasks", q.min_position)
    if scope == "all" and not user.has(*OVERSIGHT):
        raise ApiError(403, "Hanya ADMIN/AUDITOR yang melihat semua tugas.", "Only ADMIN/AUDITOR see all tasks.")
    filters = _inbox_filters(status, q.overdue, q.process, q.kind, q.case_id)
    if scope in ("inbox", "mine", "pool") and status in ACTIVE:
        acting, body = await _inbox_by_due_date(conn, schema, user, q, filters)
        if not acting:
            return Response(body, media_type="application/json")
    else:
        acting = await (
            await conn.execute(f"SELECT 1 FROM {schema}.delegations WHERE acting_nip = %s AND status = 'active' LIMIT 1", [user.nip])  # noqa: S608
        ).fetchone() is not None
    # Without an active delegation to me the per-row delegation lookup matches nothing; leaving it out
    # lets the inbox use its indexes instead of scanning every task (bench/api.py).
    delegated_join, join_params = (DELEGATED_JOIN.format(schema=schema), [user.nip]) if acting else (NO_DELEGATION_JOIN, [])
    if scope == "all":
        where, params = "TRUE", []
    elif scope == "mine":
        where, params = mine_sql(user)
    elif scope == "pool":
        where, params = pool_sql(user)
    elif scope == "delegated":
        where, params = "dg.delegation_id IS NOT NULL", []
    else:
        (m, mp), (p, pp) = mine_sql(user), pool_sql(user)
        where, params = f"({m} OR {p}{' OR dg.delegation_id IS NOT NULL' if acting else ''})", [*mp, *pp]
    where += filters[0]
    params += filters[1]
    own_sql, own_params = _own_sql(user, "q")
    row = await (
        await conn.execute(
            "SELECT concat('{\"data\":', coalesce(json_agg(i ORDER BY p.overdue DESC, p.due_at ASC NULLS LAST, p.id), '[]'),"  # noqa: S608
            " ',\"count\":', coalesce(max(p.total), 0), '}') AS body FROM"
            f" (SELECT q.*, q.delegation_id IS NOT NULL AND NOT {own_sql} AS delegated FROM"
            f" (SELECT {TASK_COLUMNS}, t.escalation_level, t.last_reminded_at, dg.delegation_id, dg.acting_for,"
            f" count(*) OVER () AS total FROM {schema}.tasks t{delegated_join} WHERE {where}"
            " ORDER BY overdue DESC, t.due_at ASC NULLS LAST, t.id LIMIT %s OFFSET %s) q) p"
            f" CROSS JOIN LATERAL (SELECT {INBOX_ITEM}) i",
            [*own_params, *join_params, *params, limit, offset],
        )
    ).fetchone()
    return Response(row["body"], media_type="application/json")


async def load_task(conn: Any, task_id: str) -> dict[str, Any] | None:
    return await (  # type: ignore[no-any-return]
        await conn.execute(f"SELECT {TASK_COLUMNS} FROM tasks t WHERE t.id = %s", [task_id])  # noqa: S608
    ).fetchone()


async def delegation_for(conn: Any, user: User, task: dict[str, Any]) -> Delegation | None:
    """The active delegation that lets me act on someone else's task (from the delegations view), or None."""
    if own(user, task):
        return None
    row = await (
        await conn.execute(
            f"SELECT d.* FROM tasks t JOIN delegations d ON {DELEGATION_MATCH} WHERE t.id = %s ORDER BY d.starts_at LIMIT 1",  # noqa: S608
            [user.nip, task["id"]],
        )
    ).fetchone()
    if row is None:
        return None
    return Delegation(
        delegation_id=row["id"], type=row["type"], principal_nip=row["principal_nip"], acting_nip=row["acting_nip"],
        starts_at=row["starts_at"].isoformat(), ends_at=row["ends_at"].isoformat(), principal_roles=list(row["principal_roles"]),
        principal_unit=row["principal_unit"], processes=list(row["processes"]), kinds=list(row["kinds"]),
    )


async def acting(conn: Any, user: User, task_id: str) -> tuple[Any, Delegation | None]:
    """The actor of a command: myself, or the acting official of the task's assignee (the workflow re-checks the period)."""
    actor = user.actor()
    task = await load_task(conn, task_id)
    delegation = await delegation_for(conn, user, task) if task is not None else None
    if delegation is not None:
        actor.on_behalf_of = delegation.principal_nip
    return actor, delegation


def may_see(user: User, task: dict[str, Any]) -> bool:
    if user.has(*OVERSIGHT) or user.nip in (task["assignee_nip"], task["claimed_by"], task["decided_by"], task["subject_nip"]):
        return True
    return task["assignee_nip"] is None and task["candidate_role"] in user.roles and task["unit"] in (None, user.unit)


@router.get("/{task_id}", response_model=TaskPublic)
async def get_task(task_id: str, user: CurrentUser, conn: DbDep) -> TaskPublic:
    """One task, if it is mine, my role's, my case's, or I oversee."""
    task = await load_task(conn, task_id)
    if task is None or not (may_see(user, task) or await delegation_for(conn, user, task) is not None):
        raise ApiError(404, "Tugas tidak ditemukan.", "Task not found.")
    return TaskPublic(**task, context=await task_context(conn, task))


# A task the view shows open that its case has not registered yet: the case recorded TaskOpened and the
# projector showed it before the workflow task that opened it completed (milliseconds; after a worker crash,
# until a new worker has replayed the case). A refused Update writes nothing, so it is sent again.
NOT_YET_REGISTERED_WAITS = (0.1, 0.2, 0.4, 0.8)
TASK_NOT_READY = ApiError(
    503, "Tugas sedang disiapkan. Coba lagi sebentar lagi.", "The task is still being prepared. Try again shortly.",
    headers={"Retry-After": "1"},
)


async def deliver_to_task(res: Resources, conn: Any, task_id: str, case_id: str, update: Any, arg: Any) -> Any:
    """Deliver to the task's case; a closed case is 409, a task it has not registered yet is waited for, then 503."""
    for wait in (*NOT_YET_REGISTERED_WAITS, None):
        try:
            return await deliver(await res.temporal_client(), case_id, update, arg, missing=TASK_NOT_FOUND)
        except ApiError as err:
            if err.status != 404:
                raise
            row = await load_task(conn, task_id)
            if row is None:
                raise
            if err is TASK_NOT_FOUND:
                raise ApiError(409, "Perkara sudah selesai; tugas ditutup.", "The case has ended; the task is closed.") from None
            if row["status"] not in ("open", "claimed"):
                raise
            if wait is None:
                raise TASK_NOT_READY from None
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")


async def act(res: Resources, conn: Any, task_id: str, update: Any, arg: Any) -> TaskActionPublic:
    """Deliver an action as an Update; the validator's refusal becomes 403/409/422 with nothing written."""
    try:
        case_id = case_id_of_task(task_id)
    except ValueError:
        raise ApiError(404, "Tugas tidak ditemukan.", "Task not found.") from None
    actor = getattr(arg, "actor", None)
    if actor is not None and actor.tenant != case_prefix(case_id):
        # Another tenant's task: as unknown as a task that does not exist (the workflow refuses it too).
        raise ApiError(404, "Tugas tidak ditemukan.", "Task not found.")
    if actor is not None and update is not CaseWorkflow.release:
        # Merit over kinship: the registry is a view, so it is checked here before the Update.
        row = await load_task(conn, task_id)
        if row is not None:
            await refuse_relatives(conn, actor.nip, row["subject_nip"])
            if update is CaseWorkflow.decide:
                await check_decision_documents(conn, row["kind"], arg.outcome, arg.data)
    result = await deliver_to_task(res, conn, task_id, case_id, update, arg)
    try:
        seen = await wait_for_view(conn, "tasks", result.position, res.settings.read_wait_seconds)
        task = await load_task(conn, task_id) if seen else None
    except psycopg.OperationalError:
        # The action is recorded; only reading the view back failed. A 503 here would make the
        # caller retry an accepted decision (fault drill: 10 of 24 decisions during a backend storm).
        # Closed, the broken connection leaves the pool quietly instead of failing its commit later.
        await conn.close()
        task = None
    return TaskActionPublic(
        task_id=result.task_id, status=result.status, event_type=result.event_type, position=result.position,
        task=TaskPublic(**task) if task else None,
    )


@router.post("/{task_id}/claim", response_model=TaskActionPublic)
async def claim(task_id: str, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> TaskActionPublic:
    """Claim a pool task (an acting official: on behalf of the role holder who delegated)."""
    actor, delegation = await acting(conn, user, task_id)
    return await act(res, conn, task_id, CaseWorkflow.claim, ActingClaimInput(task_id=task_id, actor=actor, delegation=delegation))


@router.post("/{task_id}/release", response_model=TaskActionPublic)
async def release(
    task_id: str, user: CurrentUser, conn: DbDep, res: ResourcesDep, body: ReasonCreate | None = None
) -> TaskActionPublic:
    """Give a claimed task back to its pool."""
    reason = body.reason if body else ""
    return await act(res, conn, task_id, CaseWorkflow.release, ReleaseInput(task_id=task_id, actor=user.actor(), reason=reason))


@router.post("/{task_id}/decision", response_model=TaskActionPublic)
async def decide(task_id: str, body: DecisionCreate, user: CurrentUser, conn: DbDep, res: ResourcesDep) -> TaskActionPublic:
    """Decide a task: `outcome` from the task's outcomes, a `reason`, and the kind's `data` (recorded on behalf of the assignee when delegated)."""
    actor, delegation = await acting(conn, user, task_id)
    inp = ActingDecisionInput(
        task_id=task_id, actor=actor, outcome=body.outcome, reason=body.reason, data=body.data, delegation=delegation
    )
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
        actor, delegation = await acting(conn, user, item.task_id)
        inp = ActingDecisionInput(
            task_id=item.task_id, actor=actor, outcome=item.outcome, reason=item.reason, data=item.data, delegation=delegation
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


