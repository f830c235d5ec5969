"""Training views: needs, plans and budget (plan against realisation), enrolments, evidence, JP credits, reminders, reports, Latsar."""

from __future__ import annotations

from typing import Any

from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from asnflow.domain import events as ev
from asnflow.domain import training as tr
from asnflow.projections.views import PROJECTIONS, View, ViewProjection

PLAN_EVENTS = (
    "TrainingPlanDrafted", "TrainingPlanReturned", "TrainingPlanApproved", "TrainingPlanAmendmentProposed",
    "TrainingPlanAmendmentReturned", "TrainingPlanAmended",
)
ENROLMENT_STATUS = {
    "EnrolmentRecommended": "recommended",
    "EnrolmentNotRecommended": "not_recommended",
    "EnrolmentValidated": "validated",
    "EnrolmentRejected": "rejected",
    "EnrolmentLapsed": "lapsed",
    "CompletionEvidenceSubmitted": "evidence_submitted",
    "CompletionRejected": "evidence_rejected",
    "CompletionVerified": "verified",
    "TrainingEvaluated": "completed",
}


class TrainingView(View):
    """Every training read model, kept by one projection so a rebuild is one transaction."""

    tables = (
        "training_cycles", "training_needs", "training_needs_units", "training_plans", "training_plan_history", "training_budget",
        "training_enrolments", "training_evidence", "training_credits", "training_reminders", "training_reports", "training_latsar",
    )
    ddl = (
        "CREATE TABLE IF NOT EXISTS training_cycles (year int PRIMARY KEY, case_id text NOT NULL, status text NOT NULL,"
        " rules text, min_jp int NOT NULL, schedule jsonb NOT NULL, opened_at timestamptz NOT NULL, closed_at timestamptz,"
        " updated_position bigint NOT NULL)",
        "CREATE TABLE IF NOT EXISTS training_needs (year int NOT NULL, nip text NOT NULL, unit text NOT NULL, nama text,"
        " jabatan text, jenis_jabatan text, standard jsonb NOT NULL, profile jsonb NOT NULL, gaps jsonb NOT NULL, predicate text,"
        " performance_gap int NOT NULL, priority int NOT NULL, recommended jsonb NOT NULL, PRIMARY KEY (year, nip))",
        "CREATE INDEX IF NOT EXISTS training_needs_unit_idx ON training_needs (year, unit, priority DESC)",
        "CREATE TABLE IF NOT EXISTS training_needs_units (year int NOT NULL, unit text NOT NULL, summary jsonb NOT NULL,"
        " PRIMARY KEY (year, unit))",
        "CREATE TABLE IF NOT EXISTS training_plans (year int PRIMARY KEY, case_id text NOT NULL, status text NOT NULL,"
        " version int NOT NULL, budgets jsonb NOT NULL, items jsonb NOT NULL, total bigint NOT NULL, pending_version int,"
        " approved_at timestamptz, updated_position bigint NOT NULL)",
        "CREATE TABLE IF NOT EXISTS training_plan_history (position bigint PRIMARY KEY, year int NOT NULL, event text NOT NULL,"
        " version int, payload jsonb NOT NULL, actor_nip text, reason text, occurred_at timestamptz NOT NULL)",
        "CREATE TABLE IF NOT EXISTS training_budget (year int NOT NULL, unit text NOT NULL, planned bigint NOT NULL DEFAULT 0,"
        " held bigint NOT NULL DEFAULT 0, committed bigint NOT NULL DEFAULT 0, released bigint NOT NULL DEFAULT 0,"
        " realised bigint NOT NULL DEFAULT 0, PRIMARY KEY (year, unit))",
        "CREATE TABLE IF NOT EXISTS training_enrolments (case_id text PRIMARY KEY, year int NOT NULL, nip text NOT NULL,"
        " unit text NOT NULL, course text NOT NULL, form text NOT NULL, method text, jp_nominal int NOT NULL, cost bigint NOT NULL,"
        " funded boolean NOT NULL, status text NOT NULL, proposed_by text, proposed_at timestamptz NOT NULL, recommended_by text,"
        " validated_by text, evidence_sha256 text, hours int, completed_on date, verified_by text, credited_jp int,"
        " evaluation jsonb, reason text, closed_at timestamptz, updated_position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS training_enrolments_nip_idx ON training_enrolments (nip, year)",
        "CREATE INDEX IF NOT EXISTS training_enrolments_unit_idx ON training_enrolments (year, unit, status)",
        "CREATE TABLE IF NOT EXISTS training_evidence (sha256 text NOT NULL, case_id text NOT NULL, nip text NOT NULL,"
        " status text NOT NULL, submitted_at timestamptz NOT NULL, position bigint NOT NULL, PRIMARY KEY (sha256, case_id))",
        "CREATE TABLE IF NOT EXISTS training_credits (case_id text PRIMARY KEY, nip text NOT NULL, unit text NOT NULL,"
        " year int NOT NULL, jp int NOT NULL, course text NOT NULL, form text NOT NULL, competency text, level int,"
        " credited_at timestamptz NOT NULL, position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS training_credits_year_idx ON training_credits (year, nip)",
        "CREATE TABLE IF NOT EXISTS training_reminders (position bigint NOT NULL, recipient_nip text NOT NULL, audience text NOT NULL,"
        " year int, unit text, jp int, min_jp int, below int, scheduled_for timestamptz, reminded_at timestamptz NOT NULL,"
        " case_id text NOT NULL, details jsonb NOT NULL DEFAULT '{}', PRIMARY KEY (position, recipient_nip, audience))",
        "CREATE INDEX IF NOT EXISTS training_reminders_recipient_idx ON training_reminders (recipient_nip, reminded_at DESC)",
        "CREATE TABLE IF NOT EXISTS training_reports (year int PRIMARY KEY, case_id text NOT NULL, report jsonb NOT NULL,"
        " issued_at timestamptz NOT NULL, position bigint NOT NULL)",
        "CREATE TABLE IF NOT EXISTS training_latsar (case_id text PRIMARY KEY, nip text NOT NULL, nama text, unit text,"
        " tmt_cpns date NOT NULL, probation_ends timestamptz NOT NULL, max_probation_ends timestamptz NOT NULL, status text NOT NULL,"
        " attempts int NOT NULL DEFAULT 0, cohort text, score numeric, passed_at timestamptz, within_probation boolean,"
        " reminded_at timestamptz, escalations int NOT NULL DEFAULT 0, last_escalated_at timestamptz, closed_at timestamptz,"
        " selection_case_id text, updated_position bigint NOT NULL)",
    )

    def concerns(self, event: Any) -> bool:
        return isinstance(event, ev.CaseEvent) and event.process == tr.PROCESS

    def apply(self, curs: Cursor[DictRow], event: Any, position: int) -> None:
        if not self.concerns(event):
            return
        name = type(event).__name__
        handler = getattr(self, f"on_{name}", None)
        if handler is not None:
            handler(curs, event, position)
        if name in PLAN_EVENTS:
            self._plan(curs, event, position)
        if name in ENROLMENT_STATUS:
            curs.execute(
                "UPDATE training_enrolments SET status = %s, reason = COALESCE(NULLIF(%s, ''), reason), updated_position = %s WHERE case_id = %s",
                (ENROLMENT_STATUS[name], event.reason, position, event.case_id),
            )

    @staticmethod
    def _year(event: ev.CaseEvent) -> int:
        return int(event.case_id.split("-")[1])

    # --- the cycle ---------------------------------------------------------------------------------
    def on_TrainingCycleStarted(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        p = e.payload
        curs.execute(
            "INSERT INTO training_cycles (year, case_id, status, rules, min_jp, schedule, opened_at, updated_position)"
            " VALUES (%s, %s, 'planning', %s, %s, %s, %s, %s)",
            (p["year"], e.case_id, p["rules"], p["min_jp"], Jsonb(p["schedule"]), e.occurred_at, position),
        )

    def on_TrainingScheduleChanged(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        schedule = {"reminders": e.payload["reminders"], "report_at": e.payload["report_at"]}
        curs.execute("UPDATE training_cycles SET schedule = %s, updated_position = %s WHERE case_id = %s", (Jsonb(schedule), position, e.case_id))

    def on_CaseClosed(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        status = e.payload.get("status", "completed")
        curs.execute("UPDATE training_cycles SET status = 'closed', closed_at = %s, updated_position = %s WHERE case_id = %s",
                     (e.occurred_at, position, e.case_id))
        curs.execute(
            "UPDATE training_enrolments SET closed_at = %s, updated_position = %s,"
            " status = CASE WHEN %s IN ('cancelled') THEN 'cancelled' WHEN status = 'verified' THEN 'completed' ELSE status END"
            " WHERE case_id = %s",
            (e.occurred_at, position, status, e.case_id),
        )
        curs.execute(
            "UPDATE training_latsar SET closed_at = %s, updated_position = %s,"
            " status = CASE WHEN %s = 'cancelled' THEN 'cancelled' ELSE status END WHERE case_id = %s",
            (e.occurred_at, position, status, e.case_id),
        )

    def on_TrainingNeedsAnalysed(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        p = e.payload
        curs.execute(
            "INSERT INTO training_needs_units (year, unit, summary) VALUES (%s, %s, %s)"
            " ON CONFLICT (year, unit) DO UPDATE SET summary = EXCLUDED.summary",
            (p["year"], p["unit"], Jsonb(p["summary"])),
        )
        curs.executemany(
            "INSERT INTO training_needs (year, nip, unit, nama, jabatan, jenis_jabatan, standard, profile, gaps, predicate,"
            " performance_gap, priority, recommended) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (year, nip) DO UPDATE SET unit = EXCLUDED.unit, standard = EXCLUDED.standard, profile = EXCLUDED.profile,"
            " gaps = EXCLUDED.gaps, predicate = EXCLUDED.predicate, performance_gap = EXCLUDED.performance_gap,"
            " priority = EXCLUDED.priority, recommended = EXCLUDED.recommended",
            [
                (p["year"], r["nip"], r["unit"], r.get("nama"), r["jabatan"], r["jenis_jabatan"], Jsonb(r["standard"]), Jsonb(r["profile"]),
                 Jsonb(r["gaps"]), r.get("predicate"), r["performance_gap"], r["priority"], Jsonb(r["recommended"]))
                for r in p["employees"]
            ],
        )

    def _plan(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        name, p, year = type(e).__name__, e.payload, self._year(e)
        curs.execute(
            "INSERT INTO training_plan_history (position, year, event, version, payload, actor_nip, reason, occurred_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (position, year, name, p.get("version"), Jsonb(p), e.actor.get("nip"), e.reason, e.occurred_at),
        )
        if name == "TrainingPlanDrafted":
            curs.execute(
                "INSERT INTO training_plans (year, case_id, status, version, budgets, items, total, updated_position)"
                " VALUES (%s, %s, 'drafted', %s, %s, %s, %s, %s) ON CONFLICT (year) DO UPDATE SET status = 'drafted',"
                " budgets = EXCLUDED.budgets, items = EXCLUDED.items, total = EXCLUDED.total, updated_position = EXCLUDED.updated_position",
                (year, e.case_id, p["version"], Jsonb(p["budgets"]), Jsonb(p["items"]), p["total"], position),
            )
        elif name == "TrainingPlanReturned":
            curs.execute("UPDATE training_plans SET status = 'returned', updated_position = %s WHERE year = %s", (position, year))
        elif name in ("TrainingPlanApproved", "TrainingPlanAmended"):
            curs.execute(
                "UPDATE training_plans SET status = 'approved', version = %s, budgets = %s, items = %s, total = %s, pending_version = NULL,"
                " approved_at = COALESCE(approved_at, %s), updated_position = %s WHERE year = %s",
                (p["version"], Jsonb(p["budgets"]), Jsonb(p["items"]), p["total"], e.occurred_at, position, year),
            )
            curs.execute("UPDATE training_cycles SET status = 'running', updated_position = %s WHERE year = %s AND status = 'planning'", (position, year))
            curs.execute("UPDATE training_budget SET planned = 0 WHERE year = %s AND NOT (unit = ANY(%s))", (year, list(p["budgets"])))
            curs.executemany(
                "INSERT INTO training_budget (year, unit, planned) VALUES (%s, %s, %s)"
                " ON CONFLICT (year, unit) DO UPDATE SET planned = EXCLUDED.planned",
                [(year, unit, amount) for unit, amount in p["budgets"].items()],
            )
        elif name == "TrainingPlanAmendmentProposed":
            curs.execute("UPDATE training_plans SET pending_version = %s, updated_position = %s WHERE year = %s", (p["version"], position, year))
        elif name == "TrainingPlanAmendmentReturned":
            curs.execute("UPDATE training_plans SET pending_version = NULL, updated_position = %s WHERE year = %s", (position, year))

    def _budget(self, curs: Cursor[DictRow], year: int, unit: str, **deltas: int) -> None:
        sets = ", ".join(f"{column} = training_budget.{column} + %s" for column in deltas)
        curs.execute(
            f"INSERT INTO training_budget (year, unit, {', '.join(deltas)}) VALUES (%s, %s, {', '.join(['%s'] * len(deltas))})"  # noqa: S608
            f" ON CONFLICT (year, unit) DO UPDATE SET {sets}",
            (year, unit, *deltas.values(), *deltas.values()),
        )

    def on_TrainingBudgetHeld(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        self._budget(curs, self._year(e), e.payload["unit"], held=e.payload["amount"])

    def on_TrainingBudgetCommitted(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        amount = e.payload["amount"]
        self._budget(curs, self._year(e), e.payload["unit"], held=-amount, committed=amount)

    def on_TrainingBudgetReleased(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        amount, was = e.payload["amount"], e.payload["was"]
        self._budget(curs, self._year(e), e.payload["unit"], **{was: -amount, "released": amount})

    def on_JpShortfallReminded(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        p = e.payload
        rows = [
            (position, r["nip"], "EMPLOYEE", p["year"], r["unit"], r["jp"], p["min_jp"], None, p["scheduled_for"], e.occurred_at, e.case_id, Jsonb({}))
            for r in p["employees"]
        ] + [
            (position, h["nip"], "HEAD", p["year"], h["unit"], None, p["min_jp"], h["below"], p["scheduled_for"], e.occurred_at, e.case_id, Jsonb({}))
            for h in p["heads"]
        ]
        self._reminders(curs, rows)

    def on_LatsarProbationEscalated(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        p = e.payload
        rows = [
            (position, t["nip"], "LATSAR_ESCALATION", None, p["unit"], None, None, None, None, e.occurred_at, e.case_id,
             Jsonb({"nip": p["nip"], "level": p["level"], "days_late": p["days_late"], "probation_ends": p["probation_ends"]}))
            for t in p["escalate_to"] if t.get("nip")
        ]
        self._reminders(curs, rows)
        curs.execute(
            "UPDATE training_latsar SET escalations = %s, last_escalated_at = %s, updated_position = %s WHERE case_id = %s",
            (p["level"], e.occurred_at, position, e.case_id),
        )

    @staticmethod
    def _reminders(curs: Cursor[DictRow], rows: list[tuple[Any, ...]]) -> None:
        curs.executemany(
            "INSERT INTO training_reminders (position, recipient_nip, audience, year, unit, jp, min_jp, below, scheduled_for,"
            " reminded_at, case_id, details) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )

    def on_ComplianceReportIssued(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        curs.execute(
            "INSERT INTO training_reports (year, case_id, report, issued_at, position) VALUES (%s, %s, %s, %s, %s)",
            (e.payload["year"], e.case_id, Jsonb(e.payload), e.occurred_at, position),
        )
        curs.execute("UPDATE training_cycles SET status = 'reported', updated_position = %s WHERE case_id = %s", (position, e.case_id))

    # --- enrolments ----------------------------------------------------------------------------------
    def on_EnrolmentProposed(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        p = e.payload
        curs.execute(
            "INSERT INTO training_enrolments (case_id, year, nip, unit, course, form, method, jp_nominal, cost, funded, status,"
            " proposed_by, proposed_at, updated_position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'proposed', %s, %s, %s)",
            (e.case_id, p["year"], p["nip"], p["unit"], p["course"], p["form"], p["method"], p["jp"], p["cost"], p["funded"],
             p["proposed_by"], e.occurred_at, position),
        )

    def on_EnrolmentRecommended(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        curs.execute("UPDATE training_enrolments SET recommended_by = %s WHERE case_id = %s", (e.payload["recommended_by"], e.case_id))

    def on_EnrolmentValidated(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        curs.execute("UPDATE training_enrolments SET validated_by = %s WHERE case_id = %s", (e.payload["validated_by"], e.case_id))

    def on_CompletionEvidenceSubmitted(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        p = e.payload
        curs.execute(
            "UPDATE training_enrolments SET evidence_sha256 = %s, hours = %s, completed_on = %s WHERE case_id = %s",
            (p["file_sha256"], p["hours"], p["completed_on"], e.case_id),
        )
        curs.execute(
            "INSERT INTO training_evidence (sha256, case_id, nip, status, submitted_at, position) VALUES (%s, %s, %s, 'submitted', %s, %s)"
            " ON CONFLICT (sha256, case_id) DO UPDATE SET status = 'submitted', position = EXCLUDED.position",
            (p["file_sha256"], e.case_id, p.get("submitted_by") or "", e.occurred_at, position),
        )

    def on_CompletionRejected(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        curs.execute("UPDATE training_evidence SET status = 'rejected' WHERE sha256 = %s AND case_id = %s", (e.payload["file_sha256"], e.case_id))

    def on_CompletionVerified(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        p = e.payload
        curs.execute("UPDATE training_evidence SET status = 'verified' WHERE sha256 = %s AND case_id = %s", (p["file_sha256"], e.case_id))
        curs.execute("UPDATE training_enrolments SET verified_by = %s WHERE case_id = %s", (p["verified_by"], e.case_id))
        self._budget(curs, p["year"], p["unit"], realised=p["cost"])

    def on_JpCredited(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        p = e.payload
        curs.execute(
            "INSERT INTO training_credits (case_id, nip, unit, year, jp, course, form, competency, level, credited_at, position)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (e.case_id, p["nip"], p["unit"], p["year"], p["jp"], p["course"], p["form"], p.get("competency"), p.get("level"), e.occurred_at, position),
        )
        curs.execute("UPDATE training_enrolments SET credited_jp = %s WHERE case_id = %s", (p["jp"], e.case_id))

    def on_TrainingEvaluated(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        curs.execute("UPDATE training_enrolments SET evaluation = %s WHERE case_id = %s", (Jsonb(e.payload), e.case_id))

    # --- Latsar ---------------------------------------------------------------------------------------
    def on_LatsarHandedOff(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        p = e.payload
        curs.execute(
            "INSERT INTO training_latsar (case_id, nip, nama, unit, tmt_cpns, probation_ends, max_probation_ends, status,"
            " selection_case_id, updated_position) VALUES (%s, %s, %s, %s, %s, %s, %s, 'handed_off', %s, %s)",
            (e.case_id, p["nip"], p["nama"], p["unit"], p["tmt_cpns"], p["probation_ends"], p["max_probation_ends"],
             p.get("selection_case_id") or None, position),
        )

    def on_LatsarEnrolled(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        curs.execute(
            "UPDATE training_latsar SET status = 'enrolled', attempts = %s, cohort = %s, updated_position = %s WHERE case_id = %s",
            (e.payload["attempt"], e.payload.get("cohort"), position, e.case_id),
        )

    def on_LatsarPassed(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        curs.execute(
            "UPDATE training_latsar SET status = 'passed', score = %s, passed_at = %s, within_probation = %s, updated_position = %s"
            " WHERE case_id = %s",
            (e.payload["score"], e.occurred_at, e.payload["within_probation"], position, e.case_id),
        )

    def on_LatsarFailed(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        status = "failed" if e.payload["attempts_left"] <= 0 else "retake"
        curs.execute("UPDATE training_latsar SET status = %s, score = %s, updated_position = %s WHERE case_id = %s",
                     (status, e.payload["score"], position, e.case_id))

    def on_LatsarProbationReminded(self, curs: Cursor[DictRow], e: ev.CaseEvent, position: int) -> None:
        curs.execute("UPDATE training_latsar SET reminded_at = %s, updated_position = %s WHERE case_id = %s", (e.occurred_at, position, e.case_id))


class TrainingProjection(ViewProjection):
    name = "training"


PROJECTIONS["training"] = (TrainingProjection, TrainingView)
