"""The baseline workflow of bench/recording.py: Temporal work only, nothing recorded."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench_noop")
def bench_noop(_: str) -> str:
    return "ok"


@workflow.defn
class BareStepsWorkflow:
    """The same Temporal shape as an evaluation's first step (1 activity, 2 local activities), doing nothing."""

    def __init__(self) -> None:
        self.decided = False
        self.opened = False

    @workflow.run
    async def run(self, _: str) -> None:
        await workflow.execute_activity(bench_noop, "x", start_to_close_timeout=timedelta(seconds=10))
        for _i in range(2):
            await workflow.execute_local_activity(bench_noop, "x", start_to_close_timeout=timedelta(seconds=10))
        self.opened = True
        await workflow.wait_condition(lambda: self.decided)

    @workflow.update
    async def opened_step(self, _: str) -> str:
        """Returns once the first step is done (the evaluation's equivalent: its TaskOpened is stored)."""
        await workflow.wait_condition(lambda: self.opened)
        return "ok"

    @workflow.update
    async def decide(self, _: str) -> str:
        await workflow.execute_local_activity(bench_noop, "x", start_to_close_timeout=timedelta(seconds=10))
        self.decided = True
        return "ok"
