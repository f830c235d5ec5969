"""Public complaints (SP4N-LAPOR!): verify, route to the OPD, follow up, close; service levels raced as timers."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

from asnflow.workflows.human_tasks import CaseWorkflow, TaskCancelledError, TaskSpec, TaskState, problem, reject

with workflow.unsafe.imports_passed_through():
    from asnflow.activities.recording import CalendarActivities
    from asnflow.domain import complaints as rules
    from asnflow.domain.organisation import UNITS_BY_CODE, Role
    from asnflow.workflows.complaint_contracts import (
        REPORTER_ACTOR,
        ComplaintActionResult,
        ReporterResponseInput,
        StartComplaintInput,
    )
    from asnflow.workflows.contracts import (
        ERR_CONFLICT,
        ERR_INVALID,
        SYSTEM,
        CancelTaskInput,
        CaseResult,
        DecisionInput,
        DueDateInput,
        NewEvent,
    )

VERIFY = "COMPLAINT_VERIFICATION"
FOLLOW_UP = "COMPLAINT_FOLLOW_UP"
ASN_RESPONSE = "COMPLAINT_ASN_RESPONSE"
VERIFY_OUTCOMES = ["VERIFIED", "POSTPONED", "NOT_OUR_AUTHORITY", "ARCHIVED"]
FOLLOW_UP_OUTCOMES = ["PLAN_POSTED", "RESOLVED"]
REPLY_STAGES = ("postponed", "awaiting_reply")


@workflow.defn
class ComplaintWorkflow(CaseWorkflow):
    process = rules.PROCESS

    @workflow.run
    async def run(self, inp: StartComplaintInput) -> CaseResult:
        # The named ASN is the case's subject for segregation of duties only: never shown on CaseOpened.
        self._init_case(inp.case_id, inp.asn_nip)
        self._inp = inp
        self._unit = inp.unit
        self._stage = "filed"
        self._replies: list[ReporterResponseInput] = []
        self._settled = False
        self._watchers: list[asyncio.Task[None]] = []
        self._asn_task: asyncio.Task[None] | None = None
        self._asn_due: datetime | None = None
        try:
            status, outcome = await self._process(inp)
        except TaskCancelledError as cancelled:
            status, outcome = "cancelled", {"closure": "cancelled"}
            await self._close(status, outcome, reason=f"task {cancelled} cancelled", wait_for_asn=False)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseResult(case_id=inp.case_id, status=status, outcome=outcome)

    async def _process(self, inp: StartComplaintInput) -> tuple[str, dict[str, Any]]:
        verify_due = await self._working_due(workflow.now(), "verification")
        unit = UNITS_BY_CODE[inp.unit]
        before: list[NewEvent] = [
            self.event(
                "CaseOpened",
                {
                    "subject_nip": None,
                    "unit": inp.unit,
                    "title": f"{rules.KINDS[inp.kind]['id']} — {unit.name}",
                    "data": {"kind": inp.kind, "regulation": inp.regulation},
                },
            ),
            self.event(
                "ComplaintFiled",
                {
                    "kind": inp.kind,
                    "unit": inp.unit,
                    "description": inp.description,
                    "anonymous": inp.anonymous,
                    "confidential": inp.confidential,
                    # Personal data (asnflow.domain.personal.PERSONAL_KEYS): encrypted in the store, never in a view.
                    "reporter_name": inp.reporter_name,
                    "reporter_contact": inp.reporter_contact,
                    **({"identity_sealed": inp.identity_sealed} if inp.identity_sealed else {}),
                    "asn_nip": inp.asn_nip,
                    "attachments": inp.attachments,
                    "fingerprint": inp.fingerprint,
                    "regulation": inp.regulation,
                    "channel": inp.channel,
                    "verification_due_at": verify_due.isoformat(),
                },
            ),
        ]
        while True:  # a postponed report comes back for verification after the reporter's supplement
            self._stage = "verifying"
            verdict = await self._within("verification", verify_due, self._verify_spec(), *before)
            if verdict.outcome == "VERIFIED":
                break
            if verdict.outcome == "NOT_OUR_AUTHORITY":
                return await self._close(
                    "rejected", {"closure": "not_our_authority"},
                    self.event("ComplaintOutsideAuthority", {}, verdict.actor, verdict.reason),
                )
            if verdict.outcome == "ARCHIVED":
                return await self._close(
                    "rejected", {"closure": "archived"},
                    self.event("ComplaintArchived", {"cause": "decided"}, verdict.actor, verdict.reason),
                )
            supplement_due = await self._working_due(workflow.now(), "supplement")
            await self.record(
                self.event("ComplaintPostponed", {"supplement_due_at": supplement_due.isoformat()}, verdict.actor, verdict.reason)
            )
            self._stage = "postponed"
            if await self._wait_reply(supplement_due) is None:
                return await self._close(
                    "rejected", {"closure": "archived"},
                    self.event("ComplaintArchived", {"cause": "no_supplement"}, reason="no supplement within the service level"),
                )
            verify_due = await self._working_due(workflow.now(), "verification")
            before = []

        verified_at = workflow.now()
        self._unit = verdict.data.get("unit") or inp.unit
        named = inp.asn_nip if inp.asn_nip and verdict.data.get("asn_confirmed", True) else None
        resolution_due = rules.calendar_due(verified_at, rules.service_level(inp.regulation, "resolution").days)
        follow_due = await self._working_due(verified_at, "follow_up")
        await self.record(
            self.event(
                "ComplaintVerified",
                {"unit": self._unit, "asn_nip": named, "resolution_due_at": resolution_due.isoformat()},
                verdict.actor,
                verdict.reason,
            ),
            self.event("ComplaintRouted", {"unit": self._unit, "follow_up_due_at": follow_due.isoformat(), "round": 1}),
        )
        self._watchers.append(asyncio.create_task(self._watch("resolution", resolution_due)))
        if named and inp.kind not in rules.ALWAYS_CONFIDENTIAL:
            # Whistleblowing is never announced to the person it concerns.
            self._asn_due = await self._working_due(verified_at, "asn_response")
            self._asn_task = asyncio.create_task(self._asn_response(named))

        round_no = 1
        before = []
        while True:
            self._stage = "follow_up"
            plan = await self._within("follow_up", follow_due, self._follow_up_spec(round_no), *before)
            posted_at = workflow.now()
            window = await self._working_due(posted_at, "auto_close")
            await self.record(
                self.event(
                    "FollowUpPlanPosted",
                    {
                        "text": plan.data["text"],
                        "final": plan.outcome == "RESOLVED",
                        "round": round_no,
                        "reply_window_until": window.isoformat(),
                    },
                    plan.actor,
                    plan.reason,
                )
            )
            self._stage = "awaiting_reply"
            reply = await self._wait_reply(window)
            if reply is None:
                return await self._close(
                    "completed", {"closure": "closed_without_reply"},
                    self.event("ComplaintAutoClosed", {"followed_up_at": posted_at.isoformat(), "reply_window_until": window.isoformat()}),
                    self.event("ComplaintResolved", {"how": "no_reply_after_follow_up", "final_follow_up": plan.outcome == "RESOLVED"}),
                )
            if reply.satisfied:
                return await self._close(
                    "completed", {"closure": "resolved"},
                    self.event("ComplaintResolved", {"how": "reporter_confirmed", "final_follow_up": plan.outcome == "RESOLVED"}),
                )
            round_no += 1
            follow_due = await self._working_due(workflow.now(), "follow_up")
            before = [self.event("ComplaintRouted", {"unit": self._unit, "follow_up_due_at": follow_due.isoformat(), "round": round_no})]

    # --- service levels ----------------------------------------------------------------------
    async def _working_due(self, start: datetime, level: str) -> datetime:
        """The end of the service level's last working day (a local activity: holiday data may change)."""
        due = await workflow.execute_local_activity_method(
            CalendarActivities.due_date,
            DueDateInput(start=start.isoformat(), working_days=rules.service_level(self._inp.regulation, level).days),
            start_to_close_timeout=timedelta(seconds=10),
        )
        return datetime.fromisoformat(due)

    async def _within(self, level: str, due: datetime, spec: TaskSpec, *before: NewEvent) -> DecisionInput:
        """A human task raced against its service level: a breach escalates, and the task stays open."""
        pending = asyncio.create_task(self.human_task(spec, *before))
        try:
            await workflow.wait_condition(pending.done, timeout=self._until(due))
        except asyncio.TimeoutError:
            await self._breach(level, due)
        return await pending

    async def _watch(self, level: str, due: datetime) -> None:
        """A service level over the whole case (resolution): breached unless settled by then."""
        try:
            await workflow.wait_condition(lambda: self._settled, timeout=self._until(due))
        except asyncio.TimeoutError:
            await self._breach(level, due)

    async def _breach(self, level: str, due: datetime) -> None:
        reason = f"service level {level} due {due.isoformat()} passed"
        payload = {"level": level, "due_at": due.isoformat(), "unit": self._unit}
        await self.record(
            self.event("ServiceLevelBreached", payload, reason=reason),
            self.event("ComplaintEscalated", {**payload, "to_unit": rules.ESCALATION_UNIT}, reason=reason),
        )

    @staticmethod
    def _until(due: datetime) -> timedelta:
        return max(due - workflow.now(), timedelta(seconds=1))

    # --- the reporter's replies ----------------------------------------------------------------
    async def _wait_reply(self, until: datetime) -> ReporterResponseInput | None:
        """The reporter's next reply, or None when the window ends without one."""
        try:
            await workflow.wait_condition(lambda: bool(self._replies), timeout=self._until(until))
        except asyncio.TimeoutError:
            if self._stage != "reply_received":
                self._stage = "closing"
                return None
            # A reply accepted just before the window ended is still being recorded.
            await workflow.wait_condition(lambda: bool(self._replies))
        return self._replies.pop(0)

    def _check_reply(self, inp: ReporterResponseInput) -> None:
        if self._stage not in REPLY_STAGES:
            raise reject(
                ERR_CONFLICT,
                problem(
                    None,
                    "Laporan ini sedang tidak menunggu tanggapan pelapor.",
                    "This report is not waiting for the reporter's reply.",
                ),
            )
        text = inp.message.strip()
        if len(text) > rules.LIMITS.response_max:
            raise reject(ERR_INVALID, problem("message", "Tanggapan terlalu panjang.", "The reply is too long."))
        if not text and (self._stage == "postponed" or not inp.satisfied):
            raise reject(ERR_INVALID, problem("message", "Tanggapan wajib diisi.", "The reply must not be empty."))

    @workflow.update
    async def reporter_respond(self, inp: ReporterResponseInput) -> ComplaintActionResult:
        """The reporter answers through the tracking code: a supplement, or a reply to the follow-up."""
        self._check_reply(inp)  # another reply may have been accepted since validation
        stage, self._stage = self._stage, "reply_received"
        satisfied = inp.satisfied and stage == "awaiting_reply"
        recorded = await self.record(
            NewEvent(
                type="ReporterResponded",
                payload={"message": inp.message.strip(), "satisfied": satisfied, "stage": stage},
                actor=dict(REPORTER_ACTOR),
            )
        )
        self._replies.append(ReporterResponseInput(message=inp.message.strip(), satisfied=satisfied))
        return ComplaintActionResult(event_type="ReporterResponded", position=recorded.positions[-1], stage=stage)

    @reporter_respond.validator
    def validate_reporter_respond(self, inp: ReporterResponseInput) -> None:
        self._check_reply(inp)

    # --- the ASN concerned ------------------------------------------------------------------------
    async def _asn_response(self, asn_nip: str) -> None:
        spec = TaskSpec(
            kind=ASN_RESPONSE,
            title="Tanggapan atas pengaduan masyarakat / Response to a public complaint",
            outcomes=["RESPONDED"],
            due_working_days=rules.service_level(self._inp.regulation, "asn_response").days,
            assignee_nip=asn_nip,
            subject_may_act=True,
        )
        try:
            answer = await self.human_task(spec)
        except TaskCancelledError:
            return
        await self.record(
            self.event("AsnResponded", {"asn_nip": asn_nip, "response": answer.data["response"]}, answer.actor, answer.reason)
        )

    async def _withdraw_open_tasks(self, reason: str) -> None:
        for task in list(self._tasks.values()):
            if task.status in ("open", "claimed"):
                await self.cancel_task(CancelTaskInput(task_id=task.task_id, actor=SYSTEM, reason=reason))

    async def _close(
        self, status: str, outcome: dict[str, Any], *events: NewEvent, reason: str = "", wait_for_asn: bool = True
    ) -> tuple[str, dict[str, Any]]:
        """Stop the clocks, give the named ASN their full response window, then close the case."""
        self._settled = True
        self._stage = "closing"
        for watcher in self._watchers:
            await watcher
        if wait_for_asn and self._asn_task is not None and self._asn_due is not None:
            try:
                await workflow.wait_condition(self._asn_task.done, timeout=self._until(self._asn_due))
            except asyncio.TimeoutError:
                pass
        await self._withdraw_open_tasks("case closed / perkara ditutup")
        if self._asn_task is not None:
            await self._asn_task
        await self.record(*events, self.event("CaseClosed", {"status": status, "outcome": outcome}, reason=reason))
        self._stage = "closed"
        return status, outcome

    # --- task specs and their decision data ---------------------------------------------------------
    def _verify_spec(self) -> TaskSpec:
        kind = rules.KINDS[self._inp.kind]
        return TaskSpec(
            kind=VERIFY,
            title=f"Verifikasi laporan: {kind['id']} ({self._inp.unit}) / Verify report: {kind['en']}",
            outcomes=VERIFY_OUTCOMES,
            due_working_days=rules.service_level(self._inp.regulation, "verification").days,
            candidate_role=Role.PENGELOLA_PENGADUAN.value,
            reason_required_for=list(VERIFY_OUTCOMES),
        )

    def _follow_up_spec(self, round_no: int) -> TaskSpec:
        return TaskSpec(
            kind=FOLLOW_UP,
            title=f"Tindak lanjut laporan masyarakat (putaran {round_no}) / Follow up a public report (round {round_no})",
            outcomes=FOLLOW_UP_OUTCOMES,
            due_working_days=rules.service_level(self._inp.regulation, "follow_up").days,
            candidate_role=Role.PENGHUBUNG_PENGADUAN.value,
            unit=self._unit,
        )

    def validate_decision_data(self, task: TaskState, decision: DecisionInput) -> list[dict[str, Any]]:
        """Routing unit on verification; the plan text on follow-ups; the ASN's response text."""
        data = decision.data
        if task.spec.kind == VERIFY and decision.outcome == "VERIFIED":
            found = []
            if "unit" in data and data["unit"] not in UNITS_BY_CODE:
                found.append(problem("data.unit", "Perangkat daerah tujuan tidak dikenal.", "Unknown target agency."))
            if "asn_confirmed" in data and not isinstance(data["asn_confirmed"], bool):
                found.append(problem("data.asn_confirmed", "Isian harus true/false.", "Must be true or false."))
            return found
        if task.spec.kind == FOLLOW_UP:
            return _text_problems(data.get("text"), "data.text", 10)
        if task.spec.kind == ASN_RESPONSE:
            return _text_problems(data.get("response"), "data.response", 1)
        return []


def _text_problems(value: Any, field_name: str, minimum: int) -> list[dict[str, Any]]:
    limit = rules.LIMITS.response_max
    if not isinstance(value, str) or not (minimum <= len(value.strip()) <= limit):
        return [
            problem(
                field_name,
                f"Teks wajib diisi ({minimum}–{limit} karakter).",
                f"Text is required ({minimum}–{limit} characters).",
            )
        ]
    return []
