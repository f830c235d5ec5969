"""Mail over a real SMTP server (aiosmtpd): the outbox sends each key once, keeps failures visible; schedules and scheduled jobs."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row
from temporalio.client import Client, Schedule, ScheduleActionStartWorkflow, ScheduleSpec, ScheduleState, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.eventstore import EventStore, read_case
from asnflow.activities.notifications import MailConfig, deliver_messages, render
from asnflow.domain.calendar import JAKARTA
from asnflow.domain.deadlines import SCHEDULES
from asnflow.projections.runner import rebuild
from asnflow.runtime.cli_schedules import apply_schedules
from asnflow.runtime.demo_org import demo_employees, demo_users
from asnflow.runtime.settings import Settings
from asnflow.workflows.deadline_contracts import ScheduledJobInput
from asnflow.workflows.schedules import ScheduledJobWorkflow
from tests.mailbox import Mailbox, text_of
from tests.support import api_client, make_settings
from tests.workflows.deadline_probe import DeadlineProbeWorkflow, ProbeInput, prepare_views, probe_worker

PUBLIC_URL = "https://asnflow.batangharikab.go.id"
HISTORIES = Path(__file__).parents[1] / "workflows" / "histories"


def outbox_row(url: str, key: str) -> dict:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        row = conn.execute("SELECT * FROM notification_outbox WHERE key = %s", (key,)).fetchone()
    assert row is not None, key
    return row


async def test_a_failed_send_is_stored_visible_retried_and_never_sent_twice(fresh_database_url: str, tmp_path: Path) -> None:
    box = Mailbox()  # not started yet: nothing listens on its port
    cfg = MailConfig(host="127.0.0.1", port=box.port, public_url=PUBLIC_URL, timeout=5)
    key = "probe-x.t1:reminder:R0:199602102022031001"
    msg = render(
        cfg, key=key, case_id="probe-x", task_id="probe-x.t1", nip="199602102022031001", to="bayu@asn.batangharikab.go.id",
        subject="[asnflow] Pengingat / Reminder", name="Bayu Saputra", body_id=["Tugas jatuh tempo."], body_en=["The task is due."],
        link=cfg.task_link("probe-x.t1"),
    )
    with pytest.raises(ApplicationError) as info:
        await deliver_messages(fresh_database_url, cfg, [msg])
    assert info.value.type == "MailDeliveryFailed" and not info.value.non_retryable
    failed = outbox_row(fresh_database_url, key)
    assert (failed["status"], failed["attempts"]) == ("failed", 1) and failed["last_error"]

    # The failure is visible to administrators, not to everyone.
    settings = make_settings(fresh_database_url, tmp_path)
    admin = next(u["nip"] for u in demo_users() if "ADMIN" in u["roles"])
    async with api_client(settings) as api:
        r = await api.get("/api/v1/notifications/outbox", admin, params={"status": "failed"})
        assert r.status_code == 200, r.text
        assert [(o["key"], o["attempts"]) for o in r.json()["data"]] == [(key, 1)]
        assert (await api.get("/api/v1/notifications/outbox", "199602102022031001")).status_code == 403

    box.start()
    try:
        report = await deliver_messages(fresh_database_url, cfg, [msg])
        again = await deliver_messages(fresh_database_url, cfg, [msg])  # a retry after the send committed
        box.wait_for(1)
        await asyncio.sleep(0.2)
        assert (report.sent, again.sent, again.already_sent) == ([key], [], [key])
        assert len(box.received) == 1
        sent = outbox_row(fresh_database_url, key)
        assert (sent["status"], sent["attempts"], sent["last_error"]) == ("sent", 2, None)
        rcpt, mail = box.received[0]
        assert rcpt == ["bayu@asn.batangharikab.go.id"] and mail["X-Asnflow-Key"] == key
        assert f"{PUBLIC_URL}/?task=probe-x.t1" in text_of(mail) and "Yth. Bayu Saputra" in text_of(mail)
    finally:
        box.stop()

    # Without an SMTP host mail is off, and the outbox says so instead of dropping it silently.
    off = await deliver_messages(fresh_database_url, MailConfig(host=""), [render(cfg, key="k2", case_id="c", task_id=None, nip="1", to="a@b", subject="s", name="n", body_id=[], body_en=[])])
    assert off.disabled == ["k2"] and outbox_row(fresh_database_url, "k2")["status"] == "disabled"


@dataclass
class Scheduled:
    client: Client
    settings: Settings
    store: EventStore
    box: Mailbox


@pytest.fixture(scope="module")
async def scheduled(dev_server_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Scheduled]:
    from tests.conftest import create_database, drop_database
    from tests.support import client_address

    url = create_database("asnflow_sched")
    box = Mailbox().start()
    settings = make_settings(url, tmp_path_factory.mktemp("sched"), client_address(dev_server_env.client))
    settings = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": box.port, "public_url": PUBLIC_URL})
    prepare_views(settings)
    store = EventStore(env=settings.store_env())
    try:
        with ThreadPoolExecutor(6) as executor:
            async with probe_worker(dev_server_env.client, settings, store, executor):
                yield Scheduled(dev_server_env.client, settings, store, box)
    finally:
        for defn in SCHEDULES:
            try:
                await dev_server_env.client.get_schedule_handle(defn.id).delete()
            except Exception:  # noqa: BLE001 - already gone
                pass
        box.stop()
        store.close()
        drop_database(url)


async def save_history(handle: WorkflowHandle, name: str) -> None:
    if os.environ.get("ASNFLOW_RECORD_HISTORIES") == "1":
        (HISTORIES / f"{name}.json").write_text((await handle.fetch_history()).to_json())


async def test_schedules_apply_is_idempotent(scheduled: Scheduled) -> None:
    client, queue = scheduled.client, scheduled.settings.task_queue
    retired = "asnflow-retired-probe"
    await client.create_schedule(
        retired,
        Schedule(
            action=ScheduleActionStartWorkflow(ScheduledJobWorkflow.run, ScheduledJobInput(job="digest"), id="x", task_queue=queue),
            spec=ScheduleSpec(cron_expressions=["0 0 1 1 *"]), state=ScheduleState(paused=True),
        ),
    )
    for _ in range(100):  # listing is eventually consistent
        if retired in [s.id async for s in await client.list_schedules()]:
            break
        await asyncio.sleep(0.1)
    first = dict(await apply_schedules(client, queue))
    assert first == {**{d.id: "created" for d in SCHEDULES}, retired: "deleted"}
    assert dict(await apply_schedules(client, queue)) == {d.id: "unchanged" for d in SCHEDULES}
    # A change of configuration (here: the task queue) updates in place and keeps an operator's pause.
    await client.get_schedule_handle("asnflow-promotion-period").pause(note="libur")
    assert set(dict(await apply_schedules(client, "other-queue")).values()) == {"updated"}
    assert dict(await apply_schedules(client, queue)) == {d.id: "updated" for d in SCHEDULES}
    assert (await client.get_schedule_handle("asnflow-promotion-period").describe()).schedule.state.paused

    digest = await client.get_schedule_handle("asnflow-daily-digest").describe()
    assert digest.schedule.spec.time_zone_name == "Asia/Jakarta"
    action = digest.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow) and action.workflow == "ScheduledJobWorkflow" and action.task_queue == queue
    assert all(t.astimezone(JAKARTA).hour == 7 for t in digest.info.next_action_times)
    season = await client.get_schedule_handle("asnflow-evaluation-season").describe()
    assert [(t.astimezone(JAKARTA).month, t.astimezone(JAKARTA).day) for t in season.info.next_action_times[:1]] == [(1, 2)]


async def test_the_digest_and_a_periodic_notice_go_out_once(scheduled: Scheduled) -> None:
    client, settings, store, box = scheduled.client, scheduled.settings, scheduled.store, scheduled.box
    by_nip = {e.nip: e for e in demo_employees()}
    employee = next(e for e in demo_employees() if e.atasan_nip in by_nip)
    boss = by_nip[employee.atasan_nip]
    case_id = f"probe-{uuid.uuid4().hex[:10]}"
    await client.start_workflow(
        DeadlineProbeWorkflow.run,
        ProbeInput(case_id=case_id, subject_nip=employee.nip, kind="SKP_AGREEMENT", working_days=5, assignee_nip=boss.nip, unit=boss.unit),
        id=case_id, task_queue=settings.task_queue,
    )
    for _ in range(200):
        if any(type(s.event).__name__ == "TaskOpened" for s in read_case(store, case_id)):
            break
        await asyncio.sleep(0.05)
    rebuild(settings.store_env(), "tasks")
    box.received.clear()

    async def job(name: str, inp: ScheduledJobInput) -> tuple[object, WorkflowHandle]:
        handle = await client.start_workflow(ScheduledJobWorkflow.run, inp, id=f"{name}-{uuid.uuid4().hex[:8]}", task_queue=settings.task_queue)
        return await handle.result(), handle

    # Wednesday 2 December 2026 is a working day; Saturday the 5th is not.
    sent, handle = await job("digest", ScheduledJobInput(job="digest", day="2026-12-02"))
    assert (sent.status, sent.detail["recipients"], sent.detail["sent"]) == ("sent", 1, 1)  # type: ignore[attr-defined]
    await save_history(handle, "scheduledjob-digest")
    box.wait_for(1)
    rcpt, mail = box.received[0]
    assert rcpt == [f"{boss.nip}@asn.batangharikab.go.id"]
    assert "Ringkasan" in mail["Subject"] and "Digest: 1 waiting, 0 late" in mail["Subject"]
    assert f"{PUBLIC_URL}/?task={case_id}.t1" in text_of(mail) and "Uji tenggat SKP_AGREEMENT" in text_of(mail)
    again, _ = await job("digest", ScheduledJobInput(job="digest", day="2026-12-02"))
    weekend, _ = await job("digest", ScheduledJobInput(job="digest", day="2026-12-05"))
    assert (again.detail["sent"], weekend.status) == (0, "not_a_working_day")  # type: ignore[attr-defined]
    await asyncio.sleep(0.2)
    assert len(box.received) == 1

    box.received.clear()
    notice, handle = await job("notice", ScheduledJobInput(job="notice", notice="PROMOTION_PERIOD", day="2026-12-02"))
    await save_history(handle, "scheduledjob-notice")
    await save_history(client.get_workflow_handle("notice-promotion-period-2026-12"), "noticecase-promotion-period")
    assert (notice.status, notice.case_id) == ("announced", "notice-promotion-period-2026-12")  # type: ignore[attr-defined]
    recipients = notice.detail["recipients"]  # type: ignore[attr-defined]
    with psycopg.connect(settings.database_url, row_factory=dict_row) as conn:
        expected = conn.execute("SELECT count(*) AS n FROM employees WHERE roles ?| %s", (["BKPSDM", "KEPALA_OPD"],)).fetchone()["n"]
    assert recipients == expected > 0
    box.wait_for(recipients)
    repeat, _ = await job("notice", ScheduledJobInput(job="notice", notice="PROMOTION_PERIOD", day="2026-12-20"))
    assert repeat.status == "already_done"  # type: ignore[attr-defined]
    await asyncio.sleep(0.2)
    assert len(box.received) == recipients and len(set(box.keys())) == recipients
    types = [type(s.event).__name__ for s in read_case(store, "notice-promotion-period-2026-12")]
    assert types == ["CaseOpened", "NoticeAnnounced", "CaseClosed"]

    # In-app: every recipient has the notice in their list.
    rebuild(settings.store_env(), "notifications")
    one = box.received[0][0][0].split("@")[0]
    async with api_client(settings) as api:
        r = await api.get("/api/v1/notifications", one, params={"kind": "notice"})
        assert r.status_code == 200, r.text
        assert [n["title"] for n in r.json()["data"]] == ["Periode usulan kenaikan pangkat (2026-12)"]
        nid = r.json()["data"][0]["id"]
        assert (await api.post(f"/api/v1/notifications/{nid}/read", one)).json() == {"marked": 1}
        assert (await api.get("/api/v1/notifications", one, params={"unread": True})).json()["unread"] == 0


