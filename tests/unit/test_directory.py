import json
from datetime import date

import pytest

from asnflow.domain.directory import (
    CSV_COLUMNS,
    DirectoryImportError,
    EmployeeRecord,
    derive_roles,
    parse_employee_csv,
    to_csv,
)
from asnflow.domain.organisation import (
    ALL_GOLONGAN,
    KECAMATAN,
    UNITS,
    InvalidGolongan,
    JenisJabatan,
    Role,
    entry_golongan,
    get_unit,
    parse_golongan,
    unit_codes,
)

HEADER = ",".join(CSV_COLUMNS)
KEPALA = "197811052005011001"
KABID = "198306172008012001"
STAFF = "199602102022031001"
PPPK = "199105252023211031"


def row(nip, nama="Budi Santoso", jk="L", lahir="1978-11-05", gol="IV/b", jabatan="Kepala Dinas Komunikasi dan Informatika",
        jenis="JPT", unit="DISKOMINFO", atasan="", pendidikan="S2", tmt_gol="2020-04-01", tmt_jab="2023-02-01"):
    return ",".join([nip, nama, jk, lahir, gol, jabatan, jenis, unit, atasan, pendidikan, tmt_gol, tmt_jab])


def good_rows():
    return [
        row(KEPALA),
        row("19830617 200801 2 001", nama='"Rina Oktaviani, S.Kom."', jk="P", lahir="1983-06-17", gol="IV/a",
            jabatan="Kepala Bidang Aplikasi Informatika", jenis="administrator", atasan=KEPALA, tmt_gol="2021-04-01", tmt_jab="2022-09-01"),
        row(STAFF, nama="Bayu Saputra", lahir="1996-02-10", gol="III/a", jabatan="Pranata Komputer Ahli Pertama", jenis="FUNGSIONAL",
            atasan=KABID, pendidikan="S-1", tmt_gol="2022-03-01", tmt_jab="2023-06-01"),
        row(PPPK, nama="Andi Wijaya", lahir="1991-05-25", gol="", jabatan="Guru Ahli Pertama", jenis="FUNGSIONAL",
            atasan=KABID, pendidikan="S1", tmt_gol="", tmt_jab="2024-03-01"),
    ]


def csv_text(rows, header=HEADER):
    return "\n".join([header, *rows]) + "\n"


def problems_of(text, **kw):
    with pytest.raises(DirectoryImportError) as exc:
        parse_employee_csv(text, **kw)
    err = exc.value
    assert err.message_id and err.message_en
    for p in err.problems:
        assert p.message_id and p.message_en and p.message_id != p.message_en
    return err.problems


def test_accepts_a_good_file():
    records = parse_employee_csv(csv_text(good_rows()), known_units=unit_codes())
    assert [r.nip for r in records] == [KEPALA, KABID, STAFF, PPPK]
    kabid = records[1]
    assert kabid.nama == "Rina Oktaviani, S.Kom."
    assert kabid.jenis_jabatan is JenisJabatan.ADMINISTRATOR
    assert kabid.tanggal_lahir == date(1983, 6, 17)
    assert kabid.atasan_nip == KEPALA
    assert records[0].atasan_nip is None
    assert records[2].pendidikan == "S1"
    assert records[3].is_pppk and records[3].golongan is None and records[3].tmt_golongan is None
    assert records[2].golongan_value == parse_golongan("III/a")


def test_record_dict_round_trip_is_json_safe():
    records = parse_employee_csv(csv_text(good_rows()))
    for r in records:
        d = r.to_dict()
        assert json.loads(json.dumps(d)) == d
        assert EmployeeRecord.from_dict(d) == r
    assert parse_employee_csv(to_csv(records)) == records


def test_header_order_is_free_bom_and_blank_lines_are_ignored():
    cols = list(reversed(CSV_COLUMNS))
    rows = []
    for line in [row(KEPALA)]:
        values = dict(zip(CSV_COLUMNS, line.split(",")))
        rows.append(",".join(values[c] for c in cols))
    text = "\ufeff" + ",".join(c.upper() for c in cols) + "\n\n" + rows[0] + "\n\n"
    assert [r.nip for r in parse_employee_csv(text)] == [KEPALA]


def test_header_problems_are_on_line_1():
    problems = problems_of(csv_text(good_rows(), header=HEADER.replace(",tmt_jabatan", ",catatan")))
    assert {(p.line, p.field) for p in problems} == {(1, "")}
    assert any("tmt_jabatan" in p.message_en for p in problems)
    assert any("catatan" in p.message_en for p in problems)
    problems = problems_of(csv_text(good_rows(), header=HEADER + ",nip"))
    assert (1, "nip") in {(p.line, p.field) for p in problems}
    assert problems_of("")[0].line == 1


def test_whole_file_rejected_with_line_numbers():
    rows = [
        row(KEPALA),                                                         # line 2: good
        row("197811052005013001"),                                           # line 3: sex digit 3
        row("198306172008012001", jk="P", lahir="1983-06-18", gol="IV/a", jenis="ADMINISTRATOR", atasan=KEPALA),  # 4: birth mismatch
        row(KEPALA, atasan=KABID),                                           # line 5: duplicate of line 2
        row(STAFF, lahir="1996-02-10", gol="III/a", jenis="FUNGSIONAL", atasan="198001012005011001", pendidikan="S1",
            tmt_gol="2022-03-01"),                                            # line 6: unknown atasan
        row("199001012015011001", lahir="1990-01-01", gol="III/a", unit="DINAS-X", atasan=KEPALA, pendidikan="S1",
            tmt_gol="2015-01-01", tmt_jab="2016-01-01"),                      # line 7: unknown unit
        row("199001012015012001", jk="P", lahir="1990-01-01", gol="I/e", atasan=KEPALA, pendidikan="S1",
            tmt_gol="2015-01-01", tmt_jab="2016-01-01"),                      # line 8: golongan I/e
        row("199001012015012002", jk="P", lahir="1990-01-01", gol="III/a", atasan=KEPALA, pendidikan="S1",
            tmt_gol="2015-01-01", tmt_jab="2016-02-30"),                      # line 9: invalid date
        row("199001012015012003", jk="X", lahir="1990-01-01", gol="III/a", jenis="ESELON", atasan=KEPALA, pendidikan="SMU",
            tmt_gol="2014-12-01", tmt_jab="2016-01-01", nama=""),             # line 10: several
        "1,2,3",                                                             # line 11: wrong column count
    ]
    problems = problems_of(csv_text(rows), known_units=unit_codes())
    assert {(p.line, p.field) for p in problems} == {
        (3, "nip"),
        (4, "tanggal_lahir"),
        (5, "nip"),
        (6, "atasan_nip"),
        (7, "unit"),
        (8, "golongan"),
        (9, "tmt_jabatan"),
        (10, "nama"),
        (10, "jenis_kelamin"),
        (10, "jenis_jabatan"),
        (10, "pendidikan"),
        (10, "tmt_golongan"),
        (11, ""),
    }
    dup = next(p for p in problems if p.line == 5)
    assert "line 2" in dup.message_en and "baris 2" in dup.message_id
    assert [p.line for p in problems] == sorted(p.line for p in problems)
    assert all(isinstance(p, tuple) and len(p) == 4 for p in problems)


def test_unknown_units_pass_without_known_units():
    rows = [row(KEPALA, unit="DINAS-X")]
    assert parse_employee_csv(csv_text(rows))[0].unit == "DINAS-X"
    problems_of(csv_text(rows), known_units=unit_codes())


def test_line_numbers_count_physical_lines_of_quoted_fields():
    rows = [
        row(KEPALA, jabatan='"Kepala Dinas\nKomunikasi dan Informatika"'),  # lines 2-3
        row(STAFF, lahir="1996-02-11", gol="III/a", atasan=KEPALA, pendidikan="S1", tmt_gol="2022-03-01"),  # line 4
    ]
    problems = problems_of(csv_text(rows))
    assert {(p.line, p.field) for p in problems} == {(4, "tanggal_lahir")}


def test_tmt_golongan_before_tmt_cpns_and_missing_golongan():
    rows = [row(KEPALA, tmt_gol="2004-12-01"), row(KABID, jk="P", lahir="1983-06-17", gol="", atasan=KEPALA)]
    problems = problems_of(csv_text(rows))
    assert {(p.line, p.field) for p in problems} == {(2, "tmt_golongan"), (3, "golongan")}


def test_pppk_row_needs_a_valid_ni_pppk():
    rows = [row(KEPALA), row("199105252023213031", lahir="1991-05-25", gol="", tmt_gol="", atasan=KEPALA)]
    assert {(p.line, p.field) for p in problems_of(csv_text(rows))} == {(3, "nip")}


def test_atasan_self_and_existing():
    assert {(p.line, p.field) for p in problems_of(csv_text([row(KEPALA, atasan=KEPALA)]))} == {(2, "atasan_nip")}
    sekda = "197203152000031001"
    records = parse_employee_csv(csv_text([row(KEPALA, atasan="19720315 200003 1 001")]), existing_nips={sekda})
    assert records[0].atasan_nip == sekda
    problems_of(csv_text([row(KEPALA, atasan=sekda)]))


def test_supervision_cycles_are_rejected():
    a, b, c = KEPALA, KABID, STAFF
    two = [
        row(a, atasan=b),
        row(b, jk="P", lahir="1983-06-17", gol="IV/a", atasan=a, tmt_gol="2021-04-01"),
    ]
    problems = problems_of(csv_text(two))
    assert {(p.line, p.field) for p in problems} == {(2, "atasan_nip"), (3, "atasan_nip")}
    assert "cycle" in problems[0].message_en and "siklus" in problems[0].message_id
    three = [
        row(a, atasan=c),
        row(b, jk="P", lahir="1983-06-17", gol="IV/a", atasan=a, tmt_gol="2021-04-01"),
        row(c, lahir="1996-02-10", gol="III/a", atasan=b, pendidikan="S1", tmt_gol="2022-03-01"),
        row("199001012015011001", lahir="1990-01-01", gol="III/a", atasan=c, pendidikan="S1", tmt_gol="2015-01-01"),
    ]
    problems = problems_of(csv_text(three))
    assert {(p.line, p.field) for p in problems} == {(2, "atasan_nip"), (3, "atasan_nip"), (4, "atasan_nip")}


def test_derive_roles():
    sekda = "197203152000031001"
    bkpsdm_head = "197507202002122001"
    bkpsdm_staff = "199104122019032001"
    camat = "197001012000011001"
    rows = [
        row(sekda, lahir="1972-03-15", gol="IV/c", jabatan="Sekretaris Daerah", unit="SETDA", tmt_gol="2022-04-01"),
        row(KEPALA, atasan=sekda),
        row(KABID, jk="P", lahir="1983-06-17", gol="IV/a", jenis="ADMINISTRATOR", atasan=KEPALA, tmt_gol="2021-04-01"),
        row(STAFF, lahir="1996-02-10", gol="III/a", jenis="FUNGSIONAL", atasan=KABID, pendidikan="S1", tmt_gol="2022-03-01"),
        row(bkpsdm_head, jk="P", lahir="1975-07-20", unit="BKPSDMD", atasan=sekda, tmt_gol="2021-10-01"),
        row(bkpsdm_staff, jk="P", lahir="1991-04-12", gol="III/b", jenis="FUNGSIONAL", unit="BKPSDMD", atasan=bkpsdm_head,
            pendidikan="S1", tmt_gol="2023-04-01"),
        row(camat, lahir="1970-01-01", gol="IV/a", jenis="ADMINISTRATOR", unit="KEC-MERSAM", atasan=sekda, tmt_gol="2020-04-01"),
    ]
    roles = derive_roles(parse_employee_csv(csv_text(rows), known_units=unit_codes()))
    assert roles[sekda] == [Role.PEGAWAI, Role.ATASAN, Role.KEPALA_OPD, Role.SEKDA]
    assert roles[KEPALA] == [Role.PEGAWAI, Role.ATASAN, Role.KEPALA_OPD]
    assert roles[KABID] == [Role.PEGAWAI, Role.ATASAN]
    assert roles[STAFF] == [Role.PEGAWAI]
    assert roles[bkpsdm_head] == [Role.PEGAWAI, Role.ATASAN, Role.KEPALA_OPD, Role.BKPSDM]
    assert roles[bkpsdm_staff] == [Role.PEGAWAI, Role.BKPSDM]
    assert roles[camat] == [Role.PEGAWAI, Role.KEPALA_OPD]


def test_golongan_value_object():
    assert len(ALL_GOLONGAN) == 17
    assert ALL_GOLONGAN[0].code == "I/a" and ALL_GOLONGAN[-1].code == "IV/e"
    g = parse_golongan("III/a")
    assert (g.level, g.ruang, g.pangkat, g.group_name) == (3, "a", "Penata Muda", "Penata")
    assert parse_golongan("iii a") == g == parse_golongan("3/a")
    assert parse_golongan("IV/e").pangkat == "Pembina Utama"
    assert parse_golongan("II/d") < parse_golongan("III/a") < parse_golongan("III/b") < parse_golongan("IV/a")
    assert sorted([parse_golongan("IV/a"), parse_golongan("I/a"), parse_golongan("II/c")]) == [
        parse_golongan("I/a"), parse_golongan("II/c"), parse_golongan("IV/a")
    ]
    assert parse_golongan("IV/a").steps_above(parse_golongan("III/a")) == 4
    for bad in ["I/e", "II/e", "III/e", "V/a", "III/f", "", "III"]:
        with pytest.raises(InvalidGolongan) as exc:
            parse_golongan(bad)
        assert exc.value.message_id != exc.value.message_en
    assert entry_golongan("S1").code == "III/a"
    assert entry_golongan("SMA").code == "II/a"
    assert entry_golongan("D-III").code == "II/c"


def test_reference_units():
    codes = unit_codes()
    assert len(KECAMATAN) == 8
    assert {"SETDA", "SETWAN", "BKPSDMD", "DISKOMINFO", "DPMPTSP", "DISDIKBUD", "DISPERKIM", "DPUTR", "BPBD",
            "RSUD-HAMBA", "INSPEKTORAT", "KEC-MUARA-BULIAN", "KEC-BATIN-XXIV"} <= codes
    assert len(codes) == len(UNITS) == 19
    assert get_unit("DISKOMINFO").name == "Dinas Komunikasi dan Informatika"
    assert get_unit("KEC-MUARA-BULIAN").label("en") == "Muara Bulian District Office"
