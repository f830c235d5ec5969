"""What the document store costs: storing and reading back (rehashed) files of 1 and 10 MB in PostgreSQL.

Usage: python bench/documents.py [--small 20] [--large 3]
Starts an embedded PostgreSQL in a temporary folder, prints `name: value` lines, and cleans up.
Random bytes (after a PDF header) are incompressible: the worst case for TOAST.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from asnflow.activities.documents import DocumentStore
from asnflow.runtime.services import EmbeddedPostgres


async def measure(url: str, size: int, count: int) -> None:
    store = DocumentStore()
    async with await psycopg.AsyncConnection.connect(url, row_factory=dict_row) as conn:
        blobs = [b"%PDF-" + os.urandom(size - 5) for _ in range(count)]
        started = time.perf_counter()
        hashes = [(await store.put(conn, b, "bench.pdf", "application/pdf", "training_certificate", None))[0]["sha256"] for b in blobs]
        put = time.perf_counter() - started
        started = time.perf_counter()
        for digest in hashes:
            await store.verified(conn, digest)
        read = time.perf_counter() - started
    mb = size / 2**20
    print(f"put_{mb:g}mb_ms: {put / count * 1000:.0f}")
    print(f"put_{mb:g}mb_mb_per_s: {count * mb / put:.1f}")
    print(f"read_verified_{mb:g}mb_ms: {read / count * 1000:.0f}")
    print(f"read_verified_{mb:g}mb_mb_per_s: {count * mb / read:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=20, help="files of 1 MB")
    parser.add_argument("--large", type=int, default=3, help="files of 10 MB")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="asnflow-bench-docs-"))
    pg = EmbeddedPostgres(root)
    try:
        url = pg.start()
        asyncio.run(measure(url, 2**20, args.small))
        asyncio.run(measure(url, 10 * 2**20, args.large))
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
