"""Selection views: rounds and their stage, every applicant's standing (ranking per formation), objections and outcomes."""

from __future__ import annotations

from typing import Any

from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from asnflow.domain import events as ev
from asnflow.domain import selection as sel
from asnflow.projections.views import PROJECTIONS, View, ViewProjection

# Stage a round is in after each event (Indonesian codes, as the pages and counts show them).
STAGE_AFTER = {
    "SelectionAnnounced": "PENDAFTARAN",
    "AdministrativeResultAnnounced": "SELEKSI_ADMINISTRASI",
    "SkdCutOffDetermined": "SKB",
    "FinalResultAnnounced": "HASIL_AKHIR",
    "AppointmentStepRecorded": "PENETAPAN",
}


def _bulk_update(curs: Cursor[DictRow], case_id: str, column: str, values: dict[str, Any], cast: str = "text") -> None:
    """One UPDATE for a whole file's rows (arrays unnested), not one statement per applicant."""
    if not values:
        return
    regs = list(values)
    curs.execute(
        f"UPDATE selection_applicants a SET {column} = v.val FROM (SELECT unnest(%s::text[]) AS reg, unnest(%s::{cast}[]) AS val) v"  # noqa: S608
        " WHERE a.case_id = %s AND a.reg_no = v.reg",
        [regs, [values[r] for r in regs], case_id],
    )


class SelectionView(View):
    tables = ("selection_rounds", "selection_applicants", "selection_objections")
    ddl = (
        "CREATE TABLE IF NOT EXISTS selection_rounds (case_id text PRIMARY KEY, year int NOT NULL, kind text NOT NULL, title text,"
        " rules text NOT NULL, formations jsonb NOT NULL DEFAULT '[]'::jsonb, stage text NOT NULL, status text NOT NULL DEFAULT 'open',"
        " registered int NOT NULL DEFAULT 0, imports jsonb NOT NULL DEFAULT '[]'::jsonb, ranking_sha256 text, moves jsonb, unfilled jsonb,"
        " opened_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, last_position bigint NOT NULL)",
        "CREATE TABLE IF NOT EXISTS selection_applicants (case_id text NOT NULL, reg_no text NOT NULL, nama text NOT NULL,"
        " formation text NOT NULL, track text NOT NULL, birth_date date, secret_sha256 text, verification text, admin_result text,"
        " skd int[], skd_total int, skd_passed boolean, skd_basis text, skb_participant boolean, skb int, final text, rank int,"
        " final_status text, placed_formation text, overridden boolean NOT NULL DEFAULT false, PRIMARY KEY (case_id, reg_no))",
        "CREATE INDEX IF NOT EXISTS selection_applicants_rank_idx ON selection_applicants (case_id, formation, rank)",
        "CREATE INDEX IF NOT EXISTS selection_applicants_reg_idx ON selection_applicants (reg_no)",
        "CREATE TABLE IF NOT EXISTS selection_objections (objection_id text NOT NULL, case_id text NOT NULL, reg_no text NOT NULL,"
        " stage text NOT NULL, reason text, filed_at timestamptz NOT NULL, outcome text, decided_by text, decision_reason text,"
        " decided_at timestamptz, PRIMARY KEY (case_id, objection_id))",
    )

    def concerns(self, event: Any) -> bool:
        return isinstance(event, ev.CaseEvent) and event.process == sel.PROCESS

    def apply(self, curs: Cursor[DictRow], event: Any, position: int) -> None:
        if not self.concerns(event):
            return
        name, p, case_id = type(event).__name__, event.payload, event.case_id
        handler = getattr(self, f"_on_{name}", None)
        if handler is not None:
            handler(curs, event, p, case_id)
        stage = STAGE_AFTER.get(name)
        if name == "ScoresImported":
            stage = "SKD" if p["stage"] != "SKB" else "INTEGRASI"
            curs.execute("UPDATE selection_rounds SET imports = imports || %s WHERE case_id = %s",
                         [Jsonb([{"stage": p["stage"], "file_sha256": p["file_sha256"], "rows": p["rows"], "at": event.occurred_at.isoformat()}]), case_id])
        if name == "CaseClosed":
            curs.execute("UPDATE selection_rounds SET status = %s, stage = 'SELESAI' WHERE case_id = %s", [p.get("status", "completed"), case_id])
        if stage is not None:
            curs.execute("UPDATE selection_rounds SET stage = %s WHERE case_id = %s", [stage, case_id])
        curs.execute("UPDATE selection_rounds SET updated_at = %s, last_position = %s WHERE case_id = %s", [event.occurred_at, position, case_id])

    def _on_SelectionAnnounced(self, curs: Cursor[DictRow], event: Any, p: dict[str, Any], case_id: str) -> None:  # noqa: N802
        curs.execute(
            "INSERT INTO selection_rounds (case_id, year, kind, title, rules, formations, stage, opened_at, updated_at, last_position)"
            " VALUES (%s, %s, %s, %s, %s, %s, 'PENGUMUMAN', %s, %s, 0) ON CONFLICT (case_id) DO NOTHING",
            [case_id, p["year"], p["kind"], None, p["rules"], Jsonb(p["formations"]), event.occurred_at, event.occurred_at],
        )

    def _on_CaseOpened(self, curs: Cursor[DictRow], event: Any, p: dict[str, Any], case_id: str) -> None:  # noqa: N802
        curs.execute("UPDATE selection_rounds SET title = %s WHERE case_id = %s", [p.get("title"), case_id])

    def _on_ApplicantsRegistered(self, curs: Cursor[DictRow], event: Any, p: dict[str, Any], case_id: str) -> None:  # noqa: N802
        rows = [(case_id, a["reg_no"], a["nama"], a["formation"], a["track"], a["birth_date"], a.get("secret_sha256")) for a in p["applicants"]]
        curs.executemany(
            "INSERT INTO selection_applicants (case_id, reg_no, nama, formation, track, birth_date, secret_sha256)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", rows,
        )
        curs.execute("UPDATE selection_rounds SET registered = registered + %s WHERE case_id = %s", [len(rows), case_id])

    def _on_ApplicationVerified(self, curs: Cursor[DictRow], event: Any, p: dict[str, Any], case_id: str) -> None:  # noqa: N802
        parent = case_id.rsplit("--", 1)[0]
        curs.execute("UPDATE selection_applicants SET verification = %s WHERE case_id = %s AND reg_no = %s", [p["result"], parent, p["reg_no"]])

    def _on_AdministrativeResultAnnounced(self, curs: Cursor[DictRow], event: Any, p: dict[str, Any], case_id: str) -> None:  # noqa: N802
        _bulk_update(curs, case_id, "admin_result", p["results"])

    def _on_ScoresImported(self, curs: Cursor[DictRow], event: Any, p: dict[str, Any], case_id: str) -> None:  # noqa: N802
        if p["stage"] == "SKB":
            _bulk_update(curs, case_id, "skb", {r: v[0] for r, v in p["scores"].items()}, "int")
            return
        regs = list(p["scores"])
        curs.execute(
            "UPDATE selection_applicants a SET skd = ARRAY[v.a, v.b, v.c], skd_total = v.a + v.b + v.c FROM (SELECT unnest(%s::text[]) AS reg,"
            " unnest(%s::int[]) AS a, unnest(%s::int[]) AS b, unnest(%s::int[]) AS c) v WHERE a.case_id = %s AND a.reg_no = v.reg",
            [regs, *([p["scores"][r][i] for r in regs] for i in range(3)), case_id],
        )

    def _on_SkdCutOffDetermined(self, curs: Cursor[DictRow], event: Any, p: dict[str, Any], case_id: str) -> None:  # noqa: N802
        _bulk_update(curs, case_id, "skd_basis", p["passed"])
        curs.execute("UPDATE selection_applicants SET skd_passed = (skd_basis IS NOT NULL), skb_participant = false WHERE case_id = %s AND skd IS NOT NULL",
                     [case_id])
        _bulk_update(curs, case_id, "skb_participant", {r: True for regs in p["skb_participants"].values() for r in regs}, "boolean")

    def _on_SelectionRanked(self, curs: Cursor[DictRow], event: Any, p: dict[str, Any], case_id: str) -> None:  # noqa: N802
        entries = [e for es in p["ranking"].values() for e in es]
        _bulk_update(curs, case_id, "rank", {e["reg_no"]: e["rank"] for e in entries}, "int")
        _bulk_update(curs, case_id, "final", {e["reg_no"]: e["final"] for e in entries})
        curs.execute("UPDATE selection_rounds SET ranking_sha256 = %s WHERE case_id = %s", [p["ranking_sha256"], case_id])

    def _on_FormationsOptimised(self, curs: Cursor[DictRow], event: Any, p: dict[str, Any], case_id: str) -> None:  # noqa: N802
        curs.execute("UPDATE selection_rounds SET moves = %s, unfilled = %s WHERE case_id = %s", [Jsonb(p["moves"]), Jsonb(p["unfilled"]), case_id])

    def _on_FinalResultAnnounced(self, curs: Cursor[DictRow], event: Any, p: dict[str, Any], case_id: str) -> None:  # noqa: N802
        res = p["results"]
        _bulk_update(curs, case_id, "final_status", {r: v["status"] for r, v in res.items()})
        _bulk_update(curs, case_id, "placed_formation", {r: v["formation"] for r, v in res.items()})
        _bulk_update(curs, case_id, "overridden", {r: bool(v.get("overridden")) for r, v in res.items()}, "boolean")

    def _on_SelectionObjectionFiled(self, curs: Cursor[DictRow], event: Any, p: dict[str, Any], case_id: str) -> None:  # noqa: N802
        curs.execute(
            "INSERT INTO selection_objections (objection_id, case_id, reg_no, stage, reason, filed_at) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING", [p["objection_id"], case_id, p["reg_no"], p["stage"], event.reason, event.occurred_at],
        )

    def _on_SelectionObjectionDecided(self, curs: Cursor[DictRow], event: Any, p: dict[str, Any], case_id: str) -> None:  # noqa: N802
        curs.execute(
            "UPDATE selection_objections SET outcome = %s, decided_by = %s, decision_reason = %s, decided_at = %s WHERE case_id = %s AND objection_id = %s",
            [p["outcome"], p.get("decided_by"), event.reason, event.occurred_at, case_id, p["objection_id"]],
        )


class SelectionProjection(ViewProjection):
    name = "selection"


PROJECTIONS["selection"] = (SelectionProjection, SelectionView)
