"""Views of deadlines that act: in-app notifications per person, delegations, and escalations in the task inbox."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from asnflow.domain import deadlines as dl
from asnflow.domain import events as ev
from asnflow.projections.views import PROJECTIONS, View, ViewProjection


def _task_link(task_id: str | None) -> str | None:
    return f"/?task={quote(task_id, safe='')}" if task_id else None


class NotificationsView(View):
    """One row per person told something: new task, reminder, escalation, delegation, notice."""

    tables = ("notifications",)
    kept_tables = ("notification_reads",)  # people's state, kept across rebuilds (ids are stable)
    ddl = (
        "CREATE TABLE IF NOT EXISTS notifications ("
        " id text PRIMARY KEY, nip text NOT NULL, kind text NOT NULL, case_id text NOT NULL, task_id text,"
        " title_id text NOT NULL, title_en text NOT NULL, link text, on_behalf_of text, reason text,"
        " created_at timestamptz NOT NULL, position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS notifications_nip_idx ON notifications (nip, created_at DESC)",
        "CREATE TABLE IF NOT EXISTS notification_reads ("
        " id text NOT NULL, nip text NOT NULL, read_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (id, nip))",
    )
    handlers = {
        ev.TaskOpened: "on_task_opened",
        dl.TaskReminded: "on_told",
        dl.TaskEscalated: "on_told",
        dl.DelegationGranted: "on_delegation",
        dl.DelegationEnded: "on_delegation",
        dl.NoticeAnnounced: "on_notice",
    }

    @staticmethod
    def _insert(curs: Cursor[DictRow], event: ev.CaseEvent, position: int, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            curs.execute(
                "INSERT INTO notifications (id, nip, kind, case_id, task_id, title_id, title_en, link, on_behalf_of, reason,"
                " created_at, position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                (
                    r["id"], r["nip"], r["kind"], event.case_id, r.get("task_id"), r["title_id"], r["title_en"], r.get("link"),
                    r.get("on_behalf_of"), r.get("reason"), event.occurred_at, position,
                ),
            )

    def on_task_opened(self, curs: Cursor[DictRow], event: ev.TaskOpened, position: int) -> None:
        p = event.payload
        if not p.get("assignee_nip"):
            return
        self._insert(curs, event, position, [{
            "id": f"{p['task_id']}:opened:{p['assignee_nip']}", "nip": p["assignee_nip"], "kind": "task_opened",
            "task_id": p["task_id"], "title_id": f"Tugas baru: {p.get('title')}", "title_en": f"New task: {p.get('title')}",
            "link": _task_link(p["task_id"]), "reason": "assignee",
        }])

    def on_told(self, curs: Cursor[DictRow], event: ev.CaseEvent, position: int) -> None:
        p = event.payload
        kind = "reminder" if isinstance(event, dl.TaskReminded) else "escalation"
        self._insert(curs, event, position, [
            {
                "id": f"{p['key']}:{r['nip']}", "nip": r["nip"], "kind": kind, "task_id": p["task_id"],
                "title_id": r["subject_id"], "title_en": r["subject_en"], "link": _task_link(p["task_id"]),
                "on_behalf_of": r.get("on_behalf_of"), "reason": r.get("reason"),
            }
            for r in p.get("recipients", [])
        ])

    def on_delegation(self, curs: Cursor[DictRow], event: ev.CaseEvent, position: int) -> None:
        p = event.payload
        label = dl.DELEGATION_TYPES.get(p.get("type", ""), {"id": "Pelimpahan wewenang", "en": "delegation"})
        if isinstance(event, dl.DelegationGranted):
            period = f"{p['starts_at'][:10]} – {p['ends_at'][:10]}"
            texts = {
                p["acting_nip"]: (f"Anda ditunjuk sebagai {label['id']} untuk NIP {p['principal_nip']} ({period})",
                                  f"You are appointed {label['en']} for NIP {p['principal_nip']} ({period})"),
                p["principal_nip"]: (f"Wewenang Anda dilimpahkan kepada NIP {p['acting_nip']} ({label['id']}, {period})",
                                     f"Your authority is delegated to NIP {p['acting_nip']} ({label['en']}, {period})"),
            }
            step = "granted"
        else:
            ended = "dicabut" if p.get("status") == "revoked" else "berakhir"
            ended_en = "was revoked" if p.get("status") == "revoked" else "has ended"
            texts = {
                nip: (f"Pelimpahan wewenang {p['principal_nip']} → {p['acting_nip']} {ended}",
                      f"The delegation {p['principal_nip']} → {p['acting_nip']} {ended_en}")
                for nip in (p.get("acting_nip"), p.get("principal_nip")) if nip
            }
            step = "ended"
        self._insert(curs, event, position, [
            {"id": f"{event.case_id}:{step}:{nip}", "nip": nip, "kind": "delegation", "title_id": t[0], "title_en": t[1],
             "link": f"/api/v1/delegations/{quote(event.case_id, safe='')}", "reason": step}
            for nip, t in texts.items()
        ])

    def on_notice(self, curs: Cursor[DictRow], event: dl.NoticeAnnounced, position: int) -> None:
        p = event.payload
        self._insert(curs, event, position, [
            {"id": f"{p['key']}:{nip}", "nip": nip, "kind": "notice", "title_id": f"{p['subject_id']} ({p['period']})",
             "title_en": f"{p['subject_en']} ({p['period']})", "link": "/", "reason": p["notice"]}
            for nip in p.get("recipients", [])
        ])


class DelegationsView(View):
    """Every delegation with its period and status: the inbox routes tasks of active ones."""

    tables = ("delegations",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS delegations ("
        " id text PRIMARY KEY, type text NOT NULL, principal_nip text NOT NULL, principal_roles jsonb NOT NULL,"
        " principal_unit text, acting_nip text NOT NULL, processes jsonb NOT NULL, kinds jsonb NOT NULL,"
        " starts_at timestamptz NOT NULL, ends_at timestamptz NOT NULL, status text NOT NULL, legal_basis text,"
        " reason text, granted_by text, granted_at timestamptz NOT NULL, ended_at timestamptz, ended_by text,"
        " end_reason text, updated_position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS delegations_acting_idx ON delegations (acting_nip, status)",
        "CREATE INDEX IF NOT EXISTS delegations_principal_idx ON delegations (principal_nip, status)",
    )
    handlers = {dl.DelegationGranted: "on_granted", dl.DelegationStarted: "on_started", dl.DelegationEnded: "on_ended"}

    def on_granted(self, curs: Cursor[DictRow], event: dl.DelegationGranted, position: int) -> None:
        p = event.payload
        curs.execute(
            "INSERT INTO delegations (id, type, principal_nip, principal_roles, principal_unit, acting_nip, processes, kinds,"
            " starts_at, ends_at, status, legal_basis, reason, granted_by, granted_at, updated_position)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                p["delegation_id"], p["type"], p["principal_nip"], Jsonb(p.get("principal_roles", [])), p.get("principal_unit"),
                p["acting_nip"], Jsonb(p.get("processes", [])), Jsonb(p.get("kinds", [])), p["starts_at"], p["ends_at"],
                p.get("status", "active"), p.get("legal_basis"), event.reason, p.get("granted_by"), event.occurred_at, position,
            ),
        )

    def on_started(self, curs: Cursor[DictRow], event: dl.DelegationStarted, position: int) -> None:
        curs.execute(
            "UPDATE delegations SET status = 'active', updated_position = %s WHERE id = %s",
            (position, event.payload["delegation_id"]),
        )

    def on_ended(self, curs: Cursor[DictRow], event: dl.DelegationEnded, position: int) -> None:
        curs.execute(
            "UPDATE delegations SET status = %s, ended_at = %s, ended_by = %s, end_reason = %s, updated_position = %s WHERE id = %s",
            (event.payload["status"], event.occurred_at, event.actor.get("nip"), event.reason, position, event.payload["delegation_id"]),
        )


_TasksBase: Any = PROJECTIONS["tasks"][1]


class DeadlineTasksView(_TasksBase):  # type: ignore[misc]
    """The tasks view plus escalations: a reassigned task moves to its new assignee's inbox."""

    ddl = (
        *_TasksBase.ddl,
        "ALTER TABLE tasks ADD COLUMN IF NOT EXISTS escalation_level int NOT NULL DEFAULT 0",
        "ALTER TABLE tasks ADD COLUMN IF NOT EXISTS last_reminded_at timestamptz",
        "ALTER TABLE tasks ADD COLUMN IF NOT EXISTS supervises text",
    )
    handlers = {**_TasksBase.handlers, dl.TaskEscalated: "on_escalated", dl.TaskReminded: "on_reminded"}

    def on_opened(self, curs: Cursor[DictRow], event: ev.TaskOpened, position: int) -> None:
        super().on_opened(curs, event, position)
        if event.payload.get("supervises"):
            self.update_task(curs, event.payload["task_id"], {"supervises": event.payload["supervises"]})

    def on_escalated(self, curs: Cursor[DictRow], event: dl.TaskEscalated, position: int) -> None:
        p = event.payload
        if p.get("mode") == dl.REASSIGN and p.get("to_nip"):
            self.update_task(
                curs, p["task_id"],
                {"assignee_nip": p["to_nip"], "claimed_by": None, "status": "open", "escalation_level": p["level"], "updated_position": position},
                statuses=("open", "claimed"),
            )
        else:
            self.update_task(curs, p["task_id"], {"escalation_level": p["level"], "updated_position": position})

    def on_reminded(self, curs: Cursor[DictRow], event: dl.TaskReminded, position: int) -> None:
        self.update_task(curs, event.payload["task_id"], {"last_reminded_at": event.occurred_at, "updated_position": position})


class NotificationsProjection(ViewProjection):
    name = "notifications"


class DelegationsProjection(ViewProjection):
    name = "delegations"


PROJECTIONS.update({
    "notifications": (NotificationsProjection, NotificationsView),
    "delegations": (DelegationsProjection, DelegationsView),
    "tasks": (PROJECTIONS["tasks"][0], DeadlineTasksView),
})
