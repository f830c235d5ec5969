"""A whole evaluation season against a bare-Temporal baseline with the same waits and decisions.

Usage: asnflow bench evaluation [--employees 6000]   (or: python bench/evaluation.py --employees N)
Starts an embedded PostgreSQL and a Temporal dev server in a temporary folder (or uses the services
given by --database-url / --temporal-address), runs the worker and the projector as their own
processes, starts the season, drives every case to its end through the same Updates people use
(reading the open tasks from the inbox view), then runs the bare baseline, prints `name: value`
lines, the headline `ratio:` line last, and cleans up.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg.rows import dict_row

BENCH_DIR = Path(__file__).resolve().parent
STALL_SECONDS = 120  # no case closed and no decision taken for this long: the run is stuck
BUPATI = "197001011990011001"
INDICATOR = "Indikator kinerja unit tercapai"
DATA: dict[str, tuple[str, dict[str, Any]]] = {
    "SKP_DRAFT": ("SUBMITTED", {"targets": [{"indikator": INDICATOR, "target": "100%", "cascaded_from": INDICATOR}]}),
    "SKP_AGREEMENT": ("AGREED", {"expectations": ["Target unit tercapai tepat waktu"]}),
    "CHECK_IN": ("RECORDED", {"feedback": "Capaian semester sesuai rencana"}),
    "ORG_PREDICATE": ("SET", {"predicate": "BAIK"}),
    "CALIBRATION": ("CALIBRATED", {"adjustments": [], "quota_justification": "Distribusi mengikuti kinerja nyata unit (bench)"}),
    "ACKNOWLEDGEMENT": ("ACKNOWLEDGED", {}),
}
RATINGS = (("SESUAI_EKSPEKTASI", "SESUAI_EKSPEKTASI"),) * 7 + (("DI_ATAS_EKSPEKTASI", "DI_ATAS_EKSPEKTASI"),) * 2 + (
    ("DI_BAWAH_EKSPEKTASI", "SESUAI_EKSPEKTASI"),
)


def synthetic_directory(n: int, unit_size: int = 25) -> list[dict[str, Any]]:
    """A regency of n employees: one regional secretary, units of `unit_size` with a head and staff."""
    from asnflow.domain.nip import make_nip

    def person(i: int, unit: str, atasan: str | None, jabatan: str, jenis: str, golongan: str) -> dict[str, Any]:
        birth = date(1970, 1, 1) + timedelta(days=(i * 37) % 9000)
        tmt = date(birth.year + 24, 1 + i % 12, 1)
        sex = "L" if i % 2 else "P"
        return {
            "nip": make_nip(birth, tmt, sex, 1 + i // 9000), "nama": f"Pegawai Bench {i}", "jenis_kelamin": sex,
            "tanggal_lahir": birth.isoformat(), "golongan": golongan, "jabatan": jabatan, "jenis_jabatan": jenis, "unit": unit,
            "atasan_nip": atasan, "pendidikan": "S1", "tmt_golongan": tmt.isoformat(), "tmt_jabatan": tmt.isoformat(),
            "roles": ["PEGAWAI", "ATASAN"] if jenis in ("JPT", "ADMINISTRATOR") else ["PEGAWAI"],
        }

    top = person(0, "B-SETDA", None, "Sekretaris Daerah", "JPT", "IV/c")
    rows, i, u = [top], 1, 0
    while i < n:
        u += 1
        unit = f"B-U{u:04d}"
        head = person(i, unit, top["nip"], f"Kepala Unit {u}", "ADMINISTRATOR", "IV/a")
        rows.append(head)
        i += 1
        for _ in range(min(unit_size - 1, n - i)):
            functional = i % 2 == 0
            rows.append(
                person(
                    i, unit, head["nip"], "Pranata Komputer Ahli Pertama" if functional else "Pengadministrasi Umum",
                    "FUNGSIONAL" if functional else "PELAKSANA", "III/a" if functional else "II/b",
                )
            )
            i += 1
    return rows


class PeakRss:
    """Samples a process tree's resident memory in a thread; `peak` in bytes."""

    def __init__(self, pid: int) -> None:
        self.proc, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self.proc.memory_info().rss + sum(c.memory_info().rss for c in self.proc.children(recursive=True))
                self.peak = max(self.peak, rss)
            except psutil.Error:
                pass
            time.sleep(0.2)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(timeout=2)
        return self.peak


def cpu_seconds(pids: list[int], marker: str | None = None) -> float:
    """User + system CPU of the given processes (and their children), plus any whose command line holds `marker`."""
    seen: dict[int, float] = {}
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                t = p.cpu_times()
                seen[p.pid] = t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    if marker:
        for p in psutil.process_iter(["cmdline"]):
            try:
                if marker in " ".join(p.info["cmdline"] or []) and p.pid not in seen:
                    t = p.cpu_times()  # children_*: backends that have already exited
                    seen[p.pid] = t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
    return sum(seen.values())


def spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen(argv, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def drive_ours(settings: Any, year: int, n: int, progress: Any = None) -> dict[str, Any]:
    """Start the season and decide every open task from the inbox view until every case is closed."""
    from asnflow.activities.evaluation import start_season
    from asnflow.activities.temporal_client import connect_temporal
    from asnflow.workflows.contracts import Actor, DecisionInput
    from asnflow.workflows.human_tasks import CaseWorkflow
    from temporalio.client import WorkflowUpdateFailedError

    client = await connect_temporal(settings)
    conn = await psycopg.AsyncConnection.connect(settings.database_url, row_factory=dict_row, autocommit=True)
    lag_conn = await psycopg.AsyncConnection.connect(settings.database_url, autocommit=True)
    gate = asyncio.Semaphore(16)
    taken: set[str] = set()
    again: list[dict[str, Any]] = []
    samples: list[tuple[int, float]] = []
    lags: list[float] = []
    errors: list[str] = []
    retried: list[str] = []
    running = True

    sampled = asyncio.Event()

    async def watch_lag() -> None:
        # Reads the view's position every 5 ms while a decision waits to show, and sleeps otherwise: the
        # measurement's own queries compete for the same two cores as the system measured.
        while running or samples:
            if not samples:
                sampled.clear()
                try:
                    await asyncio.wait_for(sampled.wait(), 0.5)
                except TimeoutError:
                    pass
                continue
            row = await (await lag_conn.execute("SELECT notification_id FROM tasks_tracking WHERE application_name = 'asnflow'")).fetchone()
            seen, now = (row[0] if row else 0), time.perf_counter()
            for item in [s for s in samples if s[0] <= seen]:
                samples.remove(item)
                lags.append(now - item[1])
            await asyncio.sleep(0.005)

    async def decide(task: dict[str, Any]) -> None:
        async with gate:
            kind = task["kind"]
            if kind == "RATING":
                hasil, perilaku = RATINGS[hash(task["case_id"]) % len(RATINGS)]
                outcome, data = "SUBMITTED", {"hasil_kerja": hasil, "perilaku_kerja": perilaku}
                if task["case_id"].rsplit("-", 1)[-1] in heads:
                    data.pop("hasil_kerja")  # a unit head's work results are the unit's organisation predicate
            else:
                outcome, data = DATA[kind]
            nip = task["assignee_nip"] or (BUPATI if task["candidate_role"] == "BUPATI" else None)
            roles = ["PEGAWAI", "ATASAN", "KEPALA_OPD"] if task["candidate_role"] != "BUPATI" else ["BUPATI"]
            who = Actor(nip=nip, roles=roles, unit=task["unit"])
            try:
                done = await client.get_workflow_handle(task["case_id"]).execute_update(
                    CaseWorkflow.decide, DecisionInput(task_id=task["id"], actor=who, outcome=outcome, data=data),
                    id=f"{task['id']}.decide",  # a retry after a lost response is the same update, not a second one
                )
                samples.append((done.position, time.perf_counter()))
                sampled.set()
            except WorkflowUpdateFailedError as exc:
                if getattr(exc.cause, "type", None) == "NotFound":
                    # The task is in the view but the case has not registered it yet (its TaskOpened was
                    # recorded and projected before the workflow went on): the next poll tries again.
                    retried.append(f"{task['id']} {kind}: not registered yet")
                    taken.discard(task["id"])
                    again.append(task)
                else:  # refused: a bug in the script, shown, never retried
                    errors.append(f"{task['id']} {kind}: {exc.cause!r}"[:300])
            except Exception as exc:  # noqa: BLE001 - e.g. an RPC timeout under load: the next poll retries it
                retried.append(f"{task['id']} {kind}: {exc!r}"[:200])
                taken.discard(task["id"])
                again.append(task)

    heads = {
        row["nip"]
        for row in await (
            await conn.execute(
                "SELECT e.nip FROM employees e LEFT JOIN employees a ON a.nip = e.atasan_nip WHERE a.nip IS NULL OR a.unit <> e.unit"
            )
        ).fetchall()
    }
    started = time.perf_counter()
    season_id, _ = await start_season(client, settings.task_queue, settings.database_url, year, Actor(nip=None, roles=["ADMIN"]), {})
    lag_task = asyncio.create_task(watch_lag())
    pending: set[asyncio.Task[None]] = set()
    closed = 0
    progress_mark, progress_at = (0, 0), time.perf_counter()
    seen_position = 0
    while closed < n:
        # Only the open tasks the view gained since the last read (rows appear in position order, a page
        # per commit): re-reading every open task 20 times a second cost the two shared cores as much
        # as a tenth of what the season itself used. Refused-for-now decisions are retried from `again`.
        rows = await (
            await conn.execute(
                "SELECT id, case_id, kind, assignee_nip, candidate_role, unit, updated_position FROM tasks"
                " WHERE status = 'open' AND process IN ('evaluation', 'evaluation_calibration') AND updated_position > %s"
                " ORDER BY updated_position",
                [seen_position],
            )
        ).fetchall()
        if rows:
            seen_position = rows[-1]["updated_position"]
        retry, again[:] = list(again), []
        for row in [*retry, *rows]:
            if row["id"] not in taken:
                taken.add(row["id"])
                t = asyncio.create_task(decide(row))
                pending.add(t)
                t.add_done_callback(pending.discard)
        found = await (
            await conn.execute("SELECT count(*) AS n FROM cases WHERE process = 'evaluation' AND status <> 'open' AND id LIKE %s", [f"evaluation-{year}-%"])
        ).fetchone()
        closed = found["n"] if found else 0
        if progress:
            progress(closed, n)
        if errors and len(errors) > n:
            raise RuntimeError("too many failed decisions:\n" + "\n".join(errors[:5]))
        if (closed, len(taken)) != progress_mark:
            progress_mark, progress_at = (closed, len(taken)), time.perf_counter()
        elif time.perf_counter() - progress_at > STALL_SECONDS:
            # A case that stopped (e.g. a failed recording) would keep the season open for ever, and the
            # bench would hold the machine's shared bench lock with it: stop and say where it stopped.
            raise RuntimeError(f"no progress for {STALL_SECONDS} s: {closed} of {n} cases closed, {len(rows)} open tasks; see worker.log")
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    running = False
    await asyncio.wait_for(lag_task, 30)
    await conn.close()
    await lag_conn.close()
    return {"seconds": elapsed, "cases": n, "decisions": len(taken), "lags": lags, "errors": errors, "retried": len(retried), "season": season_id}


async def drive_bare(address: str, task_queue: str, rows: list[dict[str, Any]], progress: Any = None) -> dict[str, Any]:
    """The same cases as bare workflows: same activities, waits, decisions and calibration round trip."""
    sys.path.insert(0, str(BENCH_DIR))
    from _bare_evaluation import STEPS, BareCalibrationWorkflow, BareCase, BareEvaluationWorkflow
    from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
    from temporalio.service import RPCError

    client = await Client.connect(address)
    run = uuid.uuid4().hex[:6]
    units: dict[str, list[str]] = {}
    heads = {r["atasan_nip"] for r in rows if r["atasan_nip"]}
    # As in ours: the top and the unit heads are not calibrated by their own unit.
    top_and_heads = {r["nip"] for r in rows if r["atasan_nip"] is None or r["nip"] in heads}
    for r in rows:
        if r["nip"] not in top_and_heads:
            units.setdefault(r["unit"], []).append(r["nip"])
    rated = {u: 0 for u in units}
    all_rated = {u: asyncio.Event() for u in units}
    cal_done = {u: asyncio.Event() for u in units}
    gate = asyncio.Semaphore(16)
    done = 0

    async def call(handle: Any, update: Any, arg: int) -> None:
        for attempt in range(5):
            try:
                async with gate:
                    await handle.execute_update(update, arg, id=f"{handle.id}.{arg}")
                return
            except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
                if attempt == 4:
                    raise
                await asyncio.sleep(1)

    async def case(r: dict[str, Any]) -> None:
        nonlocal done
        case_id = f"bare-{run}-{r['nip']}"
        member = r["nip"] not in top_and_heads
        async with gate:
            handle = await client.start_workflow(
                BareEvaluationWorkflow.run,
                BareCase(case_id, f"{run}-{r['unit']}", len(units.get(r["unit"], [])), calibrate=member),
                id=case_id, task_queue=task_queue,
            )
        for step in range(len(STEPS)):
            await call(handle, BareEvaluationWorkflow.decide, step)
        if member:
            rated[r["unit"]] += 1
            if rated[r["unit"]] == len(units[r["unit"]]):
                all_rated[r["unit"]].set()
            await cal_done[r["unit"]].wait()
        await call(handle, BareEvaluationWorkflow.decide, len(STEPS))
        await handle.result()
        done += 1
        if progress:
            progress(done, len(rows))

    async def calibration(unit: str) -> None:
        cal_id = f"bare-cal-{run}-{unit}"
        await all_rated[unit].wait()
        handle = client.get_workflow_handle_for(BareCalibrationWorkflow.run, cal_id)  # type: ignore[arg-type]
        await call(handle, BareCalibrationWorkflow.decide, 1)
        await call(handle, BareCalibrationWorkflow.decide, 2)
        await handle.result()
        cal_done[unit].set()

    started = time.perf_counter()
    await asyncio.gather(*(case(r) for r in rows), *(calibration(u) for u in units))
    return {"seconds": time.perf_counter() - started, "cases": len(rows)}


async def run_bench(employees: int, database_url: str | None = None, temporal_address: str | None = None, echo: Any = print) -> dict[str, Any]:
    """Everything: services, directory, our season, the bare baseline; returns the figures."""
    from asnflow.activities.directory import import_employees
    from asnflow.activities.eventstore import EventStore
    from asnflow.projections.runner import rebuild
    from asnflow.runtime.cli import _prepare_store
    from asnflow.runtime.settings import Settings, ensure_store_key
    from asnflow.workflows.contracts import Actor

    sys.path.insert(0, str(BENCH_DIR))
    from _services import bench_services

    procs: list[subprocess.Popen[bytes]] = []
    with bench_services("af-bench-eval-", database_url, temporal_address) as (root, database_url, temporal_address, temporal):
        try:
            queue = f"bench-eval-{uuid.uuid4().hex[:6]}"
            key = ensure_store_key(root / "keys" / "event-store.key")
            settings = Settings(database_url=database_url, temporal_address=temporal_address, data_dir=root, task_queue=queue, store_key_file=key)
            _prepare_store(settings)
            rows = synthetic_directory(employees)
            store = EventStore(env=settings.store_env())
            try:
                import_employees(store, rows, Actor(nip=None, roles=["ADMIN"]), source="bench")
            finally:
                store.close()
            rebuild(settings.store_env(), "employees")
            env = {
                "ASNFLOW_DATABASE_URL": database_url, "ASNFLOW_TEMPORAL_ADDRESS": temporal_address, "ASNFLOW_TASK_QUEUE": queue,
                "ASNFLOW_DATA_DIR": str(root), "ASNFLOW_STORE_KEY_FILE": str(key), "PYTHONUNBUFFERED": "1",
            }
            me = [sys.executable, "-m", "asnflow.runtime.cli"]
            procs.append(spawn([*me, "projector"], env, root / "projector.log"))
            worker = spawn([*me, "worker"], env, root / "worker.log")
            procs.append(worker)
            rss = PeakRss(worker.pid)
            year = datetime.now(UTC).year - 1  # a past year: every period is over, so no case waits on the calendar
            echo(f"employees: {len(rows)} (units of 25, year {year}; worker and projector as their own processes)")
            services_before = cpu_seconds([temporal.pid] if temporal and temporal.pid else [], str(root))
            ours = await drive_ours(settings, year, len(rows))
            peak = rss.stop()
            cpu = {"worker": cpu_seconds([worker.pid]), "projector": cpu_seconds([procs[0].pid])}
            cpu["services"] = cpu_seconds([temporal.pid] if temporal and temporal.pid else [], str(root)) - services_before
            stop(worker)
            bare_queue = f"bench-bare-{uuid.uuid4().hex[:6]}"
            bare = spawn([sys.executable, str(BENCH_DIR / "_bare_evaluation.py"), "--address", temporal_address, "--task-queue", bare_queue], env, root / "bare.log")
            procs.append(bare)
            bare_rss = PeakRss(bare.pid)
            services_before = cpu_seconds([temporal.pid] if temporal and temporal.pid else [], str(root))
            base = await drive_bare(temporal_address, bare_queue, rows)
            bare_peak = bare_rss.stop()
            bare_cpu = {"worker": cpu_seconds([bare.pid]), "services": cpu_seconds([temporal.pid] if temporal and temporal.pid else [], str(root)) - services_before}
            ours_rate, bare_rate = ours["cases"] / ours["seconds"], base["cases"] / base["seconds"]
            lags_ms = [x * 1000 for x in ours["lags"]]
            return {
                "employees": len(rows), "decisions": ours["decisions"], "errors": ours["errors"], "retried": ours["retried"], "seconds": ours["seconds"],
                "bare_seconds": base["seconds"], "cases_per_s": ours_rate, "bare_cases_per_s": bare_rate, "ratio": ours_rate / bare_rate,
                "lag_p50_ms": percentile(lags_ms, 0.50), "lag_p99_ms": percentile(lags_ms, 0.99),
                "lag_mean_ms": statistics.fmean(lags_ms) if lags_ms else float("nan"), "lag_samples": len(lags_ms),
                "worker_peak_rss_mb": peak / 2**20, "bare_worker_peak_rss_mb": bare_peak / 2**20, "cpu": cpu, "bare_cpu": bare_cpu,
            }
        finally:
            for proc in reversed(procs):
                stop(proc)


def report(f: dict[str, Any], echo: Any = print) -> None:
    """`name: value` lines; the headline `ratio:` line last (with the other figures after it)."""
    echo(f"decisions: {f['decisions']} (refused: {len(f['errors'])}, retried after a transport error: {f['retried']})")
    for e in f["errors"][:3]:
        echo(f"  error: {e}")
    echo(f"our_seconds: {f['seconds']:.1f}")
    echo(f"bare_seconds: {f['bare_seconds']:.1f}")
    echo(f"bare_cases_per_s: {f['bare_cases_per_s']:.2f}")
    echo(f"cases_per_s: {f['cases_per_s']:.2f}")
    echo(f"projection_lag_p50_ms: {f['lag_p50_ms']:.0f}")
    echo(f"projection_lag_p99_ms: {f['lag_p99_ms']:.0f}  (decision recorded -> visible in the inbox view; {f['lag_samples']} samples)")
    echo(f"worker_peak_rss_mb: {f['worker_peak_rss_mb']:.0f}  (bare worker: {f['bare_worker_peak_rss_mb']:.0f})")
    c, b = f["cpu"], f["bare_cpu"]
    echo(
        f"cpu_seconds: worker {c['worker']:.0f}, projector {c['projector']:.0f}, PostgreSQL+Temporal {c['services']:.0f}"
        f"  (bare: worker {b['worker']:.0f}, PostgreSQL+Temporal {b['services']:.0f})"
    )
    echo(
        f"ratio: {f['ratio']:.2f}  cases/s: {f['cases_per_s']:.2f}  lag p50/p99: {f['lag_p50_ms']:.0f}/{f['lag_p99_ms']:.0f} ms"
        f"  worker peak RSS: {f['worker_peak_rss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employees", type=int, default=6000)
    parser.add_argument("--database-url")
    parser.add_argument("--temporal-address")
    args = parser.parse_args()
    report(asyncio.run(run_bench(args.employees, args.database_url, args.temporal_address)))
