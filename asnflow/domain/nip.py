"""NIP (PNS) and NI PPPK identifiers: parsing, validation and construction (Perka BKN 22/2007, 43/2007)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# Rules are configuration so a later BKN regulation can change them without touching the logic.
NIP_RULES: dict[str, dict[str, int]] = {
    "PerkaBKN-22/2007": {"length": 18, "min_age_at_tmt": 18, "min_year": 1900},
}
DEFAULT_NIP_RULES = "PerkaBKN-22/2007"

SEX_BY_DIGIT = {"1": "L", "2": "P"}
DIGIT_BY_SEX = {"L": "1", "P": "2"}


@dataclass(frozen=True)
class Reason:
    """One bilingual validation reason with a stable machine code."""

    code: str
    id: str
    en: str


class InvalidNip(ValueError):
    """A NIP or NI PPPK failed validation; `reasons` lists every rule that failed."""

    def __init__(self, value: str, reasons: list[Reason]) -> None:
        self.value = value
        self.reasons = list(reasons)
        self.message_id = "; ".join(r.id for r in self.reasons)
        self.message_en = "; ".join(r.en for r in self.reasons)
        super().__init__(f"{value!r}: {self.message_en}")

    @property
    def codes(self) -> list[str]:
        """Machine codes of the failed rules."""
        return [r.code for r in self.reasons]


@dataclass(frozen=True)
class Nip:
    """A validated 18-digit PNS NIP."""

    value: str
    birth_date: date
    tmt_cpns: date  # first day of the TMT CPNS month
    sex: str  # 'L' (digit 1) or 'P' (digit 2)
    serial: int

    def __str__(self) -> str:
        return self.value

    @property
    def formatted(self) -> str:
        """The NIP grouped as printed on documents: 'YYYYMMDD YYYYMM G NNN'."""
        return format_nip(self.value)


@dataclass(frozen=True)
class NiPppk:
    """A validated 18-digit NI PPPK; the 2-digit `code` is kept verbatim (its meaning is unconfirmed)."""

    value: str
    birth_date: date
    appointment_year: int
    code: str
    sex: str
    serial: int

    def __str__(self) -> str:
        return self.value


def normalise_nip(s: str) -> str:
    """Strip all whitespace from a NIP as typed (e.g. '19860926 201505 1 001')."""
    return "".join(str(s).split())


def format_nip(value: str) -> str:
    """Group an 18-digit PNS NIP as 'YYYYMMDD YYYYMM G NNN'."""
    v = normalise_nip(value)
    return f"{v[:8]} {v[8:14]} {v[14]} {v[15:]}"


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February in a non-leap year
        return d.replace(year=d.year + years, day=28)


def _shape(value: str, rules: dict[str, int]) -> list[Reason]:
    n = rules["length"]
    if not value.isdigit() or not value.isascii() or len(value) != n:
        return [
            Reason(
                "format",
                f"NIP harus terdiri dari {n} digit angka (diterima {len(value)} karakter)",
                f"NIP must be exactly {n} digits (got {len(value)} characters)",
            )
        ]
    return []


def _birth(value: str, rules: dict[str, int]) -> tuple[date | None, list[Reason]]:
    try:
        birth = date(int(value[0:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return None, [
            Reason(
                "birth_date",
                f"Digit 1–8 ({value[0:8]}) bukan tanggal lahir yang valid",
                f"Digits 1–8 ({value[0:8]}) are not a valid birth date",
            )
        ]
    if birth.year < rules["min_year"]:
        return None, [
            Reason(
                "birth_date",
                f"Tahun lahir {birth.year} tidak masuk akal",
                f"Birth year {birth.year} is implausible",
            )
        ]
    return birth, []


def _sex(digit: str, position: int) -> tuple[str | None, list[Reason]]:
    if digit not in SEX_BY_DIGIT:
        return None, [
            Reason(
                "sex",
                f"Digit ke-{position} (jenis kelamin) harus 1 (laki-laki) atau 2 (perempuan), bukan {digit}",
                f"Digit {position} (sex) must be 1 (male) or 2 (female), not {digit}",
            )
        ]
    return SEX_BY_DIGIT[digit], []


def _serial(digits: str) -> tuple[int, list[Reason]]:
    serial = int(digits)
    if serial < 1:
        return serial, [
            Reason(
                "serial",
                "Nomor urut (3 digit terakhir) harus dimulai dari 001",
                "The serial number (last 3 digits) must be at least 001",
            )
        ]
    return serial, []


def parse_nip(s: str, rules_id: str = DEFAULT_NIP_RULES) -> Nip:
    """Parse and validate a PNS NIP `YYYYMMDD YYYYMM G NNN`, raising InvalidNip with every failed rule."""
    rules = NIP_RULES[rules_id]
    value = normalise_nip(s)
    reasons = _shape(value, rules)
    if reasons:
        raise InvalidNip(value, reasons)
    birth, r = _birth(value, rules)
    reasons += r
    tmt: date | None = None
    tmt_year, tmt_month = int(value[8:12]), int(value[12:14])
    if 1 <= tmt_month <= 12 and tmt_year >= rules["min_year"]:
        tmt = date(tmt_year, tmt_month, 1)
    else:
        reasons.append(
            Reason(
                "tmt_cpns",
                f"Digit 9–14 ({value[8:14]}) bukan tahun-bulan TMT CPNS yang valid",
                f"Digits 9–14 ({value[8:14]}) are not a valid TMT CPNS year and month",
            )
        )
    if birth is not None and tmt is not None:
        adult = _add_years(birth, rules["min_age_at_tmt"])
        # TMT has month precision: a TMT in the month of the 18th birthday is accepted.
        if (tmt.year, tmt.month) < (adult.year, adult.month):
            reasons.append(
                Reason(
                    "tmt_before_adult",
                    f"TMT CPNS {tmt:%Y-%m} sebelum usia {rules['min_age_at_tmt']} tahun (lahir {birth.isoformat()})",
                    f"TMT CPNS {tmt:%Y-%m} is before the {rules['min_age_at_tmt']}th birthday (born {birth.isoformat()})",
                )
            )
    sex, r = _sex(value[14], 15)
    reasons += r
    serial, r = _serial(value[15:18])
    reasons += r
    if reasons:
        raise InvalidNip(value, reasons)
    assert birth is not None and tmt is not None and sex is not None
    return Nip(value=value, birth_date=birth, tmt_cpns=tmt, sex=sex, serial=serial)


def is_valid_nip(s: str) -> bool:
    """True when `s` is a valid PNS NIP."""
    try:
        parse_nip(s)
    except InvalidNip:
        return False
    return True


def parse_ni_pppk(s: str, rules_id: str = DEFAULT_NIP_RULES) -> NiPppk:
    """Parse and validate an NI PPPK `YYYYMMDD YYYY XX G NNN`, raising InvalidNip."""
    rules = NIP_RULES[rules_id]
    value = normalise_nip(s)
    reasons = _shape(value, rules)
    if reasons:
        raise InvalidNip(value, reasons)
    birth, reasons = _birth(value, rules)
    year = int(value[8:12])
    if year < rules["min_year"]:
        reasons.append(
            Reason(
                "appointment_year",
                f"Digit 9–12 ({value[8:12]}) bukan tahun pengangkatan yang valid",
                f"Digits 9–12 ({value[8:12]}) are not a valid appointment year",
            )
        )
    elif birth is not None and year < birth.year + rules["min_age_at_tmt"]:
        reasons.append(
            Reason(
                "tmt_before_adult",
                f"Tahun pengangkatan {year} sebelum usia {rules['min_age_at_tmt']} tahun",
                f"Appointment year {year} is before the {rules['min_age_at_tmt']}th birthday",
            )
        )
    sex, r = _sex(value[14], 15)
    reasons += r
    serial, r = _serial(value[15:18])
    reasons += r
    if reasons:
        raise InvalidNip(value, reasons)
    assert birth is not None and sex is not None
    return NiPppk(value=value, birth_date=birth, appointment_year=year, code=value[12:14], sex=sex, serial=serial)


def make_nip(birth: date, tmt_cpns: date, sex: str, serial: int) -> str:
    """Build a PNS NIP from its parts (sex 'L'/'P'); raises InvalidNip if the result breaks a rule."""
    if sex not in DIGIT_BY_SEX:
        raise InvalidNip(
            str(sex),
            [Reason("sex", "Jenis kelamin harus L atau P", "Sex must be L or P")],
        )
    if not 0 <= serial <= 999:
        raise InvalidNip(
            str(serial),
            [Reason("serial", "Nomor urut harus 001–999", "The serial number must be 001–999")],
        )
    value = f"{birth:%Y%m%d}{tmt_cpns:%Y%m}{DIGIT_BY_SEX[sex]}{serial:03d}"
    return parse_nip(value).value


# Stable codes returned by check_nip_against, with their bilingual texts.
NIP_CHECK_MESSAGES: dict[str, dict[str, str]] = {
    "birth_date_mismatch": {
        "id": "Tanggal lahir tidak sesuai dengan digit 1–8 NIP",
        "en": "Birth date does not match digits 1–8 of the NIP",
    },
    "sex_mismatch": {
        "id": "Jenis kelamin tidak sesuai dengan digit ke-15 NIP",
        "en": "Sex does not match digit 15 of the NIP",
    },
    "sex_unknown": {
        "id": "Jenis kelamin harus L atau P",
        "en": "Sex must be L or P",
    },
    "tmt_before_cpns": {
        "id": "TMT lebih awal dari TMT CPNS pada NIP",
        "en": "TMT is earlier than the TMT CPNS encoded in the NIP",
    },
}


def check_nip_against(nip: Nip | str, tanggal_lahir: date, jenis_kelamin: str, tmt: date | None = None) -> list[str]:
    """Codes (keys of NIP_CHECK_MESSAGES) where a record's own fields contradict its NIP."""
    parsed = nip if isinstance(nip, Nip) else parse_nip(nip)
    problems: list[str] = []
    if parsed.birth_date != tanggal_lahir:
        problems.append("birth_date_mismatch")
    jk = jenis_kelamin.strip().upper()
    if jk not in DIGIT_BY_SEX:
        problems.append("sex_unknown")
    elif jk != parsed.sex:
        problems.append("sex_mismatch")
    if tmt is not None and (tmt.year, tmt.month) < (parsed.tmt_cpns.year, parsed.tmt_cpns.month):
        problems.append("tmt_before_cpns")
    return problems
