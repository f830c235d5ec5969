"""Complaint view tables: status by case (identities sealed), anonymised facts for metrics, evidence per named ASN."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from asnflow.domain import complaints as cp
from asnflow.domain import events as ev
from asnflow.domain.calendar import BusinessCalendar
from asnflow.projections.views import PROJECTIONS, View, ViewProjection

CLOSING_STAGE = "closed"


def _is_complaint(event: Any) -> bool:
    return isinstance(event, ev.CaseEvent) and event.process == cp.PROCESS


# One row per complaint; never the reporter's identity (complaint managers' API reads it from the store).
STATUS_DDL = (
    "CREATE TABLE IF NOT EXISTS complaints ("
    " case_id text PRIMARY KEY, kind text NOT NULL, unit text NOT NULL, filed_unit text NOT NULL,"
    " stage text NOT NULL, closure text, description text NOT NULL, anonymous boolean NOT NULL,"
    " confidential boolean NOT NULL, identity_sealed text, asn_nip text, attachments jsonb NOT NULL,"
    " fingerprint text NOT NULL, regulation text NOT NULL, filed_at timestamptz NOT NULL,"
    " verified_at timestamptz, closed_at timestamptz, due jsonb NOT NULL DEFAULT '{}',"
    " breaches jsonb NOT NULL DEFAULT '[]', escalated boolean NOT NULL DEFAULT false,"
    " follow_ups jsonb NOT NULL DEFAULT '[]', responses jsonb NOT NULL DEFAULT '[]',"
    " timeline jsonb NOT NULL DEFAULT '[]', updated_position bigint NOT NULL)",
    "CREATE INDEX IF NOT EXISTS complaints_fingerprint_idx ON complaints (fingerprint, filed_at DESC)",
    "CREATE INDEX IF NOT EXISTS complaints_unit_idx ON complaints (unit, stage, filed_at DESC)",
    "CREATE INDEX IF NOT EXISTS complaints_escalated_idx ON complaints (escalated, filed_at DESC)",
)


def apply_status(curs: Cursor[DictRow], event: Any, position: int) -> None:
    """The complaints table: the public story of each complaint."""
    name = type(event).__name__
    p = event.payload
    step = {"type": name, "at": event.occurred_at.isoformat()}
    if isinstance(event, cp.ComplaintFiled):
        curs.execute(
            "INSERT INTO complaints (case_id, kind, unit, filed_unit, stage, description, anonymous, confidential,"
            " identity_sealed, asn_nip, attachments, fingerprint, regulation, filed_at, due, timeline, updated_position)"
            " VALUES (%s, %s, %s, %s, 'verification', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                event.case_id, p["kind"], p["unit"], p["unit"], p["description"], p["anonymous"], p["confidential"],
                p.get("identity_sealed"), p.get("asn_nip"), Jsonb(p.get("attachments", [])), p["fingerprint"],
                p["regulation"], event.occurred_at, Jsonb({"verification": p["verification_due_at"]}),
                Jsonb([step]), position,
            ),
        )
        return
    sets: list[str] = []
    params: list[Any] = []

    def put(sql: str, *values: Any) -> None:
        sets.append(sql)
        params.extend(values)

    dues: dict[str, str | None] = {}

    def due(key: str, value: str | None) -> None:
        dues[key] = value

    if isinstance(event, cp.ComplaintVerified):
        put("stage = 'follow_up'")
        put("verified_at = %s", event.occurred_at)
        put("unit = %s", p["unit"])
        due("resolution", p["resolution_due_at"])
    elif isinstance(event, cp.ComplaintRouted):
        put("stage = 'follow_up'")
        put("unit = %s", p["unit"])
        due("follow_up", p["follow_up_due_at"])
        due("reply_window_until", None)
    elif isinstance(event, cp.ComplaintPostponed):
        put("stage = 'postponed'")
        due("supplement", p["supplement_due_at"])
    elif isinstance(event, cp.FollowUpPlanPosted):
        put("stage = 'awaiting_reply'")
        put("follow_ups = follow_ups || %s", Jsonb([{"at": step["at"], "text": p["text"], "final": p["final"], "round": p["round"]}]))
        due("reply_window_until", p["reply_window_until"])
    elif isinstance(event, cp.ReporterResponded):
        put("responses = responses || %s", Jsonb([{"at": step["at"], "message": p["message"], "satisfied": p["satisfied"]}]))
        if p["stage"] == "postponed":
            put("stage = 'verification'")
        elif not p["satisfied"]:
            put("stage = 'follow_up'")
    elif isinstance(event, cp.ServiceLevelBreached):
        put("breaches = breaches || %s", Jsonb([{"level": p["level"], "due_at": p["due_at"], "at": step["at"]}]))
    elif isinstance(event, cp.ComplaintEscalated):
        put("escalated = true")
    elif isinstance(event, ev.CaseClosed):
        put("stage = %s", CLOSING_STAGE)
        put("closure = %s", p.get("outcome", {}).get("closure", p.get("status")))
        put("closed_at = %s", event.occurred_at)
    elif not isinstance(
        event, (cp.ComplaintOutsideAuthority, cp.ComplaintArchived, cp.ComplaintAutoClosed, cp.ComplaintResolved)
    ):
        return  # tasks and other mechanics are not part of the public story
    if dues:
        put("due = due || %s", Jsonb(dues))
    put("timeline = timeline || %s", Jsonb([{**step, **({"level": p["level"]} if "level" in p else {})}]))
    put("updated_position = %s", position)
    curs.execute(f"UPDATE complaints SET {', '.join(sets)} WHERE case_id = %s", [*params, event.case_id])  # noqa: S608


# Anonymised facts per complaint (no text, no people): the source of the public metrics.
FACTS_DDL = (
    "CREATE TABLE IF NOT EXISTS complaint_facts ("
    " case_id text PRIMARY KEY, unit text NOT NULL, kind text NOT NULL, filed_at timestamptz NOT NULL,"
    " first_follow_up_at timestamptz, follow_up_working_days int, resolved_at timestamptz, resolution_days int,"
    " breached_levels jsonb NOT NULL DEFAULT '[]', closure text, updated_position bigint NOT NULL)",
    "CREATE INDEX IF NOT EXISTS complaint_facts_unit_idx ON complaint_facts (unit, kind)",
)


@cache
def business_calendar() -> BusinessCalendar:
    return BusinessCalendar()


def working_days(start: datetime, end: datetime) -> int:
    """Working days from the day of filing to the day of the follow-up (the filing day does not count)."""
    return business_calendar().working_days_between(cp.local_date(start), cp.local_date(end))


def apply_facts(curs: Cursor[DictRow], event: Any, position: int) -> None:
    """The complaint_facts table."""
    p, case_id = event.payload, event.case_id
    if isinstance(event, cp.ComplaintFiled):
        curs.execute(
            "INSERT INTO complaint_facts (case_id, unit, kind, filed_at, updated_position) VALUES (%s, %s, %s, %s, %s)",
            (case_id, p["unit"], p["kind"], event.occurred_at, position),
        )
    elif isinstance(event, (cp.ComplaintVerified, cp.ComplaintRouted)):
        curs.execute(
            "UPDATE complaint_facts SET unit = %s, updated_position = %s WHERE case_id = %s", (p["unit"], position, case_id)
        )
    elif isinstance(event, cp.FollowUpPlanPosted):
        row = curs.execute(
            "SELECT filed_at FROM complaint_facts WHERE case_id = %s AND first_follow_up_at IS NULL", (case_id,)
        ).fetchone()
        if row is not None:
            days = working_days(row["filed_at"], event.occurred_at)
            curs.execute(
                "UPDATE complaint_facts SET first_follow_up_at = %s, follow_up_working_days = %s, updated_position = %s"
                " WHERE case_id = %s",
                (event.occurred_at, days, position, case_id),
            )
    elif isinstance(event, cp.ComplaintResolved):
        curs.execute(
            "UPDATE complaint_facts SET resolved_at = %s,"
            " resolution_days = (%s::date - (filed_at AT TIME ZONE 'Asia/Jakarta')::date), updated_position = %s"
            " WHERE case_id = %s",
            (event.occurred_at, cp.local_date(event.occurred_at), position, case_id),
        )
    elif isinstance(event, cp.ServiceLevelBreached):
        curs.execute(
            "UPDATE complaint_facts SET breached_levels = breached_levels || %s, updated_position = %s WHERE case_id = %s",
            (Jsonb([p["level"]]), position, case_id),
        )
    elif isinstance(event, ev.CaseClosed):
        closure = p.get("outcome", {}).get("closure", p.get("status"))
        curs.execute(
            "UPDATE complaint_facts SET closure = %s, updated_position = %s WHERE case_id = %s", (closure, position, case_id)
        )


# Verified complaints naming an ASN: evidence for their appraiser, with the ASN's own response.
EVIDENCE_DDL = (
    "CREATE TABLE IF NOT EXISTS complaint_evidence ("
    " case_id text PRIMARY KEY, asn_nip text NOT NULL, kind text NOT NULL, unit text NOT NULL,"
    " description text NOT NULL, filed_at timestamptz NOT NULL, verified_at timestamptz,"
    " visible boolean NOT NULL DEFAULT false, follow_ups jsonb NOT NULL DEFAULT '[]', asn_response text,"
    " asn_responded_at timestamptz, closure text, closed_at timestamptz, updated_position bigint NOT NULL)",
    "CREATE INDEX IF NOT EXISTS complaint_evidence_asn_idx ON complaint_evidence (asn_nip, visible)",
)


def apply_evidence(curs: Cursor[DictRow], event: Any, position: int) -> None:
    """The complaint_evidence table."""
    p, case_id = event.payload, event.case_id
    if isinstance(event, cp.ComplaintFiled):
        # Whistleblowing never reaches the person concerned or their superior through this view.
        if p.get("asn_nip") and p["kind"] not in cp.ALWAYS_CONFIDENTIAL:
            curs.execute(
                "INSERT INTO complaint_evidence (case_id, asn_nip, kind, unit, description, filed_at, updated_position)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (case_id, p["asn_nip"], p["kind"], p["unit"], p["description"], event.occurred_at, position),
            )
    elif isinstance(event, cp.ComplaintVerified):
        if p.get("asn_nip"):
            curs.execute(
                "UPDATE complaint_evidence SET visible = true, verified_at = %s, unit = %s, updated_position = %s"
                " WHERE case_id = %s",
                (event.occurred_at, p["unit"], position, case_id),
            )
        else:  # the verifier did not confirm the ASN named by the reporter
            curs.execute("DELETE FROM complaint_evidence WHERE case_id = %s", (case_id,))
    elif isinstance(event, cp.FollowUpPlanPosted):
        item = {"at": event.occurred_at.isoformat(), "text": p["text"], "final": p["final"]}
        curs.execute(
            "UPDATE complaint_evidence SET follow_ups = follow_ups || %s, updated_position = %s WHERE case_id = %s",
            (Jsonb([item]), position, case_id),
        )
    elif isinstance(event, cp.AsnResponded):
        curs.execute(
            "UPDATE complaint_evidence SET asn_response = %s, asn_responded_at = %s, updated_position = %s"
            " WHERE case_id = %s",
            (p["response"], event.occurred_at, position, case_id),
        )
    elif isinstance(event, ev.CaseClosed):
        closure = p.get("outcome", {}).get("closure", p.get("status"))
        curs.execute(
            "UPDATE complaint_evidence SET closure = %s, closed_at = %s, updated_position = %s WHERE case_id = %s",
            (closure, event.occurred_at, position, case_id),
        )


class ComplaintsView(View):
    """The three complaint tables in one transaction and one tracking position (one projector runner, not three)."""

    tables = ("complaints", "complaint_facts", "complaint_evidence")
    ddl = STATUS_DDL + FACTS_DDL + EVIDENCE_DDL

    def concerns(self, event: Any) -> bool:
        return _is_complaint(event)

    def apply(self, curs: Cursor[DictRow], event: Any, position: int) -> None:
        if _is_complaint(event):
            apply_status(curs, event, position)
            apply_facts(curs, event, position)
            apply_evidence(curs, event, position)


class ComplaintsProjection(ViewProjection):
    name = "complaints"


COMPLAINT_PROJECTIONS: dict[str, tuple[type[ViewProjection], type[View]]] = {"complaints": (ComplaintsProjection, ComplaintsView)}
PROJECTIONS.update(COMPLAINT_PROJECTIONS)
