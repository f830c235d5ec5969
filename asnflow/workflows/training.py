"""Competency development (PP 11/2017 arts. 203–207): the yearly cycle, enrolments and Latsar for CPNS."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from asnflow.workflows.human_tasks import MAIL_RETRY, CaseWorkflow, TaskCancelledError, TaskSpec, TaskState, problem, reject

with workflow.unsafe.imports_passed_through():
    from asnflow.activities.documents import DocumentActivities
    from asnflow.activities.notifications import NotificationActivities
    from asnflow.activities.recording import DirectoryActivities
    from asnflow.activities.training import TrainingActivities
    from asnflow.domain import training as tr
    from asnflow.workflows.contracts import (
        ERR_CONFLICT,
        ERR_FORBIDDEN,
        ERR_INVALID,
        SYSTEM,
        Actor,
        CaseResult,
        ClaimDocumentInput,
        DecisionInput,
        LookupEmployeeInput,
        NewEvent,
    )
    from asnflow.workflows.training_contracts import (
        AmendPlanInput,
        BudgetSignal,
        CycleState,
        EvidenceInput,
        FindEvidenceInput,
        HoldBudgetInput,
        HoldBudgetResult,
        JpReminderMailInput,
        JpTallyInput,
        NeedsAnalysisInput,
        RescheduleInput,
        StartCycleInput,
        StartEnrolmentInput,
        StartLatsarInput,
        TrainingActionResult,
        TrainingSchedule,
        UnitHeadInput,
        cycle_case_id,
    )

READ_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), non_retryable_error_types=["NotFound"])
READ_TIMEOUT = timedelta(minutes=2)
# A duplicate check inside an Update must answer soon: the caller is waiting.
CHECK_RETRY = RetryPolicy(maximum_attempts=3)
# Histories recorded before evidence files were claimed replay without the claim.
CLAIM_EVIDENCE_PATCH = "evidence-claim-v1"
# Histories recorded before the Q4 reminders were mailed replay without the mail.
JP_MAIL_PATCH = "jp-reminder-mail-v1"


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def _spec(rules: tr.TrainingRules, kind: str, title: str, outcomes: list[str], **kw: Any) -> TaskSpec:
    return TaskSpec(kind=kind, title=title, outcomes=outcomes, due_working_days=rules.due_working_days[kind], **kw)


def _conflict(message_id: str, message_en: str) -> Exception:
    return reject(ERR_CONFLICT, problem(None, message_id, message_en))


@workflow.defn
class TrainingWorkflow(CaseWorkflow):
    """One year: needs analysis, the plan (BKPSDM drafts, PPK approves, amendments), its budget, Q4 reminders, the report."""

    process = tr.PROCESS

    def __init__(self) -> None:
        self._st: CycleState | None = None
        self._amendment: tuple[AmendPlanInput, dict[str, Any]] | None = None
        self._amending = False
        self._wake = False
        self._ops = 0
        self._max_ops = 2000
        self._year = 0

    @workflow.run
    async def run(self, inp: StartCycleInput) -> CaseResult:
        self._init_case(inp.case_id, None)
        self._year, self._rules, self._max_ops = inp.year, tr.rules_for(inp.rules_version), inp.max_ops_per_run
        self._courses = tr.catalogue(self._rules)
        if inp.state is None:
            reminders, report_at = tr.default_schedule(inp.year, self._rules)
            st = CycleState(schedule=inp.schedule or TrainingSchedule(reminders, report_at))
        else:
            st = inp.state
            self._version, self._last_hash, self._task_seq = st.version, st.last_hash, st.task_seq
        self._st = st
        if st.phase == "drafting":
            try:
                await self._draft_plan(inp)
            except TaskCancelledError as cancelled:
                st.phase = "closed"
                await self.record(self.event("CaseClosed", {"status": "cancelled", "outcome": {}}, SYSTEM, f"task {cancelled} cancelled"))
                return CaseResult(case_id=inp.case_id, status="cancelled")
        asyncio.create_task(self._amendments())  # noqa: RUF006 - lives as long as the run
        while st.phase == "running":
            now = workflow.now()
            due = [r for r in st.schedule.reminders if r not in st.schedule.done and _at(r) <= now]
            if due:
                await self._remind(due)
                continue
            if _at(st.schedule.report_at) <= now:
                st.phase = "reporting"
                break
            if self._idle() and (self._ops >= self._max_ops or workflow.info().is_continue_as_new_suggested()):
                await workflow.wait_condition(workflow.all_handlers_finished)
                if self._idle():
                    st.version, st.last_hash, st.task_seq = self._version, self._last_hash, self._task_seq
                    workflow.continue_as_new(dataclasses.replace(inp, state=st, schedule=None, assessments={}))
            upcoming = [_at(r) for r in st.schedule.reminders if r not in st.schedule.done] + [_at(st.schedule.report_at)]
            self._wake = False
            try:
                await workflow.wait_condition(
                    lambda: self._wake or (self._idle() and workflow.info().is_continue_as_new_suggested()),
                    timeout=min(upcoming) - now,
                )
            except TimeoutError:
                pass
        return await self._report(inp)

    def _idle(self) -> bool:
        return self._amendment is None and not self._amending

    def _count_op(self) -> None:
        self._ops += 1
        if self._ops >= self._max_ops:
            self._wake = True

    async def _draft_plan(self, inp: StartCycleInput) -> None:
        """Needs analysis, then BKPSDM drafts and the PPK approves (or returns) the year's plan."""
        st, year, rules = self._st, inp.year, self._rules
        assert st is not None
        await self.record(
            self.event(
                "CaseOpened",
                {
                    "subject_nip": None, "unit": tr.HR_UNIT,
                    "title": f"Pengembangan kompetensi {year} / Competency development {year}",
                    "data": {"year": year, "kind": "cycle"},
                },
                inp.started_by,
            ),
            self.event(
                "TrainingCycleStarted",
                {
                    "year": year, "rules": rules.version, "min_jp": rules.min_jp_per_year, "assessed": sorted(inp.assessments),
                    "schedule": {"reminders": st.schedule.reminders, "report_at": st.schedule.report_at},
                },
                inp.started_by,
            ),
        )
        needs = await workflow.execute_activity_method(
            TrainingActivities.analyse_needs,
            NeedsAnalysisInput(year=year, rules_version=rules.version, assessments=inp.assessments),
            start_to_close_timeout=READ_TIMEOUT,
            retry_policy=READ_RETRY,
        )
        before = [
            self.event(
                "TrainingNeedsAnalysed",
                {"year": year, "unit": u["unit"], "summary": u["summary"], "employees": u["employees"], "predicate_years": needs.predicate_years},
            )
            for u in needs.units
        ]
        while True:
            draft = await self.human_task(
                _spec(rules, "TRAINING_PLAN_DRAFT", f"Susun rencana pengembangan kompetensi {year} / Draft the {year} plan",
                      ["SUBMITTED"], candidate_role="BKPSDM", unit=tr.HR_UNIT),
                *before,
            )
            plan, _ = tr.normalise_plan(draft.data, self._courses, rules)
            approval = await self.human_task(
                _spec(rules, "TRAINING_PLAN_APPROVAL", f"Tetapkan rencana pengembangan kompetensi {year} / Approve the {year} plan",
                      ["APPROVED", "RETURNED"], candidate_role="BUPATI", reason_required_for=["RETURNED"]),
                self.event("TrainingPlanDrafted", {"version": 1, **plan}, draft.actor, draft.reason),
            )
            if approval.outcome == "APPROVED":
                break
            before = [self.event("TrainingPlanReturned", {"version": 1, "returned_by": approval.actor.nip}, approval.actor, approval.reason)]
        await self.record(self.event("TrainingPlanApproved", {"version": 1, **plan, "approved_by": approval.actor.nip}, approval.actor, approval.reason))
        st.plan, st.plan_version, st.phase = plan, 1, "running"

    async def _remind(self, due: list[str]) -> None:
        """Remind everyone below the yearly JP and their heads (moments passed together make one reminder)."""
        st = self._st
        assert st is not None
        shortfalls = await workflow.execute_activity_method(
            TrainingActivities.jp_shortfalls,
            JpTallyInput(year=self._year, min_jp=self._rules.min_jp_per_year),
            start_to_close_timeout=READ_TIMEOUT,
            retry_policy=READ_RETRY,
        )
        st.schedule.done.extend(due)
        key = f"training-jp:{self._year}:{due[-1]}"
        mailed = workflow.patched(JP_MAIL_PATCH)
        payload: dict[str, Any] = {
            "year": self._year, "scheduled_for": due[-1], "folded": due[:-1], "min_jp": self._rules.min_jp_per_year,
            "employees": shortfalls.employees, "heads": shortfalls.heads,
        }
        if mailed:
            payload["key"] = key
        await self.record(self.event("JpShortfallReminded", payload))
        if mailed:
            await self._mail_reminder(key, due[-1], shortfalls)

    async def _mail_reminder(self, key: str, scheduled_for: str, shortfalls: Any) -> None:
        """The reminder through the outbox: retried for hours (each key sent once), then recorded as failed."""
        try:
            await workflow.execute_activity_method(
                NotificationActivities.send_jp_reminders,
                JpReminderMailInput(
                    key=key, year=self._year, min_jp=self._rules.min_jp_per_year, scheduled_for=scheduled_for,
                    employees=shortfalls.employees, heads=shortfalls.heads,
                ),
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=MAIL_RETRY,
            )
        except ActivityError as err:
            recipients = [e["nip"] for e in shortfalls.employees] + [h["nip"] for h in shortfalls.heads]
            await self.record(
                self.event("NotificationFailed", {"key": key, "task_id": None, "error": str(err.cause or err), "recipients": recipients})
            )

    async def _report(self, inp: StartCycleInput) -> CaseResult:
        """The year-end compliance report per unit, with the budget's plan against its use; then the case closes."""
        st = self._st
        assert st is not None
        figures = await workflow.execute_activity_method(
            TrainingActivities.compliance,
            JpTallyInput(year=self._year, min_jp=self._rules.min_jp_per_year),
            start_to_close_timeout=READ_TIMEOUT,
            retry_policy=READ_RETRY,
        )
        await self.record(
            self.event(
                "ComplianceReportIssued",
                {
                    "year": self._year, "min_jp": self._rules.min_jp_per_year, "units": figures.units, "overall": figures.overall,
                    "courses": figures.courses, "budget": tr.budget_by_unit(st.plan, st.ledger), "plan_version": st.plan_version,
                },
            )
        )
        # An amendment still before the PPK is decided first, so the case never closes under an open task.
        await workflow.wait_condition(self._idle)
        st.phase = "closed"
        outcome = {"compliance_pct": figures.overall["pct"], "employees": figures.overall["employees"], "compliant": figures.overall["compliant"]}
        await self.record(self.event("CaseClosed", {"status": "completed", "outcome": outcome}))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseResult(case_id=inp.case_id, status="completed", outcome=outcome)

    async def _amendments(self) -> None:
        """Each amendment BKPSDM proposes goes to the PPK; an approved one becomes the plan's next version."""
        st = self._st
        assert st is not None
        while True:
            await workflow.wait_condition(lambda: self._amendment is not None)
            assert self._amendment is not None
            proposal, plan = self._amendment
            self._amending = True
            version = st.plan_version + 1
            actor, reason = SYSTEM, ""
            try:
                approval = await self.human_task(
                    _spec(self._rules, "TRAINING_AMENDMENT_APPROVAL",
                          f"Tetapkan perubahan rencana {self._year} (versi {version}) / Approve plan amendment {version}",
                          ["APPROVED", "RETURNED"], candidate_role="BUPATI", reason_required_for=["RETURNED"])
                )
                outcome, actor, reason = approval.outcome, approval.actor, approval.reason
            except TaskCancelledError:
                outcome, reason = "RETURNED", "task cancelled"
            # Enrolments may have taken budget while the PPK considered it.
            problems = tr.check_amendment(plan, st.ledger) if outcome == "APPROVED" else []
            if outcome == "APPROVED" and not problems:
                st.plan, st.plan_version = plan, version
                await self.record(self.event("TrainingPlanAmended", {"version": version, **plan, "approved_by": actor.nip}, actor, reason))
            else:
                if problems:
                    actor, reason = SYSTEM, "; ".join(p["en"] for p in problems)
                await self.record(
                    self.event("TrainingPlanAmendmentReturned", {"version": version, "returned_by": actor.nip, "problems": problems}, actor, reason)
                )
            self._amendment, self._amending = None, False
            self._wake = True

    # --- the budget ledger --------------------------------------------------------------------
    def _hold_problems(self, inp: HoldBudgetInput) -> tuple[str, list[dict[str, Any]]]:
        st = self._st
        if st is None or st.phase == "drafting":
            return ERR_CONFLICT, [problem(None, f"Rencana pengembangan kompetensi {self._year} belum ditetapkan PPK.",
                                          "This year's development plan has not been approved by the PPK yet.")]
        if st.phase != "running":
            return ERR_CONFLICT, [problem(None, "Tahun pengembangan kompetensi ini sudah ditutup.", "This development year is closed.")]
        if inp.actor.nip is None:
            return ERR_FORBIDDEN, [problem(None, "Pelaku tidak dikenal.", "Unknown actor.")]
        if st.ledger.get(inp.enrolment_id, {}).get("status", "released") != "released":
            return ERR_CONFLICT, [problem(None, "Usulan ini sudah tercatat.", "This enrolment has already been proposed.")]
        return ERR_INVALID, tr.check_hold(st.plan, st.ledger, inp.unit, inp.course, self._courses)

    @workflow.update
    async def hold_budget(self, inp: HoldBudgetInput) -> HoldBudgetResult:
        """Reserve an enrolment's place and cost in the plan; refused, with nothing recorded, when over the plan."""
        kind, problems = self._hold_problems(inp)  # again: another hold may have taken the budget since validation
        if problems:
            raise reject(kind, *problems)
        st = self._st
        assert st is not None
        amount = self._courses[inp.course].cost
        st.ledger[inp.enrolment_id] = {"nip": inp.nip, "unit": inp.unit, "course": inp.course, "amount": amount, "status": "held"}
        self._count_op()
        left = tr.remaining(st.plan, st.ledger, inp.unit)
        recorded = await self.record(
            self.event(
                "TrainingBudgetHeld",
                {
                    "enrolment_id": inp.enrolment_id, "nip": inp.nip, "unit": inp.unit, "course": inp.course, "amount": amount,
                    "remaining": left, "plan_version": st.plan_version,
                },
                inp.actor,
            )
        )
        return HoldBudgetResult(inp.enrolment_id, amount, left, st.plan_version, st.schedule.report_at, recorded.positions[-1])

    @hold_budget.validator
    def validate_hold_budget(self, inp: HoldBudgetInput) -> None:
        kind, problems = self._hold_problems(inp)
        if problems:
            raise reject(kind, *problems)

    @workflow.signal
    async def commit_budget(self, sig: BudgetSignal) -> None:
        """A validated enrolment's held amount becomes committed."""
        await self._settle(sig, ("held",), "committed", "TrainingBudgetCommitted")

    @workflow.signal
    async def release_budget(self, sig: BudgetSignal) -> None:
        """A rejected, lapsed or withdrawn enrolment gives its amount back."""
        await self._settle(sig, ("held", "committed"), "released", "TrainingBudgetReleased")

    async def _settle(self, sig: BudgetSignal, allowed: tuple[str, ...], to: str, event_type: str) -> None:
        st = self._st
        entry = st.ledger.get(sig.enrolment_id) if st is not None else None
        # Unknown, already settled, or after the year closed (its report froze the ledger): nothing changes.
        if st is None or entry is None or st.phase == "closed" or entry["status"] not in allowed:
            return
        was, entry["status"] = entry["status"], to
        self._count_op()
        await self.record(
            self.event(
                event_type,
                {"enrolment_id": sig.enrolment_id, "unit": entry["unit"], "course": entry["course"], "amount": entry["amount"], "was": was},
                sig.actor,
                sig.reason,
            )
        )

    # --- amendments and the schedule -----------------------------------------------------------
    def _bkpsdm_while_running(self, actor: Actor, reason: str) -> None:
        if self._st is None or self._st.phase != "running":
            raise _conflict("Rencana tahun ini belum ditetapkan atau tahunnya sudah ditutup.", "This year's plan is not in force (not yet approved, or closed).")
        if not ({"BKPSDM", "ADMIN"} & set(actor.roles)):
            raise reject(ERR_FORBIDDEN, problem(None, "Hanya BKPSDM yang boleh mengubah rencana atau jadwal.", "Only BKPSDM may change the plan or the schedule."))
        if not reason.strip():
            raise reject(ERR_INVALID, problem("reason", "Alasan perubahan wajib diisi.", "A reason for the change is required."))

    def _amendment_plan(self, inp: AmendPlanInput) -> dict[str, Any]:
        self._bkpsdm_while_running(inp.actor, inp.reason)
        if not self._idle():
            raise _conflict("Perubahan sebelumnya masih menunggu keputusan PPK.", "An earlier amendment is still waiting for the PPK.")
        plan, problems = tr.normalise_plan(inp.plan, self._courses, self._rules)
        assert self._st is not None
        problems = problems or tr.check_amendment(plan, self._st.ledger)
        if problems:
            raise reject(ERR_INVALID, *problems)
        return plan

    @workflow.update
    async def propose_amendment(self, inp: AmendPlanInput) -> TrainingActionResult:
        """BKPSDM proposes the plan's next version; the PPK approves it as a task."""
        plan = self._amendment_plan(inp)
        assert self._st is not None
        self._amendment = (inp, plan)
        recorded = await self.record(
            self.event("TrainingPlanAmendmentProposed", {"version": self._st.plan_version + 1, **plan}, inp.actor, inp.reason)
        )
        return TrainingActionResult(self._case_id, "TrainingPlanAmendmentProposed", recorded.positions[-1])

    @propose_amendment.validator
    def validate_propose_amendment(self, inp: AmendPlanInput) -> None:
        self._amendment_plan(inp)

    def _check_schedule(self, inp: RescheduleInput) -> None:
        self._bkpsdm_while_running(inp.actor, inp.reason)
        problems = tr.validate_schedule(self._year, inp.reminders, inp.report_at, workflow.now())
        if problems:
            raise reject(ERR_INVALID, *problems)

    @workflow.update
    async def reschedule(self, inp: RescheduleInput) -> TrainingActionResult:
        """BKPSDM sets the year's remaining reminder moments and the report moment."""
        self._check_schedule(inp)
        assert self._st is not None
        self._st.schedule = TrainingSchedule(reminders=list(inp.reminders), report_at=inp.report_at)
        self._wake = True
        recorded = await self.record(
            self.event("TrainingScheduleChanged", {"reminders": inp.reminders, "report_at": inp.report_at}, inp.actor, inp.reason)
        )
        return TrainingActionResult(self._case_id, "TrainingScheduleChanged", recorded.positions[-1])

    @reschedule.validator
    def validate_reschedule(self, inp: RescheduleInput) -> None:
        self._check_schedule(inp)

    def validate_decision_data(self, task: TaskState, decision: DecisionInput) -> list[dict[str, Any]]:
        """A drafted plan must be well formed and within its budgets."""
        if task.spec.kind == "TRAINING_PLAN_DRAFT":
            return tr.normalise_plan(decision.data, self._courses, self._rules)[1]
        return []


@workflow.defn
class TrainingEnrolmentWorkflow(CaseWorkflow):
    """One employee in one course: proposal, OPD head's recommendation, BKPSDM validation, evidence, JP, evaluation."""

    process = tr.PROCESS

    def __init__(self) -> None:
        self._stage = "starting"  # starting | awaiting_evidence | checking | verifying | credited
        self._evidence: dict[str, Any] | None = None
        self._rejected_hashes: list[str] = []

    @workflow.run
    async def run(self, inp: StartEnrolmentInput) -> CaseResult:
        self._init_case(inp.case_id, inp.nip)
        self._inp, self._rules = inp, tr.rules_for(inp.rules_version)
        course = self._course = tr.catalogue(self._rules)[inp.course]
        form = tr.FORMS[course.form]
        self._funded = form.funded
        employee = await workflow.execute_activity_method(
            DirectoryActivities.lookup_employee, LookupEmployeeInput(nip=inp.nip), start_to_close_timeout=READ_TIMEOUT, retry_policy=READ_RETRY
        )
        head = await workflow.execute_activity_method(
            TrainingActivities.unit_head, UnitHeadInput(unit=employee.unit), start_to_close_timeout=READ_TIMEOUT, retry_policy=READ_RETRY
        )
        self._unit = employee.unit
        rules, nama = self._rules, employee.nama
        opened = [
            self.event(
                "CaseOpened",
                {
                    "subject_nip": inp.nip, "unit": employee.unit, "title": f"{course.title_id} — {nama}",
                    "data": {"year": inp.year, "kind": "enrolment", "course": course.code, "form": course.form.value},
                },
                inp.proposed_by,
            ),
            self.event(
                "EnrolmentProposed",
                {
                    "nip": inp.nip, "unit": employee.unit, "year": inp.year, "course": course.code, "form": course.form.value,
                    "method": course.method, "jp": course.jp, "cost": inp.amount, "funded": form.funded,
                    "plan_version": inp.plan_version, "proposed_by": inp.proposed_by.nip, "motivation": inp.motivation,
                },
                inp.proposed_by,
            ),
        ]
        credited = False
        try:
            if head is not None and head != inp.nip and inp.proposed_by.nip == head:
                before = [*opened, self.event("EnrolmentRecommended", {"recommended_by": head, "implied": True}, inp.proposed_by)]
            else:
                # The OPD head recommends; when the head is the participant, their own superior does.
                recommender = head if head is not None and head != inp.nip else employee.atasan_nip
                if recommender is None:
                    return await self._close("rejected", opened, "no OPD head or superior to recommend", release=True)
                rec = await self.human_task(
                    _spec(rules, "TRAINING_RECOMMENDATION", f"Rekomendasi pelatihan: {course.title_id} — {nama}",
                          ["RECOMMENDED", "NOT_RECOMMENDED"], assignee_nip=recommender, unit=employee.unit,
                          reason_required_for=["NOT_RECOMMENDED"]),
                    *opened,
                )
                if rec.outcome == "NOT_RECOMMENDED":
                    return await self._close(
                        "rejected", [self.event("EnrolmentNotRecommended", {"by": rec.actor.nip}, rec.actor, rec.reason)],
                        rec.reason, release=True, actor=rec.actor,
                    )
                before = [self.event("EnrolmentRecommended", {"recommended_by": rec.actor.nip, "implied": False}, rec.actor, rec.reason)]
            validation = await self.human_task(
                _spec(rules, "TRAINING_VALIDATION", f"Validasi pelatihan: {course.title_id} — {nama}",
                      ["VALIDATED", "REJECTED"], candidate_role="BKPSDM", unit=tr.HR_UNIT, reason_required_for=["REJECTED"]),
                *before,
            )
            if validation.outcome == "REJECTED":
                return await self._close(
                    "rejected", [self.event("EnrolmentRejected", {"by": validation.actor.nip}, validation.actor, validation.reason)],
                    validation.reason, release=True, actor=validation.actor,
                )
            await self.record(
                self.event("EnrolmentValidated", {"validated_by": validation.actor.nip, "cost": inp.amount, "plan_version": inp.plan_version},
                           validation.actor, validation.reason)
            )
            await self._budget(TrainingWorkflow.commit_budget, validation.actor)
            while True:
                self._stage = "awaiting_evidence"
                if not await self._wait_evidence():
                    return await self._close(
                        "lapsed", [self.event("EnrolmentLapsed", {"deadline": inp.evidence_deadline})], "no evidence by the deadline", release=True
                    )
                verification = await self.human_task(
                    _spec(rules, "TRAINING_VERIFICATION", f"Verifikasi bukti pelatihan: {course.title_id} — {nama}",
                          ["VERIFIED", "REJECTED"], candidate_role="BKPSDM", unit=tr.HR_UNIT, reason_required_for=["REJECTED"])
                )
                evidence = self._evidence
                assert evidence is not None
                if verification.outcome == "VERIFIED":
                    break
                self._rejected_hashes.append(evidence["file_sha256"])
                self._evidence = None
                await self.record(
                    self.event("CompletionRejected", {"file_sha256": evidence["file_sha256"], "by": verification.actor.nip},
                               verification.actor, verification.reason)
                )
            jp = evidence["hours"] if form.credits_jp else 0
            year = date.fromisoformat(evidence["completed_on"]).year
            done = [
                self.event(
                    "CompletionVerified",
                    {
                        "file_sha256": evidence["file_sha256"], "hours": evidence["hours"], "verified_by": verification.actor.nip,
                        "unit": employee.unit, "year": inp.year, "course": course.code, "cost": inp.amount,
                    },
                    verification.actor, verification.reason,
                )
            ]
            if jp > 0:
                done.append(
                    self.event(
                        "JpCredited",
                        {
                            "nip": inp.nip, "unit": employee.unit, "year": year, "jp": jp, "course": course.code,
                            "form": course.form.value, "competency": course.competency, "level": course.level,
                        },
                        verification.actor,
                    )
                )
            self._stage, credited = "credited", True
            rating = await self.human_task(
                _spec(rules, "TRAINING_EVALUATION", f"Evaluasi pelatihan: {course.title_id}", ["SUBMITTED"],
                      assignee_nip=inp.nip, unit=employee.unit, subject_may_act=True),
                *done,
            )
            data = {k: rating.data.get(k) for k in ("relevance", "quality")} | {"comment": rating.data.get("comment", ""), "course": course.code}
            outcome = {"jp": jp, "course": course.code, "year": year}
            await self.record(
                self.event("TrainingEvaluated", data, rating.actor, rating.reason),
                self.event("CaseClosed", {"status": "completed", "outcome": outcome}),
            )
            status = "completed"
        except TaskCancelledError as cancelled:
            if credited:
                outcome = {"jp": jp, "course": course.code, "evaluated": False}
                await self.record(self.event("CaseClosed", {"status": "completed", "outcome": outcome}, SYSTEM, f"task {cancelled} cancelled"))
                status = "completed"
            else:
                return await self._close("cancelled", [], f"task {cancelled} cancelled", release=True)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseResult(case_id=inp.case_id, status=status, outcome=outcome)

    async def _close(self, status: str, events: list[NewEvent], reason: str, *, release: bool, actor: Actor = SYSTEM) -> CaseResult:
        await self.record(*events, self.event("CaseClosed", {"status": status, "outcome": {"course": self._inp.course}}, SYSTEM, reason))
        if release:
            await self._budget(TrainingWorkflow.release_budget, actor, reason)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseResult(case_id=self._case_id, status=status, outcome={"course": self._inp.course})

    async def _budget(self, signal: Any, actor: Actor, reason: str = "") -> None:
        """Tell the year's cycle that the held amount is committed or released."""
        if not self._funded:
            return
        handle = workflow.get_external_workflow_handle(cycle_case_id(self._inp.year))
        try:
            await handle.signal(signal, BudgetSignal(enrolment_id=self._case_id, actor=actor, reason=reason))
        except Exception as exc:  # noqa: BLE001 - a closed year has already frozen its ledger in the report
            workflow.logger.warning("budget signal not delivered", extra={"case_id": self._case_id, "error": str(exc)})

    async def _wait_evidence(self) -> bool:
        """Wait for evidence until the deadline; True when it came."""
        delay = (_at(self._inp.evidence_deadline) - workflow.now()).total_seconds() if self._inp.evidence_deadline else None
        try:
            await workflow.wait_condition(
                lambda: self._evidence is not None, timeout=timedelta(seconds=max(delay, 0.001)) if delay is not None else None
            )
        except TimeoutError:
            await workflow.wait_condition(lambda: self._stage != "checking")
        return self._evidence is not None

    def _check_evidence(self, inp: EvidenceInput) -> None:
        if self._stage != "awaiting_evidence":
            raise _conflict("Pelatihan ini tidak sedang menunggu bukti penyelesaian.", "This enrolment is not waiting for completion evidence.")
        if inp.actor.nip != self._subject_nip and "BKPSDM" not in inp.actor.roles:
            raise reject(ERR_FORBIDDEN, problem(None, "Hanya peserta atau BKPSDM yang menyerahkan bukti.", "Only the participant or BKPSDM submits evidence."))
        today = workflow.now().astimezone(tr.WIB).date()
        problems = tr.validate_evidence(inp.data(), self._course, self._inp.year, today, self._rules)
        if problems:
            raise reject(ERR_INVALID, *problems)

    @workflow.update
    async def submit_evidence(self, inp: EvidenceInput) -> TrainingActionResult:
        """Record the certificate (by its hash) and the lesson hours; a file already used elsewhere is refused."""
        self._check_evidence(inp)
        self._stage = "checking"
        try:
            other = await workflow.execute_activity_method(
                TrainingActivities.find_evidence,
                FindEvidenceInput(file_sha256=inp.file_sha256, exclude_case_id=self._case_id),
                start_to_close_timeout=timedelta(seconds=15),
                retry_policy=CHECK_RETRY,
            )
        except BaseException:
            self._stage = "awaiting_evidence"
            raise
        if other is None and inp.file_sha256 not in self._rejected_hashes and workflow.patched(CLAIM_EVIDENCE_PATCH):
            # The view above lags the store; the claim cannot: the first enrolment to append it owns the file.
            info = workflow.info()
            try:
                owner = await workflow.execute_activity_method(
                    DocumentActivities.claim,
                    ClaimDocumentInput(
                        purpose=tr.EVIDENCE_PURPOSE, sha256=inp.file_sha256, owner_case_id=self._case_id,
                        actor=inp.actor.as_event_actor(), workflow_id=info.workflow_id, run_id=info.run_id,
                        occurred_at=workflow.now().isoformat(),
                    ),
                    start_to_close_timeout=timedelta(seconds=15),
                    retry_policy=CHECK_RETRY,
                )
            except BaseException:
                self._stage = "awaiting_evidence"
                raise
            other = None if owner == self._case_id else owner
        if other is not None or inp.file_sha256 in self._rejected_hashes:
            self._stage = "awaiting_evidence"
            raise reject(
                ERR_CONFLICT,
                problem("file_sha256", "Berkas bukti yang sama sudah pernah dipakai.", "The same evidence file has already been used."),
            )
        data = {**inp.data(), "submitted_by": inp.actor.nip}
        recorded = await self.record(self.event("CompletionEvidenceSubmitted", data, inp.actor))
        self._evidence, self._stage = data, "verifying"
        return TrainingActionResult(self._case_id, "CompletionEvidenceSubmitted", recorded.positions[-1])

    @submit_evidence.validator
    def validate_submit_evidence(self, inp: EvidenceInput) -> None:
        self._check_evidence(inp)

    def validate_decision_data(self, task: TaskState, decision: DecisionInput) -> list[dict[str, Any]]:
        """The participant's evaluation of the training."""
        if task.spec.kind == "TRAINING_EVALUATION":
            return tr.validate_training_evaluation(decision.data)
        return []


@workflow.defn
class TrainingLatsarWorkflow(CaseWorkflow):
    """Latsar of a CPNS from the selection's hand-off; a probation running out without a pass is escalated."""

    process = tr.PROCESS

    def __init__(self) -> None:
        self._finished = False

    @workflow.run
    async def run(self, inp: StartLatsarInput) -> CaseResult:
        self._init_case(inp.case_id, inp.nip)
        rules = self._rules = tr.rules_for(inp.rules_version)
        lr = rules.latsar
        tmt = date.fromisoformat(inp.tmt_cpns)
        ends = tr.start_of_day(tr.add_months(tmt, lr.probation_months))
        max_ends = tr.start_of_day(tr.add_months(tmt, lr.max_probation_months))
        await self.record(
            self.event(
                "CaseOpened",
                {
                    "subject_nip": inp.nip, "unit": inp.unit, "title": f"Pelatihan Dasar CPNS — {inp.nama}",
                    "data": {"kind": "latsar", "tmt_cpns": inp.tmt_cpns, "probation_ends": ends.isoformat()},
                },
                inp.handed_off_by,
            ),
            self.event(
                "LatsarHandedOff",
                {
                    "nip": inp.nip, "nama": inp.nama, "unit": inp.unit, "tmt_cpns": inp.tmt_cpns, "probation_ends": ends.isoformat(),
                    "max_probation_ends": max_ends.isoformat(), "selection_case_id": inp.selection_case_id, "formation": inp.formation,
                    "rules": rules.version,
                },
                inp.handed_off_by,
            ),
        )
        watcher = asyncio.create_task(self._watch(inp, ends, max_ends))
        outcome: dict[str, Any] = {}
        try:
            attempt, before = 0, []
            while True:
                attempt += 1
                enrol = await self.human_task(
                    _spec(rules, "LATSAR_ENROLMENT", f"Daftarkan Latsar (ke-{attempt}) — {inp.nama}", ["ENROLLED"],
                          candidate_role="BKPSDM", unit=tr.HR_UNIT),
                    *before,
                )
                result = await self.human_task(
                    _spec(rules, "LATSAR_RESULT", f"Hasil Latsar (ke-{attempt}) — {inp.nama}", ["PASSED", "FAILED"],
                          candidate_role="BKPSDM", unit=tr.HR_UNIT, reason_required_for=["FAILED"]),
                    self.event("LatsarEnrolled", {**{k: enrol.data.get(k) for k in ("cohort", "provider", "starts_on", "ends_on")}, "attempt": attempt},
                               enrol.actor, enrol.reason),
                )
                score = result.data.get("score")
                if result.outcome == "PASSED":
                    now = workflow.now()
                    self._finished = True
                    within = now <= ends
                    await self.record(
                        self.event(
                            "LatsarPassed",
                            {"score": score, "certificate_sha256": result.data.get("certificate_sha256"), "attempt": attempt, "within_probation": within},
                            result.actor, result.reason,
                        ),
                        self.event(
                            "JpCredited",
                            {
                                "nip": inp.nip, "unit": inp.unit, "year": now.astimezone(tr.WIB).year, "jp": lr.jp, "course": "LATSAR-CPNS",
                                "form": tr.Form.KLASIKAL.value, "competency": "SOSIAL_KULTURAL", "level": 2,
                            },
                            result.actor,
                        ),
                    )
                    # Appointment past the first year needs the reason for the delay (REGULATIONS.md §1.5).
                    outcome = {"passed": True, "score": score, "within_probation": within, "appointable": now <= max_ends, "delay_reason_required": not within}
                    status = "completed"
                    break
                left = lr.max_attempts - attempt
                failed = self.event("LatsarFailed", {"score": score, "attempt": attempt, "attempts_left": left}, result.actor, result.reason)
                if left <= 0:
                    self._finished = True
                    await self.record(failed)
                    outcome, status = {"passed": False, "appointable": False, "attempts": attempt}, "rejected"
                    break
                before = [failed]
        except TaskCancelledError as cancelled:
            self._finished = True
            status, outcome = "cancelled", {"passed": False, "appointable": False, "reason": f"task {cancelled} cancelled"}
        await watcher
        await self.record(self.event("CaseClosed", {"status": status, "outcome": outcome}))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseResult(case_id=inp.case_id, status=status, outcome=outcome)

    async def _until(self, at: datetime) -> bool:
        """Wait until `at`; False when the Latsar was settled first."""
        delay = (at - workflow.now()).total_seconds()
        if delay > 0:
            try:
                await workflow.wait_condition(lambda: self._finished, timeout=timedelta(seconds=delay))
            except TimeoutError:
                pass
        return not self._finished

    async def _watch(self, inp: StartLatsarInput, ends: datetime, max_ends: datetime) -> None:
        """Remind BKPSDMD before probation ends; once late, escalate to its head and the PPK until settled."""
        lr = self._rules.latsar
        if not await self._until(ends - timedelta(days=lr.warning_days_before)):
            return
        await self.record(
            self.event("LatsarProbationReminded", {"probation_ends": ends.isoformat(), "days_left": max(0, (ends - workflow.now()).days)})
        )
        level = 0
        while await self._until(ends if level == 0 else min(workflow.now() + timedelta(days=lr.escalation_interval_days), max_ends)):
            level += 1
            head = await workflow.execute_activity_method(
                TrainingActivities.unit_head, UnitHeadInput(unit=tr.HR_UNIT), start_to_close_timeout=READ_TIMEOUT, retry_policy=READ_RETRY
            )
            if self._finished:
                return
            now = workflow.now()
            await self.record(
                self.event(
                    "LatsarProbationEscalated",
                    {
                        "level": level, "probation_ends": ends.isoformat(), "max_probation_ends": max_ends.isoformat(),
                        "days_late": (now - ends).days, "beyond_max": now >= max_ends, "nip": inp.nip, "unit": inp.unit,
                        "escalate_to": [{"role": "KEPALA_OPD", "unit": tr.HR_UNIT, "nip": head}, {"role": "BUPATI", "unit": None, "nip": None}],
                    },
                )
            )
            if now >= max_ends:
                return

    def validate_decision_data(self, task: TaskState, decision: DecisionInput) -> list[dict[str, Any]]:
        """Cohort and dates when enrolling; score and certificate for the result."""
        if task.spec.kind == "LATSAR_ENROLMENT":
            return tr.validate_latsar_enrolment(decision.data)
        if task.spec.kind == "LATSAR_RESULT":
            return tr.validate_latsar_result(decision.outcome, decision.data, self._rules)
        return []


TRAINING_WORKFLOWS = [TrainingWorkflow, TrainingEnrolmentWorkflow, TrainingLatsarWorkflow]
