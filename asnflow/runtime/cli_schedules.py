"""`asnflow schedules …`: the Temporal Schedules of digests, notices and the evaluation season, applied idempotently."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from datetime import timedelta

import typer
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from asnflow.domain.deadlines import SCHEDULE_TIME_ZONE, SCHEDULES, SCHEDULES_VERSION, ScheduleDef
from asnflow.runtime.cli_common import DataDir, console, settings_for
from asnflow.workflows.deadline_contracts import ScheduledJobInput

schedules_app = typer.Typer(help="Temporal Schedules: digest, periodic notices, evaluation season", no_args_is_help=True)

PREFIX = "asnflow-"


def fingerprint(defn: ScheduleDef, task_queue: str) -> str:
    """Identifies the configured form of a schedule; kept in its note, so an unchanged one is left alone."""
    body = json.dumps({"def": dataclasses.asdict(defn), "queue": task_queue, "tz": SCHEDULE_TIME_ZONE}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def note_of(defn: ScheduleDef, task_queue: str) -> str:
    return f"{SCHEDULES_VERSION} {fingerprint(defn, task_queue)} — {defn.note_id} / {defn.note_en}"


def desired(defn: ScheduleDef, task_queue: str, *, paused: bool = False) -> Schedule:
    """The schedule as configured: a ScheduledJobWorkflow run per cron tick in Jakarta time, never two at once."""
    from asnflow.workflows.schedules import ScheduledJobWorkflow

    return Schedule(
        action=ScheduleActionStartWorkflow(
            ScheduledJobWorkflow.run,
            ScheduledJobInput(job=defn.job, notice=defn.notice),
            id=f"{defn.id}-run",
            task_queue=task_queue,
            execution_timeout=timedelta(hours=12),
        ),
        spec=ScheduleSpec(cron_expressions=[defn.cron], time_zone_name=SCHEDULE_TIME_ZONE),
        # A worker outage of up to a day is made good; a longer one skips to the next tick.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
        state=ScheduleState(note=note_of(defn, task_queue), paused=paused),
    )


async def apply_schedules(client: Client, task_queue: str) -> list[tuple[str, str]]:
    """Create missing schedules, update changed ones (keeping a pause), delete retired asnflow-* ones; (id, outcome) each."""
    results: list[tuple[str, str]] = []
    for defn in SCHEDULES:
        handle = client.get_schedule_handle(defn.id)
        try:
            current = await handle.describe()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            try:
                await client.create_schedule(defn.id, desired(defn, task_queue))
                results.append((defn.id, "created"))
            except ScheduleAlreadyRunningError:
                results.append((defn.id, "unchanged"))  # a concurrent apply created it
            continue
        if current.schedule.state.note == note_of(defn, task_queue):
            results.append((defn.id, "unchanged"))
            continue
        paused = current.schedule.state.paused

        def update(_: ScheduleUpdateInput, defn: ScheduleDef = defn, paused: bool = paused) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=desired(defn, task_queue, paused=paused))

        await handle.update(update)
        results.append((defn.id, "updated"))
    configured = {d.id for d in SCHEDULES}
    async for listed in await client.list_schedules():
        if listed.id.startswith(PREFIX) and listed.id not in configured:
            await client.get_schedule_handle(listed.id).delete()
            results.append((listed.id, "deleted"))
    return results


@schedules_app.command("apply")
def apply(data_dir: DataDir = None) -> None:
    """Create or update every configured schedule; running it again changes nothing."""
    from asnflow.activities.temporal_client import connect_temporal

    settings = settings_for(data_dir)

    async def run() -> list[tuple[str, str]]:
        client = await connect_temporal(settings)
        return await apply_schedules(client, settings.task_queue)

    for schedule_id, outcome in asyncio.run(run()):
        console.print(f"{schedule_id}: {outcome}")


@schedules_app.command("list")
def list_schedules(data_dir: DataDir = None) -> None:
    """The configured schedules with their cron (Asia/Jakarta) and next runs."""
    from asnflow.activities.temporal_client import connect_temporal

    settings = settings_for(data_dir)

    async def run() -> None:
        client = await connect_temporal(settings)
        for defn in SCHEDULES:
            try:
                info = (await client.get_schedule_handle(defn.id).describe()).info
                upcoming = ", ".join(t.isoformat() for t in info.next_action_times[:2])
            except RPCError:
                upcoming = "belum dibuat / not created (asnflow schedules apply)"
            console.print(f"{defn.id}  [{defn.cron} {SCHEDULE_TIME_ZONE}]  {defn.note_id} / {defn.note_en}  → {upcoming}")

    asyncio.run(run())
