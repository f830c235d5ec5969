"""Activities and starters of the evaluation process: view reads, joining the unit calibration, starting cases and seasons."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from asnflow.activities.eventstore import EVENTS_TABLE
from asnflow.domain.calendar import BusinessCalendar
from asnflow.domain.events import case_aggregate_id
from asnflow.domain.rules import EvaluationPolicy, policy_for
from asnflow.domain.tenancy import DEFAULT_TENANT, case_prefix, in_tenant, tenant_of, with_prefix
from asnflow.workflows.contracts import Actor
from asnflow.workflows.evaluation_contracts import (
    CalibrationInput,
    EvaluationInput,
    JoinCalibrationInput,
    MemberRating,
    SeasonEmployeesInput,
    SeasonInput,
    SkpContextInput,
    StartCasesInput,
    StartCasesResult,
    UnitContext,
    UnitContextInput,
    WorkingDaysInput,
    calibration_case_id,
    evaluation_case_id,
    season_case_id,
)

# The top of a unit: nobody above them in the same unit (the Sekda, an OPD head, a Camat).
HEAD_SQL = (
    "SELECT nip, atasan_nip FROM employees e WHERE unit = %s AND tenant = %s AND (atasan_nip IS NULL OR NOT EXISTS"
    " (SELECT 1 FROM employees s WHERE s.nip = e.atasan_nip AND s.unit = e.unit))"
    " ORDER BY (jenis_jabatan = 'JPT') DESC, nip LIMIT 1"
)
MAX_ROUNDS = 20


_POOLS: dict[str, ConnectionPool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(database_url: str) -> ConnectionPool:
    """A few connections shared by this process's view-reading activities (rows as dicts)."""
    # A few shared connections per process: activities run on many threads, PostgreSQL's slots are few.
    with _POOLS_LOCK:
        pool = _POOLS.get(database_url)
        if pool is None:
            pool = _POOLS[database_url] = ConnectionPool(
                database_url, min_size=0, max_size=4, max_idle=30, kwargs={"row_factory": dict_row}, open=True, timeout=30
            )
        return pool


def _rows(database_url: str, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    try:
        with shared_pool(database_url).connection() as conn:
            return conn.execute(sql, params).fetchall()  # type: ignore[arg-type,return-value]
    except psycopg.errors.UndefinedTable:
        return []  # the evaluation view has not been created yet: nothing known


async def start_evaluation(
    client: Client, task_queue: str, nip: str, year: int, unit: str | None, actor: Actor, overrides: dict[str, Any] | None,
    tenant_prefix: str | None = None,
) -> bool:
    """Start one evaluation case in a tenant; False when it already exists (one per employee per year, ever)."""
    from asnflow.workflows.evaluation import EvaluationWorkflow

    case_id = with_prefix(tenant_prefix, evaluation_case_id(nip, year))
    try:
        await client.start_workflow(
            EvaluationWorkflow.run,
            EvaluationInput(case_id=case_id, nip=nip, year=year, started_by=actor, policy=policy_for(unit, overrides)),
            id=case_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


# A season starts cases a batch at a time and lets each batch reach its first task before the next: a
# worker keeps CACHED_CASES runs in memory, and thousands of cases started at once evict each other between
# their first steps and are replayed for every one (2,000 cases parked at ~16/s, 10,000 at ~4/s).
PARK_LIMIT_SECONDS = 300.0
PARK_STALL_SECONDS = 20.0  # no case of the batch moved for this long: go on (no worker, or a case that waits first)


def parked_cases(database_url: str, case_ids: list[str]) -> int:
    """How many of these cases have opened a task (wait on people), from the store's plaintext topics."""
    rows = _rows(
        database_url,
        f"SELECT count(DISTINCT originator_id) AS n FROM {EVENTS_TABLE} WHERE originator_id = ANY(%s) AND topic LIKE %s",
        [[case_aggregate_id(c) for c in case_ids], "%:TaskOpened"],
    )
    return int(rows[0]["n"]) if rows else 0


async def wait_parked(
    database_url: str, case_ids: list[str], beat: Callable[[], None] = lambda: None,
    limit: float = PARK_LIMIT_SECONDS, stall: float = PARK_STALL_SECONDS,
) -> int:
    """Wait until the cases have opened their first task, or stop moving, or `limit` passes; returns those parked."""
    loop = asyncio.get_running_loop()
    began = moved = loop.time()
    last = -1
    while True:
        parked = await asyncio.to_thread(parked_cases, database_url, case_ids)
        now = loop.time()
        if parked != last:
            last, moved = parked, now
        if parked >= len(case_ids) or now - moved > stall or now - began > limit:
            return parked
        beat()
        await asyncio.sleep(0.5)


async def start_season(
    client: Client, task_queue: str, database_url: str, year: int, actor: Actor, overrides: dict[str, Any],
    tenant: str = DEFAULT_TENANT, default_tenant: str = DEFAULT_TENANT,
) -> tuple[str, bool]:
    """Start a tenant's season kick-off unless one for the year is still running; (case id, newly started)."""
    from asnflow.workflows.evaluation_season import EvaluationSeasonWorkflow

    running = _rows(
        database_url,
        "SELECT id FROM cases WHERE process = 'evaluation_season' AND status = 'open' AND data->>'year' = %s AND tenant = %s"
        " ORDER BY opened_at DESC LIMIT 1",
        [str(year), tenant],
    )
    if running:
        return running[0]["id"], False
    # The season's own id carries the tenant; its workflow starts that tenant's employees only.
    case_id = in_tenant(tenant, season_case_id(year, datetime.now(UTC).strftime("%Y%m%d%H%M%S")), default_tenant)
    try:
        await client.start_workflow(
            EvaluationSeasonWorkflow.run,
            SeasonInput(case_id=case_id, year=year, started_by=actor, policy_overrides=overrides),
            id=case_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        return case_id, False  # the same request twice within a second
    return case_id, True


class EvaluationActivities:
    """What the evaluation, calibration and season workflows need from the views and from Temporal."""

    def __init__(
        self,
        client: Client | None,
        database_url: str,
        task_queue: str,
        overrides: dict[str, Any] | None = None,
        calendar: BusinessCalendar | None = None,
        default_tenant: str = DEFAULT_TENANT,
    ) -> None:
        self.default_tenant = default_tenant
        self.client = client
        self.database_url = database_url
        self.task_queue = task_queue
        self.overrides = dict(overrides or {})
        self.calendar = calendar or BusinessCalendar()

    @classmethod
    def for_settings(cls, client: Client | None, settings: Any) -> EvaluationActivities:
        return cls(
            client, settings.database_url, settings.task_queue, getattr(settings, "evaluation_policy", None),
            default_tenant=getattr(settings, "default_tenant", DEFAULT_TENANT),
        )

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of the process, for the worker."""
        return [
            self.policy, self.skp_context, self.working_days, self.join_calibration, self.unit_context, self.unit_cases,
            self.season_employees, self.start_cases,
        ]

    @activity.defn(name="evaluation_policy")
    def policy(self, unit: str) -> EvaluationPolicy:
        """The configured policy of a unit, for cases started without one (e.g. by a schedule)."""
        return policy_for(unit, self.overrides)

    @activity.defn(name="evaluation_skp_context")
    def skp_context(self, inp: SkpContextInput) -> list[str]:
        """Indicators of the superior's agreed SKP for the year (what the employee cascades from)."""
        if inp.superior_nip is None:
            return []
        rows = _rows(
            self.database_url,
            "SELECT targets FROM evaluation_cases WHERE nip = %s AND year = %s AND skp_agreed",
            [inp.superior_nip, inp.year],
        )
        return [t["indikator"] for r in rows for t in (r["targets"] or []) if isinstance(t, dict) and t.get("indikator")]

    @activity.defn(name="evaluation_working_days")
    def working_days(self, inp: WorkingDaysInput) -> int:
        """Indonesian working days from `start` up to `end` (for a task due on a fixed date)."""
        start, end = datetime.fromisoformat(inp.start), datetime.fromisoformat(inp.end)
        return max(1, self.calendar.working_days_between(self.calendar.local_date(start), self.calendar.local_date(end)))

    def _tenant(self, case_id: str | None) -> str:
        """The tenant whose directory and views a case's look-ups read (unit codes are per tenant)."""
        # Histories recorded before tenancy ask without a case id: those cases are the default tenant's.
        return tenant_of(case_id or "", self.default_tenant)

    def _head(self, unit: str, tenant: str) -> dict[str, Any] | None:
        rows = _rows(self.database_url, HEAD_SQL, [unit, tenant])
        return rows[0] if rows else None

    @activity.defn(name="evaluation_join_calibration")
    async def join_calibration(self, inp: JoinCalibrationInput) -> str:
        """Signal-with-start the unit's calibration (as a member, or as its head waiting for the unit's predicate); '' when that does not apply."""
        from asnflow.workflows.evaluation_calibration import EvaluationCalibrationWorkflow

        head = await asyncio.to_thread(self._head, inp.unit, self._tenant(inp.case_id))
        if head is None or (head["nip"] == inp.nip) != inp.as_head:
            return ""
        assert self.client is not None
        member = MemberRating(case_id=inp.case_id, nip=inp.nip, raw=inp.raw)
        # The head is not a member: they only wait for the organisation predicate the calibration asks for.
        signal, args = ("head_waiting", [inp.case_id]) if inp.as_head else ("rating_submitted", [member])
        for round_no in range(1, MAX_ROUNDS + 1):
            # The unit's calibration lives in the tenant of the evaluation that joins it.
            case_id = with_prefix(case_prefix(inp.case_id), calibration_case_id(inp.unit, inp.year, round_no))
            if case_id in inp.closed:
                continue  # still running maybe, but past hearing anyone: a signal would be taken and never answered
            try:
                await self.client.start_workflow(
                    EvaluationCalibrationWorkflow.run,
                    CalibrationInput(case_id=case_id, unit=inp.unit, year=inp.year, round_no=round_no, policy=inp.policy),
                    id=case_id,
                    task_queue=self.task_queue,
                    start_signal=signal,
                    start_signal_args=args,
                    # A closed round is never reopened: its case chain is complete. A late case opens the next round.
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                )
                return case_id
            except WorkflowAlreadyStartedError:
                continue
        raise RuntimeError(f"more than {MAX_ROUNDS} calibration rounds for {inp.unit} {inp.year}")

    @activity.defn(name="evaluation_unit_context")
    def unit_context(self, inp: UnitContextInput) -> UnitContext:
        """The unit head, the leader one level up, and what earlier rounds of the year settled."""
        tenant = self._tenant(inp.calibration_case_id)
        head = self._head(inp.unit, tenant)
        org = _rows(
            self.database_url,
            "SELECT org_predicate FROM evaluation_calibrations WHERE unit = %s AND year = %s AND tenant = %s"
            " AND org_predicate IS NOT NULL ORDER BY opened_at LIMIT 1",
            [inp.unit, inp.year, tenant],
        )
        finals = _rows(
            self.database_url,
            "SELECT calibrated FROM evaluation_cases WHERE unit = %s AND year = %s AND tenant = %s AND calibrated IS NOT NULL",
            [inp.unit, inp.year, tenant],
        )
        return UnitContext(
            unit=inp.unit,
            head_nip=head["nip"] if head else None,
            leader_nip=head["atasan_nip"] if head else None,
            org_predicate=org[0]["org_predicate"] if org else None,
            final_predicates=[r["calibrated"] for r in finals],
        )

    @activity.defn(name="evaluation_unit_cases")
    def unit_cases(self, inp: UnitContextInput) -> list[str]:
        """Open cases of the unit and year that this calibration still has to hear from."""
        rows = _rows(
            self.database_url,
            "SELECT case_id FROM evaluation_cases WHERE unit = %s AND year = %s AND tenant = %s AND status = 'open'"
            " AND nip IS DISTINCT FROM %s AND calibrated IS NULL"
            " AND (calibration_case_id IS NULL OR calibration_case_id = %s) ORDER BY case_id",
            [inp.unit, inp.year, self._tenant(inp.calibration_case_id), inp.exclude_nip, inp.calibration_case_id],
        )
        return [r["case_id"] for r in rows]

    @activity.defn(name="evaluation_season_employees")
    def season_employees(self, inp: SeasonEmployeesInput) -> list[str]:
        """Every employee in the tenant's directory (all active PNS and PPPK) in NIP order."""
        tenant = inp.tenant_prefix or self.default_tenant
        return [r["nip"] for r in _rows(self.database_url, "SELECT nip FROM employees WHERE tenant = %s ORDER BY nip", [tenant])]

    @activity.defn(name="evaluation_start_cases")
    async def start_cases(self, inp: StartCasesInput) -> StartCasesResult:
        """Start the cases of a batch; an existing case counts as existing, never starts twice."""
        assert self.client is not None
        units = {
            r["nip"]: r["unit"]
            for r in await asyncio.to_thread(_rows, self.database_url, "SELECT nip, unit FROM employees WHERE nip = ANY(%s)", [inp.nips])
        }
        gate = asyncio.Semaphore(16)
        result = StartCasesResult(started=0, existing=0)
        new: list[str] = []

        async def one(nip: str) -> None:
            async with gate:
                try:
                    started = await start_evaluation(  # type: ignore[arg-type]
                        self.client, self.task_queue, nip, inp.year, units.get(nip), inp.started_by, inp.policy_overrides,
                        tenant_prefix=inp.tenant_prefix,
                    )
                except Exception:  # noqa: BLE001 - reported per NIP, the batch goes on
                    result.failed.append(nip)
                    return
                if started:
                    result.started += 1
                    new.append(with_prefix(inp.tenant_prefix, evaluation_case_id(nip, inp.year)))
                else:
                    result.existing += 1
                activity.heartbeat(result.started + result.existing)

        await asyncio.gather(*(one(n) for n in inp.nips))
        # Backpressure before the season starts the next batch (a retried batch starts nothing new: no wait).
        await wait_parked(self.database_url, new, lambda: activity.heartbeat(result.started + result.existing))
        return result
