"""Promotion side effects: eligibility inputs from the views, decree PDFs, directory changes after a decree."""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import IntegrityError
from psycopg.rows import dict_row
from temporalio import activity
from temporalio.exceptions import ApplicationError

from asnflow.activities.directory import employee_case_id
from asnflow.activities.eventstore import EventStore, build_events, read_case
from asnflow.domain import promotion as rules
from asnflow.domain.organisation import UNITS_BY_CODE
from asnflow.workflows.contracts import ERR_NOT_FOUND, NewEvent, RecordInput
from asnflow.workflows.promotion_contracts import (
    DecreeDocumentInput,
    DirectoryChangeInput,
    DirectoryChangeResult,
    DocumentRef,
    EligibilityList,
    EligibilityListInput,
    FactsInput,
    PromotionFacts,
)

CONFIG_FILE = "config/promotion.json"
EMPLOYEE_SQL = (
    "SELECT e.nip, e.nama, e.tanggal_lahir, e.golongan, e.tmt_golongan, e.jenis_jabatan, e.jabatan, e.tmt_jabatan, e.pendidikan,"
    " e.unit, e.atasan_nip, a.golongan AS atasan_golongan, e.hukuman_disiplin_jenis AS sanction_kind,"
    " e.hukuman_disiplin_mulai AS sanction_from, e.hukuman_disiplin_sampai AS sanction_until, e.nilai_kompetensi AS kompetensi"
    " FROM employees e LEFT JOIN employees a ON a.nip = e.atasan_nip"
)
# Declared relatives, both ways (the kinship registry beside the directory view).
KIN_SQL = (
    "SELECT nip AS a, relative_nip AS b, relation FROM kinship WHERE nip = ANY(%s)"
    " UNION ALL SELECT relative_nip AS a, nip AS b, relation FROM kinship WHERE relative_nip = ANY(%s)"
)
PREDICATES_SQL = (
    "SELECT subject_nip, (data->>'year')::int AS year, outcome->>'predicate' AS predicate FROM cases"
    " WHERE process = 'evaluation' AND status = 'completed' AND outcome ? 'predicate' AND subject_nip = ANY(%s)"
)


def load_config(data_dir: Path) -> dict[str, Any]:
    """The deployment's promotion configuration (period overrides, submission window, extra freezes)."""
    path = Path(data_dir) / CONFIG_FILE
    if not path.exists():
        return {}
    config = json.loads(path.read_text(encoding="utf-8"))
    rules.policy_from_config(config)  # refuse a bad file here rather than mid-case
    rules.freezes_from(config.get("freezes"))
    return config  # type: ignore[no-any-return]


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


def _facts(row: dict[str, Any], predicates: dict[int, str], extras: dict[str, Any]) -> rules.Facts:
    return rules.Facts.from_dict(
        {
            **{k: _iso(v) for k, v in row.items()},
            "predicates": {str(y): p for y, p in predicates.items()},
            "predicate_sources": {str(y): "evaluasi" for y in predicates},
            **extras,
        }
    )


def relatives_of(conn: psycopg.Connection[Any], nips: list[str]) -> dict[str, dict[str, str]]:
    """Each NIP's declared relatives (either side declared them) and the relation named."""
    out: dict[str, dict[str, str]] = {}
    if nips:
        for r in conn.execute(KIN_SQL, [nips, nips]).fetchall():
            out.setdefault(r["a"], {})[r["b"]] = r["relation"]
    return out


def people_facts(
    conn: psycopg.Connection[Any], unit: str | None = None, nips: list[str] | None = None
) -> list[tuple[rules.Facts, dict[str, Any]]]:
    """PNS of the directory (of a unit, or the NIPs given) with their predicates and declared relatives, in unit/NIP order."""
    sql, params = EMPLOYEE_SQL + " WHERE e.golongan IS NOT NULL", []
    if unit:
        sql += " AND e.unit = %s"
        params.append(unit)
    if nips is not None:
        sql += " AND e.nip = ANY(%s)"
        params.append(list(nips))
    rows = [dict(r) for r in conn.execute(sql + " ORDER BY e.unit, e.nip", params).fetchall()]
    preds: dict[str, dict[int, str]] = {}
    kin = relatives_of(conn, [row["nip"] for row in rows])
    for r in conn.execute(PREDICATES_SQL, [[row["nip"] for row in rows]]).fetchall():
        preds.setdefault(r["subject_nip"], {})[r["year"]] = r["predicate"]
    return [(_facts(row, preds.get(row["nip"], {}), {"relatives": sorted(kin.get(row["nip"], {}))}), row) for row in rows]


def load_facts(conn: psycopg.Connection[Any], store: EventStore, nip: str) -> tuple[rules.Facts, dict[str, Any]] | None:
    """One employee's eligibility facts and directory row, or None when the NIP is not in the directory."""
    row = conn.execute(EMPLOYEE_SQL + " WHERE e.nip = %s", [nip]).fetchone()
    if row is None:
        return None
    preds = {r["year"]: r["predicate"] for r in conn.execute(PREDICATES_SQL, [[nip]]).fetchall()}
    return _facts(dict(row), preds, {"relatives": sorted(relatives_of(conn, [nip]).get(nip, {}))}), dict(row)


def eligibility_list(
    conn: psycopg.Connection[Any], store: EventStore, inp: EligibilityListInput, config: dict[str, Any]
) -> EligibilityList:
    """Everyone (of a unit, or the NIPs given) checked for a period on the route of their post."""
    period = date.fromisoformat(inp.period)
    entries = []
    for base, row in people_facts(conn, inp.unit, list(inp.nips) if inp.nips else None):
        kind = rules.DEFAULT_KIND.get(row["jenis_jabatan"], "REGULER")
        facts = rules.merge_declared(base, inp.declared.get(row["nip"]))
        result = rules.check_eligibility(kind, facts, period)
        entries.append(
            {"nip": row["nip"], "nama": row["nama"], "unit": row["unit"], "jabatan": row["jabatan"], **result.to_dict(), "facts": facts.to_dict()}
        )
    return EligibilityList(period=inp.period, entries=entries, config=config)


# --- the decree document --------------------------------------------------------------------------
MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November", "Desember")


def tanggal(iso: str) -> str:
    """'2026-12-01' -> '1 Desember 2026'."""
    d = date.fromisoformat(iso[:10])
    return f"{d.day} {MONTHS_ID[d.month - 1]} {d.year}"


def _latin(text: Any) -> str:
    # The PDF core fonts are Latin-1: typographic dashes and quotes are mapped, anything else replaced.
    s = str(text).replace("\u2014", "-").replace("\u2013", "-").replace("\u2018", "'").replace("\u2019", "'")
    return s.encode("latin-1", "replace").decode("latin-1")


def render_decree(kind: str, f: dict[str, Any]) -> bytes:
    """The SK as a PDF; the same fields always give the same bytes (so a retried activity gives the same hash)."""
    from fpdf import FPDF

    signed = date.fromisoformat(f["sk_tanggal"])
    pdf = FPDF(format="A4")
    pdf.set_creation_date(datetime(signed.year, signed.month, signed.day))
    subject = {"RANK": "KENAIKAN PANGKAT PEGAWAI NEGERI SIPIL", "ROTATION": "PEMINDAHAN DALAM JABATAN (MUTASI)",
               "POSITION": "PENGANGKATAN DALAM JABATAN " + str(f.get("jenis_jabatan_label", "")).upper()}[kind]
    subject_en = {"RANK": "rank promotion of a civil servant", "ROTATION": "transfer of a civil servant",
                  "POSITION": "appointment of a civil servant to a post"}[kind]
    pdf.set_title(_latin(f"SK {f['sk_nomor']}"))
    pdf.set_author("Bupati Batanghari")
    pdf.set_margins(22, 18, 22)
    pdf.add_page()
    w = pdf.epw

    def line(text: str, size: float = 11, style: str = "", align: str = "L", h: float = 6) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(w, h, _latin(text), align=align, new_x="LMARGIN", new_y="NEXT")

    line("KEPUTUSAN BUPATI BATANGHARI", 13, "B", "C")
    line(f"NOMOR {f['sk_nomor']}", 11, "", "C")
    line("TENTANG", 11, "", "C")
    line(subject, 11, "B", "C")
    line(f"(Regent's decree on the {subject_en})", 8, "I", "C")
    pdf.ln(3)
    line("BUPATI BATANGHARI,", 11, "B", "C")
    pdf.ln(2)
    if kind == "RANK":
        line(f"Menimbang : bahwa Pegawai Negeri Sipil yang namanya tersebut di bawah ini telah memenuhi syarat "
             f"{rules.KIND_LABELS[f['kind']]['id'].lower()} sesuai peraturan perundang-undangan;")
        line("Mengingat : 1. Undang-Undang Nomor 20 Tahun 2023 tentang Aparatur Sipil Negara; "
             "2. Peraturan Pemerintah Nomor 99 Tahun 2000 tentang Kenaikan Pangkat PNS sebagaimana telah diubah; "
             f"3. Peraturan BKN Nomor 4 Tahun 2025; 4. Pertimbangan teknis Kepala BKN nomor {f['pertek_nomor']} "
             f"tanggal {tanggal(f['pertek_tanggal'])};")
    elif kind == "POSITION":
        line("Menimbang : bahwa untuk mengisi jabatan yang lowong perlu mengangkat Pegawai Negeri Sipil yang memenuhi "
             "syarat dan telah melalui " + str(f["route"]) + ";")
        line("Mengingat : 1. Undang-Undang Nomor 20 Tahun 2023 tentang Aparatur Sipil Negara; "
             "2. Peraturan Pemerintah Nomor 11 Tahun 2017 tentang Manajemen PNS sebagaimana telah diubah; "
             f"3. {f['basis']};")
    else:
        line("Menimbang : bahwa untuk kepentingan organisasi dan pengembangan karier perlu memindahkan Pegawai Negeri "
             "Sipil yang namanya tersebut di bawah ini;")
        line("Mengingat : 1. Undang-Undang Nomor 20 Tahun 2023 tentang Aparatur Sipil Negara; "
             "2. Peraturan Pemerintah Nomor 11 Tahun 2017 pasal 190-191; "
             f"3. Pertimbangan Tim Penilai Kinerja PNS tanggal {tanggal(f['advice_tanggal'])}"
             + (f"; 4. Persetujuan tertulis Menteri Dalam Negeri nomor {f['mendagri_nomor']}" if f.get("mendagri_nomor") else "") + ";")
    pdf.ln(2)
    line("MEMUTUSKAN:", 11, "B", "C")
    tmt = f["tmt"]
    if kind == "RANK":
        line(f"KESATU : Terhitung mulai tanggal {tanggal(tmt)} menaikkan pangkat Pegawai Negeri Sipil:")
        rows = [("Nama", f["nama"]), ("NIP", f["nip"]), ("Jabatan", f["jabatan"]), ("Unit kerja", f["unit_nama"]),
                ("Pangkat lama", rules.rank_label(f["golongan_lama"])), ("Pangkat baru", rules.rank_label(f["golongan_baru"]))]
    elif kind == "POSITION":
        line(f"KESATU : Mengangkat Pegawai Negeri Sipil berikut dalam jabatan {f['jabatan_baru']}, terhitung mulai tanggal pelantikan:")
        rows = [("Nama", f["nama"]), ("NIP", f["nip"]), ("Pangkat", rules.rank_label(f.get("golongan"))),
                ("Jabatan lama", f"{f['jabatan_lama']} - {f['unit_lama_nama']}"), ("Jabatan baru", f"{f['jabatan_baru']} - {f['unit_baru_nama']}")]
    else:
        line(f"KESATU : Terhitung mulai tanggal {tanggal(tmt)} memindahkan Pegawai Negeri Sipil:")
        rows = [("Nama", f["nama"]), ("NIP", f["nip"]), ("Pangkat", rules.rank_label(f.get("golongan"))),
                ("Jabatan lama", f"{f['jabatan_lama']} - {f['unit_lama_nama']}"), ("Jabatan baru", f"{f['jabatan_baru']} - {f['unit_baru_nama']}")]
    pdf.set_font("Helvetica", "", 11)
    for label, value in rows:
        pdf.cell(45, 6, _latin(f"    {label}"))
        pdf.multi_cell(w - 45, 6, _latin(f": {value}"), new_x="LMARGIN", new_y="NEXT")
    line("KEDUA : Keputusan ini mulai berlaku pada tanggal ditetapkan, dengan ketentuan apabila di kemudian hari "
         "terdapat kekeliruan akan diadakan perbaikan sebagaimana mestinya.")
    pdf.ln(4)
    line(f"Ditetapkan di Muara Bulian pada tanggal {tanggal(f['sk_tanggal'])}", 11, "", "R")
    line("BUPATI BATANGHARI,", 11, "B", "R")
    pdf.ln(14)
    line(f["bupati_nama"], 11, "B", "R")
    pdf.ln(8)
    line(f"Perkara / case: {f['case_id']}. Sidik jari dokumen tercatat pada peristiwa keputusan di rantai hash perkara "
         "(the document's SHA-256 is recorded in the decree event of the case's hash chain).", 7, "I")
    return bytes(pdf.output())


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")


def store_document(data_dir: Path, case_id: str, name: str, content: bytes) -> DocumentRef:
    """Write a document under DATA/documents/<case>/ atomically; the same bytes leave the file as it is."""
    rel = Path("documents") / _safe(case_id) / _safe(name)
    path = Path(data_dir) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)
    return DocumentRef(name=path.name, path=str(rel), sha256=hashlib.sha256(content).hexdigest(), size=len(content))


class PromotionActivities:
    """Reads for eligibility, the decree PDF, and the directory change a decree implies."""

    def __init__(self, store: EventStore, database_url: str, data_dir: Path) -> None:
        self.store = store
        self.database_url = database_url
        self.data_dir = Path(data_dir)

    @activity.defn(name="promotion_facts")
    def promotion_facts(self, inp: FactsInput) -> PromotionFacts:
        """The employee's eligibility facts from the directory, the cases view and the stored record."""
        with psycopg.connect(self.database_url, row_factory=dict_row) as conn:
            found = load_facts(conn, self.store, inp.nip)
        if found is None:
            raise ApplicationError(f"employee {inp.nip} is not in the directory", type=ERR_NOT_FOUND, non_retryable=True)
        facts, row = found
        return PromotionFacts(facts=facts.to_dict(), unit=row["unit"], nama=row["nama"], config=load_config(self.data_dir))

    @activity.defn(name="promotion_eligibility_list")
    def promotion_eligibility_list(self, inp: EligibilityListInput) -> EligibilityList:
        """Everyone of a unit (or the NIPs given) checked for a period."""
        with psycopg.connect(self.database_url, row_factory=dict_row) as conn:
            return eligibility_list(conn, self.store, inp, load_config(self.data_dir))

    @activity.defn(name="promotion_decree_document")
    def decree_document(self, inp: DecreeDocumentInput) -> DocumentRef:
        """Render and store the SK PDF; its hash goes into the decree event."""
        f = dict(inp.fields)
        for key in ("unit", "unit_lama", "unit_baru"):
            if f.get(key):
                unit = UNITS_BY_CODE.get(f[key])
                f[f"{key}_nama"] = unit.name if unit else f[key]
        content = render_decree(inp.kind, f)
        return store_document(self.data_dir, inp.case_id, f"SK-{_safe(f['sk_nomor'])}.pdf", content)

    @activity.defn(name="promotion_apply_directory_change")
    def apply_directory_change(self, inp: DirectoryChangeInput) -> DirectoryChangeResult:
        """Append an EmployeeUpdated to the employee's directory sequence, once per source case."""
        directory_case = employee_case_id(inp.nip)
        history = read_case(self.store, directory_case)
        if not history:
            raise ApplicationError(f"employee {inp.nip} is not in the directory", type=ERR_NOT_FOUND, non_retryable=True)
        for stored in history:
            if stored.event.payload.get("source_case") == inp.source_case:
                return DirectoryChangeResult(directory_case, stored.position, stored.event.originator_version)
        last = history[-1].event
        current = dict(last.payload.get("record", last.payload))
        record = {**current, **inp.changes}
        changes = {k: v for k, v in inp.changes.items() if current.get(k) != v}
        payload = {"changes": changes, "record": record, "source_case": inp.source_case, "decree": inp.decree}
        events, _ = build_events(
            RecordInput(
                case_id=directory_case, process="directory", expected_version=last.originator_version,
                previous_hash=last.hash, workflow_id=inp.workflow_id, run_id=inp.run_id, occurred_at=inp.occurred_at,
                events=[NewEvent("EmployeeUpdated", payload, inp.actor, inp.reason)],
            )
        )
        try:
            recordings = self.store.save(*events)
        except IntegrityError:
            # A concurrent directory import took the version: retry on the new head (Temporal retries us).
            raise ApplicationError(f"directory entry {directory_case} changed concurrently", type="DirectoryBusy") from None
        return DirectoryChangeResult(directory_case, recordings[-1].notification.id, events[-1].originator_version)


def promotion_activities(store: EventStore, settings: Any) -> list[Any]:
    """The promotion activities wired to the worker's store, database and data folder."""
    acts = PromotionActivities(store, settings.database_url, settings.data_dir)
    return [acts.promotion_facts, acts.promotion_eligibility_list, acts.decree_document, acts.apply_directory_change]
