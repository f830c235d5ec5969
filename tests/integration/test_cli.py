"""The CLI against a real database: directory import, demo users, tokens, audit verify."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from asnflow.activities.eventstore import EventStore, StateCodec, max_position
from asnflow.runtime.demo_org import demo_csv
from tests.support import make_settings

ASNFLOW = [sys.executable, "-m", "asnflow.runtime.cli"]


def run(settings_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ASNFLOW, *args], env={**os.environ, **settings_env}, capture_output=True, text=True, timeout=120)


def test_import_rejects_a_bad_file_whole_and_imports_a_good_one_once(fresh_database_url: str, tmp_path: Path) -> None:
    settings = make_settings(fresh_database_url, tmp_path)
    env = {"ASNFLOW_DATABASE_URL": fresh_database_url, "ASNFLOW_DATA_DIR": str(tmp_path), "ASNFLOW_DEV_MODE": "true"}
    store = EventStore(env=settings.store_env())
    try:
        lines = demo_csv().splitlines()
        header, rows = lines[0], lines[1:]
        broken = rows[:10]
        broken[3] = broken[3].replace(broken[3].split(",")[0], "19990101" + broken[3].split(",")[0][8:], 1)  # NIP vs birth date
        broken[7] = ",".join(["123", *broken[7].split(",")[1:]])  # not a NIP at all
        bad = tmp_path / "bad.csv"
        bad.write_text("\n".join([header, *broken]) + "\n")
        done = run(env, "import", "employees", str(bad))
        assert done.returncode == 1
        assert "baris/line 5" in done.stderr and "baris/line 9" in done.stderr, done.stderr
        assert max_position(store) == 0  # rejected whole: nothing recorded

        good = tmp_path / "good.csv"
        good.write_text(demo_csv())
        done = run(env, "import", "employees", str(good))
        assert done.returncode == 0, done.stderr
        registered = max_position(store)
        assert registered == len(rows)
        done = run(env, "import", "employees", str(good))
        assert done.returncode == 0 and "tetap/unchanged " + str(len(rows)) in done.stderr.replace("\n", " ")
        assert max_position(store) == registered  # unchanged rows record nothing

        assert run(env, "rebuild", "employees").returncode == 0
        with psycopg.connect(fresh_database_url) as conn:
            assert conn.execute("SELECT count(*) FROM employees").fetchone()[0] == len(rows)  # type: ignore[index]

        done = run(env, "audit", "verify")
        assert done.returncode == 0 and "OK" in done.stderr
        cipher = StateCodec(settings.store_env()).cipher
        assert cipher is not None
        with psycopg.connect(fresh_database_url, autocommit=True) as conn:
            # Tamper with one stored event directly in PostgreSQL, as an insider holding the store key would
            # (without it, the cipher refuses the row): verify must name it.
            rows = conn.execute("SELECT notification_id, state FROM asnflow_events ORDER BY notification_id").fetchall()
            position, plain = next((n, cipher.decrypt(bytes(st))) for n, st in rows if b"DISKOMINFO" in cipher.decrypt(bytes(st)))
            changed = cipher.encrypt(plain.replace(b"DISKOMINFO", b"INSPEKTORAT"))
            conn.execute("UPDATE asnflow_events SET state = %s WHERE notification_id = %s", [changed, position])
        done = run(env, "audit", "verify")
        assert done.returncode == 1 and "does not match its hash" in done.stderr, done.stderr
    finally:
        store.close()


def test_demo_users_and_tokens(tmp_path: Path) -> None:
    env = {"ASNFLOW_DATA_DIR": str(tmp_path)}
    users = json.loads(run(env, "demo", "users", "--json").stdout)
    assert len(users) >= 8 and all({"nip", "nama", "roles", "unit"} <= set(u) for u in users)
    done = run(env, "token", users[0]["nip"])
    assert done.returncode == 0 and done.stdout.count(".") == 2 and "\n" == done.stdout[-1]
    assert (tmp_path / "keys" / "dev-signing-key.pem").exists()
    assert run(env, "token", "199001012015011999").returncode == 2  # not a demo user
