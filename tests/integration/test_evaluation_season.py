"""The evaluation season over the real stack (dev server, worker, projector, PostgreSQL, API, CLI)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import EventStore, read_case
from asnflow.domain import performance
from asnflow.domain.calendar import JAKARTA
from asnflow.runtime.demo_org import demo_employees
from asnflow.runtime.settings import Settings
from tests.support import running_stack, ApiClient, api_client
from tests.workflows.test_evaluation_workflow import save_history

BKPSDM = "199104122019032001"
UNIT = "KEC-MERSAM"
YEAR = 2022
A, S, B = "DI_ATAS_EKSPEKTASI", "SESUAI_EKSPEKTASI", "DI_BAWAH_EKSPEKTASI"


@dataclass
class Stack:
    api: ApiClient
    settings: Settings
    store: EventStore
    client: Client


@pytest.fixture(scope="module")
async def stack(dev_server_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(dev_server_env.client, tmp_path_factory.mktemp("season"), "asnflow_eval", ["cases", "tasks", "evaluation"]) as (settings, store):
        async with api_client(settings) as api:
            yield Stack(api, settings, store, dev_server_env.client)


def rows(settings: Settings, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    with psycopg.connect(settings.database_url, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def season_cases(store: EventStore, case_id: str) -> dict[str, int]:
    batches = [s.event.payload for s in read_case(store, case_id) if type(s.event).__name__ == "SeasonCasesStarted"]
    return {"started": sum(b["started"] for b in batches), "existing": sum(b["existing"] for b in batches)}


async def closed(store: EventStore, case_id: str, tries: int = 600) -> None:
    for _ in range(tries):
        if any(type(s.event).__name__ == "CaseClosed" for s in await asyncio.to_thread(read_case, store, case_id)):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{case_id} never closed")


RATINGS = [{"hasil_kerja": A, "perilaku_kerja": A}] * 2 + [{"hasil_kerja": S, "perilaku_kerja": S}] * 5 + [{"hasil_kerja": B, "perilaku_kerja": S}]


def rating_for(nip: str, members: list[str]) -> dict[str, str]:
    """Two Sangat Baik, five Baik, one Butuh Perbaikan among the eight members (the head: Baik)."""
    return RATINGS[members.index(nip)] if nip in members else RATINGS[2]


async def drive_unit(stack: Stack, case_ids: list[str], members: list[str], calibration: str) -> None:
    """Decide every open task of the unit's cases and calibration through the API, as each assignee."""
    done: set[str] = set()
    for _ in range(600):
        open_rows = rows(
            stack.settings,
            "SELECT id, case_id, kind, assignee_nip, subject_nip FROM tasks WHERE status = 'open' AND (case_id = ANY(%s) OR case_id = %s)",
            [case_ids, calibration],
        )
        for t in open_rows:
            if t["id"] in done:
                continue
            kind, data, outcome = t["kind"], {}, {"SKP_DRAFT": "SUBMITTED", "SKP_AGREEMENT": "AGREED", "CHECK_IN": "RECORDED", "RATING": "SUBMITTED", "ORG_PREDICATE": "SET", "CALIBRATION": "CALIBRATED", "ACKNOWLEDGEMENT": "ACKNOWLEDGED"}[t["kind"]]
            if kind == "SKP_DRAFT":
                data = {"targets": [{"indikator": "Pelayanan administrasi kecamatan", "target": "100%"}]}
            elif kind == "SKP_AGREEMENT":
                data = {"expectations": ["Layanan tanpa keluhan"]}
            elif kind == "CHECK_IN":
                data = {"feedback": "Sesuai rencana"}
            elif kind == "RATING":
                data = rating_for(t["subject_nip"], members)
            elif kind == "ORG_PREDICATE":
                data = {"predicate": "BAIK"}
            elif kind == "CALIBRATION":
                data = {
                    "adjustments": [{"nip": members[0], "predicate": "BAIK", "justification": "Capaian setara rekan satu seksi"}],
                    "quota_justification": "Kecamatan kecil; enam pegawai memang sesuai ekspektasi",
                }
            r = await stack.api.post(f"/api/v1/tasks/{t['id']}/decision", t["assignee_nip"], json={"outcome": outcome, "data": data})
            assert r.status_code == 200, (t, r.text)
            done.add(t["id"])
        if all(r["status"] != "open" for r in rows(stack.settings, "SELECT status FROM cases WHERE id = ANY(%s)", [case_ids])) and len(
            rows(stack.settings, "SELECT id FROM cases WHERE id = ANY(%s)", [case_ids])
        ) == len(case_ids):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the unit's cases did not all close")


async def test_season_from_the_cli_twice_and_the_unit_distribution_matches_the_events(stack: Stack) -> None:
    env = {
        **os.environ, "ASNFLOW_DATABASE_URL": stack.settings.database_url, "ASNFLOW_TEMPORAL_ADDRESS": stack.settings.temporal_address,
        "ASNFLOW_TASK_QUEUE": stack.settings.task_queue, "ASNFLOW_DATA_DIR": str(stack.settings.data_dir),
        "ASNFLOW_DEV_MODE": "true",
    }
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "asnflow.runtime.cli", "evaluations", "season", str(YEAR)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    everyone = len(demo_employees())
    assert f"baru/started {everyone}, sudah ada/existing 0" in done.stderr.replace("\n", " "), done.stderr
    first = done.stderr.split("started: ")[1].split()[0] if "started: " in done.stderr else None
    assert first and first.startswith(f"evaluation-season-{YEAR}-")
    assert season_cases(stack.store, first) == {"started": everyone, "existing": 0}

    for _ in range(100):  # while the cases view still shows the first run open, a second request joins it
        if rows(stack.settings, "SELECT 1 FROM cases WHERE id = %s AND status = 'completed'", [first]):
            break
        await asyncio.sleep(0.1)
    r = await stack.api.post("/api/v1/evaluations/season", BKPSDM, json={"year": YEAR})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "starting"
    second = r.json()["id"]
    assert second != first
    await closed(stack.store, second)
    assert season_cases(stack.store, second) == {"started": 0, "existing": everyone}  # running it twice starts nothing twice
    await save_history(stack.client.get_workflow_handle(second), "evaluationseason-twice")
    r = await stack.api.post("/api/v1/evaluations/season", "199602102022031001", json={"year": YEAR})
    assert r.status_code == 403
    # Years nobody can act on are refused before anything starts: two years ahead, and before the first SKP year.
    for year in (datetime.now(JAKARTA).year + 2, 2021):
        r = await stack.api.post("/api/v1/evaluations/season", BKPSDM, json={"year": year})
        assert r.status_code == 422 and "year" in r.text, r.text
    assert not rows(stack.settings, "SELECT 1 FROM cases WHERE process = 'evaluation_season' AND data->>'year' <> %s", [str(YEAR)])

    unit = [e for e in demo_employees() if e.unit == UNIT]
    head = next(e.nip for e in unit if e.atasan_nip not in {u.nip for u in unit})
    members = [e.nip for e in unit if e.nip != head]
    case_ids = [f"evaluation-{YEAR}-{e.nip}" for e in unit]
    calibration = f"calibration-{YEAR}-{UNIT}"
    await drive_unit(stack, case_ids, members, calibration)

    # The view against the events: final predicates of the calibrated members, the organisation predicate, the quota.
    finals: list[str] = []
    for cid in case_ids:
        events = read_case(stack.store, cid)
        joined = [s.event.payload["calibration_case_id"] for s in events if type(s.event).__name__ == "CalibrationJoined"]
        final = [s.event.payload["final"] for s in events if type(s.event).__name__ == "EvaluationFinalised"]
        assert final, cid
        if joined and joined[-1]:
            finals.append(final[0])
    org = [s.event.payload["predicate"] for s in read_case(stack.store, calibration) if type(s.event).__name__ == "OrganisationPredicateSet"]
    expected = performance.distribution(finals)
    last = max(s.position for cid in [*case_ids, calibration] for s in read_case(stack.store, cid))
    r = await stack.api.get("/api/v1/evaluations/distribution", BKPSDM, params={"year": YEAR, "unit": UNIT, "min_position": last})
    assert r.status_code == 200, r.text
    view = r.json()["data"][0]
    assert view["counts"] == expected and view["total"] == len(members) == len(finals)
    assert view["org_predicate"] == org[0] == "BAIK"
    assert view["quota_violations"] == performance.quota_violations("BAIK", expected)
    assert view["within_quota"] is False and view["counts"]["BAIK"] == 6  # the calibrated result, justified, is what counts
    assert view["raw_counts"]["SANGAT_BAIK"] == 2 and view["counts"]["SANGAT_BAIK"] == 1

    r = await stack.api.get(f"/api/v1/evaluations/employees/{members[0]}/predicates", BKPSDM, params={"as_of_year": YEAR + 1})
    assert r.status_code == 200, r.text
    history = r.json()
    assert history["history"][0]["final"] == "BAIK" and history["history"][0]["raw"] == "SANGAT_BAIK"
    assert history["last_two"] == [{"year": YEAR, "predicate": "BAIK"}] and history["promotion_performance_ok"] is False  # one year only

    r = await stack.api.get("/api/v1/evaluations/waiting", BKPSDM, params={"year": YEAR, "limit": 1000})
    assert r.status_code == 200
    waiting = r.json()
    assert waiting["count"] == everyone - len(unit)
    assert not {c for c in case_ids} & {d["case_id"] for d in waiting["data"]}
    one = next(d for d in waiting["data"] if d["nip"] == "199602102022031001")
    assert one["waiting_on"] == {**one["waiting_on"], "via": "task", "kind": "SKP_DRAFT", "nip": "199602102022031001"}
    r = await stack.api.get("/api/v1/evaluations/waiting", "199602102022031001", params={"year": YEAR, "unit": UNIT})
    assert r.status_code == 403


async def test_cascade_evidence_and_transfer_over_http(stack: Stack) -> None:
    year = 2023
    boss, employee, head = "198306172008012001", "199602102022031001", "197811052005011001"
    r = await stack.api.post("/api/v1/evaluations", boss, json={"nip": boss, "year": year})
    assert r.status_code == 202
    boss_case = r.json()["id"]
    indicator = "Aplikasi layanan publik terintegrasi"
    await decide_open(stack, boss_case, "SKP_DRAFT", boss, "SUBMITTED", {"targets": [{"indikator": indicator, "target": "5 aplikasi"}]})
    await decide_open(stack, boss_case, "SKP_AGREEMENT", head, "AGREED", {"expectations": ["Integrasi selesai triwulan III"]})
    for _ in range(100):
        if rows(stack.settings, "SELECT 1 FROM evaluation_cases WHERE case_id = %s AND skp_agreed", [boss_case]):
            break
        await asyncio.sleep(0.1)

    r = await stack.api.post("/api/v1/evaluations", employee, json={"nip": employee, "year": year})
    assert r.status_code == 202
    case_id = r.json()["id"]
    task = await open_task(stack, case_id, "SKP_DRAFT")
    r = await stack.api.post(f"/api/v1/tasks/{task}/decision", employee, json={"outcome": "SUBMITTED", "data": {"targets": [{"indikator": "Server aktif", "target": "99%"}]}})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "targets"  # the superior's SKP is known: cascade from it
    r = await stack.api.post(
        f"/api/v1/tasks/{task}/decision", employee,
        json={"outcome": "SUBMITTED", "data": {"targets": [{"indikator": "Server aktif", "target": "99%", "cascaded_from": "Indikator lain"}]}},
    )
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "targets[0].cascaded_from"
    r = await stack.api.post(
        f"/api/v1/tasks/{task}/decision", employee,
        json={"outcome": "SUBMITTED", "data": {"targets": [{"indikator": "Server aktif", "target": "99%", "cascaded_from": indicator}]}},
    )
    assert r.status_code == 200, r.text

    content = b"%PDF-1.4 notulen rapat koordinasi"
    r = await stack.api.post(
        f"/api/v1/evaluations/{case_id}/evidence", employee,
        json={"filename": "notulen.pdf", "content_base64": base64.b64encode(content).decode(), "size_bytes": len(content)},
    )
    assert r.status_code == 200, r.text
    stored = [s.event.payload for s in read_case(stack.store, case_id) if type(s.event).__name__ == "EvidenceRecorded"]
    assert stored[0]["sha256"] == hashlib.sha256(content).hexdigest() and "notulen rapat" not in str(stored)
    r = await stack.api.post(f"/api/v1/evaluations/{case_id}/evidence", employee, json={"filename": "x.pdf", "content_base64": "%%%"})
    assert r.status_code == 422
    r = await stack.api.post(f"/api/v1/evaluations/{case_id}/evidence", "198502142009022001", json={"filename": "x.pdf", "sha256": "c" * 64})
    assert r.status_code == 403
    r = await stack.api.post(f"/api/v1/evaluations/{case_id}/transfer", employee, json={"effective_date": f"{year}-05-01"})
    assert r.status_code == 403
    r = await stack.api.post(f"/api/v1/evaluations/{case_id}/transfer", BKPSDM, json={"effective_date": f"{year - 1}-05-01"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "effective_date"


async def open_task(stack: Stack, case_id: str, kind: str) -> str:
    for _ in range(300):
        found = rows(stack.settings, "SELECT id FROM tasks WHERE case_id = %s AND kind = %s AND status = 'open'", [case_id, kind])
        if found:
            return found[0]["id"]  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no open {kind} on {case_id}")


async def decide_open(stack: Stack, case_id: str, kind: str, nip: str, outcome: str, data: dict[str, Any]) -> None:
    task = await open_task(stack, case_id, kind)
    r = await stack.api.post(f"/api/v1/tasks/{task}/decision", nip, json={"outcome": outcome, "data": data})
    assert r.status_code == 200, r.text
