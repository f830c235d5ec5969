from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asnflow.domain.nip import (
    InvalidNip,
    NIP_CHECK_MESSAGES,
    check_nip_against,
    format_nip,
    is_valid_nip,
    make_nip,
    parse_ni_pppk,
    parse_nip,
)


def test_parses_published_example_with_spaces():
    nip = parse_nip("19860926 201505 1 001")
    assert nip.value == "198609262015051001"
    assert nip.birth_date == date(1986, 9, 26)
    assert nip.tmt_cpns == date(2015, 5, 1)
    assert nip.sex == "L"
    assert nip.serial == 1
    assert nip.formatted == "19860926 201505 1 001"
    assert format_nip(nip.value) == nip.formatted


def test_female_digit_and_extra_whitespace():
    nip = parse_nip("  19910412\t201903 2 017 ")
    assert nip.sex == "P"
    assert nip.serial == 17


def _codes(s):
    with pytest.raises(InvalidNip) as exc:
        parse_nip(s)
    err = exc.value
    assert err.message_id and err.message_en and err.message_id != err.message_en
    for r in err.reasons:
        assert r.id and r.en and r.id != r.en
    return set(err.codes)


@pytest.mark.parametrize(
    "bad",
    ["", "19860926201505100", "1986092620150510011", "19860926 201505 1 00a", "１９８６０９２６２０１５０５１００１"],
)
def test_rejects_wrong_shape(bad):
    assert _codes(bad) == {"format"}


def test_rejects_invalid_birth_date():
    assert _codes("19860231 201505 1 001") == {"birth_date"}
    assert _codes("19861301 201505 1 001") == {"birth_date"}
    assert _codes("18991231 201505 1 001") == {"birth_date"}


def test_rejects_invalid_tmt_month():
    assert _codes("19860926 201513 1 001") == {"tmt_cpns"}
    assert _codes("19860926 201500 1 001") == {"tmt_cpns"}


def test_tmt_must_not_precede_18th_birthday():
    assert _codes("20000510 201804 1 001") == {"tmt_before_adult"}
    assert parse_nip("20000510 201805 1 001").tmt_cpns == date(2018, 5, 1)  # month of the 18th birthday
    assert _codes("19860926 198501 1 001") == {"tmt_before_adult"}  # TMT before birth


def test_rejects_sex_digit_other_than_1_or_2():
    for digit in "03459":
        assert _codes(f"19860926 201505 {digit} 001") == {"sex"}


def test_rejects_serial_000():
    assert _codes("19860926 201505 1 000") == {"serial"}
    assert parse_nip("19860926 201505 1 999").serial == 999


def test_reports_every_failed_rule_at_once():
    assert _codes("19860231 201513 3 000") == {"birth_date", "tmt_cpns", "sex", "serial"}


def test_is_valid_nip():
    assert is_valid_nip("198609262015051001")
    assert not is_valid_nip("198609262015053001")


def test_check_nip_against_row_fields():
    nip = parse_nip("198609262015051001")
    assert check_nip_against(nip, date(1986, 9, 26), "L", date(2015, 5, 1)) == []
    assert check_nip_against("19860926 201505 1 001", date(1986, 9, 26), "l", None) == []
    assert check_nip_against(nip, date(1986, 9, 27), "L") == ["birth_date_mismatch"]
    assert check_nip_against(nip, date(1986, 9, 26), "P") == ["sex_mismatch"]
    assert check_nip_against(nip, date(1986, 9, 26), "X") == ["sex_unknown"]
    assert check_nip_against(nip, date(1986, 9, 26), "L", date(2015, 4, 30)) == ["tmt_before_cpns"]
    assert check_nip_against(nip, date(1986, 9, 26), "L", date(2019, 4, 1)) == []
    assert check_nip_against(nip, date(1990, 1, 1), "P", date(2010, 1, 1)) == [
        "birth_date_mismatch",
        "sex_mismatch",
        "tmt_before_cpns",
    ]
    for code in NIP_CHECK_MESSAGES.values():
        assert code["id"] != code["en"]


def test_check_nip_against_rejects_invalid_nip():
    with pytest.raises(InvalidNip):
        check_nip_against("198609262015053001", date(1986, 9, 26), "L")


def test_parse_ni_pppk_keeps_the_code():
    ni = parse_ni_pppk("19910525 2023 21 1 031")
    assert ni.value == "199105252023211031"
    assert ni.birth_date == date(1991, 5, 25)
    assert ni.appointment_year == 2023
    assert ni.code == "21"
    assert ni.sex == "L"
    assert ni.serial == 31
    assert parse_ni_pppk("199105252024242001").code == "24"


def test_parse_ni_pppk_rejects_bad_values():
    cases = {
        "19910525 2023 21 3 031": {"sex"},
        "19910525 2023 21 1 000": {"serial"},
        "19910532 2023 21 1 031": {"birth_date"},
        "19910525 2008 21 1 031": {"tmt_before_adult"},
        "19910525 2023 21 1 03": {"format"},
    }
    for value, expected in cases.items():
        with pytest.raises(InvalidNip) as exc:
            parse_ni_pppk(value)
        assert set(exc.value.codes) == expected, value


def test_make_nip_builds_a_valid_nip():
    assert make_nip(date(1986, 9, 26), date(2015, 5, 1), "L", 1) == "198609262015051001"
    assert make_nip(date(1991, 4, 12), date(2019, 3, 15), "P", 12) == "199104122019032012"


def test_make_nip_rejects_invalid_parts():
    with pytest.raises(InvalidNip):
        make_nip(date(1986, 9, 26), date(2015, 5, 1), "X", 1)
    with pytest.raises(InvalidNip):
        make_nip(date(1986, 9, 26), date(2015, 5, 1), "L", 0)
    with pytest.raises(InvalidNip):
        make_nip(date(1986, 9, 26), date(2015, 5, 1), "L", 1000)
    with pytest.raises(InvalidNip) as exc:
        make_nip(date(2000, 1, 1), date(2010, 1, 1), "P", 1)
    assert exc.value.codes == ["tmt_before_adult"]


@given(
    birth=st.dates(min_value=date(1950, 1, 1), max_value=date(2006, 12, 31)),
    years_after_18=st.integers(min_value=0, max_value=40),
    month=st.integers(min_value=1, max_value=12),
    sex=st.sampled_from(["L", "P"]),
    serial=st.integers(min_value=1, max_value=999),
)
def test_make_and_parse_round_trip(birth, years_after_18, month, sex, serial):
    tmt = date(birth.year + 18 + years_after_18 + (1 if month < birth.month else 0), month, 1)
    value = make_nip(birth, tmt, sex, serial)
    nip = parse_nip(" ".join([value[:8], value[8:14], value[14], value[15:]]))
    assert (nip.birth_date, nip.tmt_cpns, nip.sex, nip.serial) == (birth, tmt, sex, serial)
    assert check_nip_against(nip, birth, sex, tmt) == []
