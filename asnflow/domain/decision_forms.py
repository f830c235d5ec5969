"""What a decision of each task kind carries: one schema for the web form and for the workflow validators.

Every human-task kind that asks for data describes its fields here (type, required, allowed values,
limits, labels in Bahasa Indonesia and English). The API serves the descriptions and the page draws its
forms from them; `check` applies the same description inside every workflow's decision validator
(asnflow/workflows/human_tasks.py), after the kind's own rules. Allowed values and limits come from
the constants the kind's own validators use (Rating, Predicate, DOCUMENTS, SKP_LIMITS, …), so a form
cannot offer what the workflow refuses. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from asnflow.domain import complaints as cp
from asnflow.domain import performance as pf
from asnflow.domain import position as ps
from asnflow.domain import promotion as pr
from asnflow.domain import training as tr
from asnflow.domain.organisation import PENDIDIKAN, UNITS

Label = dict[str, str]
SHA256 = re.compile(r"^[0-9a-f]{64}$")
TYPES = ("text", "textarea", "select", "number", "date", "sha256", "boolean", "list", "map", "object")


def _l(id_: str, en: str) -> Label:
    return {"id": id_, "en": en}


@dataclass(frozen=True)
class Option:
    """One allowed value with its labels (values may be any JSON scalar)."""

    value: Any
    label: Label


@dataclass(frozen=True)
class Field:
    """One input of a decision's data."""

    name: str
    type: str
    label: Label
    required: bool = False
    when: tuple[str, ...] = ()  # asked only for these outcomes (empty: every outcome)
    options: tuple[Option, ...] = ()
    closed: bool = True  # False: the options are suggestions; the kind's own validator decides (e.g. a case-specific catalogue)
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    min_length: int = 0
    max_length: int | None = None
    max_items: int | None = None
    items: tuple[Field, ...] = ()  # list of objects: the fields of one item; object: its fields
    item_type: str | None = None  # list of scalars: the type of one item ("text" …)
    key: Field | None = None  # map: the key field (value: items[0])
    help: Label | None = None
    prefill: str | None = None  # a list: start with one item per value of this key in the case's latest events

    def public(self) -> dict[str, Any]:
        """The field as the API serves it."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "label": self.label, "required": self.required}
        if self.when:
            out["when"] = list(self.when)
        if self.options:
            out["options"] = [{"value": o.value, "label": o.label} for o in self.options]
            out["closed"] = self.closed
        for key in ("minimum", "maximum", "max_length", "max_items"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.integer:
            out["integer"] = True
        if self.min_length:
            out["min_length"] = self.min_length
        if self.items:
            out["items"] = [f.public() for f in self.items]
        if self.item_type:
            out["item_type"] = self.item_type
        if self.key is not None:
            out["key"] = self.key.public()
        if self.help:
            out["help"] = self.help
        if self.prefill:
            out["prefill"] = self.prefill
        return out


@dataclass(frozen=True)
class Form:
    """The decision form of one task kind."""

    kind: str
    process: str
    title: Label
    fields: tuple[Field, ...] = ()
    outcomes: dict[str, Label] = field(default_factory=dict)  # labels of the kind's outcomes

    def public(self) -> dict[str, Any]:
        """The form as the API serves it."""
        return {
            "kind": self.kind, "process": self.process, "title": self.title,
            "outcomes": {k: v for k, v in self.outcomes.items()}, "fields": [f.public() for f in self.fields],
        }


# --- shared fields and option lists ---------------------------------------------------------------
def _enum_options(labels: dict[Any, Label]) -> tuple[Option, ...]:
    return tuple(Option(k.value, v) for k, v in labels.items())


RATINGS = _enum_options(pf.RATING_LABELS)
PREDICATES = _enum_options(pf.PREDICATE_LABELS)
ORG_PREDICATES = _enum_options(pf.ORG_PREDICATE_LABELS)
UNIT_OPTIONS = tuple(Option(u.code, _l(u.name, u.name_en)) for u in UNITS)
DOCUMENT_OPTIONS = tuple(Option(code, dict(names)) for code, names in pr.DOCUMENTS.items())
EDUCATION_OPTIONS = tuple(Option(level, _l(level, level)) for level in PENDIDIKAN)
_TRAINING = tr.rules_for()
COURSE_OPTIONS = tuple(Option(c.code, _l(f"{c.code} — {c.title_id}", f"{c.code} — {c.title_en}")) for c in tr.catalogue(_TRAINING).values())
_SKP = pf.SKP_LIMITS[pf.DEFAULT_REGULATION]
TEXT_MAX = 200  # numbers and short texts of letters and decrees (promotion.text_problems, training Latsar)
LONG_TEXT = 4000


def _sha(name: str, label: Label, **kw: Any) -> Field:
    return Field(name, "sha256", label, help=_l("64 digit heksadesimal huruf kecil", "64 lower-case hex digits"), **kw)


def _letter(nomor: str, tanggal: str, when: str | None, what: Label) -> tuple[Field, Field]:
    """A letter's or decree's number and date, asked for one outcome (None: for every outcome)."""
    outcomes = (when,) if when else ()
    return (
        Field(nomor, "text", _l(f"Nomor {what['id']}", f"{what['en']} number"), required=True, when=outcomes, max_length=TEXT_MAX),
        Field(tanggal, "date", _l(f"Tanggal {what['id']}", f"{what['en']} date"), required=True, when=outcomes),
    )


EVIDENCE = Field(
    "evidence", "list", _l("Bukti dukung", "Supporting evidence"),
    items=(
        Field("filename", "text", _l("Nama berkas", "File name"), required=True, max_length=255),
        _sha("sha256", _l("SHA-256 berkas", "File SHA-256"), required=True),
    ),
)
EXPECTATIONS = Field(
    "expectations", "list", _l("Ekspektasi pimpinan", "Leader's expectations"), item_type="textarea", max_items=20, max_length=500,
)


def _outcomes(**labels: tuple[str, str]) -> dict[str, Label]:
    return {k: _l(*v) for k, v in labels.items()}


# --- the forms ----------------------------------------------------------------------------------
FORMS_LIST: tuple[Form, ...] = (
    # evaluation (PermenPANRB 6/2022)
    Form("SKP_DRAFT", "evaluation", _l("Susun SKP", "Draft the SKP"), (
        Field(
            "targets", "list", _l("Sasaran kinerja", "Performance targets"), required=True, max_items=_SKP["max_targets"],
            items=(
                Field("indikator", "text", _l("Indikator", "Indicator"), required=True, max_length=_SKP["indikator_max_chars"]),
                Field("target", "text", _l("Target", "Target"), required=True, max_length=_SKP["target_max_chars"]),
                Field("cascaded_from", "text", _l("Diturunkan dari sasaran atasan", "Cascaded from the superior's target"), max_length=_SKP["indikator_max_chars"]),
            ),
        ),
    ), _outcomes(SUBMITTED=("Ajukan", "Submit"))),
    Form("SKP_AGREEMENT", "evaluation", _l("Setujui SKP", "Agree the SKP"), (
        dataclasses.replace(EXPECTATIONS, when=("AGREED",)),
    ), _outcomes(AGREED=("Setujui", "Agree"), RETURNED=("Kembalikan", "Return"))),
    Form("CHECK_IN", "evaluation", _l("Dialog kinerja", "Performance check-in"), (
        Field("feedback", "textarea", _l("Umpan balik", "Feedback"), required=True, max_length=LONG_TEXT),
        EVIDENCE,
        Field("hasil_kerja", "select", _l("Hasil kerja (periodik, opsional)", "Work results (periodic, optional)"), options=RATINGS),
        Field("perilaku_kerja", "select", _l("Perilaku kerja (periodik, opsional)", "Work behaviour (periodic, optional)"), options=RATINGS),
    ), _outcomes(RECORDED=("Catat", "Record"))),
    Form("RATING", "evaluation", _l("Penilaian kinerja", "Performance rating"), (
        # Not marked required: a unit head's work results follow the unit's organisation predicate (SE
        # MenPANRB 3/2023), so the kind's own rule decides when it must be given (everyone else: always).
        Field("hasil_kerja", "select", _l("Hasil kerja", "Work results"), options=RATINGS,
              help=_l("Wajib, kecuali pimpinan unit (mengikuti predikat organisasi unit)",
                      "Required, except for a unit head (follows the unit's organisation predicate)")),
        Field("perilaku_kerja", "select", _l("Perilaku kerja", "Work behaviour"), required=True, options=RATINGS),
    ), _outcomes(SUBMITTED=("Kirim", "Submit"))),
    Form("ACKNOWLEDGEMENT", "evaluation", _l("Terima hasil atau ajukan keberatan", "Accept the result or object"), (),
         _outcomes(ACKNOWLEDGED=("Terima", "Accept"), OBJECTED=("Ajukan keberatan", "Object"))),
    Form("OBJECTION_RESPONSE", "evaluation", _l("Tanggapan atas keberatan", "Response to the objection"), (
        Field("explanation", "textarea", _l("Penjelasan", "Explanation"), required=True, max_length=LONG_TEXT),
    ), _outcomes(RESPONDED=("Tanggapi", "Respond"))),
    Form("OBJECTION_DECISION", "evaluation", _l("Keputusan atas keberatan", "Decision on the objection"), (
        Field("predicate", "select", _l("Predikat baru", "New predicate"), required=True, when=("CHANGED",), options=PREDICATES),
    ), _outcomes(UPHELD=("Pertahankan", "Uphold"), CHANGED=("Ubah predikat", "Change the predicate"))),
    Form("ORG_PREDICATE", "evaluation", _l("Predikat kinerja organisasi", "Organisation performance predicate"), (
        Field("predicate", "select", _l("Predikat organisasi", "Organisation predicate"), required=True, options=ORG_PREDICATES),
    ), _outcomes(SET=("Tetapkan", "Set"))),
    Form("CALIBRATION", "evaluation", _l("Kalibrasi predikat", "Predicate calibration"), (
        Field(
            "adjustments", "list", _l("Penyesuaian", "Adjustments"),
            items=(
                Field("nip", "text", _l("NIP", "NIP"), required=True, max_length=18),
                Field("predicate", "select", _l("Predikat", "Predicate"), required=True, options=PREDICATES),
                Field("justification", "textarea", _l("Justifikasi tertulis", "Written justification"), max_length=LONG_TEXT,
                      help=_l(f"Wajib bila berbeda dari penilaian atasan (min. {pf.JUSTIFICATION_MIN_CHARS} karakter)",
                              f"Required when different from the appraiser's rating (min. {pf.JUSTIFICATION_MIN_CHARS} characters)")),
            ),
        ),
        Field("quota_justification", "textarea", _l("Justifikasi pelanggaran kuota", "Justification of a quota breach"), max_length=LONG_TEXT,
              help=_l("Wajib bila distribusi melanggar kuota", "Required when the distribution breaks the quota")),
    ), _outcomes(CALIBRATED=("Tetapkan kalibrasi", "Calibrate"))),
    Form("SUPERVISION", "any", _l("Pantau tugas terlambat", "Supervise a late task"), (), _outcomes(NOTED=("Sudah dipantau", "Noted"))),
    # promotion and rotation
    Form("PROMOTION_VERIFICATION", "promotion", _l("Verifikasi berkas", "Dossier verification"), (
        Field(
            "documents", "list", _l("Daftar periksa dokumen", "Document checklist"), required=True, when=("VERIFIED",),
            items=(
                Field("code", "select", _l("Dokumen", "Document"), required=True, options=DOCUMENT_OPTIONS),
                _sha("sha256", _l("SHA-256 dokumen", "Document SHA-256"), required=True),
            ),
            help=_l("Setiap dokumen wajib, masing-masing dengan hash-nya", "Every required document, each with its hash"),
            prefill="required_documents",  # PromotionProposed / PromotionResubmitted name the checklist
        ),
    ), _outcomes(VERIFIED=("Lengkap", "Verified"), RETURNED=("Kembalikan", "Return"), REJECTED=("Tolak", "Reject"))),
    Form("PROMOTION_BKN_PERTEK", "promotion", _l("Pertimbangan teknis BKN", "BKN technical approval"),
         _letter("nomor", "tanggal", "APPROVED", _l("pertek", "Pertek")),
         _outcomes(APPROVED=("Disetujui BKN", "Approved by BKN"), RETURNED=("Kembalikan", "Return"), REJECTED=("Tolak", "Reject"))),
    Form("PROMOTION_DECREE", "promotion", _l("SK kenaikan pangkat", "Rank promotion decree"),
         _letter("sk_nomor", "sk_tanggal", "DECREED", _l("SK", "Decree")),
         _outcomes(DECREED=("Tetapkan SK", "Decree"), RETURNED=("Kembalikan", "Return"), REJECTED=("Tolak", "Reject"))),
    Form("PROMOTION_REVISION", "promotion", _l("Perbaiki usulan", "Revise the proposal"), (
        Field(
            "declared", "object", _l("Data yang dinyatakan", "Declared facts"), when=("RESUBMITTED",),
            items=(
                Field("predicates", "map", _l("Predikat per tahun", "Predicate per year"),
                      key=Field("year", "number", _l("Tahun", "Year"), required=True, integer=True, minimum=2000, maximum=2100),
                      items=(Field("predicate", "select", _l("Predikat", "Predicate"), required=True, options=PREDICATES),)),
                Field("angka_kredit", "number", _l("Angka kredit", "Credit points"), minimum=0),
                Field("ijazah_baru", "select", _l("Ijazah baru", "New diploma"), options=EDUCATION_OPTIONS),
            ),
        ),
    ), _outcomes(RESUBMITTED=("Ajukan ulang", "Resubmit"), WITHDRAWN=("Tarik usulan", "Withdraw"))),
    Form("ROTATION_ADVICE", "promotion", _l("Pertimbangan Tim Penilai Kinerja", "Performance board advice"), (
        Field(
            "conflict_of_interest", "select", _l("Konflik kepentingan", "Conflict of interest"), required=True,
            options=(Option(False, _l("Tidak ada konflik kepentingan", "No conflict of interest")),
                     Option(True, _l("Ada konflik — saya mundur dari perkara ini", "Conflict — I recuse"))),
            help=_l("Anggota yang berkonflik tidak boleh memberi pertimbangan", "A member with a conflict may not advise"),
        ),
    ), _outcomes(RECOMMENDED=("Rekomendasikan", "Recommend"), NOT_RECOMMENDED=("Tidak direkomendasikan", "Not recommended"))),
    Form("ROTATION_MENDAGRI_APPROVAL", "promotion", _l("Persetujuan tertulis Mendagri", "Home Minister's written approval"),
         _letter("nomor", "tanggal", "APPROVED", _l("surat", "Letter")),
         _outcomes(APPROVED=("Disetujui", "Approved"), REFUSED=("Ditolak", "Refused"))),
    Form("ROTATION_DECREE", "promotion", _l("SK mutasi", "Transfer decree"),
         _letter("sk_nomor", "sk_tanggal", "DECREED", _l("SK", "Decree")),
         _outcomes(DECREED=("Tetapkan SK", "Decree"), REJECTED=("Tolak", "Reject"))),
    # position promotion: Tim Penilai Kinerja route and open JPT selection (PermenPANRB 15/2019, 3/2020)
    Form("POSITION_TPK_DECLARATION", "position", _l("Pernyataan konflik kepentingan", "Conflict-of-interest declaration"), (),
         _outcomes(NO_CONFLICT=("Tidak ada konflik", "No conflict"), CONFLICT=("Ada konflik, mundur", "Conflict, recuse"))),
    Form("POSITION_TPK_RECOMMENDATION", "position", _l("Rekomendasi Tim Penilai Kinerja", "Performance board recommendation"), (
        Field("ranking", "list", _l("Urutan calon (NIP)", "Ranked candidates (NIP)"), required=True, when=("RECOMMENDED",), item_type="text",
              max_items=3, max_length=18, help=_l("1–3 NIP berbeda dari kelompok talenta, terbaik dahulu", "1–3 different NIPs of the talent pool, best first")),
        _sha("notulen_sha256", _l("SHA-256 notulen sidang", "Session minutes SHA-256"), when=("RECOMMENDED",)),
    ), _outcomes(RECOMMENDED=("Rekomendasikan", "Recommend"), NONE_SUITABLE=("Tidak ada yang sesuai", "None suitable"))),
    Form("POSITION_PPK_DECISION", "position", _l("Keputusan PPK", "PPK decision"), (
        Field("nip", "text", _l("NIP yang diangkat", "NIP appointed"), required=True, when=("APPOINTED",), max_length=18,
              help=_l("Salah satu dari urutan rekomendasi", "One of the recommended ranking")),
    ), _outcomes(APPOINTED=("Angkat", "Appoint"), REJECTED=("Tolak", "Reject"))),
    Form("POSITION_MENDAGRI_APPROVAL", "position", _l("Persetujuan tertulis Mendagri", "Home Minister's written approval"),
         _letter("nomor", "tanggal", "APPROVED", _l("surat", "Letter")),
         _outcomes(APPROVED=("Disetujui", "Approved"), REFUSED=("Ditolak", "Refused"))),
    Form("POSITION_DECREE", "position", _l("SK pengangkatan", "Appointment decree"),
         _letter("sk_nomor", "sk_tanggal", None, _l("SK", "Decree")), _outcomes(DECREED=("Tetapkan SK", "Decree"))),
    Form("POSITION_INAUGURATION", "position", _l("Pelantikan dan sumpah jabatan", "Inauguration and oath"), (
        Field("berita_acara_nomor", "text", _l("Nomor berita acara", "Record number"), required=True, max_length=TEXT_MAX),
        Field("tanggal", "date", _l("Tanggal pelantikan", "Inauguration date"), required=True),
        Field("sumpah", "boolean", _l("Sumpah/janji jabatan diucapkan", "Oath of office taken"), required=True),
    ), _outcomes(INAUGURATED=("Dilantik", "Inaugurated"))),
    Form("JPT_PANSEL_FORMATION", "position", _l("Pembentukan panitia seleksi", "Forming the selection committee"),
         _letter("sk_nomor", "sk_tanggal", "FORMED", _l("SK pansel", "Committee decree")),
         _outcomes(FORMED=("Bentuk pansel", "Form"), REJECTED=("Tolak", "Reject"))),
    Form("JPT_PANSEL_DECLARATION", "position", _l("Pernyataan konflik kepentingan pansel", "Committee conflict declaration"), (),
         _outcomes(NO_CONFLICT=("Tidak ada konflik", "No conflict"), CONFLICT=("Ada konflik, mundur", "Conflict, recuse"))),
    Form("JPT_ANNOUNCEMENT", "position", _l("Pengumuman lowongan JPT", "JPT vacancy announcement"),
         _letter("nomor", "tanggal", None, _l("pengumuman", "Announcement")), _outcomes(ANNOUNCED=("Umumkan", "Announce"))),
    Form("JPT_ADMIN_CHECK", "position", _l("Seleksi administrasi", "Administrative check"), (
        Field(
            "documents", "list", _l("Daftar periksa dokumen", "Document checklist"), required=True, when=("PASSED",),
            items=(
                Field("code", "select", _l("Dokumen", "Document"), required=True, options=tuple(Option(c, dict(n)) for c, n in ps.ADMIN_DOCUMENTS.items())),
                _sha("sha256", _l("SHA-256 dokumen", "Document SHA-256"), required=True),
            ),
            help=_l("Setiap dokumen persyaratan, masing-masing dengan hash-nya", "Every required document, each with its hash"),
        ),
    ), _outcomes(PASSED=("Memenuhi syarat", "Passed"), FAILED=("Tidak memenuhi syarat", "Failed"))),
    Form("JPT_ASSESSMENT", "position", _l("Nilai tahap seleksi", "Stage scores"), (
        Field("scores", "map", _l("Nilai per peserta", "Score per applicant"), required=True,
              key=Field("nip", "text", _l("NIP peserta", "Applicant NIP"), required=True, max_length=18),
              items=(Field("score", "number", _l("Nilai (0–100)", "Score (0–100)"), required=True, minimum=0, maximum=100),),
              help=_l("Satu nilai untuk setiap peserta tahap ini", "One score for every applicant still in this stage")),
    ), _outcomes(SCORED=("Catat nilai", "Record scores"))),
    Form("JPT_PPK_PICK", "position", _l("PPK memilih satu dari tiga", "PPK picks one of three"), (
        Field("nip", "text", _l("NIP yang dipilih", "NIP picked"), required=True, when=("PICKED",), max_length=18),
    ), _outcomes(PICKED=("Pilih", "Pick"), REJECTED=("Tolak", "Reject"))),
    Form("JPT_NATIONAL_RECOMMENDATION", "position", _l("Rekomendasi instansi nasional", "National body's recommendation"),
         _letter("nomor", "tanggal", None, _l("surat rekomendasi", "Recommendation letter")),
         _outcomes(RECOMMENDED=("Direkomendasikan", "Recommended"), NOT_RECOMMENDED=("Tidak direkomendasikan", "Not recommended"))),
    # training (PP 11/2017, PP 17/2020)
    Form("TRAINING_PLAN_DRAFT", "training", _l("Rencana pengembangan kompetensi", "Competency development plan"), (
        Field("budgets", "map", _l("Anggaran per perangkat daerah (Rp)", "Budget per agency (Rp)"), required=True,
              key=Field("unit", "select", _l("Perangkat daerah", "Agency"), required=True, options=UNIT_OPTIONS, closed=False),
              items=(Field("amount", "number", _l("Anggaran (Rp)", "Budget (Rp)"), required=True, integer=True, minimum=0, maximum=_TRAINING.max_budget),)),
        Field(
            "items", "list", _l("Kegiatan", "Activities"), required=True,
            items=(
                Field("unit", "select", _l("Perangkat daerah", "Agency"), required=True, options=UNIT_OPTIONS, closed=False),
                Field("course", "select", _l("Kursus", "Course"), required=True, options=COURSE_OPTIONS, closed=False),
                Field("participants", "number", _l("Peserta", "Participants"), required=True, integer=True, minimum=1,
                      maximum=_TRAINING.max_participants_per_item),
            ),
        ),
    ), _outcomes(SUBMITTED=("Ajukan", "Submit"))),
    Form("TRAINING_PLAN_APPROVAL", "training", _l("Penetapan rencana", "Plan approval"), (),
         _outcomes(APPROVED=("Tetapkan", "Approve"), RETURNED=("Kembalikan", "Return"))),
    Form("TRAINING_AMENDMENT_APPROVAL", "training", _l("Penetapan perubahan rencana", "Plan amendment approval"), (),
         _outcomes(APPROVED=("Tetapkan", "Approve"), RETURNED=("Kembalikan", "Return"))),
    Form("TRAINING_RECOMMENDATION", "training", _l("Rekomendasi pelatihan", "Training recommendation"), (),
         _outcomes(RECOMMENDED=("Rekomendasikan", "Recommend"), NOT_RECOMMENDED=("Tidak direkomendasikan", "Not recommended"))),
    Form("TRAINING_VALIDATION", "training", _l("Validasi pelatihan", "Training validation"), (),
         _outcomes(VALIDATED=("Sah", "Validate"), REJECTED=("Tolak", "Reject"))),
    Form("TRAINING_VERIFICATION", "training", _l("Verifikasi bukti pelatihan", "Training evidence verification"), (),
         _outcomes(VERIFIED=("Bukti sah", "Verified"), REJECTED=("Tolak", "Reject"))),
    Form("TRAINING_EVALUATION", "training", _l("Evaluasi pelatihan", "Training evaluation"), (
        Field("relevance", "number", _l("Relevansi (1–5)", "Relevance (1–5)"), required=True, integer=True, minimum=min(tr.LEVELS), maximum=max(tr.LEVELS)),
        Field("quality", "number", _l("Kualitas (1–5)", "Quality (1–5)"), required=True, integer=True, minimum=min(tr.LEVELS), maximum=max(tr.LEVELS)),
        Field("comment", "textarea", _l("Komentar", "Comment"), max_length=2000),
    ), _outcomes(SUBMITTED=("Kirim", "Submit"))),
    Form("LATSAR_ENROLMENT", "training", _l("Pendaftaran Latsar", "Latsar enrolment"), (
        Field("cohort", "text", _l("Angkatan", "Cohort"), required=True, max_length=TEXT_MAX),
        Field("provider", "text", _l("Penyelenggara", "Provider"), required=True, max_length=TEXT_MAX),
        Field("starts_on", "date", _l("Tanggal mulai", "Start date"), required=True),
        Field("ends_on", "date", _l("Tanggal selesai", "End date"), required=True),
    ), _outcomes(ENROLLED=("Daftarkan", "Enrol"))),
    Form("LATSAR_RESULT", "training", _l("Hasil Latsar", "Latsar result"), (
        Field("score", "number", _l("Nilai (0–100)", "Score (0–100)"), required=True, minimum=0, maximum=100,
              help=_l(f"Lulus memerlukan nilai ≥ {_TRAINING.latsar.pass_mark}", f"A pass needs at least {_TRAINING.latsar.pass_mark}")),
        _sha("certificate_sha256", _l("SHA-256 STTPP", "STTPP certificate SHA-256"), required=True, when=("PASSED",)),
    ), _outcomes(PASSED=("Lulus", "Passed"), FAILED=("Tidak lulus", "Failed"))),
    # complaints (Perpres 76/2013, PermenPANRB 62/2018)
    Form("COMPLAINT_VERIFICATION", "complaint", _l("Verifikasi laporan", "Report verification"), (
        Field("unit", "select", _l("Teruskan ke perangkat daerah", "Route to agency"), when=("VERIFIED",), options=UNIT_OPTIONS,
              help=_l("Kosongkan untuk unit yang dipilih pelapor", "Leave empty for the unit the reporter chose")),
        Field("asn_confirmed", "boolean", _l("ASN yang disebut dikonfirmasi", "The named ASN is confirmed"), when=("VERIFIED",)),
    ), _outcomes(VERIFIED=("Terverifikasi", "Verified"), POSTPONED=("Tunda, minta kelengkapan", "Postpone for a supplement"),
                 NOT_OUR_AUTHORITY=("Bukan kewenangan", "Not our authority"), ARCHIVED=("Arsipkan", "Archive"))),
    Form("COMPLAINT_FOLLOW_UP", "complaint", _l("Tindak lanjut laporan", "Report follow-up"), (
        Field("text", "textarea", _l("Rencana/hasil tindak lanjut", "Follow-up plan or result"), required=True, min_length=10,
              max_length=cp.LIMITS.response_max),
    ), _outcomes(PLAN_POSTED=("Kirim rencana", "Post the plan"), RESOLVED=("Selesai", "Resolved"))),
    Form("COMPLAINT_ASN_RESPONSE", "complaint", _l("Tanggapan ASN", "ASN's response"), (
        Field("response", "textarea", _l("Tanggapan", "Response"), required=True, min_length=1, max_length=cp.LIMITS.response_max),
    ), _outcomes(RESPONDED=("Kirim tanggapan", "Respond"))),
)
FORMS: dict[str, Form] = {f.kind: f for f in FORMS_LIST}


def describe(kind: str) -> dict[str, Any] | None:
    """The served description of a kind's form; None for a kind without one (the page then asks for JSON)."""
    form = FORMS.get(kind)
    return form.public() if form else None


# --- the same description as a validator ------------------------------------------------------------
def _p(path: str, id_: str, en: str) -> dict[str, Any]:
    return {"field": path, "id": id_, "en": en}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == [] or value == {}


def _check_value(f: Field, value: Any, path: str) -> list[dict[str, Any]]:
    """Problems of one present value against its field."""
    lid, len_ = f.label["id"], f.label["en"]
    t = f.type
    if t in ("text", "textarea"):
        if not isinstance(value, str):
            return [_p(path, f"{lid} harus berupa teks", f"{len_} must be text")]
        n = len(value.strip())
        if n < f.min_length or (f.max_length is not None and len(value) > f.max_length):
            hi = f.max_length if f.max_length is not None else "∞"
            return [_p(path, f"{lid}: {f.min_length}–{hi} karakter", f"{len_}: {f.min_length}–{hi} characters")]
        return []
    if t == "sha256":
        if not isinstance(value, str) or not SHA256.match(value):
            return [_p(path, f"{lid} harus 64 digit heksadesimal huruf kecil", f"{len_} must be 64 lower-case hex digits")]
        return []
    if t == "date":
        try:
            date.fromisoformat(str(value))
        except ValueError:
            return [_p(path, f"{lid} harus tanggal (YYYY-MM-DD)", f"{len_} must be a date (YYYY-MM-DD)")]
        return []
    if t == "boolean":
        return [] if isinstance(value, bool) else [_p(path, f"{lid} harus ya/tidak", f"{len_} must be true or false")]
    if t == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or (f.integer and not isinstance(value, int)):
            kind_id, kind_en = ("bilangan bulat", "a whole number") if f.integer else ("angka", "a number")
            return [_p(path, f"{lid} harus {kind_id}", f"{len_} must be {kind_en}")]
        if (f.minimum is not None and value < f.minimum) or (f.maximum is not None and value > f.maximum):
            return [_p(path, f"{lid} harus {_range(f)}", f"{len_} must be {_range(f)}")]
        return []
    if t == "select":
        if f.closed and not any(value == o.value and type(value) is type(o.value) for o in f.options):
            allowed = ", ".join(str(o.value) for o in f.options)
            return [_p(path, f"{lid} harus salah satu dari: {allowed}", f"{len_} must be one of: {allowed}")]
        return []
    if t == "list":
        if not isinstance(value, list):
            return [_p(path, f"{lid} harus berupa daftar", f"{len_} must be a list")]
        out = []
        if f.max_items is not None and len(value) > f.max_items:
            out.append(_p(path, f"{lid}: paling banyak {f.max_items}", f"{len_}: at most {f.max_items}"))
        for i, item in enumerate(value):
            where = f"{path}[{i}]"
            if f.items:
                out += _check_object(f.items, item, where, f.label)
            else:
                scalar = Field(f.name, f.item_type or "text", f.label, min_length=1, max_length=f.max_length)
                out += _check_value(scalar, item, where)
        return out
    if t == "object":
        return _check_object(f.items, value, path, f.label)
    if t == "map":
        if not isinstance(value, dict):
            return [_p(path, f"{lid} harus berupa objek", f"{len_} must be an object")]
        out = []
        assert f.key is not None
        for k, v in value.items():
            key_value: Any = k
            if f.key.type == "number":
                key_value = int(k) if str(k).isdigit() else k
            out += _check_value(f.key, key_value, f"{path}.{k}")
            out += _check_value(f.items[0], v, f"{path}.{k}")
        return out
    raise ValueError(f"unknown field type {t}")


def _range(f: Field) -> str:
    lo = "" if f.minimum is None else f"{f.minimum:g}"
    hi = "" if f.maximum is None else f"{f.maximum:g}"
    return f"{lo}–{hi}" if lo and hi else (f"≥ {lo}" if lo else f"≤ {hi}")


def _check_object(fields: tuple[Field, ...], value: Any, path: str, label: Label) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        return [_p(path, f"{label['id']} harus berupa objek", f"{label['en']} must be an object")]
    return _check_fields(fields, value, None, path)


def _check_fields(fields: tuple[Field, ...], data: dict[str, Any], outcome: str | None, prefix: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in fields:
        if outcome is not None and f.when and outcome not in f.when:
            continue
        path = f"{prefix}.{f.name}" if prefix else f.name
        value = data.get(f.name)
        if _blank(value):
            if f.required:
                out.append(_p(path, f"{f.label['id']} wajib diisi", f"{f.label['en']} is required"))
            continue
        out += _check_value(f, value, path)
    return out


def check(kind: str, outcome: str, data: Any) -> list[dict[str, Any]]:
    """Problems ({field, id, en}) of a decision's data against its kind's form; [] for kinds without one."""
    form = FORMS.get(kind)
    if form is None or not form.fields:
        return []
    if not isinstance(data, dict):
        return [_p("", "Data keputusan harus berupa objek", "Decision data must be an object")]
    return _check_fields(form.fields, data, outcome, "")
