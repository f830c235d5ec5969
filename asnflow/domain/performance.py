"""Performance ratings and predicates (PermenPANRB 6/2022) and validation of SKP and rating decisions."""

from __future__ import annotations

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
