import pytest

from asnflow.domain import performance
from asnflow.domain.performance import (
    PREDICATE_LABELS,
    PREDICATE_MATRICES,
    Predicate,
    Rating,
    credit_points,
    predicate,
    validate_rating_data,
    validate_skp_data,
)

A, S, B = "DI_ATAS_EKSPEKTASI", "SESUAI_EKSPEKTASI", "DI_BAWAH_EKSPEKTASI"

# Rows: hasil kerja (work results); columns: perilaku kerja (behaviour). REGULATIONS.md §3.
MATRIX = [
    (A, A, "SANGAT_BAIK"),
    (A, S, "BAIK"),
    (A, B, "KURANG"),
    (S, A, "BAIK"),
    (S, S, "BAIK"),
    (S, B, "KURANG"),
    (B, A, "BUTUH_PERBAIKAN"),
    (B, S, "BUTUH_PERBAIKAN"),
    (B, B, "SANGAT_KURANG"),
]


@pytest.mark.parametrize(("hasil", "perilaku", "expected"), MATRIX)
def test_predicate_matrix(hasil, perilaku, expected):
    result = predicate(hasil, perilaku)
    assert result == expected
    assert type(result) is str
    assert predicate(hasil, perilaku, "PermenPANRB-6/2022") == expected


def test_matrix_config_is_complete_and_keyed_by_regulation():
    assert performance.DEFAULT_REGULATION == "PermenPANRB-6/2022"
    matrix = PREDICATE_MATRICES["PermenPANRB-6/2022"]
    assert set(matrix) == {(h, p) for h in Rating for p in Rating}
    assert set(matrix.values()) == set(Predicate)
    assert all(PREDICATE_LABELS[p]["id"] and PREDICATE_LABELS[p]["en"] for p in Predicate)


def test_predicate_rejects_unknown_values_and_regulations():
    with pytest.raises(ValueError):
        predicate("BAGUS", S)
    with pytest.raises(ValueError):
        predicate(S, "sesuai_ekspektasi")
    with pytest.raises(KeyError):
        predicate(S, S, "PermenPANRB-99/2099")


def test_credit_points():
    assert credit_points("SANGAT_BAIK", 12.5) == 18.75
    assert credit_points("BAIK", 12.5, months=2) == 2.083
    assert credit_points("SANGAT_KURANG", 12.5) == 3.125
    with pytest.raises(ValueError):
        credit_points("BAIK", 12.5, months=13)


def _fields(problems):
    for p in problems:
        assert set(p) == {"field", "id", "en"}
        assert p["id"] and p["en"] and p["id"] != p["en"]
    return [p["field"] for p in problems]


def test_validate_rating_data():
    assert validate_rating_data({"hasil_kerja": A, "perilaku_kerja": B}) == []
    assert validate_rating_data({"hasil_kerja": S, "perilaku_kerja": S, "catatan": "ok"}) == []
    assert _fields(validate_rating_data({})) == ["hasil_kerja", "perilaku_kerja"]
    assert _fields(validate_rating_data({"hasil_kerja": A})) == ["perilaku_kerja"]
    assert _fields(validate_rating_data({"hasil_kerja": "", "perilaku_kerja": S})) == ["hasil_kerja"]
    assert _fields(validate_rating_data({"hasil_kerja": "SANGAT_BAIK", "perilaku_kerja": 3})) == [
        "hasil_kerja",
        "perilaku_kerja",
    ]
    assert _fields(validate_rating_data(["x"])) == [""]


def _target(i=0):
    return {"indikator": f"Persentase layanan aplikasi yang tersedia {i}", "target": "95 %"}


def test_validate_skp_data_accepts_a_good_draft():
    assert validate_skp_data({"targets": [_target()]}) == []
    assert validate_skp_data({"targets": [_target(i) for i in range(50)]}) == []
    assert validate_skp_data({"targets": [{"indikator": "x" * 500, "target": "y" * 200}]}) == []


def test_validate_skp_data_rejects_bad_drafts():
    assert _fields(validate_skp_data({})) == ["targets"]
    assert _fields(validate_skp_data({"targets": []})) == ["targets"]
    assert _fields(validate_skp_data({"targets": "banyak"})) == ["targets"]
    assert _fields(validate_skp_data({"targets": [_target(i) for i in range(51)]})) == ["targets"]
    assert _fields(validate_skp_data(None)) == [""]
    problems = validate_skp_data(
        {
            "targets": [
                _target(),
                "not an object",
                {"indikator": "  ", "target": "10 dokumen"},
                {"indikator": "x" * 501, "target": "y" * 201},
                {"target": "1"},
                {"indikator": "ok", "target": 5},
            ]
        }
    )
    assert _fields(problems) == [
        "targets[1]",
        "targets[2].indikator",
        "targets[3].indikator",
        "targets[3].target",
        "targets[4].indikator",
        "targets[5].target",
    ]
