"""Synchronous, signal-driven supervisor for the local stack's child processes."""

from __future__ import annotations

import atexit
import collections
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Protocol

__all__ = ["ChildSpec", "Supervisor", "wait_http_ok"]

_log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class Stoppable(Protocol):
    """Anything with a blocking ``stop()`` (TemporalDevServer, EmbeddedPostgres)."""

    def stop(self) -> None:
        """Stop the service."""


def wait_http_ok(url: str, timeout: float = 30.0, interval: float = 0.2) -> None:
    """Poll ``url`` until it answers with a 2xx/3xx status, else raise TimeoutError."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            with urllib.request.urlopen(url, timeout=min(5.0, max(0.5, timeout))) as resp:
                if 200 <= resp.status < 400:
                    return
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{url} not OK after {timeout:.0f}s (last: {last})")
        time.sleep(interval)


def _load_prctl() -> object | None:
    """Resolve libc's prctl in the parent (dlopen after fork could deadlock on loader locks)."""
    if sys.platform != "linux":
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def _pdeathsig_preexec(parent_pid: int) -> None:
    """In the forked child: ask Linux to SIGTERM us if the supervisor dies, even by SIGKILL."""
    # PDEATHSIG fires when the *thread* that forked exits, so children must be spawned from a
    # long-lived thread (the main thread in the CLI). Without it a kill -9 of the supervisor
    # would orphan children, since they live in their own sessions.
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)  # type: ignore[operator]
    if os.getppid() != parent_pid:  # parent already died between fork and prctl
        os._exit(1)


@dataclass
class ChildSpec:
    """A supervised child: its command, environment and restart bookkeeping."""

    name: str
    argv: list[str]
    env: dict[str, str] | None
    cwd: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    restarts: collections.deque[float] = field(default_factory=collections.deque)
    restart_at: float | None = None
    backoff: float = 0.0
    failed: bool = False
    started_at: float = 0.0


class Supervisor:
    """Start children in their own process groups, restart crashed ones, stop all in reverse order."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        services: Sequence[Stoppable] = (),
        max_restarts_per_minute: int = 5,
        stop_timeout: float = 10.0,
        initial_backoff: float = 0.5,
        max_backoff: float = 15.0,
        poll_interval: float = 0.1,
    ) -> None:
        """Configure; ``services`` (in start order) are stopped after all children, in reverse."""
        self.data_dir = Path(data_dir)
        self.log_dir = self.data_dir / "logs"
        self.services: list[Stoppable] = list(services)
        self.max_restarts_per_minute = max_restarts_per_minute
        self.stop_timeout = stop_timeout
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.poll_interval = poll_interval
        self.children: dict[str, ChildSpec] = {}
        self._stop_event = threading.Event()
        self._stopping = False
        self._stopped = False
        self._signal: int | None = None
        self._lock = threading.RLock()
        atexit.register(self.stop_all)  # last line of defence if the caller forgets

    # -- configuration -------------------------------------------------------------------------

    def add(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        """Register a child; ``env`` is merged over os.environ (None means inherit unchanged)."""
        if name in self.children:
            raise ValueError(f"duplicate child name {name!r}")
        merged = {**os.environ, **env} if env is not None else None
        self.children[name] = ChildSpec(name, list(argv), merged, str(cwd) if cwd else None)

    def add_service(self, service: Stoppable) -> None:
        """Register an already-started service to stop after the children (reverse order)."""
        self.services.append(service)

    # -- lifecycle -----------------------------------------------------------------------------

    def log_path(self, name: str) -> Path:
        """Return DATA/logs/NAME.log."""
        return self.log_dir / f"{name}.log"

    def pid(self, name: str) -> int | None:
        """Return the current pid of a running child, else None."""
        proc = self.children[name].proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def _spawn(self, child: ChildSpec) -> None:
        """Launch one child with output appended to its log file."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        parent = os.getpid()
        with open(self.log_path(child.name), "ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(child.argv)}\n".encode())
            log.flush()
            child.proc = subprocess.Popen(
                child.argv,
                env=child.env,
                cwd=child.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own session => own process group: terminal Ctrl-C reaches only the supervisor.
                start_new_session=True,
                preexec_fn=(lambda: _pdeathsig_preexec(parent)) if _PRCTL is not None else None,
            )
        child.started_at = time.monotonic()
        child.restart_at = None
        _log.info("started %s (pid %s), log %s", child.name, child.proc.pid, self.log_path(child.name))

    def start_all(self) -> None:
        """Start every registered child in registration order; on failure stop those already started."""
        with self._lock:
            if self._stopped:
                raise RuntimeError("Supervisor already stopped; create a new one")
            try:
                for child in self.children.values():
                    if child.proc is None or child.proc.poll() is not None:
                        self._spawn(child)
            except BaseException:
                self.stop_all()
                raise

    def poll(self) -> None:
        """Reap dead children and restart them with backoff within the per-minute budget."""
        now = time.monotonic()
        with self._lock:
            if self._stopping:
                return
            for child in self.children.values():
                if child.failed or child.proc is None:
                    continue
                code = child.proc.poll()
                if code is None:
                    # A child that stayed up for a minute earns its backoff reset.
                    if child.backoff and now - child.started_at > 60:
                        child.backoff = 0.0
                    continue
                if child.restart_at is None:
                    while child.restarts and now - child.restarts[0] > 60:
                        child.restarts.popleft()
                    if len(child.restarts) >= self.max_restarts_per_minute:
                        child.failed = True
                        _log.error(
                            "%s exited with code %s; restarted %d times in the last minute, giving up "
                            "(see %s)", child.name, code, len(child.restarts), self.log_path(child.name),
                        )  # fmt: skip
                        continue
                    child.backoff = min(self.max_backoff, child.backoff * 2 or self.initial_backoff)
                    child.restart_at = now + child.backoff
                    _log.warning(
                        "%s exited unexpectedly with code %s; restarting in %.1fs (see %s)",
                        child.name, code, child.backoff, self.log_path(child.name),
                    )  # fmt: skip
                elif now >= child.restart_at:
                    child.restarts.append(now)
                    self._spawn(child)

    @property
    def failed(self) -> list[str]:
        """Return names of children that exhausted their restart budget."""
        return [c.name for c in self.children.values() if c.failed]

    def request_stop(self, signum: int | None = None) -> None:
        """Ask run_until_signal() to return (safe from signal handlers and other threads)."""
        self._signal = signum
        self._stop_event.set()

    def run_until_signal(self, *, stop_on_failure: bool = True) -> int:
        """Supervise until SIGINT/SIGTERM/SIGHUP (or a child gives up), then stop_all(); return exit code."""
        handled = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
        previous: dict[int, object] = {}

        def _handler(signum: int, _frame: FrameType | None) -> None:
            self.request_stop(signum)

        in_main = threading.current_thread() is threading.main_thread()
        try:
            if in_main:
                for sig in handled:
                    previous[sig] = signal.signal(sig, _handler)
            self.start_all()
            while not self._stop_event.wait(self.poll_interval):
                self.poll()
                if stop_on_failure and self.failed:
                    _log.error("stopping stack: %s kept crashing", ", ".join(self.failed))
                    return 1
            if self._signal is not None:
                _log.info("received %s; stopping", signal.Signals(self._signal).name)
            return 0
        finally:
            try:
                self.stop_all()
            finally:
                for sig, prev in previous.items():
                    signal.signal(sig, prev)  # type: ignore[arg-type]

    def _stop_child(self, child: ChildSpec) -> None:
        """SIGTERM a child's process group, wait up to stop_timeout, then SIGKILL the group."""
        proc = child.proc
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the child leads its own group
        if proc.poll() is None:
            _log.info("stopping %s (pid %s)", child.name, proc.pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                _log.warning("%s did not exit within %.0fs; killing", child.name, self.stop_timeout)
        # Also kill grandchildren still in the group (e.g. uvicorn reload workers).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def stop_all(self) -> None:
        """Stop children in reverse start order, then the services in reverse; idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopping = True
            errors: list[BaseException] = []
            for child in reversed(list(self.children.values())):
                try:
                    self._stop_child(child)
                except BaseException as exc:  # noqa: BLE001 - keep stopping the rest
                    errors.append(exc)
            for service in reversed(self.services):
                try:
                    service.stop()
                except BaseException as exc:  # noqa: BLE001 - keep stopping the rest
                    _log.error("failed to stop %r: %s", service, exc)
                    errors.append(exc)
            self._stopped = True
            atexit.unregister(self.stop_all)
            if errors:
                raise errors[0]

    def __enter__(self) -> Supervisor:
        """Return self; children are started by start_all() or run_until_signal()."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop everything, whatever happened inside the block."""
        self.stop_all()
