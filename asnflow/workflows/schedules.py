"""Workflows started by Temporal Schedules: the daily digest, periodic notices, the evaluation season kick-off."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta, timezone

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from asnflow.workflows.delegation import DelegationWorkflow
from asnflow.workflows.evaluation_season import EvaluationSeasonWorkflow
from asnflow.workflows.human_tasks import MAIL_RETRY, PREPARE_RETRY, CaseWorkflow

with workflow.unsafe.imports_passed_through():
    from asnflow.activities.notifications import NotificationActivities
    from asnflow.domain import deadlines as dl
    from asnflow.workflows.contracts import SYSTEM
    from asnflow.workflows.deadline_contracts import (
        JOB_DIGEST,
        JOB_EVALUATION_SEASON,
        JOB_NOTICE,
        DeliverAnnouncementInput,
        DigestInput,
        NoticeCaseInput,
        NoticeResult,
        PrepareAnnouncementInput,
        ScheduledJobInput,
        ScheduledJobResult,
    )
    from asnflow.workflows.evaluation_contracts import SeasonInput, season_case_id

# Western Indonesia Time has had no daylight saving since 1964: a fixed offset is exact and needs no tz data.
WIB = timezone(timedelta(hours=7), "WIB")


def jakarta_today() -> date:
    """Today's date in Jakarta, from workflow time."""
    return workflow.now().astimezone(WIB).date()


@workflow.defn
class ScheduledJobWorkflow:
    """What a Temporal Schedule starts: the daily digest, a periodic notice, or the evaluation season (dates from workflow time)."""

    @workflow.run
    async def run(self, inp: ScheduledJobInput) -> ScheduledJobResult:
        today = date.fromisoformat(inp.day) if inp.day else jakarta_today()
        if inp.job == JOB_DIGEST:
            digest = await workflow.execute_activity_method(
                NotificationActivities.send_digests,
                DigestInput(day=today.isoformat(), at=workflow.now().isoformat()),
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=MAIL_RETRY,
            )
            return ScheduledJobResult(job=inp.job, status="sent" if digest.working_day else "not_a_working_day", detail=dataclasses.asdict(digest))
        if inp.job == JOB_NOTICE:
            assert inp.notice is not None
            period = dl.period_key(dl.NOTICES[inp.notice], today)
            case_id = f"notice-{inp.notice.lower().replace('_', '-')}-{period}"
            try:
                notice = await workflow.execute_child_workflow(
                    NoticeCaseWorkflow.run,
                    NoticeCaseInput(case_id=case_id, notice=inp.notice, period=period),
                    id=case_id,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                )
            except WorkflowAlreadyStartedError:
                return ScheduledJobResult(job=inp.job, status="already_done", case_id=case_id)
            return ScheduledJobResult(job=inp.job, status=notice.status, case_id=case_id, detail={"recipients": notice.recipients})
        if inp.job == JOB_EVALUATION_SEASON:
            year = inp.year or today.year
            case_id = season_case_id(year, "schedule")
            try:
                # The season itself (the evaluation process) starts each employee's case once; it may run long.
                await workflow.start_child_workflow(
                    EvaluationSeasonWorkflow.run,
                    SeasonInput(case_id=case_id, year=year, started_by=SYSTEM),
                    id=case_id,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    parent_close_policy=ParentClosePolicy.ABANDON,
                )
            except WorkflowAlreadyStartedError:
                return ScheduledJobResult(job=inp.job, status="already_done", case_id=case_id)
            return ScheduledJobResult(job=inp.job, status="started", case_id=case_id)
        raise ApplicationError(f"unknown scheduled job {inp.job!r}", type="UnknownJob", non_retryable=True)


@workflow.defn
class NoticeCaseWorkflow(CaseWorkflow):
    """One announcement of one period: in-app for everyone it names (an event), mail to each once."""

    process = "notice"

    @workflow.run
    async def run(self, inp: NoticeCaseInput) -> NoticeResult:
        self._init_case(inp.case_id, None)
        key = f"notice:{inp.notice}:{inp.period}"
        prepared = await workflow.execute_activity_method(
            NotificationActivities.prepare_announcement,
            PrepareAnnouncementInput(key=key, case_id=inp.case_id, notice=inp.notice, period=inp.period),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=PREPARE_RETRY,
        )
        await self.record(
            self.event(
                "CaseOpened",
                {
                    "subject_nip": None, "unit": None,
                    "title": f"{prepared.subject_id} ({inp.period}) / {prepared.subject_en}",
                    "data": {"notice": inp.notice, "period": inp.period},
                },
            ),
            self.event(
                "NoticeAnnounced",
                {
                    "notice": inp.notice, "period": inp.period, "key": key, "subject_id": prepared.subject_id,
                    "subject_en": prepared.subject_en, "recipients": prepared.recipients,
                },
            ),
        )
        mail = "sent"
        try:
            await workflow.execute_activity_method(
                NotificationActivities.deliver_announcement,
                DeliverAnnouncementInput(key=key, case_id=inp.case_id, notice=inp.notice, period=inp.period, recipients=prepared.recipients),
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=MAIL_RETRY,
            )
        except ActivityError as err:
            mail = "failed"
            await self.record(
                self.event("NotificationFailed", {"key": key, "task_id": None, "error": str(err.cause or err), "recipients": prepared.recipients})
            )
        await self.record(self.event("CaseClosed", {"status": "completed", "outcome": {"recipients": len(prepared.recipients), "mail": mail}}))
        return NoticeResult(case_id=inp.case_id, status="announced", recipients=len(prepared.recipients), extra={"mail": mail})


# Registered by the worker beside the processes.
DEADLINE_WORKFLOWS = [DelegationWorkflow, ScheduledJobWorkflow, NoticeCaseWorkflow]
