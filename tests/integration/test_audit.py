"""Audit against real PostgreSQL: SQL tampering named by position, bundles, export, access log, point in time, holds."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from asnflow.activities import audit as act
from asnflow.activities.eventstore import EventStore, StateCodec, build_events, read_case, record
from asnflow.domain.audit import access_case_id
from asnflow.domain.events import GENESIS_HASH, event_hash
from asnflow.projections.runner import rebuild
from asnflow.runtime import demo_muarojambi
from asnflow.runtime.cli import app as cli_app
from asnflow.runtime.demo_org import demo_users
from asnflow.runtime.settings import Settings
from asnflow.workflows.contracts import NewEvent, RecordInput
from tests.conftest import ADMIN_URL, create_database, drop_database
from tests.support import api_client, make_settings, prepare_database

ASNFLOW = [sys.executable, "-m", "asnflow.runtime.cli"]
AUDITOR = next(u["nip"] for u in demo_users() if "AUDITOR" in u["roles"])
EMPLOYEE = next(u["nip"] for u in demo_users() if u["roles"] == ["PEGAWAI"])
BOSS = "198306172008012001"
CASE = "evaluation-2010-" + EMPLOYEE
OPENED = datetime(2010, 1, 4, 8, 0, tzinfo=UTC)
SKP_SHA = "ab" * 32


@dataclass
class Audited:
    settings: Settings
    store: EventStore
    url: str
    seeded: int  # the directory's events, positions 1..seeded
    positions: list[int]  # of the test case's events, by version

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "ASNFLOW_DATABASE_URL": self.url, "ASNFLOW_DATA_DIR": str(self.settings.data_dir), "ASNFLOW_DEV_MODE": "true",
            **extra,
        }

    @property
    def codec(self) -> StateCodec:
        return act.state_codec(self.settings)

    def opened(self, state: bytes) -> dict[str, Any]:
        """A stored row's JSON as the transcoder wrote it, decrypted with the store's key."""
        assert self.codec.cipher is not None
        return json.loads(self.codec.cipher.decrypt(bytes(state)))  # type: ignore[no-any-return]

    def cli(self, *args: str) -> Any:
        """The CLI in this process (fast); stderr carries its messages."""
        return CliRunner().invoke(cli_app, list(args), env=self.env())

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """The CLI as its own process."""
        return subprocess.run([*ASNFLOW, *args], env={**os.environ, **self.env(**env)}, capture_output=True, text=True, timeout=120)


def _step(store: EventStore, version: int, previous: str, at: datetime, *events: NewEvent) -> tuple[int, str, list[int]]:
    inp = RecordInput(
        case_id=CASE, process="evaluation", expected_version=version, previous_hash=previous,
        workflow_id=CASE, run_id="run-2010", occurred_at=at.isoformat(), events=list(events),
    )
    result = record(store, inp)
    return result.version, result.last_hash, result.positions


def _system() -> dict[str, Any]:
    return {"nip": None, "role": "SYSTEM", "on_behalf_of": None}


def record_closed_case(store: EventStore) -> list[int]:
    """An evaluation recorded the way its workflow records it, closed long ago (retention expired)."""
    boss = {"nip": BOSS, "role": "ATASAN", "on_behalf_of": None}
    me = {"nip": EMPLOYEE, "role": "PEGAWAI", "on_behalf_of": None}
    v, h, positions = 0, GENESIS_HASH, []
    for at, events in (
        (OPENED, [
            NewEvent("CaseOpened", {"subject_nip": EMPLOYEE, "unit": "DISKOMINFO", "title": "SKP 2010", "data": {}}, _system()),
            NewEvent("TaskOpened", {"task_id": "t-rating", "kind": "RATING", "assignee_nip": BOSS, "outcomes": ["RATED"]}, _system()),
        ]),
        (OPENED + timedelta(days=3), [
            NewEvent("TaskDecided", {"task_id": "t-rating", "kind": "RATING", "outcome": "RATED",
                                     "data": {"lampiran": {"name": "skp.pdf", "sha256": SKP_SHA}}}, boss, "Sesuai target"),
            NewEvent("TaskOpened", {"task_id": "t-ack", "kind": "ACKNOWLEDGEMENT", "assignee_nip": EMPLOYEE}, _system()),
        ]),
        (OPENED + timedelta(days=5), [
            NewEvent("TaskDecided", {"task_id": "t-ack", "kind": "ACKNOWLEDGEMENT", "outcome": "ACKNOWLEDGED"}, me),
            NewEvent("CaseClosed", {"status": "completed", "outcome": {"predicate": "BAIK"}}, _system()),
        ]),
    ):
        v, h, new = _step(store, v, h, at, *events)
        positions += new
    return positions


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, list[int], Path]]:
    """One prepared database (directory, views, the closed case) that each test copies."""
    url = create_database("asnflow_audit_tpl")
    settings = make_settings(url, tmp_path_factory.mktemp("tpl"))
    prepare_database(settings)
    with psycopg.connect(url, autocommit=True) as conn:
        seeded = conn.execute("SELECT max(notification_id) FROM asnflow_events").fetchone()[0]  # type: ignore[index]
        # A legitimate gap in positions, as a rolled-back append leaves one.
        conn.execute("SELECT nextval('asnflow_events_notification_id_seq') FROM generate_series(1, 5)")
    store = EventStore(env=settings.store_env())
    try:
        positions = record_closed_case(store)
    finally:
        store.close()
    for view in ("cases", "audit_log"):
        rebuild(settings.store_env(), view)
    # Copies of this database are encrypted with its store key: every test reads them with that key.
    yield url, seeded, positions, settings.dev_store_key_path
    drop_database(url)


@pytest.fixture
def audited(template: tuple[str, int, list[int], Path], tmp_path: Path) -> Iterator[Audited]:
    source, seeded, positions, store_key = template
    name = f"asnflow_t_{uuid.uuid4().hex[:12]}"
    for attempt in range(50):
        try:
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source.rsplit("/", 1)[1]}"')
            break
        except psycopg.errors.ObjectInUse:  # the template's last session is still closing
            time.sleep(0.1 * (attempt + 1))
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    keys = tmp_path / "keys"
    keys.mkdir()
    shutil.copy(store_key, keys / "event-store.key")  # the data folder's key, as `asnflow dev` would find it
    settings = make_settings(url, tmp_path).model_copy(update={"temporal_ui_url": "http://temporal.test:8233"})
    store = EventStore(env=settings.store_env())
    try:
        yield Audited(settings, store, url, seeded, positions)
    finally:
        store.close()
        drop_database(url)


def raw(url: str, position: int) -> tuple[Any, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM asnflow_events WHERE notification_id = %s",
            [position],
        ).fetchone()
    assert row is not None
    return row


def reinsert(conn: psycopg.Connection[Any], row: tuple[Any, ...]) -> None:
    conn.execute(
        "INSERT INTO asnflow_events (notification_id, originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s, %s)",
        row,
    )


def forged(a: Audited, state: dict[str, Any], type_name: str, version: int, **changes: Any) -> bytes:
    """A stored state rewritten by someone holding the key, with a correctly recomputed case hash: invisible to
    the case chain alone (and to the cipher: it is validly encrypted)."""
    s = {**state, **changes}
    s["hash"] = event_hash(
        type_name=type_name, case_id=s["case_id"], process=s["process"], version=version,
        occurred_at=s["occurred_at"]["_data_"], actor=s["actor"], workflow_id=s["workflow_id"], run_id=s["run_id"],
        reason=s["reason"], payload=s["payload"], previous_hash=s["previous_hash"],
    )
    assert a.codec.cipher is not None
    return a.codec.cipher.encrypt(json.dumps(s, separators=(",", ":")).encode())


def check(a: Audited, case_id: str | None = None) -> act.VerifyReport:
    with psycopg.connect(a.url) as conn:
        return act.verify(conn, act.trusted_keys(a.settings), case_id, codec=a.codec)


def test_sql_tampering_is_named_by_case_and_position_each_way(audited: Audited) -> None:
    import asyncio

    a = audited
    done = a.cli("audit", "checkpoint")
    assert done.exit_code == 0 and "checkpoint 1" in done.stderr.replace("Titik periksa/", ""), done.stderr
    assert (a.settings.data_dir / "keys" / "audit-signing-key.pem").exists()
    clean = check(a)
    assert clean.ok and clean.sealed_position == a.positions[-1] and clean.checkpoints_checked == 1, clean.problems
    assert clean.events_checked == a.seeded + 6

    # 1. A row changed, its case hash forged to match: only the sealed global chain sees it.
    first = raw(a.url, 1)
    state = a.opened(first[4])
    with psycopg.connect(a.url, autocommit=True) as conn:
        payload = {**state["payload"], "jabatan": "Kepala Inspektorat"}
        conn.execute("UPDATE asnflow_events SET state = %s WHERE notification_id = 1",
                     [forged(a, state, "EmployeeRegistered", 1, payload=payload)])
    report = check(a)
    assert not report.ok and [(p["kind"], p["case_id"], p["position"]) for p in report.problems] == [
        ("changed", state["case_id"], 1)
    ]
    with psycopg.connect(a.url, autocommit=True) as conn:
        conn.execute("UPDATE asnflow_events SET state = %s WHERE notification_id = 1", [first[4]])
    assert check(a).ok

    # 1b. A row changed without the key: one ciphertext byte flipped. The cipher's tag refuses it, and the sealed
    # chain names it as changed.
    flipped = bytearray(first[4])
    flipped[40] ^= 0x01
    with psycopg.connect(a.url, autocommit=True) as conn:
        conn.execute("UPDATE asnflow_events SET state = %s WHERE notification_id = 1", [bytes(flipped)])
    report = check(a)
    assert ("changed", 1) in [(p["kind"], p["position"]) for p in report.problems], report.problems
    assert ("hash", 1) in [(p["kind"], p["position"]) for p in report.problems]  # cannot be decoded
    with psycopg.connect(a.url, autocommit=True) as conn:
        conn.execute("UPDATE asnflow_events SET state = %s WHERE notification_id = 1", [first[4]])
    assert check(a).ok

    # 2. A row deleted: the case's last event, which leaves the case chain itself intact.
    last = raw(a.url, a.positions[-1])
    with psycopg.connect(a.url, autocommit=True) as conn:
        conn.execute("DELETE FROM asnflow_events WHERE notification_id = %s", [a.positions[-1]])
    done = a.cli("audit", "verify")
    assert done.exit_code == 1, done.stderr
    assert f"[deleted] {CASE} v6 (posisi/position {a.positions[-1]})" in done.stderr.replace("\n", ""), done.stderr

    async def via_api() -> dict[str, Any]:
        async with api_client(a.settings) as api:
            r = await api.get("/api/v1/audit/verify", AUDITOR, params={"case_id": CASE})
            assert r.status_code == 200
            return r.json()  # type: ignore[no-any-return]

    body = asyncio.run(via_api())
    assert body["ok"] is False and body["sealed_position"] == a.positions[-1]
    assert [(p["kind"], p["case_id"], p["version"], p["position"]) for p in body["problems"]] == [
        ("deleted", CASE, 6, a.positions[-1])
    ]
    with psycopg.connect(a.url, autocommit=True) as conn:
        reinsert(conn, last)

    # 3. A row inserted into a gap below the checkpoint, with a valid-looking case chain.
    employee = raw(a.url, 2)
    emp_state = a.opened(employee[4])
    gap = a.seeded + 1
    with psycopg.connect(a.url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM asnflow_events WHERE notification_id = %s", [gap]).fetchone()[0] == 0
        state2 = {**emp_state, "previous_hash": emp_state["hash"], "payload": {"golongan": "IV/e"}}
        reinsert(conn, (gap, employee[1], 2, employee[3].replace("Registered", "Updated"), forged(a, state2, "EmployeeUpdated", 2)))
    report = check(a)
    assert [(p["kind"], p["case_id"], p["version"], p["position"]) for p in report.problems] == [
        ("inserted", emp_state["case_id"], 2, gap)
    ]
    with psycopg.connect(a.url, autocommit=True) as conn:
        conn.execute("DELETE FROM asnflow_events WHERE notification_id = %s", [gap])
        # The sealed record cannot be rewritten to match either: its checkpoint is signed.
        conn.execute("UPDATE audit_checkpoints SET chain = repeat('0', 64)")
    report = check(a)
    assert not report.ok and report.problems[0]["kind"] == "checkpoint" and "signature" in report.problems[0]["problem"]


def test_bundle_verifies_offline_and_fails_after_any_single_byte(audited: Audited, tmp_path: Path) -> None:
    import asyncio

    a = audited
    with psycopg.connect(a.url) as conn:
        act.seal(conn, act.load_signing_key(a.settings), codec=a.codec)

    async def fetch() -> bytes:
        async with api_client(a.settings) as api:
            r = await api.get(f"/api/v1/audit/cases/{CASE}/bundle", AUDITOR)
            assert r.status_code == 200 and r.headers["content-type"] == "application/zip", r.text
            assert (await api.get(f"/api/v1/audit/cases/{CASE}/bundle", EMPLOYEE)).status_code == 403
            return r.content

    data = asyncio.run(fetch())
    report = act.verify_bundle(data)
    assert report.ok and report.case_id == CASE and report.event_count == 6 and report.sealed_by_checkpoint == 1, report.problems
    bundle = tmp_path / "case.bundle.zip"
    bundle.write_bytes(data)
    pem = tmp_path / "official.pub.pem"
    pem.write_bytes(act.public_pem(act.load_signing_key(a.settings).public_key()))
    # Offline: no database and no API reachable.
    offline = {"ASNFLOW_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"}
    done = a.run("audit", "verify-bundle", str(bundle), "--public-key", str(pem), **offline)
    assert done.returncode == 0 and "OK" in done.stderr, done.stderr
    documents = json.loads(__import__("zipfile").ZipFile(io.BytesIO(data)).read("documents.json"))
    assert documents == [{"pointer": "/data/lampiran/sha256", "position": a.positions[2], "sha256": SKP_SHA, "version": 3}]

    for i in range(len(data)):
        changed = bytearray(data)
        changed[i] ^= 0x01
        assert not act.verify_bundle(bytes(changed)).ok, f"byte {i} changed and the bundle still verified"
    from_cli = tmp_path / "cli.bundle.zip"
    assert a.cli("audit", "bundle", CASE, "-o", str(from_cli), "--auditor", AUDITOR).exit_code == 0
    assert act.verify_bundle(from_cli.read_bytes(), pem.read_bytes()).ok
    other = tmp_path / "other.pub.pem"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other.write_bytes(act.public_pem(Ed25519PrivateKey.generate().public_key()))
    assert not act.verify_bundle(data, other.read_bytes()).ok


def test_auditor_reads_are_recorded_and_exports_stream_the_record(audited: Audited) -> None:
    import asyncio

    a = audited
    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with api_client(a.settings) as api:
            r = await api.get("/api/v1/audit/events", AUDITOR, params={"case_id": CASE})
            assert r.status_code == 200 and len(r.json()["data"]) == 6
            assert r.json()["data"][0]["temporal_url"] == "http://temporal.test:8233/namespaces/default/workflows/" + CASE + "/run-2010/history"
            r = await api.get("/api/v1/audit/export", AUDITOR, params={"format": "jsonl"})
            assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
            out["jsonl"] = r.text
            r = await api.get("/api/v1/audit/export", AUDITOR, params={"format": "csv", "case_id": CASE, "type": "TaskDecided"})
            assert r.status_code == 200
            out["csv"] = r.text
            r = await api.get("/api/v1/audit/verify", AUDITOR)
            assert r.status_code == 200 and r.json()["ok"] is True and r.json()["unsealed_events"] > 300
            r = await api.get(f"/api/v1/cases/{CASE}/events", AUDITOR)
            assert r.status_code == 200 and r.json()["chain_intact"] is True
            # Not an auditor: refused, and only auditors' reads are logged.
            assert (await api.get("/api/v1/audit/export", EMPLOYEE)).status_code == 403
            assert (await api.get(f"/api/v1/cases/{CASE}/events", EMPLOYEE)).status_code == 200
        return out

    out = asyncio.run(scenario())
    lines = [json.loads(x) for x in out["jsonl"].splitlines()]
    assert [x["position"] for x in lines] == sorted(x["position"] for x in lines)
    # Batanghari's directory (not the second demo regency's: an auditor exports their own tenant), the case,
    # and the two accesses recorded before this export was served.
    assert len(lines) == a.seeded - len(demo_muarojambi.employees()) + 6 + 2
    assert all(x["hash_valid"] for x in lines)
    assert lines[-1]["type"] == "AuditAccessed" and lines[-1]["payload"]["action"] == "export"
    rows = list(csv.DictReader(io.StringIO(out["csv"])))
    assert [(r["version"], r["actor_nip"], r["hash_valid"]) for r in rows] == [("3", BOSS, "True"), ("5", EMPLOYEE, "True")]
    assert json.loads(rows[0]["payload"])["data"]["lampiran"]["sha256"] == SKP_SHA

    day = datetime.now(UTC).astimezone(act.WIB).date().isoformat()
    log = read_case(a.store, access_case_id(AUDITOR, day))
    assert [e.event.payload["action"] for e in log] == ["search", "export", "export", "verify", "case_history"]
    assert all(e.event.actor["nip"] == AUDITOR and e.event.process == "audit" for e in log)
    assert [e.event.payload.get("query") for e in log][2] == f"format=csv&case_id={CASE}&type=TaskDecided"
    with psycopg.connect(a.url) as conn:
        assert act.verify(conn, {}, access_case_id(AUDITOR, day), codec=a.codec).ok  # the access log is itself a valid chain
    # Two racing requests of one auditor both land, one after the other, in the same chain.
    from concurrent.futures import ThreadPoolExecutor

    actor = {"nip": AUDITOR, "role": "AUDITOR", "on_behalf_of": None}
    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(lambda i: act.record_access(a.store, actor, "search", {"i": i}), range(8)))
    assert len(set(done)) == 8 and len(read_case(a.store, access_case_id(AUDITOR, day))) == 13

    # The CLI streams the same export to a file.
    target = a.settings.data_dir / "export.csv"
    cli = a.cli("audit", "export", "--format", "csv", "-o", str(target), "--case-id", CASE, "--auditor", AUDITOR)
    assert cli.exit_code == 0, cli.stderr
    assert [r["type"] for r in csv.DictReader(target.open())] == [
        "CaseOpened", "TaskOpened", "TaskDecided", "TaskOpened", "TaskDecided", "CaseClosed"
    ]


def test_point_in_time_shows_what_the_approver_saw(audited: Audited) -> None:
    import asyncio

    a = audited

    async def scenario() -> list[dict[str, Any]]:
        async with api_client(a.settings) as api:
            got = []
            for params in (
                {"at": (OPENED + timedelta(days=1)).isoformat()},
                {"at": (OPENED + timedelta(days=4)).isoformat()},
                {"version": 2},
                {},
            ):
                r = await api.get(f"/api/v1/audit/cases/{CASE}", AUDITOR, params=params)
                assert r.status_code == 200, r.text
                got.append(r.json())
            assert (await api.get(f"/api/v1/audit/cases/{CASE}", AUDITOR, params={"at": "2010-01-05T00:00:00"})).status_code == 422
            assert (await api.get("/api/v1/audit/cases/evaluation-1999-x", AUDITOR)).status_code == 404
            return got

    before, middle, by_version, now = asyncio.run(scenario())
    assert before["status"] == "open" and [t["kind"] for t in before["open_tasks"]] == ["RATING"] and before["decisions"] == []
    assert before["version"] == 2 and before["chain_intact"] and before["events"][-1]["temporal_url"]
    assert [t["kind"] for t in middle["open_tasks"]] == ["ACKNOWLEDGEMENT"]
    assert [(d["kind"], d["outcome"], d["actor"]["nip"]) for d in middle["decisions"]] == [("RATING", "RATED", BOSS)]
    assert by_version["open_tasks"] == before["open_tasks"]
    assert now["status"] == "completed" and now["open_tasks"] == [] and len(now["decisions"]) == 2
    done = a.cli("audit", "case", CASE, "--at", (OPENED + timedelta(days=4)).isoformat(), "--auditor", AUDITOR)
    assert done.exit_code == 0, done.stderr
    assert [t["kind"] for t in json.loads(done.stdout)["open_tasks"]] == ["ACKNOWLEDGEMENT"]


def test_legal_hold_blocks_purge_and_a_purge_leaves_a_verifiable_tombstone(audited: Audited) -> None:
    import asyncio

    a = audited
    policy = act.retention_policy(a.settings)
    with psycopg.connect(a.url) as conn:
        dry = act.purge_case(a.store, conn, CASE, policy, actor=act.cli_actor(AUDITOR))
        assert dry.retention_class == "KINERJA" and not dry.executed  # eligible: closed 2010, kept 10 years
        with pytest.raises(act.AuditRefusedError, match="kept permanently"):
            act.purge_case(a.store, conn, "employee-" + EMPLOYEE, policy, actor=act.cli_actor(AUDITOR), execute=True)
    assert len(read_case(a.store, CASE)) == 6

    async def hold(path: str) -> dict[str, Any]:
        async with api_client(a.settings) as api:
            r = await api.post(f"/api/v1/audit/cases/{CASE}/{path}", AUDITOR, json={"reference": "LHP BPK 12/2026"})
            assert r.status_code == 200, r.text
            again = await api.post(f"/api/v1/audit/cases/{CASE}/{path}", AUDITOR, json={"reference": "LHP BPK 12/2026"})
            assert again.status_code == 409 and again.json()["message_en"]
            return r.json()  # type: ignore[no-any-return]

    held = asyncio.run(hold("hold"))
    assert held["held"] is True and held["retention_class"] == "KINERJA" and held["retention_years"] == 10
    done = a.cli("audit", "purge", CASE, "--execute")
    assert done.exit_code == 1 and "legal hold" in done.stderr, done.stderr
    assert len(read_case(a.store, CASE)) == 6

    with psycopg.connect(a.url) as conn:
        act.seal(conn, act.load_signing_key(a.settings), codec=a.codec)
    assert asyncio.run(hold("hold/release"))["held"] is False
    with psycopg.connect(a.url) as conn:
        plan = act.purge_case(a.store, conn, CASE, policy, actor=act.cli_actor(AUDITOR), execute=True)
    assert plan.executed and plan.events == 6 and read_case(a.store, CASE) == []
    report = check(a)
    assert report.ok and report.purged_events == 6, report.problems
    tombstone = read_case(a.store, "purge-" + CASE)
    assert [e["position"] for e in tombstone[0].event.payload["events"]] == a.positions


def test_generated_events_match_build_events(audited: Audited) -> None:
    """The export's raw decoding recomputes exactly the hashes build_events produced."""
    inp = RecordInput(
        case_id="c-raw", process="evaluation", expected_version=0, previous_hash=GENESIS_HASH, workflow_id="w", run_id="r",
        occurred_at="2026-11-28T08:00:00.123456+07:00", events=[NewEvent("CaseOpened", {"n": 1.5, "s": "é"}, _system())],
    )
    events, last = build_events(inp)
    audited.store.save(*events)
    with psycopg.connect(audited.url) as conn:
        row = list(act.iter_rows(conn, codec=audited.codec, originator_id=events[0].originator_id))[0]
    assert row.recomputed_hash() == last == act.export_record(row, None, "default")["hash"]
