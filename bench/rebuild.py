"""Rebuilding the inbox (tasks) and audit_log views from the store, against COPY of the same rows.

Usage: python bench/rebuild.py [--events 1000000]   (or `asnflow bench rebuild --events N`)
Starts an embedded PostgreSQL in a temporary folder, fills the store with evaluation-shaped cases
(many cases per append), rebuilds both views, then COPYs the rows those views hold into tables of
the same shape (indexes included) on the same server. Prints `name: value` lines, the ratio
(rebuild events/s ÷ COPY rows/s) last, and cleans up.
"""

from __future__ import annotations

import argparse
import io
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from _gen import fill, stderr_progress  # a sibling module of this script

from asnflow.activities.eventstore import EventStore
from asnflow.projections.runner import open_view, rebuild_views
from asnflow.runtime.services import EmbeddedPostgres
from asnflow.runtime.settings import Settings, ensure_store_key

VIEWS = ("tasks", "audit_log")


def copy_same_rows(url: str) -> tuple[int, float]:
    """COPY every row of the rebuilt views into same-shaped tables; returns (rows, seconds of COPY FROM)."""
    rows, seconds = 0, 0.0
    with psycopg.connect(url, autocommit=True) as conn:
        for view in VIEWS:
            # Export first (untimed), so only the load into the copy is measured.
            data = io.BytesIO()
            with conn.cursor().copy(f"COPY {view} TO STDOUT (FORMAT binary)") as out:  # noqa: S608
                for block in out:
                    data.write(block)
            rows += conn.execute(f"SELECT count(*) FROM {view}").fetchone()[0]  # type: ignore[index]  # noqa: S608
            conn.execute(f"DROP TABLE IF EXISTS copy_{view}")
            conn.execute(f"CREATE TABLE copy_{view} (LIKE {view} INCLUDING ALL)")
            payload = data.getvalue()
            started = time.perf_counter()
            with conn.transaction(), conn.cursor().copy(f"COPY copy_{view} FROM STDIN (FORMAT binary)") as into:
                for offset in range(0, len(payload), 1 << 20):
                    into.write(payload[offset : offset + (1 << 20)])
            seconds += time.perf_counter() - started
    return rows, seconds


def main(n_events: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="af-bench-", dir="/tmp"))
    pg = EmbeddedPostgres(root)
    try:
        url = pg.start()
        settings = Settings(database_url=url, data_dir=root, store_key_file=ensure_store_key(root / "keys" / "event-store.key"))
        env = settings.store_env()
        store = EventStore(env=env)
        for view in VIEWS:
            open_view(view, env).datastore.close()
        started = time.perf_counter()
        events, n_cases = fill(store, n_events, progress=stderr_progress("appending events", n_events))
        store.close()
        print(f"events: {events}")
        print(f"cases: {n_cases}")
        print(f"append_events_per_s: {events / (time.perf_counter() - started):.0f}")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE asnflow_events")  # a settled store, as in production
        started = time.perf_counter()
        rebuild_views(env, VIEWS)  # one read of the store feeds both views
        rebuild_s = time.perf_counter() - started
        rows, copy_s = copy_same_rows(url)
        print(f"rebuild_views: {','.join(VIEWS)}")
        print(f"rebuild_s: {rebuild_s:.1f}")
        print(f"rebuild_events_per_s: {events / rebuild_s:.0f}")
        print(f"copy_rows: {rows}")
        print(f"copy_s: {copy_s:.1f}")
        print(f"copy_rows_per_s: {rows / copy_s:.0f}")
        print(f"ratio: {(events / rebuild_s) / (rows / copy_s):.2f}")
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the embedded server on kill
    sys.exit(main(parser.parse_args().events))
