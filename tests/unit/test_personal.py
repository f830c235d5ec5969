"""Personal data: NIK, e-mail and phone checks, the directory's optional columns, redaction, the store key."""

from __future__ import annotations

import base64
import csv
import io
from datetime import date
from pathlib import Path

import pytest

from asnflow.domain.directory import CSV_COLUMNS, DirectoryImportError, parse_employee_csv
from asnflow.domain.personal import (
    REDACTED,
    InvalidPersonalData,
    make_nik,
    normalise_email,
    normalise_phone,
    parse_nik,
    redact,
)
from asnflow.runtime.demo_org import demo_csv, demo_employees
from asnflow.runtime.settings import Settings, ensure_store_key


def test_a_nik_carries_region_birth_date_sex_and_serial() -> None:
    man = parse_nik("1504031503720001")
    assert (man.province, man.regency, man.district, man.sex, man.serial) == ("15", "04", "03", "L", 1)
    assert man.matches_birth_date(date(1972, 3, 15)) and not man.matches_birth_date(date(1972, 3, 16))
    woman = parse_nik(make_nik("150403", date(1990, 2, 28), "P", 12))
    assert woman.value == "1504036802900012" and woman.sex == "P" and woman.birth_day == 28


@pytest.mark.parametrize(
    ("nik", "why"),
    [
        ("150403150372000", "16 digits"),
        ("15040315037200a1", "16 digits"),
        ("9904031503720001", "province"),  # 99 is no province
        ("1500031503720001", "regency"),
        ("1504001503720001", "regency/district"),
        ("1504033203720001", "birth date"),  # day 32
        ("1504037203720001", "birth date"),  # a woman's day 32 (72 - 40)
        ("1504033002720001", "birth date"),  # 30 February
        ("1504031503720000", "serial"),
    ],
)
def test_bad_niks_are_refused_with_the_reason(nik: str, why: str) -> None:
    with pytest.raises(InvalidPersonalData) as err:
        parse_nik(nik)
    assert why in err.value.message_en and err.value.message_id


def test_email_and_phone_are_normalised_or_refused() -> None:
    assert normalise_email(" Sari.Dewi@BatangHariKab.go.id ") == "sari.dewi@batangharikab.go.id"
    assert normalise_phone("0812-3456-7890") == normalise_phone("+62 812 3456 7890") == "+6281234567890"
    for bad in ("sari@", "a b@c.id", "x" * 250 + "@a.id"):
        with pytest.raises(InvalidPersonalData):
            normalise_email(bad)
    for bad in ("12345", "0812", "+1 202 555 0100", "00812345678"):
        with pytest.raises(InvalidPersonalData):
            normalise_phone(bad)


def _csv(nik: str, email: str = "", telepon: str = "") -> str:
    demo = demo_employees()[0]
    d = demo.to_dict()
    d.update(nik=nik, email=email, telepon=telepon, atasan_nip="")
    cols = [*CSV_COLUMNS, "nik", "email", "telepon"]
    buf = io.StringIO()
    csv.writer(buf).writerows([cols, ["" if d[c] is None else str(d[c]) for c in cols]])
    return buf.getvalue()


def test_the_directory_checks_nik_against_birth_date_and_sex_and_never_echoes_values() -> None:
    demo = demo_employees()[0]
    assert demo.nik is not None and demo.email and demo.telepon
    [rec] = parse_employee_csv(_csv(demo.nik, "a.b@batangharikab.go.id", "0812 3456 7890"))
    assert (rec.nik, rec.email, rec.telepon) == (demo.nik, "a.b@batangharikab.go.id", "+6281234567890")
    other_day = make_nik("150403", date(demo.tanggal_lahir.year, demo.tanggal_lahir.month, 1 if demo.tanggal_lahir.day != 1 else 2), demo.jenis_kelamin, 1)
    other_sex = make_nik("150403", demo.tanggal_lahir, "P" if demo.jenis_kelamin == "L" else "L", 1)
    for nik, text in ((other_day, "birth date"), (other_sex, "sex")):
        with pytest.raises(DirectoryImportError) as err:
            parse_employee_csv(_csv(nik))
        assert [p.field for p in err.value.problems] == ["nik"] and text in err.value.problems[0].message_en
    with pytest.raises(DirectoryImportError) as err:
        parse_employee_csv(_csv(demo.nik, "rahasia-sekali@", "0812"))
    assert {p.field for p in err.value.problems} == {"email", "telepon"}
    assert "rahasia-sekali" not in str([tuple(p) for p in err.value.problems])


def test_every_demo_employee_has_valid_unique_personal_data_and_old_files_still_import() -> None:
    records = parse_employee_csv(demo_csv())
    assert all(r.nik and r.email and r.telepon for r in records)
    assert len({r.nik for r in records}) == len(records)
    rows = list(csv.reader(io.StringIO(demo_csv())))
    buf = io.StringIO()
    csv.writer(buf).writerows(row[: len(CSV_COLUMNS)] for row in rows)
    legacy = buf.getvalue()
    assert all(r.nik is None for r in parse_employee_csv(legacy))


def test_redaction_reaches_nested_personal_values_only() -> None:
    payload = {"nip": "1", "nik": "1504031503720001", "changes": {"email": "a@b.id"}, "list": [{"telepon": "+62812"}], "email": None}
    assert redact(payload) == {"nip": "1", "nik": REDACTED, "changes": {"email": REDACTED}, "list": [{"telepon": REDACTED}], "email": None}
    assert payload["nik"] == "1504031503720001" and payload["changes"] == {"email": "a@b.id"}  # the original is untouched
    plain = {"nip": "1", "data": {"targets": [{"indikator": "x"}]}, "email": ""}
    assert redact(plain) is plain  # nothing to redact: no copy


def test_settings_refuse_a_missing_or_default_store_key_outside_dev(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ASNFLOW_STORE_KEY_FILE"):
        Settings(data_dir=tmp_path, dev_mode=False)
    for name, raw in (("zero", bytes(32)), ("short", b"k" * 8), ("same", b"\x07" * 32)):
        path = tmp_path / name
        path.write_text(base64.b64encode(raw).decode())
        with pytest.raises(ValueError, match="event-store key"):
            Settings(data_dir=tmp_path, store_key_file=path)
    with pytest.raises(ValueError, match="cannot be read"):
        Settings(data_dir=tmp_path, store_key_file=tmp_path / "missing")
    good = ensure_store_key(tmp_path / "k" / "store.key")
    assert Settings(data_dir=tmp_path, store_key_file=good).store_env()["CIPHER_TOPIC"].endswith("StoreCipher")
    dev = Settings(data_dir=tmp_path / "dev", dev_mode=True)
    assert dev.store_key() == dev.store_key() == (tmp_path / "dev" / "keys" / "event-store.key").read_text()
    assert oct((tmp_path / "dev" / "keys" / "event-store.key").stat().st_mode & 0o777) == "0o600"


def test_the_store_cipher_writes_what_eventsourcing_reads_and_refuses_a_changed_byte() -> None:
    from eventsourcing.cryptography import AESCipher
    from eventsourcing.utils import Environment

    from asnflow.activities.eventstore import StoreCipher

    env = Environment("asnflow", {"CIPHER_KEY": base64.b64encode(bytes(range(32))).decode()})
    ours, library = StoreCipher(env), AESCipher(env)
    plain = b'{"nik": "1504031503720001"}'
    assert library.decrypt(ours.encrypt(plain)) == plain == ours.decrypt(library.encrypt(plain))
    sealed = bytearray(ours.encrypt(plain))
    assert b"1504031503720001" not in sealed
    sealed[-1] ^= 1
    with pytest.raises(ValueError):
        ours.decrypt(bytes(sealed))
