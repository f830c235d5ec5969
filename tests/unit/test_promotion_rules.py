"""Rank-promotion eligibility at its boundaries, periods by year, dossiers, rotation windows and freezes."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest

from asnflow.activities.promotion import render_decree
from asnflow.domain import promotion as pr

PERIOD = date(2026, 4, 1)
GOOD = {2024: "BAIK", 2025: "BAIK"}


def facts(**kw: object) -> pr.Facts:
    base: dict[str, object] = dict(
        nip="199001012015031001", golongan="II/c", tmt_golongan=date(2022, 4, 1), jenis_jabatan="PELAKSANA",
        jabatan="Pengadministrasi Umum", tmt_jabatan=date(2019, 1, 2), pendidikan="D-III", atasan_golongan="III/d",
        predicates=dict(GOOD),
    )
    base.update(kw)
    return pr.Facts(**base)  # type: ignore[arg-type]


def rules_failed(kind: str, f: pr.Facts, on: date = PERIOD) -> list[str]:
    return [x.rule for x in pr.check_eligibility(kind, f, on).failures]


# --- each kind's time rule: a day before and on the date ------------------------------------------
@pytest.mark.parametrize(
    ("kind", "years", "extra"),
    [
        ("REGULER", 4, {}),
        ("PILIHAN_FUNGSIONAL", 2, {"jenis_jabatan": "FUNGSIONAL", "jabatan": "Pranata Komputer Ahli Pertama", "golongan": "III/a", "angka_kredit": 50.0}),
        ("PILIHAN_STRUKTURAL", 4, {"jenis_jabatan": "PENGAWAS", "jabatan": "Kepala Seksi Aplikasi", "golongan": "III/b", "atasan_golongan": "IV/a"}),
        ("PENYESUAIAN_IJAZAH", 1, {"golongan": "II/a", "pendidikan": "SMA", "ijazah_baru": "S1"}),
        ("PRESTASI_LUAR_BIASA", 1, {"predicates": {2025: "SANGAT_BAIK"}}),
    ],
)
def test_time_in_rank_boundary_a_day_before_and_on_the_date(kind: str, years: int, extra: dict) -> None:
    tmt = date(PERIOD.year - years, PERIOD.month, PERIOD.day)
    f = facts(tmt_golongan=tmt, **extra)
    on_the_date = pr.check_eligibility(kind, f, PERIOD)
    assert on_the_date.eligible, on_the_date.failures
    assert on_the_date.eligible_from == PERIOD
    assert rules_failed(kind, f, PERIOD - timedelta(days=1)) == ["MASA_GOLONGAN"]
    # The same boundary as periods see it: a rank taken a day later misses this period.
    late = facts(tmt_golongan=tmt + timedelta(days=1), **extra)
    failures = pr.check_eligibility(kind, late, PERIOD).failures
    assert [x.rule for x in failures] == ["MASA_GOLONGAN"]
    assert failures[0].regulation == pr.RANK_RULES[pr.RANK_RULES_VERSION][kind].regulation
    assert "2026-04-02" in failures[0].en and failures[0].id


def test_targets_of_each_kind() -> None:
    assert pr.check_eligibility("REGULER", facts(), PERIOD).golongan_baru == "II/d"
    ijazah = pr.check_eligibility("PENYESUAIAN_IJAZAH", facts(golongan="II/a", pendidikan="SMA", ijazah_baru="S1", tmt_golongan=date(2024, 1, 1)), PERIOD)
    assert ijazah.golongan_baru == "III/a" and ijazah.eligible
    # A diploma that does not lift the rank is no route.
    assert rules_failed("PENYESUAIAN_IJAZAH", facts(golongan="III/a", ijazah_baru="D-III", tmt_golongan=date(2024, 1, 1))) == ["IJAZAH_TIDAK_MENAIKKAN"]
    assert rules_failed("PENYESUAIAN_IJAZAH", facts(tmt_golongan=date(2024, 1, 1))) == ["IJAZAH"]


def test_structural_one_rank_below_the_post_needs_a_year_in_rank_and_a_year_in_post() -> None:
    # Pengawas posts start at III/b: a III/a holder rises after 1 year in rank and 1 year in the post.
    kw = dict(jenis_jabatan="PENGAWAS", jabatan="Kepala Seksi", golongan="III/a", tmt_golongan=date(2025, 4, 1), atasan_golongan="IV/a")
    assert pr.check_eligibility("PILIHAN_STRUKTURAL", facts(tmt_jabatan=date(2025, 4, 1), **kw), PERIOD).eligible
    assert rules_failed("PILIHAN_STRUKTURAL", facts(tmt_jabatan=date(2025, 4, 2), **kw)) == ["MASA_JABATAN"]
    # The post carries at most III/d.
    assert "BATAS_JABATAN" in rules_failed("PILIHAN_STRUKTURAL", facts(jenis_jabatan="PENGAWAS", jabatan="Kepala Seksi", golongan="III/d", atasan_golongan="IV/b"))


def test_predicates_of_the_last_two_years() -> None:
    assert rules_failed("REGULER", facts(predicates={2025: "BAIK"})) == ["PREDIKAT_KINERJA"]
    failures = pr.check_eligibility("REGULER", facts(predicates={2024: "BAIK", 2025: "BUTUH_PERBAIKAN"}), PERIOD).failures
    assert [f.rule for f in failures] == ["PREDIKAT_KINERJA"] and "2025" in failures[0].en and "PermenPANRB 6/2022" in failures[0].regulation
    assert pr.check_eligibility("REGULER", facts(predicates={2024: "SANGAT_BAIK", 2025: "BAIK"}), PERIOD).eligible
    # Outstanding performance needs "sangat baik", "baik" is not enough.
    assert rules_failed("PRESTASI_LUAR_BIASA", facts(predicates={2025: "BAIK"})) == ["PREDIKAT_KINERJA"]


def test_a_declaration_never_overrides_a_predicate_the_system_holds() -> None:
    held = facts(predicates={2024: "BAIK", 2025: "KURANG"}, predicate_sources={2024: "evaluasi", 2025: "evaluasi"})
    merged = pr.merge_declared(held, {"predicates": {"2025": "SANGAT_BAIK"}})
    assert merged.predicates[2025] == "KURANG"
    filled = pr.merge_declared(facts(predicates={}), {"predicates": {"2024": "BAIK", "2025": "BAIK"}})
    assert filled.predicate_sources == {2024: "usulan", 2025: "usulan"}
    assert pr.check_eligibility("REGULER", filled, PERIOD).eligible
    assert pr.declared_problems({"predicates": {"2025": "HEBAT"}, "angka_kredit": -1})[0]["field"] == "declared.predicates.2025"
    assert len(pr.declared_problems({"predicates": {"2025": "HEBAT"}, "angka_kredit": -1, "ijazah_baru": "X"})) == 3


def test_education_cap_superior_sanction_top_rank_and_pppk() -> None:
    # SMA caps regular promotion at III/b: III/a -> III/b passes, III/b -> III/c does not.
    assert pr.check_eligibility("REGULER", facts(golongan="III/a", pendidikan="SMA"), PERIOD).eligible
    capped = pr.check_eligibility("REGULER", facts(golongan="III/b", pendidikan="SMA", atasan_golongan="IV/a"), PERIOD).failures
    assert [f.rule for f in capped] == ["BATAS_PENDIDIKAN"] and capped[0].regulation == "PP 99/2000 ps. 7"
    # Not above the direct superior: equal is allowed, above is not.
    assert pr.check_eligibility("REGULER", facts(atasan_golongan="II/d"), PERIOD).eligible
    assert rules_failed("REGULER", facts(atasan_golongan="II/c")) == ["MELEBIHI_ATASAN"]
    # Functional posts may exceed the superior.
    fung = dict(jenis_jabatan="FUNGSIONAL", jabatan="Pranata Komputer Ahli Pertama", golongan="III/a", angka_kredit=60.0, tmt_golongan=date(2024, 4, 1))
    assert pr.check_eligibility("PILIHAN_FUNGSIONAL", facts(atasan_golongan="II/d", **fung), PERIOD).eligible
    # A sanction running on the period's date excludes; one that ended the day before does not.
    assert rules_failed("REGULER", facts(sanction_until=PERIOD)) == ["HUKUMAN_DISIPLIN"]
    assert pr.check_eligibility("REGULER", facts(sanction_until=PERIOD - timedelta(days=1)), PERIOD).eligible
    assert rules_failed("PRESTASI_LUAR_BIASA", facts(golongan="IV/e", predicates={2025: "SANGAT_BAIK"})) == ["PANGKAT_PUNCAK"]
    assert rules_failed("REGULER", facts(golongan=None)) == ["BUKAN_PNS"]
    assert rules_failed("REGULER", facts(jenis_jabatan="FUNGSIONAL")) == ["JENIS_JABATAN"]


def test_functional_credit_points_and_level_range() -> None:
    fung = dict(jenis_jabatan="FUNGSIONAL", jabatan="Pranata Komputer Ahli Pertama", tmt_golongan=date(2024, 4, 1))
    assert rules_failed("PILIHAN_FUNGSIONAL", facts(golongan="III/a", angka_kredit=49.9, **fung)) == ["ANGKA_KREDIT"]
    assert rules_failed("PILIHAN_FUNGSIONAL", facts(golongan="III/a", **fung)) == ["ANGKA_KREDIT"]
    assert pr.check_eligibility("PILIHAN_FUNGSIONAL", facts(golongan="III/a", angka_kredit=50, **fung), PERIOD).eligible
    # Ahli Pertama tops out at III/b: III/c needs a level promotion first.
    assert rules_failed("PILIHAN_FUNGSIONAL", facts(golongan="III/b", angka_kredit=500, **fung)) == ["JENJANG_JABATAN"]


def test_periods_by_year_monthly_from_october_2025_and_older_calendars_selectable() -> None:
    assert pr.periods(2026) == [date(2026, m, 1) for m in range(1, 13)]
    assert pr.periods(2025) == [date(2025, m, 1) for m in (2, 4, 6, 8, 10, 11, 12)]
    assert pr.periods(2023) == [date(2023, 4, 1), date(2023, 10, 1)]
    assert pr.calendar_on(date(2025, 9, 30)) == "PerBKN-4/2023" and pr.calendar_on(date(2025, 10, 1)) == "PerBKN-4/2025"
    quarterly = pr.PeriodPolicy(overrides={2023: "PP-99/2000"})
    assert pr.periods(2023, quarterly) == [date(2023, m, 1) for m in (1, 4, 7, 10)]
    # A 2025 override governs only the months before the monthly calendar began.
    old2025 = pr.PeriodPolicy(overrides={2025: "BKN-APRIL-OKTOBER"})
    assert pr.periods(2025, old2025) == [date(2025, 4, 1), date(2025, 10, 1), date(2025, 11, 1), date(2025, 12, 1)]
    with pytest.raises(ValueError, match="monthly"):
        pr.PeriodPolicy(overrides={2026: "PP-99/2000"})
    with pytest.raises(ValueError, match="unknown"):
        pr.policy_from_config({"period_overrides": {"2020": "WEEKLY"}})


def test_submission_window_opens_and_closes_on_its_days() -> None:
    period = date(2026, 12, 1)
    first, last = pr.submission_window(period)
    assert (first, last) == (date(2026, 9, 2), date(2026, 11, 30))
    assert pr.period_problems(period, first) == [] and pr.period_problems(period, last) == []
    assert pr.period_problems(period, first - timedelta(days=1))[0]["rule"] == "PERIODE_TERTUTUP"
    assert pr.period_problems(period, period)[0]["rule"] == "PERIODE_TERTUTUP"
    not_a_period = pr.period_problems(date(2026, 12, 15), date(2026, 11, 1))
    assert not_a_period[0]["rule"] == "PERIODE" and not_a_period[0]["regulation"] == "PerBKN-4/2025"
    assert pr.open_periods(date(2026, 11, 28)) == [date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)]


def test_dossier_checklist_names_missing_documents() -> None:
    required = pr.required_documents("REGULER", "II/d", "III/a")
    assert "SERTIFIKAT_UJIAN_DINAS" in required  # crossing a golongan on the regular route
    assert "SERTIFIKAT_UJIAN_DINAS" not in pr.required_documents("REGULER", "II/c", "II/d")
    sha = hashlib.sha256(b"x").hexdigest()
    full = {"documents": [{"code": c, "sha256": sha} for c in required]}
    assert pr.checklist_problems(full, required) == []
    short = {"documents": [{"code": c, "sha256": sha} for c in required[:-1]]}
    assert pr.checklist_problems(short, required)[0]["missing"] == [required[-1]]
    bad = {"documents": [{"code": "SK_PANGKAT_TERAKHIR", "sha256": "XYZ"}, {"code": "FOTO"}]}
    fields = [p["field"] for p in pr.checklist_problems(bad, ["SK_PANGKAT_TERAKHIR"])]
    assert fields == ["documents.0.sha256", "documents.1"]
    assert pr.checklist_problems({}, required)[0]["field"] == "documents"


def test_rotation_window_and_election_freezes() -> None:
    on = date(2026, 11, 28)
    assert pr.rotation_problems(date(2024, 11, 28), on)[0] == []
    early, _ = pr.rotation_problems(date(2024, 11, 29), on)
    assert early[0]["rule"] == "MASA_MUTASI_MINIMAL" and "PP 11/2017" in early[0]["regulation"]
    assert pr.rotation_problems(date(2021, 11, 27), on)[1]["overdue"] is True
    assert pr.freeze_on(date(2024, 3, 21)) is None
    assert pr.freeze_on(date(2024, 3, 22)) is not None and pr.freeze_on(date(2025, 8, 20)) is not None
    assert pr.freeze_on(date(2025, 8, 21)) is None
    extra = pr.freezes_from([{"label": "Pilkada 2029", "starts": "2029-01-01", "ends": "2029-12-31"}])
    assert pr.freeze_on(date(2029, 6, 1), extra).label == "Pilkada 2029"  # type: ignore[union-attr]


def test_decree_pdf_is_deterministic() -> None:
    fields = {
        "case_id": "promotion-2026-12-199001012015031001", "kind": "REGULER", "nip": "199001012015031001", "nama": "Budi Santoso",
        "jabatan": "Pengadministrasi Umum", "unit_nama": "Dinas Komunikasi dan Informatika", "golongan_lama": "II/c",
        "golongan_baru": "II/d", "tmt": "2026-12-01", "sk_nomor": "800/123/BKPSDMD/2026", "sk_tanggal": "2026-12-10",
        "pertek_nomor": "PT-1/BKN/2026", "pertek_tanggal": "2026-12-05", "bupati_nama": "H. Syahrial Hakim, S.H., M.H. — PPK",
    }
    one, two = render_decree("RANK", fields), render_decree("RANK", dict(fields))
    assert one.startswith(b"%PDF") and one == two
    assert render_decree("RANK", {**fields, "golongan_baru": "III/a"}) != one
