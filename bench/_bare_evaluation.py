"""Bare baseline of bench/evaluation.py: the evaluation's Temporal shape (waits, decisions, calibration) with no events, tasks or views.

Run as a worker process: python bench/_bare_evaluation.py --address HOST:PORT --task-queue Q
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

STEPS = ("SKP_DRAFT", "SKP_AGREEMENT", "CHECK_IN", "RATING")  # then calibration, then ACKNOWLEDGEMENT


@dataclass
class BareCase:
    case_id: str
    unit: str
    members: int  # size of the unit's calibration, so the bare calibration waits for as many cases as ours
    calibrate: bool = True  # unit heads (and the top) are not calibrated by their own unit


@dataclass
class BareCalibrationStart:
    case_id: str
    members: int


@dataclass
class BareJoin:
    calibration_id: str
    members: int
    case_id: str
    task_queue: str


@activity.defn(name="bare_noop")
def bare_noop(_: str) -> str:
    return "ok"


_client: Client | None = None


@activity.defn(name="bare_join")
async def bare_join(inp: BareJoin) -> str:
    """Signal-with-start the unit's bare calibration, as the evaluation's join_calibration does."""
    assert _client is not None
    await _client.start_workflow(
        BareCalibrationWorkflow.run,
        BareCalibrationStart(inp.calibration_id, inp.members),
        id=inp.calibration_id,
        task_queue=inp.task_queue,
        start_signal="joined",
        start_signal_args=[inp.case_id],
    )
    return inp.calibration_id


@workflow.defn
class BareEvaluationWorkflow:
    """Three activities to open, four decided steps, a calibration round trip, one acknowledgement."""

    def __init__(self) -> None:
        self.open_step: int | None = None
        self.done: set[int] = set()
        self.calibrated = False

    async def _step(self, step: int) -> None:
        for _ in range(2):  # like a task opening: due date and recording
            await workflow.execute_local_activity(bare_noop, "x", start_to_close_timeout=timedelta(seconds=30))
        self.open_step = step
        await workflow.wait_condition(lambda: step in self.done)

    @workflow.run
    async def run(self, inp: BareCase) -> str:
        # Like ours: the directory look-up an activity, the superior's SKP a local one (the season passes the policy).
        await workflow.execute_activity(bare_noop, "x", start_to_close_timeout=timedelta(seconds=30))
        await workflow.execute_local_activity(bare_noop, "x", start_to_close_timeout=timedelta(seconds=30))
        for step in range(len(STEPS)):
            await self._step(step)
        if not inp.calibrate:
            await workflow.execute_local_activity(bare_noop, "x", start_to_close_timeout=timedelta(seconds=30))  # the head check
        else:
            await workflow.execute_local_activity(
                bare_join,
                BareJoin(f"bare-cal-{inp.unit}", inp.members, inp.case_id, workflow.info().task_queue),
                start_to_close_timeout=timedelta(seconds=60),
            )
            await workflow.wait_condition(lambda: self.calibrated)
        await self._step(len(STEPS))
        await workflow.execute_local_activity(bare_noop, "x", start_to_close_timeout=timedelta(seconds=30))
        return "completed"

    @workflow.update
    async def decide(self, step: int) -> int:
        """Waits until the step is open (as a person waits for the task), then decides it."""
        await workflow.wait_condition(lambda: self.open_step == step)
        await workflow.execute_local_activity(bare_noop, "x", start_to_close_timeout=timedelta(seconds=30))
        self.done.add(step)
        return step

    @workflow.signal
    def calibrated_signal(self) -> None:
        self.calibrated = True


@workflow.defn
class BareCalibrationWorkflow:
    """Waits for its members and two decisions (organisation predicate, calibration), then answers every member."""

    @workflow.init
    def __init__(self, inp: BareCalibrationStart) -> None:
        self.members: list[str] = []
        self.decided = 0
        self.expected = inp.members

    @workflow.signal
    def joined(self, case_id: str) -> None:
        if case_id not in self.members:
            self.members.append(case_id)

    @workflow.run
    async def run(self, inp: BareCalibrationStart) -> int:
        await workflow.execute_local_activity(bare_noop, "x", start_to_close_timeout=timedelta(seconds=30))  # the unit's head
        await workflow.wait_condition(lambda: self.decided >= 2)
        await asyncio.gather(
            *(workflow.get_external_workflow_handle(c).signal(BareEvaluationWorkflow.calibrated_signal) for c in self.members)
        )
        await workflow.execute_local_activity(bare_noop, "x", start_to_close_timeout=timedelta(seconds=30))
        return len(self.members)

    @workflow.update
    async def decide(self, n: int) -> int:
        """n = 1: organisation predicate; n = 2: calibration, once every member has joined."""
        if n == 2:
            await workflow.wait_condition(lambda: self.decided >= 1 and len(self.members) >= self.expected)
        await workflow.execute_local_activity(bare_noop, "x", start_to_close_timeout=timedelta(seconds=30))
        self.decided = max(self.decided, n)
        return n


async def serve(address: str, task_queue: str) -> None:
    global _client
    _client = await Client.connect(address)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as executor:
        async with Worker(
            _client, task_queue=task_queue, workflows=[BareEvaluationWorkflow, BareCalibrationWorkflow],
            activities=[bare_noop, bare_join], activity_executor=executor, max_concurrent_activities=16,
        ):
            await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.address, args.task_queue))
    except KeyboardInterrupt:
        pass
