"""The services a bench needs: an embedded PostgreSQL and a Temporal dev server in a temporary folder, or given ones."""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def bench_services(prefix: str, database_url: str | None = None, temporal_address: str | None = None) -> Iterator[tuple[Path, str, str, Any]]:
    """(folder, database URL, Temporal address, the dev server or None); everything started here is stopped and removed after."""
    from asnflow.runtime.services import EmbeddedPostgres, TemporalDevServer

    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    pg = temporal = None
    # `timeout` and `kill` send SIGTERM, which by default ends Python without running this cleanup:
    # the servers, worker and projector would live on. As SystemExit it unwinds through the finally blocks.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143)) if main else None
    try:
        if database_url is None:
            pg = EmbeddedPostgres(root)
            database_url = pg.start()
        if temporal_address is None:
            temporal = TemporalDevServer(root)
            temporal.start()
            temporal.wait_ready(60)
            temporal_address = temporal.address
        yield root, database_url, temporal_address, temporal
    finally:
        if temporal is not None:
            temporal.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)
        if main:
            signal.signal(signal.SIGTERM, previous)
