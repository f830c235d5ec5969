"""The PII scan: a realistic run of `asnflow dev`, then every NIK, e-mail, phone and reporter identity it used is
looked for in plain text in the raw Temporal history, search attributes and memos, every process log, the raw
event-store rows and every other table of the database (views included). None may be there; the API still shows them to those allowed."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from temporalio.client import Client

from asnflow.runtime.demo_org import demo_employees
from asnflow.runtime.services import free_port
from tests.e2e.test_dev_stack import DevStack, data_root, payloads, wait_task  # noqa: F401 - data_root is a fixture

COMPLAINT_MANAGER = "199302122018021001"
BKPSDM_NIP = "199104122019032001"


def _needles(values: list[str]) -> list[bytes]:
    """Each secret as UTF-8 and as base64 of it (JSON bodies carry bytes base64-encoded)."""
    out: list[bytes] = []
    for v in values:
        raw = v.encode()
        out += [raw, base64.b64encode(raw)]
    return out


def _hits(blob: bytes, needles: list[bytes]) -> list[bytes]:
    return [n for n in needles if n in blob]


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def _database_url(data_dir: Path) -> str:
    """The embedded server's unix socket, as its postmaster.pid records it (the dev stack owns the server)."""
    lines = (data_dir / "postgres" / "postmaster.pid").read_text().splitlines()
    return f"postgresql://postgres@/asnflow?host={lines[4]}&port={lines[3].strip()}"


async def _temporal_dump(data_dir: Path) -> tuple[bytes, int]:
    """Every workflow's history, search attributes and memo as the server holds them (no payload key)."""
    state = json.loads((data_dir / "stack.json").read_text())
    client = await Client.connect(f"127.0.0.1:{state['temporal_grpc_port']}")
    blob, count = bytearray(), 0
    async for wf in client.list_workflows():
        count += 1
        handle = client.get_workflow_handle(wf.id, run_id=wf.run_id)
        desc = await handle.describe()
        blob += desc.raw_description.SerializeToString()  # search attributes, memo, pending activities
        blob += json.dumps(desc.search_attributes, default=str).encode()
        history = await handle.fetch_history()
        blob += history.to_json().encode()
        for event in history.events:
            blob += b"".join(p.data + b"".join(p.metadata.values()) for p in payloads(event))
    return bytes(blob), count


def test_no_personal_data_in_temporal_logs_or_stored_rows(data_root: Path) -> None:  # noqa: F811
    employees = demo_employees()
    employee = next(e for e in employees if e.nip == "199602102022031001")  # Bayu Saputra, the demo employee
    boss_nip = employee.atasan_nip
    assert boss_nip and employee.nik and employee.email and employee.telepon
    tag = uuid.uuid4().hex[:6]
    reporter = {"reporter_name": f"Sulastri Binti Amran {tag}", "reporter_contact": f"sulastri.{tag}@contoh.id"}

    stack = DevStack(data_root / "pii", free_port())
    stack.start()
    try:
        with httpx.Client(base_url=stack.url, timeout=30) as http:
            mine = {"Authorization": f"Bearer {stack.token(employee.nip)}"}
            boss = {"Authorization": f"Bearer {stack.token(boss_nip)}"}
            manager = {"Authorization": f"Bearer {stack.token(COMPLAINT_MANAGER)}"}
            hr = {"Authorization": f"Bearer {stack.token(BKPSDM_NIP)}"}

            # An evaluation: start, draft, agreement.
            r = http.post("/api/v1/evaluations", headers=mine, json={"nip": employee.nip, "year": 2026})
            assert r.status_code == 202, r.text
            case_id = r.json()["id"]
            task = wait_task(http, mine, case_id, "SKP_DRAFT")
            skp = {"targets": [{"indikator": "Aplikasi layanan daring berjalan", "target": "99% waktu aktif"}]}
            r = http.post(f"/api/v1/tasks/{task['id']}/decision", headers=mine, json={"outcome": "SUBMITTED", "data": skp})
            assert r.status_code == 200, r.text
            agreement = wait_task(http, boss, case_id, "SKP_AGREEMENT")
            r = http.post(f"/api/v1/tasks/{agreement['id']}/decision", headers=boss, json={"outcome": "AGREED", "reason": "OK"})
            assert r.status_code == 200, r.text

            # A complaint with the reporter's identity.
            r = http.post("/api/v1/complaints", json={
                "kind": "PENGADUAN", "unit": "DPMPTSP",
                "description": f"Antrean KTP-el tiga jam tanpa kepastian ({tag}).", "anonymous": False,
                **reporter, "attachments": [],
            })
            assert r.status_code in (200, 201, 202), r.text
            complaint_case = None
            for _ in range(100):
                listed = http.get("/api/v1/complaints/manage", headers=manager).json()["data"]
                complaint_case = next((c for c in listed if tag in c["description"]), None)
                if complaint_case:
                    break
                time.sleep(0.2)
            assert complaint_case is not None

            # Those allowed still see the data through the API; others do not.
            own = http.get(f"/api/v1/employees/{employee.nip}/personal", headers=mine).json()
            assert (own["nik"], own["email"], own["telepon"]) == (employee.nik, employee.email, employee.telepon)
            assert http.get(f"/api/v1/employees/{employee.nip}/personal", headers=hr).json()["nik"] == employee.nik
            assert http.get(f"/api/v1/employees/{employee.nip}/personal", headers=boss).status_code == 404
            assert complaint_case["identity"] == {"name": reporter["reporter_name"], "contact": reporter["reporter_contact"]}
            history = http.get(f"/api/v1/employees/{employee.nip}/history", headers=mine).text
            assert employee.nik not in history and employee.email not in history  # redacted in event listings
    finally:
        # Stop first: logs are complete and Temporal's/PostgreSQL's files are settled. Then read them cold.
        stopped = stack.stop()

    secrets = [reporter["reporter_name"], reporter["reporter_contact"]]
    for e in employees:
        secrets += [e.nik or "", e.email or "", e.telepon or "", (e.telepon or "").replace("+62", "0", 1)]
    needles = _needles([s for s in secrets if s])
    assert stopped == 0

    stack.start()  # the same data folder again: the stores are read as they were left
    try:
        with psycopg.connect(_database_url(stack.data_dir)) as conn:
            rows = conn.execute("SELECT topic, state FROM asnflow_events").fetchall()
            # Every other table (views, tracking, audit chain) as text: none holds personal data at all.
            tables = [t for (t,) in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                " AND table_type = 'BASE TABLE' AND table_name <> 'asnflow_events'"
            ).fetchall()]
            views = b"".join(
                str(conn.execute(sql.SQL("SELECT coalesce(string_agg(t::text, '|'), '') FROM {} t").format(sql.Identifier(t))).fetchone()[0]).encode()  # type: ignore[index]
                for t in tables
            )
        assert {"employees", "audit_log", "complaints"} <= set(tables)
        assert _hits(views, needles) == []
        assert len(rows) > len(employees)  # the directory, the evaluation, the complaint
        raw_rows = b"".join(topic.encode() + bytes(state) for topic, state in rows)
        assert _hits(raw_rows, needles) == []
        assert not any(_is_json(bytes(state)) for _, state in rows)  # every row is ciphertext

        temporal, workflows = asyncio.run(_temporal_dump(stack.data_dir))
        assert workflows >= 2
        assert _hits(temporal, needles) == []
    finally:
        assert stack.stop() == 0

    logs = [*sorted((stack.data_dir / "logs").glob("*.log")), stack.log]
    assert len(logs) >= 4  # api, worker, projector, checkpoints and the supervisor's own
    for log in logs:
        assert _hits(log.read_bytes(), needles) == [], log.name
