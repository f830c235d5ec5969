"""Schemathesis against the whole app in CI: ≥ 1,000 generated cases, no 5xx, every response as documented.

The stack is the in-process one (demo directory, worker and projector on the Temporal dev server) behind a
real uvicorn socket on loopback; the `st` CLI (as scripts/fuzz runs it) fuzzes it from a child process while
this test's event loop serves the API and the worker. Only the fuzzing phase runs, with a fixed seed, so a
failure reproduces with the same command; the budget is ~2 minutes of wall time on the shared CI machine.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import sys
from pathlib import Path

import pytest
import uvicorn
from temporalio.testing import WorkflowEnvironment

from asnflow.api.app import create_app
from asnflow.api.auth import ensure_dev_keys, mint_token
from tests.support import demo_units_seed, running_stack

# Every role the API knows, so that each operation gets past the access table to its handler's checks.
ROLES = ["PEGAWAI", "ATASAN", "KEPALA_OPD", "BKPSDM", "TIM_PENILAI", "AUDITOR", "ADMIN", "PENGELOLA_PENGADUAN"]
FUZZ_NIP = "198306172008012001"  # Rina Oktaviani (demo): a real directory entry with subordinates
FUZZ_UNIT = "DISKOMINFO"
MAX_EXAMPLES = 16  # per operation: ~80 operations give ≥ 1,000 cases within the time budget
SEED = 20261128
MIN_CASES = 1000
# 503 + Retry-After is the documented answer while PostgreSQL or Temporal cannot serve (the CI database is
# shared and does run out of connections). It passes schemathesis' check, but this test then requires each one
# to carry Retry-After and allows them for at most 2 % of the cases: a route that answers 503 by design fails.
CONFIG = """
[checks.not_a_server_error]
expected-statuses = ["2XX", "3XX", "4XX", 503]
"""
MAX_UNAVAILABLE_SHARE = 0.02


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
async def test_schemathesis_finds_no_5xx_and_no_undocumented_response(
    dev_server_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st is not None, "schemathesis' `st` is not installed (pip install -e .[test])"
    # Few live views keep the connection count low on the shared server (every table exists regardless).
    # One unit and its line up to the Bupati: each fuzzed season kick-off (a dozen valid years) then starts
    # tens of cases, not the whole regency's hundreds, which kept the in-process worker busy for minutes.
    async with running_stack(
        dev_server_env.client, tmp_path, "asnflow_fuzz", ["employees", "cases", "tasks"], seed=demo_units_seed(FUZZ_UNIT)
    ) as (settings, _store):
        port = _free_port()
        # A fuzzed `min_position` far beyond the store makes a read wait out read_wait_seconds and then answer
        # from the view as it is: keep that wait short, or the budget goes on sleeping.
        app = create_app(settings.model_copy(update={"read_wait_seconds": 0.05}))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        try:
            ensure_dev_keys(settings.dev_private_key_path, settings.dev_public_key_path)
            token = mint_token(
                settings.dev_private_key_path, nip=FUZZ_NIP, name="Fuzz", roles=ROLES, unit=FUZZ_UNIT,
                issuer=settings.jwt_issuer, audience=settings.jwt_audience,
            )
            report = tmp_path / "fuzz.json"
            config = tmp_path / "schemathesis.toml"
            config.write_text(CONFIG)
            proc = await asyncio.create_subprocess_exec(
                st, "--config-file", str(config), "run", f"http://127.0.0.1:{port}/openapi.json",
                "--checks", "not_a_server_error,response_schema_conformance",
                "--phases", "fuzzing", "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
                "--request-timeout", "30", "--no-shrink", "--continue-on-failure", "--workers", "2",
                "--header", f"Authorization: Bearer {token}",
                "--report", "ndjson", "--report-ndjson-path", str(report),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                cwd=tmp_path,  # schemathesis keeps a cache folder in its working directory
            )
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=600)
        finally:
            server.should_exit = True
            await serving
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-6000:]
    cases, unavailable = _generated_cases(report)
    assert cases >= MIN_CASES, f"only {cases} cases generated\n{text[-3000:]}"
    assert all(retry for _, retry in unavailable), f"503 without Retry-After: {unavailable}"
    assert len(unavailable) <= MAX_UNAVAILABLE_SHARE * cases, f"{len(unavailable)} answers 503: {unavailable[:20]}"


def _generated_cases(report: Path) -> tuple[int, list[tuple[str, bool]]]:
    """Test cases that reached the API and the 503 answers among them, from schemathesis' NDJSON events."""
    count, unavailable = 0, []
    for line in report.read_text().splitlines():
        for name, body in json.loads(line).items():
            if name != "ScenarioFinished":
                continue
            recorder = body.get("recorder", {})
            count += len(recorder.get("cases", {}))
            for interaction in recorder.get("interactions", {}).values():
                response = interaction.get("response") or {}
                if response.get("status_code") == 503:
                    headers = {k.lower() for k in response.get("headers", {})}
                    unavailable.append((recorder.get("label", "?"), "retry-after" in headers))
    return count, unavailable
