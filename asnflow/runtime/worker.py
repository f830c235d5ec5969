"""The Temporal worker process: every workflow and activity on the one task queue."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from asnflow.activities.documents import document_activities
from asnflow.activities.eventstore import EventStore
from asnflow.activities.temporal_client import connect_temporal
from asnflow.activities.notifications import notification_activities
from asnflow.activities.evaluation import EvaluationActivities
from asnflow.activities.position import position_activities
from asnflow.activities.promotion import promotion_activities
from asnflow.activities.recording import CalendarActivities, DirectoryActivities, RecordingActivities
from asnflow.activities.training import training_activities
from asnflow.activities.selection import selection_activities
from asnflow.runtime.settings import Settings
from asnflow.workflows.complaint import ComplaintWorkflow
from asnflow.workflows.evaluation import EvaluationCalibrationWorkflow, EvaluationSeasonWorkflow, EvaluationWorkflow
from asnflow.workflows.position import JptSelectionWorkflow, PositionPromotionWorkflow
from asnflow.workflows.promotion import PromotionBatchWorkflow, PromotionRotationWorkflow, PromotionWorkflow
from asnflow.workflows.schedules import DEADLINE_WORKFLOWS
from asnflow.workflows.training import TRAINING_WORKFLOWS
from asnflow.workflows.selection import SELECTION_WORKFLOWS

log = structlog.get_logger("worker")

CACHED_CASES = 500  # workflow runs kept in memory (the SDK default is 1,000)
# Workflow tasks taken at once (the SDK default is 100). A round starting its applicant cases 200 at a time
# handed this worker 100 first tasks at once, each building a sandbox and waiting on two local activities:
# on two shared cores none finished inside the server's 10 s task timeout, every one was retried from the
# start, and no case got through (bench/selection.py at 25,000). Tasks not taken wait in the server's queue,
# where no timeout runs.
WORKFLOW_TASK_SLOTS = 16

WORKFLOWS = [EvaluationWorkflow, EvaluationCalibrationWorkflow, EvaluationSeasonWorkflow, ComplaintWorkflow, *DEADLINE_WORKFLOWS, PromotionWorkflow, PromotionBatchWorkflow, PromotionRotationWorkflow, *TRAINING_WORKFLOWS, PositionPromotionWorkflow, JptSelectionWorkflow, *SELECTION_WORKFLOWS]


def build_worker(
    client: Client,
    settings: Settings,
    store: EventStore,
    executor: ThreadPoolExecutor,
    recording: RecordingActivities | None = None,
) -> Worker:
    """A worker with all workflows and activities wired to their dependencies (fault drills pass their own recording)."""
    recording = recording or RecordingActivities(store, settings.default_tenant)
    directory = DirectoryActivities(settings.database_url)
    calendar = CalendarActivities()
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[recording.record_events, directory.lookup_employee, calendar.due_date, *notification_activities(settings), *EvaluationActivities.for_settings(client, settings).all(), *promotion_activities(store, settings), *training_activities(settings), *position_activities(settings), *selection_activities(store, settings), *document_activities(store)],
        activity_executor=executor,
        max_concurrent_activities=16,
        # Each cached case costs ~0.4 MB in the sandbox; parked cases beyond the cache are replayed
        # from their short histories when someone decides (bench/memory.py: RSS stays ~300 MB).
        max_cached_workflows=CACHED_CASES,
        max_concurrent_workflow_tasks=WORKFLOW_TASK_SLOTS,
    )


async def connect(settings: Settings) -> Client:
    """Connect to Temporal, retrying while it starts."""
    for attempt in range(60):
        try:
            return await connect_temporal(settings)
        except Exception as exc:  # noqa: BLE001 - keep trying while the server starts
            if attempt == 59:
                raise
            log.info("waiting for Temporal", address=settings.temporal_address, error=str(exc))
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Poll until `stop` is set, then shut down cleanly (sdk-python#300)."""
    client = await connect(settings)
    store = EventStore(env=settings.store_env())
    with ThreadPoolExecutor(max_workers=16) as executor:
        worker = build_worker(client, settings, store, executor)
        async with worker:
            log.info("worker polling", task_queue=settings.task_queue)
            await stop.wait()
    store.close()
