from datetime import date, datetime, time, timedelta, timezone

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asnflow.domain.calendar import BusinessCalendar, load_overrides

WIB = timedelta(hours=7)


def _package_days(*years):
    """Non-working holidays straight from the holidays package (independent of BusinessCalendar)."""
    return set(holidays.country_holidays("ID", years=list(years), categories=("public", "government")))


def _expected_due(start_day, n, off):
    d = start_day
    for _ in range(n):
        d += timedelta(days=1)
        while d.weekday() >= 5 or d in off:
            d += timedelta(days=1)
    return d


@pytest.fixture(scope="module")
def cal():
    return BusinessCalendar(overrides={})


def test_package_supports_government_category_for_indonesia():
    assert "government" in holidays.country_holidays("ID").supported_categories
    gov = holidays.country_holidays("ID", years=2026, categories=("government",))
    assert len(gov) > 0  # cuti bersama


@pytest.mark.parametrize("day", [date(2026, 8, 17), date(2026, 12, 25), date(2027, 8, 17), date(2027, 12, 25), date(2026, 1, 1), date(2027, 1, 1)])
def test_fixed_national_holidays_are_not_working_days(cal, day):
    assert not cal.is_working_day(day)
    assert cal.is_holiday(day)


def test_weekends_are_not_working_days(cal):
    assert not cal.is_working_day(date(2026, 7, 4))  # Saturday
    assert not cal.is_working_day(date(2026, 7, 5))  # Sunday
    assert cal.is_working_day(date(2026, 7, 6))  # Monday


def test_one_working_day_from_monday_morning_is_tuesday_end_of_day(cal):
    monday = date(2026, 7, 6)
    assert not _package_days(2026) & {monday, monday + timedelta(days=1)}
    due = cal.add_working_days(datetime(2026, 7, 6, 10, 0), 1)
    assert due.date() == date(2026, 7, 7)
    assert due.time() == time(23, 59, 59)
    assert due.utcoffset() == WIB
    assert due.tzinfo is not None


def test_friday_plus_one_is_monday_and_zero_is_same_day(cal):
    assert cal.add_working_days(datetime(2026, 7, 10, 16, 0), 1).date() == date(2026, 7, 13)
    assert cal.add_working_days(datetime(2026, 7, 10, 16, 0), 0) == datetime.combine(
        date(2026, 7, 10), time(23, 59, 59), tzinfo=cal.tz
    )
    with pytest.raises(ValueError):
        cal.add_working_days(datetime(2026, 7, 10), -1)


def test_received_day_is_taken_in_jakarta_time(cal):
    # 20:00 UTC on Monday is 03:00 Tuesday in Jakarta: the received day is Tuesday.
    due = cal.add_working_days(datetime(2026, 7, 6, 20, 0, tzinfo=timezone.utc), 1)
    assert due.date() == date(2026, 7, 8)
    # 16:59 UTC Monday is still Monday 23:59 in Jakarta.
    assert cal.add_working_days(datetime(2026, 7, 6, 16, 59, tzinfo=timezone.utc), 1).date() == date(2026, 7, 7)


@pytest.mark.parametrize("year", [2026, 2027])
def test_idul_fitri_and_cuti_bersama_are_skipped(cal, year):
    h = holidays.country_holidays("ID", years=year, categories=("public", "government"))
    eid = min(d for d, name in h.items() if name.startswith("Eid al-Fitr") and "Joint" not in name)
    joint = [d for d, name in h.items() if "Eid al-Fitr Joint Holiday" in name]
    assert joint, "the package should list cuti bersama around Idul Fitri"
    for d in [eid, *joint]:
        assert not cal.is_working_day(d)
    off = _package_days(year)
    before = eid - timedelta(days=1)
    while before.weekday() >= 5 or before in off:
        before -= timedelta(days=1)
    due = cal.add_working_days(datetime.combine(before, time(9, 0)), 1)
    assert due.date() == _expected_due(before, 1, off)
    assert (due.date() - before).days > 3  # the whole Lebaran block is skipped
    assert cal.is_working_day(due.date())
    for n in (1, 5, 10):
        assert cal.add_working_days(datetime.combine(before, time(9, 0)), n).date() == _expected_due(before, n, off)


@pytest.mark.parametrize(("start", "n"), [(date(2026, 12, 23), 3), (date(2026, 12, 30), 3), (date(2027, 12, 22), 5), (date(2026, 12, 31), 1)])
def test_year_end(cal, start, n):
    off = _package_days(2026, 2027, 2028)
    due = cal.add_working_days(datetime.combine(start, time(10, 0)), n)
    assert due.date() == _expected_due(start, n, off)
    assert cal.working_days_between(start, due.date()) == n


def test_new_year_crossing(cal):
    due = cal.add_working_days(datetime(2026, 12, 31, 10, 0), 1)
    assert due.year == 2027 and due.date() > date(2027, 1, 1)


def test_packaged_overrides_add_the_regency_anniversary():
    raw = load_overrides()
    added = raw["2026"]["add"]
    assert any("Batanghari" in name for name in added.values())
    day = date.fromisoformat(next(iter(added)))
    with_overrides, without = BusinessCalendar(), BusinessCalendar(overrides={})
    assert day.weekday() < 5 and without.is_working_day(day)
    assert not with_overrides.is_working_day(day)
    assert "Batanghari" in with_overrides.holiday_name(day)


def test_overrides_can_remove_and_add():
    cal = BusinessCalendar(overrides={"2026": {"add": {"2026-07-07": "Libur daerah"}, "remove": ["2026-08-17"]}})
    assert cal.is_working_day(date(2026, 8, 17))
    assert not cal.is_working_day(date(2026, 7, 7))
    assert cal.add_working_days(datetime(2026, 7, 6, 10, 0), 1).date() == date(2026, 7, 8)


def test_overrides_are_validated():
    with pytest.raises(ValueError):
        BusinessCalendar(overrides={"2026": {"add": {"2027-01-02": "x"}}})
    with pytest.raises(ValueError):
        BusinessCalendar(overrides={"26": {"add": {}}})


@settings(max_examples=60, deadline=None)
@given(start=st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 11, 30)), n=st.integers(min_value=0, max_value=25))
def test_add_working_days_properties(cal, start, n):
    due = cal.add_working_days(datetime.combine(start, time(8, 0)), n)
    assert cal.working_days_between(start, due.date()) == n
    if n > 0:
        assert cal.is_working_day(due.date())
        assert due.date() > start
    else:
        assert due.date() == start
