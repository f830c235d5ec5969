"""Deterministic demo organisation of Kabupaten Batanghari (~300 fictional PNS) and its named demo users.

All people are fictional. Named demo users have fixed NIPs that documentation may cite; everyone
else is generated from random.Random(2026), so every call yields the same organisation.
The Bupati is an elected official without a NIP: BUPATI_NIP is a stand-in that merely passes NIP
validation, and the Bupati is not part of the employee directory (the Sekda is its top).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from asnflow.domain.directory import EmployeeRecord, derive_roles, to_csv
from asnflow.domain.nip import make_nip, parse_nip
from asnflow.domain.personal import BATANGHARI, BATANGHARI_DISTRICTS, make_nik
from asnflow.domain.organisation import (
    BKPSDMD,
    DISKOMINFO,
    INSPEKTORAT,
    SETDA,
    UNITS,
    UNITS_BY_CODE,
    JenisJabatan,
    Role,
    UnitKind,
    entry_golongan,
    golongan_range,
)

SEED = 2026
REFERENCE_DATE = date(2026, 1, 1)  # "today" for ages and service years, fixed for determinism
RETIREMENT_AGE = {JenisJabatan.JPT: 60}  # BUP; others 58
DEFAULT_RETIREMENT_AGE = 58

# Fixed, citable NIPs of the named demo users.
BUPATI_NIP = "197001011990011001"  # stand-in: a Bupati has no NIP
SEKDA_NIP = "197203152000031001"
KEPALA_BKPSDMD_NIP = "197507202002122001"
BKPSDM_STAFF_1_NIP = "199104122019032001"
BKPSDM_STAFF_2_NIP = "198808082010011001"
AUDITOR_NIP = "198502142009022001"
ADMIN_NIP = "199306302020121001"
KEPALA_DISKOMINFO_NIP = "197811052005011001"
KABID_APTIKA_NIP = "198306172008012001"
PEGAWAI_NIP = "199602102022031001"

BUPATI = {
    "nip": BUPATI_NIP,
    "nama": "H. Syahrial Hakim, S.H., M.H.",
    "jabatan": "Bupati Batanghari",
    "unit": None,
}

# Roles that are appointments, not derivable from the directory.
SPECIAL_ROLES: dict[str, tuple[Role, ...]] = {
    BUPATI_NIP: (Role.BUPATI,),
    "199302122018021001": (Role.PENGELOLA_PENGADUAN,),  # Pranata Humas, Diskominfo (Bidang IKP): LAPOR! coordinator
    "199508022019082001": (Role.PENGELOLA_PENGADUAN,),  # Pranata Humas, Diskominfo (Bidang IKP): LAPOR! coordinator
    "199608242023082001": (Role.PENGHUBUNG_PENGADUAN,),  # Pengelola Kepegawaian, Diskominfo: complaint liaison
    "199407222024092001": (Role.PENGHUBUNG_PENGADUAN,),  # Analis Perizinan, DPMPTSP: complaint liaison
    SEKDA_NIP: (Role.TIM_PENILAI,),
    KEPALA_BKPSDMD_NIP: (Role.TIM_PENILAI,),
    AUDITOR_NIP: (Role.AUDITOR,),
    ADMIN_NIP: (Role.ADMIN,),
}

_FIXED: dict[str, dict[str, Any]] = {
    SEKDA_NIP: dict(
        nama="Hasanuddin, S.H., M.Si.", jabatan="Sekretaris Daerah Kabupaten Batanghari",
        jenis=JenisJabatan.JPT, golongan="IV/c", pendidikan="S2",
        tmt_golongan=date(2022, 4, 1), tmt_jabatan=date(2021, 6, 14),
        description="Sekda: top of the directory, chairs the Tim Penilai Kinerja",
    ),
    KEPALA_BKPSDMD_NIP: dict(
        nama="Nurhayati, S.Sos., M.M.",
        jabatan="Kepala Badan Kepegawaian dan Pengembangan Sumber Daya Manusia Daerah",
        jenis=JenisJabatan.JPT, golongan="IV/b", pendidikan="S2",
        tmt_golongan=date(2021, 10, 1), tmt_jabatan=date(2022, 1, 10),
        description="Head of BKPSDMD (regional HR agency), member of the Tim Penilai Kinerja",
    ),
    BKPSDM_STAFF_1_NIP: dict(
        nama="Siti Rahmawati, S.AP.", jabatan="Analis Kepegawaian Ahli Pertama",
        jenis=JenisJabatan.FUNGSIONAL, golongan="III/b", pendidikan="S1",
        tmt_golongan=date(2023, 4, 1), tmt_jabatan=date(2020, 6, 2),
        description="BKPSDMD staff (procurement and personnel information)",
    ),
    BKPSDM_STAFF_2_NIP: dict(
        nama="Rizky Pratama, S.Kom.", jabatan="Analis Kepegawaian Ahli Muda",
        jenis=JenisJabatan.FUNGSIONAL, golongan="III/c", pendidikan="S1",
        tmt_golongan=date(2019, 4, 1), tmt_jabatan=date(2021, 1, 4),
        description="BKPSDMD staff (transfers and promotions)",
    ),
    AUDITOR_NIP: dict(
        nama="Dewi Kartika, S.E., Ak.", jabatan="Auditor Ahli Muda",
        jenis=JenisJabatan.FUNGSIONAL, golongan="III/d", pendidikan="S1",
        tmt_golongan=date(2020, 10, 1), tmt_jabatan=date(2019, 7, 1),
        description="Auditor at the Inspektorat (read-only audit access)",
    ),
    ADMIN_NIP: dict(
        nama="Fajar Ramadhan, S.Kom.", jabatan="Pranata Komputer Ahli Pertama",
        jenis=JenisJabatan.FUNGSIONAL, golongan="III/a", pendidikan="S1",
        tmt_golongan=date(2020, 12, 1), tmt_jabatan=date(2022, 1, 3),
        description="System administrator (Diskominfo, statistics and encryption division)",
    ),
    KEPALA_DISKOMINFO_NIP: dict(
        nama="Ahmad Zulkifli, S.T., M.T.", jabatan="Kepala Dinas Komunikasi dan Informatika",
        jenis=JenisJabatan.JPT, golongan="IV/b", pendidikan="S2",
        tmt_golongan=date(2020, 4, 1), tmt_jabatan=date(2023, 2, 1),
        description="Head of an OPD (Diskominfo)",
    ),
    KABID_APTIKA_NIP: dict(
        nama="Rina Oktaviani, S.Kom., M.Kom.", jabatan="Kepala Bidang Aplikasi Informatika",
        jenis=JenisJabatan.ADMINISTRATOR, golongan="IV/a", pendidikan="S2",
        tmt_golongan=date(2021, 4, 1), tmt_jabatan=date(2022, 9, 1),
        description="Supervisor (Kepala Bidang at Diskominfo) with several staff; appraiser of the demo employee",
    ),
    PEGAWAI_NIP: dict(
        nama="Bayu Saputra, S.Kom.", jabatan="Pranata Komputer Ahli Pertama",
        jenis=JenisJabatan.FUNGSIONAL, golongan="III/a", pendidikan="S1",
        tmt_golongan=date(2022, 3, 1), tmt_jabatan=date(2023, 6, 1),
        description="Ordinary employee under the Kepala Bidang Aplikasi Informatika",
    ),
}

# grade -> (position type, education options, lowest golongan, highest golongan)
_GRADES: dict[str, tuple[JenisJabatan, tuple[str, ...], str, str]] = {
    "jpt": (JenisJabatan.JPT, ("S2",), "IV/b", "IV/c"),
    "administrator": (JenisJabatan.ADMINISTRATOR, ("S1", "S2"), "III/d", "IV/b"),
    "sekcam": (JenisJabatan.ADMINISTRATOR, ("S1",), "III/c", "III/d"),
    "pengawas": (JenisJabatan.PENGAWAS, ("S1", "S1", "S2"), "III/b", "III/d"),
    "pelaksana_sma": (JenisJabatan.PELAKSANA, ("SMA",), "II/a", "II/d"),
    "pelaksana_d3": (JenisJabatan.PELAKSANA, ("D-III",), "II/c", "III/a"),
    "pelaksana_s1": (JenisJabatan.PELAKSANA, ("S1",), "III/a", "III/b"),
    "ahli_pertama": (JenisJabatan.FUNGSIONAL, ("S1",), "III/a", "III/b"),
    "ahli_muda": (JenisJabatan.FUNGSIONAL, ("S1", "S2"), "III/c", "III/d"),
    "ahli_madya": (JenisJabatan.FUNGSIONAL, ("S2",), "IV/a", "IV/c"),
    "terampil": (JenisJabatan.FUNGSIONAL, ("D-III",), "II/c", "II/d"),
    "mahir": (JenisJabatan.FUNGSIONAL, ("D-III",), "III/a", "III/b"),
    "profesi_pertama": (JenisJabatan.FUNGSIONAL, ("PROFESI",), "III/b", "III/b"),
    "profesi_muda": (JenisJabatan.FUNGSIONAL, ("PROFESI",), "III/c", "III/d"),
}

_PELAKSANA: dict[str, str] = {
    "Pengadministrasi Umum": "pelaksana_sma",
    "Operator Layanan Operasional": "pelaksana_sma",
    "Pengemudi": "pelaksana_sma",
    "Pengelola Keuangan": "pelaksana_d3",
    "Bendahara": "pelaksana_d3",
    "Pengelola Data": "pelaksana_d3",
    "Pengelola Sistem dan Jaringan": "pelaksana_d3",
    "Pengelola Media Informasi": "pelaksana_d3",
    "Pengawas Jalan dan Jembatan": "pelaksana_d3",
    "Pengelola Kepegawaian": "pelaksana_s1",
    "Analis Perizinan": "pelaksana_s1",
    "Analis Kebencanaan": "pelaksana_s1",
    "Analis Data dan Informasi": "pelaksana_s1",
}


def _grade_of(title: str) -> str:
    if title in _PELAKSANA:
        return _PELAKSANA[title]
    profesi = title.startswith(("Dokter ", "Apoteker "))
    for suffix, grade in (
        ("Ahli Pertama", "ahli_pertama"),
        ("Ahli Muda", "ahli_muda"),
        ("Ahli Madya", "ahli_madya"),
        ("Terampil", "terampil"),
        ("Mahir", "mahir"),
    ):
        if title.endswith(suffix):
            if profesi:
                return "profesi_pertama" if grade == "ahli_pertama" else "profesi_muda"
            return grade
    if title.startswith(("Kepala Seksi", "Kepala Subbagian")):
        return "pengawas"
    if title.startswith("Sekretaris Kecamatan"):
        return "sekcam"
    if title.startswith(("Kepala Bagian", "Kepala Bidang", "Sekretaris", "Camat", "Inspektur Pembantu")):
        return "administrator"
    raise ValueError(f"no grade for {title!r}")


@dataclass(frozen=True)
class _Pos:
    """A position in a unit template: `n` holders, each heading `children`."""

    title: str
    children: tuple[_Pos, ...] = ()
    n: int = 1
    grade: str | None = None  # None: derived from the title
    fixed: str | None = None  # NIP of a named demo user holding this position


def _p(title: str, *children: _Pos, n: int = 1, grade: str | None = None) -> _Pos:
    return _Pos(title, tuple(children), n, grade)


def _f(nip: str, *children: _Pos) -> _Pos:
    return _Pos(_FIXED[nip]["jabatan"], tuple(children), 1, None, nip)


def _staff(*titles: str | tuple[str, int]) -> tuple[_Pos, ...]:
    return tuple(_p(t) if isinstance(t, str) else _p(t[0], n=t[1]) for t in titles)


def _sekretariat(title: str) -> _Pos:
    return _p(
        title,
        _p("Kepala Subbagian Umum dan Kepegawaian", *_staff("Pengadministrasi Umum", "Pengelola Kepegawaian")),
        _p("Kepala Subbagian Perencanaan dan Keuangan", *_staff("Pengelola Keuangan", "Bendahara")),
    )


def _templates() -> dict[str, _Pos]:
    """Head position of every unit (with its subtree)."""
    t: dict[str, _Pos] = {}
    t[SETDA] = _f(
        SEKDA_NIP,
        _p(
            "Asisten Pemerintahan dan Kesejahteraan Rakyat",
            _p("Kepala Bagian Tata Pemerintahan", *_staff("Analis Kebijakan Ahli Pertama", "Pengadministrasi Umum")),
            _p("Kepala Bagian Kesejahteraan Rakyat", *_staff("Analis Kebijakan Ahli Muda", "Pengadministrasi Umum")),
            _p("Kepala Bagian Hukum", *_staff(("Perancang Peraturan Perundang-undangan Ahli Pertama", 2), "Pengadministrasi Umum")),
            grade="jpt",
        ),
        _p(
            "Asisten Perekonomian dan Pembangunan",
            _p("Kepala Bagian Perekonomian dan Sumber Daya Alam", *_staff("Analis Kebijakan Ahli Pertama", "Pengelola Data")),
            _p("Kepala Bagian Administrasi Pembangunan", *_staff("Perencana Ahli Pertama", "Pengadministrasi Umum")),
            _p(
                "Kepala Bagian Pengadaan Barang dan Jasa",
                *_staff(("Pengelola Pengadaan Barang/Jasa Ahli Pertama", 2), "Pengelola Pengadaan Barang/Jasa Ahli Muda"),
            ),
            grade="jpt",
        ),
        _p(
            "Asisten Administrasi Umum",
            _p(
                "Kepala Bagian Umum",
                _p("Kepala Subbagian Tata Usaha Pimpinan", *_staff(("Pengadministrasi Umum", 2))),
                *_staff("Pengemudi"),
            ),
            _p("Kepala Bagian Organisasi", *_staff("Analis Kebijakan Ahli Pertama", "Analis Data dan Informasi")),
            _p("Kepala Bagian Protokol dan Komunikasi Pimpinan", *_staff("Pranata Humas Ahli Pertama", "Pengadministrasi Umum")),
            grade="jpt",
        ),
    )
    t["SETWAN"] = _p(
        "Sekretaris DPRD",
        _p(
            "Kepala Bagian Umum dan Keuangan",
            _p("Kepala Subbagian Keuangan", *_staff("Pengelola Keuangan")),
            *_staff(("Pengadministrasi Umum", 2)),
        ),
        _p("Kepala Bagian Persidangan dan Perundang-undangan", *_staff("Perancang Peraturan Perundang-undangan Ahli Pertama", "Pengadministrasi Umum")),
        _p("Kepala Bagian Fasilitasi Penganggaran dan Pengawasan", *_staff(("Analis Keuangan Pusat dan Daerah Ahli Pertama", 2))),
        grade="jpt",
    )
    t[BKPSDMD] = _f(
        KEPALA_BKPSDMD_NIP,
        _sekretariat("Sekretaris Badan Kepegawaian dan Pengembangan Sumber Daya Manusia Daerah"),
        _p(
            "Kepala Bidang Pengadaan, Pemberhentian dan Informasi Kepegawaian",
            _f(BKPSDM_STAFF_1_NIP),
            *_staff("Pranata Komputer Ahli Pertama", "Pengadministrasi Umum"),
        ),
        _p(
            "Kepala Bidang Mutasi dan Promosi",
            _f(BKPSDM_STAFF_2_NIP),
            *_staff(("Analis Kepegawaian Ahli Pertama", 2), "Pengadministrasi Umum"),
        ),
        _p("Kepala Bidang Pengembangan Sumber Daya Manusia", *_staff("Analis Kepegawaian Ahli Muda", "Analis Kepegawaian Ahli Pertama", "Pengelola Data")),
        _p("Kepala Bidang Penilaian Kinerja Aparatur dan Penghargaan", *_staff(("Analis Kepegawaian Ahli Pertama", 2), "Pengadministrasi Umum")),
    )
    t[DISKOMINFO] = _f(
        KEPALA_DISKOMINFO_NIP,
        _sekretariat("Sekretaris Dinas Komunikasi dan Informatika"),
        _f(
            KABID_APTIKA_NIP,
            _f(PEGAWAI_NIP),
            *_staff("Pranata Komputer Ahli Pertama", "Pranata Komputer Ahli Muda", "Pengelola Sistem dan Jaringan", "Pengadministrasi Umum"),
        ),
        _p("Kepala Bidang Informasi dan Komunikasi Publik", *_staff(("Pranata Humas Ahli Pertama", 2), "Pengelola Media Informasi")),
        _p("Kepala Bidang Statistik dan Persandian", _f(ADMIN_NIP), *_staff("Statistisi Ahli Pertama", "Sandiman Ahli Pertama")),
    )
    t["DPMPTSP"] = _p(
        UNITS_BY_CODE["DPMPTSP"].head_title,
        _sekretariat("Sekretaris Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu"),
        _p("Kepala Bidang Penanaman Modal", *_staff(("Penata Kelola Penanaman Modal Ahli Pertama", 2), "Pengadministrasi Umum")),
        _p("Kepala Bidang Pelayanan Perizinan", *_staff(("Analis Perizinan", 2), "Operator Layanan Operasional")),
        grade="jpt",
    )
    t["DISDIKBUD"] = _p(
        UNITS_BY_CODE["DISDIKBUD"].head_title,
        _sekretariat("Sekretaris Dinas Pendidikan dan Kebudayaan"),
        _p(
            "Kepala Bidang Pembinaan Sekolah Dasar",
            _p("Kepala Seksi Kurikulum Sekolah Dasar", *_staff("Pengadministrasi Umum")),
            *_staff(("Guru Ahli Pertama", 3), ("Guru Ahli Muda", 2)),
        ),
        _p(
            "Kepala Bidang Pembinaan Sekolah Menengah Pertama",
            *_staff(("Guru Ahli Pertama", 2), ("Guru Ahli Muda", 2), "Pengawas Sekolah Ahli Madya"),
        ),
        _p("Kepala Bidang Kebudayaan", *_staff(("Pamong Budaya Ahli Pertama", 2), "Pengadministrasi Umum")),
        grade="jpt",
    )
    t["DISPERKIM"] = _p(
        UNITS_BY_CODE["DISPERKIM"].head_title,
        _sekretariat("Sekretaris Dinas Perumahan dan Kawasan Permukiman"),
        _p("Kepala Bidang Perumahan", *_staff(("Teknik Tata Bangunan dan Perumahan Ahli Pertama", 2))),
        _p("Kepala Bidang Kawasan Permukiman", *_staff("Teknik Tata Bangunan dan Perumahan Ahli Muda", "Pengelola Data")),
        grade="jpt",
    )
    t["DPUTR"] = _p(
        UNITS_BY_CODE["DPUTR"].head_title,
        _sekretariat("Sekretaris Dinas Pekerjaan Umum dan Tata Ruang"),
        _p(
            "Kepala Bidang Bina Marga",
            *_staff(("Teknik Jalan dan Jembatan Ahli Pertama", 2), "Teknik Jalan dan Jembatan Ahli Muda", "Pengawas Jalan dan Jembatan"),
        ),
        _p("Kepala Bidang Sumber Daya Air", *_staff(("Teknik Pengairan Ahli Pertama", 2))),
        _p("Kepala Bidang Tata Ruang", *_staff(("Penata Ruang Ahli Pertama", 2))),
        grade="jpt",
    )
    t["BPBD"] = _p(
        UNITS_BY_CODE["BPBD"].head_title,
        _sekretariat("Sekretaris Badan Penanggulangan Bencana Daerah"),
        _p("Kepala Bidang Pencegahan dan Kesiapsiagaan", *_staff("Analis Kebencanaan", "Pengadministrasi Umum")),
        _p("Kepala Bidang Kedaruratan dan Logistik", *_staff(("Operator Layanan Operasional", 2))),
        _p("Kepala Bidang Rehabilitasi dan Rekonstruksi", *_staff("Analis Kebencanaan")),
        grade="jpt",
    )
    t["RSUD-HAMBA"] = _p(
        UNITS_BY_CODE["RSUD-HAMBA"].head_title,
        _p(
            "Kepala Bagian Tata Usaha",
            _p("Kepala Subbagian Umum dan Kepegawaian", *_staff(("Pengadministrasi Umum", 2))),
            _p("Kepala Subbagian Keuangan", *_staff("Pengelola Keuangan", "Bendahara")),
        ),
        _p("Kepala Bidang Pelayanan Medik", *_staff(("Dokter Ahli Pertama", 3), ("Dokter Ahli Muda", 2), "Apoteker Ahli Pertama")),
        _p(
            "Kepala Bidang Keperawatan",
            _p("Kepala Seksi Asuhan Keperawatan", *_staff(("Perawat Ahli Pertama", 3), ("Perawat Terampil", 3), ("Perawat Mahir", 2))),
            *_staff(("Bidan Terampil", 2), ("Perawat Ahli Muda", 2)),
        ),
        _p(
            "Kepala Bidang Penunjang Medik",
            *_staff(("Pranata Laboratorium Kesehatan Terampil", 2), "Radiografer Terampil", "Nutrisionis Ahli Pertama"),
        ),
        grade="jpt",
    )
    t[INSPEKTORAT] = _p(
        UNITS_BY_CODE[INSPEKTORAT].head_title,
        _p("Sekretaris Inspektorat", _p("Kepala Subbagian Umum dan Keuangan", *_staff(("Pengadministrasi Umum", 2)))),
        _p(
            "Inspektur Pembantu Wilayah I",
            _f(AUDITOR_NIP),
            *_staff(("Auditor Ahli Pertama", 2), "Pengawas Penyelenggaraan Urusan Pemerintahan Daerah Ahli Pertama"),
        ),
        _p("Inspektur Pembantu Wilayah II", *_staff("Auditor Ahli Muda", ("Auditor Ahli Pertama", 2))),
        _p("Inspektur Pembantu Wilayah III", *_staff("Auditor Ahli Pertama", "Pengawas Penyelenggaraan Urusan Pemerintahan Daerah Ahli Muda")),
        grade="jpt",
    )
    for unit in UNITS:
        if unit.kind is UnitKind.KECAMATAN:
            kec = unit.name.removeprefix("Kecamatan ")
            t[unit.code] = _p(
                unit.head_title,
                _p(f"Sekretaris Kecamatan {kec}", _p("Kepala Subbagian Umum dan Kepegawaian", *_staff("Pengadministrasi Umum"))),
                _p("Kepala Seksi Pemerintahan", *_staff("Pengadministrasi Umum")),
                _p("Kepala Seksi Ketenteraman dan Ketertiban Umum"),
                _p("Kepala Seksi Pemberdayaan Masyarakat Desa", *_staff("Pengelola Data")),
            )
    return t


_MALE = (
    "Ahmad", "Muhammad", "Rudi", "Hendra", "Agus", "Budi", "Dedi", "Eko", "Fauzan", "Hafiz", "Irwan", "Joko",
    "Rizal", "Syahrul", "Taufik", "Wahyu", "Yudi", "Zulkarnain", "Arif", "Bambang", "Doni", "Firdaus", "Herman",
    "Darwis", "Syamsuddin", "Rahmat", "Ilham", "Andi", "Reza", "Hasbi", "Yusuf", "Anwar",
)
_MALE_LAST = (
    "Hidayat", "Saputra", "Pratama", "Kurniawan", "Rahman", "Hakim", "Syahputra", "Firmansyah", "Nugroho",
    "Setiawan", "Ramadhan", "Effendi", "Iskandar", "Siregar", "Harahap", "Gunawan", "Hamzah", "Fadli",
)
_FEMALE = (
    "Siti", "Nur", "Dewi", "Rina", "Yuni", "Sri", "Fitri", "Indah", "Maya", "Novi", "Putri", "Ratna", "Wulan",
    "Yulia", "Ayu", "Desi", "Eka", "Heni", "Lina", "Mega", "Nurul", "Rahma", "Suci", "Tuti", "Vivi", "Zahra",
)
_FEMALE_LAST = (
    "Fitriani", "Handayani", "Sari", "Lestari", "Wati", "Yanti", "Anggraini", "Susanti", "Rahmawati", "Maharani",
    "Puspita", "Oktaviani", "Permatasari", "Wulandari", "Novitasari", "Amelia", "Safitri", "Hasanah",
)
_S1_BY_KEYWORD = (
    (("Guru", "Pengawas Sekolah", "Pamong Budaya"), ("S.Pd.",)),
    (("Pranata Komputer", "Statistisi", "Sandiman"), ("S.Kom.", "S.Si.")),
    (("Teknik", "Penata Ruang"), ("S.T.",)),
    (("Perawat",), ("S.Kep., Ners",)),
    (("Auditor", "Keuangan", "Pengadaan"), ("S.E.", "S.Ak.")),
    (("Perancang", "Hukum"), ("S.H.",)),
    (("Nutrisionis",), ("S.Gz.",)),
    (("Kepegawaian",), ("S.AP.", "S.Psi.")),
)
_S1_DEFAULT = ("S.E.", "S.Sos.", "S.H.", "S.AP.", "S.IP.", "S.Kom.", "S.T.")
_S2 = ("M.Si.", "M.M.", "M.AP.", "M.H.")
_MIN_AGE_AT_ENTRY = {"SMA": 19, "D-III": 21, "S1": 23, "S2": 25, "PROFESI": 25}


def _nama(rng: random.Random, sex: str, pendidikan: str, title: str) -> str:
    first, last = (_MALE, _MALE_LAST) if sex == "L" else (_FEMALE, _FEMALE_LAST)
    name = f"{rng.choice(first)} {rng.choice(last)}"
    s1 = next((g for keys, g in _S1_BY_KEYWORD if any(k in title for k in keys)), _S1_DEFAULT)
    if pendidikan == "SMA":
        return name
    if pendidikan == "D-III":
        return f"{name}, " + ("A.Md.Keb." if "Bidan" in title else "A.Md.Kep." if "Perawat" in title else "A.Md.")
    if pendidikan == "PROFESI":
        return f"{name}, S.Farm., Apt." if "Apoteker" in title else f"dr. {name}"
    if pendidikan == "S1":
        return f"{name}, {rng.choice(s1)}"
    return f"{name}, {rng.choice(s1)}, {rng.choice(_S2)}"


@dataclass
class _Builder:
    rng: random.Random
    records: list[EmployeeRecord] = field(default_factory=list)
    serials: Counter[str] = field(default_factory=Counter)  # first 15 NIP digits -> highest serial used

    def reserve(self, nip: str) -> None:
        self.serials[nip[:15]] = max(self.serials[nip[:15]], int(nip[15:]))

    def fixed(self, nip: str, unit: str, atasan: str | None) -> EmployeeRecord:
        f, parsed = _FIXED[nip], parse_nip(nip)
        return EmployeeRecord(
            nip=nip, nama=f["nama"], jenis_kelamin=parsed.sex, tanggal_lahir=parsed.birth_date,
            golongan=f["golongan"], jabatan=f["jabatan"], jenis_jabatan=f["jenis"], unit=unit,
            atasan_nip=atasan, pendidikan=f["pendidikan"], tmt_golongan=f["tmt_golongan"], tmt_jabatan=f["tmt_jabatan"],
        )

    def generated(self, title: str, grade: str, unit: str, atasan: str | None) -> EmployeeRecord:
        rng = self.rng
        jenis, educations, low, high = _GRADES[grade]
        pendidikan = rng.choice(educations)
        entry = entry_golongan(pendidikan)
        options = [g for g in golongan_range(low, high) if g >= entry] or [entry]
        gol = rng.choice(options)
        steps = gol.steps_above(entry)
        service = max(1, 4 * steps + rng.randint(0, 4))  # a regular promotion every 4 years
        min_age = _MIN_AGE_AT_ENTRY[pendidikan]
        cap = RETIREMENT_AGE.get(jenis, DEFAULT_RETIREMENT_AGE) - 1
        age_at_entry = min(rng.randint(min_age, min_age + 8), max(min_age, cap - service))
        tmt_year = REFERENCE_DATE.year - service
        tmt_cpns = date(tmt_year, rng.randint(1, 12), 1)
        birth = date(tmt_year - age_at_entry, rng.randint(1, 12), rng.randint(1, 28))
        sex = "P" if "Bidan" in title else rng.choice("LP")
        if steps == 0:
            tmt_golongan = tmt_cpns
        else:
            tmt_golongan = date(rng.randint(min(2025, tmt_year + 4 * steps), 2025), rng.choice((4, 10)), 1)
        tmt_jabatan = max(tmt_cpns, date(rng.randint(min(2025, tmt_year + 1), 2025), rng.randint(1, 12), rng.randint(1, 28)))
        prefix = f"{birth:%Y%m%d}{tmt_cpns:%Y%m}{'1' if sex == 'L' else '2'}"
        self.serials[prefix] += 1
        nip = make_nip(birth, tmt_cpns, sex, self.serials[prefix])
        return EmployeeRecord(
            nip=nip, nama=_nama(rng, sex, pendidikan, title), jenis_kelamin=sex, tanggal_lahir=birth,
            golongan=gol.code, jabatan=title, jenis_jabatan=jenis, unit=unit, atasan_nip=atasan,
            pendidikan=pendidikan, tmt_golongan=tmt_golongan, tmt_jabatan=tmt_jabatan,
        )

    def place(self, pos: _Pos, unit: str, atasan: str | None) -> None:
        for _ in range(pos.n):
            if pos.fixed:
                rec = self.fixed(pos.fixed, unit, atasan)
            else:
                rec = self.generated(pos.title, pos.grade or _grade_of(pos.title), unit, atasan)
            self.records.append(rec)
            for child in pos.children:
                self.place(child, unit, rec.nip)


@lru_cache(maxsize=1)
def _build() -> tuple[EmployeeRecord, ...]:
    builder = _Builder(random.Random(SEED))
    for nip in (*_FIXED, BUPATI_NIP):
        builder.reserve(nip)
    templates = _templates()
    builder.place(templates[SETDA], SETDA, None)
    for unit in UNITS:
        if unit.code != SETDA:
            builder.place(templates[unit.code], unit.code, SEKDA_NIP)
    return tuple(_with_personal_data(builder.records))


def _with_personal_data(records: list[EmployeeRecord]) -> list[EmployeeRecord]:
    """NIK, e-mail and phone for each demo employee, derived from the NIP (the shared rng stays untouched)."""
    out, serials = [], Counter[str]()
    for r in records:
        digest = hashlib.sha256(r.nip.encode()).hexdigest()
        region = BATANGHARI + BATANGHARI_DISTRICTS[int(digest[:2], 16) % len(BATANGHARI_DISTRICTS)]
        key = f"{region}{r.tanggal_lahir}{r.jenis_kelamin}"
        serials[key] += 1
        first = re.sub(r"[^a-z]", "", r.nama.split(",")[0].split()[0].lower()) or "pegawai"
        out.append(dataclasses.replace(
            r,
            nik=make_nik(region, r.tanggal_lahir, r.jenis_kelamin, serials[key]),
            email=f"{first}.{r.nip[-6:]}@batangharikab.go.id",
            telepon="+628" + str(int(digest[2:14], 16))[:10].rjust(10, "1"),
        ))
    return out


def demo_employees() -> list[EmployeeRecord]:
    """The whole demo directory (deterministic; the Bupati is not included)."""
    return list(_build())


def demo_csv() -> str:
    """The demo directory in the CSV import format."""
    return to_csv(_build())


@lru_cache(maxsize=1)
def _roles() -> dict[str, tuple[Role, ...]]:
    derived = derive_roles(_build())
    result: dict[str, tuple[Role, ...]] = {}
    for nip in (*derived, *SPECIAL_ROLES):
        have = set(derived.get(nip, ())) | set(SPECIAL_ROLES.get(nip, ()))
        result[nip] = tuple(r for r in Role if r in have)
    return result


def roles_for(nip: str) -> list[str]:
    """Roles of a demo employee (derived from the directory plus appointments); [] for unknown NIPs."""
    return [r.value for r in _roles().get(nip, ())]


def demo_users() -> list[dict[str, Any]]:
    """The named demo users with fixed NIPs: nip, nama, roles, unit, jabatan, description."""
    by_nip = {r.nip: r for r in _build()}
    users: list[dict[str, Any]] = [
        {
            **BUPATI,
            "roles": roles_for(BUPATI_NIP),
            "description": "Bupati as PPK (signs decrees); the NIP is a stand-in, a Bupati has none",
        }
    ]
    for nip, f in _FIXED.items():
        rec = by_nip[nip]
        users.append(
            {
                "nip": nip,
                "nama": rec.nama,
                "jabatan": rec.jabatan,
                "unit": rec.unit,
                "roles": roles_for(nip),
                "description": f["description"],
            }
        )
    return users


def demo_person(nip: str) -> dict[str, Any] | None:
    """Any demo person (employee or the Bupati, or of the second regency) as {nip, nama, roles, unit, tenant}, for dev tokens."""
    from asnflow.runtime import demo_muarojambi

    other = next((u for u in demo_muarojambi.users() if u["nip"] == nip), None)
    if other is not None:
        return {k: other[k] for k in ("nip", "nama", "roles", "unit", "tenant")}
    user = next((u for u in demo_users() if u["nip"] == nip), None)
    if user is not None:
        return {**{k: user[k] for k in ("nip", "nama", "roles", "unit")}, "tenant": None}
    record = next((e for e in demo_employees() if e.nip == nip), None)
    if record is None:
        return None
    return {"nip": record.nip, "nama": record.nama, "roles": roles_for(nip), "unit": record.unit, "tenant": None}
