"""Career views: the promotion pipeline per period and stage, each employee's career timeline, eligibility lists."""

from __future__ import annotations

from typing import Any

from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from asnflow.domain import events as ev
from asnflow.domain import position as po
from asnflow.domain import promotion as pr
from asnflow.domain.organisation import parse_golongan
from asnflow.projections.views import PROJECTIONS, View, ViewProjection

# Stage each event moves a case to (Indonesian codes are what the pages show and filter on).
STAGES: dict[type, str] = {
    pr.PromotionProposed: "VERIFIKASI",
    pr.PromotionReturned: "PERBAIKAN",
    pr.PromotionResubmitted: "VERIFIKASI",
    pr.PromotionDossierVerified: "PERTEK_BKN",
    pr.PromotionPertekReceived: "KEPUTUSAN_PPK",
    pr.PromotionRejected: "DITOLAK",
    pr.PromotionWithdrawn: "DITARIK",
    pr.PromotionDecreed: "SK_TERBIT",
    pr.PromotionApplied: "SELESAI",
    pr.RotationProposed: "PERTIMBANGAN_TIM",
    pr.RotationFreezeApproved: "KEPUTUSAN_PPK",
    pr.RotationRejected: "DITOLAK",
    pr.RotationDecreed: "SK_TERBIT",
    pr.RotationApplied: "SELESAI",
}


def _nip(event: ev.CaseEvent) -> str | None:
    return event.actor.get("nip")


class _Pipeline:
    """One row per rank or transfer proposal, with its current stage."""

    tables = ("promotion_pipeline",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS promotion_pipeline ("
        " case_id text PRIMARY KEY, kind text NOT NULL, nip text NOT NULL, unit text, period date, stage text NOT NULL,"
        " status text NOT NULL DEFAULT 'open', golongan_lama text, golongan_baru text, jabatan_baru text, unit_baru text,"
        " freeze_window jsonb, proposed_by text, verified_by text, decided_by text, pertek_nomor text, sk_nomor text, sk_tanggal date,"
        " sk_sha256 text, document_path text, batch_id text, returns int NOT NULL DEFAULT 0, opened_at timestamptz NOT NULL,"
        " updated_at timestamptz NOT NULL, last_position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS promotion_pipeline_period_idx ON promotion_pipeline (period, stage)",
        "CREATE INDEX IF NOT EXISTS promotion_pipeline_unit_idx ON promotion_pipeline (unit, stage)",
    )

    @staticmethod
    def apply(curs: Cursor[DictRow], event: Any, position: int) -> None:
        if not isinstance(event, ev.CaseEvent) or event.process != "promotion":
            return
        p = event.payload
        if isinstance(event, ev.CaseOpened):
            data = p.get("data") or {}
            if data.get("batch") or not p.get("subject_nip"):
                return  # batches and vacancies have no single subject: their own tables hold them
            curs.execute(
                "INSERT INTO promotion_pipeline (case_id, kind, nip, unit, period, stage, proposed_by, batch_id, opened_at,"
                " updated_at, last_position) VALUES (%s, %s, %s, %s, %s, 'DIUSULKAN', %s, %s, %s, %s, %s)"
                " ON CONFLICT (case_id) DO NOTHING",
                (event.case_id, data.get("kind", "?"), p.get("subject_nip"), p.get("unit"), data.get("period"), _nip(event),
                 data.get("batch_id"), event.occurred_at, event.occurred_at, position),
            )
            return
        sets: dict[str, Any] = {}
        stage = STAGES.get(type(event))
        if stage:
            sets["stage"] = stage
        if isinstance(event, pr.PromotionProposed):
            sets.update(golongan_lama=p.get("golongan_lama"), golongan_baru=p.get("golongan_baru"))
        elif isinstance(event, pr.PromotionResubmitted):
            sets["golongan_baru"] = p.get("golongan_baru")
        elif isinstance(event, pr.PromotionReturned):
            curs.execute("UPDATE promotion_pipeline SET returns = returns + 1 WHERE case_id = %s", (event.case_id,))
        elif isinstance(event, pr.PromotionDossierVerified):
            sets["verified_by"] = p.get("verified_by")
        elif isinstance(event, pr.PromotionPertekReceived):
            sets["pertek_nomor"] = p.get("nomor")
        elif isinstance(event, pr.RotationProposed):
            sets.update(jabatan_baru=p.get("jabatan_baru"), unit_baru=p.get("unit_baru"), freeze_window=Jsonb(p.get("freeze")))
        elif isinstance(event, pr.RotationAdvised):
            sets["verified_by"] = p.get("advised_by")
            curs.execute(
                "UPDATE promotion_pipeline SET stage = CASE WHEN freeze_window IS NOT NULL AND freeze_window <> 'null'::jsonb"
                " THEN 'PERSETUJUAN_MENDAGRI' ELSE 'KEPUTUSAN_PPK' END WHERE case_id = %s",
                (event.case_id,),
            )
        elif isinstance(event, pr.PromotionDecreed | pr.RotationDecreed):
            doc = p.get("document") or {}
            sets.update(decided_by=p.get("decided_by"), sk_nomor=p.get("sk_nomor"), sk_tanggal=p.get("sk_tanggal"),
                        sk_sha256=doc.get("sha256"), document_path=doc.get("path"))
        elif isinstance(event, ev.CaseClosed):
            sets["status"] = p.get("status", "completed")
            curs.execute(
                "UPDATE promotion_pipeline SET stage = 'DIBATALKAN' WHERE case_id = %s AND %s = 'cancelled' AND stage <> 'DITARIK'",
                (event.case_id, sets["status"]),
            )
        sets.update(updated_at=event.occurred_at, last_position=position)
        curs.execute(
            "UPDATE promotion_pipeline SET " + ", ".join(f"{k} = %s" for k in sets) + " WHERE case_id = %s",
            [*sets.values(), event.case_id],
        )


class _Timeline:
    """Rank and position history of every employee, from the directory's own events."""

    tables = ("career_timeline",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS career_timeline ("
        " position bigint NOT NULL, entry text NOT NULL, nip text NOT NULL, occurred_at timestamptz NOT NULL,"
        " golongan text, pangkat text, tmt_golongan date, jabatan text, jenis_jabatan text, unit text, tmt_jabatan date,"
        " source text NOT NULL, source_case text, sk_nomor text, sk_tanggal date, PRIMARY KEY (position, entry))",
        "CREATE INDEX IF NOT EXISTS career_timeline_nip_idx ON career_timeline (nip, position)",
    )

    @staticmethod
    def apply(curs: Cursor[DictRow], event: Any, position: int) -> None:
        if isinstance(event, ev.EmployeeRegistered):
            record, changed, source = event.payload, {"golongan", "jabatan"}, "registrasi"
        elif isinstance(event, ev.EmployeeUpdated):
            record, changed = event.payload.get("record", {}), set(event.payload.get("changes", {}))
            source = "SK" if event.payload.get("source_case") else "impor"
        else:
            return
        decree = event.payload.get("decree") or {}
        entries = []
        if record.get("golongan") and changed & {"golongan", "tmt_golongan"}:
            entries.append("PANGKAT")
        if changed & {"jabatan", "jenis_jabatan", "unit", "tmt_jabatan"}:
            entries.append("JABATAN")
        for entry in entries:
            gol = record.get("golongan")
            curs.execute(
                "INSERT INTO career_timeline (position, entry, nip, occurred_at, golongan, pangkat, tmt_golongan, jabatan,"
                " jenis_jabatan, unit, tmt_jabatan, source, source_case, sk_nomor, sk_tanggal)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (position, entry, record.get("nip"), event.occurred_at, gol, parse_golongan(gol).pangkat if gol else None,
                 record.get("tmt_golongan") or None, record.get("jabatan"), record.get("jenis_jabatan"), record.get("unit"),
                 record.get("tmt_jabatan") or None, source, event.payload.get("source_case"), decree.get("sk_nomor"),
                 decree.get("sk_tanggal")),
            )


class _EligibilityLists:
    """The eligibility lists BKPSDM generated for a period, entry by entry, and whether each was proposed."""

    tables = ("promotion_eligibility_lists",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS promotion_eligibility_lists ("
        " batch_case_id text NOT NULL, nip text NOT NULL, nama text, unit text, period date NOT NULL, kind text NOT NULL,"
        " eligible boolean NOT NULL, golongan_lama text, golongan_baru text, eligible_from date, failures jsonb NOT NULL,"
        " proposed_case_id text, skipped text, generated_at timestamptz NOT NULL, list_sha256 text NOT NULL,"
        " PRIMARY KEY (batch_case_id, nip))",
        "CREATE INDEX IF NOT EXISTS promotion_eligibility_period_idx ON promotion_eligibility_lists (period, eligible)",
    )

    @staticmethod
    def apply(curs: Cursor[DictRow], event: Any, position: int) -> None:
        p = getattr(event, "payload", {})
        if isinstance(event, pr.PromotionBatchListed):
            for e in p.get("entries", []):
                curs.execute(
                    "INSERT INTO promotion_eligibility_lists (batch_case_id, nip, nama, unit, period, kind, eligible, golongan_lama,"
                    " golongan_baru, eligible_from, failures, generated_at, list_sha256)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (event.case_id, e["nip"], e.get("nama"), e.get("unit"), p["period"], e["kind"], e["eligible"], e.get("golongan_lama"),
                     e.get("golongan_baru"), e.get("eligible_from"), Jsonb(e.get("failures", [])), event.occurred_at, p["list_sha256"]),
                )
        elif isinstance(event, pr.PromotionBatchProposed):
            for case_id in p.get("started", []):
                curs.execute(
                    "UPDATE promotion_eligibility_lists SET proposed_case_id = %s WHERE batch_case_id = %s AND nip = %s",
                    (case_id, event.case_id, case_id.rsplit("-", 1)[1]),
                )
            for s in p.get("skipped", []):
                curs.execute(
                    "UPDATE promotion_eligibility_lists SET proposed_case_id = %s, skipped = %s WHERE batch_case_id = %s AND nip = %s",
                    (s["case_id"], s["why"], event.case_id, s["nip"]),
                )


# Stage each event moves a vacancy to (Tim Penilai route and JPT open selection).
POSITION_STAGES: dict[type, str] = {
    po.PositionVacancyOpened: "KELOMPOK_TALENTA",
    po.TalentPoolComputed: "DEKLARASI_PANEL",
    po.PositionCandidatesRecommended: "KEPUTUSAN_PPK",
    po.PositionFreezeApproved: "SK",
    po.PositionDecreed: "PELANTIKAN",
    po.PositionApplied: "SELESAI",
    po.PositionRejected: "DITOLAK",
    po.JptSelectionOpened: "PEMBENTUKAN_PANSEL",
    po.JptPanselFormed: "PENGUMUMAN",
    po.JptAnnounced: "PENDAFTARAN",
    po.JptRegistrationClosed: "DEKLARASI_PANEL",
    po.JptStageScored: "PENILAIAN",
    po.JptShortlisted: "KEPUTUSAN_PPK",
    po.JptSelectionFailed: "GAGAL",
}


class _Positions:
    """One row per vacancy: its route, stage, pool or applicants, panel, ranking, choice and decree."""

    tables = ("position_cases",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS position_cases ("
        " case_id text PRIMARY KEY, route text NOT NULL, jabatan text NOT NULL, jenis_jabatan text NOT NULL, unit text NOT NULL,"
        " stage text NOT NULL, status text NOT NULL DEFAULT 'open', candidates jsonb NOT NULL DEFAULT '[]', excluded jsonb NOT NULL DEFAULT '{}',"
        " applicants jsonb NOT NULL DEFAULT '[]', panel jsonb NOT NULL DEFAULT '[]', sitting jsonb, recused jsonb, window_closes timestamptz,"
        " stages jsonb NOT NULL DEFAULT '{}', ranking jsonb, shortlist jsonb, chosen_nip text, national jsonb, sk_nomor text, sk_tanggal date,"
        " sk_sha256 text, document_path text, tmt_jabatan date, failed_rule text, opened_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,"
        " last_position bigint NOT NULL)",
        "CREATE INDEX IF NOT EXISTS position_cases_unit_idx ON position_cases (unit, stage)",
    )

    @staticmethod
    def apply(curs: Cursor[DictRow], event: Any, position: int) -> None:
        if not isinstance(event, ev.CaseEvent) or event.process != "promotion":
            return
        p = event.payload
        if isinstance(event, po.PositionVacancyOpened | po.JptSelectionOpened):
            jpt = isinstance(event, po.JptSelectionOpened)
            curs.execute(
                "INSERT INTO position_cases (case_id, route, jabatan, jenis_jabatan, unit, stage, panel, opened_at, updated_at, last_position)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (case_id) DO NOTHING",
                (event.case_id, "JPT" if jpt else "TPK", p["jabatan"], "JPT" if jpt else p["jenis_jabatan"], p["unit"],
                 POSITION_STAGES[type(event)], Jsonb(p["pansel"] if jpt else [{"nip": n} for n in p["panel"]]),
                 event.occurred_at, event.occurred_at, position),
            )
            return
        sets: dict[str, Any] = {}
        stage = POSITION_STAGES.get(type(event))
        if stage:
            sets["stage"] = stage
        if isinstance(event, po.TalentPoolComputed):
            sets.update(candidates=Jsonb(p["candidates"]), excluded=Jsonb(p["excluded"]))
        elif isinstance(event, po.PanelConflictsDeclared):
            sets.update(sitting=Jsonb(p["sitting"]), recused=Jsonb(p["recused"]),
                        stage="SIDANG_TPK" if p["panel"] == "TPK" else "SELEKSI_ADMINISTRASI")
        elif isinstance(event, po.JptAnnounced):
            sets["window_closes"] = p["closes"]
        elif isinstance(event, po.JptApplicantRegistered):
            entry = {"nip": p["nip"], "nama": p["nama"], "jabatan": p["jabatan"], "unit": p["unit"], "status": "TERDAFTAR"}
            curs.execute("UPDATE position_cases SET applicants = applicants || %s WHERE case_id = %s", (Jsonb([entry]), event.case_id))
        elif isinstance(event, po.JptAdministrativeChecked):
            curs.execute(
                "UPDATE position_cases SET applicants = (SELECT jsonb_agg(CASE WHEN a->>'nip' = %s THEN a || %s ELSE a END)"
                " FROM jsonb_array_elements(applicants) a) WHERE case_id = %s",
                (p["nip"], Jsonb({"status": "LULUS_ADMINISTRASI" if p["passed"] else "TIDAK_LULUS_ADMINISTRASI"}), event.case_id),
            )
        elif isinstance(event, po.JptStageScored):
            curs.execute("UPDATE position_cases SET stages = stages || %s WHERE case_id = %s",
                         (Jsonb({p["stage"]: {"scores": p["scores"], "eliminated": p["eliminated"]}}), event.case_id))
        elif isinstance(event, po.JptShortlisted):
            sets.update(ranking=Jsonb(p["ranking"]), shortlist=Jsonb(p["shortlist"]))
        elif isinstance(event, po.PositionCandidatesRecommended):
            sets["shortlist"] = Jsonb(p["ranking"])
        elif isinstance(event, po.PositionAppointeeChosen):
            sets.update(chosen_nip=p["nip"], stage="SK" if event.case_id.startswith("position-") else "REKOMENDASI_NASIONAL")
        elif isinstance(event, po.JptNationalRecommendation):
            sets.update(national=Jsonb(p), stage="SK" if p["outcome"] == "RECOMMENDED" else "KEPUTUSAN_PPK")
        elif isinstance(event, po.PositionDecreed):
            doc = p.get("document") or {}
            sets.update(sk_nomor=p["sk_nomor"], sk_tanggal=p["sk_tanggal"], sk_sha256=doc.get("sha256"), document_path=doc.get("path"))
        elif isinstance(event, po.PositionApplied):
            sets["tmt_jabatan"] = p["tmt_jabatan"]
        elif isinstance(event, po.PositionRejected | po.JptSelectionFailed):
            sets["failed_rule"] = p.get("rule") or p.get("level")
        elif isinstance(event, ev.TaskOpened) and p.get("kind") == "POSITION_MENDAGRI_APPROVAL":
            sets["stage"] = "PERSETUJUAN_MENDAGRI"  # only inside an election freeze
        elif isinstance(event, ev.CaseClosed):
            sets["status"] = p.get("status", "completed")
        elif not isinstance(event, ev.CaseEvent):
            return
        sets.update(updated_at=event.occurred_at, last_position=position)
        curs.execute(
            "UPDATE position_cases SET " + ", ".join(f"{k} = %s" for k in sets) + " WHERE case_id = %s",
            [*sets.values(), event.case_id],
        )


class CareerView(View):
    """The career tables in one view (one runner, one tracking position, fewer connections)."""

    parts = (_Pipeline, _Timeline, _EligibilityLists, _Positions)
    tables = tuple(t for part in parts for t in part.tables)
    ddl = tuple(d for part in parts for d in part.ddl)

    def apply(self, curs: Cursor[DictRow], event: Any, position: int) -> None:
        for part in self.parts:
            part.apply(curs, event, position)


class CareerProjection(ViewProjection):
    name = "career"


PROJECTIONS["career"] = (CareerProjection, CareerView)
