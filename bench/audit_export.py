"""Audit export at scale: N events into an embedded PostgreSQL, streamed out as JSONL, against a plain COPY TO.

Usage: python bench/audit_export.py [--events 1000000] [--format jsonl|csv] [--seal]
Starts an embedded PostgreSQL in a temporary folder under /tmp, prints `name: value` lines (the last is
the headline ratio: export events/s ÷ COPY TO events/s of the same table in the same run) and cleans up.
The export runs in a fresh child process so its peak RSS is the export's alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from asnflow.activities.eventstore import EventStore, build_events
from asnflow.runtime.settings import Settings, ensure_store_key
from asnflow.domain.events import GENESIS_HASH
from asnflow.workflows.contracts import NewEvent, RecordInput

SYSTEM = {"system": True, "nip": None, "role": "SYSTEM", "on_behalf_of": None}
EVENTS_PER_CASE = 10


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """This process's own high-water RSS (VmHWM)."""
    # Not ru_maxrss: Linux carries the spawning parent's peak over an exec into it.
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def case_events(i: int) -> RecordInput:
    """One evaluation-shaped case of 10 events, as a workflow would record them."""
    nip = f"19{i % 90 + 10:02d}0101201{i % 10}01{i % 9000 + 1000:04d}"[:18]
    boss = f"197501012000121{i % 900 + 100:03d}"
    case_id = f"evaluation-2026-{nip}-{i}"
    at = datetime(2026, 1, 2, tzinfo=UTC) + timedelta(seconds=i)
    emp, sup = {"nip": nip, "role": "PEGAWAI", "on_behalf_of": None}, {"nip": boss, "role": "ATASAN", "on_behalf_of": None}

    def task(n: int, kind: str, who: str) -> NewEvent:
        return NewEvent("TaskOpened", {
            "task_id": f"{case_id}.t{n}", "kind": kind, "title": f"{kind} 2026", "assignee_nip": who, "candidate_role": None,
            "unit": "DISKOMINFO", "due_at": (at + timedelta(days=5)).isoformat(), "outcomes": ["AGREED", "RETURNED"],
        }, SYSTEM)

    targets = {"targets": [{"indikator": "Layanan kepegawaian terselesaikan tepat waktu", "target": "100%"}]}
    events = [
        NewEvent("CaseOpened", {"subject_nip": nip, "unit": "DISKOMINFO", "title": "Evaluasi kinerja 2026", "data": {"year": 2026}}, emp),
        NewEvent("EvaluationStarted", {"nip": nip, "year": 2026, "appraiser_nip": boss, "regulation": "PermenPANRB-6-2022"}, emp),
        task(1, "SKP_DRAFT", nip),
        NewEvent("TaskDecided", {"task_id": f"{case_id}.t1", "kind": "SKP_DRAFT", "outcome": "SUBMITTED", "data": targets}, emp),
        NewEvent("SkpDrafted", targets, emp),
        task(2, "SKP_AGREEMENT", boss),
        NewEvent("TaskDecided", {"task_id": f"{case_id}.t2", "kind": "SKP_AGREEMENT", "outcome": "AGREED", "data": {}}, sup,
                 "Sesuai rencana strategis"),
        NewEvent("SkpAgreed", {"agreed_by": boss}, sup),
        task(3, "RATING", boss),
        NewEvent("CaseClosed", {"status": "completed", "outcome": {"predicate": "BAIK"}}, SYSTEM),
    ]
    return RecordInput(case_id, "evaluation", 0, GENESIS_HASH, case_id, f"run-{i}", at.isoformat(), events)


def generate(store: EventStore, url: str, n: int, per_batch: int = 1000) -> float:
    """build_events per case, mapped by the store's own mapper, appended 1,000 rows per COPY.

    store.save(*1000 events) can hang in psycopg's pipeline mode with large parameters (psycopg#685,
    seen here over the embedded server's unix socket); COPY writes the very same rows.
    """
    start = time.perf_counter()
    columns = "COPY asnflow_events (originator_id, originator_version, topic, state) FROM STDIN"
    with psycopg.connect(url) as conn:
        batch: list = []
        for i in range(n // EVENTS_PER_CASE):
            for event in build_events(case_events(i))[0]:
                stored = store.mapper.to_stored_event(event)
                batch.append((stored.originator_id, stored.originator_version, stored.topic, stored.state))
            if len(batch) >= per_batch or i == n // EVENTS_PER_CASE - 1:
                with conn.transaction(), conn.cursor() as cur, cur.copy(columns) as copy:
                    for row in batch:
                        copy.write_row(row)
                batch = []
    return (n // EVENTS_PER_CASE * EVENTS_PER_CASE) / (time.perf_counter() - start)


def copy_rate(url: str) -> tuple[float, int]:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        rows = cur.execute("SELECT count(*) FROM asnflow_events").fetchone()[0]  # type: ignore[index]
        start, size = time.perf_counter(), 0
        with cur.copy("COPY asnflow_events TO STDOUT") as copy:
            for block in copy:
                size += len(block)
        return rows / (time.perf_counter() - start), size


def export_child(url: str, fmt: str) -> None:
    """Runs in a child: stream the whole export, discard it, report rate and memory."""
    from asnflow.activities.audit import ExportFilter, export_chunks, state_codec

    with psycopg.connect(url) as conn:
        total = conn.execute("SELECT count(*) FROM asnflow_events").fetchone()[0]  # type: ignore[index]
    samples: list[tuple[int, float]] = []
    start_rss = rss_mb()
    start, size = time.perf_counter(), 0

    def progress(done: int, whole: int) -> None:
        if done % 50_000 < 2000:
            samples.append((done, rss_mb()))

    codec = state_codec(Settings(database_url=url))
    for chunk in export_chunks(url, ExportFilter(), fmt, codec=codec, ui_url="http://127.0.0.1:8233", progress=progress):
        size += len(chunk)
    elapsed = time.perf_counter() - start
    tenth = next((mb for done, mb in samples if done >= total // 10), start_rss)
    print(f"export_{fmt}_events_per_s: {total / elapsed:.0f}")
    print(f"export_{fmt}_mb: {size / 2**20:.1f}")
    print(f"export_rss_start_mb: {start_rss:.1f}")
    print(f"export_rss_at_10pct_mb: {tenth:.1f}")
    print(f"export_rss_at_end_mb: {rss_mb():.1f}")
    print(f"export_peak_rss_mb: {peak_rss_mb():.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    parser.add_argument("--seal", action="store_true", help="also time sealing a checkpoint and a full verification")
    parser.add_argument("--export-child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(args.export_child, args.format)
        return

    from asnflow.runtime.services import EmbeddedPostgres

    root = Path(tempfile.mkdtemp(prefix="af-audit-", dir="/tmp"))
    pg = EmbeddedPostgres(root)
    try:
        url = pg.start()
        # The export child reads the same key from the environment (Settings: ASNFLOW_STORE_KEY_FILE).
        os.environ["ASNFLOW_STORE_KEY_FILE"] = str(ensure_store_key(root / "keys" / "event-store.key"))
        store = EventStore(env=Settings(database_url=url, data_dir=root).store_env())
        try:
            gen = generate(store, url, args.events)
        finally:
            store.close()
        print(f"events: {args.events}")
        print(f"generate_events_per_s: {gen:.0f}")
        if args.seal:
            from asnflow.activities.audit import load_signing_key, seal, state_codec, trusted_keys, verify

            settings = Settings(database_url=url, data_dir=root, store_key_file=ensure_store_key(root / "keys" / "event-store.key"))
            with psycopg.connect(url) as conn:
                t = time.perf_counter()
                seal(conn, load_signing_key(settings), codec=state_codec(settings))
                print(f"seal_events_per_s: {args.events / (time.perf_counter() - t):.0f}")
                t = time.perf_counter()
                ok = verify(conn, trusted_keys(settings), codec=state_codec(settings)).ok
                print(f"verify_events_per_s: {args.events / (time.perf_counter() - t):.0f} (ok={ok})")
        copy, copy_bytes = copy_rate(url)
        print(f"copy_to_events_per_s: {copy:.0f}")
        print(f"copy_to_mb: {copy_bytes / 2**20:.1f}")
        child = subprocess.run(
            [sys.executable, __file__, "--export-child", url, "--format", args.format],
            capture_output=True, text=True, check=True,
        )
        print(child.stdout, end="")
        rate = next(float(line.split(": ")[1]) for line in child.stdout.splitlines() if "_events_per_s" in line)
        print(f"export_vs_copy_ratio: {rate / copy:.3f}")
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
