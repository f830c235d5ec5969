"""The stack exactly as `asnflow dev` starts it (embedded PostgreSQL, Temporal dev server), over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any
from pathlib import Path

import httpx
import psutil
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from asnflow.runtime.services import free_port
from asnflow.runtime.supervisor import wait_http_ok

ASNFLOW = [sys.executable, "-m", "asnflow.runtime.cli"]


class DevStack:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.url = f"http://127.0.0.1:{port}"
        self.log = data_dir.parent / f"{data_dir.name}-dev.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def launch(self, *, as_background_job: bool = False) -> None:
        """Run `asnflow dev`; as a script's `cmd &` would, with SIGINT ignored from the start if asked."""
        ignore_sigint = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if as_background_job else None
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*ASNFLOW, "dev", "--data-dir", str(self.data_dir), "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env={k: v for k, v in os.environ.items() if not k.startswith("ASNFLOW_")}, preexec_fn=ignore_sigint,
            )

    def start(self) -> None:
        self.launch()
        try:
            wait_http_ok(f"{self.url}/ready", timeout=180)
        except TimeoutError:
            self.stop()
            pytest.fail(f"asnflow dev did not become ready:\n{self.log.read_text()[-4000:]}")

    def stop(self) -> int:
        assert self.proc is not None
        children = psutil.Process(self.proc.pid).children(recursive=True) if self.proc.poll() is None else []
        self.proc.send_signal(signal.SIGINT)  # what Ctrl-C delivers
        code = self.proc.wait(timeout=90)
        gone, alive = psutil.wait_procs(children, timeout=30)
        assert not alive, f"left running after Ctrl-C: {[p.cmdline() for p in alive]}"
        return code

    def token(self, nip: str) -> str:
        done = subprocess.run([*ASNFLOW, "token", nip, "--data-dir", str(self.data_dir)], capture_output=True, text=True, check=True)
        return done.stdout.strip()


@pytest.fixture
def data_root() -> Iterator[Path]:
    # Short paths: the embedded PostgreSQL listens on a unix socket inside the data folder.
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="af-e2e-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def payloads(message: Any) -> Iterator[Payload]:
    """Every Payload inside a protobuf message, however deeply nested."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        if hasattr(value, "ListFields"):
            yield from payloads(value)
        else:  # repeated field or map
            for item in value.values() if hasattr(value, "values") else value:
                yield from payloads(item)


async def history_payloads(data_dir: Path, case_id: str) -> list[Payload]:
    """The case's Temporal history as the server stores it, read without the payload key."""
    state = json.loads((data_dir / "stack.json").read_text())
    client = await Client.connect(f"127.0.0.1:{state['temporal_grpc_port']}")
    history = await client.get_workflow_handle(case_id).fetch_history()
    return [p for event in history.events for p in payloads(event)]


def wait_task(http: httpx.Client, headers: dict[str, str], case_id: str, kind: str) -> dict:
    for _ in range(300):
        r = http.get("/api/v1/tasks", headers=headers, params={"case_id": case_id})
        assert r.status_code == 200, r.text
        found = [t for t in r.json()["data"] if t["kind"] == kind and t["status"] == "open"]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no {kind} task")


def test_dev_stack_runs_a_case_stops_cleanly_and_resumes(data_root: Path) -> None:
    users = json.loads(subprocess.run([*ASNFLOW, "demo", "users", "--json"], capture_output=True, text=True, check=True).stdout)
    assert {"BUPATI", "SEKDA", "BKPSDM", "AUDITOR", "ADMIN", "ATASAN"} <= {r for u in users for r in u["roles"]}
    employee = next(u for u in users if u["roles"] == ["PEGAWAI"])
    boss = next(u for u in users if "appraiser of the demo employee" in u.get("description", ""))

    one = DevStack(data_root / "one", free_port())
    two = DevStack(data_root / "two", free_port())
    one.start()
    try:
        two.start()  # a second stack side by side: its own data folder and ports
        with httpx.Client(base_url=two.url, timeout=30) as http:
            assert http.get("/health").json() == {"status": "ok"}
        assert two.stop() == 0

        with httpx.Client(base_url=one.url, timeout=30) as http:
            assert http.get("/docs").status_code == 200
            assert http.get("/openapi.json").json()["info"]["title"] == "asnflow API"
            page = http.get("/")
            assert page.status_code == 200 and "Batanghari" in page.text
            mine = {"Authorization": f"Bearer {one.token(employee['nip'])}"}
            theirs = {"Authorization": f"Bearer {one.token(boss['nip'])}"}
            r = http.post("/api/v1/evaluations", headers=mine, json={"nip": employee["nip"], "year": 2026})
            assert r.status_code == 202, r.text
            case_id = r.json()["id"]
            task = wait_task(http, mine, case_id, "SKP_DRAFT")
            skp = {"targets": [{"indikator": "Aplikasi layanan daring berjalan", "target": "99% waktu aktif"}]}
            r = http.post(f"/api/v1/tasks/{task['id']}/decision", headers=mine, json={"outcome": "SUBMITTED", "data": skp})
            assert r.status_code == 200, r.text
            # The workflow opens the agreement after the draft's decision is answered: wait for it, then it is
            # in the appraiser's own inbox (no filter).
            wait_task(http, theirs, case_id, "SKP_AGREEMENT")
            inbox = http.get("/api/v1/tasks", headers=theirs).json()["data"]
            agreement = next(t for t in inbox if t["case_id"] == case_id)
            assert agreement["kind"] == "SKP_AGREEMENT" and agreement["assignee_nip"] == boss["nip"]
            r = http.post(f"/api/v1/tasks/{agreement['id']}/decision", headers=theirs, json={"outcome": "AGREED", "reason": "OK"})
            assert r.status_code == 200, r.text
            history = http.get(f"/api/v1/cases/{case_id}/events", headers=theirs).json()
            assert history["chain_intact"] is True
            last_decision = [e for e in history["data"] if e["type"] == "TaskDecided"][-1]
            assert last_decision["actor"]["nip"] == boss["nip"] and last_decision["payload"]["outcome"] == "AGREED"
            employees_before = http.get(f"/api/v1/employees/{employee['nip']}", headers=mine).json()
        stored = asyncio.run(history_payloads(one.data_dir, case_id))
        # Payloads are encrypted: neither the name nor the SKP text is readable in Temporal's history.
        assert sum(p.metadata.get("encoding") == b"binary/encrypted" for p in stored) > 10
        assert not any(employee["nama"].encode() in p.data or b"Aplikasi layanan" in p.data for p in stored)
    finally:
        code = one.stop()
    assert code == 0

    one.start()  # the same data again: the case is still there, nothing seeded twice
    try:
        with httpx.Client(base_url=one.url, timeout=30) as http:
            r = http.get(f"/api/v1/cases/{case_id}", headers=theirs)
            assert r.status_code == 200 and r.json()["status"] == "open"
            # 2026's first semester is over: the appraiser's check-in is next (the rating waits for the year's end).
            checkin = wait_task(http, theirs, case_id, "CHECK_IN")
            assert checkin["assignee_nip"] == boss["nip"]
            assert http.get(f"/api/v1/employees/{employee['nip']}", headers=mine).json() == employees_before
            auditor = next(u for u in users if "AUDITOR" in u["roles"])
            verify = http.get("/api/v1/audit/verify", headers={"Authorization": f"Bearer {one.token(auditor['nip'])}"}).json()
            assert verify["ok"] is True and verify["cases_checked"] > 300  # ~300 employees + the case
            # The stack seals signed checkpoints of the global chain by itself.
            checkpoints = http.get("/api/v1/audit/checkpoints", headers={"Authorization": f"Bearer {one.token(auditor['nip'])}"}).json()
            assert len(checkpoints) >= 1 and checkpoints[0]["position"] > 300
    finally:
        assert one.stop() == 0


def test_ctrl_c_during_start_up_stops_a_stack_started_as_a_background_job(data_root: Path) -> None:
    """`asnflow dev &` in a script inherits SIGINT ignored; an interrupt while it starts still stops everything."""
    stack = DevStack(data_root / "bg", free_port())
    postmaster = stack.data_dir / "postgres" / "postmaster.pid"
    stack.launch(as_background_job=True)
    assert stack.proc is not None
    children: list[psutil.Process] = []
    try:
        for _ in range(600):  # the embedded PostgreSQL is up: the stack is mid-way through its start
            if postmaster.exists() or stack.proc.poll() is not None:
                break
            time.sleep(0.1)
        assert postmaster.exists(), stack.log.read_text()[-2000:]
        children = psutil.Process(stack.proc.pid).children(recursive=True)
        stack.proc.send_signal(signal.SIGINT)
        assert stack.proc.wait(timeout=60) == 0, stack.log.read_text()[-2000:]
        gone, alive = psutil.wait_procs(children, timeout=30)
        assert not alive, [p.cmdline() for p in alive]
        assert not postmaster.exists()  # the embedded PostgreSQL was stopped, not orphaned
    finally:
        if stack.proc.poll() is None:  # it ignored the interrupt: leave nothing of it behind
            for p in [*psutil.Process(stack.proc.pid).children(recursive=True), *children]:
                with contextlib.suppress(psutil.Error):
                    p.kill()
            os.killpg(stack.proc.pid, signal.SIGKILL)
        if postmaster.exists():
            from asnflow.runtime.services import EmbeddedPostgres

            EmbeddedPostgres(stack.data_dir).stop()
