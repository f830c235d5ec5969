"""The inbox's JSON, written by PostgreSQL, is the value the response model gives for the same rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from asnflow.api.auth import User
from asnflow.api.routes.tasks import TASK_COLUMNS, InboxTaskPublic, own
from asnflow.projections.runner import ensure_tables
from asnflow.runtime.demo_org import demo_person
from tests.support import api_client, demo_units_seed, make_settings, prepare_database

HEAD = "197811052005011001"  # Kepala DISKOMINFO (KEPALA_OPD, ATASAN)
ACTING = "198609222011102001"  # the head's Plh in this test
STAFF = "199205052018102001"
OTHER = "198705202018041001"
ADMIN = "198502142009022001"
DELEGATION = "dlg-inbox-json"
NOW = datetime.now(UTC).replace(microsecond=0)
# Titles a person may type: quotes, backslashes, control characters, non-Latin script.
ODD_TITLE = 'Tinjau "SKP" \\ tahunan\u0001\n\tcatatan — ꦗꦮ é 🙂'


def task(id: str, **columns: Any) -> dict[str, Any]:
    return {
        "id": id, "case_id": id.rsplit(".", 1)[0], "process": "evaluation", "kind": "SKP_AGREEMENT", "title": f"Tugas {id}",
        "status": "open", "assignee_nip": None, "candidate_role": None, "unit": "DISKOMINFO", "subject_nip": STAFF,
        "due_at": None, "opened_at": NOW - timedelta(days=30), "outcomes": ["AGREED", "RETURNED"], "claimed_by": None,
        "outcome": None, "decided_by": None, "closed_at": None, "escalation_level": 0, "last_reminded_at": None, **columns,
    }


TASKS = [
    task("c1.t1", assignee_nip=HEAD, title=ODD_TITLE, due_at=NOW - timedelta(days=2)),  # late; whole seconds
    task("c2.t1", assignee_nip=HEAD, due_at=NOW + timedelta(days=3, microseconds=120000)),  # trailing zeros in the fraction
    task("c3.t1", assignee_nip=HEAD, due_at=None, outcomes=[]),  # no due date: never late
    task("c4.t1", candidate_role="KEPALA_OPD", due_at=NOW + timedelta(days=1, microseconds=654321)),  # the head's pool
    task("c5.t1", candidate_role="KEPALA_OPD", status="claimed", claimed_by=HEAD, due_at=NOW - timedelta(hours=5)),
    task("c6.t1", candidate_role="KEPALA_OPD", subject_nip=HEAD, due_at=NOW),  # on the head's own case: not in his pool
    task("c7.t1", assignee_nip=HEAD, status="done", outcome="AGREED", decided_by=HEAD, due_at=NOW - timedelta(days=9),
         closed_at=NOW - timedelta(days=8, microseconds=1), escalation_level=2, last_reminded_at=NOW - timedelta(days=8, hours=3)),
    task("c8.t1", assignee_nip=ACTING, due_at=NOW + timedelta(days=5)),  # the Plh's own task
    task("c9.t1", assignee_nip=OTHER, unit="DISKOMINFO", due_at=NOW + timedelta(days=2)),  # nobody's here but OTHER's
]
REQUESTS = [
    {}, {"scope": "mine"}, {"scope": "pool"}, {"scope": "delegated"}, {"status": "any"}, {"status": "done"}, {"status": "claimed"},
    {"overdue": "true"}, {"overdue": "false"}, {"kind": "SKP_AGREEMENT", "process": "evaluation"}, {"limit": 2},
    {"limit": 2, "offset": 2}, {"offset": 50}, {"case_id": "c1"},
]


def insert(url: str, timezone: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} SET timezone = {}").format(sql.Identifier(conn.info.dbname), sql.Literal(timezone)))
        for t in TASKS:
            columns = {**t, "outcomes": Jsonb(t["outcomes"]), "tenant": "batanghari", "updated_position": 1}
            conn.execute(
                sql.SQL("INSERT INTO tasks ({}) VALUES ({})").format(
                    sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(sql.Placeholder() * len(columns))
                ),
                list(columns.values()),
            )
        head = demo_person(HEAD)
        assert head is not None
        conn.execute(
            "INSERT INTO delegations (id, type, principal_nip, principal_roles, principal_unit, acting_nip, processes, kinds,"
            " starts_at, ends_at, status, granted_at, updated_position, tenant)"
            " VALUES (%s, 'PLH', %s, %s, 'DISKOMINFO', %s, '[]', '[]', %s, %s, 'active', %s, 1, 'batanghari')",
            [DELEGATION, HEAD, Jsonb(head["roles"]), ACTING, NOW - timedelta(days=1), NOW + timedelta(days=1), NOW - timedelta(days=1)],
        )


def expected(url: str, nip: str, items: list[dict[str, Any]]) -> list[Any]:
    """The items as the response model writes the same rows (read in the same session time zone)."""
    person = demo_person(nip)
    assert person is not None
    caller = User(nip=nip, roles=list(person["roles"]), unit=person["unit"])
    with psycopg.connect(url, row_factory=dict_row) as conn:
        rows = {
            r["id"]: r
            for r in conn.execute(
                f"SELECT {TASK_COLUMNS}, t.escalation_level, t.last_reminded_at FROM tasks t WHERE t.id = ANY(%s)",  # noqa: S608
                [[i["id"] for i in items]],
            ).fetchall()
        }
    out = []
    for item in items:
        row = rows[item["id"]]
        delegated = nip == ACTING and not own(caller, row)
        model = InboxTaskPublic.model_validate(
            {**row, "overdue": bool(row["overdue"]), "on_behalf_of": HEAD if delegated else None,
             "delegation_id": DELEGATION if delegated else None}
        )
        out.append(json.loads(model.model_dump_json()))
    return out


@pytest.mark.parametrize("timezone", ["UTC", "Asia/Jakarta"])
async def test_the_inbox_json_is_the_models_for_the_same_rows(fresh_database_url: str, tmp_path: Path, timezone: str) -> None:
    settings = make_settings(fresh_database_url, tmp_path)
    prepare_database(settings, demo_units_seed("DISKOMINFO"))
    insert(fresh_database_url, timezone)
    seen: dict[str, set[str]] = {}
    async with api_client(settings) as api:
        for nip in (HEAD, ACTING, STAFF, OTHER, ADMIN):
            for params in [*REQUESTS, *([{"scope": "all"}, {"scope": "all", "status": "any"}] if nip == ADMIN else [])]:
                r = await api.get("/api/v1/tasks", nip, params=params)
                assert r.status_code == 200, (nip, params, r.text)
                body = r.json()
                assert set(body) == {"data", "count"} and body["count"] >= len(body["data"]), body
                assert body["data"] == expected(fresh_database_url, nip, body["data"]), (nip, params)
                seen.setdefault(nip, set()).update(i["id"] for i in body["data"])
                if timezone != "UTC" and body["data"]:
                    assert body["data"][0]["opened_at"].endswith("+07:00"), body["data"][0]
    # What each person's inbox holds (mine, claimed, my role's pool, delegated to me), across every request above.
    assert seen[HEAD] == {"c1.t1", "c2.t1", "c3.t1", "c4.t1", "c5.t1", "c7.t1"}
    assert seen[ACTING] == {"c1.t1", "c2.t1", "c3.t1", "c4.t1", "c5.t1", "c7.t1", "c8.t1"}
    assert seen[OTHER] == {"c9.t1"}
    assert seen[STAFF] == set()  # the subject of tasks, never their approver
    assert {"c6.t1", "c9.t1"} <= seen[ADMIN]


async def test_the_inbox_counts_and_orders_as_documented(fresh_database_url: str, tmp_path: Path) -> None:
    settings = make_settings(fresh_database_url, tmp_path)
    prepare_database(settings, demo_units_seed("DISKOMINFO"))
    insert(fresh_database_url, "UTC")
    async with api_client(settings) as api:
        body = (await api.get("/api/v1/tasks", HEAD)).json()
        # Late first, then by due date; a task without a due date sorts first among the active ones (overdue NULL).
        assert [i["id"] for i in body["data"]] == ["c3.t1", "c1.t1", "c5.t1", "c4.t1", "c2.t1"] and body["count"] == 5
        assert [i["overdue"] for i in body["data"]] == [False, True, True, False, False]
        page = (await api.get("/api/v1/tasks", HEAD, params={"limit": 2, "offset": 2})).json()
        assert [i["id"] for i in page["data"]] == ["c5.t1", "c4.t1"] and page["count"] == 5
        past = (await api.get("/api/v1/tasks", HEAD, params={"offset": 50})).json()
        assert past == {"data": [], "count": 0}
        acting = (await api.get("/api/v1/tasks", ACTING, params={"scope": "delegated"})).json()
        assert {(i["id"], i["on_behalf_of"], i["delegation_id"]) for i in acting["data"]} == {
            ("c1.t1", HEAD, DELEGATION), ("c2.t1", HEAD, DELEGATION), ("c3.t1", HEAD, DELEGATION), ("c4.t1", HEAD, DELEGATION),
            ("c5.t1", HEAD, DELEGATION),
        }
        odd = next(i for i in (await api.get("/api/v1/tasks", HEAD, params={"case_id": "c1"})).json()["data"])
        assert odd["title"] == ODD_TITLE


async def test_a_tasks_view_from_before_the_counts_gets_them_counted(fresh_database_url: str, tmp_path: Path) -> None:
    settings = make_settings(fresh_database_url, tmp_path)
    prepare_database(settings, demo_units_seed("DISKOMINFO"))
    insert(fresh_database_url, "UTC")
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:  # a database of the release before
        for op in ("insert", "update", "delete"):
            conn.execute(f"DROP TRIGGER tasks_counted_{op} ON tasks")
        conn.execute("DELETE FROM task_counts")
    ensure_tables(settings.store_env(), ["tasks"])  # what the projector and the API run when they start
    with psycopg.connect(fresh_database_url) as conn:
        counts = conn.execute("SELECT assignee_nip, n FROM task_counts WHERE n <> 0 ORDER BY 1").fetchall()
        conn.execute("UPDATE tasks SET status = 'done' WHERE id = 'c2.t1'")  # the triggers are back
        after = conn.execute("SELECT n FROM task_counts WHERE assignee_nip = %s", [HEAD]).fetchone()
    assert counts == [(HEAD, 3), (ACTING, 1), (OTHER, 1)] and after == (2,)
    async with api_client(settings) as api:
        assert (await api.get("/api/v1/tasks", HEAD)).json()["count"] == 4
