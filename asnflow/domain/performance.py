"""Performance ratings and predicates (PermenPANRB 6/2022) and validation of SKP and rating decisions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Rating(StrEnum):
    """Three-point scale used for both work results (hasil kerja) and work behaviour (perilaku kerja)."""

    DI_ATAS_EKSPEKTASI = "DI_ATAS_EKSPEKTASI"
    SESUAI_EKSPEKTASI = "SESUAI_EKSPEKTASI"
    DI_BAWAH_EKSPEKTASI = "DI_BAWAH_EKSPEKTASI"


class Predicate(StrEnum):
    """Performance predicate (predikat kinerja)."""

    SANGAT_BAIK = "SANGAT_BAIK"
    BAIK = "BAIK"
    BUTUH_PERBAIKAN = "BUTUH_PERBAIKAN"
    KURANG = "KURANG"
    SANGAT_KURANG = "SANGAT_KURANG"


RATING_LABELS: dict[Rating, dict[str, str]] = {
    Rating.DI_ATAS_EKSPEKTASI: {"id": "Di Atas Ekspektasi", "en": "Above expectation"},
    Rating.SESUAI_EKSPEKTASI: {"id": "Sesuai Ekspektasi", "en": "As expected"},
    Rating.DI_BAWAH_EKSPEKTASI: {"id": "Di Bawah Ekspektasi", "en": "Below expectation"},
}

PREDICATE_LABELS: dict[Predicate, dict[str, str]] = {
    Predicate.SANGAT_BAIK: {"id": "Sangat Baik", "en": "Very good"},
    Predicate.BAIK: {"id": "Baik", "en": "Good"},
    Predicate.BUTUH_PERBAIKAN: {"id": "Butuh Perbaikan", "en": "Needs improvement"},
    Predicate.KURANG: {"id": "Kurang", "en": "Poor"},
    Predicate.SANGAT_KURANG: {"id": "Sangat Kurang", "en": "Very poor"},
}

DEFAULT_REGULATION = "PermenPANRB-6/2022"

_A, _S, _B = Rating.DI_ATAS_EKSPEKTASI, Rating.SESUAI_EKSPEKTASI, Rating.DI_BAWAH_EKSPEKTASI

# (hasil kerja, perilaku kerja) -> predicate. Consistent across public implementations but the
# regulation's annex itself was not checked (REGULATIONS.md §3): keep it configuration.
PREDICATE_MATRICES: dict[str, dict[tuple[Rating, Rating], Predicate]] = {
    "PermenPANRB-6/2022": {
        (_A, _A): Predicate.SANGAT_BAIK,
        (_A, _S): Predicate.BAIK,
        (_A, _B): Predicate.KURANG,
        (_S, _A): Predicate.BAIK,
        (_S, _S): Predicate.BAIK,
        (_S, _B): Predicate.KURANG,
        (_B, _A): Predicate.BUTUH_PERBAIKAN,
        (_B, _S): Predicate.BUTUH_PERBAIKAN,
        (_B, _B): Predicate.SANGAT_KURANG,
    },
}

# Share of the annual credit-point coefficient earned per predicate (Peraturan BKN 3/2023).
CREDIT_SHARE: dict[str, dict[Predicate, float]] = {
    "PerBKN-3/2023": {
        Predicate.SANGAT_BAIK: 1.50,
        Predicate.BAIK: 1.00,
        Predicate.BUTUH_PERBAIKAN: 0.75,
        Predicate.KURANG: 0.50,
        Predicate.SANGAT_KURANG: 0.25,
    },
}
DEFAULT_CREDIT_RULES = "PerBKN-3/2023"

# Limits on an SKP draft; regency configuration, not from the regulation text.
SKP_LIMITS: dict[str, dict[str, int]] = {
    "PermenPANRB-6/2022": {"max_targets": 50, "indikator_max_chars": 500, "target_max_chars": 200},
}


def predicate(hasil_kerja: str, perilaku_kerja: str, regulation: str = DEFAULT_REGULATION) -> str:
    """The predicate (a Predicate value as plain str) for two ratings under a regulation version."""
    matrix = PREDICATE_MATRICES[regulation]
    return matrix[(Rating(hasil_kerja), Rating(perilaku_kerja))].value


def credit_points(pred: str, annual_coefficient: float, months: int = 12, rules: str = DEFAULT_CREDIT_RULES) -> float:
    """Credit points (angka kredit) for a predicate, pro-rated by months, rounded to 3 decimals."""
    if not 0 <= months <= 12:
        raise ValueError("months must be 0..12")
    share = CREDIT_SHARE[rules][Predicate(pred)]
    return round(months / 12 * share * annual_coefficient, 3)


def _problem(field: str, id_: str, en: str) -> dict[str, str]:
    return {"field": field, "id": id_, "en": en}


def validate_rating_data(data: Any, regulation: str = DEFAULT_REGULATION) -> list[dict[str, str]]:
    """Field-level problems ({field, id, en}) of a rating decision's data; empty when valid."""
    if not isinstance(data, dict):
        return [_problem("", "Data penilaian harus berupa objek", "Rating data must be an object")]
    if regulation not in PREDICATE_MATRICES:
        raise KeyError(regulation)
    allowed = ", ".join(r.value for r in Rating)
    problems = []
    for field, name_id, name_en in (
        ("hasil_kerja", "Hasil kerja", "Work results"),
        ("perilaku_kerja", "Perilaku kerja", "Work behaviour"),
    ):
        value = data.get(field)
        if value is None or value == "":
            problems.append(_problem(field, f"{name_id} wajib diisi", f"{name_en} is required"))
        elif not isinstance(value, str) or value not in Rating.__members__:
            problems.append(
                _problem(
                    field,
                    f"{name_id} harus salah satu dari: {allowed}",
                    f"{name_en} must be one of: {allowed}",
                )
            )
    return problems


def validate_skp_data(data: Any, regulation: str = DEFAULT_REGULATION) -> list[dict[str, str]]:
    """Field-level problems of an SKP draft: `targets` is 1..max items of {indikator, target}."""
    limits = SKP_LIMITS[regulation]
    if not isinstance(data, dict):
        return [_problem("", "Data SKP harus berupa objek", "SKP data must be an object")]
    targets = data.get("targets")
    if targets is None:
        return [_problem("targets", "Daftar sasaran (targets) wajib diisi", "The list of targets is required")]
    if not isinstance(targets, list):
        return [_problem("targets", "Sasaran harus berupa daftar", "Targets must be a list")]
    if not targets:
        return [_problem("targets", "SKP harus memuat minimal satu sasaran", "The SKP needs at least one target")]
    problems = []
    if len(targets) > limits["max_targets"]:
        n = limits["max_targets"]
        problems.append(
            _problem("targets", f"SKP memuat paling banyak {n} sasaran", f"The SKP may hold at most {n} targets")
        )
    for i, item in enumerate(targets[: limits["max_targets"]]):
        where = f"targets[{i}]"
        if not isinstance(item, dict):
            problems.append(
                _problem(where, f"Sasaran ke-{i + 1} harus berupa objek", f"Target {i + 1} must be an object")
            )
            continue
        for key, max_key, name_id, name_en in (
            ("indikator", "indikator_max_chars", "Indikator", "Indicator"),
            ("target", "target_max_chars", "Target", "Target"),
        ):
            value, limit = item.get(key), limits[max_key]
            if not isinstance(value, str) or not value.strip():
                problems.append(
                    _problem(
                        f"{where}.{key}",
                        f"{name_id} sasaran ke-{i + 1} wajib diisi",
                        f"{name_en} of target {i + 1} is required",
                    )
                )
            elif len(value) > limit:
                problems.append(
                    _problem(
                        f"{where}.{key}",
                        f"{name_id} sasaran ke-{i + 1} paling banyak {limit} karakter",
                        f"{name_en} of target {i + 1} may have at most {limit} characters",
                    )
                )
    return problems


# --- organisation predicate and distribution quotas (SE MenPANRB 3/2023) ------------------------
class OrgPredicate(StrEnum):
    """The organisation's performance predicate, set by the leader one level up."""

    ISTIMEWA = "ISTIMEWA"
    BAIK = "BAIK"
    BUTUH_PERBAIKAN = "BUTUH_PERBAIKAN"
    KURANG = "KURANG"
    SANGAT_KURANG = "SANGAT_KURANG"


ORG_PREDICATE_LABELS: dict[OrgPredicate, dict[str, str]] = {
    OrgPredicate.ISTIMEWA: {"id": "Istimewa", "en": "Outstanding"},
    OrgPredicate.BAIK: {"id": "Baik", "en": "Good"},
    OrgPredicate.BUTUH_PERBAIKAN: {"id": "Butuh Perbaikan (Cukup)", "en": "Needs improvement (fair)"},
    OrgPredicate.KURANG: {"id": "Kurang", "en": "Poor"},
    OrgPredicate.SANGAT_KURANG: {"id": "Sangat Kurang", "en": "Very poor"},
}

# When the employee leads the unit, the unit's result becomes their work-results rating (SE MenPANRB
# 3/2023, step 3). The five-step organisation scale meets the three-step rating scale here; the
# mapping is ours (the circular names no table), so it is configuration under the quota rules' key.
UNIT_RESULT_RATINGS: dict[str, dict[str, str]] = {
    "SE-MenPANRB-3/2023": {
        OrgPredicate.ISTIMEWA: Rating.DI_ATAS_EKSPEKTASI,
        OrgPredicate.BAIK: Rating.SESUAI_EKSPEKTASI,
        OrgPredicate.BUTUH_PERBAIKAN: Rating.DI_BAWAH_EKSPEKTASI,
        OrgPredicate.KURANG: Rating.DI_BAWAH_EKSPEKTASI,
        OrgPredicate.SANGAT_KURANG: Rating.DI_BAWAH_EKSPEKTASI,
    },
}


def unit_result_rating(org_predicate: str, rules: str = "SE-MenPANRB-3/2023") -> str:
    """The unit head's work-results rating that the unit's organisation predicate implies."""
    return str(UNIT_RESULT_RATINGS[rules][org_predicate])


def validate_head_rating_data(data: Any, hasil_kerja: str, regulation: str = DEFAULT_REGULATION) -> list[dict[str, str]]:
    """A unit head's rating: behaviour as usual; work results absent or equal to the unit's result."""
    if isinstance(data, dict) and data.get("hasil_kerja") not in (None, "", hasil_kerja):
        return [
            _problem(
                "hasil_kerja",
                f"Hasil kerja pimpinan unit mengikuti predikat organisasi unitnya: {hasil_kerja}",
                f"A unit head's work results follow the unit's organisation predicate: {hasil_kerja}",
            )
        ]
    return validate_rating_data({**data, "hasil_kerja": hasil_kerja} if isinstance(data, dict) else data, regulation)


# Best first: the order used for "at least Baik" and for sorting distributions.
PREDICATE_ORDER: tuple[Predicate, ...] = (
    Predicate.SANGAT_BAIK,
    Predicate.BAIK,
    Predicate.BUTUH_PERBAIKAN,
    Predicate.KURANG,
    Predicate.SANGAT_KURANG,
)


@dataclass(frozen=True)
class QuotaRule:
    """One bound on a unit's predicate distribution: a share (percent) or a head count of some predicates."""

    predicates: tuple[Predicate, ...]
    bound: str  # "max_pct" | "min_pct" | "min_count"
    value: int

    def holds(self, counts: dict[str, int], total: int) -> bool:
        """Exact integer arithmetic: 7 of 10 is within "up to 70 %", 8 of 11 is not."""
        n = sum(counts.get(p.value, 0) for p in self.predicates)
        if total == 0:
            return True
        if self.bound == "max_pct":
            return n * 100 <= self.value * total
        if self.bound == "min_pct":
            return n * 100 >= self.value * total
        if self.bound == "min_count":
            return n >= self.value
        raise ValueError(self.bound)

    def actual(self, counts: dict[str, int]) -> int:
        return sum(counts.get(p.value, 0) for p in self.predicates)

    def describe(self) -> dict[str, str]:
        """The rule in Bahasa Indonesia and English."""
        names_id = " atau ".join(PREDICATE_LABELS[p]["id"] for p in self.predicates)
        names_en = " or ".join(PREDICATE_LABELS[p]["en"] for p in self.predicates)
        if self.bound == "max_pct":
            if self.value == 0:
                return {"id": f"tidak boleh ada {names_id}", "en": f"no {names_en} allowed"}
            return {"id": f"paling banyak {self.value}% {names_id}", "en": f"at most {self.value}% {names_en}"}
        if self.bound == "min_pct":
            return {"id": f"paling sedikit {self.value}% {names_id}", "en": f"at least {self.value}% {names_en}"}
        return {"id": f"paling sedikit {self.value} orang {names_id}", "en": f"at least {self.value} {names_en}"}


_SB, _BK, _BP, _KR, _SK = (
    Predicate.SANGAT_BAIK,
    Predicate.BAIK,
    Predicate.BUTUH_PERBAIKAN,
    Predicate.KURANG,
    Predicate.SANGAT_KURANG,
)

# Allowed distribution of employee predicates per organisation predicate. From secondary sources
# quoting SE MenPANRB 3/2023 (REGULATIONS.md §3), not the circular's own text: configuration.
QUOTA_RULES: dict[str, dict[OrgPredicate, tuple[QuotaRule, ...]]] = {
    "SE-MenPANRB-3/2023": {
        OrgPredicate.ISTIMEWA: (QuotaRule((_SB,), "max_pct", 70),),
        OrgPredicate.BAIK: (QuotaRule((_BK,), "max_pct", 70), QuotaRule((_BP, _KR), "min_count", 1)),
        OrgPredicate.BUTUH_PERBAIKAN: (QuotaRule((_BP,), "min_pct", 60), QuotaRule((_SB,), "max_pct", 10)),
        OrgPredicate.KURANG: (
            QuotaRule((_KR,), "min_pct", 60),
            QuotaRule((_BP,), "min_pct", 10),
            QuotaRule((_SB,), "max_pct", 10),
        ),
        OrgPredicate.SANGAT_KURANG: (
            QuotaRule((_SK,), "min_pct", 60),
            QuotaRule((_KR, _BP), "min_pct", 10),
            QuotaRule((_SB,), "max_pct", 0),
        ),
    },
}
DEFAULT_QUOTA_RULES = "SE-MenPANRB-3/2023"


def distribution(predicates: list[str]) -> dict[str, int]:
    """Head count per predicate, every predicate present (zero when nobody has it)."""
    counts = {p.value: 0 for p in PREDICATE_ORDER}
    for p in predicates:
        counts[Predicate(p).value] += 1
    return counts


def quota_violations(org_predicate: str, counts: dict[str, int], rules: str = DEFAULT_QUOTA_RULES) -> list[dict[str, Any]]:
    """The quota rules a unit's distribution breaks under the organisation predicate ([] when within quota)."""
    total = sum(counts.values())
    out = []
    for rule in QUOTA_RULES[rules][OrgPredicate(org_predicate)]:
        if not rule.holds(counts, total):
            text = rule.describe()
            out.append(
                {
                    "rule": f"{rule.bound}:{'+'.join(p.value for p in rule.predicates)}:{rule.value}",
                    "actual": rule.actual(counts),
                    "total": total,
                    "id": f"Kuota distribusi dilanggar: {text['id']} (sekarang {rule.actual(counts)} dari {total})",
                    "en": f"Distribution quota broken: {text['en']} (now {rule.actual(counts)} of {total})",
                }
            )
    return out


def quota_text(org_predicate: str, rules: str = DEFAULT_QUOTA_RULES) -> list[dict[str, str]]:
    """The quota of an organisation predicate, rule by rule, in both languages."""
    return [r.describe() for r in QUOTA_RULES[rules][OrgPredicate(org_predicate)]]


# --- calibration --------------------------------------------------------------------------------
JUSTIFICATION_MIN_CHARS = 10


def validate_calibration(
    data: Any,
    members: dict[str, str],
    org_predicate: str,
    already_final: list[str] | None = None,
    rules: str = DEFAULT_QUOTA_RULES,
) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """Problems of a calibration decision, and its outcome (final predicates, distributions, violations).

    `members` maps the NIPs being calibrated to their raw predicates; `already_final` holds the
    unit's predicates that an earlier round made final (they count towards the quota).
    """
    if not isinstance(data, dict):
        return [_problem("", "Data kalibrasi harus berupa objek", "Calibration data must be an object")], {}
    adjustments = data.get("adjustments", [])
    problems: list[dict[str, str]] = []
    if not isinstance(adjustments, list):
        return [_problem("adjustments", "Penyesuaian harus berupa daftar", "Adjustments must be a list")], {}
    final = dict(members)
    changed: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(adjustments):
        where = f"adjustments[{i}]"
        if not isinstance(item, dict):
            problems.append(_problem(where, f"Penyesuaian ke-{i + 1} harus berupa objek", f"Adjustment {i + 1} must be an object"))
            continue
        nip, pred, why = item.get("nip"), item.get("predicate"), item.get("justification")
        if nip not in members:
            problems.append(
                _problem(f"{where}.nip", f"NIP {nip} tidak termasuk kalibrasi ini", f"NIP {nip} is not part of this calibration")
            )
            continue
        if nip in seen:
            problems.append(_problem(f"{where}.nip", f"NIP {nip} disesuaikan dua kali", f"NIP {nip} is adjusted twice"))
            continue
        seen.add(nip)
        if pred not in Predicate.__members__:
            allowed = ", ".join(p.value for p in Predicate)
            problems.append(
                _problem(f"{where}.predicate", f"Predikat harus salah satu dari: {allowed}", f"Predicate must be one of: {allowed}")
            )
            continue
        if pred == members[nip]:
            continue
        if not isinstance(why, str) or len(why.strip()) < JUSTIFICATION_MIN_CHARS:
            problems.append(
                _problem(
                    f"{where}.justification",
                    f"Setiap penyimpangan dari penilaian atasan wajib dijustifikasi tertulis (min. {JUSTIFICATION_MIN_CHARS} karakter)",
                    f"Every deviation from the appraiser's rating needs a written justification (min. {JUSTIFICATION_MIN_CHARS} characters)",
                )
            )
            continue
        final[nip] = pred
        changed.append({"nip": nip, "from": members[nip], "to": pred, "justification": why.strip()})
    before = distribution([*(already_final or []), *members.values()])
    after = distribution([*(already_final or []), *final.values()])
    violations = quota_violations(org_predicate, after, rules)
    quota_justification = data.get("quota_justification", "")
    if violations and not problems:
        if not isinstance(quota_justification, str) or len(quota_justification.strip()) < JUSTIFICATION_MIN_CHARS:
            for v in violations:
                problems.append(
                    _problem(
                        "quota_justification",
                        f"{v['id']}; kalibrasi yang melanggar kuota wajib disertai justifikasi tertulis",
                        f"{v['en']}; a calibration that breaks the quota needs a written justification",
                    )
                )
    outcome = {
        "final": final,
        "adjustments": changed,
        "distribution_before": before,
        "distribution_after": after,
        "quota_violations": [{k: v[k] for k in ("rule", "actual", "total", "id", "en")} for v in violations],
        "quota_justification": quota_justification.strip() if violations and isinstance(quota_justification, str) else "",
        "rules": rules,
    }
    return problems, outcome


# --- functional credit points -------------------------------------------------------------------
# Annual credit coefficient per functional level (PermenPANRB 1/2023 annex). Only Ahli Pertama = 12.5
# is confirmed by REGULATIONS.md §3; the others are the commonly quoted values: configuration.
ANNUAL_COEFFICIENTS: dict[str, dict[str, float]] = {
    "PermenPANRB-1/2023": {
        "Ahli Pertama": 12.5,
        "Ahli Muda": 25.0,
        "Ahli Madya": 37.5,
        "Ahli Utama": 50.0,
        "Pemula": 3.75,
        "Terampil": 5.0,
        "Mahir": 12.5,
        "Penyelia": 25.0,
    },
}
DEFAULT_COEFFICIENT_RULES = "PermenPANRB-1/2023"


def functional_level(jabatan: str, rules: str = DEFAULT_COEFFICIENT_RULES) -> str | None:
    """The functional level a position title ends with ("Pranata Komputer Ahli Pertama" -> "Ahli Pertama")."""
    for level in sorted(ANNUAL_COEFFICIENTS[rules], key=len, reverse=True):
        if jabatan.strip().endswith(level):
            return level
    return None


def annual_coefficient(jabatan: str, jenis_jabatan: str, rules: str = DEFAULT_COEFFICIENT_RULES) -> float | None:
    """The annual coefficient of a functional post, or None for posts that earn no credit points."""
    if jenis_jabatan != "FUNGSIONAL":
        return None
    level = functional_level(jabatan, rules)
    return ANNUAL_COEFFICIENTS[rules][level] if level else None


def credit_for_periods(
    pred: str, periods: list[dict[str, Any]], credit_rules: str = DEFAULT_CREDIT_RULES, coefficient_rules: str = DEFAULT_COEFFICIENT_RULES
) -> dict[str, Any]:
    """Credit points of a year's SKP periods ({jabatan, jenis_jabatan, months}); months are capped at 12 in total."""
    lines, left, total = [], 12, 0.0
    for period in periods:
        months = max(0, min(int(period["months"]), left))
        left -= months
        coefficient = annual_coefficient(period["jabatan"], period["jenis_jabatan"], coefficient_rules)
        points = credit_points(pred, coefficient, months, credit_rules) if coefficient else 0.0
        total += points
        lines.append({"jabatan": period["jabatan"], "months": months, "coefficient": coefficient, "points": points})
    return {"predicate": pred, "periods": lines, "points": round(total, 3), "rules": credit_rules}


# --- promotion eligibility ----------------------------------------------------------------------
def at_least(pred: str, minimum: str) -> bool:
    """True when `pred` is `minimum` or better."""
    return PREDICATE_ORDER.index(Predicate(pred)) <= PREDICATE_ORDER.index(Predicate(minimum))


def last_two(history: dict[int, str], before_year: int | None = None) -> list[dict[str, Any]]:
    """The two most recent final predicates (newest first), optionally only years before `before_year`."""
    years = sorted((y for y in history if before_year is None or y < before_year), reverse=True)[:2]
    return [{"year": y, "predicate": history[y]} for y in years]


def meets_promotion_performance(history: dict[int, str], as_of_year: int, minimum: str = "BAIK", years: int = 2) -> bool:
    """Rank promotion: at least `minimum` in each of the `years` years before `as_of_year` (REGULATIONS.md §4)."""
    return all(y in history and at_least(history[y], minimum) for y in range(as_of_year - years, as_of_year))


# --- the remaining task kinds' data --------------------------------------------------------------
SHA256_HEX = frozenset("0123456789abcdef")


def _text(data: dict[str, Any], key: str, name_id: str, name_en: str, limit: int, required: bool = True) -> list[dict[str, str]]:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return [_problem(key, f"{name_id} wajib diisi", f"{name_en} is required")] if required else []
    if not isinstance(value, str):
        return [_problem(key, f"{name_id} harus berupa teks", f"{name_en} must be text")]
    if len(value) > limit:
        return [_problem(key, f"{name_id} paling banyak {limit} karakter", f"{name_en} may have at most {limit} characters")]
    return []


def validate_evidence(item: Any, where: str = "evidence") -> list[dict[str, str]]:
    """One evidence file as recorded: {filename, sha256} (the file itself stays outside the store)."""
    if not isinstance(item, dict):
        return [_problem(where, "Bukti harus berupa objek {filename, sha256}", "Evidence must be an object {filename, sha256}")]
    problems = []
    name, digest = item.get("filename"), item.get("sha256")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        problems.append(_problem(f"{where}.filename", "Nama berkas wajib diisi (maks. 255 karakter)", "A file name is required (max. 255 characters)"))
    if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= SHA256_HEX:
        problems.append(
            _problem(f"{where}.sha256", "sha256 harus 64 digit heksadesimal huruf kecil", "sha256 must be 64 lowercase hexadecimal digits")
        )
    return problems


def validate_expectations(data: Any) -> list[dict[str, str]]:
    """The leader's expectations (ekspektasi pimpinan) set when the SKP is agreed: 1..20 texts."""
    items = data.get("expectations") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        return [_problem("expectations", "Ekspektasi pimpinan wajib diisi (daftar teks)", "The leader's expectations are required (a list of texts)")]
    problems = []
    if len(items) > 20:
        problems.append(_problem("expectations", "Paling banyak 20 ekspektasi", "At most 20 expectations"))
    for i, text in enumerate(items[:20]):
        if not isinstance(text, str) or not text.strip() or len(text) > 500:
            problems.append(
                _problem(f"expectations[{i}]", f"Ekspektasi ke-{i + 1}: teks 1–500 karakter", f"Expectation {i + 1}: text of 1–500 characters")
            )
    return problems


def validate_cascade(data: Any, superior_indicators: list[str]) -> list[dict[str, str]]:
    """When the superior's SKP is known, the draft cascades from it: every `cascaded_from` names one of its indicators."""
    if not superior_indicators or not isinstance(data, dict) or not isinstance(data.get("targets"), list):
        return []
    problems, cascaded = [], 0
    for i, item in enumerate(data["targets"]):
        source = item.get("cascaded_from") if isinstance(item, dict) else None
        if source in (None, ""):
            continue
        if source not in superior_indicators:
            problems.append(
                _problem(
                    f"targets[{i}].cascaded_from",
                    f"Sasaran ke-{i + 1} tidak diturunkan dari sasaran atasan yang ada",
                    f"Target {i + 1} does not cascade from an existing target of the superior",
                )
            )
        cascaded += 1
    if cascaded == 0:
        problems.append(
            _problem(
                "targets",
                "Minimal satu sasaran harus diturunkan (cascaded_from) dari SKP atasan",
                "At least one target must cascade (cascaded_from) from the superior's SKP",
            )
        )
    return problems


def validate_checkin_data(data: Any) -> list[dict[str, str]]:
    """A periodic check-in: feedback notes, evidence by hash, and optionally a periodic rating (both scales)."""
    if not isinstance(data, dict):
        return [_problem("", "Data dialog kinerja harus berupa objek", "Check-in data must be an object")]
    problems = _text(data, "feedback", "Umpan balik", "Feedback", 4000)
    evidence = data.get("evidence", [])
    if not isinstance(evidence, list):
        problems.append(_problem("evidence", "Bukti harus berupa daftar", "Evidence must be a list"))
    else:
        for i, item in enumerate(evidence):
            problems.extend(validate_evidence(item, f"evidence[{i}]"))
    if "hasil_kerja" in data or "perilaku_kerja" in data:
        problems.extend(validate_rating_data(data))
    return problems


def validate_org_predicate_data(data: Any) -> list[dict[str, str]]:
    """The organisation predicate: {"predicate": ISTIMEWA | BAIK | BUTUH_PERBAIKAN | KURANG | SANGAT_KURANG}."""
    value = data.get("predicate") if isinstance(data, dict) else None
    if value not in OrgPredicate.__members__:
        allowed = ", ".join(p.value for p in OrgPredicate)
        return [_problem("predicate", f"Predikat organisasi harus salah satu dari: {allowed}", f"The organisation predicate must be one of: {allowed}")]
    return []


def validate_objection_response(data: Any) -> list[dict[str, str]]:
    """The appraiser's explanation to the appraiser's superior."""
    if not isinstance(data, dict):
        return [_problem("", "Data harus berupa objek", "Data must be an object")]
    return _text(data, "explanation", "Penjelasan", "Explanation", 4000)


def validate_objection_decision(outcome: str, data: Any, current: str) -> list[dict[str, str]]:
    """CHANGED needs a new predicate different from the current one; UPHELD keeps it."""
    if outcome != "CHANGED":
        return []
    value = data.get("predicate") if isinstance(data, dict) else None
    if value not in Predicate.__members__:
        allowed = ", ".join(p.value for p in Predicate)
        return [_problem("predicate", f"Predikat baru harus salah satu dari: {allowed}", f"The new predicate must be one of: {allowed}")]
    if value == current:
        return [_problem("predicate", "Predikat baru sama dengan yang sekarang; pilih UPHELD", "The new predicate equals the current one; choose UPHELD")]
    return []
