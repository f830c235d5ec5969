"""The web page in headless Chromium (Debian's) over the stack as `asnflow dev` starts it."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from asnflow.domain import promotion as pr
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
    expect(page.locator("#decide-h")).to_be_focused()
    page.get_by_label("Indikator 1").fill("Layanan aplikasi daring tersedia")
    page.click("#decide-form button[type=submit]")  # the target is missing: refused, the message beside its field
    target = page.get_by_label("Target 1", exact=False).first
    expect(target).to_have_attribute("aria-invalid", "true")
    error = page.locator(f"#{target.get_attribute('id')}-err")
    expect(error).to_contain_text("Target sasaran ke-1 wajib diisi")
    expect(error.locator("[lang=en]")).to_contain_text("Target of target 1 is required")  # English beside it
    expect(page.locator("#result.err")).to_be_visible()
    target.fill("99%")
    page.click("#decide-form button[type=submit]")
    expect(page.locator("#result.ok")).to_contain_text("TaskDecided")
    expect(page.locator("#chain .ok")).to_be_visible()
    shot(page, "inbox-employee")

    sign_in(page, base, boss["nip"])
    row = task_row(page, "SKP_AGREEMENT")
    row.get_by_role("button", name="Buka").click()
    expect(page.locator("#decide-h")).to_be_focused()  # the form is drawn
    before = page.locator("#timeline li").count()
    page.select_option("#outcome", "AGREED")
    page.fill("#reason", "Target selaras dengan renstra")
    page.click("#decide-form button[type=submit]")
    expect(page.locator("#result.ok")).to_contain_text("TaskDecided")
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


# --- decision forms of every process, notifications, delegations, accessibility (issue 11) ---------------
HR_STAFF = "198808082010011001"  # BKPSDM staff (transfers and promotions)
OPD_HEAD = "197811052005011001"  # Kepala Diskominfo
COMPLAINT_MANAGER = "199302122018021001"  # PENGELOLA_PENGADUAN (not in the demo picker)
DOSSIER_PDF = b"%PDF-1.4\n% berkas usul kenaikan pangkat\n%%EOF\n"
SHA = hashlib.sha256(DOSSIER_PDF).hexdigest()  # uploaded to the document store before verification


def sign_in_as(page: Page, base: str, nip: str, path: str = "/") -> None:
    """Any seeded employee, the way the picker does it (dev token into the page's storage)."""
    page.goto(base + path)
    page.evaluate(
        "async (nip) => { const r = await fetch('/dev/token?nip=' + nip).then((r) => r.json()); localStorage.setItem('asnflow-token', r.token); }", nip
    )
    page.goto(base + path)
    expect(page.locator("#me")).not_to_be_empty()


def call(stack: DevStack, method: str, path: str, nip: str | None, body: dict | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {stack.token(nip)}"} if nip else {}
    return httpx.request(method, stack.url + path, headers=headers, json=body, timeout=60)


def open_task(page: Page, kind: str) -> None:
    task_row(page, kind).locator(".open-task").click()
    expect(page.locator("#decide-h")).to_be_focused()


def submit(page: Page) -> None:
    page.click("#decide-form button[type=submit]")


def test_promotion_and_training_decided_through_their_forms(stack: DevStack, browser_page: Page) -> None:
    page, base = browser_page, stack.url
    today = (datetime.now(UTC) + pr.WIB_OFFSET).date()
    period = pr.open_periods(today)[0]
    rows = call(stack, "GET", f"/api/v1/promotions/eligibility?period={period}&unit=DISKOMINFO", HR_STAFF).json()["data"]
    subject = next(r for r in rows if {f["rule"] for f in r["failures"]} <= {"PREDIKAT_KINERJA"} and r["nip"] != OPD_HEAD)
    declared = {"predicates": {str(period.year - 1): "BAIK", str(period.year - 2): "BAIK"}}
    r = call(stack, "POST", "/api/v1/promotions", OPD_HEAD, {"nip": subject["nip"], "kind": subject["kind"], "period": period.isoformat(), "declared": declared})
    assert r.status_code == 202, r.text
    assert call(stack, "POST", "/api/v1/trainings", HR_STAFF, {"year": today.year}).status_code == 202
    # A verified dossier names only stored files: the proposer uploads the document first.
    r = httpx.post(stack.url + "/api/v1/documents", headers={"Authorization": f"Bearer {stack.token(OPD_HEAD)}"},
                   files={"file": ("berkas-usul.pdf", DOSSIER_PDF, "application/pdf")}, data={"purpose": "promotion_document"}, timeout=60)
    assert r.status_code == 201 and r.json()["sha256"] == SHA, r.text

    # Promotion: the dossier checklist, started with the documents the proposal requires. A bad hash
    # and a missing document are refused, each message beside its field.
    sign_in(page, base, HR_STAFF)
    open_task(page, "PROMOTION_VERIFICATION")
    expect(page.locator("#outcome")).to_have_value("VERIFIED")
    required = pr.required_documents(subject["kind"], None, None)
    document = lambda n: page.get_by_role("combobox", name=f"Dokumen {n}")  # noqa: E731
    chosen = lambda n: document(n).evaluate("el => el.selectedOptions[0].textContent")  # noqa: E731
    for n, code in enumerate(required, start=1):
        assert chosen(n) == f"{pr.DOCUMENTS[code]['id']} ({code})"
        page.get_by_label(f"SHA-256 dokumen {n}").fill("abc" if n == 3 else SHA)
    page.get_by_role("button", name="Hapus 2").click()  # the rows count again: the third is now the second
    assert chosen(2) == f"{pr.DOCUMENTS[required[2]]['id']} ({required[2]})"
    sha = page.get_by_label("SHA-256 dokumen 2")
    expect(sha).to_have_value("abc")
    submit(page)
    expect(sha).to_have_attribute("aria-invalid", "true")  # the API names documents.1.sha256: the second row
    expect(sha).to_be_focused()
    expect(page.locator(f"#{sha.get_attribute('id')}-err")).to_contain_text("64 digit heksadesimal")
    expect(page.locator("#kind-fields fieldset .field-err[data-err-for='documents']")).to_contain_text("Dokumen wajib belum ada")
    expect(page.locator("#result.err")).to_be_visible()
    shot(page, "form-promotion-verification-errors")
    sha.fill(SHA)
    page.get_by_role("button", name="Tambah: Daftar periksa dokumen").click()
    last = len(required)
    document(last).select_option(label=f"{pr.DOCUMENTS[required[1]]['id']} ({required[1]})")
    page.get_by_label(f"SHA-256 dokumen {last}").fill(SHA)
    submit(page)
    expect(page.locator("#result.ok")).to_contain_text("TaskDecided")
    expect(page.locator("#result")).to_be_focused()

    # The BKN technical approval: a number and a date, asked only when approved.
    open_task(page, "PROMOTION_BKN_PERTEK")
    page.select_option("#outcome", "RETURNED")
    expect(page.get_by_label("Nomor pertek")).to_be_hidden()
    page.select_option("#outcome", "APPROVED")
    page.get_by_label("Nomor pertek").fill("AK.02.02/KP/12345/2026")
    page.get_by_label("Tanggal pertek").fill(today.isoformat())
    shot(page, "form-promotion-pertek")
    submit(page)
    expect(page.locator("#result.ok")).to_contain_text("TaskDecided")
    expect(page.locator("#timeline")).to_contain_text("PromotionDossierVerified")

    # Training: the year's plan, a budget per agency and its activities.
    open_task(page, "TRAINING_PLAN_DRAFT")
    page.get_by_label("Perangkat daerah 1").first.select_option(label="Dinas Komunikasi dan Informatika (DISKOMINFO)")
    page.get_by_label("Anggaran (Rp) 1").fill("50000000")
    items = page.locator("fieldset[data-path='items']")
    items.get_by_label("Perangkat daerah 1").select_option(label="Dinas Komunikasi dan Informatika (DISKOMINFO)")
    items.get_by_label("Kursus 1").select_option(index=1)
    items.get_by_label("Peserta 1").fill("0")
    submit(page)
    participants = items.get_by_label("Peserta 1")
    expect(participants).to_have_attribute("aria-invalid", "true")
    items.get_by_label("Peserta 1").fill("2")
    shot(page, "form-training-plan")
    submit(page)
    expect(page.locator("#result.ok")).to_contain_text("TaskDecided")


def test_complaint_verified_keyboard_only_from_claim_to_decision(stack: DevStack, browser_page: Page) -> None:
    page, base = browser_page, stack.url
    body = {"kind": "PENGADUAN", "unit": "DISKOMINFO", "anonymous": True,
            "description": "Antrean layanan perizinan daring macet sejak pagi; formulir tidak dapat dikirim di kantor kecamatan."}
    assert call(stack, "POST", "/api/v1/complaints", None, body).status_code in (200, 201, 202)
    sign_in_as(page, base, COMPLAINT_MANAGER)
    row = task_row(page, "COMPLAINT_VERIFICATION")
    task_id = row.get_attribute("data-task")
    row.get_by_role("button", name="Klaim").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#inbox-status")).to_contain_text("Tugas diklaim")
    open_button = page.locator(f"#tasks tr[data-task='{task_id}'] .open-task")
    expect(open_button).to_be_focused()  # focus stays on the task just claimed
    page.keyboard.press("Enter")
    expect(page.locator("#decide-h")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#outcome")).to_be_focused()
    for _ in range(8):  # on through the verification's own fields (unit, ASN confirmed) to the reason
        if page.evaluate("document.activeElement.id") == "reason":
            break
        page.keyboard.press("Tab")
    expect(page.locator("#reason")).to_be_focused()
    page.keyboard.type("Laporan lengkap dan jelas; diteruskan ke Diskominfo")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#result.ok")).to_contain_text("TaskDecided")
    expect(page.locator("#result")).to_be_focused()
    shot(page, "form-complaint-verification")


def test_notifications_screen_lists_marks_read_and_counts_in_the_header(stack: DevStack, browser_page: Page) -> None:
    page, base = browser_page, stack.url
    boss = user("appraiser of the demo employee")  # has the SKP agreement's notifications from the first test
    sign_in(page, base, boss["nip"], "/notifications")
    badge = page.locator("#notif-count")
    expect(badge).to_be_visible()
    before = int(badge.inner_text().split()[0])
    assert before >= 1
    expect(page.locator("#notif-list li.unread").first).to_be_visible()
    shot(page, "notifications")
    page.locator("#notif-list .mark-read").first.click()
    expect(page.locator("#notif-status")).to_contain_text("ditandai sudah dibaca")
    if before > 1:
        expect(badge).to_contain_text(f"{before - 1} belum dibaca")
    else:
        expect(badge).to_be_hidden()
    page.select_option("#notif-unread", "true")
    page.click("#notif-filters button[type=submit]")
    expect(page.locator("#notif-list li.unread")).to_have_count(before - 1)
    page.click("#notif-read-all")
    expect(badge).to_be_hidden()
    expect(page.locator("#notif-list")).to_contain_text("Tidak ada pemberitahuan")
    page.select_option("#notif-unread", "")
    page.click("#notif-filters button[type=submit]")
    link = page.locator("#notif-list a").first
    assert link.get_attribute("href").startswith(("/?task=", "/cases/", "/delegations"))

    # A task's notification opens that task's form in the inbox: here the evaluation's check-in.
    page.locator("#notif-list a", has_text=re.compile(r"Dialog kinerja .*2026")).first.click()
    expect(page.locator("#decide-h")).to_be_focused()
    expect(page.locator("#decide-task")).to_contain_text("Dialog kinerja")
    page.get_by_label("Umpan balik").fill("Target layanan daring tercapai; dokumentasi perlu dilengkapi.")
    page.get_by_role("button", name="Tambah: Bukti dukung").click()
    expect(page.get_by_label("Nama berkas 1")).to_be_focused()
    page.get_by_label("Nama berkas 1").fill("laporan-s1.pdf")
    page.get_by_label("SHA-256 berkas 1").fill("not-a-hash")
    page.get_by_label("Hasil kerja (periodik, opsional)").select_option(label="Sesuai Ekspektasi (SESUAI_EKSPEKTASI)")
    submit(page)
    expect(page.get_by_label("SHA-256 berkas 1")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Perilaku kerja (periodik, opsional)")).to_have_attribute("aria-invalid", "true")  # both ratings or none
    page.get_by_label("SHA-256 berkas 1").fill(SHA)
    page.get_by_label("Perilaku kerja (periodik, opsional)").select_option(label="Di Atas Ekspektasi (DI_ATAS_EKSPEKTASI)")
    shot(page, "form-evaluation-checkin")
    submit(page)
    expect(page.locator("#result.ok")).to_contain_text("TaskDecided")
    expect(page.locator("#timeline")).to_contain_text("CheckInRecorded")


def test_delegation_screens_create_list_and_end_early(stack: DevStack, browser_page: Page) -> None:
    page, base = browser_page, stack.url
    boss = user("appraiser of the demo employee")
    employee = user("Ordinary employee")
    sign_in(page, base, boss["nip"], "/delegations")
    expect(page.locator("#deleg-principal_nip")).to_have_value(boss["nip"])
    page.select_option("#deleg-type", "SUBSTITUTE")
    page.fill("#deleg-acting_nip", boss["nip"])  # oneself: refused beside the field
    page.click("#deleg-form button[type=submit]")
    expect(page.locator("#deleg-acting_nip-err")).to_contain_text("Pelaksana harus orang lain")
    expect(page.locator("#deleg-acting_nip")).to_be_focused()
    page.select_option("#deleg-type", "PLH")  # by decree: only BKPSDM/ADMIN
    page.fill("#deleg-acting_nip", employee["nip"])
    page.click("#deleg-form button[type=submit]")
    expect(page.locator("#deleg-result.err")).to_contain_text("BKPSDM/ADMIN")
    page.select_option("#deleg-type", "SUBSTITUTE")
    page.check("input[name=processes][value=evaluation]")
    page.fill("#deleg-reason", "Dinas luar / out of office")
    page.click("#deleg-form button[type=submit]")
    expect(page.locator("#deleg-result.ok")).to_contain_text("Pelimpahan dibuat")
    row = page.locator("#delegations tbody tr", has_text=employee["nip"]).first
    expect(row).to_contain_text("SUBSTITUTE")
    shot(page, "delegations")

    row.get_by_role("button", name="Akhiri lebih awal").click()
    expect(page.locator("#revoke-reason")).to_be_focused()
    page.click("#revoke-form button[type=submit]")  # no reason
    expect(page.locator("#revoke-reason-err")).to_contain_text("Alasan wajib diisi")
    page.fill("#revoke-reason", "Kembali bertugas lebih cepat")
    page.click("#revoke-form button[type=submit]")
    expect(page.locator("#deleg-result.ok")).to_contain_text("Pelimpahan diakhiri")
    expect(page.locator("#deleg-result")).to_contain_text("revoked")

    sign_in(page, base, employee["nip"], "/delegations")  # the acting official sees it too
    page.select_option("#deleg-filters select[name=status]", "all")
    page.click("#deleg-filters button[type=submit]")
    expect(page.locator("#delegations tbody tr", has_text=boss["nip"]).first).to_contain_text("revoked")


A11Y_CHECK = r"""() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push("no lang attribute on <html>");
  if (document.querySelectorAll("main, [role=main]").length !== 1) problems.push("not exactly one main landmark");
  if (!document.querySelector("h1")) problems.push("no h1");
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden") continue;
    const named = (el.labels && el.labels.length) || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") || el.title;
    if (!named) problems.push(`unlabelled ${el.tagName.toLowerCase()}#${el.id || el.name || "?"}`);
  }
  for (const b of document.querySelectorAll("button, a[href]")) {
    if (!(b.textContent.trim() || b.getAttribute("aria-label"))) problems.push(`nameless ${b.tagName.toLowerCase()}`);
  }
  const ids = [...document.querySelectorAll("[id]")].map((e) => e.id);
  const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (dupes.length) problems.push(`duplicate ids ${[...new Set(dupes)]}`);
  if (document.documentElement.scrollWidth > window.innerWidth + 1) problems.push(`wider than the screen: ${document.documentElement.scrollWidth}px`);
  // Text contrast (WCAG AA, 4.5:1) of every visible element with text of its own, against its first opaque background.
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length || el.closest(".sr-only, svg, option")) continue;
    let bg = el, colour = null;
    while (bg) { const c = rgb(getComputedStyle(bg).backgroundColor); if (c.length === 3 || c[3] > 0.9) { colour = c; break; } bg = bg.parentElement; }
    const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum((colour || [255, 255, 255]).slice(0, 3))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)} of ${el.tagName.toLowerCase()}.${el.className}: ${el.textContent.trim().slice(0, 30)}`);
  }
  return problems;
}"""


def test_every_page_is_labelled_has_main_and_lang_and_fits_a_phone(stack: DevStack, browser_page: Page) -> None:
    page, base = browser_page, stack.url
    boss = user("appraiser of the demo employee")
    bupati = next(u for u in demo_users() if "BUPATI" in u["roles"])  # decree and plan tasks from the tests above
    auditor = next(u for u in demo_users() if "AUDITOR" in u["roles"])
    case_id = f"evaluation-2026-{user('Ordinary employee')['nip']}"
    pages = [(bupati["nip"], "/")] + [(boss["nip"], p) for p in ("/me", "/notifications", "/delegations", f"/cases/{case_id}")]
    pages += [(auditor["nip"], p) for p in ("/audit", "/dashboards")]
    try:
        for width in (1280, 375):
            page.set_viewport_size({"width": width, "height": 800})
            for nip, path in pages:
                sign_in(page, base, nip, path)
                page.wait_for_load_state("networkidle")
                if path == "/":
                    # With a decision form open: its generated fields must be labelled as well.
                    open_task(page, "PROMOTION_DECREE")
                    expect(page.get_by_label("Nomor SK")).to_be_visible()
                assert page.evaluate(A11Y_CHECK) == [], (width, path)
                if width == 375:
                    shot(page, "phone-" + (path.strip("/").split("/")[0] or "inbox"))
            for path in ("/pengaduan", "/pengaduan/lacak", "/pengaduan/statistik"):
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                assert page.evaluate(A11Y_CHECK) == [], (width, path)
        # In English the generated form speaks English too (labels and outcomes from the same description).
        page.set_viewport_size({"width": 1280, "height": 900})
        sign_in(page, base, bupati["nip"], "/?lang=en")
        open_task(page, "PROMOTION_DECREE")
        expect(page.get_by_label("Decree number")).to_be_visible()
        expect(page.locator("#outcome option[value=DECREED]")).to_have_text("DECREED — Decree")
        assert page.evaluate(A11Y_CHECK) == []
        shot(page, "form-promotion-decree-en")
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(base + "/?lang=id")


def test_bulk_decision_offers_only_the_outcomes_every_selected_task_accepts(stack: DevStack, browser_page: Page) -> None:
    page, base = browser_page, stack.url
    bupati = next(u for u in demo_users() if "BUPATI" in u["roles"])  # the decree and the plan from the tests above
    sign_in(page, base, bupati["nip"])
    for kind in ("PROMOTION_DECREE", "TRAINING_PLAN_APPROVAL"):
        task_row(page, kind).locator(".pick").check()
    options = page.locator("#bulk-outcome option")
    expect(options).to_have_text(["— pilih —", "RETURNED"])
    page.select_option("#bulk-outcome", "RETURNED")
    page.fill("#bulk-reason", "Lengkapi dasar pertimbangan / complete the grounds")
    page.click("#bulk-submit")
    expect(page.locator("#bulk-results li.ok")).to_have_count(2)
    shot(page, "inbox-bulk")


def draw(page: Page, kind: str, outcome: str) -> None:
    """Draw a kind's served form into the inbox's decision panel (kinds no test case reaches here)."""
    page.evaluate(
        """async ([kind, outcome]) => {
          $("#decide").hidden = false; $("#case-link").textContent = "(uji / test)";
          $("#outcome").innerHTML = `<option>${outcome}</option>`;
          renderDecisionForm($("#kind-fields"), await decisionForm(kind), () => outcome, {});
        }""",
        [kind, outcome],
    )


def collected(page: Page) -> dict:
    return page.evaluate("collectDecisionData($('#kind-fields'))")


def test_generated_forms_send_maps_lists_objects_and_booleans_as_the_validators_expect(stack: DevStack, browser_page: Page) -> None:
    page, base = browser_page, stack.url
    sign_in(page, base, user("Ordinary employee")["nip"])
    a, b = "199001012015011001", "199102022016021002"

    draw(page, "JPT_ASSESSMENT", "SCORED")  # a map NIP → score
    page.get_by_label("NIP peserta 1").fill(a)
    page.get_by_label("Nilai (0–100) 1").fill("87.5")
    page.get_by_role("button", name="Tambah: Nilai per peserta").click()
    page.get_by_label("NIP peserta 2").fill(b)
    page.get_by_label("Nilai (0–100) 2").fill("90")
    assert collected(page) == {"scores": {a: 87.5, b: 90}}

    draw(page, "POSITION_TPK_RECOMMENDATION", "RECOMMENDED")  # a list of texts, an optional hash left out
    page.get_by_role("textbox", name="Urutan calon (NIP) 1").fill(b)
    page.get_by_role("button", name="Tambah: Urutan calon (NIP)").click()
    page.get_by_role("textbox", name="Urutan calon (NIP) 2").fill(a)
    assert collected(page) == {"ranking": [b, a]}

    draw(page, "PROMOTION_REVISION", "RESUBMITTED")  # an object holding a map, a number and a choice
    page.get_by_role("button", name="Tambah: Predikat per tahun").click()
    page.get_by_role("spinbutton", name="Tahun 1").fill("2025")
    page.get_by_role("combobox", name="Predikat 1").select_option(label="Baik (BAIK)")
    page.get_by_label("Angka kredit").fill("12.5")
    page.get_by_label("Ijazah baru").select_option(label="S2")
    assert collected(page) == {"declared": {"predicates": {"2025": "BAIK"}, "angka_kredit": 12.5, "ijazah_baru": "S2"}}

    draw(page, "POSITION_INAUGURATION", "INAUGURATED")  # a yes/no answer is a JSON boolean
    page.get_by_label("Sumpah/janji jabatan diucapkan").select_option(label="Ya")
    page.get_by_label("Nomor berita acara").fill("BA-01/2026")
    page.get_by_label("Tanggal pelantikan").fill("2026-12-01")
    assert collected(page) == {"berita_acara_nomor": "BA-01/2026", "tanggal": "2026-12-01", "sumpah": True}
    assert page.evaluate(A11Y_CHECK) == []


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
    sign_in_as(page, base, manager, "/pengaduan/kelola")
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
    sign_in_as(page, base, liaison, "/pengaduan/kelola")
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
    expect(page.locator("#cq-result")).to_contain_text("Tugas diklaim", timeout=15000)
    expect(page.locator("#cq-claim")).to_be_hidden()
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
