"""Personal data of the directory and of complaints: NIK, e-mail and phone, validated; which fields are personal."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

# Province codes of the Kemendagri region codes (Permendagri 72/2019, with the 2022 Papua provinces 92–96).
# A NIK's first six digits are province, regency/city and district (kecamatan); only the province list is
# closed here: the regency and district lists change yearly, so they are checked for shape (not 00).
PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21",
    "31", "32", "33", "34", "35", "36", "51", "52", "53",
    "61", "62", "63", "64", "65", "71", "72", "73", "74", "75", "76",
    "81", "82", "91", "92", "93", "94", "95", "96",
})
# Kabupaten Batanghari (Jambi): 15.04, districts 01–08 (the demo organisation's residents).
BATANGHARI = "1504"
BATANGHARI_DISTRICTS = ("01", "02", "03", "04", "05", "06", "07", "08")
WOMEN_DAY_OFFSET = 40  # a woman's NIK carries her birth day + 40

# Keys whose values are personal data wherever they occur in an event payload: they leave the store only
# through the endpoints that may show them (the person, BKPSDM, ADMIN; complaint managers for reporters).
PERSONAL_KEYS = frozenset({"nik", "email", "telepon", "reporter_name", "reporter_contact"})
REDACTED = "[disembunyikan / redacted]"

_NIK = re.compile(r"^\d{16}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_PHONE = re.compile(r"^(?:\+62|62|0)(\d{8,12})$")


class InvalidPersonalData(ValueError):
    """A NIK, e-mail or phone that fails its check; the message in both languages."""

    def __init__(self, message_id: str, message_en: str) -> None:
        super().__init__(message_en)
        self.message_id, self.message_en = message_id, message_en


@dataclass(frozen=True)
class Nik:
    """A parsed NIK (Nomor Induk Kependudukan): region, birth date, sex, serial."""

    value: str
    province: str
    regency: str
    district: str
    birth_day: int
    birth_month: int
    birth_yy: int
    sex: str  # 'L' or 'P'
    serial: int

    def matches_birth_date(self, born: date) -> bool:
        """True when DDMMYY agrees with a full birth date (the NIK carries only two year digits)."""
        return (self.birth_day, self.birth_month, self.birth_yy) == (born.day, born.month, born.year % 100)


def parse_nik(text: str) -> Nik:
    """Check a NIK: 16 digits, a known province, regency and district not 00, a real birth day (women +40), serial ≥ 1."""
    value = text.strip().replace(" ", "").replace(".", "")
    if not _NIK.match(value):
        raise InvalidPersonalData("NIK harus 16 angka", "NIK must be 16 digits")
    province, regency, district = value[0:2], value[2:4], value[4:6]
    if province not in PROVINCE_CODES:
        raise InvalidPersonalData(f"Kode provinsi NIK tidak dikenal: {province}", f"Unknown NIK province code: {province}")
    if regency == "00" or district == "00":
        raise InvalidPersonalData("Kode kabupaten/kecamatan NIK tidak valid", "Invalid NIK regency/district code")
    day, month, yy = int(value[6:8]), int(value[8:10]), int(value[10:12])
    sex = "L"
    if day > WOMEN_DAY_OFFSET:
        day, sex = day - WOMEN_DAY_OFFSET, "P"
    # Any leap year validates 29 February; the century is unknown from the NIK alone.
    try:
        date(2000 + yy if yy % 4 == 0 else 2001, month, day)
    except ValueError:
        raise InvalidPersonalData(
            "Tanggal lahir pada NIK tidak valid (perempuan: tanggal + 40)",
            "The birth date in the NIK is invalid (women: day + 40)",
        ) from None
    serial = int(value[12:16])
    if serial < 1:
        raise InvalidPersonalData("Nomor urut NIK harus ≥ 0001", "The NIK serial must be ≥ 0001")
    return Nik(value, province, regency, district, day, month, yy, sex, serial)


def make_nik(region: str, born: date, sex: str, serial: int) -> str:
    """A NIK for a six-digit region code, birth date, sex and serial (demo data, tests)."""
    day = born.day + (WOMEN_DAY_OFFSET if sex == "P" else 0)
    return f"{region}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


def normalise_email(text: str) -> str:
    """A lower-cased e-mail address of reasonable shape (≤ 254 characters)."""
    value = text.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidPersonalData(f"Alamat e-mail tidak valid: {value!r}", f"Invalid e-mail address: {value!r}")
    return value.lower()


def normalise_phone(text: str) -> str:
    """An Indonesian phone number as +62…, from 0…, 62… or +62… (spaces and dashes ignored)."""
    value = re.sub(r"[\s\-().]", "", text)
    m = _PHONE.match(value)
    if m is None or m.group(1).startswith("0"):
        raise InvalidPersonalData(
            f"Nomor telepon tidak valid: {text!r} (contoh 0812xxxxxxxx)", f"Invalid phone number: {text!r} (e.g. 0812xxxxxxxx)"
        )
    return "+62" + m.group(1)


def redact(value: Any) -> Any:
    """A copy of a payload with every personal value replaced (nested dicts and lists included).

    Returns the very same object when there is nothing to redact (the common case, cheap to test with `is`)."""
    # Leaves are never visited (each would be a call returning itself): the audit view redacts every event.
    if isinstance(value, dict):
        out = None
        for k, v in value.items():
            if k in PERSONAL_KEYS and v not in (None, ""):
                new = REDACTED
            elif isinstance(v, (dict, list)):
                new = redact(v)
            else:
                continue
            if new is not v:
                if out is None:
                    out = dict(value)
                out[k] = new
        return value if out is None else out
    if isinstance(value, list):
        changed = None
        for i, v in enumerate(value):
            if isinstance(v, (dict, list)):
                new = redact(v)
                if new is not v:
                    if changed is None:
                        changed = list(value)
                    changed[i] = new
        return value if changed is None else changed
    return value
