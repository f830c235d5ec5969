"""Competency-development rules: plan and budget checks, evidence, schedule, needs analysis, leadership eligibility."""

from __future__ import annotations

from datetime import date, datetime

from asnflow.activities.training import compliance_by_unit, overall
from asnflow.domain import training as tr

RULES = tr.rules_for()
COURSES = tr.catalogue(RULES)
PLAN, PLAN_PROBLEMS = tr.normalise_plan(
    {
        "budgets": {"DISKOMINFO": 10_000_000, "BKPSDMD": 0},
        "items": [
            {"unit": "DISKOMINFO", "course": "TEK-SPBE", "participants": 2},  # 7,000,000
            {"unit": "DISKOMINFO", "course": "SOS-BERAKHLAK", "participants": 30},  # free e-learning
            {"unit": "DISKOMINFO", "course": "MAN-PELAYANAN-PRIMA", "participants": 1},  # 2,500,000
        ],
    },
    COURSES,
    RULES,
)


def fields(problems: list[dict]) -> list[str | None]:
    return [p["field"] for p in problems]


def test_a_plan_carries_item_costs_and_refuses_unknown_courses_and_overspending() -> None:
    assert PLAN_PROBLEMS == []
    assert PLAN["total"] == 10_000_000
    assert [i["cost"] for i in PLAN["items"]] == [7_000_000, 0, 2_500_000]
    _, problems = tr.normalise_plan(
        {"budgets": {"DISKOMINFO": 5_000_000, "NOWHERE": 1}, "items": [
            {"unit": "DISKOMINFO", "course": "TEK-SPBE", "participants": 2},
            {"unit": "DISKOMINFO", "course": "BASKET-WEAVING", "participants": 1},
            {"unit": "DISKOMINFO", "course": "SOS-BERAKHLAK", "participants": 0},
        ]},
        COURSES, RULES,
    )
    assert fields(problems) == ["budgets.NOWHERE", "items[1].course", "items[2].participants", "budgets.DISKOMINFO"]
    assert all(p["id"] and p["en"] for p in problems)
    assert tr.normalise_plan({"budgets": {"DISKOMINFO": -1}, "items": []}, COURSES, RULES)[1][0]["field"] == "budgets.DISKOMINFO"


def test_holds_need_the_course_in_the_unit_plan_and_enough_remaining_budget() -> None:
    ledger: dict[str, dict] = {}
    assert tr.check_hold(PLAN, ledger, "DISKOMINFO", "TEK-SPBE", COURSES) == []
    ledger["a"] = {"unit": "DISKOMINFO", "course": "TEK-SPBE", "nip": "1", "amount": 3_500_000, "status": "held"}
    ledger["b"] = {"unit": "DISKOMINFO", "course": "MAN-PELAYANAN-PRIMA", "nip": "2", "amount": 2_500_000, "status": "committed"}
    ledger["r"] = {"unit": "DISKOMINFO", "course": "TEK-SPBE", "nip": "4", "amount": 3_500_000, "status": "released"}
    assert tr.remaining(PLAN, ledger, "DISKOMINFO") == 4_000_000  # released money is back
    assert tr.check_hold(PLAN, ledger, "DISKOMINFO", "TEK-SPBE", COURSES) == []
    ledger["c"] = {"unit": "DISKOMINFO", "course": "TEK-SPBE", "nip": "3", "amount": 3_500_000, "status": "held"}
    beyond = tr.check_hold(PLAN, ledger, "DISKOMINFO", "TEK-SPBE", COURSES)
    assert fields(beyond) == ["course"] and "exceeds the remaining budget of DISKOMINFO (Rp 500,000)" in beyond[0]["en"]
    assert beyond[0]["id"].startswith("Biaya Rp 3,500,000 melebihi sisa anggaran")
    assert tr.check_hold(PLAN, ledger, "DISKOMINFO", "SOS-BERAKHLAK", COURSES) == []  # free e-learning still fits
    assert "not in this year's plan" in tr.check_hold(PLAN, ledger, "BKPSDMD", "TEK-SPBE", COURSES)[0]["en"]
    assert "Unknown course" in tr.check_hold(PLAN, ledger, "DISKOMINFO", "NOPE", COURSES)[0]["en"]
    assert tr.budget_by_unit(PLAN, ledger)[1] == {
        "unit": "DISKOMINFO", "planned": 10_000_000, "held": 7_000_000, "committed": 2_500_000, "remaining": 500_000,
    }


def test_an_amendment_cannot_undercut_what_is_in_use() -> None:
    ledger = {"a": {"unit": "DISKOMINFO", "course": "TEK-SPBE", "nip": "1", "amount": 3_500_000, "status": "committed"}}
    smaller, _ = tr.normalise_plan({"budgets": {"DISKOMINFO": 3_000_000}, "items": []}, COURSES, RULES)
    assert fields(tr.check_amendment(smaller, ledger)) == ["budgets.DISKOMINFO"]
    bigger, _ = tr.normalise_plan(
        {"budgets": {"DISKOMINFO": 20_000_000}, "items": [{"unit": "DISKOMINFO", "course": "TEK-SPBE", "participants": 4}]}, COURSES, RULES
    )
    assert tr.check_amendment(bigger, ledger) == []


def test_evidence_needs_a_sha256_hours_in_range_and_a_date_in_the_year() -> None:
    course = COURSES["TEK-SPBE"]  # 32 JP
    good = {"file_sha256": "ab" * 32, "hours": 32, "completed_on": "2027-05-02"}
    today = date(2027, 6, 1)
    assert tr.validate_evidence(good, course, 2027, today, RULES) == []
    assert fields(tr.validate_evidence({**good, "hours": 33}, course, 2027, today, RULES)) == ["hours"]
    assert fields(tr.validate_evidence({**good, "hours": 0}, course, 2027, today, RULES)) == ["hours"]
    assert fields(tr.validate_evidence({**good, "hours": "32"}, course, 2027, today, RULES)) == ["hours"]
    assert fields(tr.validate_evidence({**good, "file_sha256": "AB" * 32}, course, 2027, today, RULES)) == ["file_sha256"]
    assert fields(tr.validate_evidence({**good, "completed_on": "2027-06-02"}, course, 2027, today, RULES)) == ["completed_on"]
    assert fields(tr.validate_evidence({**good, "completed_on": "2026-12-31"}, course, 2027, today, RULES)) == ["completed_on"]
    permit = COURSES["IB-S1"]  # a study permit credits no JP: zero hours is fine
    assert tr.validate_evidence({**good, "hours": 0}, permit, 2027, today, RULES) == []
    assert tr.hours_range(course, RULES) == (1, 32)


def test_q4_reminders_and_the_report_moment_follow_the_rules() -> None:
    reminders, report_at = tr.default_schedule(2027, RULES)
    assert reminders == ["2027-10-01T08:00:00+07:00", "2027-11-01T08:00:00+07:00", "2027-12-01T08:00:00+07:00"]
    assert report_at == "2028-01-16T00:00:00+07:00"
    assert all(datetime.fromisoformat(r).month >= 10 for r in reminders)  # the fourth quarter
    assert tr.validate_schedule(2027, reminders, report_at) == []
    assert fields(tr.validate_schedule(2027, ["2028-10-01T08:00:00+07:00"], report_at)) == ["reminders[0]"]
    assert fields(tr.validate_schedule(2027, ["2027-10-01T08:00:00"], report_at)) == ["reminders[0]"]  # no time zone
    assert fields(tr.validate_schedule(2027, reminders, "2027-11-15T00:00:00+07:00")) == ["report_at"]
    now = datetime.fromisoformat("2027-10-15T00:00:00+07:00")
    assert fields(tr.validate_schedule(2027, reminders, report_at, now)) == ["reminders"]  # two are past


def test_needs_analysis_finds_competency_and_performance_gaps() -> None:
    analyst = {"nip": "199602102022031001", "nama": "Bayu", "unit": "DISKOMINFO", "jabatan": "Pranata Komputer Ahli Muda", "jenis_jabatan": "FUNGSIONAL"}
    row = tr.analyse_employee(analyst, "KURANG", [], None, RULES)
    assert row["standard"] == {"MANAJERIAL": 2, "SOSIAL_KULTURAL": 2, "TEKNIS": 3}
    assert row["gaps"] == {"MANAJERIAL": 1, "SOSIAL_KULTURAL": 1, "TEKNIS": 2}
    assert row["performance_gap"] == 2 and row["priority"] == 4 + 4
    assert row["recommended"] == ["MAN-PELAYANAN-PRIMA", "SOS-BERAKHLAK", "NK-DETASERING", "NK-COACHING-KINERJA"]
    trained = tr.analyse_employee(analyst, "BAIK", [{"competency": "TEKNIS", "level": 3}], {"MANAJERIAL": 2, "SOSIAL_KULTURAL": 2}, RULES)
    assert trained["gaps"] == {"MANAJERIAL": 0, "SOSIAL_KULTURAL": 0, "TEKNIS": 0}
    assert trained["performance_gap"] == 0 and trained["recommended"] == [] and trained["priority"] == 0
    head = {"nip": "1", "unit": "DISKOMINFO", "jabatan": "Kepala Dinas", "jenis_jabatan": "JPT"}
    summary = tr.summarise_unit("DISKOMINFO", [row, trained, tr.analyse_employee(head, None, [], None, RULES)], RULES)
    assert summary["employees"] == 3 and summary["with_competency_gap"] == 2 and summary["with_performance_gap"] == 1
    assert summary["estimated_cost"] == sum(COURSES[c].cost * n for c, n in summary["demand"].items()) > 0
    assert fields(tr.validate_assessments({"199602102022031001": {"TEKNIS": 6}, "x": {}})) == ["assessments.199602102022031001.TEKNIS", "assessments.x"]


def test_pkn_ii_eligibility_follows_its_routes() -> None:
    on = date(2027, 1, 1)
    admin = {"jenis_jabatan": "ADMINISTRATOR", "jabatan": "Kepala Bidang", "golongan": "IV/a", "tmt_golongan": "2023-04-01", "tanggal_lahir": "1980-01-01"}
    ok = tr.leadership_eligibility(admin, "PKN_II", on, RULES)
    assert ok["eligible"] and ok["route"] == "ADMINISTRATOR" and ok["selection_test_required"]
    short = tr.leadership_eligibility({**admin, "tmt_golongan": "2024-04-01"}, "PKN_II", on, RULES)
    assert not short["eligible"] and any("3 years 6 months" in r["en"] for r in short["reasons"])
    old = tr.leadership_eligibility({**admin, "tanggal_lahir": "1970-06-01"}, "PKN_II", on, RULES)
    assert not old["eligible"] and [r["en"] for r in old["reasons"]] == ["Age at most 55."]
    low = tr.leadership_eligibility({**admin, "golongan": "III/d"}, "PKN_II", on, RULES)
    assert not low["eligible"] and "Rank at least IV/a." in [r["en"] for r in low["reasons"]]
    madya = {"jenis_jabatan": "FUNGSIONAL", "jabatan": "Pengawas Sekolah Ahli Madya", "golongan": "IV/b", "tmt_golongan": "2024-06-01", "tanggal_lahir": "1975-01-01"}
    assert tr.leadership_eligibility(madya, "PKN_II", on, RULES)["route"] == "FUNGSIONAL:Ahli Madya"  # 2 y 7 m ≥ 2 y 6 m
    jpt = {"jenis_jabatan": "JPT", "jabatan": "Kepala Dinas", "golongan": "IV/b", "tmt_golongan": "2020-01-01", "tanggal_lahir": "1967-09-01"}
    assert not tr.leadership_eligibility(jpt, "PKN_II", on, RULES)["eligible"]  # retires at 60 in Sept 2027: under 1.5 years
    assert tr.leadership_eligibility({**jpt, "tanggal_lahir": "1970-01-01"}, "PKN_II", on, RULES)["eligible"]
    staff = {"jenis_jabatan": "PELAKSANA", "jabatan": "Pengadministrasi Umum", "golongan": "II/c", "tmt_golongan": "2020-01-01", "tanggal_lahir": "1990-01-01"}
    assert not tr.leadership_eligibility(staff, "PKN_II", on, RULES)["eligible"]
    pkp = tr.leadership_eligibility({**staff, "golongan": "III/b"}, "PKP", on, RULES)
    assert pkp["eligible"] and pkp["rules_confirmed"] is False


def test_probation_dates_and_compliance_figures() -> None:
    assert tr.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert tr.add_months(date(2025, 10, 1), 12) == date(2026, 10, 1)
    rows = [{"unit": "A", "jp": 20}, {"unit": "A", "jp": 19}, {"unit": "A", "jp": 45}, {"unit": "B", "jp": 0}]
    assert compliance_by_unit(rows, 20) == [
        {"unit": "A", "employees": 3, "compliant": 2, "pct": 66.7, "jp_total": 84},
        {"unit": "B", "employees": 1, "compliant": 0, "pct": 0.0, "jp_total": 0},
    ]
    assert overall(rows, 20) == {"employees": 4, "compliant": 2, "pct": 50.0, "jp_total": 84}
    assert tr.validate_latsar_result("PASSED", {"score": 69}, RULES)[0]["field"] == "score"
    assert fields(tr.validate_latsar_result("PASSED", {"score": 80}, RULES)) == ["certificate_sha256"]
    assert tr.validate_latsar_result("FAILED", {"score": 40}, RULES) == []
