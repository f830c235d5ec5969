"""Worker memory with many open cases waiting on people.

Usage: python bench/memory.py [--open-cases 10000]   (or `asnflow bench memory --open-cases N`)
Starts an embedded PostgreSQL and a Temporal dev server in a temporary folder, runs `asnflow worker`
as its own process, starts N evaluation cases in waves (as a season kick-off does: each wave waits on
people before the next starts) until every one waits on its first task.
Samples the worker's RSS with psutil throughout; prints `name: value` lines, the peak RSS last,
and cleans up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import psycopg

from asnflow.activities.evaluation import wait_parked
from asnflow.activities.eventstore import EventStore
from asnflow.activities.temporal_client import connect_temporal
from asnflow.projections.runner import open_view, rebuild
from asnflow.projections.views import PROJECTIONS
from asnflow.runtime.cli import seed_demo
from asnflow.runtime.demo_org import demo_employees
from asnflow.runtime.services import EmbeddedPostgres, TemporalDevServer
from asnflow.runtime.settings import Settings, ensure_store_key
from asnflow.workflows.contracts import Actor, StartEvaluationInput
from asnflow.workflows.evaluation import EvaluationWorkflow, evaluation_case_id

MB = 1024 * 1024


class RssSampler(threading.Thread):
    """Samples a process's resident set size (process and its children) every 100 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = self.last = 0
        self.halt = threading.Event()

    def rss(self) -> int:
        procs = [self.proc, *self.proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs if p.is_running())

    def run(self) -> None:
        while not self.halt.wait(0.1):
            try:
                self.last = self.rss()
            except psutil.Error:
                return
            self.peak = max(self.peak, self.last)


def waiting_cases(url: str) -> int:
    """Cases whose first task is open (TaskOpened of t1 recorded)."""
    with psycopg.connect(url) as conn:
        return conn.execute(  # type: ignore[no-any-return, index]
            "SELECT count(*) FROM asnflow_events WHERE topic LIKE '%:TaskOpened'"
        ).fetchone()[0]


async def start_cases(settings: Settings, n: int, wave: int, concurrency: int = 32) -> float:
    """Start n evaluation cases a wave at a time, as a season does (each wave parked first); returns starts/s."""
    client = await connect_temporal(settings)
    staff = [e for e in demo_employees() if e.atasan_nip]
    sem = asyncio.Semaphore(concurrency)
    starting = 0.0

    async def one(i: int) -> str:
        e = staff[i % len(staff)]
        year = 2026 - i // len(staff)  # distinct (employee, year) natural keys
        case_id = evaluation_case_id(e.nip, year)
        async with sem:
            await client.start_workflow(
                EvaluationWorkflow.run,
                StartEvaluationInput(case_id, e.nip, year, Actor(nip=e.nip, roles=["PEGAWAI"])),
                id=case_id, task_queue=settings.task_queue,
            )
        return case_id

    for first in range(0, n, wave):
        began = time.perf_counter()
        case_ids = await asyncio.gather(*(one(i) for i in range(first, min(n, first + wave))))
        starting += time.perf_counter() - began
        parked = await wait_parked(settings.database_url, list(case_ids))
        print(f"  wave from {first}: {parked}/{len(case_ids)} parked", file=sys.stderr, flush=True)
    return n / starting


def main(open_cases: int, timeout: float, wave: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="af-bench-", dir="/tmp"))
    pg = EmbeddedPostgres(root)
    temporal = TemporalDevServer(root)
    worker: subprocess.Popen[bytes] | None = None
    try:
        url = pg.start()
        temporal.start()
        temporal.wait_ready(60)
        settings = Settings(database_url=url, temporal_address=temporal.address, data_dir=root, task_queue="bench", store_key_file=ensure_store_key(root / "keys" / "event-store.key"))
        env = settings.store_env()
        EventStore(env=env).close()
        for name in PROJECTIONS:
            open_view(name, env).datastore.close()
        seed_demo(settings)
        rebuild(env, "employees")
        child_env = {
            **os.environ, "ASNFLOW_DATABASE_URL": url, "ASNFLOW_TEMPORAL_ADDRESS": temporal.address,
            "ASNFLOW_TASK_QUEUE": settings.task_queue, "ASNFLOW_DATA_DIR": str(root), "ASNFLOW_STORE_KEY_FILE": str(settings.store_key_file),
        }
        worker = subprocess.Popen([sys.executable, "-m", "asnflow.runtime.cli", "worker"], env=child_env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sampler = RssSampler(worker.pid)
        time.sleep(5)  # imports done, polling
        idle = sampler.rss()
        sampler.start()
        began = time.perf_counter()
        start_rate = asyncio.run(start_cases(settings, open_cases, wave))
        deadline = time.monotonic() + timeout
        while (waiting := waiting_cases(url)) < open_cases:
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit(f"only {waiting} of {open_cases} cases reached their first task")
            print(f"  waiting on people: {waiting}/{open_cases}", file=sys.stderr, flush=True)
            time.sleep(2)
        settled = time.perf_counter() - began
        time.sleep(5)  # the worker at rest with every case parked
        sampler.halt.set()
        sampler.join()
        print(f"open_cases: {open_cases}")
        print(f"wave: {wave}")
        print(f"cases_opened_per_s: {open_cases / settled:.1f}")
        print(f"starts_per_s: {start_rate:.1f}")
        print(f"worker_rss_idle_mb: {idle / MB:.0f}")
        print(f"worker_rss_end_mb: {sampler.last / MB:.0f}")
        print(f"worker_rss_peak_mb: {sampler.peak / MB:.0f}")
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        temporal.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--open-cases", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for every case to park")
    parser.add_argument("--wave", type=int, default=100, help="cases started before waiting for them to park (a season's batch)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up servers on kill
    main(args.open_cases, args.timeout, args.wave)
