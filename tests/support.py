"""Helpers for tests that need a seeded directory, views and a worker."""

from __future__ import annotations

import asyncio
import base64
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from asnflow.api.app import create_app
from asnflow.api.auth import ensure_dev_keys, mint_token
from asnflow.activities.directory import import_employees
from asnflow.activities.eventstore import EventStore
from asnflow.domain.directory import parse_employee_csv
from asnflow.projections.runner import ensure_tables, rebuild, run_projector
from asnflow.projections.views import PROJECTIONS
from asnflow.runtime.cli import seed_demo
from asnflow.runtime.demo_org import demo_csv, demo_person, roles_for
from asnflow.runtime.settings import Settings
from asnflow.runtime.worker import build_worker
from asnflow.workflows.contracts import SYSTEM


# One event-store key for the whole run: modules share the session database, so a key per data
# folder would make one module's events unreadable to the next (InvalidTag). Written into each
# data folder, so child processes started with only ASNFLOW_DATA_DIR read the same key.
SESSION_STORE_KEY = base64.b64encode(os.urandom(32)).decode()


def make_settings(database_url: str, data_dir: Path, temporal_address: str = "127.0.0.1:7233") -> Settings:
    settings = Settings(
        database_url=database_url,
        temporal_address=temporal_address,
        task_queue=f"tq-{uuid.uuid4()}",
        data_dir=data_dir,
        dev_mode=True,
        read_wait_seconds=10,
    )
    key = settings.dev_store_key_path
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_text(SESSION_STORE_KEY)
        key.chmod(0o600)
    return settings


def prepare_database(settings: Settings, seed: Callable[[Settings], object] = seed_demo) -> None:
    """Create the store and views, seed a directory (the demo organisation by default), and project it."""
    env = settings.store_env()
    ensure_tables(env, PROJECTIONS)
    seed(settings)
    rebuild(env, "employees")


def demo_units_seed(*units: str) -> Callable[[Settings], object]:
    """A seed of only these demo units and everyone above them up to the Bupati (a small directory)."""

    def seed(settings: Settings) -> object:
        records = {r.nip: r for r in parse_employee_csv(demo_csv())}
        keep = {nip for nip, r in records.items() if r.unit in units}
        for nip in list(keep):
            boss = records[nip].atasan_nip
            while boss and boss not in keep:
                keep.add(boss)
                boss = records[boss].atasan_nip
        rows = [{**r.to_dict(), "roles": roles_for(r.nip)} for r in records.values() if r.nip in keep]
        store = EventStore(env=settings.store_env())
        try:
            return import_employees(store, rows, SYSTEM, source=f"demo units {', '.join(units)}")
        finally:
            store.close()

    return seed


def token_for(settings: Settings, nip: str) -> str:
    ensure_dev_keys(settings.dev_private_key_path, settings.dev_public_key_path)
    person = demo_person(nip)
    assert person is not None, nip
    return mint_token(
        settings.dev_private_key_path, nip=nip, name=person["nama"], roles=person["roles"], unit=person["unit"],
        issuer=settings.jwt_issuer, audience=settings.jwt_audience, tenant=person["tenant"],
    )


@dataclass
class ApiClient:
    http: httpx.AsyncClient
    settings: Settings

    def auth(self, nip: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(self.settings, nip)}"}

    def headers(self, nip: str | None, extra: dict[str, str] | None) -> dict[str, str]:
        return {**(self.auth(nip) if nip else {}), **(extra or {})}

    async def get(self, path: str, nip: str | None = None, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return await self.http.get(path, headers=self.headers(nip, headers), **kw)

    async def post(self, path: str, nip: str | None = None, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return await self.http.post(path, headers=self.headers(nip, headers), **kw)


@asynccontextmanager
async def api_client(settings: Settings) -> AsyncIterator[ApiClient]:
    """The real app in-process (lifespan included) behind an httpx client."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://asnflow.test") as http:
            yield ApiClient(http, settings)


def client_address(client: Client) -> str:
    return client.service_client.config.target_host


@asynccontextmanager
async def running_stack(
    client: Client, tmp_dir: Path, prefix: str, views: list[str] | None = None,
    seed: Callable[[Settings], object] = seed_demo,
) -> AsyncIterator[tuple[Settings, EventStore]]:
    """A fresh database with the demo directory, a projector thread and a worker on the given Temporal."""
    from tests.conftest import create_database, drop_database

    url = create_database(prefix)
    settings = make_settings(url, tmp_dir, client_address(client))
    try:
        await asyncio.to_thread(prepare_database, settings, seed)
        store = EventStore(env=settings.store_env())
        stop = threading.Event()
        # Only the views a module reads keeps connections low: every runner holds its own pools.
        projector = threading.Thread(
            target=run_projector, args=(settings.store_env(), views or list(PROJECTIONS), stop), daemon=True
        )
        projector.start()
        try:
            with ThreadPoolExecutor(8) as executor:
                async with build_worker(client, settings, store, executor):
                    yield settings, store
        finally:
            stop.set()
            projector.join(timeout=10)
            store.close()
    finally:
        drop_database(url)


@dataclass
class Stack:
    """An in-process stack as API tests use it."""

    api: ApiClient
    settings: Settings
    store: EventStore


@asynccontextmanager
async def api_stack(client: Client, tmp_dir: Path, prefix: str, views: list[str] | None = None) -> AsyncIterator[Stack]:
    """running_stack plus the app behind an httpx client."""
    async with running_stack(client, tmp_dir, prefix, views) as (settings, store):
        async with api_client(settings) as api:
            yield Stack(api, settings, store)


def pdf_bytes(tag: str = "") -> bytes:
    """A small file that is a PDF by its content (magic bytes), unique per tag."""
    return b"%PDF-1.4\n% asnflow test " + (tag or str(uuid.uuid4())).encode() + b"\n%%EOF\n"


async def upload(api: ApiClient, nip: str, content: bytes, name: str = "sertifikat.pdf", purpose: str = "training_certificate") -> httpx.Response:
    """Upload one file to the document store as `nip`."""
    return await api.post("/api/v1/documents", nip, files={"file": (name, content, "application/octet-stream")}, data={"purpose": purpose})


async def open_task(stack: Stack, nip: str, case_id: str, kind: str) -> dict[str, Any]:
    """The open task of `kind` on a case, from `nip`'s task list, once the views show it."""
    for _ in range(600):
        r = await stack.api.get("/api/v1/tasks", nip, params={"case_id": case_id})
        assert r.status_code == 200, r.text
        found = [t for t in r.json()["data"] if t["kind"] == kind and t["status"] == "open"]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no open {kind} task for {nip} on {case_id}")
