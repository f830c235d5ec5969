"""A one-task process for testing the shared deadline mechanics apart from any real process's flow."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from asnflow.workflows.human_tasks import CaseWorkflow, TaskCancelledError, TaskSpec

with workflow.unsafe.imports_passed_through():
    from asnflow.workflows.contracts import CaseResult


@dataclass
class ProbeInput:
    case_id: str
    subject_nip: str
    kind: str
    working_days: int
    assignee_nip: str | None = None
    candidate_role: str | None = None
    unit: str | None = None
    subject_may_act: bool = False


@workflow.defn
class DeadlineProbeWorkflow(CaseWorkflow):
    """Opens one task of the given kind and closes the case with its decision."""

    process = "probe"

    @workflow.run
    async def run(self, inp: ProbeInput) -> CaseResult:
        self._init_case(inp.case_id, inp.subject_nip)
        spec = TaskSpec(
            kind=inp.kind, title=f"Uji tenggat {inp.kind}", outcomes=["AGREED", "RETURNED"], due_working_days=inp.working_days,
            assignee_nip=inp.assignee_nip, candidate_role=inp.candidate_role, unit=inp.unit, subject_may_act=inp.subject_may_act,
        )
        opened = self.event("CaseOpened", {"subject_nip": inp.subject_nip, "unit": inp.unit, "title": spec.title, "data": {}})
        try:
            decision = await self.human_task(spec, opened)
            outcome = {"outcome": decision.outcome, "by": decision.actor.nip, "on_behalf_of": decision.actor.on_behalf_of}
            status = "completed"
        except TaskCancelledError:
            outcome, status = {}, "cancelled"
        await self.record(self.event("CaseClosed", {"status": status, "outcome": outcome}))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseResult(case_id=inp.case_id, status=status, outcome=outcome)


def probe_worker(client: Client, settings: object, store: object, executor: ThreadPoolExecutor, *, cold: bool = False) -> Worker:
    """The deadline workflows, the probe and their activities; `cold`: no workflow cache, every task replays the history as after a restart."""
    from asnflow.activities.notifications import notification_activities
    from asnflow.activities.recording import CalendarActivities, DirectoryActivities, RecordingActivities
    from asnflow.workflows.schedules import DEADLINE_WORKFLOWS

    recording = RecordingActivities(store)  # type: ignore[arg-type]
    return Worker(
        client,
        task_queue=settings.task_queue,  # type: ignore[attr-defined]
        workflows=[DeadlineProbeWorkflow, *DEADLINE_WORKFLOWS],
        activities=[
            recording.record_events,
            recording.open_task,
            DirectoryActivities(settings.database_url).lookup_employee,  # type: ignore[attr-defined]
            CalendarActivities().due_date,
            *notification_activities(settings),
        ],
        activity_executor=executor,
        max_concurrent_activities=6,
        # Without a cache there is no sticky queue either: a stopped worker leaves no task stranded on it.
        max_cached_workflows=0 if cold else 1000,
    )


DEADLINE_VIEWS = ("employees", "cases", "tasks", "notifications", "delegations")


def prepare_views(settings: object, names: tuple[str, ...] = DEADLINE_VIEWS) -> None:
    """Like tests.support.prepare_database, limited to the views these tests read (other views are not their concern)."""
    from asnflow.activities.eventstore import EventStore
    from asnflow.projections.runner import open_view, rebuild
    from asnflow.runtime.cli import seed_demo

    env = settings.store_env()  # type: ignore[attr-defined]
    EventStore(env=env).close()
    for name in names:
        open_view(name, env).datastore.close()
    seed_demo(settings)  # type: ignore[arg-type]
    rebuild(env, "employees")
