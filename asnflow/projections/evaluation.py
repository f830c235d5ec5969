"""Evaluation read models: each case's state and whom it waits on, unit calibrations, distribution vs quota, predicate history."""

from __future__ import annotations

from typing import Any

from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from asnflow.domain import evaluation as _evaluation_events  # noqa: F401 - event classes resolvable by name
from asnflow.domain import performance
from asnflow.domain.events import CaseEvent
from asnflow.projections.views import PROJECTIONS, View, ViewProjection

PROCESSES = ("evaluation", "evaluation_calibration")


class EvaluationView(View):
    """Four tables from the evaluation and calibration cases' events, in one transaction per event."""

    tables = ("evaluation_cases", "evaluation_calibrations", "evaluation_distribution", "employee_predicates")
    ddl = (
        "CREATE TABLE IF NOT EXISTS evaluation_cases ("
        " case_id text PRIMARY KEY, nip text NOT NULL, year int NOT NULL, unit text, jabatan text, jenis_jabatan text,"
        " appraiser_nip text, status text NOT NULL, phase text NOT NULL, skp_period int NOT NULL DEFAULT 1,"
        " skp_agreed boolean NOT NULL DEFAULT false, targets jsonb, expectations jsonb,"
        " checkins int NOT NULL DEFAULT 0, evidence int NOT NULL DEFAULT 0, transfers int NOT NULL DEFAULT 0,"
        " raw text, calibrated text, final text, finalised boolean NOT NULL DEFAULT false, calibration_case_id text,"
        " objection_deadline timestamptz, objection text, credit_points double precision, credit jsonb,"
        " waiting_task_id text, waiting_kind text, waiting_assignee_nip text, waiting_role text, waiting_unit text,"
        " waiting_since timestamptz, waiting_due timestamptz,"
        " opened_at timestamptz NOT NULL, closed_at timestamptz, updated_position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS evaluation_cases_unit_idx ON evaluation_cases (unit, year, status)",
        "CREATE INDEX IF NOT EXISTS evaluation_cases_nip_idx ON evaluation_cases (nip, year)",
        "CREATE INDEX IF NOT EXISTS evaluation_cases_waiting_idx ON evaluation_cases (waiting_assignee_nip, waiting_kind)",
        "CREATE TABLE IF NOT EXISTS evaluation_calibrations ("
        " case_id text PRIMARY KEY, unit text NOT NULL, year int NOT NULL, round int NOT NULL DEFAULT 1,"
        " head_nip text, leader_nip text, org_predicate text, status text NOT NULL, members int NOT NULL DEFAULT 0,"
        " raw_distribution jsonb, distribution jsonb, quota_violations jsonb, quota_justification text,"
        " adjustments jsonb NOT NULL DEFAULT '[]',"
        " waiting_task_id text, waiting_kind text, waiting_assignee_nip text, waiting_role text, waiting_since timestamptz,"
        " opened_at timestamptz NOT NULL, closed_at timestamptz, updated_position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS evaluation_calibrations_unit_idx ON evaluation_calibrations (unit, year)",
        "CREATE TABLE IF NOT EXISTS evaluation_distribution ("
        " unit text NOT NULL, year int NOT NULL, org_predicate text, total int NOT NULL DEFAULT 0,"
        " counts jsonb NOT NULL, raw_counts jsonb NOT NULL, quota jsonb NOT NULL DEFAULT '[]',"
        " quota_violations jsonb NOT NULL DEFAULT '[]', within_quota boolean, updated_position bigint NOT NULL,"
        " PRIMARY KEY (unit, year))",
        "CREATE TABLE IF NOT EXISTS employee_predicates ("
        " nip text NOT NULL, year int NOT NULL, case_id text NOT NULL, unit text, jabatan text, raw text, calibrated text,"
        " final text NOT NULL, credit_points double precision, credit jsonb, objection jsonb, finalised_at timestamptz NOT NULL,"
        " updated_position bigint NOT NULL, PRIMARY KEY (nip, year))",
    )

    def concerns(self, event: Any) -> bool:
        return isinstance(event, CaseEvent) and event.process in PROCESSES

    def apply(self, curs: Cursor[DictRow], event: Any, position: int) -> None:
        if not self.concerns(event):
            return
        name = type(event).__name__
        prefix = "cal_" if event.process == "evaluation_calibration" else "on_"
        handler = getattr(self, prefix + name, None)
        if handler is not None:
            handler(curs, event, position)

    # --- evaluation cases --------------------------------------------------------------------------
    def _set(self, curs: Cursor[DictRow], event: CaseEvent, position: int, **values: Any) -> None:
        sets = ", ".join(f"{k} = %s" for k in values)
        curs.execute(
            f"UPDATE evaluation_cases SET {sets}, updated_position = %s WHERE case_id = %s",  # noqa: S608 - keys are ours
            [*(Jsonb(v) if isinstance(v, (dict, list)) else v for v in values.values()), position, event.case_id],
        )

    def on_CaseOpened(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        p = event.payload
        curs.execute(
            "INSERT INTO evaluation_cases (case_id, nip, year, unit, status, phase, opened_at, updated_position)"
            " VALUES (%s, %s, %s, %s, 'open', 'starting', %s, %s) ON CONFLICT (case_id) DO NOTHING",
            (event.case_id, p.get("subject_nip"), p.get("data", {}).get("year"), p.get("unit"), event.occurred_at, position),
        )

    def on_EvaluationStarted(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        p = event.payload
        self._set(curs, event, position, appraiser_nip=p.get("appraiser_nip"), jabatan=p.get("jabatan"), jenis_jabatan=p.get("jenis_jabatan"))

    def on_SkpPeriodOpened(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        p = event.payload
        self._set(
            curs, event, position, phase="planning", skp_period=p["number"], skp_agreed=False, targets=None, expectations=None,
            unit=p.get("unit"), jabatan=p.get("jabatan"), jenis_jabatan=p.get("jenis_jabatan"), appraiser_nip=p.get("appraiser_nip"),
        )

    def on_SkpDrafted(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._set(curs, event, position, targets=event.payload["targets"])

    def on_SkpAgreed(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._set(curs, event, position, skp_agreed=True, phase="execution")

    def on_LeaderExpectationsRecorded(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._set(curs, event, position, expectations=event.payload["expectations"])

    def on_CheckInRecorded(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        curs.execute("UPDATE evaluation_cases SET checkins = checkins + 1, updated_position = %s WHERE case_id = %s", (position, event.case_id))

    def on_EvidenceRecorded(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        curs.execute("UPDATE evaluation_cases SET evidence = evidence + 1, updated_position = %s WHERE case_id = %s", (position, event.case_id))

    def on_TransferRecorded(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        to = event.payload["to"]
        curs.execute(
            "UPDATE evaluation_cases SET transfers = transfers + 1, unit = %s, jabatan = %s, jenis_jabatan = %s,"
            " appraiser_nip = %s, updated_position = %s WHERE case_id = %s",
            (to["unit"], to["jabatan"], to["jenis_jabatan"], to["appraiser_nip"], position, event.case_id),
        )

    def on_RatingSubmitted(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._set(curs, event, position, phase="rated")

    def on_PredicateDetermined(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._set(curs, event, position, raw=event.payload["predicate"])

    def on_CalibrationJoined(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._set(curs, event, position, calibration_case_id=event.payload["calibration_case_id"], phase="calibration")

    def on_PredicateCalibrated(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._set(curs, event, position, calibrated=event.payload["calibrated"])

    def on_ResultDelivered(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        p = event.payload
        self._set(curs, event, position, phase="objection_window", final=p["predicate"], objection_deadline=p["objection_deadline"])

    def on_ObjectionFiled(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._set(curs, event, position, objection="FILED", phase="objection")

    def on_ObjectionWindowClosed(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._set(curs, event, position, objection="WINDOW_CLOSED")

    def on_ObjectionDecided(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._set(curs, event, position, objection=event.payload["decision"], final=event.payload["after"])

    def on_CreditPointsDetermined(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._set(curs, event, position, credit_points=event.payload["points"], credit=event.payload)

    def on_EvaluationFinalised(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        p = event.payload
        self._set(curs, event, position, final=p["final"], finalised=True, credit_points=p["credit_points"])
        row = curs.execute("SELECT credit FROM evaluation_cases WHERE case_id = %s", (event.case_id,)).fetchone()
        curs.execute(
            "INSERT INTO employee_predicates (nip, year, case_id, unit, jabatan, raw, calibrated, final, credit_points, credit,"
            " objection, finalised_at, updated_position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (nip, year) DO UPDATE SET case_id = EXCLUDED.case_id, unit = EXCLUDED.unit, jabatan = EXCLUDED.jabatan,"
            " raw = EXCLUDED.raw, calibrated = EXCLUDED.calibrated, final = EXCLUDED.final, credit_points = EXCLUDED.credit_points,"
            " credit = EXCLUDED.credit, objection = EXCLUDED.objection, finalised_at = EXCLUDED.finalised_at,"
            " updated_position = EXCLUDED.updated_position",
            (
                p["nip"], p["year"], event.case_id, p.get("unit"), p.get("jabatan"), p.get("raw"), p.get("calibrated"), p["final"],
                p.get("credit_points"), Jsonb(row["credit"] if row else None), Jsonb(p.get("objection")), event.occurred_at, position,
            ),
        )
        self._distribution(curs, p.get("unit"), p["year"], position)

    def on_CaseClosed(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._set(
            curs, event, position, status=event.payload.get("status", "completed"), phase="closed", closed_at=event.occurred_at,
            waiting_task_id=None, waiting_kind=None, waiting_assignee_nip=None, waiting_role=None, waiting_unit=None,
            waiting_since=None, waiting_due=None,
        )

    def on_TaskOpened(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        p = event.payload
        self._set(
            curs, event, position, waiting_task_id=p["task_id"], waiting_kind=p["kind"], waiting_assignee_nip=p.get("assignee_nip"),
            waiting_role=p.get("candidate_role"), waiting_unit=p.get("unit"), waiting_since=event.occurred_at, waiting_due=p.get("due_at"),
        )

    def _task_closed(self, curs: Cursor[DictRow], event: CaseEvent, position: int, table: str) -> None:
        curs.execute(
            f"UPDATE {table} SET waiting_task_id = NULL, waiting_kind = NULL, waiting_assignee_nip = NULL,"  # noqa: S608
            " waiting_role = NULL, waiting_since = NULL"
            + (", waiting_unit = NULL, waiting_due = NULL" if table == "evaluation_cases" else "")
            + ", updated_position = %s WHERE case_id = %s AND waiting_task_id = %s",
            (position, event.case_id, event.payload["task_id"]),
        )

    def on_TaskDecided(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._task_closed(curs, event, position, "evaluation_cases")

    def on_TaskCancelled(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._task_closed(curs, event, position, "evaluation_cases")

    # --- calibration cases ---------------------------------------------------------------------------
    def _cal(self, curs: Cursor[DictRow], event: CaseEvent, position: int, **values: Any) -> None:
        sets = ", ".join(f"{k} = %s" for k in values)
        curs.execute(
            f"UPDATE evaluation_calibrations SET {sets}, updated_position = %s WHERE case_id = %s",  # noqa: S608 - keys are ours
            [*(Jsonb(v) if isinstance(v, (dict, list)) else v for v in values.values()), position, event.case_id],
        )

    def cal_CaseOpened(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        p = event.payload
        curs.execute(
            "INSERT INTO evaluation_calibrations (case_id, unit, year, round, status, opened_at, updated_position)"
            " VALUES (%s, %s, %s, %s, 'open', %s, %s) ON CONFLICT (case_id) DO NOTHING",
            (event.case_id, p.get("unit"), p["data"]["year"], p["data"].get("round", 1), event.occurred_at, position),
        )

    def cal_CalibrationOpened(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._cal(curs, event, position, head_nip=event.payload.get("head_nip"), leader_nip=event.payload.get("leader_nip"))

    def cal_OrganisationPredicateSet(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        p = event.payload
        self._cal(curs, event, position, org_predicate=p["predicate"])
        self._distribution(curs, p["unit"], p["year"], position, org_predicate=p["predicate"])

    def cal_CalibrationRoundOpened(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        p = event.payload
        curs.execute(
            "UPDATE evaluation_calibrations SET members = members + %s, raw_distribution = %s, org_predicate = %s,"
            " updated_position = %s WHERE case_id = %s",
            (len(p["members"]), Jsonb(p["distribution"]), p["org_predicate"], position, event.case_id),
        )

    def cal_UnitCalibrated(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        p = event.payload
        curs.execute(
            "UPDATE evaluation_calibrations SET distribution = %s, quota_violations = %s, quota_justification = %s,"
            " adjustments = adjustments || %s, updated_position = %s WHERE case_id = %s",
            (
                Jsonb(p["distribution_after"]), Jsonb(p["quota_violations"]), p.get("quota_justification") or None,
                Jsonb(p["adjustments"]), position, event.case_id,
            ),
        )

    def cal_CaseClosed(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._cal(curs, event, position, status=event.payload.get("status", "completed"), closed_at=event.occurred_at)

    def cal_TaskOpened(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        p = event.payload
        self._cal(
            curs, event, position, waiting_task_id=p["task_id"], waiting_kind=p["kind"], waiting_assignee_nip=p.get("assignee_nip"),
            waiting_role=p.get("candidate_role"), waiting_since=event.occurred_at,
        )

    def cal_TaskDecided(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._task_closed(curs, event, position, "evaluation_calibrations")

    def cal_TaskCancelled(self, curs: Cursor[DictRow], event: CaseEvent, position: int) -> None:
        self._task_closed(curs, event, position, "evaluation_calibrations")

    # --- distribution against the quota ---------------------------------------------------------------
    def _distribution(self, curs: Cursor[DictRow], unit: str | None, year: int, position: int, org_predicate: str | None = None) -> None:
        """Recount a unit's final predicates of calibrated members (unit heads are not calibrated by their own unit)."""
        if unit is None:
            return
        rows = curs.execute(
            "SELECT final, raw FROM evaluation_cases WHERE unit = %s AND year = %s AND finalised"
            " AND calibration_case_id IS NOT NULL AND calibration_case_id <> ''",
            (unit, year),
        ).fetchall()
        counts = performance.distribution([r["final"] for r in rows])
        raw_counts = performance.distribution([r["raw"] for r in rows if r["raw"]])
        if org_predicate is None:
            found = curs.execute("SELECT org_predicate FROM evaluation_distribution WHERE unit = %s AND year = %s", (unit, year)).fetchone()
            org_predicate = found["org_predicate"] if found else None
        violations = performance.quota_violations(org_predicate, counts) if org_predicate else []
        quota = performance.quota_text(org_predicate) if org_predicate else []
        within = None if org_predicate is None or not rows else not violations
        curs.execute(
            "INSERT INTO evaluation_distribution (unit, year, org_predicate, total, counts, raw_counts, quota, quota_violations,"
            " within_quota, updated_position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (unit, year) DO UPDATE SET org_predicate = EXCLUDED.org_predicate, total = EXCLUDED.total,"
            " counts = EXCLUDED.counts, raw_counts = EXCLUDED.raw_counts, quota = EXCLUDED.quota,"
            " quota_violations = EXCLUDED.quota_violations, within_quota = EXCLUDED.within_quota,"
            " updated_position = EXCLUDED.updated_position",
            (unit, year, org_predicate, len(rows), Jsonb(counts), Jsonb(raw_counts), Jsonb(quota), Jsonb(violations), within, position),
        )


class EvaluationProjection(ViewProjection):
    name = "evaluation"


# Registered here (views.py imports this module last): the evaluation view's tables live with their process.
PROJECTIONS["evaluation"] = (EvaluationProjection, EvaluationView)
