"""Competency development (PP 11/2017 arts. 203–207, REGULATIONS.md §2): versioned rules, pure checks, event types."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Any

from asnflow.domain.events import CaseEvent
from asnflow.domain.organisation import BKPSDMD, UNITS_BY_CODE, InvalidGolongan, parse_golongan

PROCESS = "training"
# Western Indonesia Time has had no DST since 1964; a fixed offset keeps workflow code free of tz data.
WIB = timezone(timedelta(hours=7), "WIB")
HR_UNIT = BKPSDMD

Problem = dict[str, Any]


def _problem(field_name: str | None, message_id: str, message_en: str) -> Problem:
    return {"field": field_name, "id": message_id, "en": message_en}


# --- forms of development (Perlan 10/2018 as mirrored in REGULATIONS.md §2) ------------------------
class Form(StrEnum):
    """Route of a development activity."""

    KLASIKAL = "KLASIKAL"  # classroom training
    NON_KLASIKAL = "NON_KLASIKAL"  # coaching, mentoring, e-learning, secondment, ...
    TUGAS_BELAJAR = "TUGAS_BELAJAR"  # study assignment (education, funded)
    IZIN_BELAJAR = "IZIN_BELAJAR"  # study permit (education, self-funded)


@dataclass(frozen=True)
class FormRule:
    """What a form means for the plan, the budget and the 20 JP."""

    path: str  # PELATIHAN (training) | PENDIDIKAN (education)
    label_id: str
    label_en: str
    methods: tuple[str, ...]
    funded: bool  # needs an item of the approved plan and its budget
    credits_jp: bool  # counts towards the yearly JP


FORMS: dict[Form, FormRule] = {
    Form.KLASIKAL: FormRule(
        "PELATIHAN", "Pelatihan klasikal", "Classroom training",
        ("PELATIHAN_DASAR", "PELATIHAN_KEPEMIMPINAN", "PELATIHAN_MANAJERIAL", "PELATIHAN_TEKNIS", "PELATIHAN_FUNGSIONAL",
         "SEMINAR", "LOKAKARYA", "KURSUS", "BIMBINGAN_TEKNIS"),
        True, True,
    ),
    Form.NON_KLASIKAL: FormRule(
        "PELATIHAN", "Pelatihan non-klasikal", "Non-classroom training",
        ("COACHING", "MENTORING", "E_LEARNING", "PELATIHAN_JARAK_JAUH", "DETASERING", "PATOK_BANDING", "PERTUKARAN", "MAGANG"),
        True, True,
    ),
    # Whether education counts towards the 20 JP is unconfirmed: configuration.
    Form.TUGAS_BELAJAR: FormRule("PENDIDIKAN", "Tugas belajar", "Study assignment", ("S1", "S2", "S3"), True, True),
    Form.IZIN_BELAJAR: FormRule("PENDIDIKAN", "Izin belajar", "Study permit", ("S1", "S2", "S3"), False, False),
}

COMPETENCIES: tuple[str, ...] = ("MANAJERIAL", "SOSIAL_KULTURAL", "TEKNIS")
COMPETENCY_LABELS: dict[str, dict[str, str]] = {
    "MANAJERIAL": {"id": "Manajerial", "en": "Managerial"},
    "SOSIAL_KULTURAL": {"id": "Sosial kultural", "en": "Socio-cultural"},
    "TEKNIS": {"id": "Teknis", "en": "Technical"},
}
LEVELS = range(1, 6)


@dataclass(frozen=True)
class Course:
    """A development activity BKPSDMD offers (catalogue entry)."""

    code: str
    title_id: str
    title_en: str
    form: Form
    method: str
    jp: int  # nominal lesson hours; the most a certificate may credit
    cost: int  # Rupiah per participant
    competency: str
    level: int  # the level of `competency` a completed course attests
    leadership: str | None = None  # PKP | PKA | PKN_II: eligibility rules apply

    def public(self) -> dict[str, Any]:
        """The catalogue entry as the API shows it."""
        return {
            "code": self.code, "title_id": self.title_id, "title_en": self.title_en, "form": self.form.value,
            "method": self.method, "jp": self.jp, "cost": self.cost, "competency": self.competency, "level": self.level,
            "leadership": self.leadership, "funded": FORMS[self.form].funded, "credits_jp": FORMS[self.form].credits_jp,
        }


def _c(code: str, title_id: str, title_en: str, form: Form, method: str, jp: int, cost: int, comp: str, level: int, lead: str | None = None) -> Course:
    return Course(code, title_id, title_en, form, method, jp, cost, comp, level, lead)


# The regency's catalogue per year (fictional offerings; fees are estimates, PKN II's from SIPPN).
# Leadership JP figures are unconfirmed.
CATALOGUES: dict[str, dict[str, Course]] = {
    "BKPSDMD-2026": {
        c.code: c
        for c in (
            _c("MAN-PELAYANAN-PRIMA", "Pelatihan Pelayanan Publik Prima", "Excellent public service training",
               Form.KLASIKAL, "PELATIHAN_MANAJERIAL", 24, 2_500_000, "MANAJERIAL", 2),
            _c("SOS-BERAKHLAK", "E-learning Nilai Dasar BerAKHLAK", "E-learning: the BerAKHLAK core values",
               Form.NON_KLASIKAL, "E_LEARNING", 10, 0, "SOSIAL_KULTURAL", 2),
            _c("SOS-WAWASAN-KEBANGSAAN", "Seminar Wawasan Kebangsaan", "Seminar: national insight",
               Form.KLASIKAL, "SEMINAR", 8, 750_000, "SOSIAL_KULTURAL", 3),
            _c("TEK-SPBE", "Bimbingan Teknis SPBE", "Technical guidance: e-government (SPBE)",
               Form.KLASIKAL, "BIMBINGAN_TEKNIS", 32, 3_500_000, "TEKNIS", 3),
            _c("TEK-KEUDA", "Bimbingan Teknis Pengelolaan Keuangan Daerah", "Technical guidance: regional finance",
               Form.KLASIKAL, "BIMBINGAN_TEKNIS", 24, 3_000_000, "TEKNIS", 2),
            _c("TEK-PBJ-DASAR", "Pelatihan Pengadaan Barang/Jasa Tingkat Dasar", "Basic procurement training",
               Form.KLASIKAL, "PELATIHAN_TEKNIS", 40, 4_500_000, "TEKNIS", 2),
            _c("TEK-LITERASI-DIGITAL", "E-learning Literasi Digital (ASN Corpu)", "E-learning: digital literacy (ASN Corpu)",
               Form.NON_KLASIKAL, "E_LEARNING", 12, 0, "TEKNIS", 1),
            _c("NK-COACHING-KINERJA", "Coaching kinerja oleh atasan", "Performance coaching by the superior",
               Form.NON_KLASIKAL, "COACHING", 8, 0, "MANAJERIAL", 1),
            _c("NK-MENTORING-JF", "Mentoring jabatan fungsional", "Mentoring for functional positions",
               Form.NON_KLASIKAL, "MENTORING", 10, 0, "TEKNIS", 2),
            _c("NK-DETASERING", "Detasering ke Pemerintah Provinsi Jambi", "Secondment to the Jambi provincial government",
               Form.NON_KLASIKAL, "DETASERING", 40, 1_500_000, "TEKNIS", 3),
            _c("NK-PATOK-BANDING", "Patok banding pelayanan ke kabupaten lain", "Service benchmarking visit to another regency",
               Form.NON_KLASIKAL, "PATOK_BANDING", 16, 5_000_000, "MANAJERIAL", 3),
            _c("PKP", "Pelatihan Kepemimpinan Pengawas", "Supervisor leadership training",
               Form.KLASIKAL, "PELATIHAN_KEPEMIMPINAN", 300, 15_000_000, "MANAJERIAL", 3, "PKP"),
            _c("PKA", "Pelatihan Kepemimpinan Administrator", "Administrator leadership training",
               Form.KLASIKAL, "PELATIHAN_KEPEMIMPINAN", 350, 18_000_000, "MANAJERIAL", 4, "PKA"),
            _c("PKN-II", "Pelatihan Kepemimpinan Nasional Tingkat II", "National leadership training, level II",
               Form.KLASIKAL, "PELATIHAN_KEPEMIMPINAN", 400, 22_900_000, "MANAJERIAL", 5, "PKN_II"),
            _c("TB-S2", "Tugas belajar program magister", "Study assignment: master's degree",
               Form.TUGAS_BELAJAR, "S2", 20, 40_000_000, "TEKNIS", 4),
            _c("IB-S1", "Izin belajar program sarjana", "Study permit: bachelor's degree",
               Form.IZIN_BELAJAR, "S1", 0, 0, "TEKNIS", 3),
            _c("IB-S2", "Izin belajar program magister", "Study permit: master's degree",
               Form.IZIN_BELAJAR, "S2", 0, 0, "TEKNIS", 4),
        )
    },
}


# --- position standards (standar kompetensi jabatan) --------------------------------------------
# Required level 1–5 per competency. The mapping by position type and level follows the pattern
# of PermenPANRB 38/2017 as the regency applies it (unconfirmed): adjust by adding a version.
POSITION_STANDARDS: dict[str, dict[str, dict[str, int]]] = {
    "PermenPANRB-38/2017": {
        "JPT": {"MANAJERIAL": 4, "SOSIAL_KULTURAL": 4, "TEKNIS": 4},
        "ADMINISTRATOR": {"MANAJERIAL": 3, "SOSIAL_KULTURAL": 3, "TEKNIS": 3},
        "PENGAWAS": {"MANAJERIAL": 2, "SOSIAL_KULTURAL": 2, "TEKNIS": 3},
        "PELAKSANA": {"MANAJERIAL": 1, "SOSIAL_KULTURAL": 1, "TEKNIS": 2},
        "FUNGSIONAL": {"MANAJERIAL": 1, "SOSIAL_KULTURAL": 2, "TEKNIS": 2},
        "FUNGSIONAL:Ahli Utama": {"MANAJERIAL": 4, "SOSIAL_KULTURAL": 4, "TEKNIS": 5},
        "FUNGSIONAL:Ahli Madya": {"MANAJERIAL": 3, "SOSIAL_KULTURAL": 3, "TEKNIS": 4},
        "FUNGSIONAL:Ahli Muda": {"MANAJERIAL": 2, "SOSIAL_KULTURAL": 2, "TEKNIS": 3},
        "FUNGSIONAL:Ahli Pertama": {"MANAJERIAL": 1, "SOSIAL_KULTURAL": 2, "TEKNIS": 2},
        "FUNGSIONAL:Penyelia": {"MANAJERIAL": 2, "SOSIAL_KULTURAL": 2, "TEKNIS": 3},
        "FUNGSIONAL:Mahir": {"MANAJERIAL": 1, "SOSIAL_KULTURAL": 2, "TEKNIS": 3},
        "FUNGSIONAL:Terampil": {"MANAJERIAL": 1, "SOSIAL_KULTURAL": 1, "TEKNIS": 2},
        "FUNGSIONAL:Pemula": {"MANAJERIAL": 1, "SOSIAL_KULTURAL": 1, "TEKNIS": 1},
    },
}

# Performance gap by the latest predicate (0 = none); the regency's weighting, not law.
PERFORMANCE_GAPS: dict[str, dict[str, int]] = {
    "PermenPANRB-6/2022": {"SANGAT_BAIK": 0, "BAIK": 0, "BUTUH_PERBAIKAN": 1, "KURANG": 2, "SANGAT_KURANG": 3},
}


# --- leadership training eligibility ---------------------------------------------------------------
@dataclass(frozen=True)
class LeadershipRoute:
    """One way to qualify for a leadership level."""

    jenis_jabatan: str
    jabatan_contains: str | None = None
    min_golongan: str | None = None
    min_months_in_rank: int = 0
    max_age: int | None = None
    min_months_before_retirement: int | None = None


@dataclass(frozen=True)
class LeadershipLevel:
    code: str
    name_id: str
    name_en: str
    routes: tuple[LeadershipRoute, ...]
    selection_test: bool
    confirmed: bool  # False: regency configuration pending the official text


LEADERSHIP_RULES: dict[str, dict[str, LeadershipLevel]] = {
    "LAN-PKN-II-2024": {
        # SIPPN (REGULATIONS.md §2): JPT pratama / JF ahli utama; administrators ≥ IV/a with ≥ 3 y 6 m in
        # rank; JF ahli madya ≥ IV/a with ≥ 2 y 6 m; age ≤ 55 for JA/JF, ≥ 1.5 y before retirement for JPT.
        "PKN_II": LeadershipLevel(
            "PKN_II", "Pelatihan Kepemimpinan Nasional Tingkat II", "National leadership training, level II",
            (
                LeadershipRoute("JPT", min_months_before_retirement=18),
                LeadershipRoute("FUNGSIONAL", jabatan_contains="Ahli Utama", max_age=55),
                LeadershipRoute("ADMINISTRATOR", min_golongan="IV/a", min_months_in_rank=42, max_age=55),
                LeadershipRoute("FUNGSIONAL", jabatan_contains="Ahli Madya", min_golongan="IV/a", min_months_in_rank=30, max_age=55),
            ),
            selection_test=True, confirmed=True,
        ),
        # PKA and PKP details are unconfirmed: the routes below are the regency's working rules.
        "PKA": LeadershipLevel(
            "PKA", "Pelatihan Kepemimpinan Administrator", "Administrator leadership training",
            (
                LeadershipRoute("ADMINISTRATOR", max_age=56),
                LeadershipRoute("PENGAWAS", min_golongan="III/c", min_months_in_rank=24, max_age=54),
            ),
            selection_test=False, confirmed=False,
        ),
        "PKP": LeadershipLevel(
            "PKP", "Pelatihan Kepemimpinan Pengawas", "Supervisor leadership training",
            (
                LeadershipRoute("PENGAWAS", max_age=56),
                LeadershipRoute("PELAKSANA", min_golongan="III/b", min_months_in_rank=24, max_age=54),
                LeadershipRoute("FUNGSIONAL", min_golongan="III/b", min_months_in_rank=24, max_age=54),
            ),
            selection_test=False, confirmed=False,
        ),
    },
}

# Retirement age (BUP) by position; JF ahli madya 60 and ahli utama 65 are unconfirmed here.
RETIREMENT_AGES: dict[str, int] = {"JPT": 60, "FUNGSIONAL:Ahli Madya": 60, "FUNGSIONAL:Ahli Utama": 65, "*": 58}


# --- the rules of a year ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LatsarRules:
    """Basic training of CPNS (Perlan 1/2021) and the probation it must fit in (PP 11/2017 art. 36)."""

    pass_mark: int = 70  # unconfirmed (single weak source)
    jp: int = 286  # lesson hours credited on passing: unconfirmed figure, check the curriculum decree
    probation_months: int = 12  # at least 1 year
    max_probation_months: int = 24  # historically at most 2 years
    warning_days_before: int = 60  # BKPSDMD is reminded this long before probation ends
    escalation_interval_days: int = 30  # then escalated again every this many days while late
    max_attempts: int = 2  # unconfirmed: how many Latsar sittings a CPNS gets


@dataclass(frozen=True)
class TrainingRules:
    """One version of the yearly competency-development rules."""

    version: str
    min_jp_per_year: int = 20  # PP 11/2017 art. 203(4), kept by PP 17/2020
    jp_minutes: int = 45  # 1 JP = 45 minutes: unconfirmed
    reminder_dates: tuple[str, ...] = ("10-01", "11-01", "12-01")  # MM-DD in Q4: the regency's choice
    reminder_hour: int = 8  # WIB
    report_grace_days: int = 15  # December trainings still get verified before the year-end report
    min_hours: int = 1
    max_hours: int = 1000  # education forms without JP credit
    standards: str = "PermenPANRB-38/2017"
    performance: str = "PermenPANRB-6/2022"
    leadership: str = "LAN-PKN-II-2024"
    catalogue: str = "BKPSDMD-2026"
    unassessed_level: int = 1  # a competency nobody has assessed or trained counts as level 1
    max_participants_per_item: int = 1000
    max_budget: int = 1_000_000_000_000
    latsar: LatsarRules = field(default_factory=LatsarRules)
    # Working days per task kind (the regency's service standard, unconfirmed).
    due_working_days: dict[str, int] = field(
        default_factory=lambda: {
            "TRAINING_PLAN_DRAFT": 20,
            "TRAINING_PLAN_APPROVAL": 10,
            "TRAINING_AMENDMENT_APPROVAL": 10,
            "TRAINING_RECOMMENDATION": 5,
            "TRAINING_VALIDATION": 5,
            "TRAINING_VERIFICATION": 5,
            "TRAINING_EVALUATION": 10,
            "LATSAR_ENROLMENT": 10,
            "LATSAR_RESULT": 20,
        }
    )


TRAINING_RULES: dict[str, TrainingRules] = {
    "PP-11/2017+PP-17/2020": TrainingRules(version="PP-11/2017+PP-17/2020"),
}
DEFAULT_RULES = "PP-11/2017+PP-17/2020"


def rules_for(version: str = "") -> TrainingRules:
    """The rules of a version ('' = the current default)."""
    return TRAINING_RULES[version or DEFAULT_RULES]


def catalogue(rules: TrainingRules) -> dict[str, Course]:
    """The course catalogue the rules name."""
    return CATALOGUES[rules.catalogue]


# --- schedule: Q4 reminders and the year-end report ------------------------------------------------
def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=WIB)


def default_schedule(year: int, rules: TrainingRules) -> tuple[list[str], str]:
    """The year's reminder moments (ISO, WIB) and the moment the compliance report is issued."""
    reminders = []
    for mmdd in rules.reminder_dates:
        month, day = (int(x) for x in mmdd.split("-"))
        reminders.append(datetime.combine(date(year, month, day), time(rules.reminder_hour), tzinfo=WIB).isoformat())
    report_at = start_of_day(date(year + 1, 1, 1) + timedelta(days=rules.report_grace_days))
    return reminders, report_at.isoformat()


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def validate_schedule(year: int, reminders: Any, report_at: Any, now: datetime | None = None) -> list[Problem]:
    """Reminders inside the year, the report after them, nothing in the past (when `now` is given)."""
    problems: list[Problem] = []
    if not isinstance(reminders, list) or len(reminders) > 12:
        return [_problem("reminders", "Daftar pengingat harus berisi paling banyak 12 waktu.", "Reminders must be a list of at most 12 moments.")]
    first, last = start_of_day(date(year, 1, 1)), start_of_day(date(year + 1, 1, 1))
    moments = []
    for i, r in enumerate(reminders):
        m = _moment(r)
        if m is None or not first <= m < last:
            problems.append(_problem(f"reminders[{i}]", f"Waktu pengingat harus ISO 8601 dengan zona waktu, di dalam tahun {year}.",
                                     f"A reminder must be an ISO 8601 moment with a time zone within {year}."))
        else:
            moments.append(m)
    report = _moment(report_at)
    if report is None or not first <= report < start_of_day(date(year + 2, 1, 1)):
        problems.append(_problem("report_at", f"Waktu laporan harus ISO 8601 dengan zona waktu, paling lambat akhir {year + 1}.",
                                 f"The report moment must be ISO 8601 with a time zone, by the end of {year + 1} at the latest."))
    elif any(m >= report for m in moments):
        problems.append(_problem("report_at", "Laporan kepatuhan dibuat setelah semua pengingat.", "The compliance report comes after every reminder."))
    if now is not None and not problems and any(m < now for m in [*moments, report]):  # type: ignore[list-item]
        problems.append(_problem("reminders", "Jadwal baru tidak boleh berisi waktu yang sudah lewat.", "A new schedule cannot contain past moments."))
    return problems


# --- needs analysis ---------------------------------------------------------------------------------
def position_key(jenis_jabatan: str, jabatan: str, table: dict[str, Any]) -> str:
    """The configuration key of a position: functional positions by their level, others by type."""
    if jenis_jabatan == "FUNGSIONAL":
        for key in table:
            level = key.partition(":")[2]
            if level and jabatan.endswith(level):
                return key
    return jenis_jabatan if jenis_jabatan in table else "*"


def standard_for(jenis_jabatan: str, jabatan: str, rules: TrainingRules) -> dict[str, int]:
    """The competency standard of a position."""
    table = POSITION_STANDARDS[rules.standards]
    return dict(table.get(position_key(jenis_jabatan, jabatan, table), table["PELAKSANA"]))


def profile_of(credits: list[dict[str, Any]], assessed: dict[str, int] | None, rules: TrainingRules) -> dict[str, int]:
    """An employee's competency levels: the best of assessments and completed courses."""
    profile = {c: rules.unassessed_level for c in COMPETENCIES}
    for c, level in (assessed or {}).items():
        if c in profile:
            profile[c] = max(profile[c], int(level))
    for credit in credits:
        c, level = credit.get("competency"), credit.get("level")
        if c in profile and level:
            profile[c] = max(profile[c], int(level))
    return profile


def recommend(gaps: dict[str, int], standard: dict[str, int], performance_gap: int, courses: dict[str, Course]) -> list[str]:
    """Courses that close each gap (cheapest first, leadership and education left to people), coaching for performance."""
    picks: list[str] = []
    for comp in COMPETENCIES:
        if gaps.get(comp, 0) <= 0:
            continue
        fits = [
            c for c in courses.values()
            if c.competency == comp and c.level >= standard[comp] and c.leadership is None and FORMS[c.form].path == "PELATIHAN"
        ]
        if not fits:
            fits = [c for c in courses.values() if c.competency == comp and c.leadership is None and FORMS[c.form].path == "PELATIHAN"]
        if fits:
            picks.append(min(fits, key=lambda c: (c.level < standard[comp], c.cost, c.code)).code)
    if performance_gap > 0 and "NK-COACHING-KINERJA" in courses and "NK-COACHING-KINERJA" not in picks:
        picks.append("NK-COACHING-KINERJA")
    return picks


def analyse_employee(
    employee: dict[str, Any], predicate: str | None, credits: list[dict[str, Any]], assessed: dict[str, int] | None, rules: TrainingRules
) -> dict[str, Any]:
    """Competency gap (standard vs profile) and performance gap (latest predicate) of one employee."""
    standard = standard_for(employee["jenis_jabatan"], employee["jabatan"], rules)
    profile = profile_of(credits, assessed, rules)
    gaps = {c: max(0, standard[c] - profile[c]) for c in COMPETENCIES}
    perf = PERFORMANCE_GAPS[rules.performance].get(predicate or "", 0)
    return {
        "nip": employee["nip"], "nama": employee.get("nama"), "unit": employee["unit"], "jabatan": employee["jabatan"],
        "jenis_jabatan": employee["jenis_jabatan"], "standard": standard, "profile": profile, "gaps": gaps,
        "predicate": predicate, "performance_gap": perf, "priority": sum(gaps.values()) + 2 * perf,
        "recommended": recommend(gaps, standard, perf, catalogue(rules)),
    }


def summarise_unit(unit: str, rows: list[dict[str, Any]], rules: TrainingRules) -> dict[str, Any]:
    """A unit's needs: how many have gaps, which courses they need, and what that would cost."""
    courses = catalogue(rules)
    demand: dict[str, int] = {}
    for row in rows:
        for code in row["recommended"]:
            demand[code] = demand.get(code, 0) + 1
    return {
        "unit": unit,
        "employees": len(rows),
        "with_competency_gap": sum(1 for r in rows if any(r["gaps"].values())),
        "with_performance_gap": sum(1 for r in rows if r["performance_gap"] > 0),
        "demand": dict(sorted(demand.items())),
        "estimated_cost": sum(courses[c].cost * n for c, n in demand.items()),
    }


def validate_assessments(data: Any) -> list[Problem]:
    """Assessed levels: {nip: {competency: 1..5}}."""
    if not isinstance(data, dict):
        return [_problem("assessments", "Hasil asesmen harus berupa objek NIP → kompetensi → level.", "Assessments must map NIP → competency → level.")]
    problems = []
    for nip, levels in data.items():
        if not (isinstance(nip, str) and re.fullmatch(r"\d{18}", nip)) or not isinstance(levels, dict):
            problems.append(_problem(f"assessments.{nip}", "NIP atau isian asesmen tidak valid.", "Invalid NIP or assessment entry."))
            continue
        for comp, level in levels.items():
            if comp not in COMPETENCIES or not isinstance(level, int) or isinstance(level, bool) or level not in LEVELS:
                problems.append(_problem(f"assessments.{nip}.{comp}", "Kompetensi harus salah satu dari daftar dan level 1–5.",
                                         f"Competency must be one of {list(COMPETENCIES)} with a level of 1–5."))
    return problems


# --- the plan and its budget ---------------------------------------------------------------------
def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def normalise_plan(data: Any, courses: dict[str, Course], rules: TrainingRules) -> tuple[dict[str, Any], list[Problem]]:
    """A plan {budgets: {unit: Rp}, items: [{unit, course, participants}]} with item costs; problems when malformed."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        return {}, [_problem(None, "Rencana harus berisi budgets dan items.", "A plan needs budgets and items.")]
    budgets_in, items_in = data.get("budgets"), data.get("items")
    budgets: dict[str, int] = {}
    if not isinstance(budgets_in, dict) or not budgets_in:
        problems.append(_problem("budgets", "Anggaran per perangkat daerah wajib diisi.", "A budget per agency is required."))
    else:
        for unit, amount in sorted(budgets_in.items()):
            value = _int(amount)
            if unit not in UNITS_BY_CODE:
                problems.append(_problem(f"budgets.{unit}", f"Perangkat daerah {unit} tidak dikenal.", f"Unknown agency {unit}."))
            elif value is None or not 0 <= value <= rules.max_budget:
                problems.append(_problem(f"budgets.{unit}", "Anggaran harus bilangan bulat rupiah ≥ 0.", "A budget must be a whole number of rupiah ≥ 0."))
            else:
                budgets[unit] = value
    items: list[dict[str, Any]] = []
    if not isinstance(items_in, list):
        problems.append(_problem("items", "Daftar kegiatan (items) wajib diisi.", "The list of items is required."))
        items_in = []
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(items_in):
        where = f"items[{i}]"
        if not isinstance(item, dict):
            problems.append(_problem(where, "Kegiatan harus berupa objek.", "An item must be an object."))
            continue
        unit, code, participants = item.get("unit"), item.get("course"), _int(item.get("participants"))
        course = courses.get(code) if isinstance(code, str) else None
        if course is None:
            problems.append(_problem(f"{where}.course", f"Kursus {code!r} tidak ada dalam katalog.", f"Unknown course {code!r}."))
            continue
        if unit not in budgets:
            problems.append(_problem(f"{where}.unit", "Unit kegiatan harus punya anggaran dalam rencana.", "An item's unit must have a budget in the plan."))
            continue
        if participants is None or not 1 <= participants <= rules.max_participants_per_item:
            problems.append(_problem(f"{where}.participants", f"Jumlah peserta harus 1–{rules.max_participants_per_item}.",
                                     f"Participants must be 1–{rules.max_participants_per_item}."))
            continue
        if (unit, code) in seen:
            problems.append(_problem(where, "Kursus yang sama sudah direncanakan untuk unit ini.", "The same course is already planned for this unit."))
            continue
        seen.add((unit, code))
        items.append({"unit": unit, "course": code, "participants": participants, "cost": course.cost * participants})
    for unit, budget in budgets.items():
        planned = sum(i["cost"] for i in items if i["unit"] == unit)
        if planned > budget:
            problems.append(_problem(f"budgets.{unit}", f"Biaya kegiatan {unit} (Rp {planned:,}) melebihi anggarannya (Rp {budget:,}).",
                                     f"The items of {unit} cost Rp {planned:,}, more than its budget of Rp {budget:,}."))
    plan = {"budgets": budgets, "items": items, "total": sum(budgets.values())}
    return plan, problems


def used(ledger: dict[str, dict[str, Any]], unit: str, course: str | None = None) -> tuple[int, int]:
    """(amount, enrolments) held or committed by a unit (and course)."""
    live = [e for e in ledger.values() if e["unit"] == unit and e["status"] in ("held", "committed") and (course is None or e["course"] == course)]
    return sum(e["amount"] for e in live), len(live)


def remaining(plan: dict[str, Any], ledger: dict[str, dict[str, Any]], unit: str) -> int:
    """Budget of a unit not yet held or committed."""
    return int(plan.get("budgets", {}).get(unit, 0)) - used(ledger, unit)[0]


def check_hold(plan: dict[str, Any], ledger: dict[str, dict[str, Any]], unit: str, code: str, courses: dict[str, Course]) -> list[Problem]:
    """Why an enrolment cannot take a place and budget of the plan (empty: it can)."""
    course = courses.get(code)
    if course is None:
        return [_problem("course", f"Kursus {code!r} tidak ada dalam katalog.", f"Unknown course {code!r}.")]
    # Planned participants are a target; the unit's budget is the limit.
    if not any(i["unit"] == unit and i["course"] == code for i in plan.get("items", [])):
        return [_problem("course", f"Kursus {code} tidak ada dalam rencana {unit} tahun ini.", f"Course {code} is not in this year's plan of {unit}.")]
    left = remaining(plan, ledger, unit)
    if course.cost > left:
        return [_problem("course", f"Biaya Rp {course.cost:,} melebihi sisa anggaran {unit} (Rp {left:,}).",
                         f"The cost of Rp {course.cost:,} exceeds the remaining budget of {unit} (Rp {left:,}).")]
    return []


def check_amendment(plan: dict[str, Any], ledger: dict[str, dict[str, Any]]) -> list[Problem]:
    """An amended plan must still cover what enrolments already hold or have committed."""
    problems = []
    for unit in sorted({e["unit"] for e in ledger.values()}):
        amount, _ = used(ledger, unit)
        if amount > plan["budgets"].get(unit, 0):
            problems.append(_problem(f"budgets.{unit}", f"Anggaran {unit} tidak boleh di bawah yang sudah terpakai (Rp {amount:,}).",
                                     f"The budget of {unit} cannot go below what is already used (Rp {amount:,})."))
    return problems


def budget_by_unit(plan: dict[str, Any], ledger: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Plan against use per unit: planned, held, committed, remaining."""
    out = []
    for unit in sorted(set(plan.get("budgets", {})) | {e["unit"] for e in ledger.values()}):
        held = sum(e["amount"] for e in ledger.values() if e["unit"] == unit and e["status"] == "held")
        committed = sum(e["amount"] for e in ledger.values() if e["unit"] == unit and e["status"] == "committed")
        planned = int(plan.get("budgets", {}).get(unit, 0))
        out.append({"unit": unit, "planned": planned, "held": held, "committed": committed, "remaining": planned - held - committed})
    return out


# --- completion evidence and the training's evaluation ----------------------------------------------
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def hours_range(course: Course, rules: TrainingRules) -> tuple[int, int]:
    """Lesson hours a certificate of this course may state."""
    if FORMS[course.form].credits_jp:
        return rules.min_hours, course.jp
    return 0, rules.max_hours


def validate_evidence(data: dict[str, Any], course: Course, year: int, today: date, rules: TrainingRules) -> list[Problem]:
    """Certificate hash, lesson hours within the course's range, a completion date inside the year and not ahead."""
    problems = []
    digest = data.get("file_sha256")
    if not isinstance(digest, str) or not SHA256.match(digest):
        problems.append(_problem("file_sha256", "Hash berkas harus SHA-256 (64 karakter heksadesimal huruf kecil).",
                                 "The file hash must be a SHA-256 digest (64 lowercase hex characters)."))
    low, high = hours_range(course, rules)
    hours = _int(data.get("hours"))
    if hours is None or not low <= hours <= high:
        problems.append(_problem("hours", f"Jam pelajaran harus {low}–{high} untuk {course.code}.", f"Lesson hours must be {low}–{high} for {course.code}."))
    try:
        done = date.fromisoformat(str(data.get("completed_on")))
    except ValueError:
        done = None
    if done is None or done.year != year or done > today:
        problems.append(_problem("completed_on", f"Tanggal selesai harus dalam tahun {year} dan tidak di masa depan.",
                                 f"The completion date must be within {year} and not in the future."))
    for name, limit in (("certificate_no", 100), ("file_name", 200)):
        value = data.get(name, "")
        if not isinstance(value, str) or len(value) > limit:
            problems.append(_problem(name, f"{name} paling banyak {limit} karakter.", f"{name} has at most {limit} characters."))
    return problems


def validate_training_evaluation(data: dict[str, Any]) -> list[Problem]:
    """The participant's evaluation: relevance and quality 1–5, an optional comment."""
    problems = []
    for name, label_id, label_en in (("relevance", "Relevansi", "Relevance"), ("quality", "Kualitas", "Quality")):
        value = _int(data.get(name))
        if value is None or value not in LEVELS:
            problems.append(_problem(name, f"{label_id} harus 1–5.", f"{label_en} must be 1–5."))
    comment = data.get("comment", "")
    if not isinstance(comment, str) or len(comment) > 2000:
        problems.append(_problem("comment", "Komentar paling banyak 2000 karakter.", "A comment has at most 2000 characters."))
    return problems


def validate_latsar_enrolment(data: dict[str, Any]) -> list[Problem]:
    """Cohort (angkatan), provider and the dates of the sitting."""
    problems = []
    for name in ("cohort", "provider"):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            problems.append(_problem(name, f"{name} wajib diisi (≤ 200 karakter).", f"{name} is required (≤ 200 characters)."))
    days: dict[str, date] = {}
    for name in ("starts_on", "ends_on"):
        # Each date named on its own, so that a form shows the message beside the field that is wrong.
        try:
            days[name] = date.fromisoformat(str(data.get(name)))
        except ValueError:
            problems.append(_problem(name, "Tanggal mulai dan selesai harus ISO (YYYY-MM-DD).", "Start and end dates must be ISO (YYYY-MM-DD)."))
    if len(days) == 2 and days["ends_on"] < days["starts_on"]:
        problems.append(_problem("ends_on", "Tanggal selesai sebelum tanggal mulai.", "The end date is before the start date."))
    return problems


def validate_latsar_result(outcome: str, data: dict[str, Any], rules: TrainingRules) -> list[Problem]:
    """A score 0–100; a pass needs the pass mark and the STTPP certificate's hash."""
    score = data.get("score")
    if not isinstance(score, int | float) or isinstance(score, bool) or not 0 <= score <= 100:
        return [_problem("score", "Nilai harus 0–100.", "The score must be 0–100.")]
    if outcome == "PASSED":
        problems = []
        if score < rules.latsar.pass_mark:
            problems.append(_problem("score", f"Lulus memerlukan nilai ≥ {rules.latsar.pass_mark}.", f"A pass needs a score of at least {rules.latsar.pass_mark}."))
        digest = data.get("certificate_sha256")
        if not isinstance(digest, str) or not SHA256.match(digest):
            problems.append(_problem("certificate_sha256", "Hash STTPP harus SHA-256.", "The STTPP certificate hash must be SHA-256."))
        return problems
    return []


def add_months(day: date, months: int) -> date:
    """The same day `months` later (clamped to the month's end)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


# --- leadership eligibility ------------------------------------------------------------------------
def _months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month - (1 if end.day < start.day else 0)


def retirement_age(jenis_jabatan: str, jabatan: str) -> int:
    key = position_key(jenis_jabatan, jabatan, RETIREMENT_AGES)
    return RETIREMENT_AGES.get(key, RETIREMENT_AGES["*"])


def leadership_eligibility(employee: dict[str, Any], level_code: str, on: date, rules: TrainingRules) -> dict[str, Any]:
    """Whether an employee may join a leadership training on a date, with the reason for each route."""
    levels = LEADERSHIP_RULES[rules.leadership]
    level = levels.get(level_code)
    if level is None:
        raise KeyError(level_code)
    born = employee.get("tanggal_lahir")
    born = date.fromisoformat(str(born)) if born else None
    tmt = employee.get("tmt_golongan")
    tmt = date.fromisoformat(str(tmt)) if tmt else None
    try:
        golongan = parse_golongan(employee["golongan"]) if employee.get("golongan") else None
    except InvalidGolongan:
        golongan = None
    age = None if born is None else on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    jenis, jabatan = employee.get("jenis_jabatan", ""), employee.get("jabatan", "")
    routes = []
    for route in level.routes:
        reasons: list[dict[str, str]] = []
        fits = route.jenis_jabatan == jenis and (not route.jabatan_contains or route.jabatan_contains in jabatan)
        if not fits:
            what = route.jenis_jabatan + (f" {route.jabatan_contains}" if route.jabatan_contains else "")
            reasons.append({"id": f"Jabatan harus {what}.", "en": f"The position must be {what}."})
        if route.min_golongan and (golongan is None or golongan < parse_golongan(route.min_golongan)):
            reasons.append({"id": f"Golongan minimal {route.min_golongan}.", "en": f"Rank at least {route.min_golongan}."})
        if route.min_months_in_rank and (tmt is None or _months_between(tmt, on) < route.min_months_in_rank):
            y, m = divmod(route.min_months_in_rank, 12)
            reasons.append({"id": f"Masa kerja dalam golongan minimal {y} tahun {m} bulan.", "en": f"At least {y} years {m} months in the rank."})
        if route.max_age is not None and (age is None or age > route.max_age):
            reasons.append({"id": f"Usia paling tinggi {route.max_age} tahun.", "en": f"Age at most {route.max_age}."})
        if route.min_months_before_retirement is not None:
            bup = retirement_age(jenis, jabatan)
            retires = None if born is None else add_months(born, bup * 12)
            if retires is None or _months_between(on, retires) < route.min_months_before_retirement:
                reasons.append({"id": "Paling lambat 1,5 tahun sebelum batas usia pensiun.", "en": "At least 1.5 years before the retirement age."})
        name = route.jenis_jabatan + (f":{route.jabatan_contains}" if route.jabatan_contains else "")
        routes.append({"route": name, "position_fits": fits, "eligible": not reasons, "reasons": reasons})
    eligible = [r for r in routes if r["eligible"]]
    # The reasons that matter are those of the routes the position could take.
    relevant = [r for r in routes if r["position_fits"]]
    return {
        "level": level.code, "name_id": level.name_id, "name_en": level.name_en, "eligible": bool(eligible),
        "route": eligible[0]["route"] if eligible else None, "selection_test_required": level.selection_test,
        "rules_confirmed": level.confirmed, "on": on.isoformat(), "routes": routes,
        "reasons": [] if eligible else [x for r in (relevant or routes) for x in r["reasons"]],
    }


# --- events ---------------------------------------------------------------------------------------
class TrainingCycleStarted(CaseEvent):
    """payload: year, rules, schedule {reminders, report_at}."""


class TrainingNeedsAnalysed(CaseEvent):
    """payload: year, unit, summary, employees [{nip, standard, profile, gaps, predicate, performance_gap, priority, recommended}]."""


class TrainingPlanDrafted(CaseEvent):
    """payload: version, budgets, items, total."""


class TrainingPlanReturned(CaseEvent):
    """payload: version, returned_by (the reason is on the envelope)."""


class TrainingPlanApproved(CaseEvent):
    """payload: version, budgets, items, total, approved_by."""


class TrainingPlanAmendmentProposed(CaseEvent):
    """payload: version, budgets, items, total."""


class TrainingPlanAmendmentReturned(CaseEvent):
    """payload: version, returned_by."""


class TrainingPlanAmended(CaseEvent):
    """payload: version, budgets, items, total, approved_by."""


class TrainingScheduleChanged(CaseEvent):
    """payload: reminders, report_at (the reason is on the envelope)."""


class TrainingBudgetHeld(CaseEvent):
    """payload: enrolment_id, nip, unit, course, amount, remaining, plan_version."""


class TrainingBudgetCommitted(CaseEvent):
    """payload: enrolment_id, unit, course, amount."""


class TrainingBudgetReleased(CaseEvent):
    """payload: enrolment_id, unit, course, amount, was (held|committed)."""


class JpShortfallReminded(CaseEvent):
    """payload: year, scheduled_for, min_jp, employees [{nip, unit, jp}], heads [{nip, unit, below}]."""


class ComplianceReportIssued(CaseEvent):
    """payload: year, min_jp, units [{unit, employees, compliant, pct, jp_total}], overall, budget, courses."""


class EnrolmentProposed(CaseEvent):
    """payload: nip, year, course, form, method, jp, cost, funded, plan_version, proposed_by, motivation."""


class EnrolmentRecommended(CaseEvent):
    """payload: recommended_by, implied (the proposer was the OPD head)."""


class EnrolmentNotRecommended(CaseEvent):
    """payload: by."""


class EnrolmentValidated(CaseEvent):
    """payload: validated_by, cost, plan_version."""


class EnrolmentRejected(CaseEvent):
    """payload: by."""


class EnrolmentLapsed(CaseEvent):
    """payload: deadline."""


class CompletionEvidenceSubmitted(CaseEvent):
    """payload: file_sha256, hours, completed_on, certificate_no, file_name, submitted_by."""


class CompletionRejected(CaseEvent):
    """payload: file_sha256, by."""


class CompletionVerified(CaseEvent):
    """payload: file_sha256, hours, verified_by, unit, year, course, cost."""


class JpCredited(CaseEvent):
    """payload: nip, unit, year, jp, course, form, competency, level."""


class TrainingEvaluated(CaseEvent):
    """payload: relevance, quality, comment, course."""


class LatsarHandedOff(CaseEvent):
    """payload: nip, nama, unit, tmt_cpns, probation_ends, max_probation_ends, selection_case_id, formation."""


class LatsarEnrolled(CaseEvent):
    """payload: cohort, provider, starts_on, ends_on, attempt."""


class LatsarPassed(CaseEvent):
    """payload: score, certificate_sha256, attempt, within_probation."""


class LatsarFailed(CaseEvent):
    """payload: score, attempt, attempts_left."""


class LatsarProbationReminded(CaseEvent):
    """payload: probation_ends, days_left."""


class LatsarProbationEscalated(CaseEvent):
    """payload: level, probation_ends, days_late, escalate_to."""
