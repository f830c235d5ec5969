"""What exactly-once recording costs: per-step rates against bare Temporal baselines in the same run.

Usage: python bench/recording.py [--cases 200]
Starts an embedded PostgreSQL and a Temporal dev server (WAL + synchronous=normal) in a temporary
folder, prints `name: value` lines, and cleans up.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from _bare import BareStepsWorkflow, bench_noop  # a sibling module: the sandbox re-imports it

from asnflow.activities.eventstore import EventStore, read_case, record
from asnflow.domain.events import GENESIS_HASH
from asnflow.runtime.cli import _prepare_store, seed_demo
from asnflow.runtime.demo_org import demo_employees
from asnflow.runtime.services import EmbeddedPostgres, TemporalDevServer
from asnflow.runtime.settings import Settings, ensure_store_key
from asnflow.runtime.worker import build_worker
from asnflow.projections.runner import rebuild
from asnflow.workflows.contracts import Actor, DecisionInput, NewEvent, RecordInput, StartEvaluationInput
from asnflow.workflows.evaluation import EvaluationWorkflow, evaluation_case_id
from asnflow.workflows.human_tasks import CaseWorkflow


async def rate(n: int, make: callable, concurrency: int = 16) -> float:  # type: ignore[valid-type]
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await make(i)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return n / (time.perf_counter() - start)


def raw_appends(store: EventStore, per_call: int, calls: int) -> float:
    start = time.perf_counter()
    for i in range(calls):
        events = [NewEvent("TaskOpened", {"task_id": f"b.t{j}"}, {"nip": None}) for j in range(per_call)]
        record(store, RecordInput(f"raw-{per_call}-{i}", "bench", 0, GENESIS_HASH, "w", "r", "2026-01-01T00:00:00+00:00", events))
    return per_call * calls / (time.perf_counter() - start)


async def main(cases: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="af-bench-", dir="/tmp"))
    pg = EmbeddedPostgres(root)
    temporal = TemporalDevServer(root)
    try:
        url = pg.start()
        temporal.start()
        temporal.wait_ready(60)
        settings = Settings(database_url=url, temporal_address=temporal.address, data_dir=root, task_queue="bench", store_key_file=ensure_store_key(root / "keys" / "event-store.key"))
        _prepare_store(settings)
        seed_demo(settings)
        rebuild(settings.store_env(), "employees")
        store = EventStore(env=settings.store_env())
        print(f"append_1_per_call_events_per_s: {raw_appends(store, 1, 500):.0f}")
        print(f"append_4_per_call_events_per_s: {raw_appends(store, 4, 500):.0f}")

        client = await Client.connect(temporal.address)
        staff = [e for e in demo_employees() if e.atasan_nip][:cases]
        n = len(staff)
        with ThreadPoolExecutor(16) as executor:
            async with build_worker(client, settings, store, executor), Worker(
                client, task_queue="bench-bare", workflows=[BareStepsWorkflow], activities=[bench_noop], activity_executor=executor
            ):
                run_id = uuid.uuid4().hex[:6]

                async def bare_start(i: int) -> None:
                    handle = await client.start_workflow(BareStepsWorkflow.run, "x", id=f"bare-{run_id}-{i}", task_queue="bench-bare")
                    await handle.execute_update(BareStepsWorkflow.opened_step, "x")

                async def bare_decide(i: int) -> None:
                    await client.get_workflow_handle(f"bare-{run_id}-{i}").execute_update(BareStepsWorkflow.decide, "x")

                async def case_start(i: int) -> None:
                    e = staff[i]
                    case_id = evaluation_case_id(e.nip, 2030)
                    await client.start_workflow(
                        EvaluationWorkflow.run,
                        StartEvaluationInput(case_id, e.nip, 2030, Actor(nip=e.nip, roles=["PEGAWAI"])),
                        id=case_id, task_queue="bench",
                    )
                    while len(await asyncio.to_thread(read_case, store, case_id)) < 3:
                        await asyncio.sleep(0.02)

                async def case_decide(i: int) -> None:
                    e = staff[i]
                    case_id = evaluation_case_id(e.nip, 2030)
                    await client.get_workflow_handle(case_id).execute_update(
                        CaseWorkflow.decide,
                        DecisionInput(f"{case_id}.t1", Actor(nip=e.nip, roles=["PEGAWAI"]), "SUBMITTED",
                                      data={"targets": [{"indikator": "x", "target": "y"}]}),
                    )

                bare_open = await rate(n, bare_start)
                bare_dec = await rate(n, bare_decide)
                case_open = await rate(n, case_start)
                case_dec = await rate(n, case_decide)
        print(f"cases: {n}")
        print(f"bare_open_per_s: {bare_open:.1f}")
        print(f"case_open_recorded_per_s: {case_open:.1f}")
        print(f"bare_decide_per_s: {bare_dec:.1f}")
        print(f"case_decide_recorded_per_s: {case_dec:.1f}")
        print(f"open_ratio: {case_open / bare_open:.2f}")
        print(f"ratio: {case_dec / bare_dec:.2f}")
        store.close()
    finally:
        temporal.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=200)
    asyncio.run(main(parser.parse_args().cases))
