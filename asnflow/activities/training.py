"""Training activities: read the directory, evaluation results and training views for the cycle's decisions."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import psycopg
from psycopg.rows import dict_row
from temporalio import activity

from asnflow.domain import training as tr
from asnflow.workflows.training_contracts import (
    ComplianceFigures,
    FindEvidenceInput,
    JpShortfalls,
    JpTallyInput,
    NeedsAnalysisInput,
    NeedsAnalysisResult,
    UnitHeadInput,
)

# The head of a unit is whoever the directory marks KEPALA_OPD there (derived when imported).
HEADS_SQL = "SELECT DISTINCT ON (unit) unit, nip FROM employees WHERE roles ? 'KEPALA_OPD' ORDER BY unit, nip"
JP_SQL = (
    "SELECT e.nip, e.unit, COALESCE(SUM(c.jp), 0)::int AS jp FROM employees e"
    " LEFT JOIN training_credits c ON c.nip = e.nip AND c.year = %s GROUP BY e.nip, e.unit ORDER BY e.unit, e.nip"
)


class TrainingActivities:
    """Reads of the views the training workflows base their steps on (results land in history)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.database_url, row_factory=dict_row)  # type: ignore[return-value]

    @activity.defn(name="training_analyse_needs")
    def analyse_needs(self, inp: NeedsAnalysisInput) -> NeedsAnalysisResult:
        """Competency and performance gaps of every employee, grouped by unit."""
        rules = tr.rules_for(inp.rules_version)
        with self._connect() as conn:
            employees = conn.execute(
                "SELECT nip, nama, unit, jabatan, jenis_jabatan, golongan FROM employees ORDER BY unit, nip"
            ).fetchall()
            # The latest completed evaluation before the plan year gives the performance gap.
            predicates = conn.execute(
                "SELECT DISTINCT ON (subject_nip) subject_nip, outcome->>'predicate' AS predicate, (data->>'year')::int AS year"
                " FROM cases WHERE process = 'evaluation' AND status = 'completed' AND outcome ? 'predicate'"
                " AND (data->>'year')::int < %s ORDER BY subject_nip, (data->>'year')::int DESC",
                [inp.year],
            ).fetchall()
            credits = conn.execute(
                "SELECT nip, competency, MAX(level) AS level FROM training_credits WHERE competency IS NOT NULL GROUP BY nip, competency"
            ).fetchall()
        by_pred = {r["subject_nip"]: r["predicate"] for r in predicates}
        by_credit: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in credits:
            by_credit[c["nip"]].append(c)
        units: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in employees:
            units[e["unit"]].append(tr.analyse_employee(e, by_pred.get(e["nip"]), by_credit[e["nip"]], inp.assessments.get(e["nip"]), rules))
        return NeedsAnalysisResult(
            units=[{"unit": u, "summary": tr.summarise_unit(u, rows, rules), "employees": rows} for u, rows in sorted(units.items())],
            predicate_years=sorted({r["year"] for r in predicates}),
        )

    @activity.defn(name="training_jp_shortfalls")
    def jp_shortfalls(self, inp: JpTallyInput) -> JpShortfalls:
        """Employees below the yearly JP and, per unit, its head and how many are below."""
        with self._connect() as conn:
            rows = conn.execute(JP_SQL, [inp.year]).fetchall()
            heads = {r["unit"]: r["nip"] for r in conn.execute(HEADS_SQL).fetchall()}
        below = [dict(r) for r in rows if r["jp"] < inp.min_jp]
        per_unit: dict[str, int] = defaultdict(int)
        for r in below:
            per_unit[r["unit"]] += 1
        return JpShortfalls(
            employees=below,
            heads=[{"nip": heads[u], "unit": u, "below": n} for u, n in sorted(per_unit.items()) if u in heads],
        )

    @activity.defn(name="training_compliance")
    def compliance(self, inp: JpTallyInput) -> ComplianceFigures:
        """Per unit: employees, those at or above the yearly JP, their share and total JP; evaluations per course."""
        with self._connect() as conn:
            rows = conn.execute(JP_SQL, [inp.year]).fetchall()
            courses = conn.execute(
                "SELECT course, COUNT(*)::int AS participants, ROUND(AVG((evaluation->>'relevance')::numeric), 2)::float AS relevance,"
                " ROUND(AVG((evaluation->>'quality')::numeric), 2)::float AS quality FROM training_enrolments"
                " WHERE year = %s AND evaluation IS NOT NULL GROUP BY course ORDER BY course",
                [inp.year],
            ).fetchall()
        return ComplianceFigures(units=compliance_by_unit(rows, inp.min_jp), overall=overall(rows, inp.min_jp), courses=[dict(c) for c in courses])

    @activity.defn(name="training_find_evidence")
    def find_evidence(self, inp: FindEvidenceInput) -> str | None:
        """The case that already recorded this certificate hash, if any."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT case_id FROM training_evidence WHERE sha256 = %s AND case_id <> %s ORDER BY position LIMIT 1",
                [inp.file_sha256, inp.exclude_case_id],
            ).fetchone()
        return row["case_id"] if row else None

    @activity.defn(name="training_unit_head")
    def unit_head(self, inp: UnitHeadInput) -> str | None:
        """The head (KEPALA_OPD) of a unit."""
        with self._connect() as conn:
            row = conn.execute("SELECT nip FROM employees WHERE unit = %s AND roles ? 'KEPALA_OPD' ORDER BY nip LIMIT 1", [inp.unit]).fetchone()
        return row["nip"] if row else None

    def all(self) -> list[Any]:
        return [self.analyse_needs, self.jp_shortfalls, self.compliance, self.find_evidence, self.unit_head]


def compliance_by_unit(rows: list[dict[str, Any]], min_jp: int) -> list[dict[str, Any]]:
    """Compliance per unit from per-employee JP rows."""
    units: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        units[r["unit"]].append(int(r["jp"]))
    return [
        {
            "unit": u, "employees": len(jps), "compliant": sum(1 for j in jps if j >= min_jp),
            "pct": round(100 * sum(1 for j in jps if j >= min_jp) / len(jps), 1), "jp_total": sum(jps),
        }
        for u, jps in sorted(units.items())
    ]


def overall(rows: list[dict[str, Any]], min_jp: int) -> dict[str, Any]:
    compliant = sum(1 for r in rows if r["jp"] >= min_jp)
    return {
        "employees": len(rows), "compliant": compliant, "pct": round(100 * compliant / len(rows), 1) if rows else 0.0,
        "jp_total": sum(int(r["jp"]) for r in rows),
    }


def training_activities(settings: Any) -> list[Any]:
    """The training activities wired to the settings' database (for the worker's list)."""
    return TrainingActivities(settings.database_url).all()
