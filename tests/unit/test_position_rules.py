"""Position filling rules: requirements at their boundaries, the talent pool, panel conflicts, selection scoring, sanctions."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from asnflow.domain import position as pos
from asnflow.domain.directory import DirectoryImportError, parse_employee_csv, to_csv
from asnflow.domain.nip import make_nip
from asnflow.domain.promotion import Facts, check_eligibility

ON = date(2026, 11, 28)
NIP = make_nip(date(1985, 5, 5), date(2010, 3, 1), "L", 7)


def facts(**kw: Any) -> Facts:
    """A pelaksana III/c, S1, 5 years in post, Baik twice, competency 75: in the pengawas pool by default."""
    base: dict[str, Any] = {
        "nip": NIP, "golongan": "III/c", "tmt_golongan": date(2020, 4, 1), "jenis_jabatan": "PELAKSANA", "jabatan": "Analis Data",
        "tmt_jabatan": date(2021, 1, 4), "pendidikan": "S1", "predicates": {2024: "BAIK", 2025: "BAIK"}, "kompetensi": 75.0,
        "tanggal_lahir": date(1985, 5, 5),
    }
    base.update(kw)
    return Facts(**base)


def rules_failed(jenis: str, f: Facts, on: date = ON) -> list[str]:
    return [x.rule for x in pos.position_failures(jenis, f, on)]


def test_pengawas_years_in_post_boundary_day_before_and_on_the_date() -> None:
    tmt = ON.replace(year=ON.year - 4)
    assert rules_failed("PENGAWAS", facts(tmt_jabatan=tmt)) == []
    assert rules_failed("PENGAWAS", facts(tmt_jabatan=tmt + timedelta(days=1))) == ["MASA_JABATAN"]


def test_rank_education_route_and_competency_floors() -> None:
    assert rules_failed("PENGAWAS", facts(golongan="III/a")) == ["PANGKAT_MINIMAL"]
    assert rules_failed("PENGAWAS", facts(golongan="III/b")) == []
    assert rules_failed("ADMINISTRATOR", facts(pendidikan="D-III", jenis_jabatan="PENGAWAS", golongan="III/d")) == ["PENDIDIKAN_MINIMAL"]
    assert rules_failed("ADMINISTRATOR", facts(pendidikan="D-IV", jenis_jabatan="PENGAWAS", golongan="III/d")) == []  # D-IV counts as S1
    assert rules_failed("ADMINISTRATOR", facts()) == ["JABATAN_ASAL"]  # a pelaksana does not skip the pengawas level
    assert rules_failed("PENGAWAS", facts(kompetensi=69.99)) == ["KOMPETENSI"]
    assert rules_failed("PENGAWAS", facts(kompetensi=70.0)) == []
    assert rules_failed("PENGAWAS", facts(kompetensi=None)) == ["KOMPETENSI"]
    assert rules_failed("PENGAWAS", facts(predicates={2024: "BAIK", 2025: "BUTUH_PERBAIKAN"})) == ["PREDIKAT_KINERJA"]


def test_jpt_age_boundary_and_experience() -> None:
    adm = {"jenis_jabatan": "ADMINISTRATOR", "golongan": "IV/a", "tmt_jabatan": date(2022, 1, 3)}
    turns_57 = ON.replace(year=ON.year - 57)  # 57 today: over 56
    assert rules_failed("JPT", facts(**adm, tanggal_lahir=turns_57)) == ["USIA"]
    assert rules_failed("JPT", facts(**adm, tanggal_lahir=turns_57 + timedelta(days=1))) == []  # still 56 until tomorrow
    assert rules_failed("JPT", facts(**{**adm, "tmt_jabatan": ON.replace(year=ON.year - 2) + timedelta(days=1)})) == ["MASA_JABATAN"]
    young = make_nip(date(1990, 1, 1), date(2022, 3, 1), "P", 3)  # TMT CPNS 2022: under 5 years of service
    assert rules_failed("JPT", facts(**adm, nip=young, tanggal_lahir=date(1990, 1, 1))) == ["PENGALAMAN"]
    madya = {"jenis_jabatan": "FUNGSIONAL", "jabatan": "Perencana Ahli Madya", "golongan": "IV/a", "tmt_jabatan": date(2022, 1, 3)}
    assert rules_failed("JPT", facts(**madya)) == []
    assert rules_failed("JPT", facts(**{**madya, "jabatan": "Perencana Ahli Muda"})) == ["JABATAN_ASAL"]


def test_a_running_sanction_excludes_from_positions_and_rank_until_its_last_day() -> None:
    until = ON + timedelta(days=30)
    under = facts(sanction_kind="SEDANG", sanction_from=ON - timedelta(days=300), sanction_until=until)
    failures = pos.position_failures("PENGAWAS", under, ON)
    assert [f.rule for f in failures] == ["HUKUMAN_DISIPLIN"] and failures[0].regulation == "PP 94/2021" and "SEDANG" in failures[0].en
    assert rules_failed("PENGAWAS", under, until) == ["HUKUMAN_DISIPLIN"]  # the last day still counts
    assert rules_failed("PENGAWAS", under, until + timedelta(days=1)) == []
    assert rules_failed("PENGAWAS", facts(sanction_kind="RINGAN", sanction_from=ON + timedelta(days=1), sanction_until=until)) == []  # not begun
    rank = check_eligibility("PILIHAN_STRUKTURAL", facts(jenis_jabatan="PENGAWAS", golongan="III/c", tmt_golongan=date(2020, 4, 1),
                                                          sanction_kind="BERAT", sanction_until=until), date(2026, 12, 1))
    assert "HUKUMAN_DISIPLIN" in [f.rule for f in rank.failures]


def test_talent_pool_orders_by_box_then_competency_and_counts_exclusions() -> None:
    star = facts(nip="A", predicates={2024: "SANGAT_BAIK", 2025: "SANGAT_BAIK"}, kompetensi=72.0)  # box 8
    strong = facts(nip="B", kompetensi=85.0)  # performance 2, potential 3: box 6
    mid = facts(nip="C", kompetensi=70.0)  # box 5
    mid_higher_rank = facts(nip="D", kompetensi=70.0, golongan="III/d")
    late = facts(nip="E", tmt_jabatan=ON)
    people = [(f, {"nama": f.nip, "unit": "X"}) for f in (mid, late, strong, star, mid_higher_rank)]
    pool, excluded = pos.talent_pool("PENGAWAS", people, ON)
    assert [c["nip"] for c in pool] == ["A", "B", "D", "C"]
    assert [c["box"] for c in pool] == [8, 6, 5, 5]
    assert excluded == {"MASA_JABATAN": 1}
    assert pos.talent_box(facts(kompetensi=79.99), ON)[2] == 2 and pos.talent_box(facts(kompetensi=80.0), ON)[2] == 3


def test_panel_conflicts_come_from_the_registry_both_ways_and_from_being_a_candidate() -> None:
    relatives = {"M1": {"C1": "SEPUPU"}, "C2": {"M2": "IPAR"}, "M2": {"C2": "IPAR"}}
    found = pos.panel_conflicts(["M1", "M2", "M3", "C3"], ["C1", "C2", "C3"], relatives)
    assert found == {"M1": [{"nip": "C1", "relation": "SEPUPU"}], "M2": [{"nip": "C2", "relation": "IPAR"}], "C3": [{"nip": "C3", "relation": "DIRI_SENDIRI"}]}


def test_selection_scoring_at_the_pass_mark_and_stage_minimum() -> None:
    stage = pos.stage_of("ASSESSMENT_CENTER")
    assert pos.eliminated(stage, {"a": 60.0, "b": 59.99}) == ["b"]

    def all_stages(score: float) -> dict[str, float]:
        return {s.code: score for s in pos.SELECTION_RULES[pos.SELECTION_RULES_VERSION].stages}

    scores: dict[str, dict[str, float]] = {}
    for nip, s in (("x", 70.0), ("y", 69.99), ("z", 90.0), ("w", 80.0)):
        for code, v in all_stages(s).items():
            scores.setdefault(code, {})[nip] = v
    ranking = pos.rank_applicants(scores, ["x", "y", "z", "w"])
    assert [(r["nip"], r["total"], r["passed"]) for r in ranking] == [("z", 90.0, True), ("w", 80.0, True), ("x", 70.0, True), ("y", 69.99, False)]
    assert pos.shortlist(ranking) == ["z", "w", "x"]
    assert pos.shortlist(ranking[1:]) == ["w", "x"]  # fewer than three passed: the selection cannot send three names


def test_selection_ties_go_to_the_assessment_centre_then_registration_order() -> None:
    scores = {"MAKALAH_PRESENTASI": {"a": 80, "b": 100, "c": 80}, "ASSESSMENT_CENTER": {"a": 80, "b": 70, "c": 80},
              "REKAM_JEJAK": {"a": 80, "b": 80, "c": 80}, "WAWANCARA": {"a": 80, "b": 80, "c": 80}}
    ranking = pos.rank_applicants(scores, ["c", "a", "b"])
    assert [r["total"] for r in ranking] == [80.0, 80.0, 80.0]
    assert [r["nip"] for r in ranking] == ["c", "a", "b"]


def test_stage_scores_must_cover_everyone_in_the_stage_and_nobody_else() -> None:
    assert pos.score_problems({"a": 100, "b": 0}, ["a", "b"]) == []
    assert [p["field"] for p in pos.score_problems({"a": 100.01, "b": True, "c": 50}, ["a", "b"])] == ["data.scores.a", "data.scores.b", "data.scores"]
    assert pos.score_problems([1, 2], ["a"])[0]["field"] == "data.scores"


CSV_HEAD = "nip,nama,jenis_kelamin,tanggal_lahir,golongan,jabatan,jenis_jabatan,unit,atasan_nip,pendidikan,tmt_golongan,tmt_jabatan"


def row(nip: str = "198505052010031007") -> str:
    return f"{nip},Budi,L,1985-05-05,III/c,Analis Data,PELAKSANA,DISKOMINFO,,S1,2020-04-01,2021-01-04"


def test_directory_import_takes_sanctions_and_competency_in_optional_columns() -> None:
    assert parse_employee_csv(f"{CSV_HEAD}\n{row()}\n")[0].hukuman_disiplin_jenis is None  # files without them still import
    text = f"{CSV_HEAD},hukuman_disiplin_jenis,hukuman_disiplin_mulai,hukuman_disiplin_sampai,nilai_kompetensi\n{row()},sedang,2026-01-05,2027-01-04,82.5\n"
    rec = parse_employee_csv(text)[0]
    assert (rec.hukuman_disiplin_jenis, rec.hukuman_disiplin_mulai, rec.hukuman_disiplin_sampai, rec.nilai_kompetensi) == (
        "SEDANG", date(2026, 1, 5), date(2027, 1, 4), 82.5)
    assert parse_employee_csv(to_csv([rec]))[0] == rec  # round trip through the export


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("KERAS,2026-01-05,2027-01-04,", "hukuman_disiplin_jenis"),
        ("SEDANG,,2027-01-04,", "hukuman_disiplin_mulai"),
        ("SEDANG,2026-01-05,2025-01-04,", "hukuman_disiplin_sampai"),
        (",2026-01-05,,", "hukuman_disiplin_jenis"),
        (",,,101", "nilai_kompetensi"),
        (",,,nan", "nilai_kompetensi"),
    ],
)
def test_bad_sanction_or_competency_rejects_the_file_naming_the_column(extra: str, field: str) -> None:
    text = f"{CSV_HEAD},hukuman_disiplin_jenis,hukuman_disiplin_mulai,hukuman_disiplin_sampai,nilai_kompetensi\n{row()},{extra}\n"
    with pytest.raises(DirectoryImportError) as info:
        parse_employee_csv(text)
    assert [p.field for p in info.value.problems] == [field] and info.value.problems[0].line == 2
