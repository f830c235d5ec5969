"""Indonesian business calendar (Asia/Jakarta): national holidays, cuti bersama and regency overrides."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from importlib import resources
from typing import Any

import holidays

try:
    from zoneinfo import ZoneInfo

    JAKARTA: tzinfo = ZoneInfo("Asia/Jakarta")
except Exception:  # pragma: no cover - no tz database on the host; WIB has had no DST since 1964
    JAKARTA = timezone(timedelta(hours=7), "WIB")

END_OF_DAY = time(23, 59, 59)
# "government" adds cuti bersama (joint leave days), on which government offices are closed.
DEFAULT_CATEGORIES: tuple[str, ...] = ("public", "government")
OVERRIDES_RESOURCE = "holiday_overrides.json"


def load_overrides() -> dict[str, Any]:
    """The packaged per-year holiday overrides (asnflow/domain/data/holiday_overrides.json)."""
    text = resources.files("asnflow.domain").joinpath("data", OVERRIDES_RESOURCE).read_text(encoding="utf-8")
    return json.loads(text)


def _parse_overrides(raw: Mapping[str, Any]) -> dict[int, tuple[dict[date, str], frozenset[date]]]:
    parsed: dict[int, tuple[dict[date, str], frozenset[date]]] = {}
    for key, entry in raw.items():
        if key.startswith("_"):  # comments
            continue
        if not (key.isdigit() and len(key) == 4):
            raise ValueError(f"holiday overrides: year key must be 'YYYY', got {key!r}")
        year = int(key)
        add = {date.fromisoformat(d): str(name) for d, name in (entry.get("add") or {}).items()}
        remove = frozenset(date.fromisoformat(d) for d in (entry.get("remove") or []))
        stray = [d for d in (*add, *remove) if d.year != year]
        if stray:
            raise ValueError(f"holiday overrides: dates {stray} are filed under {year}")
        parsed[year] = (add, remove)
    return parsed


class BusinessCalendar:
    """Working days of Indonesian government offices: Mon–Fri minus holidays and cuti bersama."""

    def __init__(
        self,
        overrides: Mapping[str, Any] | None = None,
        categories: tuple[str, ...] = DEFAULT_CATEGORIES,
        tz: tzinfo = JAKARTA,
    ) -> None:
        """Use the packaged overrides when `overrides` is None; pass {} for the holidays package alone."""
        self._overrides = _parse_overrides(load_overrides() if overrides is None else overrides)
        self._categories = tuple(categories)
        self.tz = tz
        self._years: dict[int, dict[date, str]] = {}
        self._lock = threading.Lock()

    def holidays_in(self, year: int) -> dict[date, str]:
        """All non-working holidays of a year (weekends excluded unless a holiday falls on one)."""
        cached = self._years.get(year)
        if cached is not None:
            return cached
        with self._lock:
            if year not in self._years:
                base = holidays.country_holidays("ID", years=year, categories=self._categories)
                days = {d: name for d, name in base.items() if d.year == year}
                add, remove = self._overrides.get(year, ({}, frozenset()))
                days.update(add)
                for d in remove:
                    days.pop(d, None)
                self._years[year] = dict(sorted(days.items()))
            return self._years[year]

    def holiday_name(self, day: date) -> str | None:
        """The holiday name for `day`, or None."""
        return self.holidays_in(day.year).get(day)

    def is_holiday(self, day: date) -> bool:
        """True when `day` is a public holiday, cuti bersama or a regency addition."""
        return day in self.holidays_in(day.year)

    def is_working_day(self, day: date) -> bool:
        """True on Monday–Friday that are not holidays."""
        if isinstance(day, datetime):
            day = self.local_date(day)
        return day.weekday() < 5 and not self.is_holiday(day)

    def local_date(self, moment: datetime) -> date:
        """The Asia/Jakarta calendar date of a moment (naive datetimes are taken as Jakarta time)."""
        if moment.tzinfo is None:
            return moment.date()
        return moment.astimezone(self.tz).date()

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        d = day + timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """End (23:59:59 Jakarta) of the n-th working day after the day of `start`; that day itself never counts."""
        if n < 0:
            raise ValueError("n must be >= 0")
        d = self.local_date(start)
        for _ in range(n):
            d = self.next_working_day(d)
        return datetime.combine(d, END_OF_DAY, tzinfo=self.tz)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in the half-open interval (start, end]."""
        count, d = 0, start
        while d < end:
            d += timedelta(days=1)
            if self.is_working_day(d):
                count += 1
        return count

    def previous_working_day(self, day: date) -> date:
        """The last working day strictly before `day`."""
        d = day - timedelta(days=1)
        while not self.is_working_day(d):
            d -= timedelta(days=1)
        return d

    def subtract_working_days(self, day: date, n: int) -> date:
        """The working day n working days before `day` (n=0: `day` itself, or the working day before it)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        d = day if self.is_working_day(day) else self.previous_working_day(day)
        for _ in range(n):
            d = self.previous_working_day(d)
        return d

    def at_hour(self, day: date, hour: int, minute: int = 0) -> datetime:
        """A clock time on a Jakarta calendar day."""
        return datetime.combine(day, time(hour, minute), tzinfo=self.tz)
