"""Shared case mechanics for every process: exactly-once recording and human tasks."""

import asyncio
import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from datetime import datetime, timedelta
from typing import Any, ClassVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from asnflow.activities.notifications import DeadlineActivities, NotificationActivities
    from asnflow.activities.recording import RecordingActivities
    from asnflow.domain import decision_forms
    from asnflow.domain import deadlines as dl
    from asnflow.domain.events import GENESIS_HASH
    from asnflow.domain.tenancy import case_prefix
    from asnflow.workflows.contracts import (
        ERR_CONFLICT,
        ERR_FORBIDDEN,
        ERR_INVALID,
        ERR_NOT_FOUND,
        SYSTEM,
        Actor,
        CancelTaskInput,
        DecisionInput,
        NewEvent,
        RecordInput,
        RecordResult,
        ReleaseInput,
        TaskActionResult,
    )
    from asnflow.workflows.deadline_contracts import (
        ActingClaimInput,
        ActingDecisionInput,
        Delegation,
        DeliverInput,
        MailMessage,
        OpenTaskInput,
        OpenTaskResult,
        PlannedStepData,
        PreparedNotice,
        PrepareNoticeInput,
        TaskDeadlines,
        TaskDeadlinesInput,
        TaskRef,
    )
    from asnflow.workflows.task_state import TaskSpec, TaskState

RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=10),
    non_retryable_error_types=["CaseForked", "UnknownEventType"],
)
# Reading the directory waits out a database outage; the task's next step simply comes later.
PREPARE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5))
# About three hours of retries, then NotificationFailed is recorded: never dropped silently.
MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=30), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=30), maximum_attempts=10
)
CLOSED = ("deciding", "done", "cancelled")
# Tasks opened before this change planned their deadlines in a local activity of their own, then recorded.
TASK_OPENED_IN_ONE_ACTIVITY = "task-opened-in-one-activity"


def problem(field_name: str | None, message_id: str, message_en: str) -> dict[str, Any]:
    """One bilingual problem of a rejected command."""
    return {"field": field_name, "id": message_id, "en": message_en}


def reject(kind: str, *problems: dict[str, Any]) -> ApplicationError:
    """An ApplicationError the API maps to 403/409/422/404 by its type."""
    return ApplicationError("; ".join(p["en"] for p in problems), *problems, type=kind, non_retryable=True)


class TaskCancelledError(Exception):
    """A task the case waited on was withdrawn; the process closes the case as cancelled."""


class CaseWorkflow:
    """Base of every process workflow: the case's event counter, hash link and its tasks."""

    process: ClassVar[str] = ""
    # Update validators can run before run() has called _init_case: after a worker crash a case is replayed
    # from its history and a waiting decision comes with that first activation. Until then no task is known,
    # so the decision meets NotFound (404, which clients retry) rather than an AttributeError (500).
    _tasks: Mapping[str, TaskState] = MappingProxyType({})

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
    def _record_input(self, events: list[NewEvent]) -> RecordInput:
        info = workflow.info()
        return RecordInput(
            case_id=self._case_id,
            process=self.process,
            expected_version=self._version,
            previous_hash=self._last_hash,
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            occurred_at=workflow.now().isoformat(),
            events=events,
        )

    async def record(self, *events: NewEvent) -> RecordResult:
        """Record one step's events exactly once (a local activity appending at our version)."""
        async with self._record_lock:
            result = await workflow.execute_local_activity_method(
                RecordingActivities.record_events,
                self._record_input(list(events)),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RECORD_RETRY,
            )
            self._version = result.version
            self._last_hash = result.last_hash
            return result

    async def _record_opened(self, events: list[NewEvent], plan: TaskDeadlinesInput) -> TaskDeadlines:
        """Record a step's events ending with its TaskOpened, whose due date and deadlines the same activity plans."""
        async with self._record_lock:
            opened: OpenTaskResult = await workflow.execute_local_activity_method(
                RecordingActivities.open_task,
                OpenTaskInput(record=self._record_input(events), plan=plan),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RECORD_RETRY,
            )
            self._version = opened.recorded.version
            self._last_hash = opened.recorded.last_hash
            return opened.deadlines

    @staticmethod
    def event(type_name: str, payload: dict[str, Any], actor: Actor = SYSTEM, reason: str = "") -> NewEvent:
        """A NewEvent with the actor in its stored form."""
        return NewEvent(type=type_name, payload=payload, actor=actor.as_event_actor(), reason=reason)

    # --- human tasks -------------------------------------------------------------------------
    async def human_task(self, spec: TaskSpec, *before: NewEvent) -> DecisionInput:
        """Open a task (after this step's other events), remind and escalate on time, and wait for its decision."""
        self._task_seq += 1
        task_id = f"{self._case_id}.t{self._task_seq}"
        plan = TaskDeadlinesInput(
            start=workflow.now().isoformat(), working_days=spec.due_working_days, kind=spec.kind, with_plan=spec.deadlines
        )
        payload: dict[str, Any] = {
            "task_id": task_id,
            "kind": spec.kind,
            "title": spec.title,
            "assignee_nip": spec.assignee_nip,
            "candidate_role": spec.candidate_role,
            "unit": spec.unit,
            "due_at": None,  # planned by the activity (below), in this place of the payload
            "outcomes": spec.outcomes,
            "subject_nip": self._subject_nip,
            "subject_may_act": spec.subject_may_act,
            "deadlines": None,
        }
        if workflow.patched(TASK_OPENED_IN_ONE_ACTIVITY):
            # One local activity plans the deadlines and records: one round through the worker per task, not two.
            deadlines = await self._record_opened([*before, self.event("TaskOpened", payload)], plan)
        else:
            deadlines = await workflow.execute_local_activity_method(
                DeadlineActivities.task_deadlines, plan, start_to_close_timeout=timedelta(seconds=10)
            )
            payload["due_at"] = deadlines.due_at
            payload["deadlines"] = {"policy": deadlines.policy_version, "steps": [{"step": s.step, "at": s.at} for s in deadlines.steps]}
            await self.record(*before, self.event("TaskOpened", payload))
        due_at = deadlines.due_at
        # Registered only once recorded: no decision can precede the TaskOpened event.
        task = TaskState(task_id=task_id, spec=spec, due_at=due_at)
        self._tasks[task_id] = task
        if deadlines.steps:
            # In the background: a slow directory or mail server never holds up the decision.
            task.background.append(asyncio.create_task(self._run_deadlines(task, deadlines.steps)))
        await workflow.wait_condition(lambda: task.status in ("done", "cancelled"))
        await self._close_followers(task)
        if task.status == "cancelled" or task.decision is None:
            raise TaskCancelledError(task_id)
        return task.decision

    # --- deadlines that act ------------------------------------------------------------------
    async def _run_deadlines(self, task: TaskState, steps: list[PlannedStepData]) -> None:
        """Remind and escalate at the planned moments while the task stays open."""
        for step in steps:
            if not await self._open_until(task, step.at):
                return
            if step.action == "remind":
                await self._remind(task, step)
            else:
                await self._escalate(task, step)

    async def _record_for(self, task: TaskState, *events: NewEvent) -> RecordResult:
        """Record from background work; counted, so closing the task never cancels it mid-append."""
        task.recording += 1
        try:
            return await self.record(*events)
        finally:
            task.recording -= 1

    async def _open_until(self, task: TaskState, at: str) -> bool:
        """Wait until `at` unless the task closes first; True when it is still open then."""
        delay = (datetime.fromisoformat(at) - workflow.now()).total_seconds()
        if delay > 0:
            try:
                await workflow.wait_condition(lambda: task.status in CLOSED, timeout=timedelta(seconds=delay))
            except TimeoutError:
                pass
        return task.status not in CLOSED

    def _task_ref(self, task: TaskState) -> TaskRef:
        spec = task.spec
        return TaskRef(
            task_id=task.task_id, case_id=self._case_id, process=self.process, kind=spec.kind, title=spec.title,
            due_at=task.due_at, assignee_nip=spec.assignee_nip, candidate_role=spec.candidate_role, unit=spec.unit,
            subject_nip=self._subject_nip,
        )

    async def _prepare(self, task: TaskState, step: PlannedStepData, kind: str) -> PreparedNotice:
        return await workflow.execute_activity_method(
            NotificationActivities.prepare_task_notice,
            PrepareNoticeInput(
                key=dl.notification_key(task.task_id, kind, step.step), action=step.action, task=self._task_ref(task),
                step=step.step, scheduled_for=step.at, level=step.level, target=step.target, mode=step.mode,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=PREPARE_RETRY,
        )

    @staticmethod
    def _recipients(notice: PreparedNotice) -> list[dict[str, Any]]:
        return [dataclasses.asdict(r) for r in notice.recipients]

    async def _remind(self, task: TaskState, step: PlannedStepData) -> None:
        """Tell the assignee (or the role pool) and their acting officials that the task is due."""
        notice = await self._prepare(task, step, "reminder")
        if task.status in CLOSED:
            return
        await self._record_for(
            task,
            self.event(
                "TaskReminded",
                {
                    "task_id": task.task_id, "kind": task.spec.kind, "step": step.step, "key": notice.key,
                    "scheduled_for": step.at, "due_at": task.due_at, "recipients": self._recipients(notice),
                },
            )
        )
        self._send(task, notice.key, notice.messages)

    async def _escalate(self, task: TaskState, step: PlannedStepData) -> None:
        """Move an overdue task one level up its chain (or open a supervising task there) and tell both sides."""
        notice = await self._prepare(task, step, "escalation")
        if task.status in CLOSED:
            return
        spec = task.spec
        target = notice.target_nip
        mode = step.mode if target else "none"
        payload: dict[str, Any] = {
            "task_id": task.task_id, "kind": spec.kind, "level": step.level, "step": step.step, "key": notice.key,
            "mode": mode, "target_rule": step.target, "from_nip": spec.assignee_nip, "to_nip": target,
            "candidate_role": spec.candidate_role, "unit": spec.unit, "scheduled_for": step.at, "due_at": task.due_at,
            "supervision_task_id": None, "recipients": self._recipients(notice),
        }
        events = []
        supervision: TaskState | None = None
        task.escalation_level = step.level
        if mode == dl.REASSIGN:
            # Changed before recording, so validators already refuse the previous assignee.
            task.spec = dataclasses.replace(spec, assignee_nip=target)
            task.claimed_by, task.status = None, "open"
        elif mode == dl.SUPERVISE:
            self._task_seq += 1
            sup_id = f"{self._case_id}.t{self._task_seq}"
            payload["supervision_task_id"] = sup_id
            sup_spec = TaskSpec(
                kind=dl.SUPERVISION_KIND, title=f"Pantau / supervise: {spec.title}", outcomes=["NOTED"],
                due_working_days=0, assignee_nip=target, unit=spec.unit, deadlines=False,
            )
            supervision = TaskState(task_id=sup_id, spec=sup_spec, due_at=notice.supervision_due_at or task.due_at, supervises=task.task_id)
            events.append(
                self.event(
                    "TaskOpened",
                    {
                        "task_id": sup_id, "kind": sup_spec.kind, "title": sup_spec.title, "assignee_nip": target,
                        "candidate_role": None, "unit": spec.unit, "due_at": supervision.due_at, "outcomes": sup_spec.outcomes,
                        "subject_nip": self._subject_nip, "subject_may_act": False, "supervises": task.task_id,
                    },
                )
            )
        await self._record_for(task, self.event("TaskEscalated", payload), *events)
        if supervision is not None:
            self._tasks[supervision.task_id] = supervision
        self._send(task, notice.key, notice.messages)

    def _send(self, task: TaskState, key: str, messages: list[MailMessage]) -> None:
        """Mail in the background: a slow or failing SMTP server never holds up the case."""
        if messages:
            task.background.append(asyncio.create_task(self._deliver(task, key, messages)))

    async def _deliver(self, task: TaskState, key: str, messages: list[MailMessage]) -> None:
        try:
            await workflow.execute_activity_method(
                NotificationActivities.deliver,
                DeliverInput(messages=messages),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=MAIL_RETRY,
            )
        except ActivityError as err:
            await self._record_for(
                task,
                self.event(
                    "NotificationFailed",
                    {"key": key, "task_id": task.task_id, "error": str(err.cause or err), "recipients": [m.recipient_nip for m in messages]},
                )
            )

    async def _close_followers(self, task: TaskState) -> None:
        """A closed task needs no more reminders or mail, and its supervising tasks end with it."""
        # Cancelling lands only on timers and activities: never while an append is under way.
        await workflow.wait_condition(lambda: task.recording == 0)
        for job in task.background:
            if not job.done():
                job.cancel()
        open_supervisions = [t for t in self._tasks.values() if t.supervises == task.task_id and t.status in ("open", "claimed")]
        for sup in open_supervisions:
            sup.status = "cancelled"
        if open_supervisions:
            await self.record(
                *(
                    self.event(
                        "TaskCancelled", {"task_id": sup.task_id}, SYSTEM,
                        "Tugas yang dipantau sudah ditutup / the supervised task is closed",
                    )
                    for sup in open_supervisions
                )
            )

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

    def _acting_as(self, task: TaskState, actor: Actor, delegation: Delegation | None) -> Actor:
        """Whose authority is used: the actor's own, or that of the assignee who delegated to them (never second-hand)."""
        if actor.on_behalf_of is None:
            return actor
        d = delegation
        if d is None or d.acting_nip != actor.nip or d.principal_nip != actor.on_behalf_of:
            raise reject(
                ERR_FORBIDDEN,
                problem(None, "Tidak ada pelimpahan wewenang yang sah dari pegawai ini kepada Anda.", "No valid delegation from this person to you."),
            )
        if not dl.period_contains(d.starts_at, d.ends_at, workflow.now()):
            raise reject(ERR_FORBIDDEN, problem(None, "Masa pelimpahan wewenang tidak berlaku saat ini.", "The delegation is not in force now."))
        if not dl.scope_covers(d.processes, d.kinds, self.process, task.spec.kind):
            raise reject(
                ERR_FORBIDDEN, problem(None, "Pelimpahan wewenang tidak mencakup tugas ini.", "The delegation does not cover this task.")
            )
        if task.spec.subject_may_act:
            raise reject(ERR_FORBIDDEN, problem(None, "Tugas pribadi tidak dapat dilimpahkan.", "A personal task cannot be delegated."))
        if actor.nip == self._subject_nip:
            raise reject(
                ERR_FORBIDDEN,
                problem(None, "Tidak seorang pun boleh memutuskan perkaranya sendiri.", "Nobody may decide a task on their own case (rule: segregation of duties)."),
            )
        return Actor(nip=d.principal_nip, roles=list(d.principal_roles), unit=d.principal_unit)

    def _check_may_act(self, task: TaskState, actor: Actor, delegation: Delegation | None = None) -> None:
        """Assignee or candidate role in the unit (or their acting official); never on one's own case unless the task says so."""
        claimant, caller_tenant = actor.nip, actor.tenant
        actor = self._acting_as(task, actor, delegation)
        spec = task.spec
        if actor.nip is None:
            raise reject(ERR_FORBIDDEN, problem(None, "Pelaku tidak dikenal.", "Unknown actor."))
        if caller_tenant != case_prefix(self._case_id):
            raise reject(
                ERR_FORBIDDEN, problem(None, "Perkara ini milik instansi lain.", "This case belongs to another tenant."),
            )
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
        if task.claimed_by is not None and task.claimed_by != claimant:
            raise reject(ERR_CONFLICT, problem(None, "Tugas sedang diklaim pegawai lain.", "Another person has claimed this task."))

    def validate_decision_data(self, task: TaskState, decision: DecisionInput) -> list[dict[str, Any]]:
        """Kind-specific checks of a decision's data; processes override this."""
        return []

    def _result(self, task: TaskState, event_type: str, recorded: RecordResult) -> TaskActionResult:
        return TaskActionResult(
            task_id=task.task_id, status=task.status, event_type=event_type, position=recorded.positions[-1]
        )

    @staticmethod
    def _event_actor(actor: Actor, delegation: Delegation | None) -> Actor:
        """An acting official is recorded in their delegated capacity (role PLT/PLH/SUBSTITUTE, on behalf of)."""
        if actor.on_behalf_of is None or delegation is None:
            return actor
        return dataclasses.replace(actor, roles=[delegation.type, *actor.roles])

    @workflow.update
    async def claim(self, inp: ActingClaimInput) -> TaskActionResult:
        """Take a pool task so that others see it is being handled."""
        task = self._task(inp.task_id)
        self._check_open(task)  # a concurrent claim may have won since validation
        task.claimed_by, task.status = inp.actor.nip, "claimed"
        delegation = getattr(inp, "delegation", None)
        payload: dict[str, Any] = {"task_id": task.task_id, "claimed_by": inp.actor.nip}
        if delegation is not None and inp.actor.on_behalf_of:
            payload.update(on_behalf_of=inp.actor.on_behalf_of, delegation_id=delegation.delegation_id)
        recorded = await self.record(self.event("TaskClaimed", payload, self._event_actor(inp.actor, delegation)))
        return self._result(task, "TaskClaimed", recorded)

    @claim.validator
    def validate_claim(self, inp: ActingClaimInput) -> None:
        task = self._task(inp.task_id)
        self._check_open(task)
        self._check_may_act(task, inp.actor, getattr(inp, "delegation", None))
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
    async def decide(self, inp: ActingDecisionInput) -> TaskActionResult:
        """Record a person's decision (an acting official's: on behalf of the assignee); the waiting step then continues."""
        task = self._task(inp.task_id)
        self._check_open(task)  # two decisions accepted in one batch: only the first proceeds
        task.status = "deciding"
        delegation = getattr(inp, "delegation", None)
        payload: dict[str, Any] = {"task_id": task.task_id, "kind": task.spec.kind, "outcome": inp.outcome, "data": inp.data}
        if delegation is not None and inp.actor.on_behalf_of:
            payload.update(on_behalf_of=inp.actor.on_behalf_of, delegation_id=delegation.delegation_id)
        recorded = await self.record(
            self.event("TaskDecided", payload, self._event_actor(inp.actor, delegation), inp.reason)
        )
        task.decision, task.status = inp, "done"
        return self._result(task, "TaskDecided", recorded)

    @decide.validator
    def validate_decide(self, inp: ActingDecisionInput) -> None:
        task = self._task(inp.task_id)
        self._check_open(task)
        self._check_may_act(task, inp.actor, getattr(inp, "delegation", None))
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
        if not problems:
            # The kind's served form, as a validator too: the page cannot ask for less than is checked here.
            problems = decision_forms.check(task.spec.kind, inp.outcome, inp.data)
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
