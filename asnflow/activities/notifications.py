"""Activities of deadlines that act: working-day plans, recipients, bilingual mail over SMTP with an outbox."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiosmtplib
import psycopg
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from psycopg.rows import dict_row
from temporalio import activity
from temporalio.exceptions import ApplicationError

from asnflow.domain import deadlines as dl
from asnflow.domain.calendar import BusinessCalendar
from asnflow.workflows.deadline_contracts import (
    DeliverAnnouncementInput,
    DeliverInput,
    DeliveryReport,
    DigestInput,
    DigestResult,
    MailMessage,
    PlannedStepData,
    PreparedAnnouncement,
    PrepareAnnouncementInput,
    PreparedNotice,
    PrepareNoticeInput,
    Recipient,
    TaskDeadlines,
    TaskDeadlinesInput,
    TaskRef,
)
from asnflow.workflows.training_contracts import JpReminderMailInput, MailSummary

OUTBOX_DDL = (
    "CREATE TABLE IF NOT EXISTS notification_outbox ("
    " key text PRIMARY KEY, case_id text, task_id text, recipient_nip text NOT NULL, recipient_email text,"
    " subject text NOT NULL, status text NOT NULL, attempts int NOT NULL DEFAULT 0, last_error text,"
    " created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),"
    " sent_at timestamptz)",
    "CREATE INDEX IF NOT EXISTS notification_outbox_status_idx ON notification_outbox (status, updated_at DESC)",
    "CREATE INDEX IF NOT EXISTS notification_outbox_recipient_idx ON notification_outbox (recipient_nip, created_at DESC)",
)

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)

HARI = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
BULAN = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November", "Desember")


def format_id(moment: datetime, calendar: BusinessCalendar) -> str:
    """E.g. 'Senin, 11 Januari 2027 pukul 23.59 WIB'."""
    m = moment.astimezone(calendar.tz)
    return f"{HARI[m.weekday()]}, {m.day} {BULAN[m.month - 1]} {m.year} pukul {m:%H.%M} WIB"


def format_en(moment: datetime, calendar: BusinessCalendar) -> str:
    """E.g. 'Monday 11 January 2027, 23:59 WIB'."""
    m = moment.astimezone(calendar.tz)
    return f"{m:%A} {m.day} {m:%B %Y, %H:%M} WIB"


@dataclass(frozen=True)
class MailConfig:
    """SMTP and addressing; an empty host disables mail (outbox rows say 'disabled', nothing is lost silently)."""

    host: str = ""
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    use_tls: bool = False
    sender: str = "asnflow BKPSDMD Batanghari <noreply@batangharikab.go.id>"
    address_template: str = "{nip}@asn.batangharikab.go.id"
    public_url: str = "http://127.0.0.1:8000"
    timeout: float = 30.0

    @classmethod
    def from_settings(cls, settings: Any) -> MailConfig:
        """Mail settings from ASNFLOW_SMTP_* / ASNFLOW_MAIL_* (defaults where a field is absent)."""
        d = cls()
        return cls(
            host=getattr(settings, "smtp_host", d.host) or "",
            port=getattr(settings, "smtp_port", d.port),
            username=getattr(settings, "smtp_username", d.username),
            password=getattr(settings, "smtp_password", d.password),
            starttls=getattr(settings, "smtp_starttls", d.starttls),
            use_tls=getattr(settings, "smtp_tls", d.use_tls),
            sender=getattr(settings, "mail_from", d.sender),
            address_template=getattr(settings, "mail_address_template", d.address_template),
            public_url=str(getattr(settings, "public_url", d.public_url)).rstrip("/"),
        )

    def task_link(self, task_id: str) -> str:
        return f"{self.public_url}/?task={quote(task_id, safe='')}"

    def case_link(self, case_id: str) -> str:
        return f"{self.public_url}/cases/{quote(case_id, safe='')}"


def render(cfg: MailConfig, *, key: str, case_id: str, task_id: str | None, nip: str, to: str, subject: str, **context: Any) -> MailMessage:
    """A bilingual mail (text and HTML) from the templates."""
    ctx = {"key": key, "subject": subject, "items": [], "link": None, "case_link": None, **context}
    return MailMessage(
        key=key, case_id=case_id, task_id=task_id, recipient_nip=nip, to=to, subject=subject,
        text=_templates.get_template("mail.txt").render(ctx), html=_templates.get_template("mail.html").render(ctx),
    )


class Directory:
    """Look-ups in the employees and delegations views (one connection)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def people(self, nips: Iterable[str]) -> dict[str, dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT to_jsonb(e) AS rec FROM employees e WHERE nip = ANY(%s)", (list(nips),)
        ).fetchall()
        return {r["rec"]["nip"]: r["rec"] for r in rows}

    def person(self, nip: str) -> dict[str, Any]:
        return self.people([nip]).get(nip) or {"nip": nip, "nama": nip, "unit": None, "atasan_nip": None}

    def with_role(self, role: str, unit: str | None) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT to_jsonb(e) AS rec FROM employees e WHERE e.roles ? %s AND (%s::text IS NULL OR e.unit = %s) ORDER BY nip",
            (role, unit, unit),
        ).fetchall()
        return [r["rec"] for r in rows]

    def superior(self, nip: str | None, unit: str | None) -> dict[str, Any] | None:
        """The direct superior; for a pool task (no person yet) the head of the task's unit."""
        if nip is not None:
            atasan = self.person(nip).get("atasan_nip")
            return self.person(atasan) if atasan else None
        heads = self.with_role("KEPALA_OPD", unit)
        return heads[0] if heads else None

    def acting_for(self, principals: list[str], at: datetime, process: str, kind: str) -> list[dict[str, Any]]:
        """Delegations whose period holds `at` and whose scope covers the task."""
        return self.conn.execute(
            "SELECT * FROM delegations WHERE principal_nip = ANY(%s) AND status <> 'revoked'"
            " AND starts_at <= %s AND %s < ends_at"
            " AND (jsonb_array_length(processes) = 0 OR processes ? %s)"
            " AND (jsonb_array_length(kinds) = 0 OR kinds ? %s) ORDER BY starts_at",
            (principals, at, at, process, kind),
        ).fetchall()


def _texts(inp: PrepareNoticeInput, reason: str, task: TaskRef, due_id: str, due_en: str, names: dict[str, str]) -> tuple[str, str, list[str], list[str]]:
    """Short titles and paragraphs (Indonesian, English) for one recipient of a task notice."""
    title, level = task.title, inp.level
    target, previous, principal = names.get("target", ""), names.get("previous", ""), names.get("principal", "")
    if inp.action == "remind":
        today = inp.step == "R0"
        title_id = f"Pengingat: {title} — jatuh tempo {'hari ini' if today else due_id}"
        title_en = f"Reminder: {title} — due {'today' if today else due_en}"
        body_id = [f'Tugas "{title}" jatuh tempo {due_id}. Mohon diselesaikan sebelum batas waktu.']
        body_en = [f'The task "{title}" is due {due_en}. Please complete it before the deadline.']
        if reason == "acting":
            body_id.insert(0, f"Anda menerima pengingat ini sebagai pelaksana untuk {principal}.")
            body_en.insert(0, f"You receive this reminder as acting official for {principal}.")
        elif reason == "pool":
            body_id.append("Tugas ini ditawarkan kepada peran Anda; klaim sebelum mengerjakannya.")
            body_en.append("This task is offered to your role; claim it before you work on it.")
        return title_id, title_en, body_id, body_en
    if reason == "acting":  # the escalation target's acting official reads what the target reads
        title_id, title_en, body_id, body_en = _texts(inp, "escalated_to" if inp.mode == dl.REASSIGN else "supervisor", task, due_id, due_en, names)
        body_id.insert(0, f"Anda menerima pemberitahuan ini sebagai pelaksana untuk {target}.")
        body_en.insert(0, f"You receive this notice as acting official for {target}.")
        return title_id, title_en, body_id, body_en
    overdue_id, overdue_en = f'Tugas "{title}" melewati batas waktu ({due_id}).', f'The task "{title}" is past its deadline ({due_en}).'
    if reason == "escalated_to":
        title_id, title_en = f"Eskalasi: {title} dialihkan kepada Anda", f"Escalation: {title} reassigned to you"
        body_id = [overdue_id, f"Tugas dialihkan kepada Anda dari {previous} (eskalasi tingkat {level}). Anda kini yang memutuskannya."]
        body_en = [overdue_en, f"It has been reassigned to you from {previous} (escalation level {level}). You now decide it."]
    elif reason == "previous_assignee":
        title_id, title_en = f"Eskalasi: {title} dialihkan kepada {target}", f"Escalation: {title} reassigned to {target}"
        body_id = [overdue_id, f"Tugas dialihkan kepada {target} (eskalasi tingkat {level}); Anda tidak lagi dapat memutuskannya."]
        body_en = [overdue_en, f"It has been reassigned to {target} (escalation level {level}); you can no longer decide it."]
    elif reason == "supervisor":
        title_id, title_en = f"Pantau: {title} milik {previous} terlambat", f"Supervise: overdue {title} of {previous}"
        body_id = [overdue_id, f"Tugas ini milik {previous}. Mohon pantau penyelesaiannya (tugas pemantauan dibuka untuk Anda)."]
        body_en = [overdue_en, f"The task belongs to {previous}. Please see that it is completed (a supervising task is open for you)."]
    elif reason == "overdue":  # nobody above in the directory: the assignee alone is told again
        title_id, title_en = f"Terlambat: {title}", f"Overdue: {title}"
        body_id = [overdue_id, "Tidak ada tingkat eskalasi berikutnya di direktori. Mohon segera diselesaikan."]
        body_en = [overdue_en, "There is no further escalation level in the directory. Please complete it promptly."]
    else:  # supervised: the assignee keeps the task; their superior now watches it
        title_id, title_en = f"Terlambat: {title} — {target} diberi tahu", f"Overdue: {title} — {target} has been told"
        body_id = [overdue_id, f"{target} diminta memantau penyelesaiannya. Mohon segera diselesaikan."]
        body_en = [overdue_en, f"{target} has been asked to supervise it. Please complete it promptly."]
    return title_id, title_en, body_id, body_en


class DeadlineActivities:
    """Working-day deadline plans; a local activity, so holiday-data or policy changes never break replay."""

    def __init__(self, calendar: BusinessCalendar | None = None) -> None:
        self.calendar = calendar or BusinessCalendar()

    @activity.defn(name="task_deadlines")
    def task_deadlines(self, inp: TaskDeadlinesInput) -> TaskDeadlines:
        """The due moment of a task and its reminder/escalation moments under the current policy."""
        start = datetime.fromisoformat(inp.start)
        due_at = self.calendar.add_working_days(start, inp.working_days)
        steps: list[PlannedStepData] = []
        policy = dl.policy_for(inp.kind) if inp.with_plan else None
        if policy is not None:
            for s in dl.plan(self.calendar, policy, start, due_at):
                steps.append(PlannedStepData(step=s.step, action=s.action, at=s.at.isoformat(), level=s.level, target=s.target, mode=s.mode))
        return TaskDeadlines(due_at=due_at.isoformat(), policy_version=dl.DEADLINES_VERSION, steps=steps)


class NotificationActivities:
    """Who is told, what they read, and the mail itself (sent at most once per key)."""

    def __init__(self, database_url: str, mail: MailConfig, calendar: BusinessCalendar | None = None) -> None:
        self.database_url = database_url
        self.mail = mail
        self.calendar = calendar or BusinessCalendar()

    def _address(self, person: dict[str, Any]) -> str | None:
        return person.get("email") or self.mail.address_template.format(nip=person["nip"])

    @activity.defn(name="prepare_task_notice")
    def prepare_task_notice(self, inp: PrepareNoticeInput) -> PreparedNotice:
        """Recipients of a reminder or escalation (assignee, acting officials, the escalation target) and their mail."""
        task = inp.task
        at = datetime.fromisoformat(inp.scheduled_for)
        due = datetime.fromisoformat(task.due_at)
        due_id, due_en = format_id(due, self.calendar), format_en(due, self.calendar)
        with psycopg.connect(self.database_url, row_factory=dict_row) as conn:
            directory = Directory(conn)
            if task.assignee_nip:
                primary = [directory.person(task.assignee_nip)]
            elif task.candidate_role:
                primary = [p for p in directory.with_role(task.candidate_role, task.unit) if p["nip"] != task.subject_nip]
            else:
                primary = []
            entries: list[tuple[dict[str, Any], str, str | None]] = []  # person, reason, on behalf of
            target: dict[str, Any] | None = None
            supervision_due_at = None
            if inp.action == "remind":
                entries += [(p, "assignee" if task.assignee_nip else "pool", None) for p in primary]
                for d in directory.acting_for([p["nip"] for p in primary], at, task.process, task.kind):
                    entries.append((directory.person(d["acting_nip"]), "acting", d["principal_nip"]))
            else:
                if inp.target == dl.SUPERIOR:
                    target = directory.superior(task.assignee_nip, task.unit)
                elif inp.target.startswith("ROLE:"):
                    found = directory.with_role(inp.target.removeprefix("ROLE:"), task.unit)
                    target = found[0] if found else None
                if target is not None and target["nip"] == task.subject_nip:
                    target = None  # never escalate a case to its own subject
                if target is not None:
                    entries.append((target, "escalated_to" if inp.mode == dl.REASSIGN else "supervisor", None))
                    for d in directory.acting_for([target["nip"]], at, task.process, task.kind):
                        entries.append((directory.person(d["acting_nip"]), "acting", d["principal_nip"]))
                    if inp.mode == dl.SUPERVISE:
                        policy = dl.policy_for(task.kind) or dl.DeadlinePolicy(remind_before=())
                        supervision_due_at = self.calendar.add_working_days(at, policy.supervision_working_days).isoformat()
                previous_reason = "previous_assignee" if inp.mode == dl.REASSIGN else "supervised"
                entries += [(p, previous_reason, None) for p in primary if target is None or p["nip"] != target["nip"]]
        names = {
            "target": target["nama"] if target else "",
            "previous": primary[0]["nama"] if len(primary) == 1 else (task.candidate_role or ""),
        }
        recipients: list[Recipient] = []
        messages: list[MailMessage] = []
        seen: set[str] = set()
        for person, reason, on_behalf_of in entries:
            if person["nip"] in seen:
                continue
            seen.add(person["nip"])
            if target is None and inp.action == "escalate":
                reason = "overdue"
            principal = self._name(on_behalf_of, primary) if on_behalf_of else ""
            subject_id, subject_en, body_id, body_en = _texts(inp, reason, task, due_id, due_en, {**names, "principal": principal})
            email = self._address(person)
            recipients.append(Recipient(nip=person["nip"], nama=person["nama"], email=email, reason=reason, on_behalf_of=on_behalf_of, subject_id=subject_id, subject_en=subject_en))
            if email:
                messages.append(render(
                    self.mail, key=f"{inp.key}:{person['nip']}", case_id=task.case_id, task_id=task.task_id, nip=person["nip"],
                    to=email, subject=f"[asnflow] {subject_id} / {subject_en}", name=person["nama"], body_id=body_id, body_en=body_en,
                    link=self.mail.task_link(task.task_id), case_link=self.mail.case_link(task.case_id),
                ))
        return PreparedNotice(
            key=inp.key, recipients=recipients, messages=messages, target_nip=target["nip"] if target else None,
            target_name=target["nama"] if target else None, supervision_due_at=supervision_due_at,
        )

    @staticmethod
    def _name(nip: str, people: list[dict[str, Any]]) -> str:
        return next((p["nama"] for p in people if p["nip"] == nip), nip)

    @activity.defn(name="deliver_mail")
    async def deliver(self, inp: DeliverInput) -> DeliveryReport:
        """Send each message unless its key was already sent; a failure is stored on the outbox row and retried."""
        return await deliver_messages(self.database_url, self.mail, inp.messages)

    @activity.defn(name="prepare_announcement")
    def prepare_announcement(self, inp: PrepareAnnouncementInput) -> PreparedAnnouncement:
        """The audience of a periodic notice: everyone holding one of its roles."""
        notice = dl.NOTICES[inp.notice]
        with psycopg.connect(self.database_url, row_factory=dict_row) as conn:
            rows = conn.execute("SELECT nip FROM employees WHERE roles ?| %s ORDER BY nip", (list(notice.roles),)).fetchall()
        return PreparedAnnouncement(key=inp.key, subject_id=notice.subject_id, subject_en=notice.subject_en, recipients=[r["nip"] for r in rows])

    @activity.defn(name="deliver_announcement")
    async def deliver_announcement(self, inp: DeliverAnnouncementInput) -> DeliveryReport:
        """Mail a periodic notice to its recipients, each at most once."""
        notice = dl.NOTICES[inp.notice]
        async with await psycopg.AsyncConnection.connect(self.database_url, row_factory=dict_row) as conn:
            rows = await (await conn.execute("SELECT to_jsonb(e) AS rec FROM employees e WHERE nip = ANY(%s) ORDER BY nip", (inp.recipients,))).fetchall()
        subject = f"[asnflow] {notice.subject_id} ({inp.period}) / {notice.subject_en}"
        messages = [
            render(
                self.mail, key=f"{inp.key}:{p['nip']}", case_id=inp.case_id, task_id=None, nip=p["nip"], to=addr,
                subject=subject, name=p["nama"], body_id=[notice.body_id], body_en=[notice.body_en], link=f"{self.mail.public_url}/",
            )
            for p in (r["rec"] for r in rows)
            if (addr := self._address(p))
        ]
        return await deliver_messages(self.database_url, self.mail, messages)

    @activity.defn(name="send_jp_reminders")
    async def send_jp_reminders(self, inp: JpReminderMailInput) -> MailSummary:
        """Mail one Q4 reminder moment to each employee below the yearly JP and to their OPD heads, each at most once."""
        nips = [e["nip"] for e in inp.employees] + [h["nip"] for h in inp.heads]
        async with await psycopg.AsyncConnection.connect(self.database_url, row_factory=dict_row) as conn:
            rows = await (await conn.execute("SELECT to_jsonb(e) AS rec FROM employees e WHERE nip = ANY(%s)", (nips,))).fetchall()
        people = {r["rec"]["nip"]: r["rec"] for r in rows}
        at = datetime.fromisoformat(inp.scheduled_for)
        when_id, when_en = format_id(at, self.calendar).split(" pukul")[0], format_en(at, self.calendar).rsplit(",", 1)[0]
        link = f"{self.mail.public_url}/me"
        messages: list[MailMessage] = []

        def add(nip: str, audience: str, subject: str, body_id: list[str], body_en: list[str]) -> None:
            person = people.get(nip)
            to = self._address(person) if person else None
            if person and to:
                messages.append(render(
                    self.mail, key=f"{inp.key}:{audience}:{nip}", case_id=f"training-{inp.year}", task_id=None, nip=nip, to=to,
                    subject=subject, name=person["nama"], body_id=body_id, body_en=body_en, link=link,
                ))

        for e in inp.employees:
            add(
                e["nip"], "employee",
                f"[asnflow] Hak pengembangan kompetensi {inp.year}: baru {e['jp']} dari {inp.min_jp} JP / Competency development: {e['jp']} of {inp.min_jp} JP",
                [f"Per {when_id} Anda baru mengikuti {e['jp']} JP pengembangan kompetensi tahun {inp.year}; hak dan kewajiban setiap PNS "
                 f"paling sedikit {inp.min_jp} JP per tahun (PP 11/2017 ps. 203 ayat 4). Bicarakan pelatihan yang masih mungkin dengan atasan Anda."],
                [f"As of {when_en} you have {e['jp']} lesson hours (JP) of competency development in {inp.year}; every civil servant is entitled "
                 f"and expected to reach at least {inp.min_jp} JP a year. Talk to your superior about training still possible this year."],
            )
        below_by_unit: dict[str, list[dict[str, Any]]] = {}
        for e in inp.employees:
            below_by_unit.setdefault(e["unit"], []).append(e)
        for h in inp.heads:
            staff = below_by_unit.get(h["unit"], [])
            names = ", ".join(f"{people.get(e['nip'], {}).get('nama', e['nip'])} ({e['jp']} JP)" for e in staff[:50])
            more_id = f" dan {len(staff) - 50} lainnya" if len(staff) > 50 else ""
            more_en = f" and {len(staff) - 50} more" if len(staff) > 50 else ""
            add(
                h["nip"], "head",
                f"[asnflow] {h['below']} pegawai {h['unit']} di bawah {inp.min_jp} JP ({inp.year}) / {h['below']} staff below {inp.min_jp} JP",
                [f"Per {when_id}, {h['below']} pegawai di unit Anda belum mencapai {inp.min_jp} JP tahun {inp.year}: {names}{more_id}.",
                 "Mohon usulkan atau rekomendasikan pelatihan bagi mereka sebelum akhir tahun."],
                [f"As of {when_en}, {h['below']} staff of your unit have not reached {inp.min_jp} JP in {inp.year}: {names}{more_en}.",
                 "Please propose or recommend training for them before the year ends."],
            )
        report = await deliver_messages(self.database_url, self.mail, messages)
        return MailSummary(sent=len(report.sent), already_sent=len(report.already_sent), disabled=len(report.disabled))

    @activity.defn(name="send_digests")
    async def send_digests(self, inp: DigestInput) -> DigestResult:
        """One mail per approver on a working day: what waits for them and what is late (mine, my pool, delegated to me)."""
        assert inp.day is not None and inp.at is not None
        day, at = date.fromisoformat(inp.day), datetime.fromisoformat(inp.at)
        if not self.calendar.is_working_day(day):
            return DigestResult(day=inp.day, working_day=False)
        async with await psycopg.AsyncConnection.connect(self.database_url, row_factory=dict_row) as conn:
            rows = await (await conn.execute(DIGEST_SQL, {"at": at})).fetchall()
        by_nip: dict[str, dict[str, Any]] = {}
        for r in rows:
            entry = by_nip.setdefault(r["nip"], {"nama": r["nama"], "email": r["email"], "items": []})
            due = r["due_at"]
            entry["items"].append({
                "title": r["title"] or r["kind"], "due_id": format_id(due, self.calendar), "due_en": format_en(due, self.calendar),
                "late": due < at, "link": self.mail.task_link(r["id"]), "on_behalf_of": r["principal_name"],
            })
        messages = []
        for nip, entry in sorted(by_nip.items()):
            late = sum(1 for i in entry["items"] if i["late"])
            waiting = len(entry["items"])
            subject = f"[asnflow] Ringkasan {format_id(at, self.calendar).split(' pukul')[0]}: {waiting} menunggu, {late} terlambat / Digest: {waiting} waiting, {late} late"
            to = entry["email"] or self.mail.address_template.format(nip=nip)
            messages.append(render(
                self.mail, key=f"digest:{inp.day}:{nip}", case_id="", task_id=None, nip=nip, to=to, subject=subject,
                name=entry["nama"], body_id=[f"Ada {waiting} tugas menunggu keputusan Anda, {late} di antaranya terlambat."],
                body_en=[f"{waiting} tasks are waiting for your decision; {late} of them are late."], items=entry["items"],
                link=f"{self.mail.public_url}/", case_link=None,
            ))
        report = await deliver_messages(self.database_url, self.mail, messages)
        return DigestResult(day=inp.day, working_day=True, recipients=len(messages), sent=len(report.sent))


# Approvers of every open task: the assignee or claimant, the role pool in the unit, and acting officials.
DIGEST_SQL = """
WITH open AS (SELECT * FROM tasks WHERE status IN ('open', 'claimed') AND kind <> 'SUPERVISION'),
who AS (
    SELECT COALESCE(t.claimed_by, t.assignee_nip) AS nip, t.id, NULL::text AS principal
    FROM open t WHERE COALESCE(t.claimed_by, t.assignee_nip) IS NOT NULL
    UNION
    SELECT e.nip, t.id, NULL FROM open t JOIN employees e
      ON t.assignee_nip IS NULL AND t.claimed_by IS NULL AND e.roles ? t.candidate_role
     AND (t.unit IS NULL OR e.unit = t.unit) AND e.nip IS DISTINCT FROM t.subject_nip
    UNION
    SELECT d.acting_nip, t.id, d.principal_nip FROM open t JOIN delegations d
      ON d.principal_nip = t.assignee_nip AND d.status <> 'revoked' AND d.starts_at <= %(at)s AND %(at)s < d.ends_at
     AND (jsonb_array_length(d.processes) = 0 OR d.processes ? t.process)
     AND (jsonb_array_length(d.kinds) = 0 OR d.kinds ? t.kind)
)
SELECT w.nip, e.nama, to_jsonb(e) ->> 'email' AS email, t.id, t.title, t.kind, t.due_at, p.nama AS principal_name
FROM who w JOIN open t ON t.id = w.id JOIN employees e ON e.nip = w.nip LEFT JOIN employees p ON p.nip = w.principal
ORDER BY w.nip, t.due_at
"""


async def deliver_messages(database_url: str, mail: MailConfig, messages: list[MailMessage]) -> DeliveryReport:
    """The outbox protocol: lock the key's row, skip it if sent, else send and store the outcome; raise if any failed."""
    report = DeliveryReport()
    failures: list[str] = []
    smtp: aiosmtplib.SMTP | None = None
    async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as conn:
        for stmt in OUTBOX_DDL:
            await conn.execute(stmt)
        await conn.commit()
        try:
            for msg in messages:
                # The row lock makes a timed-out attempt and its retry take turns on the same key.
                async with conn.transaction():
                    await conn.execute(
                        "INSERT INTO notification_outbox (key, case_id, task_id, recipient_nip, recipient_email, subject, status)"
                        " VALUES (%s, %s, %s, %s, %s, %s, 'pending') ON CONFLICT (key) DO NOTHING",
                        (msg.key, msg.case_id, msg.task_id, msg.recipient_nip, msg.to, msg.subject),
                    )
                    row = await (await conn.execute("SELECT status FROM notification_outbox WHERE key = %s FOR UPDATE", (msg.key,))).fetchone()
                    assert row is not None
                    if row["status"] == "sent":
                        report.already_sent.append(msg.key)
                        continue
                    if not mail.host:
                        await conn.execute("UPDATE notification_outbox SET status = 'disabled', updated_at = now() WHERE key = %s", (msg.key,))
                        report.disabled.append(msg.key)
                        continue
                    try:
                        if smtp is None:
                            smtp = aiosmtplib.SMTP(
                                hostname=mail.host, port=mail.port, use_tls=mail.use_tls, start_tls=mail.starttls,
                                username=mail.username, password=mail.password, timeout=mail.timeout,
                            )
                            await smtp.connect()
                        await smtp.send_message(to_email(mail, msg))
                    except Exception as exc:  # noqa: BLE001 - every failure is stored and retried
                        smtp = await _drop(smtp)
                        error = f"{type(exc).__name__}: {exc}"[:1000]
                        failures.append(f"{msg.key}: {error}")
                        await conn.execute(
                            "UPDATE notification_outbox SET status = 'failed', attempts = attempts + 1, last_error = %s,"
                            " updated_at = now() WHERE key = %s",
                            (error, msg.key),
                        )
                        continue
                    await conn.execute(
                        "UPDATE notification_outbox SET status = 'sent', attempts = attempts + 1, last_error = NULL,"
                        " sent_at = now(), updated_at = now() WHERE key = %s",
                        (msg.key,),
                    )
                    report.sent.append(msg.key)
        finally:
            await _drop(smtp)
    if failures:
        raise ApplicationError(f"{len(failures)} of {len(messages)} mails failed: {failures[0]}", failures, type="MailDeliveryFailed")
    return report


async def _drop(smtp: aiosmtplib.SMTP | None) -> None:
    if smtp is not None and smtp.is_connected:
        try:
            await smtp.quit()
        except Exception:  # noqa: BLE001 - a broken connection is simply discarded
            smtp.close()
    return None


def to_email(mail: MailConfig, msg: MailMessage) -> EmailMessage:
    """The MIME message; its Message-ID derives from the key, so a duplicate is recognisable downstream."""
    email = EmailMessage()
    email["From"] = mail.sender
    email["To"] = msg.to
    email["Subject"] = msg.subject
    email["Message-ID"] = f"<{hashlib.sha256(msg.key.encode()).hexdigest()[:32]}@asnflow>"
    email["X-Asnflow-Key"] = msg.key
    email["Date"] = formatdate()
    email.set_content(msg.text)
    email.add_alternative(msg.html, subtype="html")
    return email



def notification_activities(settings: Any) -> list[Any]:
    """This module's activities wired to the settings (registered by the worker)."""
    notify = NotificationActivities(settings.database_url, MailConfig.from_settings(settings))
    return [
        DeadlineActivities().task_deadlines, notify.prepare_task_notice, notify.deliver,
        notify.prepare_announcement, notify.deliver_announcement, notify.send_digests, notify.send_jp_reminders,
    ]
