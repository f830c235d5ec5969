"""Integration tests for local services and the supervisor, against the real binaries."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import psutil
import psycopg
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from asnflow.runtime.services import (
    EmbeddedPostgres,
    StackState,
    TemporalDevServer,
    free_port,
    load_or_create,
    temporal_binary,
    temporal_test_server_binary,
)
from asnflow.runtime.supervisor import Supervisor, wait_http_ok

SLEEPER = [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"]


@pytest.fixture
def tmp_short() -> Path:
    """Yield a short temp dir (unix socket paths must stay under ~107 bytes)."""
    path = tempfile.mkdtemp(dir="/tmp", prefix="af-")
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Return True if pid exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_until(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    """Poll predicate until true or timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_binaries_are_found() -> None:
    """Both Temporal executables resolve from the venv."""
    assert os.access(temporal_binary(), os.X_OK)
    assert os.access(temporal_test_server_binary(), os.X_OK)


def test_temporal_dev_server_persists_across_restart(tmp_short: Path) -> None:
    """A workflow of a never-registered type survives a server restart on the same db file."""
    wf_id = f"persist-{uuid.uuid4()}"

    async def start_wf(address: str) -> None:
        client = await Client.connect(address)
        assert await client.service_client.check_health()
        namespaces = [ns.namespace_info.name async for ns in _list_namespaces(client)]
        assert "default" in namespaces
        await client.start_workflow("NeverRegistered", id=wf_id, task_queue="nobody-polls-this")

    async def describe_wf(address: str) -> WorkflowExecutionStatus | None:
        client = await Client.connect(address)
        return (await client.get_workflow_handle(wf_id).describe()).status

    server = TemporalDevServer(tmp_short)
    try:
        t0 = time.monotonic()
        server.start()
        server.wait_ready(30)
        assert time.monotonic() - t0 < 30
        asyncio.run(start_wf(server.address))
    finally:
        server.stop()
    assert server.pid is None
    assert _wait_until(lambda: not _port_open(server.port), 10)
    assert (tmp_short / "temporal" / "temporal.db").exists()
    assert (tmp_short / "logs" / "temporal.log").exists()

    again = TemporalDevServer(tmp_short, port=server.port, ui_port=free_port())
    try:
        again.start()
        again.wait_ready(30)
        assert asyncio.run(describe_wf(again.address)) == WorkflowExecutionStatus.RUNNING
        assert again.ui_url is not None
        wait_http_ok(again.ui_url, timeout=30)
    finally:
        again.stop()


async def _list_namespaces(client: Client):  # type: ignore[no-untyped-def]
    """Yield namespaces via the raw ListNamespaces RPC."""
    from temporalio.api.workflowservice.v1 import ListNamespacesRequest

    resp = await client.workflow_service.list_namespaces(ListNamespacesRequest(page_size=100))
    for ns in resp.namespaces:
        yield ns


def _port_open(port: int) -> bool:
    """Return True if something accepts TCP connections on 127.0.0.1:port."""
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_embedded_postgres_persists_across_restart(tmp_short: Path) -> None:
    """A row written before stop() is readable after start() on the same data dir."""
    pg = EmbeddedPostgres(tmp_short)
    try:
        url = pg.start()
        assert url.startswith("postgresql://postgres@/asnflow?host=")
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE t (id int PRIMARY KEY, note text)")
            conn.execute("INSERT INTO t VALUES (1, 'kept')")
    finally:
        pg.stop()
    assert not pg.running

    pg2 = EmbeddedPostgres(tmp_short)
    try:
        url2 = pg2.start()
        assert url2 == url
        with psycopg.connect(url2) as conn:
            assert conn.execute("SELECT note FROM t WHERE id = 1").fetchone() == ("kept",)
    finally:
        pg2.stop()


def test_embedded_postgres_recovers_after_kill9(tmp_short: Path) -> None:
    """Reuse a server orphaned by a killed parent, and restart after the postmaster is kill -9'd."""
    script = textwrap.dedent(
        f"""
        from asnflow.runtime.services import EmbeddedPostgres
        import psycopg, sys, time
        url = EmbeddedPostgres({str(tmp_short)!r}).start()
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE t (x int)")
            conn.execute("INSERT INTO t VALUES (42)")
        print("ready", flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=os.getcwd())
    pg = EmbeddedPostgres(tmp_short)
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == b"ready"
        parent.kill()
        parent.wait()
        # The parent is gone but the daemonized postmaster lives on: start() must reuse it.
        url = pg.start()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT x FROM t").fetchone() == (42,)
            postmaster = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
        pid = int((tmp_short / "postgres" / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        assert (tmp_short / "postgres" / "postmaster.pid").exists()  # stale now
        # As after a real crash, the restart comes once the dead postmaster has been reaped.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            time.sleep(0.05)

        pg2 = EmbeddedPostgres(tmp_short)
        url = pg2.start()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT x FROM t").fetchone() == (42,)
            assert conn.execute("SELECT pg_postmaster_start_time()").fetchone() != postmaster
    finally:
        if parent.poll() is None:
            parent.kill()
        EmbeddedPostgres(tmp_short).stop()
    assert not EmbeddedPostgres(tmp_short).running


def test_embedded_postgres_long_data_dir(tmp_short: Path) -> None:
    """A data dir too long for sun_path gets a short socket dir from the library."""
    long_dir = tmp_short / ("d" * 60) / ("e" * 40)
    pg = EmbeddedPostgres(long_dir)
    try:
        url = pg.start()
        host = url.split("host=", 1)[1]
        assert len(host) + len("/.s.PGSQL.5432") <= 107
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("asnflow",)
    finally:
        pg.stop()


def test_two_stacks_side_by_side() -> None:
    """Two Postgres clusters and two Temporal servers run concurrently in different dirs."""
    dirs = [Path(tempfile.mkdtemp(dir="/tmp", prefix="af-")) for _ in range(2)]
    pgs = [EmbeddedPostgres(d) for d in dirs]
    temporals = [TemporalDevServer(d) for d in dirs]
    try:
        for t in temporals:
            t.start()
        urls = [pg.start() for pg in pgs]
        for t in temporals:
            t.wait_ready(30)
        assert urls[0] != urls[1]
        assert temporals[0].port != temporals[1].port
        for i, url in enumerate(urls):
            with psycopg.connect(url) as conn:
                conn.execute("CREATE TABLE which (i int)")
                conn.execute("INSERT INTO which VALUES (%s)", (i,))
        for i, url in enumerate(urls):
            with psycopg.connect(url) as conn:
                assert conn.execute("SELECT i FROM which").fetchall() == [(i,)]

        async def healthy(address: str) -> bool:
            return await (await Client.connect(address)).service_client.check_health()

        assert all(asyncio.run(healthy(t.address)) for t in temporals)
    finally:
        for t in temporals:
            t.stop()
        for pg in pgs:
            pg.stop()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


def test_stack_state_resumes_ports(tmp_short: Path) -> None:
    """Ports chosen on first run are reused; an explicit api port overrides and is persisted."""
    first = load_or_create(tmp_short, None)
    ports = [first.temporal_grpc_port, first.temporal_ui_port, first.temporal_http_port,
             first.temporal_metrics_port, first.api_port]  # fmt: skip
    assert len(set(ports)) == 5 and not first.seeded
    assert load_or_create(tmp_short, None) == first
    first.seeded = True
    first.save(tmp_short)
    moved = load_or_create(tmp_short, 18080)
    assert moved.api_port == 18080 and moved.seeded
    assert moved.temporal_grpc_port == first.temporal_grpc_port
    assert StackState.load(tmp_short) == moved


class _Recorder:
    """Fake service recording the order of stop() calls."""

    def __init__(self, name: str, order: list[str]) -> None:
        self.name, self.order = name, order

    def stop(self) -> None:
        self.order.append(self.name)


def test_supervisor_restarts_and_stops_everything(tmp_short: Path) -> None:
    """A SIGKILLed child is restarted; stop_all stops children in reverse, then services, leaving nothing."""
    order: list[str] = []
    marker = tmp_short / "stopped.txt"
    on_term = textwrap.dedent(
        f"""
        import signal, sys, time
        def bye(*_):
            with open({str(marker)!r}, "a") as f:
                f.write(sys.argv[1] + "\\n")
            sys.exit(0)
        signal.signal(signal.SIGTERM, bye)
        print("up", sys.argv[1], flush=True)
        while True:
            time.sleep(0.1)
        """
    )
    sup = Supervisor(
        tmp_short,
        services=[_Recorder("postgres", order), _Recorder("temporal", order)],
        initial_backoff=0.1,
    )
    seen: set[int] = set()
    try:
        sup.add("first", [sys.executable, "-c", on_term, "first"], {"AF_TEST": "1"})
        sup.add("second", [sys.executable, "-c", on_term, "second"], None)
        sup.add("sleeper", SLEEPER, {})
        sup.start_all()
        pids = {name: sup.pid(name) for name in sup.children}
        assert all(pids.values())
        seen.update(p for p in pids.values() if p)
        for pid in seen:
            assert os.getpgid(pid) == pid != os.getpgid(0)  # own process group

        os.kill(pids["sleeper"], signal.SIGKILL)

        def restarted() -> bool:
            sup.poll()
            new = sup.pid("sleeper")
            return new is not None and new != pids["sleeper"]

        assert _wait_until(restarted, 10)
        new_pid = sup.pid("sleeper")
        assert new_pid is not None
        seen.add(new_pid)
        assert sup.pid("first") == pids["first"]
        assert _wait_until(lambda: b"up first" in sup.log_path("first").read_bytes(), 10)
    finally:
        sup.stop_all()
    assert not [p for p in seen if _alive(p)]
    assert marker.read_text().split() == ["second", "first"]
    assert order == ["temporal", "postgres"]
    assert (tmp_short / "logs" / "sleeper.log").read_text().count("=== ") == 2


def test_supervisor_gives_up_on_crash_loop(tmp_short: Path) -> None:
    """A child that keeps crashing exhausts its per-minute budget and run_until_signal returns 1."""
    sup = Supervisor(tmp_short, max_restarts_per_minute=2, initial_backoff=0.05, poll_interval=0.02)
    sup.add("crasher", [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], {})
    sup.add("steady", SLEEPER, {})
    try:
        assert sup.run_until_signal() == 1
    finally:
        sup.stop_all()
    assert sup.failed == ["crasher"]
    assert sup.log_path("crasher").read_text().count("\nboom\n") == 3
    assert sup.children["steady"].proc is not None and sup.children["steady"].proc.poll() is not None


def test_supervisor_run_until_signal_stops_on_sigterm(tmp_short: Path) -> None:
    """SIGTERM to the supervisor process stops all children and returns 0."""
    sup = Supervisor(tmp_short)
    sup.add("a", SLEEPER, {})
    sup.add("b", SLEEPER, {})
    pids: list[int] = []

    def fire() -> None:
        _wait_until(lambda: all(sup.pid(n) for n in ("a", "b")), 10)
        pids.extend(p for p in (sup.pid("a"), sup.pid("b")) if p)
        os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.getsignal(signal.SIGTERM)
    timer = threading.Thread(target=fire)
    timer.start()
    try:
        assert sup.run_until_signal() == 0
    finally:
        timer.join()
        sup.stop_all()
    assert signal.getsignal(signal.SIGTERM) == previous
    assert len(pids) == 2 and not [p for p in pids if _alive(p)]


def test_supervisor_exception_leaves_no_children(tmp_short: Path) -> None:
    """A failing start (bad executable) stops children that already started."""
    sup = Supervisor(tmp_short)
    sup.add("ok", SLEEPER, {})
    sup.add("bad", ["/nonexistent/af-binary"], {})
    with pytest.raises(FileNotFoundError):
        sup.start_all()
    proc = sup.children["ok"].proc
    assert proc is not None and proc.poll() is not None


def test_supervisor_child_dies_with_hard_killed_supervisor(tmp_short: Path) -> None:
    """Children get SIGTERM via PDEATHSIG when the supervisor process is SIGKILLed."""
    script = textwrap.dedent(
        f"""
        import sys
        from asnflow.runtime.supervisor import Supervisor
        sup = Supervisor({str(tmp_short)!r})
        sup.add("kid", {SLEEPER!r}, {{}})
        sup.start_all()
        print(sup.pid("kid"), flush=True)
        sup.run_until_signal()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        kid = int(proc.stdout.readline())
        assert _alive(kid)
        proc.kill()
        proc.wait()
        assert _wait_until(lambda: not _alive(kid), 10)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_temporal_stale_server_from_killed_parent_is_replaced(tmp_short: Path) -> None:
    """A dev server orphaned by a kill -9'd parent is killed and replaced on the next start."""
    port = free_port()
    script = textwrap.dedent(
        f"""
        import time
        from asnflow.runtime.services import TemporalDevServer
        server = TemporalDevServer({str(tmp_short)!r}, port={port})
        server.start()
        server.wait_ready(30)
        print(server.pid, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    server = TemporalDevServer(tmp_short, port=port)
    try:
        assert parent.stdout is not None
        stale = int(parent.stdout.readline())
        parent.kill()
        parent.wait()
        assert _alive(stale)  # own session: survives its parent
        server.start()
        server.wait_ready(30)
        assert not _alive(stale) and server.pid != stale
    finally:
        if parent.poll() is None:
            parent.kill()
        server.stop()
