"""Roles, golongan/ruang, position types, education levels and Kabupaten Batanghari reference units."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import total_ordering


class Role(StrEnum):
    """Application roles; an employee may hold several."""

    PEGAWAI = "PEGAWAI"
    ATASAN = "ATASAN"
    KEPALA_OPD = "KEPALA_OPD"
    BKPSDM = "BKPSDM"
    TIM_PENILAI = "TIM_PENILAI"
    SEKDA = "SEKDA"
    BUPATI = "BUPATI"
    AUDITOR = "AUDITOR"
    ADMIN = "ADMIN"
    PENGELOLA_PENGADUAN = "PENGELOLA_PENGADUAN"
    PENGHUBUNG_PENGADUAN = "PENGHUBUNG_PENGADUAN"


ROLE_LABELS: dict[Role, dict[str, str]] = {
    Role.PEGAWAI: {"id": "Pegawai", "en": "Employee"},
    Role.ATASAN: {"id": "Atasan langsung", "en": "Direct superior"},
    Role.KEPALA_OPD: {"id": "Kepala Perangkat Daerah", "en": "Head of regional agency"},
    Role.BKPSDM: {"id": "Petugas BKPSDMD", "en": "Regional HR agency officer"},
    Role.TIM_PENILAI: {"id": "Tim Penilai Kinerja PNS", "en": "Civil-servant performance review board"},
    Role.SEKDA: {"id": "Sekretaris Daerah", "en": "Regional secretary"},
    Role.BUPATI: {"id": "Bupati (PPK)", "en": "Regent (personnel authority)"},
    Role.AUDITOR: {"id": "Auditor", "en": "Auditor"},
    Role.ADMIN: {"id": "Administrator sistem", "en": "System administrator"},
    Role.PENGELOLA_PENGADUAN: {"id": "Pengelola pengaduan (admin koordinator SP4N-LAPOR!)", "en": "Complaint manager (SP4N-LAPOR! coordinator)"},
    Role.PENGHUBUNG_PENGADUAN: {"id": "Penghubung pengaduan OPD (admin penghubung)", "en": "Agency complaint liaison"},
}


class JenisJabatan(StrEnum):
    """Position types (UU 5/2014, UU 20/2023)."""

    JPT = "JPT"
    ADMINISTRATOR = "ADMINISTRATOR"
    PENGAWAS = "PENGAWAS"
    PELAKSANA = "PELAKSANA"
    FUNGSIONAL = "FUNGSIONAL"


JENIS_JABATAN_LABELS: dict[JenisJabatan, dict[str, str]] = {
    JenisJabatan.JPT: {"id": "Jabatan Pimpinan Tinggi", "en": "Senior executive"},
    JenisJabatan.ADMINISTRATOR: {"id": "Jabatan Administrator", "en": "Administrator"},
    JenisJabatan.PENGAWAS: {"id": "Jabatan Pengawas", "en": "Supervisor"},
    JenisJabatan.PELAKSANA: {"id": "Jabatan Pelaksana", "en": "Staff"},
    JenisJabatan.FUNGSIONAL: {"id": "Jabatan Fungsional", "en": "Functional position"},
}


class InvalidGolongan(ValueError):
    """A golongan/ruang string is not one of I/a .. IV/e."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.message_id = f"Golongan/ruang tidak valid: {value!r} (contoh: III/a; I–III: a–d, IV: a–e)"
        self.message_en = f"Invalid golongan/ruang: {value!r} (e.g. III/a; I–III: a–d, IV: a–e)"
        super().__init__(self.message_en)


_ROMAN = ("I", "II", "III", "IV")
_GROUP_NAMES = {1: "Juru", 2: "Pengatur", 3: "Penata", 4: "Pembina"}
# Rank names (pangkat) per §7; I–III have ruang a–d, IV has a–e.
PANGKAT: dict[tuple[int, str], str] = {
    (1, "a"): "Juru Muda",
    (1, "b"): "Juru Muda Tingkat I",
    (1, "c"): "Juru",
    (1, "d"): "Juru Tingkat I",
    (2, "a"): "Pengatur Muda",
    (2, "b"): "Pengatur Muda Tingkat I",
    (2, "c"): "Pengatur",
    (2, "d"): "Pengatur Tingkat I",
    (3, "a"): "Penata Muda",
    (3, "b"): "Penata Muda Tingkat I",
    (3, "c"): "Penata",
    (3, "d"): "Penata Tingkat I",
    (4, "a"): "Pembina",
    (4, "b"): "Pembina Tingkat I",
    (4, "c"): "Pembina Utama Muda",
    (4, "d"): "Pembina Utama Madya",
    (4, "e"): "Pembina Utama",
}
_ORDER = sorted(PANGKAT)


@total_ordering
@dataclass(frozen=True)
class Golongan:
    """A golongan/ruang such as III/a; ordered from I/a (lowest) to IV/e."""

    level: int  # 1..4 (I..IV)
    ruang: str  # 'a'..'e'

    def __post_init__(self) -> None:
        if (self.level, self.ruang) not in PANGKAT:
            raise InvalidGolongan(f"{self.level}/{self.ruang}")

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Golongan):
            return NotImplemented
        return self.rank_index < other.rank_index

    def __str__(self) -> str:
        return self.code

    @property
    def code(self) -> str:
        """Canonical text, e.g. 'III/a'."""
        return f"{_ROMAN[self.level - 1]}/{self.ruang}"

    @property
    def pangkat(self) -> str:
        """Rank name, e.g. 'Penata Muda'."""
        return PANGKAT[(self.level, self.ruang)]

    @property
    def group_name(self) -> str:
        """Name of the golongan group (Juru, Pengatur, Penata, Pembina)."""
        return _GROUP_NAMES[self.level]

    @property
    def rank_index(self) -> int:
        """Position in the ladder: I/a = 0 .. IV/e = 16."""
        return _ORDER.index((self.level, self.ruang))

    def steps_above(self, other: Golongan) -> int:
        """How many ranks this golongan is above `other` (negative when below)."""
        return self.rank_index - other.rank_index


ALL_GOLONGAN: tuple[Golongan, ...] = tuple(Golongan(lv, r) for lv, r in _ORDER)

_GOL_RE = re.compile(r"^\s*(IV|III|II|I|[1-4])\s*[/\s.-]?\s*([a-eA-E])\s*$", re.IGNORECASE)


def parse_golongan(s: str) -> Golongan:
    """Parse 'III/a' (also 'III a', '3/a'); raises InvalidGolongan."""
    m = _GOL_RE.match(str(s))
    if not m:
        raise InvalidGolongan(str(s))
    head, ruang = m.group(1).upper(), m.group(2).lower()
    level = int(head) if head.isdigit() else _ROMAN.index(head) + 1
    if (level, ruang) not in PANGKAT:
        raise InvalidGolongan(str(s))
    return Golongan(level, ruang)


def golongan_range(low: str, high: str) -> tuple[Golongan, ...]:
    """All golongan from `low` to `high` inclusive."""
    lo, hi = parse_golongan(low), parse_golongan(high)
    return tuple(g for g in ALL_GOLONGAN if lo <= g <= hi)


# Education levels as written in the directory; aliases map common SIASN spellings.
PENDIDIKAN: tuple[str, ...] = ("SD", "SMP", "SMA", "D-I", "D-II", "D-III", "D-IV", "S1", "S2", "S3", "PROFESI")
PENDIDIKAN_ALIASES: dict[str, str] = {
    "SLTP": "SMP",
    "SLTA": "SMA",
    "SMK": "SMA",
    "MA": "SMA",
    "D1": "D-I",
    "D2": "D-II",
    "D3": "D-III",
    "D4": "D-IV",
    "S-1": "S1",
    "S-2": "S2",
    "S-3": "S3",
    "DOKTER": "PROFESI",
    "APOTEKER": "PROFESI",
}


def normalise_pendidikan(s: str) -> str | None:
    """Canonical education level for `s`, or None when unknown."""
    key = str(s).strip().upper().replace(" ", "")
    if key in PENDIDIKAN:
        return key
    return PENDIDIKAN_ALIASES.get(key)


# Entry golongan by education (§7). SMP = I/c is an inference (one source says I/b): unconfirmed.
# PROFESI covers medical doctors and pharmacists.
ENTRY_GOLONGAN: dict[str, dict[str, str]] = {
    "PP-11/2017": {
        "SD": "I/a",
        "SMP": "I/c",
        "SMA": "II/a",
        "D-I": "II/a",
        "D-II": "II/b",
        "D-III": "II/c",
        "D-IV": "III/a",
        "S1": "III/a",
        "S2": "III/b",
        "PROFESI": "III/b",
        "S3": "III/c",
    },
}
DEFAULT_ENTRY_RULES = "PP-11/2017"


def entry_golongan(pendidikan: str, regulation: str = DEFAULT_ENTRY_RULES) -> Golongan:
    """Starting golongan for a CPNS with this education level."""
    level = normalise_pendidikan(pendidikan)
    if level is None:
        raise ValueError(f"unknown education level {pendidikan!r}")
    return parse_golongan(ENTRY_GOLONGAN[regulation][level])


# Golongan ranges of functional levels. The skill-track ranges are unconfirmed (§7).
FUNGSIONAL_GOLONGAN: dict[str, dict[str, tuple[str, str]]] = {
    "PermenPANRB-1/2023": {
        "Ahli Pertama": ("III/a", "III/b"),
        "Ahli Muda": ("III/c", "III/d"),
        "Ahli Madya": ("IV/a", "IV/c"),
        "Ahli Utama": ("IV/d", "IV/e"),
        "Pemula": ("II/a", "II/a"),
        "Terampil": ("II/b", "II/d"),
        "Mahir": ("III/a", "III/b"),
        "Penyelia": ("III/c", "III/d"),
    },
}
DEFAULT_FUNGSIONAL_RULES = "PermenPANRB-1/2023"


class UnitKind(StrEnum):
    """Kinds of organisational unit (perangkat daerah)."""

    SEKRETARIAT = "SEKRETARIAT"
    BADAN = "BADAN"
    DINAS = "DINAS"
    INSPEKTORAT = "INSPEKTORAT"
    RSUD = "RSUD"
    KECAMATAN = "KECAMATAN"


@dataclass(frozen=True)
class Unit:
    """An organisational unit of the regency with a short code."""

    code: str
    name: str  # Indonesian (official) name
    name_en: str
    kind: UnitKind
    head_title: str  # Indonesian title of the unit head

    def label(self, lang: str = "id") -> str:
        """The unit name in 'id' or 'en'."""
        return self.name_en if lang == "en" else self.name


# Kabupaten Batanghari (Jambi). The 8 kecamatan are confirmed; the OPD list is the subset seen in
# public sources (§7), not the full Perda on perangkat daerah (which was not found).
REGENCY_NAME = "Kabupaten Batanghari"
REGENCY_CAPITAL = "Muara Bulian"
KECAMATAN: tuple[str, ...] = (
    "Bajubang",
    "Batin XXIV",
    "Maro Sebo Ilir",
    "Maro Sebo Ulu",
    "Mersam",
    "Muara Bulian",
    "Muara Tembesi",
    "Pemayung",
)

SETDA = "SETDA"
BKPSDMD = "BKPSDMD"
INSPEKTORAT = "INSPEKTORAT"
DISKOMINFO = "DISKOMINFO"


def kecamatan_code(name: str) -> str:
    """Unit code of a kecamatan office, e.g. 'KEC-MUARA-BULIAN'."""
    return "KEC-" + "-".join(name.upper().split())


_OPDS: tuple[Unit, ...] = (
    Unit(SETDA, "Sekretariat Daerah", "Regional Secretariat", UnitKind.SEKRETARIAT, "Sekretaris Daerah"),
    Unit("SETWAN", "Sekretariat DPRD", "Secretariat of the Regional Parliament", UnitKind.SEKRETARIAT, "Sekretaris DPRD"),
    Unit(
        BKPSDMD,
        "Badan Kepegawaian dan Pengembangan Sumber Daya Manusia Daerah",
        "Regional Civil Service and Human Resources Development Agency",
        UnitKind.BADAN,
        "Kepala Badan Kepegawaian dan Pengembangan Sumber Daya Manusia Daerah",
    ),
    Unit(
        DISKOMINFO,
        "Dinas Komunikasi dan Informatika",
        "Communication and Informatics Office",
        UnitKind.DINAS,
        "Kepala Dinas Komunikasi dan Informatika",
    ),
    Unit(
        "DPMPTSP",
        "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu",
        "Investment and One-Stop Integrated Services Office",
        UnitKind.DINAS,
        "Kepala Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu",
    ),
    Unit(
        "DISDIKBUD",
        "Dinas Pendidikan dan Kebudayaan",
        "Education and Culture Office",
        UnitKind.DINAS,
        "Kepala Dinas Pendidikan dan Kebudayaan",
    ),
    Unit(
        "DISPERKIM",
        "Dinas Perumahan dan Kawasan Permukiman",
        "Housing and Settlement Areas Office",
        UnitKind.DINAS,
        "Kepala Dinas Perumahan dan Kawasan Permukiman",
    ),
    Unit(
        "DPUTR",
        "Dinas Pekerjaan Umum dan Tata Ruang",
        "Public Works and Spatial Planning Office",
        UnitKind.DINAS,
        "Kepala Dinas Pekerjaan Umum dan Tata Ruang",
    ),
    Unit(
        "BPBD",
        "Badan Penanggulangan Bencana Daerah",
        "Regional Disaster Management Agency",
        UnitKind.BADAN,
        "Kepala Pelaksana Badan Penanggulangan Bencana Daerah",
    ),
    Unit("RSUD-HAMBA", "Rumah Sakit Umum Daerah Hamba", "Hamba Regional General Hospital", UnitKind.RSUD, "Direktur RSUD Hamba"),
    Unit(INSPEKTORAT, "Inspektorat Daerah", "Regional Inspectorate", UnitKind.INSPEKTORAT, "Inspektur"),
)

_KECAMATAN_UNITS: tuple[Unit, ...] = tuple(
    Unit(kecamatan_code(k), f"Kecamatan {k}", f"{k} District Office", UnitKind.KECAMATAN, f"Camat {k}") for k in KECAMATAN
)

UNITS: tuple[Unit, ...] = _OPDS + _KECAMATAN_UNITS
UNITS_BY_CODE: dict[str, Unit] = {u.code: u for u in UNITS}


def unit_codes() -> set[str]:
    """Codes of all reference units (for directory import checks)."""
    return set(UNITS_BY_CODE)


def get_unit(code: str) -> Unit:
    """The reference unit with this code; raises KeyError."""
    return UNITS_BY_CODE[code]
