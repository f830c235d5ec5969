"""A worker that dies right after it records a calibration round (run as a process; the test kills it with -9).

Its recording is the real one; only its task opening stops for good once a CalibrationRoundOpened is
committed, as a worker that crashed between the commit and the end of its workflow task.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from temporalio import activity

from asnflow.activities.eventstore import EventStore
from asnflow.activities.recording import RecordingActivities
from asnflow.activities.temporal_client import connect_temporal
from asnflow.runtime.settings import Settings
from asnflow.runtime.worker import build_worker
from asnflow.workflows.deadline_contracts import OpenTaskInput, OpenTaskResult


class DiesAfterRound(RecordingActivities):
    @activity.defn(name="record_task_opened")
    def open_task(self, inp: OpenTaskInput) -> OpenTaskResult:
        result = super().open_task(inp)
        if any(e.type == "CalibrationRoundOpened" for e in inp.record.events):
            time.sleep(3600)  # committed, never answered: the test kills this process now
        return result


async def main() -> None:
    settings = Settings()
    store = EventStore(env=settings.store_env())
    client = await connect_temporal(settings)
    with ThreadPoolExecutor(8) as executor:
        async with build_worker(client, settings, store, executor, recording=DiesAfterRound(store, settings.default_tenant)):
            await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
