"""Audit side effects: access recording, streaming export, sealed global chain, verification, bundles, holds, purge."""

from __future__ import annotations

import base64
import csv
import getpass
import hashlib
import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from asnflow.activities.eventstore import EVENTS_TABLE, CaseForkedError, EventStore, StateCodec, read_case, record
from asnflow.domain import audit as da
from asnflow.domain.personal import redact
from asnflow.domain.events import EVENT_TYPES, GENESIS_HASH, canonical, case_aggregate_id, event_hash
from asnflow.domain.tenancy import LEGACY_TENANT
from asnflow.workflows.contracts import NewEvent, RecordInput

WIB = ZoneInfo("Asia/Jakarta")
CHAIN_TABLE = "audit_chain"
CHECKPOINT_TABLE = "audit_checkpoints"
DDL = (
    f"CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} (position bigint PRIMARY KEY, case_id text,"
    " originator_id uuid NOT NULL, version bigint NOT NULL, digest text NOT NULL, chain text NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {CHAIN_TABLE}_case_idx ON {CHAIN_TABLE} (case_id)",
    f"CREATE TABLE IF NOT EXISTS {CHECKPOINT_TABLE} (seq bigint PRIMARY KEY, position bigint NOT NULL,"
    " count bigint NOT NULL, chain text NOT NULL, created_at text NOT NULL, previous text NOT NULL,"
    " key_id text NOT NULL, signature text NOT NULL)",
)
ROW_COLUMNS = "notification_id, originator_id, originator_version, topic, state"
EXPORT_FIELDS = (
    "position", "case_id", "version", "type", "process", "occurred_at", "actor_nip", "actor_role",
    "on_behalf_of", "workflow_id", "run_id", "temporal_url", "reason", "payload", "previous_hash", "hash",
    "hash_valid",
)


class AuditRefusedError(Exception):
    """A refused audit operation, with its reason in both languages."""

    def __init__(self, message_id: str, message_en: str) -> None:
        super().__init__(message_en)
        self.message_id, self.message_en = message_id, message_en


# --- keys ----------------------------------------------------------------------------------------------
def signing_key_path(settings: Any) -> Path:
    return settings.audit_signing_key_file or settings.data_dir / "keys" / "audit-signing-key.pem"


def load_signing_key(settings: Any, *, create: bool = True) -> Ed25519PrivateKey:
    """The Ed25519 sealing key: a configured file in production, generated into DATA/keys in dev."""
    path = signing_key_path(settings)
    if not path.exists():
        if settings.audit_signing_key_file is not None or not create:
            raise AuditRefusedError(
                f"Kunci tanda tangan audit tidak ada: {path}", f"The audit signing key is missing: {path}"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        path.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        path.chmod(0o600)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise AuditRefusedError("Kunci audit harus Ed25519.", "The audit key must be Ed25519.")
    return loaded


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint auditors can compare by eye."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def trusted_keys(settings: Any) -> dict[str, Ed25519PublicKey]:
    """Public keys that verification trusts: a configured file, else the data folder's signing key."""
    keys: list[Ed25519PublicKey] = []
    if settings.audit_public_key_file is not None:
        loaded = serialization.load_pem_public_key(settings.audit_public_key_file.read_bytes())
        if isinstance(loaded, Ed25519PublicKey):
            keys.append(loaded)
    elif signing_key_path(settings).exists():
        keys.append(load_signing_key(settings, create=False).public_key())
    return {key_id(k): k for k in keys}


def state_codec(settings: Any) -> StateCodec:
    """Opens raw rows with the store's key (every stored event is encrypted)."""
    return StateCodec(settings.store_env())


def temporal_ui_url(settings: Any) -> str | None:
    """The configured Temporal UI, else the one `asnflow dev` started for this data folder."""
    if settings.temporal_ui_url:
        return str(settings.temporal_ui_url)
    try:
        port = json.loads((settings.data_dir / "stack.json").read_text())["temporal_ui_port"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return f"http://127.0.0.1:{port}" if port else None


# --- raw rows ------------------------------------------------------------------------------------------
@dataclass
class Row:
    """One stored row as PostgreSQL holds it, decoded on demand."""

    position: int
    originator_id: uuid.UUID
    version: int
    topic: str
    state: bytes
    codec: StateCodec
    _fields: dict[str, Any] | None = None

    @property
    def type(self) -> str:
        return self.topic.rsplit(":", 1)[-1]

    @property
    def fields(self) -> dict[str, Any]:
        if self._fields is None:
            self._fields = self.codec.decode(self.state)
        return self._fields

    def digest(self) -> str:
        return da.row_digest(self.position, self.originator_id, self.version, self.topic, self.state)

    def recomputed_hash(self) -> str:
        f = self.fields
        return event_hash(
            type_name=self.type, case_id=f["case_id"], process=f["process"], version=self.version,
            occurred_at=f["occurred_at"].isoformat(), actor=f["actor"], workflow_id=f["workflow_id"],
            run_id=f["run_id"], reason=f["reason"], payload=f["payload"], previous_hash=f["previous_hash"],
            tenant=f.get("tenant", LEGACY_TENANT),
        )


def iter_rows(
    conn: psycopg.Connection[Any],
    *,
    codec: StateCodec,
    gt: int = 0,
    upto: int | None = None,
    originator_id: uuid.UUID | None = None,
    topic: str | None = None,
    page: int = 5000,
) -> Iterator[Row]:
    """Rows in store order by keyset pages: constant memory, no long-lived cursor."""
    while True:
        sql, params = f"SELECT {ROW_COLUMNS} FROM {EVENTS_TABLE} WHERE notification_id > %s", [gt]  # noqa: S608
        for clause, value in (("notification_id <= %s", upto), ("originator_id = %s", originator_id), ("topic = %s", topic)):
            if value is not None:
                sql += f" AND {clause}"
                params.append(value)
        with conn.cursor(binary=True) as cur:
            rows = cur.execute(sql + " ORDER BY notification_id LIMIT %s", [*params, page]).fetchall()
        conn.commit()
        for r in rows:
            yield Row(r[0], r[1], r[2], r[3], bytes(r[4]), codec)
        if len(rows) < page:
            return
        gt = rows[-1][0]


def max_row_position(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}").fetchone()  # noqa: S608
    conn.commit()
    return int(row[0]) if row else 0


def topic_of(type_name: str) -> str | None:
    cls = EVENT_TYPES.get(type_name)
    return f"{cls.__module__}:{cls.__qualname__}" if cls else None


# --- recording (access log, holds, purge tombstones) ----------------------------------------------------
def _head(store: EventStore, case_id: str) -> tuple[int, str]:
    stored = store.recorder.select_events(case_aggregate_id(case_id), desc=True, limit=1)
    if not stored:
        return 0, GENESIS_HASH
    event = store.mapper.to_domain_event(stored[0])
    return event.originator_version, event.hash


def append(
    store: EventStore,
    case_id: str,
    type_name: str,
    payload: dict[str, Any],
    actor: dict[str, Any],
    *,
    reason: str = "",
    marker: str | None = None,
    now: datetime | None = None,
) -> int:
    """Append one event at the head of an audit aggregate, exactly once, returning its position.

    Several requests may race for the head: a lost race appends after the winner. `marker` (a value of
    payload["request_id"]) makes a retry after a lost acknowledgement find its own committed event.
    """
    occurred = (now or datetime.now(UTC)).isoformat()
    new = NewEvent(type=type_name, payload=payload, actor=actor, reason=reason)
    for attempt in range(50):
        version, last_hash = _head(store, case_id)
        inp = RecordInput(
            case_id=case_id, process=da.AUDIT_PROCESS, expected_version=version, previous_hash=last_hash,
            workflow_id="", run_id="", occurred_at=occurred, events=[new],
        )
        try:
            return record(store, inp).positions[0]
        except CaseForkedError:
            continue
        except Exception:
            mine = [s for s in read_case(store, case_id, gt=version) if marker and s.event.payload.get("request_id") == marker]
            if mine:
                return mine[0].position
            if attempt >= 2:
                raise
            time.sleep(0.1 * (attempt + 1))
    raise RuntimeError(f"could not append to {case_id}: too much contention")


def cli_actor(nip: str | None) -> dict[str, Any]:
    """The actor of a command-line audit access: the declared auditor and the operating-system user."""
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):
        os_user = "unknown"
    return {"nip": nip, "role": "AUDITOR", "on_behalf_of": None, "channel": "cli", "os_user": os_user}


def record_access(
    store: EventStore, actor: dict[str, Any], action: str, details: dict[str, Any], *, now: datetime | None = None,
    tenant_prefix: str | None = None,
) -> int:
    """Record an auditor's access, in the auditor's tenant, before it is served (no unrecorded reads)."""
    now = now or datetime.now(UTC)
    request_id = uuid.uuid4().hex
    case_id = da.access_case_id(actor.get("nip"), now.astimezone(WIB).date().isoformat(), tenant_prefix)
    payload = {"request_id": request_id, "action": action, **details}
    return append(store, case_id, "AuditAccessed", payload, actor, marker=request_id, now=now)


# --- export ---------------------------------------------------------------------------------------------------
@dataclass
class ExportFilter:
    """Export filters; case, type and positions narrow the SQL, the rest is checked per row."""

    case_id: str | None = None
    actor_nip: str | None = None
    type: str | None = None
    process: str | None = None
    unit: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    after: int = 0
    until: int | None = None
    tenant: str | None = None  # one tenant's events only (an auditor exports their own instansi)

    def describe(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items() if v not in (None, 0)}


def export_record(row: Row, ui_url: str | None, namespace: str, *, redacted: bool = True) -> dict[str, Any]:
    """One event as exported and listed: envelope, chain, drill-down link and the recomputed hash check.

    Personal values (NIK, contacts, reporters) are redacted after the hash check; bundles keep them, because
    an offline verifier must recompute every hash from the exact payload."""
    f = row.fields
    try:
        valid = row.recomputed_hash() == f.get("hash")
    except (KeyError, TypeError, AttributeError):
        valid = False
    return {
        "position": row.position, "case_id": f.get("case_id"), "version": row.version, "type": row.type,
        "process": f.get("process"), "occurred_at": f["occurred_at"].isoformat() if "occurred_at" in f else None,
        "actor": f.get("actor"), "workflow_id": f.get("workflow_id"), "run_id": f.get("run_id"),
        "temporal_url": da.temporal_url(ui_url, namespace, f.get("workflow_id", ""), f.get("run_id", "")),
        "reason": f.get("reason"), "payload": redact(f.get("payload")) if redacted else f.get("payload"), "previous_hash": f.get("previous_hash"),
        "hash": f.get("hash"), "hash_valid": valid, "tenant": f.get("tenant", LEGACY_TENANT),
    }


def _csv_row(r: dict[str, Any]) -> list[Any]:
    actor = r["actor"] or {}
    flat = {
        **r, "actor_nip": actor.get("nip"), "actor_role": actor.get("role"), "on_behalf_of": actor.get("on_behalf_of"),
        "payload": json.dumps(r["payload"], ensure_ascii=False, sort_keys=True, default=str),
    }
    return [flat[k] for k in EXPORT_FIELDS]


def export_chunks(
    database_url: str,
    flt: ExportFilter,
    fmt: str,
    *,
    codec: StateCodec,
    ui_url: str | None = None,
    namespace: str = "default",
    progress: Callable[[int, int], None] | None = None,
    chunk_bytes: int = 1 << 18,
) -> Iterator[bytes]:
    """Stream matching events as JSONL or CSV in chunks; memory stays flat whatever the store's size."""
    if fmt not in ("jsonl", "csv"):
        raise ValueError(fmt)
    with psycopg.connect(database_url) as conn:
        # A fixed upper bound makes the export a consistent prefix of the append-only log.
        upto = flt.until if flt.until is not None else max_row_position(conn)
        units: set[str] | None = None
        if flt.unit is not None:
            units = {r[0] for r in conn.execute("SELECT id FROM cases WHERE unit = %s", [flt.unit])}
            conn.commit()
        topic = topic_of(flt.type) if flt.type else None
        if flt.type and topic is None:
            return
        rows = iter_rows(
            conn, codec=codec, gt=flt.after, upto=upto,
            originator_id=case_aggregate_id(flt.case_id) if flt.case_id else None, topic=topic,
        )
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        if fmt == "csv":
            writer.writerow(EXPORT_FIELDS)
        start, done = flt.after, 0
        for row in rows:
            done += 1
            if progress is not None and done % 2000 == 0:
                progress(row.position - start, upto - start)
            f = row.fields
            if flt.tenant is not None and f.get("tenant", LEGACY_TENANT) != flt.tenant:
                continue
            if flt.process is not None and f.get("process") != flt.process:
                continue
            if flt.actor_nip is not None and (f.get("actor") or {}).get("nip") != flt.actor_nip:
                continue
            if units is not None and f.get("case_id") not in units:
                continue
            if flt.occurred_from is not None and f["occurred_at"] < flt.occurred_from:
                continue
            if flt.occurred_to is not None and f["occurred_at"] >= flt.occurred_to:
                continue
            record_ = export_record(row, ui_url, namespace)
            if fmt == "jsonl":
                buf.write(json.dumps(record_, ensure_ascii=False, default=str))
                buf.write("\n")
            else:
                writer.writerow(_csv_row(record_))
            if buf.tell() >= chunk_bytes:
                yield buf.getvalue().encode()
                buf.seek(0)
                buf.truncate()
        if progress is not None:
            progress(upto - start, upto - start)
        if buf.tell():
            yield buf.getvalue().encode()


# --- the sealed global chain -------------------------------------------------------------------------------------
def ensure_tables(conn: psycopg.Connection[Any]) -> None:
    for stmt in DDL:
        conn.execute(stmt)
    conn.commit()


@dataclass
class Checkpoint:
    seq: int
    position: int
    count: int
    chain: str
    created_at: str
    previous: str
    key_id: str
    signature: str

    def message(self) -> bytes:
        return da.checkpoint_message(
            seq=self.seq, position=self.position, count=self.count, chain=self.chain,
            created_at=self.created_at, previous=self.previous, key_id=self.key_id,
        )

    def valid_with(self, key: Ed25519PublicKey) -> bool:
        try:
            key.verify(base64.b64decode(self.signature), self.message())
        except (InvalidSignature, ValueError):
            return False
        return True


def checkpoints(conn: psycopg.Connection[Any]) -> list[Checkpoint]:
    rows = conn.execute(
        f"SELECT seq, position, count, chain, created_at, previous, key_id, signature FROM {CHECKPOINT_TABLE} ORDER BY seq"  # noqa: S608
    ).fetchall()
    conn.commit()
    return [Checkpoint(*r) for r in rows]


def seal(
    conn: psycopg.Connection[Any],
    key: Ed25519PrivateKey,
    *,
    codec: StateCodec,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    page: int = 5000,
) -> Checkpoint | None:
    """Extend the global chain over every row since the last checkpoint and sign a new checkpoint."""
    ensure_tables(conn)
    kid = key_id(key.public_key())
    with conn.transaction():
        # One sealer at a time; the events table's own lock keeps positions committed in order.
        conn.execute(f"LOCK TABLE {CHECKPOINT_TABLE} IN EXCLUSIVE MODE")
        last = conn.execute(
            f"SELECT seq, position, count, chain, created_at, previous, key_id, signature FROM {CHECKPOINT_TABLE}"  # noqa: S608
            " ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        tail = conn.execute(f"SELECT position, chain FROM {CHAIN_TABLE} ORDER BY position DESC LIMIT 1").fetchone()  # noqa: S608
        count = conn.execute(f"SELECT count(*) FROM {CHAIN_TABLE}").fetchone()[0]  # type: ignore[index]  # noqa: S608
        position, chain = (int(tail[0]), str(tail[1])) if tail else (0, da.GLOBAL_GENESIS)
        upto = conn.execute(f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}").fetchone()[0]  # type: ignore[index]  # noqa: S608
        if upto <= position:
            return None
        start = position
        while True:
            with conn.cursor(binary=True) as cur:
                rows = cur.execute(
                    f"SELECT {ROW_COLUMNS} FROM {EVENTS_TABLE} WHERE notification_id > %s AND notification_id <= %s"  # noqa: S608
                    " ORDER BY notification_id LIMIT %s",
                    [position, upto, page],
                ).fetchall()
            if not rows:
                break
            witness = []
            for r in rows:
                row = Row(r[0], r[1], r[2], r[3], bytes(r[4]), codec)
                digest = row.digest()
                chain = da.chain_next(chain, digest)
                try:
                    case = row.fields.get("case_id")
                except ValueError:
                    case = None
                witness.append((row.position, case, row.originator_id, row.version, digest, chain))
            with conn.cursor() as cur, cur.copy(
                f"COPY {CHAIN_TABLE} (position, case_id, originator_id, version, digest, chain) FROM STDIN"
            ) as copy:
                for w in witness:
                    copy.write_row(w)
            position, count = rows[-1][0], count + len(rows)
            if progress is not None:
                progress(position - start, upto - start)
        cp = Checkpoint(
            seq=(last[0] + 1) if last else 1, position=position, count=count, chain=chain,
            created_at=(now or datetime.now(UTC)).isoformat(),
            previous=da.message_hash(Checkpoint(*last).message()) if last else GENESIS_HASH, key_id=kid, signature="",
        )
        cp.signature = base64.b64encode(key.sign(cp.message())).decode()
        conn.execute(
            f"INSERT INTO {CHECKPOINT_TABLE} (seq, position, count, chain, created_at, previous, key_id, signature)"  # noqa: S608
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [cp.seq, cp.position, cp.count, cp.chain, cp.created_at, cp.previous, cp.key_id, cp.signature],
        )
    return cp


# --- verification ------------------------------------------------------------------------------------------------------
@dataclass
class VerifyReport:
    ok: bool = True
    cases_checked: int = 0
    events_checked: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    sealed_position: int = 0
    checkpoints_checked: int = 0
    unsealed_events: int = 0
    purged_events: int = 0
    key_ids: list[str] = field(default_factory=list)

    def problem(self, kind: str, case_id: str | None, version: int | None, position: int | None, text: str) -> None:
        self.ok = False
        self.problems.append({"kind": kind, "case_id": case_id, "version": version, "position": position, "problem": text})


def _purged_positions(conn: psycopg.Connection[Any], codec: StateCodec) -> dict[int, str]:
    topic = topic_of("CasePurged")
    out: dict[int, str] = {}
    for row in iter_rows(conn, codec=codec, topic=topic):
        payload = row.fields.get("payload", {})
        for e in payload.get("events", []):
            out[int(e["position"])] = payload.get("purged_case_id", "")
    return out


def _iter_witness(conn: psycopg.Connection[Any], case_id: str | None, page: int = 5000) -> Iterator[tuple[Any, ...]]:
    gt = 0
    while True:
        sql = f"SELECT position, case_id, originator_id, version, digest, chain FROM {CHAIN_TABLE} WHERE position > %s"  # noqa: S608
        params: list[Any] = [gt]
        if case_id is not None:
            sql += " AND case_id = %s"
            params.append(case_id)
        rows = conn.execute(sql + " ORDER BY position LIMIT %s", [*params, page]).fetchall()
        conn.commit()
        yield from rows
        if len(rows) < page:
            return
        gt = rows[-1][0]


def verify(
    conn: psycopg.Connection[Any],
    keys: dict[str, Ed25519PublicKey],
    case_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    codec: StateCodec,
) -> VerifyReport:
    """Check every case chain, the signed checkpoints and every row against the sealed global chain."""
    ensure_tables(conn)
    report = VerifyReport(key_ids=sorted(keys))
    cps = checkpoints(conn)
    previous = GENESIS_HASH
    for cp in cps:
        key = keys.get(cp.key_id)
        if key is None:
            report.problem("checkpoint", None, None, cp.position,
                           f"checkpoint {cp.seq}: no trusted public key {cp.key_id} / kunci publik tidak dipercaya")
        elif not cp.valid_with(key):
            report.problem("checkpoint", None, None, cp.position, f"checkpoint {cp.seq}: signature is invalid / tanda tangan tidak sah")
        if cp.previous != previous:
            report.problem("checkpoint", None, None, cp.position, f"checkpoint {cp.seq}: link to the previous checkpoint is broken")
        previous = da.message_hash(cp.message())
    report.checkpoints_checked = len(cps)
    sealed = cps[-1].position if cps else 0
    report.sealed_position = sealed
    by_position = {cp.position: cp for cp in cps}
    purged = _purged_positions(conn, codec)
    total = max_row_position(conn)

    last: dict[str, tuple[int, str]] = {}
    chain, count, seen = da.GLOBAL_GENESIS, 0, 0
    rows = iter_rows(conn, codec=codec, originator_id=case_aggregate_id(case_id) if case_id else None)
    witness = _iter_witness(conn, case_id)
    e, w = next(rows, None), next(witness, None)
    while e is not None or w is not None:
        if e is not None and (w is None or e.position < w[0]):
            _check_case_link(report, last, e, case_id)
            if e.position <= sealed:
                report.problem("inserted", _case_of(e), e.version, e.position,
                               "row inserted: not in the signed global chain / baris disisipkan di luar rantai bertanda tangan")
            else:
                report.unsealed_events += 1
            e = next(rows, None)
            continue
        assert w is not None
        wpos, wcase, _, wversion, wdigest, wchain = w
        if case_id is None:
            chain, count = da.chain_next(chain, wdigest), count + 1
            if chain != wchain:
                report.problem("witness", wcase, wversion, wpos, "global chain record altered / catatan rantai global diubah")
                chain = wchain
            cp = by_position.get(wpos)
            if cp is not None and (cp.chain != chain or cp.count != count):
                report.problem("checkpoint", wcase, wversion, wpos,
                               f"sealed chain does not match checkpoint {cp.seq} / rantai tidak cocok dengan titik periksa")
            if wpos > sealed:
                report.problem("witness", wcase, wversion, wpos, "chain record not covered by a signed checkpoint")
        if e is not None and e.position == wpos:
            _check_case_link(report, last, e, case_id)
            if e.digest() != wdigest:
                report.problem("changed", _case_of(e) or wcase, e.version, wpos,
                               "row changed since it was sealed / baris diubah setelah disegel")
            e = next(rows, None)
        elif wpos in purged:
            report.purged_events += 1
        else:
            report.problem("deleted", wcase, wversion, wpos, "row deleted: a sealed event is missing / peristiwa tersegel hilang")
        w = next(witness, None)
        seen += 1
        if progress is not None and seen % 5000 == 0:
            progress(wpos, total)
    report.cases_checked = len(last)
    if progress is not None:
        progress(total, total)
    return report


def _case_of(row: Row) -> str | None:
    try:
        return row.fields.get("case_id")  # type: ignore[no-any-return]
    except ValueError:
        return str(row.originator_id)


def _check_case_link(report: VerifyReport, last: dict[str, tuple[int, str]], row: Row, case_id: str | None) -> None:
    """The per-case chain: hash of each event, its link to the case's previous one, no gaps."""
    try:
        f = row.fields
        cid = f["case_id"]
        recomputed = row.recomputed_hash()
    except (ValueError, KeyError, TypeError, AttributeError):
        report.problem("hash", str(row.originator_id), row.version, row.position, "row cannot be decoded / baris tidak terbaca")
        return
    if case_id is not None and cid != case_id:
        return
    report.events_checked += 1
    version, previous = last.get(cid, (0, GENESIS_HASH))
    if row.version != version + 1:
        report.problem("gap", cid, row.version, row.position, f"missing events: expected version {version + 1}")
    elif f["previous_hash"] != previous:
        report.problem("link", cid, row.version, row.position, "link to the previous event is broken")
    if recomputed != f["hash"]:
        report.problem("hash", cid, row.version, row.position, "event content does not match its hash")
    last[cid] = (row.version, f["hash"])


# --- case bundles --------------------------------------------------------------------------------------------------
BUNDLE_FORMAT = "asnflow-case-bundle/1"
BUNDLE_MEMBERS = ("manifest.json", "events.jsonl", "documents.json", "public_key.pem", "signature.json")


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    """A byte-for-byte reproducible zip (stored, fixed dates), so any changed byte is detectable."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system, info.external_attr, info.compress_type = 3, 0o644 << 16, zipfile.ZIP_STORED
            z.writestr(info, data)
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_bundle(
    conn: psycopg.Connection[Any],
    case_id: str,
    key: Ed25519PrivateKey,
    *,
    codec: StateCodec,
    generated_by: dict[str, Any],
    ui_url: str | None = None,
    namespace: str = "default",
    now: datetime | None = None,
) -> bytes:
    """One case as a signed, self-contained zip: events, document hashes, manifest, public key, signature."""
    rows = list(iter_rows(conn, codec=codec, originator_id=case_aggregate_id(case_id)))
    if not rows:
        raise AuditRefusedError("Perkara tidak ditemukan.", "Case not found.")
    events = [export_record(r, ui_url, namespace, redacted=False) for r in rows]
    for e in events:
        e.pop("hash_valid")
    events_bytes = b"".join(canonical(e).encode() + b"\n" for e in events)
    documents = [
        {"version": e["version"], "position": e["position"], **d} for e in events for d in da.document_hashes(e["payload"])
    ]
    documents_bytes = canonical(documents).encode()
    pub = key.public_key()
    pem = public_pem(pub)
    ensure_tables(conn)
    covering = conn.execute(
        f"SELECT seq, position, count, chain, created_at, previous, key_id, signature FROM {CHECKPOINT_TABLE}"  # noqa: S608
        " WHERE position >= %s ORDER BY seq LIMIT 1",
        [events[-1]["position"]],
    ).fetchone()
    conn.commit()
    manifest = {
        "format": BUNDLE_FORMAT, "case_id": case_id, "process": events[0]["process"], "event_count": len(events),
        "first_position": events[0]["position"], "last_position": events[-1]["position"], "head_hash": events[-1]["hash"],
        "generated_at": (now or datetime.now(UTC)).isoformat(), "generated_by": generated_by, "key_id": key_id(pub),
        "files": {"events.jsonl": _sha(events_bytes), "documents.json": _sha(documents_bytes), "public_key.pem": _sha(pem)},
        "checkpoint": asdict(Checkpoint(*covering)) if covering else None,
    }
    manifest_bytes = canonical(manifest).encode()
    signature = canonical(
        {"algorithm": "Ed25519", "key_id": key_id(pub), "signed": "manifest.json",
         "signature": base64.b64encode(key.sign(manifest_bytes)).decode()}
    ).encode()
    return _zip(list(zip(BUNDLE_MEMBERS, (manifest_bytes, events_bytes, documents_bytes, pem, signature), strict=True)))


@dataclass
class BundleReport:
    ok: bool
    case_id: str | None = None
    event_count: int = 0
    key_id: str | None = None
    sealed_by_checkpoint: int | None = None
    problems: list[str] = field(default_factory=list)


def verify_bundle(data: bytes, pinned_public_key: bytes | None = None) -> BundleReport:
    """Check a bundle offline: every byte, the signature, the file hashes, the case chain, the checkpoint."""
    report = BundleReport(ok=False)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = tuple(z.namelist())
            if names != BUNDLE_MEMBERS:
                report.problems.append(f"isi tidak dikenal / unexpected members: {list(names)}")
                return report
            members = {n: z.read(n) for n in names}
    except Exception as exc:  # noqa: BLE001 - a damaged zip fails in many ways (CRC, flags, names)
        report.problems.append(f"berkas rusak / damaged file: {exc}")
        return report
    if _zip([(n, members[n]) for n in BUNDLE_MEMBERS]) != data:
        report.problems.append("berkas diubah di luar isi bertanda tangan / bytes changed outside the signed content")
    try:
        manifest = json.loads(members["manifest.json"])
        signature = json.loads(members["signature.json"])
        loaded = serialization.load_pem_public_key(members["public_key.pem"])
        assert isinstance(loaded, Ed25519PublicKey)
    except (ValueError, AssertionError, TypeError) as exc:
        report.problems.append(f"manifest, tanda tangan atau kunci tidak terbaca / unreadable manifest, signature or key: {exc}")
        return report
    pub: Ed25519PublicKey = loaded
    report.case_id, report.key_id = manifest.get("case_id"), key_id(pub)
    if canonical(signature).encode() != members["signature.json"] or signature.get("key_id") != report.key_id:
        report.problems.append("tanda tangan tidak sesuai kunci / signature record does not match the key")
    try:
        pub.verify(base64.b64decode(signature.get("signature", "")), members["manifest.json"])
    except (InvalidSignature, ValueError):
        report.problems.append("tanda tangan tidak sah / signature is invalid")
    if pinned_public_key is not None:
        pinned = serialization.load_pem_public_key(pinned_public_key)
        if not isinstance(pinned, Ed25519PublicKey) or key_id(pinned) != report.key_id:
            report.problems.append("kunci bukan kunci yang dipercaya / not signed by the trusted key")
    for name, digest in (manifest.get("files") or {}).items():
        if name not in members or _sha(members[name]) != digest:
            report.problems.append(f"{name}: hash tidak cocok / hash mismatch")
    previous, events = GENESIS_HASH, []
    for number, line in enumerate(members["events.jsonl"].decode("utf-8", "replace").splitlines(), start=1):
        try:
            e = json.loads(line)
            recomputed = event_hash(
                type_name=e["type"], case_id=e["case_id"], process=e["process"], version=e["version"],
                occurred_at=e["occurred_at"], actor=e["actor"], workflow_id=e["workflow_id"], run_id=e["run_id"],
                reason=e["reason"], payload=e["payload"], previous_hash=e["previous_hash"],
                tenant=e.get("tenant", LEGACY_TENANT),
            )
        except (ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"peristiwa {number} tidak terbaca / event {number} unreadable: {exc}")
            continue
        if e["version"] != number or e["previous_hash"] != previous or recomputed != e["hash"] or e["case_id"] != report.case_id:
            report.problems.append(f"rantai putus pada versi / chain broken at version {number} (position {e.get('position')})")
        previous = e["hash"]
        events.append(e)
    report.event_count = len(events)
    if manifest.get("event_count") != len(events) or manifest.get("head_hash") != previous:
        report.problems.append("manifest tidak cocok dengan peristiwa / manifest does not match the events")
    documents = [{"version": e["version"], "position": e["position"], **d} for e in events for d in da.document_hashes(e["payload"])]
    if canonical(documents).encode() != members["documents.json"]:
        report.problems.append("daftar hash dokumen tidak cocok / document hashes do not match the events")
    cp_data = manifest.get("checkpoint")
    if cp_data:
        cp = Checkpoint(**cp_data)
        if cp.key_id != report.key_id or not cp.valid_with(pub) or (events and cp.position < events[-1]["position"]):
            report.problems.append("titik periksa tidak sah / checkpoint does not verify")
        else:
            report.sealed_by_checkpoint = cp.seq
    report.ok = not report.problems
    return report


# --- point in time ------------------------------------------------------------------------------------------------------
def case_as_of(
    store: EventStore, case_id: str, *, at: datetime | None = None, version: int | None = None
) -> tuple[da.CaseAsOf, list[Any]]:
    """Fold a case's events up to time `at` (inclusive) or up to `version`: the case as it then stood."""
    from asnflow.domain.events import hash_of

    state = da.CaseAsOf(case_id=case_id)
    included = []
    for item in read_case(store, case_id, lte=version):
        if at is not None and item.event.occurred_at > at:
            break
        state.apply(type(item.event).__name__, item.event, item.position, hash_of(item.event) == item.event.hash)
        included.append(item)
    return state, included


# --- legal holds and purge -------------------------------------------------------------------------------------------------
@dataclass
class HoldStatus:
    case_id: str
    held: bool
    history: list[dict[str, Any]]


def hold_status(store: EventStore, case_id: str) -> HoldStatus:
    history, held = [], False
    for item in read_case(store, da.hold_case_id(case_id)):
        ev = item.event
        held = type(ev).__name__ == "LegalHoldPlaced"
        history.append(
            {"type": type(ev).__name__, "reference": ev.payload.get("reference"), "reason": ev.reason,
             "actor": ev.actor, "occurred_at": ev.occurred_at.isoformat(), "position": item.position}
        )
    return HoldStatus(case_id, held, history)


def set_hold(store: EventStore, case_id: str, *, held: bool, actor: dict[str, Any], reference: str, reason: str) -> int:
    """Place or release a legal hold (an event on the case's hold aggregate); a no-op change is refused."""
    if not read_case(store, case_id, lte=1):
        raise AuditRefusedError("Perkara tidak ditemukan.", "Case not found.")
    if hold_status(store, case_id).held == held:
        raise AuditRefusedError(
            "Penahanan hukum sudah " + ("berlaku." if held else "tidak berlaku."),
            "The legal hold is already " + ("in place." if held else "released."),
        )
    type_name = "LegalHoldPlaced" if held else "LegalHoldReleased"
    return append(store, da.hold_case_id(case_id), type_name, {"hold_case_id": case_id, "reference": reference}, actor, reason=reason)


@dataclass
class PurgePlan:
    case_id: str
    retention_class: str
    closed_at: str
    expires_at: str
    events: int
    executed: bool = False


def purge_case(
    store: EventStore,
    conn: psycopg.Connection[Any],
    case_id: str,
    policy: da.RetentionPolicy,
    *,
    actor: dict[str, Any],
    execute: bool = False,
    now: datetime | None = None,
) -> PurgePlan:
    """Delete a closed case whose retention has run out and that no legal hold covers; leaves a tombstone."""
    now = now or datetime.now(UTC)
    if da.is_audit_case(case_id):
        raise AuditRefusedError("Jejak audit tidak pernah dihapus.", "The audit trail itself is never purged.")
    stored = read_case(store, case_id)
    if not stored:
        raise AuditRefusedError("Perkara tidak ditemukan.", "Case not found.")
    if hold_status(store, case_id).held:
        raise AuditRefusedError(
            "Perkara berada dalam penahanan hukum (legal hold); penghapusan ditolak.",
            "The case is under a legal hold; purge refused.",
        )
    closed = [s.event for s in stored if type(s.event).__name__ == "CaseClosed"]
    process = stored[0].event.process
    cls = policy.class_for(process)
    if cls.years is None:
        raise AuditRefusedError(f"Kelas retensi {cls.name}: disimpan permanen.", f"Retention class {cls.name}: kept permanently.")
    if not closed:
        raise AuditRefusedError("Perkara belum ditutup.", "The case is not closed.")
    expires = policy.expires_at(process, closed[-1].occurred_at)
    assert expires is not None
    if now < expires:
        raise AuditRefusedError(
            f"Masa retensi {cls.name} berlaku sampai {expires.date().isoformat()}.",
            f"Retention class {cls.name} runs until {expires.date().isoformat()}.",
        )
    plan = PurgePlan(case_id, cls.name, closed[-1].occurred_at.isoformat(), expires.isoformat(), len(stored))
    if not execute:
        return plan
    # The tombstone comes first: the record of the deletion outlives the deleted rows.
    append(
        store, da.purge_case_id(case_id), "CasePurged",
        {
            "purged_case_id": case_id, "retention_class": cls.name, "policy_version": policy.version,
            "closed_at": plan.closed_at, "head_hash": stored[-1].event.hash,
            "events": [{"position": s.position, "version": s.event.originator_version, "hash": s.event.hash} for s in stored],
        },
        actor, reason=f"retention {cls.name} expired {plan.expires_at}", now=now,
    )
    with conn.transaction():
        conn.execute(f"LOCK TABLE {EVENTS_TABLE} IN EXCLUSIVE MODE")
        # A hold placed after the first check wins over the purge.
        if hold_status(store, case_id).held:
            raise AuditRefusedError("Penahanan hukum baru saja ditetapkan.", "A legal hold was just placed.")
        conn.execute(f"DELETE FROM {EVENTS_TABLE} WHERE originator_id = %s", [case_aggregate_id(case_id)])  # noqa: S608
        # Derived rows go too: every view table keyed by case_id (the sealed chain keeps only digests).
        tables = conn.execute(
            "SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'"
            " AND a.attname = 'case_id' AND NOT a.attisdropped AND c.relname <> %s",
            [CHAIN_TABLE],
        ).fetchall()
        for (table,) in tables:
            conn.execute(sql.SQL("DELETE FROM {} WHERE case_id = %s").format(sql.Identifier(table)), [case_id])
        if conn.execute("SELECT to_regclass('cases')").fetchone()[0]:  # type: ignore[index]
            conn.execute("DELETE FROM cases WHERE id = %s", [case_id])
    plan.executed = True
    return plan


def retention_policy(settings: Any) -> da.RetentionPolicy:
    """The configured retention classes (ASNFLOW_AUDIT_RETENTION_FILE) or the defaults."""
    path = settings.audit_retention_file
    return da.load_retention(path.read_text(encoding="utf-8") if path else None)
