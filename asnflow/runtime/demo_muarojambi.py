"""A second, small demo regency (Kabupaten Muaro Jambi, tenant `muarojambi`) that proves tenancy.

All people are fictional. Its unit codes carry an `MJ-` prefix: the evaluation's unit calibration
still looks units up by code alone (see docs/SCALING.md, "Tenancy"), so two tenants must not share one.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

from asnflow.domain.directory import EmployeeRecord, derive_roles
from asnflow.domain.organisation import JenisJabatan, Role

TENANT = "muarojambi"
NAME = "Kabupaten Muaro Jambi"
SETDA, BKPSDMD, DISKOMINFO, INSPEKTORAT = "MJ-SETDA", "MJ-BKPSDMD", "MJ-DISKOMINFO", "MJ-INSPEKTORAT"

SEKDA_NIP = "197105122000031002"
KEPALA_BKPSDMD_NIP = "197608152003122002"
KEPALA_DISKOMINFO_NIP = "197902202006041003"
KABID_NIP = "198407112009012004"
PEGAWAI_NIP = "199503032021031005"
PEGAWAI_2_NIP = "199701172022032006"
AUDITOR_NIP = "198603252010011007"
ADMIN_NIP = "199208092019031008"

# nip: (nama, sex, birth, jabatan, jenis, golongan, unit, atasan, description)
_PEOPLE: tuple[tuple[str, str, str, date, str, JenisJabatan, str, str, str | None, str], ...] = (
    (SEKDA_NIP, "Ahmad Fauzi, S.H., M.H.", "L", date(1971, 5, 12), "Sekretaris Daerah Kabupaten Muaro Jambi",
     JenisJabatan.JPT, "IV/c", SETDA, None, "Sekda Muaro Jambi: top of its directory"),
    (KEPALA_BKPSDMD_NIP, "Siti Rahmah, S.Sos., M.M.", "P", date(1976, 8, 15), "Kepala BKPSDMD Muaro Jambi",
     JenisJabatan.JPT, "IV/b", BKPSDMD, SEKDA_NIP, "Head of Muaro Jambi's HR agency (BKPSDM)"),
    (KEPALA_DISKOMINFO_NIP, "Rudi Hartono, S.Kom., M.T.", "L", date(1979, 2, 20), "Kepala Dinas Kominfo Muaro Jambi",
     JenisJabatan.JPT, "IV/b", DISKOMINFO, SEKDA_NIP, "Head of an OPD (KEPALA_OPD)"),
    (KABID_NIP, "Dewi Lestari, S.T.", "P", date(1984, 7, 11), "Kepala Bidang Aplikasi Informatika",
     JenisJabatan.ADMINISTRATOR, "III/d", DISKOMINFO, KEPALA_DISKOMINFO_NIP, "Supervisor (ATASAN) of two employees"),
    (PEGAWAI_NIP, "Fajar Nugroho, S.Kom.", "L", date(1995, 3, 3), "Pranata Komputer Ahli Pertama",
     JenisJabatan.FUNGSIONAL, "III/a", DISKOMINFO, KABID_NIP, "Employee (PEGAWAI) of Muaro Jambi"),
    (PEGAWAI_2_NIP, "Intan Permata, S.I.Kom.", "P", date(1997, 1, 17), "Pranata Humas Ahli Pertama",
     JenisJabatan.FUNGSIONAL, "III/a", DISKOMINFO, KABID_NIP, "Employee (PEGAWAI) of Muaro Jambi"),
    (AUDITOR_NIP, "Hendra Wijaya, S.E., Ak.", "L", date(1986, 3, 25), "Auditor Ahli Muda, Inspektorat",
     JenisJabatan.FUNGSIONAL, "III/c", INSPEKTORAT, SEKDA_NIP, "AUDITOR of Muaro Jambi only"),
    (ADMIN_NIP, "Yusuf Maulana, S.Kom.", "L", date(1992, 8, 9), "Pranata Komputer Ahli Muda",
     JenisJabatan.FUNGSIONAL, "III/b", DISKOMINFO, KABID_NIP, "ADMIN of Muaro Jambi's system"),
)
SPECIAL_ROLES = {SEKDA_NIP: (Role.TIM_PENILAI,), AUDITOR_NIP: (Role.AUDITOR,), ADMIN_NIP: (Role.ADMIN,)}


@lru_cache(maxsize=1)
def employees() -> tuple[EmployeeRecord, ...]:
    """The Muaro Jambi demo directory."""
    return tuple(
        EmployeeRecord(
            nip=nip, nama=nama, jenis_kelamin=sex, tanggal_lahir=born, golongan=gol, jabatan=jabatan, jenis_jabatan=jenis,
            unit=unit, atasan_nip=atasan, pendidikan="S1", tmt_golongan=date(2024, 4, 1), tmt_jabatan=date(2024, 1, 2),
        )
        for nip, nama, sex, born, jabatan, jenis, gol, unit, atasan, _ in _PEOPLE
    )


@lru_cache(maxsize=1)
def _roles() -> dict[str, list[str]]:
    derived = derive_roles(employees(), sekda_unit=SETDA, hr_unit=BKPSDMD)
    return {
        nip: [r.value for r in Role if r in set(derived.get(nip, ())) | set(SPECIAL_ROLES.get(nip, ()))] for nip in derived
    }


def rows() -> list[dict[str, Any]]:
    """The directory as import rows (record plus roles)."""
    return [{**r.to_dict(), "roles": _roles()[r.nip]} for r in employees()]


def users() -> list[dict[str, Any]]:
    """Every Muaro Jambi demo person as a demo user (all of them are named)."""
    return [
        {"nip": nip, "nama": nama, "jabatan": jabatan, "unit": unit, "roles": _roles()[nip], "description": desc, "tenant": TENANT}
        for nip, nama, _, _, jabatan, _, _, unit, _, desc in _PEOPLE
    ]
