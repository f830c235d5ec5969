"""Complaints over the real stack in this process: public intake to resolution, identities, roles, abuse limits."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import EventStore, max_position, read_case
from asnflow.api.app import create_app
from asnflow.domain import complaints as cp
from asnflow.projections.runner import run_projector
from asnflow.projections.views import PROJECTIONS
from asnflow.runtime import demo_org
from asnflow.runtime.settings import Settings
from asnflow.runtime.worker import build_worker
from tests.support import client_address, make_settings, pdf_bytes, prepare_database, token_for

MANAGER = "199302122018021001"  # PENGELOLA_PENGADUAN, Diskominfo
LIAISON = "199608242023082001"  # PENGHUBUNG_PENGADUAN, Diskominfo
OTHER_LIAISON = "199407222024092001"  # PENGHUBUNG_PENGADUAN, DPMPTSP
ASN = demo_org.PEGAWAI_NIP  # Bayu Saputra, Diskominfo
APPRAISER = demo_org.KABID_APTIKA_NIP  # his direct superior
COLLEAGUE = "199501262022122001"  # same superior, plain PEGAWAI
REPORTER = {"reporter_name": "Sulastri Binti Amran", "reporter_contact": "sulastri.amran@contoh.id"}


@dataclass
class Stack:
    settings: Settings
    store: EventStore
    client: Callable[[str], httpx.AsyncClient]

    def auth(self, nip: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(self.settings, nip)}"}


@pytest.fixture(scope="module")
async def stack(dev_server_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    from tests.conftest import create_database, drop_database

    url = create_database("asnflow_cp")
    settings = make_settings(url, tmp_path_factory.mktemp("cp"), client_address(dev_server_env.client))
    prepare_database(settings)
    store = EventStore(env=settings.store_env())
    stop = threading.Event()
    # The views these tests read: fewer runners hold fewer connections on a shared server.
    views = ["employees", "cases", "tasks", "complaints", "evaluation", "delegations"]
    projector = threading.Thread(target=run_projector, args=(settings.store_env(), views, stop), daemon=True)
    projector.start()
    app = create_app(settings)
    try:
        async with AsyncExitStack() as exits:
            executor = exits.enter_context(ThreadPoolExecutor(8))
            await exits.enter_async_context(build_worker(dev_server_env.client, settings, store, executor))
            await exits.enter_async_context(app.router.lifespan_context(app))

            def client(ip: str) -> httpx.AsyncClient:
                # Each client address has its own rate-limit buckets.
                transport = httpx.ASGITransport(app=app, client=(ip, 40000))
                return httpx.AsyncClient(transport=transport, base_url="http://asnflow.test")

            yield Stack(settings, store, client)
    finally:
        stop.set()
        projector.join(timeout=10)
        store.close()
        drop_database(url)


def report(**overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "PENGADUAN",
        "unit": "DISKOMINFO",
        "description": f"Permohonan akun layanan daring tidak diproses dua minggu. Ref {uuid.uuid4()}",
        "anonymous": False,
        **REPORTER,
        "attachments": [],
    }
    body.update(overrides)
    return body


async def until(check: Callable[[], Any], what: str) -> Any:
    for _ in range(200):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def open_task(stack: Stack, http: httpx.AsyncClient, nip: str, case_id: str, kind: str) -> dict[str, Any]:
    async def find() -> dict[str, Any] | None:
        r = await http.get("/api/v1/tasks", params={"case_id": case_id}, headers=stack.auth(nip))
        assert r.status_code == 200, r.text
        return next((t for t in r.json()["data"] if t["kind"] == kind and t["status"] == "open"), None)

    return await until(find, f"{kind} in the inbox of {nip}")  # type: ignore[no-any-return]


def bilingual(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["message_id"] and body["message_en"] and body["message_id"] != body["message_en"]
    return body  # type: ignore[no-any-return]


async def test_bad_input_is_refused_in_both_languages_and_records_nothing(stack: Stack) -> None:
    async with stack.client("198.51.100.1") as http:
        before = max_position(stack.store)
        body = bilingual(await http.post("/api/v1/complaints", json={}), 422)
        assert {"kind", "unit", "description", "reporter_name"} <= {p["field"] for p in body["problems"]}
        assert all(p["id"] and p["en"] for p in body["problems"])
        r = await http.post("/api/v1/complaints", json={}, headers={"Accept-Language": "en"})
        assert r.json()["message"] == r.json()["message_en"]
        body = bilingual(await http.post("/api/v1/complaints", json=report(anonymous=True)), 422)
        assert body["problems"][0]["field"] == "anonymous"
        body = bilingual(
            await http.post(
                "/api/v1/complaints",
                json=report(attachments=[{"name": "run.exe", "sha256": "00" * 32, "size": 10}, {"name": "x.pdf", "sha256": "zz", "size": 11 * 2**20}]),
            ),
            422,
        )
        assert {p["field"] for p in body["problems"]} == {"attachments.0.name", "attachments.1.size", "attachments.1.sha256"}
        body = bilingual(await http.post("/api/v1/complaints", json=report(asn_nip="199001012015011999")), 422)
        assert body["problems"][0]["field"] == "asn_nip"
        r = await http.post("/api/v1/complaints", content=b'{"description": "' + b"x" * 40_000 + b'"}', headers={"Content-Type": "application/json"})
        bilingual(r, 413)

        bilingual(await http.get("/api/v1/complaints/LPR-0000"), 422)
        bilingual(await http.get("/api/v1/complaints/LPR-0000-0000-0000"), 404)
        bilingual(await http.post("/api/v1/complaints/LPR-0000-0000-0000/responses", json={"message": "halo"}), 404)
        assert max_position(stack.store) == before


async def test_a_flood_from_one_client_is_slowed_not_crashed(stack: Stack) -> None:
    async with stack.client("203.0.113.9") as flood, stack.client("203.0.113.10") as other:
        statuses = [(await flood.post("/api/v1/complaints", json={})).status_code for _ in range(12)]
        assert statuses[:5] == [422] * 5 and set(statuses[5:]) == {429}
        r = await flood.post("/api/v1/complaints", json={})
        body = bilingual(r, 429)
        assert int(r.headers["Retry-After"]) >= 1 and "detik" in body["message_id"]
        assert (await other.post("/api/v1/complaints", json={})).status_code == 422  # others are not slowed
        assert (await flood.get("/api/v1/complaints/metrics")).status_code == 200  # reading is a separate budget


async def test_public_intake_to_resolution_with_identities_kept_to_managers(stack: Stack) -> None:
    async with stack.client("192.0.2.20") as citizen, stack.client("10.1.1.1") as staff:
        # An attachment uploaded ahead of a JSON report, named in it by its hash.
        r = await citizen.post("/api/v1/complaints/attachments", files={"file": ("bukti.pdf", pdf_bytes("antrean"), "application/pdf")})
        assert r.status_code == 201, r.text
        uploaded = r.json()
        attachment = {k: uploaded[k] for k in ("name", "sha256", "size")}
        r = await citizen.post("/api/v1/complaints", json=report(asn_nip=ASN, attachments=[attachment]))
        assert r.status_code == 202, r.text
        code = r.json()["code"]
        assert cp.normalise_code(code) == code
        case_id = cp.case_id_for_code(code)
        dup = await citizen.post("/api/v1/complaints", json={**report(asn_nip=ASN), "description": (await track(citizen, code))["description"]})
        bilingual(dup, 409)

        status = await track(citizen, code.lower().replace("-", " - "))  # forgiving about case and spaces
        assert status["stage"] == "verification" and status["due"]["verification"] and status["attachments"] == 1
        public = (await citizen.get(f"/api/v1/complaints/{code}")).text
        for secret in (*REPORTER.values(), ASN):
            assert secret not in public

        async def managed(nip: str) -> httpx.Response:
            return await staff.get(f"/api/v1/complaints/manage/{case_id}", headers=stack.auth(nip))

        r = await managed(MANAGER)
        assert r.status_code == 200, r.text
        assert r.json()["identity"] == {"name": REPORTER["reporter_name"], "contact": REPORTER["reporter_contact"]}
        for nip in (LIAISON, demo_org.AUDITOR_NIP, demo_org.ADMIN_NIP):
            r = await managed(nip)
            assert r.status_code == 200 and r.json()["identity"] is None
            assert REPORTER["reporter_name"] not in r.text and REPORTER["reporter_contact"] not in r.text
        assert (await managed(OTHER_LIAISON)).status_code == 404  # another agency's liaison
        bilingual(await managed(ASN), 403)
        bilingual(await staff.get("/api/v1/complaints/manage", headers=stack.auth(COLLEAGUE)), 403)
        r = await staff.get(f"/api/v1/cases/{case_id}/events", headers=stack.auth(demo_org.AUDITOR_NIP))
        assert r.status_code == 200 and r.json()["chain_intact"]
        assert REPORTER["reporter_name"] not in r.text and REPORTER["reporter_contact"] not in r.text  # sealed in the store

        verify = await open_task(stack, staff, MANAGER, case_id, "COMPLAINT_VERIFICATION")
        bilingual(await staff.post(f"/api/v1/tasks/{verify['id']}/decision", json={"outcome": "VERIFIED", "reason": "ok"}, headers=stack.auth(LIAISON)), 403)
        body = bilingual(await staff.post(f"/api/v1/tasks/{verify['id']}/decision", json={"outcome": "VERIFIED"}, headers=stack.auth(MANAGER)), 422)
        assert body["problems"][0]["field"] == "reason"
        r = await staff.post(
            f"/api/v1/tasks/{verify['id']}/decision", json={"outcome": "VERIFIED", "reason": "Lengkap; wewenang Diskominfo"},
            headers=stack.auth(MANAGER),
        )
        assert r.status_code == 200, r.text

        # Evidence for the appraiser and the ASN; nobody else.
        async def evidence(caller: str, **params: str) -> httpx.Response:
            return await staff.get("/api/v1/complaints/evidence", params=params, headers=stack.auth(caller))

        async def appraiser_sees() -> list[dict[str, Any]]:
            return [e for e in (await evidence(APPRAISER)).json()["data"] if e["case_id"] == case_id]

        item = (await until(appraiser_sees, "evidence for the appraiser"))[0]
        assert item["asn_nip"] == ASN and item["appraiser_nip"] == APPRAISER and "identity" not in item
        assert REPORTER["reporter_name"] not in (await evidence(APPRAISER)).text
        assert [e["case_id"] for e in (await evidence(ASN)).json()["data"]] == [case_id]
        bilingual(await evidence(COLLEAGUE, nip=ASN), 403)
        assert (await evidence(COLLEAGUE)).json()["data"] == []

        answer = await open_task(stack, staff, ASN, case_id, "COMPLAINT_ASN_RESPONSE")
        r = await staff.post(
            f"/api/v1/tasks/{answer['id']}/decision", json={"outcome": "RESPONDED", "data": {"response": "Server antrean sempat mati."}},
            headers=stack.auth(ASN),
        )
        assert r.status_code == 200, r.text

        plan = await open_task(stack, staff, LIAISON, case_id, "COMPLAINT_FOLLOW_UP")
        bilingual(await staff.post(f"/api/v1/tasks/{plan['id']}/decision", json={"outcome": "PLAN_POSTED", "data": {"text": "x"}}, headers=stack.auth(LIAISON)), 422)
        r = await staff.post(
            f"/api/v1/tasks/{plan['id']}/decision", json={"outcome": "RESOLVED", "data": {"text": "Akun sudah diaktifkan; antrean diperbaiki."}},
            headers=stack.auth(LIAISON),
        )
        assert r.status_code == 200, r.text

        async def awaiting() -> dict[str, Any] | None:
            s = await poll(stack, code)
            return s if s["stage"] == "awaiting_reply" else None

        status = await until(awaiting, "the follow-up on the status page")
        assert status["follow_ups"][0]["text"].startswith("Akun sudah diaktifkan") and status["can_respond"]
        body = bilingual(await citizen.post(f"/api/v1/complaints/{code}/responses", json={"message": ""}), 422)
        r = await citizen.post(f"/api/v1/complaints/{code}/responses", json={"message": "Terima kasih, sudah bisa.", "satisfied": True})
        assert r.status_code == 200, r.text

        async def closed() -> dict[str, Any] | None:
            s = await poll(stack, code)
            return s if s["stage"] == "closed" else None

        status = await until(closed, "the report closed")
        assert status["closure"] == "resolved" and not status["breaches"]
        bilingual(await citizen.post(f"/api/v1/complaints/{code}/responses", json={"message": "lagi"}), 409)
        item = (await appraiser_sees())[0]
        assert item["asn_response"] == "Server antrean sempat mati." and item["closure"] == "resolved"

        async def counted() -> dict[str, Any] | None:
            async with stack.client("10.9.9.9") as reader:
                units = {u["unit"]: u for u in (await reader.get("/api/v1/complaints/metrics")).json()["units"]}
            unit = units.get("DISKOMINFO")
            return unit if unit and unit["median_days_to_resolution"] is not None else None

        unit = await until(counted, "the metrics count the report")
        # Filed, followed up and resolved within minutes (a day, should the test cross midnight in WIB).
        assert unit["by_kind"]["PENGADUAN"] >= 1 and unit["median_working_days_to_follow_up"] in (0.0, 1.0)
        assert unit["median_days_to_resolution"] in (0.0, 1.0) and unit["share_within_service_levels"] == 1.0
        metrics = (await citizen.get("/api/v1/complaints/metrics")).text
        for secret in (*REPORTER.values(), ASN, code, case_id, "Akun sudah"):
            assert secret not in metrics

        # The verified complaint is evidence inside the appraiser's RATING task of the ASN's evaluation.
        rating = await rating_task(stack, staff)
        r = await staff.get(f"/api/v1/tasks/{rating['id']}", headers=stack.auth(APPRAISER))
        assert r.status_code == 200, r.text
        context = r.json()["context"]
        found = [e for e in context["complaint_evidence"] if e["case_id"] == case_id]
        assert found and found[0]["asn_response"] == "Server antrean sempat mati." and context["complaint_evidence_note"]["en"]
        assert REPORTER["reporter_name"] not in r.text and "identity" not in found[0]
        inbox = (await staff.get("/api/v1/tasks", params={"case_id": rating["case_id"]}, headers=stack.auth(APPRAISER))).json()
        assert all(t.get("context") is None for t in inbox["data"])  # only the one-task read carries it


async def rating_task(stack: Stack, http: httpx.AsyncClient) -> dict[str, Any]:
    """The ASN's 2024 evaluation driven to its RATING task (a past year: each step follows at once).

    2024: the dev server is shared by the session; test_api, test_evaluation_season and others start
    this ASN's cases for 2022, 2023 and 2025–2027.
    """
    r = await http.post("/api/v1/evaluations", json={"nip": ASN, "year": 2024}, headers=stack.auth(ASN))
    assert r.status_code == 202, r.text
    case_id = r.json()["id"]
    steps = {"SKP_DRAFT": (ASN, "SUBMITTED", {"targets": [{"indikator": "Layanan akun daring", "target": "100%"}]}),
             "SKP_AGREEMENT": (APPRAISER, "AGREED", {}), "CHECK_IN": (APPRAISER, "DONE", {"feedback": "Sesuai rencana"})}
    for _ in range(20):
        async def next_task() -> dict[str, Any] | None:
            for nip in (ASN, APPRAISER):
                r = await http.get("/api/v1/tasks", params={"case_id": case_id}, headers=stack.auth(nip))
                found = [t for t in r.json()["data"] if t["status"] == "open"]
                if found:
                    return found[0]
            return None

        task = await until(next_task, "the next evaluation task")
        if task["kind"] == "RATING":
            return task
        nip, outcome, data = steps[task["kind"]]
        outcome = outcome if outcome in task["outcomes"] else task["outcomes"][0]
        r = await http.post(f"/api/v1/tasks/{task['id']}/decision", json={"outcome": outcome, "reason": "ok", "data": data}, headers=stack.auth(nip))
        assert r.status_code == 200, r.text
        await until(lambda: _closed(http, stack, nip, task["id"]), f"{task['kind']} decided")
    raise AssertionError("no RATING task")


async def _closed(http: httpx.AsyncClient, stack: Stack, nip: str, task_id: str) -> bool:
    r = await http.get(f"/api/v1/tasks/{task_id}", headers=stack.auth(nip))
    return r.status_code == 200 and r.json()["status"] == "done"


async def track(http: httpx.AsyncClient, code: str) -> dict[str, Any]:
    r = await http.get(f"/api/v1/complaints/{code}")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def poll(stack: Stack, code: str) -> dict[str, Any]:
    """Polling is many reads: each from its own address, so the test never meets the read limit."""
    async with stack.client(f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}") as http:
        return await track(http, code)


async def test_public_pages_file_track_and_show_figures(stack: Stack) -> None:
    async with stack.client("192.0.2.77") as browser:
        form = await browser.get("/pengaduan")
        assert form.status_code == 200 and 'lang="id"' in form.text
        for field in ("kind", "unit", "description", "asn_nip", "anonymous", "reporter_name", "reporter_contact", "attachments"):
            assert f'<label for="{field}"' in form.text or f'for="{field}"' in form.text, field
        assert "Kirim laporan" in form.text and 'lang="en"' in form.text
        r = await browser.post("/api/v1/complaints", json=report(anonymous=True, reporter_name=None, reporter_contact=None, kind="ASPIRASI"))
        code = r.json()["code"]
        page = await browser.post("/pengaduan/lacak", content=f"code={code}", headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert page.status_code == 200 and code in page.text and "Menunggu verifikasi" in page.text and "Awaiting verification" in page.text
        assert "Aspirasi" in page.text
        page = await browser.post("/pengaduan/lacak", content="code=LPR-0000-0000-0000", headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert page.status_code == 200 and "Kode pelacakan tidak dikenal" in page.text and 'role="alert"' in page.text
        stats = await browser.get("/pengaduan/statistik")
        assert stats.status_code == 200 and "Dinas Komunikasi dan Informatika" in stats.text and "<th scope=\"col\">" in stats.text


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
EXE = b"MZ\x90\x00" + b"\x00" * 60


def sql(stack: Stack, statement: str, params: list[Any] | None = None) -> Any:
    """One statement on the store's pooled connection (a shared server has few connections to spare)."""
    with stack.store.recorder.datastore.get_connection() as conn, conn.cursor() as curs:  # type: ignore[attr-defined]
        curs.execute(statement, params or [])
        row = curs.fetchone() if curs.description else None
        conn.commit()
    return row


async def documents_count(stack: Stack) -> int:
    exists = sql(stack, "SELECT to_regclass('documents') IS NOT NULL AS e")
    if not (exists["e"] if isinstance(exists, dict) else exists[0]):
        return 0  # created with the first stored file
    row = sql(stack, "SELECT count(*) AS n FROM documents")
    return int(row["n"] if isinstance(row, dict) else row[0])


def multipart_fields(**overrides: Any) -> dict[str, str]:
    body = {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in report(**overrides).items() if k != "attachments" and v is not None}
    return body


async def test_files_come_with_the_report_are_typed_by_content_and_read_only_by_staff(stack: Stack) -> None:
    pdf = pdf_bytes(f"kwitansi {uuid.uuid4()}")
    fields = multipart_fields(asn_nip=ASN)
    async with stack.client("192.0.2.40") as citizen, stack.client("10.2.2.2") as staff:
        before, stored = max_position(stack.store), await documents_count(stack)
        # Declared types are ignored: an executable called .pdf is refused by its content, a PDF called .png by its name.
        for files, field in (
            ([("attachments", ("bukti.pdf", EXE, "application/pdf"))], "attachments.0"),
            ([("attachments", ("foto.png", pdf, "image/png"))], "attachments.0"),
            ([("attachments", (f"f{i}.pdf", pdf_bytes(str(i)), "application/pdf")) for i in range(6)], "attachments"),
            ([("attachments", ("a.pdf", pdf, "application/pdf")), ("attachments", ("b.pdf", pdf, "application/pdf"))], "attachments"),
        ):
            async with stack.client(f"192.0.2.{41 + len(files)}") as sender:  # each its own rate budget
                body = bilingual(await sender.post("/api/v1/complaints", data=fields, files=files), 422)
            assert field in {p["field"] for p in body["problems"]}, body
        body = bilingual(await citizen.post("/api/v1/complaints/attachments", files={"file": ("besar.pdf", b"%PDF-" + b"0" * (10 * 2**20), "application/pdf")}), 422)
        assert "10 MB" in body["message_id"]
        assert max_position(stack.store) == before and await documents_count(stack) == stored  # nothing recorded, nothing stored

        files = [("attachments", ("kwitansi.pdf", pdf, "application/octet-stream")), ("attachments", ("../../foto loket.png", PNG, "text/plain"))]
        r = await citizen.post("/api/v1/complaints", data=fields, files=files)
        assert r.status_code == 202, r.text
        code = r.json()["code"]
        case_id = cp.case_id_for_code(code)
        again = await citizen.post("/api/v1/complaints", data=fields, files=files)
        bilingual(again, 409)  # the same report again: duplicate detection

        filed = [s.event.payload for s in read_case(stack.store, case_id) if type(s.event).__name__ == "ComplaintFiled"][0]
        assert filed["attachments"] == [
            {"name": "kwitansi.pdf", "sha256": hashlib.sha256(pdf).hexdigest(), "size": len(pdf), "media_type": "application/pdf"},
            {"name": "foto loket.png", "sha256": hashlib.sha256(PNG).hexdigest(), "size": len(PNG), "media_type": "image/png"},
        ]
        digest = filed["attachments"][0]["sha256"]

        async def get(nip: str | None) -> httpx.Response:
            return await staff.get(f"/api/v1/documents/{digest}", headers=stack.auth(nip) if nip else {})

        await until(lambda: _managed(staff, stack, case_id), "the report in the managers' view")
        r = await get(MANAGER)
        assert r.status_code == 200 and r.content == pdf and r.headers["content-type"] == "application/pdf"
        assert r.headers["content-disposition"].startswith("attachment;")
        assert (await get(LIAISON)).status_code == 200  # the agency's liaison
        for nip in (OTHER_LIAISON, COLLEAGUE, ASN):
            bilingual(await get(nip), 403)
        assert (await get(None)).status_code == 401
        bilingual(await staff.get(f"/api/v1/documents/{'0' * 64}", headers=stack.auth(MANAGER)), 404)

        # A stored file whose bytes no longer match its hash is refused: for reading and for naming in a report.
        sql(stack, "UPDATE documents SET content = %s WHERE sha256 = %s", [pdf + b"tampered", digest])
        bilingual(await get(MANAGER), 409)
        body = report(description=f"Lampiran yang sama untuk laporan lain {uuid.uuid4()}", attachments=[{"name": "kwitansi.pdf", "sha256": digest, "size": len(pdf)}])
        bilingual(await citizen.post("/api/v1/complaints", json=body), 409)
        png = filed["attachments"][1]
        body = report(description=f"Ukuran lampiran salah {uuid.uuid4()}", attachments=[{"name": "x.png", "sha256": png["sha256"], "size": 1}])
        assert bilingual(await citizen.post("/api/v1/complaints", json=body), 422)["problems"][0]["field"] == "attachments.0"
        body["attachments"] = [{"name": "x.png", "sha256": "ab" * 32, "size": 10}]
        assert "unggah" in bilingual(await citizen.post("/api/v1/complaints", json=body), 422)["message_id"]
        # Uploading the original again repairs the stored copy.
        async with stack.client("192.0.2.60") as uploader:
            r = await uploader.post("/api/v1/complaints/attachments", files={"file": ("kwitansi.pdf", pdf, "application/pdf")})
        assert r.status_code == 201 and r.json()["sha256"] == digest and not r.json()["new"]
        assert (await get(MANAGER)).content == pdf


async def _managed(http: httpx.AsyncClient, stack: Stack, case_id: str) -> bool:
    r = await http.get(f"/api/v1/complaints/manage/{case_id}", headers=stack.auth(MANAGER))
    return r.status_code == 200


async def test_the_staff_desk_page(stack: Stack) -> None:
    async with stack.client("10.3.3.3") as browser:
        page = await browser.get("/pengaduan/kelola")
        assert page.status_code == 200 and 'data-page="complaint_staff"' in page.text
        for element in ("cq-filters", "cq-table", "cq-verify", "cq-follow", "cq-route-unit", "cq-verify-reason", "cq-follow-text", "cq-escalated"):
            assert f'id="{element}"' in page.text, element
        assert "Pengelolaan pengaduan" in page.text and "Complaint desk" in page.text
        script = (await browser.get("/static/app.js")).text
        assert "function cqInit" in script and "/api/v1/complaints/manage" in script
