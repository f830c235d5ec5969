"""The evaluation year's rules: matrix, every quota rule, calibration checks, windows, periods, credit points, promotion."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from asnflow.domain import performance as pf
from asnflow.domain import rules
from asnflow.domain.rules import WIB, EvaluationPolicy

A, S, B = "DI_ATAS_EKSPEKTASI", "SESUAI_EKSPEKTASI", "DI_BAWAH_EKSPEKTASI"
SB, BK, BP, KR, SK = "SANGAT_BAIK", "BAIK", "BUTUH_PERBAIKAN", "KURANG", "SANGAT_KURANG"


@pytest.mark.parametrize(
    ("hasil", "perilaku", "expected"),
    [(A, A, SB), (A, S, BK), (A, B, KR), (S, A, BK), (S, S, BK), (S, B, KR), (B, A, BP), (B, S, BP), (B, B, SK)],
)
def test_every_cell_of_the_matrix(hasil: str, perilaku: str, expected: str) -> None:
    assert pf.predicate(hasil, perilaku, EvaluationPolicy().regulation) == expected


def counts(**n: int) -> dict[str, int]:
    return {**pf.distribution([]), **{k.upper(): v for k, v in n.items()}}


def broken(org: str, c: dict[str, int]) -> list[str]:
    return [v["rule"] for v in pf.quota_violations(org, c)]


# (organisation predicate, distribution just inside the rule, just outside it, the rule that breaks)
QUOTA_CASES = [
    ("ISTIMEWA", counts(sangat_baik=7, baik=3), counts(sangat_baik=8, baik=2), "max_pct:SANGAT_BAIK:70"),
    ("BAIK", counts(baik=7, butuh_perbaikan=3), counts(baik=8, butuh_perbaikan=2), "max_pct:BAIK:70"),
    ("BAIK", counts(baik=5, sangat_baik=4, kurang=1), counts(baik=5, sangat_baik=5), "min_count:BUTUH_PERBAIKAN+KURANG:1"),
    ("BUTUH_PERBAIKAN", counts(butuh_perbaikan=6, baik=4), counts(butuh_perbaikan=5, baik=5), "min_pct:BUTUH_PERBAIKAN:60"),
    ("BUTUH_PERBAIKAN", counts(butuh_perbaikan=6, sangat_baik=1, baik=3), counts(butuh_perbaikan=6, sangat_baik=2, baik=2), "max_pct:SANGAT_BAIK:10"),
    ("KURANG", counts(kurang=6, butuh_perbaikan=1, baik=3), counts(kurang=5, butuh_perbaikan=1, baik=4), "min_pct:KURANG:60"),
    ("KURANG", counts(kurang=6, butuh_perbaikan=1, baik=3), counts(kurang=6, baik=4), "min_pct:BUTUH_PERBAIKAN:10"),
    ("KURANG", counts(kurang=6, butuh_perbaikan=1, sangat_baik=1, baik=2), counts(kurang=6, butuh_perbaikan=1, sangat_baik=2, baik=1), "max_pct:SANGAT_BAIK:10"),
    ("SANGAT_KURANG", counts(sangat_kurang=6, kurang=1, baik=3), counts(sangat_kurang=5, kurang=1, baik=4), "min_pct:SANGAT_KURANG:60"),
    ("SANGAT_KURANG", counts(sangat_kurang=6, butuh_perbaikan=1, baik=3), counts(sangat_kurang=6, baik=4), "min_pct:KURANG+BUTUH_PERBAIKAN:10"),
    ("SANGAT_KURANG", counts(sangat_kurang=6, kurang=1, baik=3), counts(sangat_kurang=6, kurang=1, sangat_baik=1, baik=2), "max_pct:SANGAT_BAIK:0"),
]


@pytest.mark.parametrize(("org", "inside", "outside", "rule"), QUOTA_CASES, ids=[f"{c[0]}-{c[3]}" for c in QUOTA_CASES])
def test_every_quota_rule_at_its_boundary(org: str, inside: dict[str, int], outside: dict[str, int], rule: str) -> None:
    assert broken(org, inside) == []
    assert broken(org, outside) == [rule]
    v = pf.quota_violations(org, outside)[0]
    assert v["id"].startswith("Kuota distribusi dilanggar") and v["en"].startswith("Distribution quota broken") and v["total"] == 10


def test_quota_rules_cover_every_organisation_predicate_and_are_versioned() -> None:
    assert set(pf.QUOTA_RULES[pf.DEFAULT_QUOTA_RULES]) == set(pf.OrgPredicate)
    assert EvaluationPolicy().quota_rules == pf.DEFAULT_QUOTA_RULES
    assert pf.quota_violations("BAIK", pf.distribution([])) == []  # an empty unit breaks nothing
    assert [t["en"] for t in pf.quota_text("SANGAT_KURANG")] == [
        "at least 60% Very poor", "at least 10% Poor or Needs improvement", "no Very good allowed",
    ]


def test_a_calibration_that_breaks_the_quota_needs_a_written_justification() -> None:
    members = {"1": SB, "2": SB, "3": BK}
    problems, outcome = pf.validate_calibration({"adjustments": []}, members, "BAIK")
    assert [p["field"] for p in problems] == ["quota_justification"]
    assert outcome["quota_violations"][0]["rule"] == "min_count:BUTUH_PERBAIKAN+KURANG:1"
    problems, outcome = pf.validate_calibration({"adjustments": [], "quota_justification": "Unit kecil dengan kinerja merata tinggi"}, members, "BAIK")
    assert problems == [] and outcome["final"] == members and outcome["quota_justification"].startswith("Unit kecil")
    # A deviation from the appraiser's rating needs its own justification, whatever the quota says.
    problems, _ = pf.validate_calibration({"adjustments": [{"nip": "2", "predicate": BP, "justification": "  singkat "}]}, members, "BAIK")
    assert [p["field"] for p in problems] == ["adjustments[0].justification"]
    why = "Target utama tidak tercapai menurut bukti"
    problems, outcome = pf.validate_calibration({"adjustments": [{"nip": "2", "predicate": BP, "justification": why}]}, members, "BAIK")
    assert problems == [] and outcome["final"] == {"1": SB, "2": BP, "3": BK} and outcome["quota_violations"] == []
    assert outcome["adjustments"] == [{"nip": "2", "from": SB, "to": BP, "justification": why}]
    assert outcome["distribution_before"][SB] == 2 and outcome["distribution_after"][SB] == 1
    bad = [
        ({"adjustments": "semua"}, "adjustments"),
        ({"adjustments": [{"nip": "9", "predicate": BK, "justification": why}]}, "adjustments[0].nip"),
        ({"adjustments": [{"nip": "1", "predicate": "LUAR_BIASA", "justification": why}]}, "adjustments[0].predicate"),
        ({"adjustments": [{"nip": "1", "predicate": BK, "justification": why}, {"nip": "1", "predicate": BP, "justification": why}]}, "adjustments[1].nip"),
        ("x", ""),
    ]
    for data, field in bad:
        assert pf.validate_calibration(data, members, "BAIK")[0][0]["field"] == field
    # Earlier rounds' final predicates count towards the quota.
    assert pf.validate_calibration({"adjustments": []}, {"4": BK}, "BAIK", already_final=[BP])[0] == []


def test_the_objection_window_is_14_calendar_days_in_jakarta() -> None:
    policy = EvaluationPolicy()
    delivered = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 10:00 WIB
    assert rules.objection_deadline(delivered, policy) == datetime(2026, 3, 16, 23, 59, 59, tzinfo=WIB)
    late_evening = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)  # already 3 March in Jakarta
    assert rules.objection_deadline(late_evening, policy).date() == date(2026, 3, 17)
    assert rules.objection_deadline(delivered, EvaluationPolicy(objection_days=7)).date() == date(2026, 3, 9)


def test_check_in_periods_per_organisation_setting() -> None:
    assert [p.label for p in rules.checkin_periods(2026, "SEMESTER")] == ["S1"]
    assert [p.label for p in rules.checkin_periods(2026, "QUARTERLY")] == ["TW1", "TW2", "TW3"]
    monthly = rules.checkin_periods(2026, "MONTHLY")
    assert [p.label for p in monthly] == [f"B{m:02d}" for m in range(1, 12)]
    assert monthly[1].ends == date(2026, 2, 28) and monthly[1].due == datetime(2026, 3, 1, tzinfo=WIB)
    assert rules.checkin_periods(2026, "SEMESTER")[0].due == datetime(2026, 7, 1, tzinfo=WIB)
    assert rules.year_end(2026) == datetime(2027, 1, 1, tzinfo=WIB)


def test_policy_is_configuration_with_per_unit_overrides() -> None:
    overrides = {"skp_deadline": "02-15", "units": {"RSUD-HAMBA": {"checkin_period": "MONTHLY", "predecessor_fallback": True}}, "unknown": 1}
    assert rules.policy_for("BPBD", overrides) == EvaluationPolicy(skp_deadline="02-15")
    hospital = rules.policy_for("RSUD-HAMBA", overrides)
    assert hospital.checkin_period == "MONTHLY" and hospital.predecessor_fallback and hospital.skp_deadline == "02-15"
    assert rules.skp_deadline(2027, hospital) == datetime(2027, 2, 15, 23, 59, 59, tzinfo=WIB)
    with pytest.raises(ValueError):
        rules.policy_for(None, {"checkin_period": "WEEKLY"})


def test_credit_points_pro_rated_by_months_and_posts() -> None:
    assert pf.functional_level("Pranata Komputer Ahli Pertama") == "Ahli Pertama"
    assert pf.functional_level("Perawat Terampil") == "Terampil" and pf.functional_level("Kepala Bidang Aplikasi") is None
    assert pf.annual_coefficient("Pranata Komputer Ahli Muda", "FUNGSIONAL") == 25.0
    assert pf.annual_coefficient("Pranata Komputer Ahli Muda", "PELAKSANA") is None
    assert rules.months_covered(date(2026, 1, 1), date(2026, 12, 31)) == 12
    assert rules.months_covered(date(2026, 1, 1), date(2026, 4, 14)) == 3
    assert rules.months_covered(date(2026, 4, 15), date(2026, 12, 31)) == 9
    two_posts = [
        {"jabatan": "Pranata Komputer Ahli Pertama", "jenis_jabatan": "FUNGSIONAL", "months": 3},
        {"jabatan": "Pranata Komputer Ahli Muda", "jenis_jabatan": "FUNGSIONAL", "months": 9},
    ]
    assert pf.credit_for_periods(SB, two_posts)["points"] == 32.813  # 150% x (3/12 x 12.5 + 9/12 x 25), per post to 3 decimals
    staff_then_functional = [
        {"jabatan": "Pengadministrasi Umum", "jenis_jabatan": "PELAKSANA", "months": 10},
        {"jabatan": "Pranata Komputer Ahli Pertama", "jenis_jabatan": "FUNGSIONAL", "months": 4},
    ]
    credit = pf.credit_for_periods(BK, staff_then_functional)
    assert [p["months"] for p in credit["periods"]] == [10, 2] and credit["points"] == 2.083  # capped at 12 months


def test_last_two_predicates_for_promotion() -> None:
    history = {2023: BK, 2024: SB, 2025: BP}
    assert pf.last_two(history) == [{"year": 2025, "predicate": BP}, {"year": 2024, "predicate": SB}]
    assert pf.last_two(history, before_year=2025) == [{"year": 2024, "predicate": SB}, {"year": 2023, "predicate": BK}]
    assert pf.meets_promotion_performance(history, 2025) is True  # 2023 Baik, 2024 Sangat Baik
    assert pf.meets_promotion_performance(history, 2026) is False  # 2025 Butuh Perbaikan
    assert pf.meets_promotion_performance({2025: SB}, 2026) is False  # only one year on record
    assert pf.at_least(SB, BK) and not pf.at_least(KR, BK)


def test_the_other_task_kinds_data() -> None:
    assert pf.validate_cascade({"targets": [{"indikator": "x", "target": "1"}]}, []) == []
    assert [p["field"] for p in pf.validate_cascade({"targets": [{"indikator": "x", "target": "1"}]}, ["Induk"])] == ["targets"]
    assert pf.validate_cascade({"targets": [{"indikator": "x", "target": "1", "cascaded_from": "Induk"}]}, ["Induk"]) == []
    assert [p["field"] for p in pf.validate_checkin_data({"feedback": "ok", "evidence": [{"filename": "a.pdf", "sha256": "A" * 64}]})] == [
        "evidence[0].sha256"
    ]
    assert [p["field"] for p in pf.validate_checkin_data({"feedback": "ok", "hasil_kerja": A})] == ["perilaku_kerja"]
    assert pf.validate_checkin_data({"feedback": "ok", "hasil_kerja": A, "perilaku_kerja": S}) == []
    assert pf.validate_org_predicate_data({"predicate": "ISTIMEWA"}) == [] and pf.validate_org_predicate_data({"predicate": SB})
    assert pf.validate_objection_decision("UPHELD", {}, BK) == []
    assert [p["field"] for p in pf.validate_objection_decision("CHANGED", {"predicate": BK}, BK)] == ["predicate"]
    assert pf.validate_objection_decision("CHANGED", {"predicate": SB}, BK) == []
    assert pf.validate_expectations({"expectations": ["Tepat waktu"]}) == []
    assert [p["field"] for p in pf.validate_expectations({"expectations": ["ok", " "]})] == ["expectations[1]"]
    for p in pf.validate_evidence({"filename": "", "sha256": "z"}):
        assert p["id"] != p["en"]


def test_skp_deadline_and_working_day_due_are_consistent() -> None:
    deadline = rules.skp_deadline(2027, EvaluationPolicy())
    assert deadline == datetime(2027, 1, 31, 23, 59, 59, tzinfo=WIB)
    assert deadline - rules.start_of_day(date(2027, 1, 1)) < timedelta(days=31)


def test_a_season_opens_from_the_first_skp_year_to_the_next_year_only() -> None:
    from asnflow.domain.evaluation import season_year_problem

    assert season_year_problem(2022, 2026) is None and season_year_problem(2027, 2026) is None
    for year in (2021, 2028, 2099):
        problem = season_year_problem(year, 2026)
        assert problem is not None and "2022" in problem[0] and "2027" in problem[1], year
