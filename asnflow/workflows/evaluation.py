"""The minimal annual evaluation (PermenPANRB 6/2022): SKP, agreement, rating, predicate."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from asnflow.workflows.human_tasks import CaseWorkflow, TaskCancelledError, TaskSpec, TaskState

with workflow.unsafe.imports_passed_through():
    from asnflow.activities.recording import DirectoryActivities
    from asnflow.domain import performance
    from asnflow.domain.rules import EVALUATION_REGULATION, due_working_days
    from asnflow.workflows.contracts import (
        SYSTEM,
        CaseResult,
        DecisionInput,
        LookupEmployeeInput,
        StartEvaluationInput,
    )


def evaluation_case_id(nip: str, year: int) -> str:
    """One evaluation per employee per year: the natural key is the case (and workflow) id."""
    return f"evaluation-{year}-{nip}"


@workflow.defn
class EvaluationWorkflow(CaseWorkflow):
    process = "evaluation"

    @workflow.run
    async def run(self, inp: StartEvaluationInput) -> CaseResult:
        self._init_case(inp.case_id, inp.nip)
        employee = await workflow.execute_activity_method(
            DirectoryActivities.lookup_employee,
            LookupEmployeeInput(nip=inp.nip),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30), non_retryable_error_types=["NotFound"]),
        )
        regulation = EVALUATION_REGULATION
        appraiser = employee.atasan_nip
        opened = [
            self.event(
                "CaseOpened",
                {
                    "subject_nip": employee.nip,
                    "unit": employee.unit,
                    "title": f"Evaluasi kinerja {inp.year} — {employee.nama}",
                    "data": {"year": inp.year},
                },
                inp.started_by,
            ),
            self.event(
                "EvaluationStarted",
                {"nip": employee.nip, "year": inp.year, "appraiser_nip": appraiser, "regulation": regulation},
                inp.started_by,
            ),
        ]
        if appraiser is None:
            await self.record(
                *opened,
                self.event("CaseClosed", {"status": "rejected", "outcome": {}}, SYSTEM, "no direct superior in the directory"),
            )
            return CaseResult(case_id=inp.case_id, status="rejected")

        def spec(kind: str, title: str, assignee: str, outcomes: list[str], **kw: Any) -> TaskSpec:
            return TaskSpec(
                kind=kind,
                title=title,
                outcomes=outcomes,
                due_working_days=due_working_days(regulation, kind),
                assignee_nip=assignee,
                unit=employee.unit,
                **kw,
            )

        try:
            before = opened
            while True:
                draft = await self.human_task(
                    spec("SKP_DRAFT", f"Susun SKP {inp.year}", employee.nip, ["SUBMITTED"], subject_may_act=True),
                    *before,
                )
                agreement = await self.human_task(
                    spec(
                        "SKP_AGREEMENT",
                        f"Setujui SKP {inp.year} — {employee.nama}",
                        appraiser,
                        ["AGREED", "RETURNED"],
                        reason_required_for=["RETURNED"],
                    ),
                    self.event("SkpDrafted", {"targets": draft.data["targets"]}, draft.actor, draft.reason),
                )
                if agreement.outcome == "AGREED":
                    break
                before = [self.event("SkpReturned", {"returned_by": agreement.actor.nip}, agreement.actor, agreement.reason)]

            rating = await self.human_task(
                spec("RATING", f"Nilai kinerja {inp.year} — {employee.nama}", appraiser, ["SUBMITTED"]),
                self.event("SkpAgreed", {"agreed_by": agreement.actor.nip}, agreement.actor, agreement.reason),
            )
            hasil, perilaku = rating.data["hasil_kerja"], rating.data["perilaku_kerja"]
            predicate = performance.predicate(hasil, perilaku, regulation)
            ack = await self.human_task(
                spec("ACKNOWLEDGEMENT", f"Terima hasil evaluasi {inp.year}", employee.nip, ["ACKNOWLEDGED"], subject_may_act=True),
                self.event("RatingSubmitted", {"hasil_kerja": hasil, "perilaku_kerja": perilaku}, rating.actor, rating.reason),
                self.event(
                    "PredicateDetermined",
                    {"predicate": predicate, "regulation": regulation, "hasil_kerja": hasil, "perilaku_kerja": perilaku},
                ),
            )
            await self.record(
                self.event("EvaluationAcknowledged", {"acknowledged_by": ack.actor.nip}, ack.actor, ack.reason),
                self.event("CaseClosed", {"status": "completed", "outcome": {"predicate": predicate}}),
            )
            status, outcome = "completed", {"predicate": predicate}
        except TaskCancelledError as cancelled:
            await self.record(self.event("CaseClosed", {"status": "cancelled", "outcome": {}}, SYSTEM, f"task {cancelled} cancelled"))
            status, outcome = "cancelled", {}
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseResult(case_id=inp.case_id, status=status, outcome=outcome)

    def validate_decision_data(self, task: TaskState, decision: DecisionInput) -> list[dict[str, Any]]:
        """SKP drafts need targets; ratings need both scales."""
        if task.spec.kind == "SKP_DRAFT":
            return performance.validate_skp_data(decision.data)
        if task.spec.kind == "RATING":
            return performance.validate_rating_data(decision.data)
        return []
