"""Career development (REGULATIONS.md §4): rank-promotion eligibility, periods, dossiers, rotation and election freezes.

Every threshold, calendar and window below is versioned configuration keyed by regulation; entries
marked "unconfirmed" come from general knowledge or a single weak source (REGULATIONS.md §4) and are
meant to be checked against the official text and adjusted here, never in code paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from asnflow.domain.events import CaseEvent
from asnflow.domain.organisation import (
    ALL_GOLONGAN,
    FUNGSIONAL_GOLONGAN,
    Golongan,
    normalise_pendidikan,
    parse_golongan,
)


# --- events -------------------------------------------------------------------------------------
class PromotionProposed(CaseEvent):
    """payload: nip, kind, period, golongan_lama, golongan_baru, rules, calendar, facts, declared, batch_id."""


class PromotionReturned(CaseEvent):
    """payload: level (VERIFICATION|BKN_PERTEK|DECREE), returned_by (the reason is on the envelope)."""


class PromotionResubmitted(CaseEvent):
    """payload: declared (the facts the proposer re-entered), golongan_baru."""


class PromotionDossierVerified(CaseEvent):
    """payload: verified_by, documents [{code, sha256, name}], required (codes)."""


class PromotionPertekReceived(CaseEvent):
    """payload: nomor, tanggal, source (entered|imported), import_sha256, entered_by."""


class PromotionRejected(CaseEvent):
    """payload: level, rejected_by (the reason is on the envelope)."""


class PromotionWithdrawn(CaseEvent):
    """payload: withdrawn_by."""


class PromotionDecreed(CaseEvent):
    """payload: sk_nomor, sk_tanggal, tmt, golongan_lama, golongan_baru, decided_by, document {name, sha256, size}."""


class PromotionApplied(CaseEvent):
    """payload: nip, golongan, tmt_golongan, directory_case, directory_position (the directory's EmployeeUpdated)."""


class PromotionBatchListed(CaseEvent):
    """payload: period, unit, rules, calendar, entries [{nip, kind, eligible, golongan_baru, failures}], list_sha256."""


class PromotionBatchProposed(CaseEvent):
    """payload: started [case ids], skipped [{nip, case_id, why}]."""


class RotationProposed(CaseEvent):
    """payload: nip, jabatan_lama, unit_lama, jabatan_baru, jenis_jabatan_baru, unit_baru, years_in_post, window, freeze."""


class RotationAdvised(CaseEvent):
    """payload: advice (RECOMMENDED|NOT_RECOMMENDED), advised_by, members, conflicts."""


class RotationFreezeApproved(CaseEvent):
    """payload: freeze, letter_nomor, letter_tanggal, entered_by (the Home Minister's written approval)."""


class RotationRejected(CaseEvent):
    """payload: level, rejected_by."""


class RotationDecreed(CaseEvent):
    """payload: sk_nomor, sk_tanggal, tmt_jabatan, jabatan_baru, unit_baru, decided_by, document."""


class RotationApplied(CaseEvent):
    """payload: nip, jabatan, unit, tmt_jabatan, directory_case, directory_position."""


# --- kinds and rules ----------------------------------------------------------------------------
class PromotionKind(StrEnum):
    """Rank-promotion routes (PP 99/2000; Peraturan BKN 1/2025)."""

    REGULER = "REGULER"
    PILIHAN_FUNGSIONAL = "PILIHAN_FUNGSIONAL"
    PILIHAN_STRUKTURAL = "PILIHAN_STRUKTURAL"
    PENYESUAIAN_IJAZAH = "PENYESUAIAN_IJAZAH"
    PRESTASI_LUAR_BIASA = "PRESTASI_LUAR_BIASA"


KIND_LABELS: dict[str, dict[str, str]] = {
    "REGULER": {"id": "Kenaikan pangkat reguler", "en": "Regular rank promotion"},
    "PILIHAN_FUNGSIONAL": {"id": "Kenaikan pangkat pilihan (jabatan fungsional)", "en": "Elective promotion (functional post)"},
    "PILIHAN_STRUKTURAL": {"id": "Kenaikan pangkat pilihan (jabatan struktural)", "en": "Elective promotion (structural post)"},
    "PENYESUAIAN_IJAZAH": {"id": "Kenaikan pangkat penyesuaian ijazah", "en": "Promotion by new diploma"},
    "PRESTASI_LUAR_BIASA": {"id": "Kenaikan pangkat prestasi luar biasa", "en": "Promotion for outstanding performance"},
}

PREDICATE_ORDER: tuple[str, ...] = ("SANGAT_BAIK", "BAIK", "BUTUH_PERBAIKAN", "KURANG", "SANGAT_KURANG")
PREDICATE_TEXT = {"SANGAT_BAIK": "Sangat Baik", "BAIK": "Baik", "BUTUH_PERBAIKAN": "Butuh Perbaikan", "KURANG": "Kurang", "SANGAT_KURANG": "Sangat Kurang"}


@dataclass(frozen=True)
class KindRule:
    """One route's eligibility rule; `regulation` is quoted in every refusal."""

    regulation: str
    jenis_jabatan: tuple[str, ...]  # empty: any post
    min_years_in_rank: int
    predicate_years: int
    min_predicate: str
    education_cap: bool
    not_above_superior: bool


RANK_RULES_VERSION = "PP-99/2000+PerBKN-1/2025"
RANK_RULES: dict[str, dict[str, KindRule]] = {
    RANK_RULES_VERSION: {
        "REGULER": KindRule("PP 99/2000 ps. 6-8; Peraturan BKN 1/2025", ("PELAKSANA",), 4, 2, "BAIK", True, True),
        "PILIHAN_FUNGSIONAL": KindRule("PP 99/2000 ps. 9; PermenPANRB 1/2023", ("FUNGSIONAL",), 2, 2, "BAIK", False, False),
        "PILIHAN_STRUKTURAL": KindRule("PP 99/2000 ps. 10", ("ADMINISTRATOR", "PENGAWAS", "JPT"), 4, 2, "BAIK", False, True),
        # The exam and "task matches the diploma" are dossier documents, not directory facts.
        "PENYESUAIAN_IJAZAH": KindRule("PP 99/2000 ps. 18", (), 1, 1, "BAIK", False, False),
        # "Amat baik" in the last year; not tied to the ladder's caps (REGULATIONS.md §4.1).
        "PRESTASI_LUAR_BIASA": KindRule("PP 99/2000 ps. 14-15", (), 1, 1, "SANGAT_BAIK", False, False),
    },
}

# Highest rank reachable by regular promotion per education level (PP 99/2000 art. 7). SD -> II/a is in
# REGULATIONS.md §4.1; the other caps are recalled from the regulation's text: unconfirmed.
EDUCATION_CAPS: dict[str, dict[str, str]] = {
    RANK_RULES_VERSION: {
        "SD": "II/a", "SMP": "II/c", "SMA": "III/b", "D-I": "III/b", "D-II": "III/c", "D-III": "III/c",
        "D-IV": "III/d", "S1": "III/d", "S2": "IV/a", "PROFESI": "IV/a", "S3": "IV/b",
    },
}

# The rank a new diploma brings (REGULATIONS.md §4.1, malangkab source).
DIPLOMA_RANK: dict[str, dict[str, str]] = {
    RANK_RULES_VERSION: {"SMP": "I/c", "SMA": "II/a", "D-I": "II/a", "D-II": "II/b", "D-III": "II/c", "D-IV": "III/a", "S1": "III/a"},
}

# Structural posts: the post's starting rank and the highest rank it carries (eselon IV/III/II); unconfirmed.
STRUCTURAL_RANKS: dict[str, dict[str, tuple[str, str]]] = {
    RANK_RULES_VERSION: {"PENGAWAS": ("III/b", "III/d"), "ADMINISTRATOR": ("III/d", "IV/b"), "JPT": ("IV/a", "IV/d")},
}

# Cumulative credit points required to rise from a rank (PermenPANRB 1/2023 annex as commonly
# published; unconfirmed). Keyed by the current golongan; a level change needs a jenjang promotion.
CREDIT_POINTS_REQUIRED: dict[str, dict[str, dict[str, float]]] = {
    "PermenPANRB-1/2023": {
        "Ahli Pertama": {"III/a": 50, "III/b": 100},
        "Ahli Muda": {"III/c": 100, "III/d": 200},
        "Ahli Madya": {"IV/a": 150, "IV/b": 150, "IV/c": 450},
        "Ahli Utama": {"IV/d": 200},
        "Pemula": {"II/a": 15},
        "Terampil": {"II/b": 20, "II/c": 20, "II/d": 20},
        "Mahir": {"III/a": 50, "III/b": 50},
        "Penyelia": {"III/c": 100},
    },
}
CREDIT_RULES = "PermenPANRB-1/2023"

# Which route a batch proposes for each position type.
DEFAULT_KIND: dict[str, str] = {
    "PELAKSANA": "REGULER",
    "FUNGSIONAL": "PILIHAN_FUNGSIONAL",
    "ADMINISTRATOR": "PILIHAN_STRUKTURAL",
    "PENGAWAS": "PILIHAN_STRUKTURAL",
    "JPT": "PILIHAN_STRUKTURAL",
}


# --- dossier --------------------------------------------------------------------------------------
DOCUMENTS: dict[str, dict[str, str]] = {
    "SK_PANGKAT_TERAKHIR": {"id": "SK pangkat terakhir", "en": "Last rank decree"},
    "SK_CPNS_PNS": {"id": "SK CPNS dan SK PNS", "en": "CPNS and PNS appointment decrees"},
    "SKP_2_TAHUN": {"id": "SKP/penilaian kinerja 2 tahun terakhir", "en": "Performance appraisals of the last 2 years"},
    "SKP_1_TAHUN": {"id": "SKP/penilaian kinerja 1 tahun terakhir", "en": "Performance appraisal of the last year"},
    "IJAZAH": {"id": "Ijazah dan transkrip terakhir", "en": "Latest diploma and transcript"},
    "SERTIFIKAT_UJIAN_DINAS": {"id": "Sertifikat lulus ujian dinas", "en": "Service exam certificate"},
    "SK_JABATAN": {"id": "SK jabatan dan surat pernyataan pelantikan", "en": "Position decree and inauguration statement"},
    "PAK": {"id": "Penetapan angka kredit (PAK)", "en": "Credit point decision (PAK)"},
    "SERTIFIKAT_UJIAN_PI": {"id": "Sertifikat lulus ujian penyesuaian ijazah", "en": "Diploma-adjustment exam certificate"},
    "URAIAN_TUGAS": {"id": "Uraian tugas sesuai ijazah", "en": "Task description matching the diploma"},
    "BUKTI_PRESTASI": {"id": "Bukti prestasi luar biasa", "en": "Evidence of outstanding performance"},
}
_BASE_DOCS = ("SK_PANGKAT_TERAKHIR", "SK_CPNS_PNS")
KIND_DOCUMENTS: dict[str, tuple[str, ...]] = {
    "REGULER": (*_BASE_DOCS, "SKP_2_TAHUN", "IJAZAH"),
    "PILIHAN_FUNGSIONAL": (*_BASE_DOCS, "SKP_2_TAHUN", "PAK", "SK_JABATAN"),
    "PILIHAN_STRUKTURAL": (*_BASE_DOCS, "SKP_2_TAHUN", "SK_JABATAN"),
    "PENYESUAIAN_IJAZAH": (*_BASE_DOCS, "SKP_1_TAHUN", "IJAZAH", "SERTIFIKAT_UJIAN_PI", "URAIAN_TUGAS"),
    "PRESTASI_LUAR_BIASA": (*_BASE_DOCS, "SKP_1_TAHUN", "BUKTI_PRESTASI"),
}


def required_documents(kind: str, golongan_lama: str | None, golongan_baru: str | None) -> list[str]:
    """The dossier checklist; crossing a golongan group on the regular route adds the service exam."""
    docs = list(KIND_DOCUMENTS[kind])
    if kind == "REGULER" and golongan_lama and golongan_baru:
        if parse_golongan(golongan_baru).level > parse_golongan(golongan_lama).level:
            docs.append("SERTIFIKAT_UJIAN_DINAS")
    return docs


SHA256_CHARS = frozenset("0123456789abcdef")


def checklist_problems(data: Any, required: list[str], catalogue: dict[str, dict[str, str]] = DOCUMENTS) -> list[dict[str, Any]]:
    """A verified dossier lists every required document once, each with its SHA-256 (codes from the catalogue)."""
    docs = data.get("documents") if isinstance(data, dict) else None
    if not isinstance(docs, list):
        return [problem("documents", "Daftar dokumen (documents) wajib diisi.", "The document checklist (documents) is required.")]
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, doc in enumerate(docs):
        where = f"documents.{n}"
        if not isinstance(doc, dict) or doc.get("code") not in catalogue:
            out.append(problem(where, f"Kode dokumen tidak dikenal; pilih dari {sorted(catalogue)}.", f"Unknown document code; use one of {sorted(catalogue)}."))
            continue
        digest = str(doc.get("sha256", ""))
        if len(digest) != 64 or not set(digest) <= SHA256_CHARS:
            out.append(problem(f"{where}.sha256", "Hash SHA-256 dokumen harus 64 digit heksadesimal huruf kecil.", "A document's SHA-256 must be 64 lower-case hex digits."))
        seen.add(doc["code"])
    missing = [c for c in required if c not in seen]
    if missing:
        names_id = ", ".join(catalogue[c]["id"] for c in missing)
        names_en = ", ".join(catalogue[c]["en"] for c in missing)
        out.append(problem("documents", f"Dokumen wajib belum ada: {names_id}.", f"Required documents missing: {names_en}.", missing=missing))
    return out


def problem(field_name: str | None, message_id: str, message_en: str, **extra: Any) -> dict[str, Any]:
    """One bilingual problem (the shape the API returns)."""
    return {"field": field_name, "id": message_id, "en": message_en, **extra}


# --- facts and eligibility ------------------------------------------------------------------------
@dataclass(frozen=True)
class Facts:
    """What eligibility is computed from: the directory record, evaluation predicates and the proposal's declarations."""

    nip: str
    golongan: str | None
    tmt_golongan: date | None
    jenis_jabatan: str
    jabatan: str
    tmt_jabatan: date | None
    pendidikan: str | None
    atasan_nip: str | None = None
    atasan_golongan: str | None = None
    predicates: dict[int, str] = field(default_factory=dict)
    predicate_sources: dict[int, str] = field(default_factory=dict)
    sanction_until: date | None = None
    angka_kredit: float | None = None
    ijazah_baru: str | None = None
    relatives: tuple[str, ...] = ()
    tanggal_lahir: date | None = None
    sanction_kind: str | None = None
    sanction_from: date | None = None
    kompetensi: float | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Facts:
        """From the JSON form carried by workflows and events."""
        day = lambda v: date.fromisoformat(v) if v else None  # noqa: E731
        return cls(
            nip=d["nip"], golongan=d.get("golongan"), tmt_golongan=day(d.get("tmt_golongan")),
            jenis_jabatan=d.get("jenis_jabatan") or "", jabatan=d.get("jabatan") or "", tmt_jabatan=day(d.get("tmt_jabatan")),
            pendidikan=d.get("pendidikan"), atasan_nip=d.get("atasan_nip"), atasan_golongan=d.get("atasan_golongan"),
            predicates={int(k): v for k, v in (d.get("predicates") or {}).items()},
            predicate_sources={int(k): v for k, v in (d.get("predicate_sources") or {}).items()},
            sanction_until=day(d.get("sanction_until")),
            angka_kredit=None if d.get("angka_kredit") is None else float(d["angka_kredit"]),
            ijazah_baru=d.get("ijazah_baru"), relatives=tuple(d.get("relatives") or ()),
            tanggal_lahir=day(d.get("tanggal_lahir")), sanction_kind=d.get("sanction_kind"), sanction_from=day(d.get("sanction_from")),
            kompetensi=None if d.get("kompetensi") is None else float(d["kompetensi"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (dates ISO, years as strings)."""
        iso = lambda v: v.isoformat() if v else None  # noqa: E731
        return {
            "nip": self.nip, "golongan": self.golongan, "tmt_golongan": iso(self.tmt_golongan),
            "jenis_jabatan": self.jenis_jabatan, "jabatan": self.jabatan, "tmt_jabatan": iso(self.tmt_jabatan),
            "pendidikan": self.pendidikan, "atasan_nip": self.atasan_nip, "atasan_golongan": self.atasan_golongan,
            "predicates": {str(k): v for k, v in sorted(self.predicates.items())},
            "predicate_sources": {str(k): v for k, v in sorted(self.predicate_sources.items())},
            "sanction_until": iso(self.sanction_until), "angka_kredit": self.angka_kredit,
            "ijazah_baru": self.ijazah_baru, "relatives": list(self.relatives),
            "tanggal_lahir": iso(self.tanggal_lahir), "sanction_kind": self.sanction_kind, "sanction_from": iso(self.sanction_from),
            "kompetensi": self.kompetensi,
        }

    def sanction_on(self, day: date) -> bool:
        """A disciplinary sanction is in force on the day (PP 94/2021)."""
        return self.sanction_until is not None and self.sanction_until >= day and (self.sanction_from is None or self.sanction_from <= day)

    def sanction_failure(self, day: date) -> RuleFailure | None:
        """The HUKUMAN_DISIPLIN rule, named with the sanction's kind and period, when one is in force."""
        if not self.sanction_on(day):
            return None
        assert self.sanction_until is not None
        kind = f" ({self.sanction_kind})" if self.sanction_kind else ""
        return RuleFailure("HUKUMAN_DISIPLIN", "PP 94/2021",
                           f"Sedang menjalani hukuman disiplin{kind} sampai {self.sanction_until.isoformat()}.",
                           f"Under a disciplinary sanction{kind} until {self.sanction_until.isoformat()}.")


def merge_declared(facts: Facts, declared: dict[str, Any] | None) -> Facts:
    """Add the proposal's declarations; a predicate the system holds is never overridden by a declaration."""
    declared = declared or {}
    predicates, sources = dict(facts.predicates), dict(facts.predicate_sources)
    for year, pred in (declared.get("predicates") or {}).items():
        if int(year) not in predicates:
            predicates[int(year)], sources[int(year)] = pred, "usulan"
    kw: dict[str, Any] = {"predicates": predicates, "predicate_sources": sources}
    if declared.get("angka_kredit") is not None:
        kw["angka_kredit"] = float(declared["angka_kredit"])
    if declared.get("ijazah_baru"):
        kw["ijazah_baru"] = normalise_pendidikan(str(declared["ijazah_baru"])) or str(declared["ijazah_baru"])
    return Facts(**{**facts.__dict__, **kw})


def declared_problems(declared: Any) -> list[dict[str, Any]]:
    """Shape checks of a proposal's declarations."""
    if declared is None:
        return []
    if not isinstance(declared, dict):
        return [problem("declared", "Isian declared harus objek.", "declared must be an object.")]
    out = []
    preds = declared.get("predicates") or {}
    if not isinstance(preds, dict):
        out.append(problem("declared.predicates", "Predikat harus objek {tahun: predikat}.", "Predicates must be an object {year: predicate}."))
    else:
        for year, pred in preds.items():
            if not str(year).isdigit() or pred not in PREDICATE_ORDER:
                out.append(problem(f"declared.predicates.{year}", f"Predikat harus salah satu dari {list(PREDICATE_ORDER)}.", f"A predicate must be one of {list(PREDICATE_ORDER)}."))
    ak = declared.get("angka_kredit")
    if ak is not None and (isinstance(ak, bool) or not isinstance(ak, int | float) or ak < 0):
        out.append(problem("declared.angka_kredit", "Angka kredit harus bilangan tidak negatif.", "Credit points must be a non-negative number."))
    ij = declared.get("ijazah_baru")
    if ij is not None and normalise_pendidikan(str(ij)) is None:
        out.append(problem("declared.ijazah_baru", "Jenjang ijazah tidak dikenal.", "Unknown diploma level."))
    return out


@dataclass(frozen=True)
class RuleFailure:
    """A failed eligibility rule, named with its regulation."""

    rule: str
    regulation: str
    id: str
    en: str
    field: str | None = None

    def as_problem(self) -> dict[str, Any]:
        return problem(self.field, f"{self.id} [{self.rule}; {self.regulation}]", f"{self.en} [{self.rule}; {self.regulation}]", rule=self.rule, regulation=self.regulation)


@dataclass(frozen=True)
class Eligibility:
    kind: str
    period: date
    eligible: bool
    golongan_lama: str | None
    golongan_baru: str | None
    failures: tuple[RuleFailure, ...]
    eligible_from: date | None  # when the time rules are met (None: never by time alone)
    rules: str = RANK_RULES_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "period": self.period.isoformat(), "eligible": self.eligible,
            "golongan_lama": self.golongan_lama, "golongan_baru": self.golongan_baru,
            "eligible_from": self.eligible_from.isoformat() if self.eligible_from else None, "rules": self.rules,
            "failures": [f.as_problem() for f in self.failures],
        }


def add_years(day: date, years: int) -> date:
    """The anniversary; 29 February counts as completed on 1 March."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def next_golongan(g: Golongan) -> Golongan | None:
    i = g.rank_index + 1
    return ALL_GOLONGAN[i] if i < len(ALL_GOLONGAN) else None


def at_least(pred: str, minimum: str) -> bool:
    return pred in PREDICATE_ORDER and PREDICATE_ORDER.index(pred) <= PREDICATE_ORDER.index(minimum)


def functional_level(jabatan: str) -> str | None:
    """"Pranata Komputer Ahli Pertama" -> "Ahli Pertama"."""
    for level in sorted(FUNGSIONAL_GOLONGAN["PermenPANRB-1/2023"], key=len, reverse=True):
        if jabatan.strip().endswith(level):
            return level
    return None


def check_eligibility(kind: str, facts: Facts, period: date, version: str = RANK_RULES_VERSION) -> Eligibility:
    """Every rule of the route evaluated on the period's date (the new rank's TMT); all failures reported."""
    rule = RANK_RULES[version][kind]
    reg = rule.regulation
    fails: list[RuleFailure] = []

    def fail(code: str, id_: str, en: str, field_name: str | None = None, regulation: str = reg) -> None:
        fails.append(RuleFailure(code, regulation, id_, en, field_name))

    if facts.golongan is None:
        fail("BUKAN_PNS", "Hanya PNS yang memiliki pangkat/golongan.", "Only PNS hold a rank (golongan).", "nip", "UU 20/2023")
        return Eligibility(kind, period, False, None, None, tuple(fails), None, version)
    current = parse_golongan(facts.golongan)
    if rule.jenis_jabatan and facts.jenis_jabatan not in rule.jenis_jabatan:
        fail("JENIS_JABATAN", f"Jalur ini untuk jabatan {'/'.join(rule.jenis_jabatan)}, bukan {facts.jenis_jabatan}.",
             f"This route is for {'/'.join(rule.jenis_jabatan)} posts, not {facts.jenis_jabatan}.", "kind")

    # The target rank.
    target: Golongan | None
    if kind == "PENYESUAIAN_IJAZAH":
        level = facts.ijazah_baru
        rank = DIPLOMA_RANK[version].get(level or "")
        target = parse_golongan(rank) if rank else None
        if target is None:
            fail("IJAZAH", "Ijazah baru tidak disebut atau tidak memberi pangkat penyesuaian.", "The new diploma is missing or carries no adjusted rank.", "declared.ijazah_baru")
        elif target <= current:
            fail("IJAZAH_TIDAK_MENAIKKAN", f"Ijazah {level} memberi {target.code}, tidak di atas {current.code}.",
                 f"A {level} diploma gives {target.code}, not above {current.code}.", "declared.ijazah_baru")
    else:
        target = next_golongan(current)
        if target is None:
            fail("PANGKAT_PUNCAK", "Sudah pada pangkat tertinggi (IV/e).", "Already at the highest rank (IV/e).")

    # Time in rank (and in post for structural holders one rank below the post's starting rank).
    years = rule.min_years_in_rank
    post_from: date | None = None
    if kind == "PILIHAN_STRUKTURAL" and facts.jenis_jabatan in STRUCTURAL_RANKS[version]:
        start, top = (parse_golongan(x) for x in STRUCTURAL_RANKS[version][facts.jenis_jabatan])
        if current.rank_index == start.rank_index - 1:
            years = 1
            post_from = add_years(facts.tmt_jabatan, 1) if facts.tmt_jabatan else None
            if post_from is None or post_from > period:
                fail("MASA_JABATAN", "Belum 1 tahun dalam jabatan struktural.", "Less than 1 year in the structural post.", "tmt_jabatan")
        if target is not None and target > top:
            fail("BATAS_JABATAN", f"Jabatan {facts.jenis_jabatan} paling tinggi berpangkat {top.code}.", f"A {facts.jenis_jabatan} post carries at most {top.code}.")
    rank_from = add_years(facts.tmt_golongan, years) if facts.tmt_golongan else None
    if rank_from is None:
        fail("MASA_GOLONGAN", "TMT golongan tidak tercatat.", "The rank's effective date is not recorded.", "tmt_golongan")
    elif rank_from > period:
        fail("MASA_GOLONGAN", f"Masa kerja dalam golongan {current.code} belum {years} tahun pada {period.isoformat()} (terpenuhi {rank_from.isoformat()}).",
             f"Fewer than {years} years in rank {current.code} on {period.isoformat()} (met on {rank_from.isoformat()}).", "tmt_golongan")
    eligible_from = max(d for d in (rank_from, post_from) if d) if rank_from else None

    # Performance predicates of the last completed years.
    for year in range(period.year - rule.predicate_years, period.year):
        pred = facts.predicates.get(year)
        if pred is None:
            fail("PREDIKAT_KINERJA", f"Predikat kinerja {year} belum ada.", f"No performance predicate for {year}.", f"declared.predicates.{year}", "PermenPANRB 6/2022; " + reg)
        elif not at_least(pred, rule.min_predicate):
            fail("PREDIKAT_KINERJA", f"Predikat kinerja {year} {PREDICATE_TEXT.get(pred, pred)}, kurang dari {PREDICATE_TEXT[rule.min_predicate]}.",
                 f"The {year} predicate {pred} is below {rule.min_predicate}.", f"declared.predicates.{year}", "PermenPANRB 6/2022; " + reg)

    if rule.education_cap and target is not None:
        level = normalise_pendidikan(facts.pendidikan or "")
        cap = EDUCATION_CAPS[version].get(level or "")
        if cap is None:
            fail("BATAS_PENDIDIKAN", "Jenjang pendidikan tidak tercatat.", "Education level not recorded.", "pendidikan")
        elif target > parse_golongan(cap):
            fail("BATAS_PENDIDIKAN", f"Pendidikan {level} membatasi kenaikan reguler sampai {cap}.", f"Education {level} caps regular promotion at {cap}.", "pendidikan", "PP 99/2000 ps. 7")
    if rule.not_above_superior and target is not None and facts.atasan_golongan:
        if target > parse_golongan(facts.atasan_golongan):
            fail("MELEBIHI_ATASAN", f"Pangkat baru {target.code} melebihi pangkat atasan langsung ({facts.atasan_golongan}).",
                 f"The new rank {target.code} would exceed the direct superior's ({facts.atasan_golongan}).", None)
    if kind == "PILIHAN_FUNGSIONAL" and target is not None:
        level = functional_level(facts.jabatan)
        rng = FUNGSIONAL_GOLONGAN["PermenPANRB-1/2023"].get(level or "")
        if rng and target > parse_golongan(rng[1]):
            fail("JENJANG_JABATAN", f"Jenjang {level} paling tinggi {rng[1]}; perlu kenaikan jenjang jabatan.", f"Level {level} tops out at {rng[1]}; a level promotion is needed first.", None, "PermenPANRB 1/2023")
        need = CREDIT_POINTS_REQUIRED[CREDIT_RULES].get(level or "", {}).get(current.code)
        if need is None:
            fail("ANGKA_KREDIT", "Kebutuhan angka kredit untuk jenjang dan golongan ini tidak dikonfigurasi.", "No credit-point requirement is configured for this level and rank.", None, "PermenPANRB 1/2023")
        elif facts.angka_kredit is None or facts.angka_kredit < need:
            have = "tidak ada" if facts.angka_kredit is None else f"{facts.angka_kredit:g}"
            fail("ANGKA_KREDIT", f"Angka kredit kumulatif {have}, kurang dari {need:g}.", f"Cumulative credit points {facts.angka_kredit}, below {need:g}.", "declared.angka_kredit", "PermenPANRB 1/2023")
    sanction = facts.sanction_failure(period)
    if sanction is not None:
        fails.append(sanction)
    return Eligibility(
        kind, period, not fails, current.code, target.code if target else None, tuple(fails), eligible_from, version
    )


# --- periods (effective dates) ----------------------------------------------------------------------
PERIOD_CALENDARS: dict[str, tuple[int, ...]] = {
    "PP-99/2000": (1, 4, 7, 10),
    "BKN-APRIL-OKTOBER": (4, 10),  # long-standing BKN practice (PP 12/2002)
    "PerBKN-4/2023": (2, 4, 6, 8, 10, 12),  # six periods; the months are unconfirmed
    "PerBKN-4/2025": tuple(range(1, 13)),  # monthly, on the 1st, from 1 October 2025
}
# Which calendar governs a date by default; the dates of the older switches are unconfirmed.
PERIOD_SCHEDULE: tuple[tuple[date, str], ...] = (
    (date(2000, 1, 1), "PP-99/2000"),
    (date(2002, 1, 1), "BKN-APRIL-OKTOBER"),
    (date(2024, 1, 1), "PerBKN-4/2023"),
    (date(2025, 10, 1), "PerBKN-4/2025"),
)
MONTHLY_FROM = date(2025, 10, 1)
# "Today" for periods and windows is the Jakarta date (WIB, no DST since 1964).
WIB_OFFSET = timedelta(hours=7)


@dataclass(frozen=True)
class PeriodPolicy:
    """Per-year calendar overrides for years before the monthly calendar, and the submission window."""

    overrides: dict[int, str] = field(default_factory=dict)
    opens_days_before: int = 90  # regency service standard, adjustable
    closes_days_before: int = 1

    def __post_init__(self) -> None:
        for year, cal in self.overrides.items():
            if cal not in PERIOD_CALENDARS:
                raise ValueError(f"unknown period calendar {cal!r}; one of {sorted(PERIOD_CALENDARS)}")
            if date(int(year), 1, 1) >= MONTHLY_FROM:
                raise ValueError(f"{year}: the monthly calendar of Peraturan BKN 4/2025 applies; no override")


def calendar_on(day: date, policy: PeriodPolicy | None = None) -> str:
    """The calendar that governs a date (an override applies only before 1 October 2025)."""
    policy = policy or PeriodPolicy()
    if day < MONTHLY_FROM and day.year in policy.overrides:
        return policy.overrides[day.year]
    current = PERIOD_SCHEDULE[0][1]
    for since, cal in PERIOD_SCHEDULE:
        if day >= since:
            current = cal
    return current


def periods(year: int, policy: PeriodPolicy | None = None) -> list[date]:
    """The promotion periods (effective dates) of a year."""
    out = []
    for month in range(1, 13):
        day = date(year, month, 1)
        if month in PERIOD_CALENDARS[calendar_on(day, policy)]:
            out.append(day)
    return out


def is_period(day: date, policy: PeriodPolicy | None = None) -> bool:
    return day in periods(day.year, policy)


def submission_window(period: date, policy: PeriodPolicy | None = None) -> tuple[date, date]:
    """First and last day on which proposals for a period are accepted."""
    policy = policy or PeriodPolicy()
    return period - timedelta(days=policy.opens_days_before), period - timedelta(days=policy.closes_days_before)


def period_problems(period: date, today: date, policy: PeriodPolicy | None = None) -> list[dict[str, Any]]:
    """Why a period does not accept proposals today (empty when it is open)."""
    if not is_period(period, policy):
        cal = calendar_on(period, policy)
        return [problem("period", f"{period.isoformat()} bukan periode kenaikan pangkat menurut {cal}.",
                        f"{period.isoformat()} is not a promotion period under {cal}.", rule="PERIODE", regulation=cal)]
    first, last = submission_window(period, policy)
    if not first <= today <= last:
        return [problem("period", f"Usulan untuk periode {period.isoformat()} hanya diterima {first.isoformat()} s.d. {last.isoformat()}.",
                        f"Proposals for the {period.isoformat()} period are accepted from {first.isoformat()} to {last.isoformat()} only.",
                        rule="PERIODE_TERTUTUP", regulation=calendar_on(period, policy))]
    return []


def open_periods(today: date, policy: PeriodPolicy | None = None) -> list[date]:
    """Periods that accept proposals today."""
    candidates = periods(today.year, policy) + periods(today.year + 1, policy)
    return [p for p in candidates if not period_problems(p, today, policy)]


# --- rotation and election freezes ------------------------------------------------------------------
@dataclass(frozen=True)
class RotationRule:
    regulation: str = "PP 11/2017 ps. 190-191"
    min_years: int = 2
    max_years: int = 5


ROTATION_RULES = {"PP-11/2017": RotationRule()}
ROTATION_RULES_VERSION = "PP-11/2017"


@dataclass(frozen=True)
class Freeze:
    """A window in which position changes need the Home Minister's written approval (UU 10/2016 ps. 71)."""

    label: str
    starts: date
    ends: date  # inclusive
    regulation: str = "UU 10/2016 ps. 71 ayat (2)"

    def to_dict(self) -> dict[str, str]:
        return {"label": self.label, "starts": self.starts.isoformat(), "ends": self.ends.isoformat(), "regulation": self.regulation}


# Pilkada 2024: from 6 months before candidate registration (22 March 2024, radarutara source) to
# 6 months after the regents' inauguration (assumed 20 February 2025: unconfirmed for Batanghari).
ELECTION_FREEZES: tuple[Freeze, ...] = (
    Freeze("Pilkada 2024 (pra-pendaftaran s.d. akhir masa jabatan)", date(2024, 3, 22), date(2025, 2, 19)),
    Freeze("Pilkada 2024 (6 bulan setelah pelantikan)", date(2025, 2, 20), date(2025, 8, 20)),
)


def freezes_from(items: list[dict[str, Any]] | None) -> tuple[Freeze, ...]:
    """The default windows plus configured ones ({label, starts, ends})."""
    extra = tuple(Freeze(i["label"], date.fromisoformat(i["starts"]), date.fromisoformat(i["ends"]), i.get("regulation", "UU 10/2016 ps. 71 ayat (2)")) for i in items or [])
    return ELECTION_FREEZES + extra


def freeze_on(day: date, freezes: tuple[Freeze, ...] = ELECTION_FREEZES) -> Freeze | None:
    """The freeze window a date falls in, if any."""
    return next((f for f in freezes if f.starts <= day <= f.ends), None)


def rotation_problems(tmt_jabatan: date | None, on: date, rule: RotationRule | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The 2-5-year window since the last transfer: too early is refused; past 5 years is flagged overdue."""
    rule = rule or ROTATION_RULES[ROTATION_RULES_VERSION]
    if tmt_jabatan is None:
        return [problem("nip", "TMT jabatan terakhir tidak tercatat.", "The current post's start date is not recorded.", rule="MASA_MUTASI", regulation=rule.regulation)], {}
    earliest, latest = add_years(tmt_jabatan, rule.min_years), add_years(tmt_jabatan, rule.max_years)
    window = {"since": tmt_jabatan.isoformat(), "earliest": earliest.isoformat(), "latest": latest.isoformat(), "overdue": on > latest}
    if on < earliest:
        return [problem("nip", f"Mutasi paling cepat {rule.min_years} tahun sejak {tmt_jabatan.isoformat()} (yaitu {earliest.isoformat()}).",
                        f"A transfer is allowed no sooner than {rule.min_years} years after {tmt_jabatan.isoformat()} ({earliest.isoformat()}).",
                        rule="MASA_MUTASI_MINIMAL", regulation=rule.regulation)], window
    return [], window


# --- task due periods ---------------------------------------------------------------------------------
# Working days per step: the regency's service standard (unconfirmed; BKN's pertek SLA is not published).
PROMOTION_DUE_WORKING_DAYS: dict[str, dict[str, int]] = {
    "PerBKN-4/2025": {
        "PROMOTION_VERIFICATION": 5,
        "PROMOTION_REVISION": 10,
        "PROMOTION_BKN_PERTEK": 15,
        "PROMOTION_DECREE": 5,
        "ROTATION_ADVICE": 10,
        "ROTATION_MENDAGRI_APPROVAL": 20,
        "ROTATION_DECREE": 5,
    },
}
DUE_VERSION = "PerBKN-4/2025"


def due_days(kind: str, version: str = DUE_VERSION) -> int:
    return PROMOTION_DUE_WORKING_DAYS[version][kind]


def rank_label(code: str | None) -> str:
    """'III/b' -> 'Penata Muda Tingkat I (III/b)'."""
    if not code:
        return "-"
    return f"{parse_golongan(code).pangkat} ({code})"


def policy_from_config(config: dict[str, Any] | None) -> PeriodPolicy:
    """The period policy from the deployment's configuration file (period_overrides, window days)."""
    config = config or {}
    kw: dict[str, Any] = {"overrides": {int(y): c for y, c in (config.get("period_overrides") or {}).items()}}
    for key in ("opens_days_before", "closes_days_before"):
        if key in config:
            kw[key] = int(config[key])
    return PeriodPolicy(**kw)
