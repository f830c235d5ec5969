"""The web page in headless Chromium (Debian's) over the stack as `asnflow dev` starts it."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from asnflow.runtime.demo_org import demo_users
from asnflow.runtime.services import free_port
from tests.e2e.test_dev_stack import DevStack

CHROMIUM = os.environ.get("ASNFLOW_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("ASNFLOW_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="af-web-"))
    s = DevStack(root / "web", free_port())
    s.start()
    yield s
    s.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def browser_page() -> Iterator[Page]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's chromium is required at {CHROMIUM} (apt-get install chromium; scripts/test installs it as root)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="id-ID")
        yield page
        browser.close()


def user(description_part: str) -> dict:
    return next(u for u in demo_users() if description_part in u["description"])


def sign_in(page: Page, base: str, nip: str, path: str = "/") -> None:
    page.goto(base + path)
    with page.expect_navigation():
        page.select_option("#demo", nip)
    expect(page.locator("#me")).not_to_be_empty()


def task_row(page: Page, kind: str):  # noqa: ANN201
    """The inbox row of a task kind, refreshing while the projection catches up."""
    row = page.locator("#tasks tbody tr", has_text=kind)
    for _ in range(60):
        if row.count():
            return row.first
        page.click("#filters button[type=submit]")
        page.wait_for_timeout(250)
    raise AssertionError(f"no {kind} task in the inbox")


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_approver_decides_in_the_page_and_sees_the_timeline_change(stack: DevStack, browser_page: Page) -> None:
    page, base = browser_page, stack.url
    employee = user("Ordinary employee")
    boss = user("appraiser of the demo employee")

    sign_in(page, base, employee["nip"], "/me")
    page.fill("#eval-year", "2026")
    page.click("#start-evaluation button")
    expect(page.locator("#start-result .ok")).to_be_visible()
    shot(page, "me")

    page.goto(base + "/")
    row = task_row(page, "SKP_DRAFT")
    row.get_by_role("button", name="Buka").click()
    page.fill("#targets .indikator", "Layanan aplikasi daring tersedia")
    page.fill("#targets .target-value", "99%")
    page.click("#decide-form button[type=submit]")
    expect(page.locator("#result .ok")).to_contain_text("TaskDecided")
    expect(page.locator("#chain .ok")).to_be_visible()
    shot(page, "inbox-employee")

    sign_in(page, base, boss["nip"])
    row = task_row(page, "SKP_AGREEMENT")
    row.get_by_role("button", name="Buka").click()
    before = page.locator("#timeline li").count()
    page.select_option("#outcome", "AGREED")
    page.fill("#reason", "Target selaras dengan renstra")
    page.click("#decide-form button[type=submit]")
    expect(page.locator("#result .ok")).to_contain_text("TaskDecided")
    expect(page.locator("#timeline li")).not_to_have_count(before)
    expect(page.locator("#timeline")).to_contain_text("Target selaras dengan renstra")
    shot(page, "inbox-approver")

    page.locator("#case-link").click()
    expect(page.locator("#case-facts")).to_contain_text(employee["nip"])
    expect(page.locator("#chain .ok")).to_be_visible()
    shot(page, "case")

    page.click("#lang-switch")
    expect(page.locator("h1")).to_contain_text("Case")
    page.goto(base + "/?lang=id")


def test_auditor_and_dashboard_pages(stack: DevStack, browser_page: Page) -> None:
    page, base = browser_page, stack.url
    auditor = next(u for u in demo_users() if "AUDITOR" in u["roles"])
    sign_in(page, base, auditor["nip"], "/audit")
    expect(page.locator("#events tbody tr").first).to_be_visible()
    page.click("#verify")
    expect(page.locator("#verify-result .ok")).to_be_visible(timeout=15000)
    shot(page, "audit")

    admin = next(u for u in demo_users() if "ADMIN" in u["roles"])
    sign_in(page, base, admin["nip"], "/dashboards")
    expect(page.locator("#chart-cases svg")).to_be_visible()
    shot(page, "dashboards")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    sign_in(page, base, admin["nip"], "/")
    shot(page, "inbox-phone")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_citizen_files_a_complaint_and_tracks_it(stack: DevStack, browser_page: Page) -> None:
    page, base = browser_page, stack.url
    page.goto(base + "/pengaduan")
    page.select_option("#kind", index=0)
    page.select_option("#unit", value="DISKOMINFO")
    page.fill("#description", "Layanan aplikasi perizinan daring tidak dapat diakses sejak Senin pagi di kantor kecamatan.")
    page.check("#anonymous")
    shot(page, "complaint-form")
    page.click("#complaint button[type=submit]")
    code = page.locator("#result .code")
    expect(code).to_be_visible(timeout=15000)
    tracking = code.inner_text().strip()
    assert tracking

    page.goto(base + "/pengaduan/lacak")
    page.fill("#code", tracking)
    page.click("form button[type=submit]")
    expect(page.locator("#status-title")).to_contain_text(tracking, timeout=15000)
    shot(page, "complaint-track")
    page.goto(base + "/pengaduan/statistik")
    shot(page, "complaint-metrics")


def sign_in_as(page: Page, stack: DevStack, nip: str, path: str) -> None:
    """Sign in with a token of someone outside the demo picker's list (as a gateway would inject it)."""
    page.goto(stack.url + path)
    page.evaluate("t => localStorage.setItem('asnflow-token', t)", stack.token(nip))
    page.reload()
    expect(page.locator("#me")).not_to_be_empty()


def test_complaint_desk_verifies_and_the_liaison_follows_up(stack: DevStack, browser_page: Page, tmp_path: Path) -> None:
    page, base = browser_page, stack.url
    manager, liaison = "199302122018021001", "199608242023082001"  # PENGELOLA_PENGADUAN; PENGHUBUNG_PENGADUAN of Diskominfo
    evidence = tmp_path / "bukti-antrean.pdf"
    evidence.write_bytes(b"%PDF-1.4\n% antrean loket\n%%EOF\n")

    # A citizen files a named report with a file through the public form (multipart from the browser).
    page.goto(base + "/pengaduan")
    page.select_option("#kind", value="PENGADUAN")
    page.select_option("#unit", value="DISKOMINFO")
    page.fill("#description", "Loket layanan akun daring tutup tanpa pemberitahuan selama tiga hari kerja berturut-turut.")
    page.fill("#reporter_name", "Rahmawati Desa Sungai Buluh")
    page.set_input_files("#attachments", str(evidence))
    page.click("#complaint button[type=submit]")
    expect(page.locator("#result .code")).to_be_visible(timeout=15000)

    # The manager sees the reporter and the file, and verifies with a reason, routing to the agency.
    sign_in_as(page, stack, manager, "/pengaduan/kelola")
    row = page.locator("#cq-table tbody tr", has_text="Rahmawati")
    for _ in range(60):
        if row.count():
            break
        page.click("#cq-filters button[type=submit]")
        page.wait_for_timeout(250)
    row.first.get_by_role("button", name="Buka / Open").click()
    expect(page.locator("#cq-facts")).to_contain_text("Rahmawati")
    expect(page.locator("#cq-attachments")).to_contain_text("bukti-antrean.pdf")
    expect(page.locator("#cq-verify")).to_be_visible(timeout=15000)
    page.select_option("#cq-verify-outcome", "VERIFIED")
    page.select_option("#cq-route-unit", "DISKOMINFO")
    page.fill("#cq-verify-reason", "Lengkap; kewenangan Diskominfo")
    page.click("#cq-verify button[type=submit]")
    expect(page.locator("#cq-result .ok")).to_contain_text("TaskDecided", timeout=15000)
    shot(page, "complaint-desk-manager")

    # The liaison sees the report without the reporter, claims the follow-up and posts the plan.
    sign_in_as(page, stack, liaison, "/pengaduan/kelola")
    page.select_option("#cq-stage", "follow_up")
    row = page.locator("#cq-table tbody tr", has_text="tersembunyi")
    for _ in range(60):
        if row.count():
            break
        page.click("#cq-filters button[type=submit]")
        page.wait_for_timeout(250)
    row.first.get_by_role("button", name="Buka / Open").click()
    expect(page.locator("#cq-facts")).not_to_contain_text("Rahmawati")
    expect(page.locator("#cq-follow")).to_be_visible(timeout=15000)
    page.click("#cq-claim")
    page.fill("#cq-follow-text", "Loket dibuka kembali mulai Senin; petugas cadangan ditetapkan.")
    page.click("#cq-follow button[type=submit]")
    expect(page.locator("#cq-result .ok")).to_contain_text("TaskDecided", timeout=15000)
    shot(page, "complaint-desk-liaison")


def test_the_appraiser_sees_complaint_evidence_in_the_rating_task(stack: DevStack, browser_page: Page) -> None:
    import httpx

    page, base = browser_page, stack.url
    employee, boss = user("Ordinary employee"), user("appraiser of the demo employee")
    manager = "199302122018021001"
    text = f"Pegawai meminta imbalan untuk mempercepat pengurusan akun layanan daring ({os.getpid()})."
    with httpx.Client(base_url=base, timeout=30) as http:
        def auth(nip: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {stack.token(nip)}"}

        def open_task(nips: tuple[str, ...], case_id: str, kinds: tuple[str, ...]) -> dict:
            for _ in range(200):
                for nip in nips:
                    found = [t for t in http.get("/api/v1/tasks", params={"case_id": case_id}, headers=auth(nip)).json()["data"]
                             if t["kind"] in kinds and t["status"] == "open"]
                    if found:
                        return found[0]
                time.sleep(0.1)
            raise AssertionError(f"no open {kinds} on {case_id}")

        r = http.post("/api/v1/complaints", json={"kind": "PENGADUAN", "unit": "DISKOMINFO", "description": text, "anonymous": True,
                                                   "asn_nip": employee["nip"]})
        assert r.status_code == 202, r.text
        complaint = "complaint-" + hashlib.sha256(r.json()["code"].encode()).hexdigest()[:32]
        verify = open_task((manager,), complaint, ("COMPLAINT_VERIFICATION",))
        r = http.post(f"/api/v1/tasks/{verify['id']}/decision", json={"outcome": "VERIFIED", "reason": "Bukti cukup"}, headers=auth(manager))
        assert r.status_code == 200, r.text

        r = http.post("/api/v1/evaluations", json={"nip": employee["nip"], "year": 2025}, headers=auth(employee["nip"]))
        assert r.status_code in (202, 409), r.text
        case_id = f"evaluation-2025-{employee['nip']}"
        steps = {"SKP_DRAFT": (employee["nip"], {"targets": [{"indikator": "Akun layanan daring", "target": "100%"}]}),
                 "SKP_AGREEMENT": (boss["nip"], {}), "CHECK_IN": (boss["nip"], {"feedback": "Sesuai rencana"})}
        for _ in range(20):
            task = open_task((employee["nip"], boss["nip"]), case_id, ("SKP_DRAFT", "SKP_AGREEMENT", "CHECK_IN", "RATING"))
            if task["kind"] == "RATING":
                break
            nip, data = steps[task["kind"]]
            r = http.post(f"/api/v1/tasks/{task['id']}/decision", json={"outcome": task["outcomes"][0], "reason": "ok", "data": data}, headers=auth(nip))
            assert r.status_code == 200, r.text

    sign_in(page, base, boss["nip"])
    row = task_row(page, "RATING")
    row.get_by_role("button", name="Buka").click()
    expect(page.locator("#cq-evidence")).to_contain_text(text, timeout=15000)
    shot(page, "rating-with-complaint-evidence")
    page.locator("#case-link").click()
    expect(page.locator("#cq-evidence")).to_contain_text(text, timeout=15000)
