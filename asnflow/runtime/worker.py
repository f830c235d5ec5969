"""The Temporal worker process: every workflow and activity on the one task queue."""

from __future__ import annotations

import asyncio
import functools
import importlib.abc
import importlib.machinery
import os
import sys
import typing
import weakref
from concurrent.futures import ThreadPoolExecutor
from types import CodeType
from typing import Any, ClassVar

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
from asnflow.workflows.evaluation import EvaluationWorkflow
from asnflow.workflows.evaluation_calibration import EvaluationCalibrationWorkflow
from asnflow.workflows.evaluation_season import EvaluationSeasonWorkflow
from asnflow.workflows.position import JptSelectionWorkflow, PositionPromotionWorkflow
from asnflow.workflows.promotion import PromotionBatchWorkflow, PromotionRotationWorkflow, PromotionWorkflow
from asnflow.workflows.schedules import DEADLINE_WORKFLOWS
from asnflow.workflows.training import TRAINING_WORKFLOWS
from asnflow.workflows.selection import SELECTION_WORKFLOWS

log = structlog.get_logger("worker")

# Workflow runs kept in memory (the SDK's default). A season's cases beyond it are replayed for each decision:
# at 1,000 employees a cache of 500 doubled the worker's CPU (ratio 0.51; 1,100 gave 1.07), while 10,000 parked
# cases with 1,000 cached peak at 320 MB (bench/memory.py, goal 500 MB).
CACHED_CASES = 1000
SANDBOX_REIMPORTED = "asnflow."  # modules the workflow sandbox may import afresh for each run

WORKFLOWS = [EvaluationWorkflow, EvaluationCalibrationWorkflow, EvaluationSeasonWorkflow, ComplaintWorkflow, *DEADLINE_WORKFLOWS, PromotionWorkflow, PromotionBatchWorkflow, PromotionRotationWorkflow, *TRAINING_WORKFLOWS, PositionPromotionWorkflow, JptSelectionWorkflow, *SELECTION_WORKFLOWS]


class _CompiledOnceLoader(importlib.machinery.SourceFileLoader):
    """A source loader that compiles each version of a file once per process and reuses the code object."""

    _codes: ClassVar[dict[tuple[str, int, int], CodeType]] = {}

    def get_code(self, fullname: str) -> CodeType:
        """The module's code: from memory when this exact file (path, mtime, size) was compiled before."""
        path = self.get_filename(fullname)
        st = os.stat(path)
        key = (path, st.st_mtime_ns, st.st_size)
        code = self._codes.get(key)
        if code is None:
            code = super().get_code(fullname)
            if code is not None:
                self._codes[key] = code
        return code  # type: ignore[return-value]


class _CompiledOnceFinder(importlib.abc.MetaPathFinder):
    """Finds asnflow's own modules as the path finder does, with `_CompiledOnceLoader` as their loader."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(SANDBOX_REIMPORTED):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader and spec.origin:
            spec.loader = _CompiledOnceLoader(fullname, spec.origin)
        return spec


def cache_workflow_bytecode() -> None:
    """Compile asnflow's workflow modules once per process, not once per workflow run (idempotent)."""
    # The sandbox executes a workflow's module afresh for every run it creates (a new case, or one
    # replayed after leaving the cache); that is what keeps runs apart. Where no bytecode cache is
    # written (PYTHONDONTWRITEBYTECODE, a read-only install without .pyc files) each of those imports
    # also compiled evaluation.py and human_tasks.py from source: ~20-40 ms of CPU per run, the
    # largest single cost of the evaluation season's worker (docs/PERFORMANCE.md). The module is still
    # executed afresh in each sandbox; only the compile step is shared, as a .pyc file would share it.
    if not any(isinstance(f, _CompiledOnceFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _CompiledOnceFinder())


@functools.lru_cache(maxsize=256)
def _compiled_snippet(code: str) -> CodeType:
    return compile(code, "<string>", "exec")


_TYPE_HINTS: weakref.WeakKeyDictionary[type, dict[str, Any]] = weakref.WeakKeyDictionary()


def _class_type_hints(obj: Any, globalns: Any = None, localns: Any = None, include_extras: bool = False) -> dict[str, Any]:
    """typing.get_type_hints, remembered per class for the converter's plain calls (it only reads the result)."""
    if globalns is not None or localns is not None or include_extras or not isinstance(obj, type):
        return typing.get_type_hints(obj, globalns, localns, include_extras)
    hints = _TYPE_HINTS.get(obj)
    if hints is None:
        hints = _TYPE_HINTS[obj] = typing.get_type_hints(obj)
    return hints


def speed_up_sdk() -> None:
    """Two per-call costs of temporalio 1.35 paid once instead (idempotent; skipped if the SDK's internals moved)."""
    # The sandbox passes every activation, and every payload sequence it encodes or decodes (to ask the
    # workflow for its serialization context), through exec() of a constant source snippet, which compiled
    # that snippet each time: ~8 % of the evaluation worker's Python time (docs/PERFORMANCE.md). The
    # snippets are few and fixed, so their code objects are kept; exec() runs them exactly as before.
    from temporalio.converter import _payload_converter
    from temporalio.worker.workflow_sandbox import _runner

    instance = getattr(_runner, "_Instance", None)
    run_code = getattr(instance, "_run_code", None)
    if run_code is not None and not getattr(run_code, "_asnflow_compiled", False):

        def _run_code(self: Any, code: Any, **extra_globals: Any) -> None:
            run_code(self, _compiled_snippet(code) if isinstance(code, str) else code, **extra_globals)

        _run_code._asnflow_compiled = True  # type: ignore[attr-defined]
        instance._run_code = _run_code  # type: ignore[union-attr]
    # The JSON converter asks typing.get_type_hints for a dataclass's field types on every conversion (each
    # activity input, local activity result, update argument): ~40-50 us per class with postponed annotations
    # (each one compiled again), ~7 % of the worker's Python time. Our payload classes never change.
    if getattr(_payload_converter, "get_type_hints", None) is typing.get_type_hints:
        _payload_converter.get_type_hints = _class_type_hints  # type: ignore[attr-defined]


def build_worker(
    client: Client,
    settings: Settings,
    store: EventStore,
    executor: ThreadPoolExecutor,
    recording: RecordingActivities | None = None,
) -> Worker:
    """A worker with all workflows and activities wired to their dependencies (fault drills pass their own recording)."""
    cache_workflow_bytecode()
    speed_up_sdk()
    recording = recording or RecordingActivities(store, settings.default_tenant)
    directory = DirectoryActivities(settings.database_url)
    calendar = CalendarActivities()
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[recording.record_events, recording.open_task, directory.lookup_employee, calendar.due_date, *notification_activities(settings), *EvaluationActivities.for_settings(client, settings).all(), *promotion_activities(store, settings), *training_activities(settings), *position_activities(settings), *selection_activities(store, settings), *document_activities(store)],
        activity_executor=executor,
        max_concurrent_activities=16,
        # Each cached case costs ~0.2-0.4 MB in the sandbox; parked cases beyond the cache are replayed
        # from their short histories when someone decides.
        max_cached_workflows=CACHED_CASES,
        max_concurrent_workflow_tasks=settings.worker_workflow_tasks,
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
