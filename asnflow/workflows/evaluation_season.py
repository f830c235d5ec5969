"""The evaluation season's kick-off: one evaluation case for every active employee of a tenant."""

from datetime import timedelta

from temporalio import workflow

from asnflow.workflows.evaluation_common import READ_RETRY
from asnflow.workflows.human_tasks import CaseWorkflow

with workflow.unsafe.imports_passed_through():
    from asnflow.activities.evaluation import EvaluationActivities
    from asnflow.domain import evaluation as _evaluation_events  # noqa: F401 - registers the event types
    from asnflow.domain.tenancy import case_prefix
    from asnflow.workflows.contracts import CaseResult
    from asnflow.workflows.evaluation_contracts import SEASON_PROCESS, SeasonEmployeesInput, SeasonInput, StartCasesInput

__all__ = ["EvaluationSeasonWorkflow"]


@workflow.defn
class EvaluationSeasonWorkflow(CaseWorkflow):
    """The season kick-off: one evaluation case for every active employee; idempotent because case ids are natural keys."""

    process = SEASON_PROCESS

    @workflow.run
    async def run(self, inp: SeasonInput) -> CaseResult:
        self._init_case(inp.case_id, None)
        nips: list[str] = await workflow.execute_activity_method(
            EvaluationActivities.season_employees,
            SeasonEmployeesInput(year=inp.year, tenant_prefix=case_prefix(inp.case_id)),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=READ_RETRY,
        )
        await self.record(
            self.event("CaseOpened", {"subject_nip": None, "unit": None, "title": f"Musim evaluasi kinerja {inp.year}", "data": {"year": inp.year}}, inp.started_by),
            self.event("SeasonStarted", {"year": inp.year, "employees": len(nips)}, inp.started_by),
        )
        started = existing = 0
        failed: list[str] = []
        for i in range(0, len(nips), inp.batch_size):
            batch = nips[i : i + inp.batch_size]
            done = await workflow.execute_activity_method(
                EvaluationActivities.start_cases,
                StartCasesInput(
                    nips=batch, year=inp.year, started_by=inp.started_by, policy_overrides=inp.policy_overrides,
                    tenant_prefix=case_prefix(inp.case_id),
                ),
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(minutes=1),
                retry_policy=READ_RETRY,
            )
            started, existing, failed = started + done.started, existing + done.existing, failed + done.failed
            await self.record(
                self.event(
                    "SeasonCasesStarted",
                    {"started": done.started, "existing": done.existing, "failed": done.failed, "done": i + len(batch), "total": len(nips)},
                )
            )
        outcome = {"started": started, "existing": existing, "failed": len(failed), "total": len(nips)}
        await self.record(self.event("CaseClosed", {"status": "completed", "outcome": outcome}))
        return CaseResult(case_id=inp.case_id, status="completed", outcome=outcome)
