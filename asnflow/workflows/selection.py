"""Selection of new civil servants (REGULATIONS.md §1): one case per formation set, one child case per applicant.

Scale (250 k applicants): per-applicant data never sits in workflow state or history. Bulk steps (registration
files, BKN score files, cut-off, ranking) run in an activity that builds the event from the staged file and the
round's own events and appends it at this workflow's version (the exactly-once append of CaseWorkflow.record);
history carries only hashes and counts. Applicant cases start in batches and the round continues as new
between pages of starts.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

from asnflow.workflows.human_tasks import CLOSED, RECORD_RETRY, CaseWorkflow, TaskCancelledError, TaskSpec, TaskState, problem, reject
from asnflow.workflows.training import TrainingLatsarWorkflow

with workflow.unsafe.imports_passed_through():
    from asnflow.activities.selection import SelectionActivities
    from asnflow.domain import deadlines as dl
    from asnflow.domain import selection as sel
    from asnflow.domain.organisation import BKPSDMD
    from asnflow.workflows.contracts import ERR_CONFLICT, ERR_FORBIDDEN, ERR_INVALID, SYSTEM, Actor, CaseResult, DecisionInput
    from asnflow.workflows.deadline_contracts import PlannedStepData
    from asnflow.workflows.selection_contracts import (
        CHILD_BATCH,
        CHILDREN_PER_RUN,
        STAGE_ADMIN,
        STAGE_FINAL,
        AnnounceInput,
        ApplicantRef,
        BuildInput,
        BuildResult,
        FileInput,
        ObjectionInput,
        OverrideInput,
        PageInput,
        SelectionActionResult,
        SelectionState,
        StartApplicationInput,
        StartSelectionInput,
        application_case_id,
    )
    from asnflow.workflows.training_contracts import StartLatsarInput, latsar_case_id

BUILD_TIMEOUT = timedelta(minutes=10)
HR = ("BKPSDM", "ADMIN")
REVIEW = "SELECTION_OBJECTION_REVIEW"
# Rounds whose objection window closed before the re-announcement deadline existed replay without its commands.
REANNOUNCE_PATCH = "selection-reannounce-deadline"


def _committee(actor: Actor) -> None:
    if not set(HR) & set(actor.roles):
        raise reject(ERR_FORBIDDEN, problem(None, "Hanya panitia seleksi (BKPSDM) yang boleh melakukan ini.", "Only the selection committee (BKPSDM) may do this."))


@workflow.defn
class SelectionWorkflow(CaseWorkflow):
    """A selection round: announcement, registration, verification, objections, SKD, cut-off, SKB, ranking, appointment."""

    process = sel.PROCESS

    @workflow.init
    def __init__(self, inp: StartSelectionInput) -> None:
        # Set before any Update's validator runs: one may arrive in the run's very first task.
        self._init_case(inp.case_id, None)
        self._inp, self._rules = inp, sel.rules_for(inp.kind, inp.rules_version)
        self._st = inp.state or SelectionState()
        self._busy = 0  # bulk steps under way (an Update in its activity)

    @workflow.run
    async def run(self, inp: StartSelectionInput) -> CaseResult:
        if inp.state is not None:
            self._version, self._last_hash, self._task_seq = self._st.version, self._st.last_hash, self._st.task_seq
        st = self._st
        if st.phase == "registration" and self._version == 0:
            await self._announce(inp)
        if st.phase == "registration":
            await self._sleep_until(st.window_closes)
            await workflow.wait_condition(lambda: self._busy == 0)
            st.phase = "starting"
        if st.phase == "starting":
            await self._start_applications(inp)
            st.phase = "verification"
        if st.phase == "verification":
            await workflow.wait_condition(lambda: st.admin_round >= 1)
            await self._objection_window(STAGE_ADMIN)
            await self._build("ADMIN_RESULT", round=2, params={"accepted": st.accepted.get(STAGE_ADMIN, []), **self._reannouncement()})
            st.admin_round, st.phase = 2, "skd"
        await workflow.wait_condition(lambda: st.phase == "final_objection")
        await self._objection_window(STAGE_FINAL)
        await workflow.wait_condition(lambda: self._busy == 0)
        st.final_round += 1
        await self._build("FINAL_RESULT", round=st.final_round, params=self._reannouncement())
        st.phase = "appointment"
        try:
            outcome = await self._appoint(inp)
            status = "completed"
        except TaskCancelledError as cancelled:
            outcome, status = {"reason": f"task {cancelled} cancelled"}, "cancelled"
        await self.record(self.event("CaseClosed", {"status": status, "outcome": outcome}))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseResult(case_id=inp.case_id, status=status, outcome=outcome)

    # --- steps ------------------------------------------------------------------------------
    async def _announce(self, inp: StartSelectionInput) -> None:
        days = inp.schedule.registration_days if inp.schedule.registration_days is not None else self._rules.registration_days
        closes = workflow.now() + timedelta(days=days)
        self._st.window_closes = closes.isoformat()
        await self.record(
            self.event("CaseOpened", {"subject_nip": None, "unit": BKPSDMD, "title": inp.title,
                                      "data": {"year": inp.year, "kind": inp.kind, "rules": self._rules.version}}, inp.started_by),
            self.event("SelectionAnnounced", {
                "year": inp.year, "kind": inp.kind, "rules": self._rules.version, "regulation": self._rules.regulation,
                "formations": inp.formations, "registration_closes": closes.isoformat(),
                "unconfirmed": list(self._rules.unconfirmed),
            }, inp.started_by),
        )

    async def _sleep_until(self, iso: str | None) -> None:
        if iso is None:
            return
        delay = (datetime.fromisoformat(iso) - workflow.now()).total_seconds()
        if delay > 0:
            await workflow.sleep(timedelta(seconds=delay))

    async def _start_applications(self, inp: StartSelectionInput) -> None:
        """Start every applicant's case, a batch at a time; continue as new between pages so history stays small."""
        st = self._st
        started_here = 0
        while st.children_started < st.registered:
            if started_here >= CHILDREN_PER_RUN:
                await workflow.wait_condition(workflow.all_handlers_finished)
                self._continue(inp)
            page: list[ApplicantRef] = await workflow.execute_activity_method(
                SelectionActivities.applicants_page,
                PageInput(case_id=self._case_id, version=self._version, offset=st.children_started, limit=CHILDREN_PER_RUN - started_here),
                start_to_close_timeout=BUILD_TIMEOUT,
            )
            for i in range(0, len(page), CHILD_BATCH):
                await asyncio.gather(*(self._start_child(a) for a in page[i:i + CHILD_BATCH]))
            st.children_started += len(page)
            started_here += len(page)
            if not page:
                break

    async def _start_child(self, a: ApplicantRef) -> None:
        case_id = application_case_id(self._case_id, a.reg_no)
        try:
            await workflow.start_child_workflow(
                SelectionApplicationWorkflow.run,
                StartApplicationInput(case_id=case_id, selection_case_id=self._case_id, reg_no=a.reg_no, formation=a.formation, track=a.track,
                                      verification_days=self._rules.verification_days, verifier_unit=BKPSDMD),
                id=case_id, parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            pass  # started by a run that continued as new before it could count it

    def _continue(self, inp: StartSelectionInput) -> None:
        st = self._st
        st.version, st.last_hash, st.task_seq = self._version, self._last_hash, self._task_seq
        workflow.continue_as_new(dataclasses.replace(inp, state=st))

    async def _objection_window(self, stage: str) -> None:
        """Open the stage's objection window, wait for it to close and every objection to be decided."""
        st = self._st
        days = self._inp.schedule.objection_days if self._inp.schedule.objection_days is not None else self._rules.objection_days
        st.window_closes = (workflow.now() + timedelta(days=days)).isoformat()
        st.phase = "admin_objection" if stage == STAGE_ADMIN else "final_objection"
        await self._sleep_until(st.window_closes)
        st.window_closes = None
        if workflow.patched(REANNOUNCE_PATCH):
            await self._reannouncement_deadline(stage)
        await workflow.wait_condition(lambda: st.open_objections == 0 and self._busy == 0)

    async def _reannouncement_deadline(self, stage: str) -> None:
        """Hold the committee to re-announcing within 7 calendar days of the window's close (REGULATIONS.md §1.4).

        The re-announcement itself is recorded by the system the moment the last objection is decided. What the
        workflow cannot do is answer an objection for the committee: rejecting it at the deadline would make the
        applicant pay for the committee's delay, accepting it would pass someone nobody checked. So the deadline acts
        on people, as a BKPSDM office expects: the deadline is recorded when the window closes, the open reviews are
        reminded two days before it, and at it the breach is recorded and each open review is escalated to the head
        of BKPSDMD, who supervises it; the re-announcement then states that it came late."""
        st, rules = self._st, self._rules
        closed = workflow.now()
        due = closed + timedelta(days=rules.reannounce_days)
        st.reannounce_by = due.isoformat()
        await self.record(self.event("ObjectionPeriodClosed", {"stage": stage, "closed_at": closed.isoformat(),
                                                               "reannounce_by": st.reannounce_by, "open_objections": st.open_objections}))
        remind_at = due - timedelta(days=rules.reannounce_remind_days)
        if await self._objections_open_until(remind_at):
            for task in self._open_reviews(stage):
                await self._remind(task, PlannedStepData(step="REANNOUNCE_R", action="remind", at=remind_at.isoformat()))
        if await self._objections_open_until(due):
            reviews = self._open_reviews(stage)
            await self.record(self.event("ReannouncementOverdue", {"stage": stage, "reannounce_by": st.reannounce_by,
                                                                   "open_objections": [t.task_id for t in reviews]}))
            for task in reviews:
                await self._escalate(task, PlannedStepData(step="REANNOUNCE_E", action="escalate", at=due.isoformat(),
                                                           level=task.escalation_level + 1, target=dl.SUPERIOR, mode=dl.SUPERVISE))

    async def _objections_open_until(self, at: datetime) -> bool:
        """Wait until `at` unless every objection is decided first; True when some are still open then."""
        st = self._st
        delay = (at - workflow.now()).total_seconds()
        if st.open_objections and delay > 0:
            try:
                await workflow.wait_condition(lambda: st.open_objections == 0, timeout=timedelta(seconds=delay))
            except TimeoutError:
                pass
        return st.open_objections > 0

    def _open_reviews(self, stage: str) -> list[TaskState]:
        # A review's title starts with its stage (set in _review).
        return [t for t in self._tasks.values() if t.spec.kind == REVIEW and t.spec.title.startswith(stage) and t.status not in CLOSED]

    def _reannouncement(self) -> dict[str, Any]:
        """What the re-announcement states about its deadline (nothing for rounds without one)."""
        return {"reannounce_by": self._st.reannounce_by} if self._st.reannounce_by else {}

    async def _build(self, step: str, actor: Actor = SYSTEM, **kw: Any) -> BuildResult:
        """A bulk append built by the activity at our version, under the same lock and counter as record()."""
        async with self._record_lock:
            info = workflow.info()
            result: BuildResult = await workflow.execute_activity_method(
                SelectionActivities.build,
                BuildInput(case_id=self._case_id, process=self.process, expected_version=self._version, previous_hash=self._last_hash,
                           workflow_id=info.workflow_id, run_id=info.run_id, occurred_at=workflow.now().isoformat(),
                           actor=actor.as_event_actor(), step=step, **kw),
                start_to_close_timeout=BUILD_TIMEOUT, retry_policy=RECORD_RETRY,
            )
            self._version, self._last_hash = result.version, result.last_hash
            return result

    async def _announced(self) -> None:
        """Updates delivered with the round's first task run before it: they wait until the announcement is recorded."""
        await workflow.wait_condition(lambda: self._version > 0)

    async def _build_for_caller(self, step: str, actor: Actor, **kw: Any) -> BuildResult:
        """A bulk step inside an Update: a refusal (bad file, unverified applications) reaches the caller as 409/422."""
        self._busy += 1
        try:
            await self._announced()
            return await self._build(step, actor, **kw)
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type in (ERR_INVALID, ERR_CONFLICT):
                raise reject(cause.type, *[d for d in cause.details if isinstance(d, dict)]) from None
            raise
        finally:
            self._busy -= 1

    def _built(self, event_type: str, built: BuildResult) -> SelectionActionResult:
        return SelectionActionResult(self._case_id, event_type, built.positions[-1], built.summary)

    # --- appointment ----------------------------------------------------------------------------
    async def _appoint(self, inp: StartSelectionInput) -> dict[str, Any]:
        """DRH window, NIP request, NIP issued and validated, SK signed, then the CPNS go to Latsar."""
        st, rules = self._st, self._rules
        appointees: list[dict[str, Any]] = await workflow.execute_activity_method(
            SelectionActivities.appointees, PageInput(case_id=self._case_id, version=self._version, offset=0, limit=0),
            start_to_close_timeout=BUILD_TIMEOUT,
        )
        st.appointees = appointees
        days = inp.schedule.drh_days if inp.schedule.drh_days is not None else rules.drh_days
        closes = workflow.now() + timedelta(days=days)
        await self.record(self.event("AppointmentStepRecorded", {"step": "DRH_OPENED", "data": {"closes": closes.isoformat(), "appointees": len(appointees)}}))
        await self._sleep_until(closes.isoformat())
        spec = {"candidate_role": "BKPSDM", "unit": BKPSDMD}
        request = await self.human_task(
            TaskSpec(kind="SELECTION_NIP_REQUEST", title=f"Usul penetapan NIP / Request NIPs — {inp.title}", outcomes=["SUBMITTED"],
                     due_working_days=rules.nip_days, **spec),
            self.event("AppointmentStepRecorded", {"step": "DRH_CLOSED", "data": {"appointees": len(appointees)}}),
        )
        issued = await self.human_task(
            TaskSpec(kind="SELECTION_NIP_ISSUED", title=f"NIP terbit / NIPs issued — {inp.title}", outcomes=["ISSUED"],
                     due_working_days=rules.nip_days, **spec),
            self.event("AppointmentStepRecorded", {"step": "NIP_REQUESTED", "data": {"usul_nomor": request.data.get("usul_nomor", "")}},
                       request.actor, request.reason),
        )
        nips: dict[str, str] = issued.data["nips"]
        decree = await self.human_task(
            TaskSpec(kind="SELECTION_SK", title=f"SK {inp.kind} / Appointment decree — {inp.title}", outcomes=["SIGNED"],
                     due_working_days=rules.nip_days, candidate_role="BUPATI"),
            self.event("AppointmentStepRecorded", {"step": "NIP_ISSUED", "data": {"nips": nips}}, issued.actor, issued.reason),
        )
        handed: list[str] = []
        if inp.kind == sel.CPNS:
            for a in appointees:
                nip = nips[a["reg_no"]]
                case_id = latsar_case_id(nip)
                try:
                    await workflow.start_child_workflow(
                        TrainingLatsarWorkflow.run,
                        StartLatsarInput(case_id=case_id, nip=nip, nama=a["nama"], unit=a["unit"], tmt_cpns=date(int(nip[8:12]), int(nip[12:14]), 1).isoformat(),
                                         handed_off_by=decree.actor, selection_case_id=self._case_id, formation=a["formation"]),
                        id=case_id, parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                    )
                    handed.append(case_id)
                except WorkflowAlreadyStartedError:
                    pass
        sk = {k: decree.data.get(k) for k in ("sk_nomor", "sk_tanggal")}
        await self.record(
            self.event("AppointmentStepRecorded", {"step": "SK_SIGNED", "data": sk}, decree.actor, decree.reason),
            self.event("AppointmentStepRecorded", {"step": "LATSAR_HANDED_OFF", "data": {"cases": handed}}),
        )
        return {"appointed": len(appointees), "latsar": len(handed), **sk}

    def validate_decision_data(self, task: TaskState, decision: DecisionInput) -> list[dict[str, Any]]:
        """NIPs for every appointee; the decree's number and date; an accepted final objection's new status."""
        kind, data = task.spec.kind, decision.data
        if kind == "SELECTION_NIP_ISSUED":
            return sel.nip_problems(self._inp.kind, data.get("nips"), self._st.appointees)
        if kind == "SELECTION_SK":
            problems = []
            if not str(data.get("sk_nomor", "")).strip():
                problems.append(problem("data.sk_nomor", "Nomor SK wajib diisi.", "The decree number is required."))
            try:
                date.fromisoformat(str(data.get("sk_tanggal")))
            except ValueError:
                problems.append(problem("data.sk_tanggal", "Tanggal SK tidak valid.", "The decree date is not valid."))
            return problems
        # The review's title starts with its stage (set in _review): a final-result objection accepted needs the new status.
        if kind == "SELECTION_OBJECTION_REVIEW" and decision.outcome == "ACCEPTED" and task.spec.title.startswith(STAGE_FINAL):
            if data.get("final_status") not in (sel.LULUS, sel.TL, sel.LULUS_OPTIMALISASI):
                return [problem("data.final_status", "Sanggah diterima: status akhir baru wajib diisi (LULUS/TL/LULUS_OPTIMALISASI).",
                                "An accepted objection needs the new final status (LULUS/TL/LULUS_OPTIMALISASI).")]
        return []

    # --- Updates ----------------------------------------------------------------------------------
    def _check_file(self, inp: FileInput, stage: str) -> None:
        _committee(inp.actor)
        st = self._st
        kind = self._rules.kind
        phases = {"REGISTRATION": ("registration", kind), "SKD": ("skd", sel.CPNS), "PPPK": ("skd", sel.PPPK), "SKB": ("skb", sel.CPNS)}
        if stage not in phases or phases[stage][1] != kind:
            raise reject(ERR_INVALID, problem("stage", f"Tahap {stage} bukan bagian seleksi {kind}.", f"Stage {stage} is not part of a {kind} round."))
        if st.phase != phases[stage][0]:
            raise reject(ERR_CONFLICT, problem(None, f"Tahap {stage} tidak sedang dibuka.", f"The {stage} step is not open now."))
        if self._busy:
            raise reject(ERR_CONFLICT, problem(None, "Unggahan lain sedang diproses.", "Another upload is being processed."))
        if len(inp.file_sha256) != 64:
            raise reject(ERR_INVALID, problem("file_sha256", "Checksum berkas tidak valid.", "Invalid file checksum."))

    @workflow.update
    async def register_applicants(self, inp: FileInput) -> SelectionActionResult:
        """Take in a registration file (one event with every row) while registration is open."""
        self._check_file(inp, "REGISTRATION")
        built = await self._build_for_caller("REGISTER", inp.actor, file_sha256=inp.file_sha256)
        self._st.registered = built.summary["total"]
        return self._built("ApplicantsRegistered", built)

    @register_applicants.validator
    def validate_register_applicants(self, inp: FileInput) -> None:
        self._check_file(inp, "REGISTRATION")

    @workflow.update
    async def import_scores(self, inp: FileInput) -> SelectionActionResult:
        """A BKN score file as one event with its checksum; then the cut-off (SKD) or the ranking (SKB, PPPK) follows."""
        self._check_file(inp, inp.stage)
        st = self._st
        built = await self._build_for_caller("IMPORT", inp.actor, file_sha256=inp.file_sha256, stage=inp.stage)
        summary = dict(built.summary)
        if inp.stage == "SKD":
            cut = await self._build("CUT_OFF")
            summary["cut_off"], st.phase = cut.summary, "skb"
            built = cut
        else:
            ranked = await self._build("RANK")
            st.final_round, st.phase = 1, "final_objection"
            summary["final"], built = ranked.summary, ranked
        return SelectionActionResult(self._case_id, "ScoresImported", built.positions[0], summary)

    @import_scores.validator
    def validate_import_scores(self, inp: FileInput) -> None:
        self._check_file(inp, inp.stage)

    def _check_announce(self, inp: AnnounceInput) -> None:
        _committee(inp.actor)
        if self._st.phase != "verification" or self._st.admin_round:
            raise reject(ERR_CONFLICT, problem(None, "Hasil administrasi tidak dapat diumumkan sekarang.", "The administrative result cannot be announced now."))
        if self._busy:
            raise reject(ERR_CONFLICT, problem(None, "Langkah lain sedang diproses.", "Another step is being processed."))

    @workflow.update
    async def announce_administrative(self, inp: AnnounceInput) -> SelectionActionResult:
        """Announce MS/TMS once every application is verified (refused with the count still open)."""
        self._check_announce(inp)
        built = await self._build_for_caller("ADMIN_RESULT", inp.actor, round=1)
        self._st.admin_round = 1
        return self._built("AdministrativeResultAnnounced", built)

    @announce_administrative.validator
    def validate_announce_administrative(self, inp: AnnounceInput) -> None:
        self._check_announce(inp)

    def _check_objection(self, inp: ObjectionInput) -> None:
        st = self._st
        phase = "admin_objection" if inp.stage == STAGE_ADMIN else "final_objection" if inp.stage == STAGE_FINAL else None
        if phase is None:
            raise reject(ERR_INVALID, problem("stage", "Tahap sanggah tidak dikenal.", "Unknown objection stage."))
        if st.phase != phase or st.window_closes is None:
            raise reject(ERR_CONFLICT, problem(None, "Masa sanggah untuk tahap ini tidak sedang dibuka.", "The objection period for this stage is not open."))
        if inp.reg_no in st.objected.get(inp.stage, []):
            raise reject(ERR_CONFLICT, problem(None, "Sanggah hanya boleh diajukan satu kali.", "Only one objection per applicant is allowed."))
        if len(inp.reason.strip()) < 10:
            raise reject(ERR_INVALID, problem("reason", "Alasan sanggah wajib diisi (minimal 10 karakter).", "A reason (at least 10 characters) is required."))

    @workflow.update
    async def file_objection(self, inp: ObjectionInput) -> SelectionActionResult:
        """An applicant's one objection in the window (identity checked by the API); the committee reviews it as a task."""
        self._check_objection(inp)
        st = self._st
        st.objected.setdefault(inp.stage, []).append(inp.reg_no)
        st.open_objections += 1
        objection_id = f"{inp.stage}-{inp.reg_no}"
        await self._announced()
        recorded = await self.record(
            _applicant_event(self, "SelectionObjectionFiled", {"objection_id": objection_id, "reg_no": inp.reg_no, "stage": inp.stage}, inp.reason)
        )
        asyncio.create_task(self._review(objection_id, inp))  # noqa: RUF006 - awaited through open_objections
        return SelectionActionResult(self._case_id, "SelectionObjectionFiled", recorded.positions[-1], {"objection_id": objection_id})

    @file_objection.validator
    def validate_file_objection(self, inp: ObjectionInput) -> None:
        self._check_objection(inp)

    async def _review(self, objection_id: str, inp: ObjectionInput) -> None:
        """The committee accepts (only when the error is not the applicant's) or rejects, with a reason."""
        st = self._st
        try:
            decision = await self.human_task(
                TaskSpec(kind=REVIEW, title=f"{inp.stage}: sanggah {inp.reg_no} / objection", outcomes=["ACCEPTED", "REJECTED"],
                         due_working_days=self._rules.objection_review_days, candidate_role="BKPSDM", unit=BKPSDMD,
                         reason_required_for=["ACCEPTED", "REJECTED"])
            )
            outcome, actor, reason = decision.outcome, decision.actor, decision.reason
        except TaskCancelledError:
            outcome, actor, reason, decision = "REJECTED", SYSTEM, "task cancelled", None
        await self.record(self.event("SelectionObjectionDecided", {"objection_id": objection_id, "reg_no": inp.reg_no, "stage": inp.stage, "outcome": outcome,
                                                          "decided_by": actor.nip}, actor, reason))
        if outcome == "ACCEPTED":
            st.accepted.setdefault(inp.stage, []).append(inp.reg_no)
            if inp.stage == STAGE_FINAL and decision is not None:
                await self._build("OVERRIDE", actor, reason=reason,
                                  params={"reg_no": inp.reg_no, "field": "final_status", "value": decision.data["final_status"]})
        st.open_objections -= 1

    def _check_override(self, inp: OverrideInput) -> None:
        _committee(inp.actor)
        if self._st.phase not in ("final_objection", "verification", "admin_objection"):
            raise reject(ERR_CONFLICT, problem(None, "Hasil tidak dapat diubah pada tahap ini.", "Results cannot be overridden at this stage."))
        if inp.field == "admin_result" and self._st.phase == "final_objection":
            raise reject(ERR_CONFLICT, problem("field", "Hasil administrasi sudah final.", "The administrative result is final."))
        if len(inp.justification.strip()) < 10:
            raise reject(ERR_INVALID, problem("justification", "Alasan perubahan wajib diisi (minimal 10 karakter).", "A written justification (at least 10 characters) is required."))

    @workflow.update
    async def override_result(self, inp: OverrideInput) -> SelectionActionResult:
        """A manual override of a computed result, with its justification (ResultOverridden, visible in the audit)."""
        self._check_override(inp)
        built = await self._build_for_caller("OVERRIDE", inp.actor, reason=inp.justification,
                                             params={"reg_no": inp.reg_no, "field": inp.field, "value": inp.value})
        return self._built("ResultOverridden", built)

    @override_result.validator
    def validate_override_result(self, inp: OverrideInput) -> None:
        self._check_override(inp)

    @workflow.query
    def phase(self) -> str:
        """The round's current phase (tests and the bench; reads otherwise come from views)."""
        return self._st.phase


def _applicant_event(wf: CaseWorkflow, type_name: str, payload: dict[str, Any], reason: str) -> Any:
    """An applicant acts without a NIP: recorded as the applicant (by registration number), not as the system."""
    ev = wf.event(type_name, payload, SYSTEM, reason)
    ev.actor = {"nip": None, "role": "PELAMAR", "on_behalf_of": None, "reg_no": payload.get("reg_no")}
    return ev


@workflow.defn
class SelectionApplicationWorkflow(CaseWorkflow):
    """One application: submitted, then a verifier from the committee's pool marks it MS or TMS with a reason."""

    process = sel.PROCESS

    @workflow.run
    async def run(self, inp: StartApplicationInput) -> CaseResult:
        self._init_case(inp.case_id, None)
        opened = [
            self.event("CaseOpened", {"subject_nip": None, "unit": inp.verifier_unit, "title": f"Lamaran {inp.reg_no} / Application",
                                      "data": {"selection_case_id": inp.selection_case_id, "reg_no": inp.reg_no, "formation": inp.formation}}),
            self.event("ApplicationSubmitted", {"reg_no": inp.reg_no, "formation": inp.formation, "track": inp.track,
                                                "selection_case_id": inp.selection_case_id}),
        ]
        try:
            decision = await self.human_task(
                TaskSpec(kind="SELECTION_ADMIN_VERIFICATION", title=f"Verifikasi berkas {inp.reg_no} / Verify application", outcomes=[sel.MS, sel.TMS],
                         due_working_days=inp.verification_days, candidate_role="BKPSDM", unit=inp.verifier_unit, reason_required_for=[sel.TMS]),
                *opened,
            )
        except TaskCancelledError as cancelled:
            await self.record(self.event("CaseClosed", {"status": "cancelled", "outcome": {}}, SYSTEM, f"task {cancelled} cancelled"))
            return CaseResult(case_id=inp.case_id, status="cancelled")
        outcome = {"reg_no": inp.reg_no, "result": decision.outcome}
        await self.record(
            self.event("ApplicationVerified", {"reg_no": inp.reg_no, "result": decision.outcome, "verified_by": decision.actor.nip},
                       decision.actor, decision.reason),
            self.event("CaseClosed", {"status": "completed", "outcome": outcome}),
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseResult(case_id=inp.case_id, status="completed", outcome=outcome)


SELECTION_WORKFLOWS = [SelectionWorkflow, SelectionApplicationWorkflow]
