"""Shared case mechanics for every process: exactly-once recording and human tasks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from asnflow.activities.recording import CalendarActivities, RecordingActivities
    from asnflow.domain.events import GENESIS_HASH
    from asnflow.workflows.contracts import (
        ERR_CONFLICT,
        ERR_FORBIDDEN,
        ERR_INVALID,
        ERR_NOT_FOUND,
        SYSTEM,
        Actor,
        CancelTaskInput,
        ClaimInput,
        DecisionInput,
        DueDateInput,
        NewEvent,
        RecordInput,
        RecordResult,
        ReleaseInput,
        TaskActionResult,
    )

RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=10),
    non_retryable_error_types=["CaseForked", "UnknownEventType"],
)


def problem(field_name: str | None, message_id: str, message_en: str) -> dict[str, Any]:
    """One bilingual problem of a rejected command."""
    return {"field": field_name, "id": message_id, "en": message_en}


def reject(kind: str, *problems: dict[str, Any]) -> ApplicationError:
    """An ApplicationError the API maps to 403/409/422/404 by its type."""
    return ApplicationError("; ".join(p["en"] for p in problems), *problems, type=kind, non_retryable=True)


class TaskCancelledError(Exception):
    """A task the case waited on was withdrawn; the process closes the case as cancelled."""


@dataclass
class TaskSpec:
    """What a step asks of a person."""

    kind: str
    title: str
    outcomes: list[str]
    due_working_days: int
    assignee_nip: str | None = None
    candidate_role: str | None = None
    unit: str | None = None
    subject_may_act: bool = False  # the case's own subject acts (drafting, acknowledging)
    reason_required_for: list[str] = field(default_factory=list)


@dataclass
class TaskState:
    task_id: str
    spec: TaskSpec
    due_at: str
    status: str = "open"  # open | claimed | deciding | done | cancelled
    claimed_by: str | None = None
    decision: DecisionInput | None = None


class CaseWorkflow:
    """Base of every process workflow: the case's event counter, hash link and its tasks."""

    process: ClassVar[str] = ""

    def _init_case(self, case_id: str, subject_nip: str | None) -> None:
        self._case_id = case_id
        self._subject_nip = subject_nip
        self._version = 0
        self._last_hash = GENESIS_HASH
        # One recording at a time: update handlers and the main coroutine share the counter.
        self._record_lock = asyncio.Lock()
        self._tasks: dict[str, TaskState] = {}
        self._task_seq = 0

    # --- recording ---------------------------------------------------------------------------
    async def record(self, *events: NewEvent) -> RecordResult:
        """Record one step's events exactly once (a local activity appending at our version)."""
        async with self._record_lock:
            info = workflow.info()
            result = await workflow.execute_local_activity_method(
                RecordingActivities.record_events,
                RecordInput(
                    case_id=self._case_id,
                    process=self.process,
                    expected_version=self._version,
                    previous_hash=self._last_hash,
                    workflow_id=info.workflow_id,
                    run_id=info.run_id,
                    occurred_at=workflow.now().isoformat(),
                    events=list(events),
                ),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RECORD_RETRY,
            )
            self._version = result.version
            self._last_hash = result.last_hash
            return result

    @staticmethod
    def event(type_name: str, payload: dict[str, Any], actor: Actor = SYSTEM, reason: str = "") -> NewEvent:
        """A NewEvent with the actor in its stored form."""
        return NewEvent(type=type_name, payload=payload, actor=actor.as_event_actor(), reason=reason)

    # --- human tasks -------------------------------------------------------------------------
    async def human_task(self, spec: TaskSpec, *before: NewEvent) -> DecisionInput:
        """Open a task (after this step's other events) and wait for its decision."""
        self._task_seq += 1
        task_id = f"{self._case_id}.t{self._task_seq}"
        due_at = await workflow.execute_local_activity_method(
            CalendarActivities.due_date,
            DueDateInput(start=workflow.now().isoformat(), working_days=spec.due_working_days),
            start_to_close_timeout=timedelta(seconds=10),
        )
        opened = self.event(
            "TaskOpened",
            {
                "task_id": task_id,
                "kind": spec.kind,
                "title": spec.title,
                "assignee_nip": spec.assignee_nip,
                "candidate_role": spec.candidate_role,
                "unit": spec.unit,
                "due_at": due_at,
                "outcomes": spec.outcomes,
                "subject_nip": self._subject_nip,
                "subject_may_act": spec.subject_may_act,
            },
        )
        await self.record(*before, opened)
        # Registered only once recorded: no decision can precede the TaskOpened event.
        task = TaskState(task_id=task_id, spec=spec, due_at=due_at)
        self._tasks[task_id] = task
        await workflow.wait_condition(lambda: task.status in ("done", "cancelled"))
        if task.status == "cancelled" or task.decision is None:
            raise TaskCancelledError(task_id)
        return task.decision

    def _task(self, task_id: str) -> TaskState:
        task = self._tasks.get(task_id)
        if task is None:
            raise reject(ERR_NOT_FOUND, problem("task_id", "Tugas tidak ditemukan.", "Task not found."))
        return task

    def _check_open(self, task: TaskState) -> None:
        if task.status not in ("open", "claimed"):
            raise reject(
                ERR_CONFLICT,
                problem(None, "Tugas sudah ditutup atau sedang diputuskan.", "The task is already closed or being decided."),
            )

    def _check_may_act(self, task: TaskState, actor: Actor) -> None:
        """Assignee or candidate role in the unit; never on one's own case unless the task says so."""
        spec = task.spec
        if actor.nip is None:
            raise reject(ERR_FORBIDDEN, problem(None, "Pelaku tidak dikenal.", "Unknown actor."))
        if actor.nip == self._subject_nip and not spec.subject_may_act:
            raise reject(
                ERR_FORBIDDEN,
                problem(
                    None,
                    "Tidak seorang pun boleh memutuskan perkaranya sendiri.",
                    "Nobody may decide a task on their own case (rule: segregation of duties).",
                ),
            )
        if spec.assignee_nip is not None:
            if actor.nip != spec.assignee_nip:
                raise reject(
                    ERR_FORBIDDEN,
                    problem(None, "Tugas ini ditugaskan kepada pegawai lain.", "This task is assigned to someone else."),
                )
        elif spec.candidate_role is not None:
            if spec.candidate_role not in actor.roles or (spec.unit is not None and actor.unit != spec.unit):
                raise reject(
                    ERR_FORBIDDEN,
                    problem(
                        None,
                        f"Tugas ini untuk peran {spec.candidate_role} di unit {spec.unit}.",
                        f"This task is for role {spec.candidate_role} in unit {spec.unit}.",
                    ),
                )
        if task.claimed_by is not None and task.claimed_by != actor.nip:
            raise reject(ERR_CONFLICT, problem(None, "Tugas sedang diklaim pegawai lain.", "Another person has claimed this task."))

    def validate_decision_data(self, task: TaskState, decision: DecisionInput) -> list[dict[str, Any]]:
        """Kind-specific checks of a decision's data; processes override this."""
        return []

    def _result(self, task: TaskState, event_type: str, recorded: RecordResult) -> TaskActionResult:
        return TaskActionResult(
            task_id=task.task_id, status=task.status, event_type=event_type, position=recorded.positions[-1]
        )

    @workflow.update
    async def claim(self, inp: ClaimInput) -> TaskActionResult:
        """Take a pool task so that others see it is being handled."""
        task = self._task(inp.task_id)
        self._check_open(task)  # a concurrent claim may have won since validation
        task.claimed_by, task.status = inp.actor.nip, "claimed"
        recorded = await self.record(
            self.event("TaskClaimed", {"task_id": task.task_id, "claimed_by": inp.actor.nip}, inp.actor)
        )
        return self._result(task, "TaskClaimed", recorded)

    @claim.validator
    def validate_claim(self, inp: ClaimInput) -> None:
        task = self._task(inp.task_id)
        self._check_open(task)
        self._check_may_act(task, inp.actor)
        if task.claimed_by == inp.actor.nip:
            raise reject(ERR_CONFLICT, problem(None, "Anda sudah mengklaim tugas ini.", "You have already claimed this task."))

    @workflow.update
    async def release(self, inp: ReleaseInput) -> TaskActionResult:
        """Give a claimed task back to the pool."""
        task = self._task(inp.task_id)
        task.claimed_by, task.status = None, "open"
        recorded = await self.record(
            self.event("TaskReleased", {"task_id": task.task_id}, inp.actor, inp.reason)
        )
        return self._result(task, "TaskReleased", recorded)

    @release.validator
    def validate_release(self, inp: ReleaseInput) -> None:
        task = self._task(inp.task_id)
        self._check_open(task)
        if task.claimed_by is None or task.claimed_by != inp.actor.nip:
            raise reject(ERR_CONFLICT, problem(None, "Anda tidak sedang mengklaim tugas ini.", "You have not claimed this task."))

    @workflow.update
    async def decide(self, inp: DecisionInput) -> TaskActionResult:
        """Record a person's decision; the waiting step then continues."""
        task = self._task(inp.task_id)
        self._check_open(task)  # two decisions accepted in one batch: only the first proceeds
        task.status = "deciding"
        recorded = await self.record(
            self.event(
                "TaskDecided",
                {"task_id": task.task_id, "kind": task.spec.kind, "outcome": inp.outcome, "data": inp.data},
                inp.actor,
                inp.reason,
            )
        )
        task.decision, task.status = inp, "done"
        return self._result(task, "TaskDecided", recorded)

    @decide.validator
    def validate_decide(self, inp: DecisionInput) -> None:
        task = self._task(inp.task_id)
        self._check_open(task)
        self._check_may_act(task, inp.actor)
        problems = []
        if inp.outcome not in task.spec.outcomes:
            problems.append(
                problem(
                    "outcome",
                    f"Hasil harus salah satu dari {task.spec.outcomes}.",
                    f"Outcome must be one of {task.spec.outcomes}.",
                )
            )
        elif inp.outcome in task.spec.reason_required_for and not inp.reason.strip():
            problems.append(problem("reason", "Alasan wajib diisi.", "A reason is required for this outcome."))
        if not problems:
            problems = self.validate_decision_data(task, inp)
        if problems:
            raise reject(ERR_INVALID, *problems)

    @workflow.update
    async def cancel_task(self, inp: CancelTaskInput) -> TaskActionResult:
        """Withdraw a task (administrators); the waiting step ends the case as cancelled."""
        task = self._task(inp.task_id)
        self._check_open(task)
        task.status = "cancelled"
        recorded = await self.record(self.event("TaskCancelled", {"task_id": task.task_id}, inp.actor, inp.reason))
        return self._result(task, "TaskCancelled", recorded)

    @cancel_task.validator
    def validate_cancel_task(self, inp: CancelTaskInput) -> None:
        task = self._task(inp.task_id)
        self._check_open(task)
        if "ADMIN" not in inp.actor.roles:
            raise reject(ERR_FORBIDDEN, problem(None, "Hanya ADMIN yang boleh membatalkan tugas.", "Only an ADMIN may cancel a task."))
        if not inp.reason.strip():
            raise reject(ERR_INVALID, problem("reason", "Alasan wajib diisi.", "A reason is required."))
