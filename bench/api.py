"""The inbox under load, against a bare FastAPI + psycopg endpoint reading one indexed row.

Usage: python bench/api.py [--open-tasks 100000] [--seconds 10] [--rounds 2]   (or `asnflow bench api`)
Starts an embedded PostgreSQL in a temporary folder, records N open evaluation cases (every one
waiting on a task) as real events, projects them, then serves `asnflow api` and the bare app as
separate processes. A separate load process drives each over loopback at 8 keep-alive connections,
alternating bare/inbox for --rounds rounds. Prints `name: value` lines, the ratio (inbox req/s ÷
bare req/s) last, and cleans up.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import psycopg

from _gen import fill, stderr_progress  # sibling modules of this script

from asnflow.activities.eventstore import EventStore
from asnflow.api.auth import ensure_dev_keys, mint_token
from asnflow.projections.runner import open_view, rebuild_views
from asnflow.projections.views import PROJECTIONS
from asnflow.runtime.cli import seed_demo
from asnflow.runtime.demo_org import demo_employees, demo_person, demo_users
from asnflow.runtime.services import EmbeddedPostgres, free_port
from asnflow.runtime.settings import Settings, ensure_store_key

HERE = Path(__file__).resolve().parent
CONNECTIONS = 8


def approver() -> str:
    """The demo approver with the most direct reports: the fullest real inbox."""
    reports = Counter(e.atasan_nip for e in demo_employees() if e.atasan_nip)
    users = {u["nip"] for u in demo_users()}
    return max(users, key=lambda nip: reports.get(nip, 0))


def serve(argv: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start a server process and wait until its port answers."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
            return proc
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise RuntimeError(f"{argv} exited with {proc.returncode}") from None
            time.sleep(0.2)
    raise RuntimeError(f"{argv} did not answer on port {port}")


def load(url: str, headers: list[str], seconds: float) -> dict[str, float]:
    """One run of the load process (its own interpreter, so its cost stays out of the servers')."""
    argv = [sys.executable, str(HERE / "_load.py"), url, "--connections", str(CONNECTIONS), "--seconds", str(seconds)]
    for header in headers:
        argv += ["--header", header]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=seconds + 120).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def merge(runs: list[dict[str, float]], seconds: float) -> dict[str, float]:
    """Rates over all rounds; latency quantiles as the median of the rounds'."""
    requests = sum(r["requests"] for r in runs)
    return {
        "requests": requests, "errors": sum(r["errors"] for r in runs), "req_per_s": requests / (seconds * len(runs)),
        "p50_ms": sorted(r["p50_ms"] for r in runs)[len(runs) // 2], "p99_ms": sorted(r["p99_ms"] for r in runs)[len(runs) // 2],
    }


def main(open_tasks: int, seconds: float, rounds: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="af-bench-", dir="/tmp"))
    pg = EmbeddedPostgres(root)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        url = pg.start()
        settings = Settings(database_url=url, data_dir=root, dev_mode=True, store_key_file=ensure_store_key(root / "keys" / "event-store.key"))
        env = settings.store_env()
        EventStore(env=env).close()
        for name in PROJECTIONS:
            open_view(name, env).datastore.close()
        seed_demo(settings)
        store = EventStore(env=env)
        events, cases = fill(store, open_cases=open_tasks, progress=stderr_progress("appending events", None))
        store.close()
        print(f"open_tasks: {cases}")
        print(f"events: {events}")
        rebuild_views(env, list(PROJECTIONS))  # the projector's own code, one pass
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            nip = approver()
            mine = conn.execute(
                "SELECT count(*) FROM tasks WHERE assignee_nip = %s AND status IN ('open', 'claimed')", (nip,)
            ).fetchone()[0]  # type: ignore[index]
        print(f"approver_open_tasks: {mine}")

        ensure_dev_keys(settings.dev_private_key_path, settings.dev_public_key_path)
        person = demo_person(nip)
        assert person is not None
        token = mint_token(
            settings.dev_private_key_path, nip=nip, name=person["nama"], roles=person["roles"], unit=person["unit"],
            issuer=settings.jwt_issuer, audience=settings.jwt_audience,
        )
        child_env = {
            **os.environ, "ASNFLOW_DATABASE_URL": url, "ASNFLOW_DATA_DIR": str(root), "ASNFLOW_DEV_MODE": "true",
            "ASNFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # the inbox never touches Temporal
        }
        api_port, bare_port = free_port(), free_port()
        procs.append(serve([sys.executable, "-m", "asnflow.runtime.cli", "api", "--port", str(api_port)], child_env, api_port))
        procs.append(serve([sys.executable, str(HERE / "_bare_api.py"), "--port", str(bare_port), "--database-url", url], child_env, bare_port))

        inbox_url = f"http://127.0.0.1:{api_port}/api/v1/tasks?scope=inbox&status=active&process=evaluation&limit=50"
        auth = [f"Authorization: Bearer {token}"]
        page = httpx.get(inbox_url, headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        print(f"inbox_page_tasks: {len(page['data'])} of {page['count']}")
        bare_url = f"http://127.0.0.1:{bare_port}/row/{nip}"
        bare_runs, inbox_runs = [], []
        for _ in range(rounds):  # alternating, so that a noisy neighbour hurts both alike
            bare_runs.append(load(bare_url, [], seconds))
            inbox_runs.append(load(inbox_url, auth, seconds))
        bare, inbox = merge(bare_runs, seconds), merge(inbox_runs, seconds)
        print(f"connections: {CONNECTIONS}")
        for name, figures in (("bare", bare), ("inbox", inbox)):
            print(f"{name}_p50_ms: {figures['p50_ms']:.2f}")
            print(f"{name}_p99_ms: {figures['p99_ms']:.2f}")
            print(f"{name}_req_per_s: {figures['req_per_s']:.0f}")
            print(f"{name}_errors: {figures['errors']}")
        print(f"p99_ratio: {inbox['p99_ms'] / bare['p99_ms']:.2f}")
        print(f"ratio: {inbox['req_per_s'] / bare['req_per_s']:.2f}")
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--open-tasks", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up servers on kill
    main(args.open_tasks, args.seconds, args.rounds)
