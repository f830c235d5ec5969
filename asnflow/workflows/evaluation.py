"""The annual SKP year (PermenPANRB 6/2022): planning, check-ins, rating, unit calibration, objection, credit points."""

import asyncio
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from asnflow.workflows.evaluation_common import HEAD_RATING_PATCH, READ_RETRY, assignee
from asnflow.workflows.human_tasks import CaseWorkflow, TaskCancelledError, TaskSpec, TaskState, problem, reject

with workflow.unsafe.imports_passed_through():
    from asnflow.activities.evaluation import EvaluationActivities
    from asnflow.activities.recording import DirectoryActivities
    from asnflow.domain import evaluation as _evaluation_events  # noqa: F401 - registers the event types
    from asnflow.domain import performance, rules
    from asnflow.domain.rules import due_working_days
    from asnflow.workflows.contracts import (
        ERR_CONFLICT,
        ERR_FORBIDDEN,
        ERR_INVALID,
        SYSTEM,
        Actor,
        CancelTaskInput,
        CaseResult,
        DecisionInput,
        Employee,
        LookupEmployeeInput,
        NewEvent,
    )
    from asnflow.workflows.evaluation_contracts import (
        CALIBRATED_SIGNAL,
        CALIBRATION_CLOSED_SIGNAL,
        PROCESS,
        UNIT_RESULT_SIGNAL,
        CalibratedPredicate,
        CaseActionResult,
        EvaluationInput,
        EvidenceInput,
        JoinCalibrationInput,
        SkpContextInput,
        TransferInput,
        UnitContextInput,
        UnitResult,
        WorkingDaysInput,
        evaluation_case_id,
    )

# Only the case is defined here: the sandbox executes this module afresh for every case it loads (one per
# employee), so the unit calibration and the season kick-off have modules of their own
# (evaluation_calibration.py, evaluation_season.py) and this one imports neither.
__all__ = ["EvaluationWorkflow", "evaluation_case_id"]

# The directory look-up (a local activity): an unknown NIP is not retried.
LOOKUP_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), non_retryable_error_types=["NotFound"])
OVERSEERS = ("BKPSDM", "ADMIN")  # who may record a transfer on a case
# Cases started before this change looked the directory up in an ordinary activity.
LOCAL_LOOKUP_PATCH = "directory-lookup-local"


def _post(employee: Employee) -> dict[str, Any]:
    return {"jabatan": employee.jabatan, "jenis_jabatan": employee.jenis_jabatan, "unit": employee.unit, "appraiser_nip": employee.atasan_nip}


class _Interrupted(Exception):
    """A waiting task was closed by the workflow itself (deadline passed or the employee was transferred)."""


@workflow.defn
class EvaluationWorkflow(CaseWorkflow):
    """One employee's performance year: one case, one event chain, from the SKP to the final predicate."""

    process = PROCESS

    def __init__(self) -> None:
        self._pending: list[NewEvent] = []
        self._phase = "starting"  # planning | execution | rating | calibration | objection | closed
        self._transfer: TransferInput | None = None
        self._transfer_position: int | None = None
        self._calibrated: CalibratedPredicate | None = None
        self._superior_indicators: list[str] = []
        self._objection_deadline: datetime | None = None
        self._current: str | None = None
        self._period: dict[str, Any] = {}
        self._year = 0
        self._unit_result: UnitResult | None = None
        self._rejoin = False  # the calibration closed before it heard this case: join the next round
        # Rounds that answered "closed": a rejoin skips them. Signalled again while it finishes, such a round
        # would take the join and complete without an answer, and the case would wait a day for nothing.
        self._closed_rounds: list[str] = []
        self._head_hasil: str | None = None  # a unit head's work results, fixed by the unit's predicate

    # --- helpers ----------------------------------------------------------------------------------
    def _queue(self, type_name: str, payload: dict[str, Any], actor: Actor = SYSTEM, reason: str = "") -> None:
        self._pending.append(self.event(type_name, payload, actor, reason))

    async def _flush(self, *more: NewEvent) -> int:
        events, self._pending = [*self._pending, *more], []
        recorded = await self.record(*events)
        return recorded.positions[-1]

    async def _ask(self, spec: TaskSpec, *, until: datetime | None = None, interruptible: bool = False) -> DecisionInput:
        """Open a task after the queued events; with `until`/`interruptible` the workflow may close it itself."""
        if interruptible and self._transfer is not None:
            raise _Interrupted(spec.kind)  # queued events stay queued for the transfer's recording
        before, self._pending = self._pending, []
        known = set(self._tasks)
        waiting = asyncio.create_task(self.human_task(spec, *before))
        guards = []
        if until is not None and until > workflow.now():
            guards.append(asyncio.create_task(workflow.sleep(until - workflow.now())))
        if interruptible:
            guards.append(asyncio.create_task(workflow.wait_condition(lambda: self._transfer is not None)))
        if not guards:
            return await waiting
        await workflow.wait([waiting, *guards], return_when=asyncio.FIRST_COMPLETED)
        for guard in guards:
            guard.cancel()
        if waiting.done():
            return waiting.result()
        # Identified by id, not by spec: an escalation may replace the spec (reassignment).
        def opened() -> TaskState | None:
            return next((t for i, t in self._tasks.items() if i not in known and t.spec.kind == spec.kind and not getattr(t, "supervises", None)), None)

        await workflow.wait_condition(lambda: opened() is not None or waiting.done())
        if waiting.done():
            return waiting.result()
        state = opened()
        assert state is not None
        if state.status not in ("open", "claimed"):
            return await waiting  # a decision already being recorded wins over the deadline
        why = (
            "Pegawai dimutasi; periode SKP ditutup / the employee was transferred; the SKP period is closed"
            if self._transfer is not None
            else "Batas waktu lewat / the deadline has passed"
        )
        # The same path as an administrator's cancel: one TaskCancelled event, then the waiter ends.
        await self.cancel_task(CancelTaskInput(task_id=state.task_id, actor=SYSTEM, reason=why))
        try:
            await waiting
        except TaskCancelledError:
            raise _Interrupted(state.task_id) from None
        raise AssertionError("a cancelled task returned a decision")

    def _spec(self, kind: str, title: str, who: str | None, outcomes: list[str], **kw: Any) -> TaskSpec:
        return TaskSpec(
            kind=kind,
            title=title,
            outcomes=outcomes,
            due_working_days=kw.pop("due_working_days", None) or due_working_days(self._policy.regulation, kind),
            **assignee(who, self._employee.unit),
            **kw,
        )

    async def _lookup(self, nip: str) -> Employee:
        if workflow.patched(LOCAL_LOOKUP_PATCH):
            # One indexed read: as a local activity it costs no activity task, history events or extra workflow task.
            return await workflow.execute_local_activity_method(
                DirectoryActivities.lookup_employee,
                LookupEmployeeInput(nip=nip),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=LOOKUP_RETRY,
            )
        return await workflow.execute_activity_method(
            DirectoryActivities.lookup_employee,
            LookupEmployeeInput(nip=nip),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=LOOKUP_RETRY,
        )

    async def _wait_until(self, moment: datetime, interruptible: bool = True) -> bool:
        """Sleep until `moment`; True when a transfer arrived first."""
        remaining = moment - workflow.now()
        if remaining > timedelta(0):
            if self._pending:
                await self._flush()  # what happened is on record now, not when the next task opens
            try:
                await workflow.wait_condition(
                    lambda: interruptible and self._transfer is not None, timeout=remaining
                )
            except asyncio.TimeoutError:
                pass
        return interruptible and self._transfer is not None

    # --- the year ---------------------------------------------------------------------------------
    @workflow.run
    async def run(self, inp: EvaluationInput) -> CaseResult:
        self._init_case(inp.case_id, inp.nip)
        self._year = inp.year
        self._employee = employee = await self._lookup(inp.nip)
        self._policy = inp.policy or await workflow.execute_local_activity_method(
            EvaluationActivities.policy, employee.unit, start_to_close_timeout=timedelta(seconds=30), retry_policy=READ_RETRY
        )
        self._queue(
            "CaseOpened",
            {
                "subject_nip": employee.nip,
                "unit": employee.unit,
                "title": f"Evaluasi kinerja {inp.year} — {employee.nama}",
                "data": {"year": inp.year},
            },
            inp.started_by,
        )
        self._queue(
            "EvaluationStarted",
            {
                "nip": employee.nip,
                "year": inp.year,
                "appraiser_nip": employee.atasan_nip,
                "regulation": self._policy.regulation,
                "unit": employee.unit,
                "jabatan": employee.jabatan,
                "jenis_jabatan": employee.jenis_jabatan,
                "policy": asdict(self._policy),
            },
            inp.started_by,
        )
        periods: list[dict[str, Any]] = []
        done_checkins: set[str] = set()
        try:
            self._period = {"number": 1, "starts": date(inp.year, 1, 1).isoformat(), **_post(employee)}
            while True:
                periods.append(self._period)
                await self._open_period()
                interrupted = await self._plan()
                if not interrupted:
                    interrupted = await self._execute(done_checkins)
                if not interrupted:
                    break
                await self._apply_transfer()
            ends = date(inp.year, 12, 31)
            self._period.update(ends=ends.isoformat(), months=self._months(self._period, ends))
            self._queue("SkpPeriodClosed", {"number": self._period["number"], "ends": ends.isoformat(), "months": self._period["months"], "cause": "year_end"})

            raw = await self._rate()
            final = await self._calibrate(raw)
            final, objection = await self._deliver_result(final)
            credit = performance.credit_for_periods(
                final,
                [{"jabatan": p["jabatan"], "jenis_jabatan": p["jenis_jabatan"], "months": p["months"]} for p in periods],
                self._policy.credit_rules,
                self._policy.coefficient_rules,
            )
            self._queue("CreditPointsDetermined", credit)
            self._queue(
                "EvaluationFinalised",
                {
                    "nip": employee.nip,
                    "year": inp.year,
                    "unit": self._employee.unit,
                    "jabatan": self._employee.jabatan,
                    "raw": raw,
                    "calibrated": self._calibrated.predicate if self._calibrated else raw,
                    "final": final,
                    "credit_points": credit["points"],
                    "objection": objection,
                },
            )
            outcome = {"predicate": final, "raw": raw, "credit_points": credit["points"]}
            await self._flush(self.event("CaseClosed", {"status": "completed", "outcome": outcome}))
            status = "completed"
        except TaskCancelledError as cancelled:
            await self._flush(self.event("CaseClosed", {"status": "cancelled", "outcome": {}}, SYSTEM, f"task {cancelled} cancelled"))
            status, outcome = "cancelled", {}
        self._phase = "closed"
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseResult(case_id=inp.case_id, status=status, outcome=outcome)

    @staticmethod
    def _months(period: dict[str, Any], ends: date) -> int:
        return rules.months_covered(date.fromisoformat(period["starts"]), ends)

    async def _open_period(self) -> None:
        p = self._period
        self._superior_indicators = await workflow.execute_local_activity_method(
            EvaluationActivities.skp_context,
            SkpContextInput(superior_nip=p["appraiser_nip"], year=self._year),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=READ_RETRY,
        )
        self._queue(
            "SkpPeriodOpened",
            {**p, "superior_indicators": self._superior_indicators, "checkin_period": self._policy.checkin_period},
        )

    async def _plan(self) -> bool:
        """SKP drafted (cascaded), agreed with the leader's expectations; True when a transfer interrupted it."""
        self._phase = "planning"
        employee, p, year = self._employee, self._period, self._year
        appraiser = p["appraiser_nip"]
        deadline = rules.skp_deadline(year, self._policy) if p["number"] == 1 else None
        if deadline is not None and deadline <= workflow.now():
            deadline = None  # opened after the deadline: the task gets the ordinary period, no fallback timer
        due = None
        if deadline is not None:
            due = await workflow.execute_local_activity_method(
                EvaluationActivities.working_days,
                WorkingDaysInput(start=workflow.now().isoformat(), end=deadline.isoformat()),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=READ_RETRY,
            )
        fallback_at = deadline if self._policy.predecessor_fallback else None
        while True:
            try:
                draft = await self._ask(
                    self._spec("SKP_DRAFT", f"Susun SKP {year}", employee.nip, ["SUBMITTED"], subject_may_act=True, due_working_days=due),
                    until=fallback_at,
                    interruptible=True,
                )
            except _Interrupted:
                if self._transfer is not None:
                    return True
                return await self._fallback_draft(deadline)
            fallback_at, due = None, None
            targets = draft.data["targets"]
            self._queue("SkpDrafted", {"targets": targets, "period": p["number"]}, draft.actor, draft.reason)
            try:
                agreement = await self._ask(
                    self._spec(
                        "SKP_AGREEMENT", f"Setujui SKP {year} — {employee.nama}", appraiser, ["AGREED", "RETURNED"],
                        reason_required_for=["RETURNED"],
                    ),
                    interruptible=True,
                )
            except _Interrupted:
                return True
            if agreement.outcome == "AGREED":
                self._queue("SkpAgreed", {"agreed_by": agreement.actor.nip, "period": p["number"]}, agreement.actor, agreement.reason)
                self._expectations(agreement)
                return False
            self._queue("SkpReturned", {"returned_by": agreement.actor.nip}, agreement.actor, agreement.reason)

    async def _fallback_draft(self, deadline: datetime | None) -> bool:
        """Predecessor rule: nobody drafted the SKP in time, so the appraiser (performance manager) sets it."""
        p, year = self._period, self._year
        self._queue(
            "SkpDraftOverdue",
            {"deadline": deadline.isoformat() if deadline else None, "fallback": True, "drafter_nip": p["appraiser_nip"]},
            SYSTEM,
            "SKP belum disusun sampai batas waktu; disusun pengelola kinerja / not drafted by the deadline; the performance manager drafts it",
        )
        try:
            draft = await self._ask(
                self._spec("SKP_DRAFT", f"Susun SKP {year} (aturan pengganti) — {self._employee.nama}", p["appraiser_nip"], ["SUBMITTED"]),
                interruptible=True,
            )
        except _Interrupted:
            return True
        self._queue("SkpDrafted", {"targets": draft.data["targets"], "period": p["number"], "predecessor_rule": True}, draft.actor, draft.reason)
        self._queue("SkpAgreed", {"agreed_by": draft.actor.nip, "period": p["number"], "predecessor_rule": True}, draft.actor)
        self._expectations(draft)
        return False

    def _expectations(self, decision: DecisionInput) -> None:
        # Optional so that a bare agreement still works; recorded whenever the appraiser states them.
        if decision.data.get("expectations"):
            self._queue(
                "LeaderExpectationsRecorded", {"expectations": decision.data["expectations"], "period": self._period["number"]}, decision.actor
            )

    async def _execute(self, done: set[str]) -> bool:
        """Periodic check-ins of this SKP period, then the wait for the year's end; True on a transfer."""
        self._phase = "execution"
        p, year = self._period, self._year
        starts = date.fromisoformat(p["starts"])
        for period in rules.checkin_periods(year, self._policy.checkin_period):
            if period.ends < starts or period.label in done:
                continue
            if await self._wait_until(period.due):
                return True
            try:
                checkin = await self._ask(
                    self._spec(
                        "CHECK_IN", f"Dialog kinerja {period.label} {year} — {self._employee.nama}", p["appraiser_nip"], ["RECORDED"]
                    ),
                    interruptible=True,
                )
            except _Interrupted:
                return True
            done.add(period.label)
            data = checkin.data
            rated = "hasil_kerja" in data
            self._queue(
                "CheckInRecorded",
                {
                    "period": period.label,
                    "skp_period": p["number"],
                    "feedback": data["feedback"],
                    "evidence": data.get("evidence", []),
                    "hasil_kerja": data.get("hasil_kerja"),
                    "perilaku_kerja": data.get("perilaku_kerja"),
                    "periodic_predicate": performance.predicate(data["hasil_kerja"], data["perilaku_kerja"], self._policy.regulation)
                    if rated
                    else None,
                },
                checkin.actor,
                checkin.reason,
            )
        return await self._wait_until(rules.year_end(year))

    async def _apply_transfer(self) -> None:
        """Close the current SKP period the day before the transfer and open one for the new post."""
        t = self._transfer
        assert t is not None
        effective = date.fromisoformat(t.effective_date)
        old = self._period
        ends = effective - timedelta(days=1)
        old.update(ends=ends.isoformat(), months=self._months(old, ends))
        current = await self._lookup(self._employee.nip)
        new_post = _post(current)
        for key in ("unit", "jabatan", "jenis_jabatan", "appraiser_nip"):
            if getattr(t, key):
                new_post[key] = getattr(t, key)
        self._employee = Employee(
            nip=current.nip, nama=current.nama, golongan=current.golongan, jabatan=new_post["jabatan"],
            jenis_jabatan=new_post["jenis_jabatan"], unit=new_post["unit"], atasan_nip=new_post["appraiser_nip"],
        )
        self._period = {"number": old["number"] + 1, "starts": effective.isoformat(), **new_post}
        from_post = {k: old[k] for k in ("jabatan", "jenis_jabatan", "unit", "appraiser_nip")}
        self._transfer_position = await self._flush(
            self.event(
                "TransferRecorded",
                {"effective_date": effective.isoformat(), "from": from_post, "to": new_post, "decree": t.decree},
                t.actor,
                t.reason,
            ),
            self.event("SkpPeriodClosed", {"number": old["number"], "ends": ends.isoformat(), "months": old["months"], "cause": "transfer"}),
        )
        self._transfer = None

    async def _rate(self) -> str:
        self._phase = "rating"
        title = f"Nilai kinerja {self._year} — {self._employee.nama}"
        if workflow.patched(HEAD_RATING_PATCH) and self._policy.head_work_results == "UNIT_RESULT" and await self._apply_unit_result():
            title += f" (hasil kerja mengikuti predikat unit / work results follow the unit: {self._head_hasil})"
        rating = await self._ask(self._spec("RATING", title, self._period["appraiser_nip"], ["SUBMITTED"]))
        hasil, perilaku = self._head_hasil or rating.data["hasil_kerja"], rating.data["perilaku_kerja"]
        raw = performance.predicate(hasil, perilaku, self._policy.regulation)
        self._queue("RatingSubmitted", {"hasil_kerja": hasil, "perilaku_kerja": perilaku}, rating.actor, rating.reason)
        self._queue(
            "PredicateDetermined",
            {"predicate": raw, "regulation": self._policy.regulation, "hasil_kerja": hasil, "perilaku_kerja": perilaku},
        )
        return raw

    async def _unit_context(self) -> Any:
        return await workflow.execute_local_activity_method(
            EvaluationActivities.unit_context,
            UnitContextInput(unit=self._employee.unit, year=self._year, calibration_case_id=self._case_id),  # the id names the tenant
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=READ_RETRY,
        )

    async def _apply_unit_result(self) -> bool:
        """A unit head's work results are the unit's organisation predicate: wait for the leader to set it."""
        ctx = await self._unit_context()
        if ctx.head_nip != self._employee.nip:
            return False
        org = ctx.org_predicate
        if org is None:
            # Make sure the unit's calibration exists and asks the leader; it tells this case the answer.
            await self._join("", as_head=True)
            while org is None:
                try:
                    await workflow.wait_condition(lambda: self._unit_result is not None, timeout=timedelta(hours=6))
                    org = self._unit_result.org_predicate  # type: ignore[union-attr]
                except asyncio.TimeoutError:
                    org = (await self._unit_context()).org_predicate  # set by a round this case did not hear from
        self._head_hasil = performance.unit_result_rating(org, self._policy.quota_rules)
        self._queue(
            "UnitResultApplied",
            {"unit": self._employee.unit, "org_predicate": org, "hasil_kerja": self._head_hasil, "rules": self._policy.quota_rules},
        )
        return True

    async def _join(self, raw: str, *, as_head: bool = False) -> str:
        return await workflow.execute_local_activity_method(
            EvaluationActivities.join_calibration,
            JoinCalibrationInput(
                case_id=self._case_id, nip=self._employee.nip, unit=self._employee.unit, year=self._year, raw=raw, policy=self._policy,
                as_head=as_head, closed=list(self._closed_rounds),
            ),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=READ_RETRY,
        )

    async def _calibrate(self, raw: str) -> str:
        """Join the unit's calibration (unless heading the unit) and wait for the calibrated predicate."""
        self._phase = "calibration"
        joined = await self._join(raw)
        self._queue("CalibrationJoined", {"calibration_case_id": joined, "raw": raw})
        await self._flush()
        if not joined:
            return raw
        # A calibration that closed in the instant this case joined never answers: re-join (idempotent).
        while True:
            try:
                await workflow.wait_condition(lambda: self._calibrated is not None or self._rejoin, timeout=timedelta(days=1))
            except asyncio.TimeoutError:
                pass
            if self._calibrated is not None:
                break
            self._rejoin = False
            rejoined = await self._join(raw)
            if rejoined != joined:
                joined = rejoined
                await self._flush(self.event("CalibrationJoined", {"calibration_case_id": joined, "raw": raw}))
        c = self._calibrated
        assert c is not None
        self._queue(
            "PredicateCalibrated",
            {
                "raw": raw, "calibrated": c.predicate, "adjusted": c.adjusted, "justification": c.justification,
                "calibration_case_id": c.calibration_case_id, "org_predicate": c.org_predicate,
            },
            SYSTEM,
            c.justification,
        )
        return c.predicate

    async def _deliver_result(self, predicate: str) -> tuple[str, dict[str, Any] | None]:
        """Deliver the result; the employee accepts or objects within the window; the appraiser's superior decides finally."""
        self._phase = "objection"
        self._current = predicate
        employee, appraiser = self._employee, self._period["appraiser_nip"]
        self._objection_deadline = deadline = rules.objection_deadline(workflow.now(), self._policy)
        self._queue("ResultDelivered", {"predicate": predicate, "objection_deadline": deadline.isoformat()})
        try:
            ack = await self._ask(
                self._spec(
                    "ACKNOWLEDGEMENT", f"Terima hasil evaluasi {self._year} atau ajukan keberatan", employee.nip,
                    ["ACKNOWLEDGED", "OBJECTED"], subject_may_act=True, reason_required_for=["OBJECTED"],
                ),
                until=deadline,
            )
        except _Interrupted:
            self._queue("ObjectionWindowClosed", {"deadline": deadline.isoformat(), "predicate": predicate})
            return predicate, None
        if ack.outcome == "ACKNOWLEDGED":
            self._queue("EvaluationAcknowledged", {"acknowledged_by": ack.actor.nip}, ack.actor, ack.reason)
            return predicate, None
        superior = (await self._lookup(appraiser)).atasan_nip if appraiser else None
        self._queue("ObjectionFiled", {"filed_by": ack.actor.nip, "to": superior, "deadline": deadline.isoformat()}, ack.actor, ack.reason)
        response = await self._ask(
            self._spec("OBJECTION_RESPONSE", f"Tanggapi keberatan {employee.nama} ({self._year})", appraiser, ["RESPONDED"])
        )
        self._queue("ObjectionResponded", {"explanation": response.data["explanation"], "by": response.actor.nip}, response.actor)
        decision = await self._ask(
            self._spec(
                "OBJECTION_DECISION", f"Putuskan keberatan {employee.nama} ({self._year})", superior, ["UPHELD", "CHANGED"],
                reason_required_for=["UPHELD", "CHANGED"],
            )
        )
        after = decision.data["predicate"] if decision.outcome == "CHANGED" else predicate
        self._queue(
            "ObjectionDecided",
            {"decision": decision.outcome, "before": predicate, "after": after, "decided_by": decision.actor.nip, "final": True},
            decision.actor,
            decision.reason,
        )
        return after, {"decision": decision.outcome, "before": predicate, "after": after}

    # --- messages ---------------------------------------------------------------------------------
    # The calibration sends these three by name (evaluation_contracts), without importing this module.
    @workflow.signal(name=CALIBRATED_SIGNAL)
    def calibrated(self, result: CalibratedPredicate) -> None:
        """The unit's calibration sends the calibrated predicate (the final one unless an objection changes it)."""
        if self._calibrated is None:
            self._calibrated = result

    @workflow.signal(name=CALIBRATION_CLOSED_SIGNAL)
    def calibration_closed(self, calibration_case_id: str) -> None:
        """The calibration this case joined closed as the join arrived: join the unit's next round now."""
        if self._calibrated is None:
            self._rejoin = True
            if calibration_case_id not in self._closed_rounds:
                self._closed_rounds.append(calibration_case_id)

    @workflow.signal(name=UNIT_RESULT_SIGNAL)
    def unit_result(self, result: UnitResult) -> None:
        """The unit's calibration tells its head the organisation predicate (their work-results rating)."""
        if self._unit_result is None:
            self._unit_result = result

    @workflow.update
    async def add_evidence(self, inp: EvidenceInput) -> CaseActionResult:
        """Record an evidence file by its hash (the file stays in the document store)."""
        position = await self._flush(
            self.event(
                "EvidenceRecorded",
                {"filename": inp.filename, "sha256": inp.sha256, "size_bytes": inp.size_bytes, "note": inp.note, "skp_period": self._period.get("number")},
                inp.actor,
            )
        )
        return CaseActionResult(case_id=self._case_id, event_type="EvidenceRecorded", position=position)

    @add_evidence.validator
    def validate_add_evidence(self, inp: EvidenceInput) -> None:
        if inp.actor.nip not in (self._subject_nip, self._period.get("appraiser_nip")):
            raise reject(ERR_FORBIDDEN, problem(None, "Hanya pegawai atau atasannya yang mencatat bukti.", "Only the employee or their appraiser records evidence."))
        if self._phase not in ("planning", "execution"):
            raise reject(ERR_CONFLICT, problem(None, "Bukti hanya dicatat selama tahun kinerja berjalan.", "Evidence is recorded only during the performance year."))
        problems = performance.validate_evidence({"filename": inp.filename, "sha256": inp.sha256}, "")
        if problems:
            raise reject(ERR_INVALID, *[{**p, "field": p["field"].lstrip(".")} for p in problems])

    @workflow.update
    async def record_transfer(self, inp: TransferInput) -> CaseActionResult:
        """A transfer mid-year: the running SKP period closes and a new one opens for the new post."""
        self._transfer, self._transfer_position = inp, None
        await workflow.wait_condition(lambda: self._transfer_position is not None or self._phase not in ("planning", "execution"))
        if self._transfer_position is None:
            # The year ended in the same instant: the rating has begun and the period stays as it was.
            self._transfer = None
            raise reject(ERR_CONFLICT, problem(None, "Penilaian tahunan sudah dimulai.", "The annual rating has already begun."))
        return CaseActionResult(case_id=self._case_id, event_type="TransferRecorded", position=self._transfer_position or 0)

    @record_transfer.validator
    def validate_record_transfer(self, inp: TransferInput) -> None:
        if not set(OVERSEERS) & set(inp.actor.roles):
            raise reject(ERR_FORBIDDEN, problem(None, "Hanya BKPSDM atau ADMIN yang mencatat mutasi.", "Only BKPSDM or ADMIN record a transfer."))
        if self._transfer is not None or self._phase not in ("planning", "execution"):
            raise reject(
                ERR_CONFLICT,
                problem(None, "Mutasi hanya dicatat sebelum penilaian tahunan dimulai.", "A transfer is recorded only before the annual rating begins."),
            )
        try:
            effective = date.fromisoformat(inp.effective_date)
        except ValueError:
            raise reject(ERR_INVALID, problem("effective_date", "Tanggal berlaku tidak valid (YYYY-MM-DD).", "Invalid effective date (YYYY-MM-DD).")) from None
        starts = date.fromisoformat(self._period["starts"])
        today = workflow.now().astimezone(rules.WIB).date()
        if not (starts < effective <= date(self._year, 12, 31)) or effective > today:
            raise reject(
                ERR_INVALID,
                problem(
                    "effective_date",
                    f"Tanggal berlaku harus setelah {starts}, dalam tahun {self._year}, dan tidak di masa depan.",
                    f"The effective date must be after {starts}, within {self._year}, and not in the future.",
                ),
            )

    def validate_decision_data(self, task: TaskState, decision: DecisionInput) -> list[dict[str, Any]]:
        """Per kind: the SKP (cascaded), expectations, check-ins, ratings, the objection window and its decision."""
        kind, data = task.spec.kind, decision.data
        if kind == "SKP_DRAFT":
            problems = performance.validate_skp_data(data) + performance.validate_cascade(data, self._superior_indicators)
            if "expectations" in data:
                problems += performance.validate_expectations(data)
            return problems
        if kind == "SKP_AGREEMENT" and decision.outcome == "AGREED" and "expectations" in data:
            return performance.validate_expectations(data)
        if kind == "CHECK_IN":
            return performance.validate_checkin_data(data)
        if kind == "RATING":
            if self._head_hasil is not None:
                return performance.validate_head_rating_data(data, self._head_hasil)
            return performance.validate_rating_data(data)
        if kind == "ACKNOWLEDGEMENT" and decision.outcome == "OBJECTED":
            deadline = self._objection_deadline
            if deadline is not None and workflow.now() > deadline:
                return [
                    problem(
                        "outcome",
                        f"Keberatan terlambat: batas {self._policy.objection_days} hari berakhir {deadline.isoformat()}.",
                        f"Objection too late: the {self._policy.objection_days}-day window ended {deadline.isoformat()}.",
                    )
                ]
        if kind == "OBJECTION_RESPONSE":
            return performance.validate_objection_response(data)
        if kind == "OBJECTION_DECISION":
            return performance.validate_objection_decision(decision.outcome, data, self._current or "")
        return []
