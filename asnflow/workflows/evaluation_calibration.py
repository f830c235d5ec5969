"""A unit's calibration for an SKP year: the organisation predicate, the quota check, the unit head's adjustments."""

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow

from asnflow.workflows.evaluation_common import HEAD_RATING_PATCH, READ_RETRY, assignee
from asnflow.workflows.human_tasks import CaseWorkflow, TaskSpec, TaskState

with workflow.unsafe.imports_passed_through():
    from asnflow.activities.evaluation import EvaluationActivities
    from asnflow.domain import evaluation as _evaluation_events  # noqa: F401 - registers the event types
    from asnflow.domain import performance
    from asnflow.domain.rules import EvaluationPolicy, due_working_days
    from asnflow.workflows.contracts import CaseResult, DecisionInput, NewEvent
    from asnflow.workflows.evaluation_contracts import (
        CALIBRATED_SIGNAL,
        CALIBRATION_CLOSED_SIGNAL,
        CALIBRATION_PROCESS,
        UNIT_RESULT_SIGNAL,
        CalibratedPredicate,
        CalibrationInput,
        MemberRating,
        UnitContextInput,
        UnitResult,
    )

__all__ = ["EvaluationCalibrationWorkflow"]

# Calibrations started before this change recorded a round in the same workflow task that gathered it.
ROUND_SETTLED_PATCH = "calibration-round-settled"


@workflow.defn
class EvaluationCalibrationWorkflow(CaseWorkflow):
    """One unit's calibration for a year: the organisation predicate, the quota check, the unit head's adjustments."""

    process = CALIBRATION_PROCESS

    def __init__(self) -> None:
        self._members: dict[str, MemberRating] = {}
        self._round: dict[str, MemberRating] = {}
        self._org: str | None = None
        self._finals: list[str] = []
        self._heads: list[str] = []  # unit heads' cases waiting for the organisation predicate
        self._told: set[str] = set()

    @workflow.signal
    def head_waiting(self, case_id: str) -> None:
        """The unit head's evaluation case waits for the organisation predicate (their work results)."""
        if case_id not in self._heads:
            self._heads.append(case_id)

    @workflow.signal
    def rating_submitted(self, member: MemberRating) -> None:
        """An evaluation case of the unit has its raw predicate and waits for calibration."""
        self._members.setdefault(member.case_id, member)

    @workflow.run
    async def run(self, inp: CalibrationInput) -> CaseResult:
        self._init_case(inp.case_id, None)
        policy = self._policy = inp.policy or EvaluationPolicy()
        self._tells_heads = workflow.patched(HEAD_RATING_PATCH)
        ctx = await workflow.execute_local_activity_method(
            EvaluationActivities.unit_context,
            UnitContextInput(unit=inp.unit, year=inp.year, calibration_case_id=inp.case_id),  # the id names the tenant
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=READ_RETRY,
        )
        self._finals = list(ctx.final_predicates)
        pending = [
            self.event(
                "CaseOpened",
                {"subject_nip": None, "unit": inp.unit, "title": f"Kalibrasi kinerja {inp.year} — {inp.unit}", "data": {"year": inp.year, "round": inp.round_no}},
            ),
            self.event(
                "CalibrationOpened",
                {"unit": inp.unit, "year": inp.year, "round": inp.round_no, "head_nip": ctx.head_nip, "leader_nip": ctx.leader_nip, "rules": policy.quota_rules},
            ),
        ]
        self._org = ctx.org_predicate
        if self._org is None:
            org = await self.human_task(
                TaskSpec(
                    kind="ORG_PREDICATE",
                    title=f"Tetapkan predikat kinerja organisasi {inp.unit} {inp.year}",
                    outcomes=["SET"],
                    due_working_days=due_working_days(policy.regulation, "ORG_PREDICATE"),
                    **assignee(ctx.leader_nip, inp.unit),
                ),
                *pending,
            )
            self._org = org.data["predicate"]
            pending = [
                self.event(
                    "OrganisationPredicateSet",
                    {"unit": inp.unit, "year": inp.year, "predicate": self._org, "set_by": org.actor.nip, "quota": performance.quota_text(self._org, policy.quota_rules)},
                    org.actor,
                    org.reason,
                )
            ]
        round_no = 0
        calibrated: set[str] = set()
        while True:
            if not await self._await_members(inp, ctx.head_nip, calibrated, pending):
                break  # opened by the head alone: nobody else in the unit to calibrate
            round_no += 1
            self._round = {cid: m for cid, m in self._members.items() if cid not in calibrated}
            if workflow.patched(ROUND_SETTLED_PATCH):
                # The round is made of signals and a view read in this workflow task. Recorded by the local
                # activity below in the same task, a retry of the task (worker crash, task timeout) would
                # rebuild it from whatever had arrived by then and record a different round at the same
                # version: CaseForked, the case stuck. A timer ends the task first, so the round is in the
                # history and a retry rebuilds this one; members signalling meanwhile join the next round.
                await asyncio.sleep(0.001)
            raws = [m.raw for m in self._round.values()]
            counts = performance.distribution([*self._finals, *raws])
            pending.append(
                self.event(
                    "CalibrationRoundOpened",
                    {
                        "round": round_no, "org_predicate": self._org,
                        "members": [{"case_id": m.case_id, "nip": m.nip, "raw": m.raw} for m in self._round.values()],
                        "distribution": counts, "quota_violations": performance.quota_violations(self._org, counts, policy.quota_rules),
                    },
                )
            )
            head = ctx.head_nip
            decision = await self.human_task(
                TaskSpec(
                    kind="CALIBRATION",
                    title=f"Kalibrasi predikat kinerja {inp.unit} {inp.year} ({len(self._round)} pegawai)",
                    outcomes=["CALIBRATED"],
                    due_working_days=due_working_days(policy.regulation, "CALIBRATION"),
                    assignee_nip=head,
                    candidate_role=None if head else "KEPALA_OPD",
                    unit=inp.unit,
                ),
                *pending,
            )
            pending = []
            _, result = self._check(decision.data)
            by_nip = {m.nip: m for m in self._round.values()}
            why = {a["nip"]: a["justification"] for a in result["adjustments"]}
            await self.record(
                self.event(
                    "UnitCalibrated",
                    {"unit": inp.unit, "year": inp.year, "round": round_no, "org_predicate": self._org, **result},
                    decision.actor,
                    result["quota_justification"] or decision.reason,
                )
            )
            sends = []
            for nip, pred in result["final"].items():
                member = by_nip[nip]
                handle = workflow.get_external_workflow_handle(member.case_id)
                sends.append(
                    handle.signal(
                        CALIBRATED_SIGNAL,
                        CalibratedPredicate(
                            calibration_case_id=self._case_id, predicate=pred, raw=member.raw, adjusted=nip in why,
                            justification=why.get(nip, ""), org_predicate=self._org,
                        ),
                    )
                )
            outcomes = await asyncio.gather(*sends, return_exceptions=True)
            failed = [m.case_id for m, o in zip(self._round.values(), outcomes, strict=True) if isinstance(o, BaseException)]
            self._finals.extend(result["final"].values())
            calibrated.update(self._round)
            pending.append(self.event("CalibrationResultSent", {"round": round_no, "sent": len(outcomes) - len(failed), "failed": failed}))
            if set(self._members) <= calibrated:
                break
        if self._tells_heads:
            await self._tell_heads(pending)  # a head who asked during the last round
        counts = performance.distribution(self._finals)
        outcome = {"org_predicate": self._org, "distribution": counts, "calibrated": len(calibrated)}
        await self.record(*pending, self.event("CaseClosed", {"status": "completed", "outcome": outcome}))
        if self._tells_heads:
            await self._answer_late(calibrated)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseResult(case_id=inp.case_id, status="completed", outcome=outcome)

    async def _answer_late(self, calibrated: set[str]) -> None:
        """Signals that arrived while the case closed: members join the next round, heads get the predicate."""
        # A signal that reaches a workflow before it completes is delivered (the completion waits for
        # it), but this case's chain is closed: without an answer the sender would wait for a timer. One
        # answer per member is enough: a member told "closed" rejoins past this round, never signalling it again.
        answered: set[str] = set()
        while True:
            late = [c for c in self._members if c not in calibrated and c not in answered]
            heads = [c for c in self._heads if c not in self._told]
            if not late and not heads:
                return
            answered.update(late)
            self._told.update(heads)
            result = UnitResult(calibration_case_id=self._case_id, org_predicate=self._org or "")
            await asyncio.gather(
                *(workflow.get_external_workflow_handle(c).signal(CALIBRATION_CLOSED_SIGNAL, self._case_id) for c in late),
                *(workflow.get_external_workflow_handle(c).signal(UNIT_RESULT_SIGNAL, result) for c in heads if self._org),
                return_exceptions=True,
            )

    async def _tell_heads(self, pending: list[NewEvent]) -> None:
        """Send the organisation predicate to the unit heads' cases waiting for it."""
        new = [c for c in self._heads if c not in self._told]
        if not new or self._org is None:
            return
        self._told.update(new)
        result = UnitResult(calibration_case_id=self._case_id, org_predicate=self._org)
        await asyncio.gather(
            *(workflow.get_external_workflow_handle(c).signal(UNIT_RESULT_SIGNAL, result) for c in new),
            return_exceptions=True,  # a case closed meanwhile needs nothing
        )
        pending.append(self.event("UnitHeadsInformed", {"org_predicate": self._org, "case_ids": new}))

    async def _await_members(self, inp: CalibrationInput, head: str | None, calibrated: set[str], pending: list[NewEvent]) -> bool:
        """Wait until every open case of the unit (from the view) has reported its raw predicate; False: none will."""
        while True:
            if self._tells_heads:
                await self._tell_heads(pending)
            expected = await workflow.execute_local_activity_method(
                EvaluationActivities.unit_cases,
                UnitContextInput(unit=inp.unit, year=inp.year, calibration_case_id=self._case_id, exclude_nip=head),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=READ_RETRY,
            )
            missing = lambda: [c for c in expected if c not in self._members and c not in calibrated]  # noqa: E731
            ready = lambda: not missing() and any(c not in calibrated for c in self._members)  # noqa: E731
            if self._tells_heads and not expected and not self._members and self._told:
                return False
            untold = lambda: self._tells_heads and any(c not in self._told for c in self._heads)  # noqa: E731
            try:
                # Cases withdrawn meanwhile leave the view's open list: refresh it now and then.
                await workflow.wait_condition(lambda: ready() or untold(), timeout=timedelta(hours=6))
                if ready():
                    return True
            except asyncio.TimeoutError:
                continue

    def _check(self, data: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, Any]]:
        raws = {m.nip: m.raw for m in self._round.values()}
        return performance.validate_calibration(data, raws, self._org or "", self._finals, self._policy.quota_rules)

    def validate_decision_data(self, task: TaskState, decision: DecisionInput) -> list[dict[str, Any]]:
        """The organisation predicate's value; a calibration within quota, or with a written justification."""
        if task.spec.kind == "ORG_PREDICATE":
            return performance.validate_org_predicate_data(decision.data)
        if task.spec.kind == "CALIBRATION":
            return self._check(decision.data)[0]
        return []
