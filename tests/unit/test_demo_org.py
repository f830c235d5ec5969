from collections import Counter

from asnflow.domain.directory import parse_employee_csv
from asnflow.domain.nip import check_nip_against, parse_nip
from asnflow.domain.organisation import (
    FUNGSIONAL_GOLONGAN,
    SETDA,
    UNITS,
    JenisJabatan,
    entry_golongan,
    parse_golongan,
    unit_codes,
)
from asnflow.runtime import demo_org
from asnflow.runtime.demo_org import demo_csv, demo_employees, demo_users, roles_for

# Documentation cites these; changing one is a breaking change.
NAMED = {
    "197001011990011001": ["BUPATI"],
    "197203152000031001": ["PEGAWAI", "ATASAN", "KEPALA_OPD", "TIM_PENILAI", "SEKDA"],
    "197507202002122001": ["PEGAWAI", "ATASAN", "KEPALA_OPD", "BKPSDM", "TIM_PENILAI"],
    "199104122019032001": ["PEGAWAI", "BKPSDM"],
    "198808082010011001": ["PEGAWAI", "BKPSDM"],
    "198502142009022001": ["PEGAWAI", "AUDITOR"],
    "199306302020121001": ["PEGAWAI", "ADMIN"],
    "197811052005011001": ["PEGAWAI", "ATASAN", "KEPALA_OPD"],
    "198306172008012001": ["PEGAWAI", "ATASAN"],
    "199602102022031001": ["PEGAWAI"],
}


def test_deterministic():
    first = demo_employees()
    assert first == demo_employees()
    assert tuple(first) == demo_org._build.__wrapped__()  # a fresh build, bypassing the cache
    assert demo_csv() == demo_csv()


def test_size_and_units():
    employees = demo_employees()
    assert 280 <= len(employees) <= 330
    per_unit = Counter(e.unit for e in employees)
    assert set(per_unit) == {u.code for u in UNITS}
    assert all(n >= 5 for n in per_unit.values())


def test_nips_unique_valid_and_consistent():
    employees = demo_employees()
    nips = [e.nip for e in employees]
    assert len(set(nips)) == len(nips)
    for e in employees:
        nip = parse_nip(e.nip)
        assert check_nip_against(nip, e.tanggal_lahir, e.jenis_kelamin, e.tmt_golongan) == [], e
        assert e.tmt_jabatan >= nip.tmt_cpns
        assert e.tmt_golongan >= nip.tmt_cpns
    assert demo_org.BUPATI_NIP not in set(nips)
    parse_nip(demo_org.BUPATI_NIP)


def test_supervision_tree():
    employees = demo_employees()
    by_nip = {e.nip: e for e in employees}
    tops = [e for e in employees if e.atasan_nip is None]
    assert [t.nip for t in tops] == [demo_org.SEKDA_NIP]
    assert tops[0].unit == SETDA and tops[0].jenis_jabatan is JenisJabatan.JPT
    for e in employees:
        if e.atasan_nip is not None:
            assert e.atasan_nip in by_nip
            assert e.atasan_nip != e.nip
        seen, node = set(), e
        while node.atasan_nip is not None:  # no cycles: every chain ends at the Sekda
            assert node.nip not in seen
            seen.add(node.nip)
            node = by_nip[node.atasan_nip]
        assert node.nip == demo_org.SEKDA_NIP
    # Each unit's head reports to the Sekda; everyone else to someone in the same unit.
    for e in employees:
        boss = by_nip.get(e.atasan_nip) if e.atasan_nip else None
        if boss is not None and boss.unit != e.unit:
            assert boss.nip == demo_org.SEKDA_NIP
    heads = [e for e in employees if e.atasan_nip == demo_org.SEKDA_NIP and e.unit != SETDA]
    assert len(heads) == len(UNITS) - 1
    assert {h.jabatan for h in heads if h.unit.startswith("KEC-")} == {
        f"Camat {u.name.removeprefix('Kecamatan ')}" for u in UNITS if u.code.startswith("KEC-")
    }


def test_golongan_consistent_with_position_and_education():
    ranges = FUNGSIONAL_GOLONGAN["PermenPANRB-1/2023"]
    reference = demo_org.REFERENCE_DATE
    for e in demo_employees():
        gol = parse_golongan(e.golongan)
        assert gol >= entry_golongan(e.pendidikan), e
        if e.jenis_jabatan is JenisJabatan.JPT:
            assert gol >= parse_golongan("IV/a")
        if e.jenis_jabatan is JenisJabatan.ADMINISTRATOR:
            assert parse_golongan("III/c") <= gol <= parse_golongan("IV/b")
        if e.jenis_jabatan is JenisJabatan.FUNGSIONAL:
            level = next(k for k in ranges if e.jabatan.endswith(k))
            low, high = ranges[level]
            assert parse_golongan(low) <= gol <= parse_golongan(high), e
        age = (reference - e.tanggal_lahir).days / 365.25
        assert 19 <= age < 60, e
        assert e.tmt_golongan <= reference and e.tmt_jabatan <= reference


def test_demo_csv_is_accepted_by_the_importer():
    records = parse_employee_csv(demo_csv(), known_units=unit_codes())
    assert records == demo_employees()


def test_demo_users_have_fixed_nips_and_roles():
    users = demo_users()
    assert {u["nip"]: u["roles"] for u in users} == NAMED
    for u in users:
        assert set(u) >= {"nip", "nama", "roles", "unit", "description"}
        assert roles_for(u["nip"]) == u["roles"]
        parse_nip(u["nip"])
    by_nip = {u["nip"]: u for u in users}
    assert by_nip[demo_org.AUDITOR_NIP]["unit"] == "INSPEKTORAT"
    assert by_nip[demo_org.KEPALA_DISKOMINFO_NIP]["unit"] == "DISKOMINFO"
    assert by_nip[demo_org.BUPATI_NIP]["unit"] is None


def test_named_supervisor_and_employee():
    employees = demo_employees()
    staff = [e for e in employees if e.atasan_nip == demo_org.KABID_APTIKA_NIP]
    assert len(staff) >= 3
    assert demo_org.PEGAWAI_NIP in {e.nip for e in staff}
    kabid = next(e for e in employees if e.nip == demo_org.KABID_APTIKA_NIP)
    assert kabid.atasan_nip == demo_org.KEPALA_DISKOMINFO_NIP
    assert kabid.jabatan.startswith("Kepala Bidang")


def test_roles_for_any_employee():
    assert roles_for("000000000000000000") == []
    counts = Counter(r for e in demo_employees() for r in roles_for(e.nip))
    assert counts["PEGAWAI"] == len(demo_employees())
    assert counts["SEKDA"] == 1
    assert counts["KEPALA_OPD"] == len(UNITS)
    assert counts["AUDITOR"] == 1 and counts["ADMIN"] == 1 and counts["TIM_PENILAI"] == 2
    assert counts["BKPSDM"] == sum(1 for e in demo_employees() if e.unit == "BKPSDMD")
    assert counts["BUPATI"] == 0
