"""The event store (eventsourcing on PostgreSQL) and the exactly-once append."""

from __future__ import annotations

import dataclasses
import os
import re
import select
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.application import Application
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import (
    Cipher,
    DatetimeAsISO,
    IntegrityError,
    InterfaceError,
    JSONTranscoder,
    MapperDeserialisationError,
    OperationalError,
    StoredEvent,
    find_id_convertor,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import Environment, resolve_topic, retry
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool
from psycopg.sql import SQL, Identifier

from asnflow.domain.events import (
    EVENT_TYPES,
    CaseEvent,
    case_aggregate_id,
    hash_of,
)
from asnflow.domain.tenancy import DEFAULT_TENANT, tenant_of
from asnflow.workflows.contracts import RecordInput, RecordResult

APP_NAME = "asnflow"
EVENTS_TABLE = "asnflow_events"


class CaseForkedError(Exception):
    """A different event already holds a version this writer wanted: the case would fork."""


class UnknownEventTypeError(Exception):
    """A workflow asked to record an event type the domain does not define."""


def postgres_env(database_url: str, **extra: str) -> dict[str, str]:
    """eventsourcing's environment for a libpq URL (TCP or a unix-socket host= query)."""
    url = urlparse(database_url)
    query = parse_qs(url.query)
    host = query.get("host", [url.hostname or "127.0.0.1"])[0]
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": unquote(url.path.lstrip("/")) or "postgres",
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(url.port or query.get("port", ["5432"])[0]),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_POOL_SIZE": "3",
        "POSTGRES_MAX_OVERFLOW": "8",
        "POSTGRES_CONNECT_TIMEOUT": "5",
        "POSTGRES_PRE_PING": "y",
        "APPLICATION_RECORDER_TOPIC": f"{__name__}:StoreRecorder",
    }
    env.update(extra)
    return env


class StoreRecorder(PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL recorder, appending through one function call: one statement, one round trip.

    The library's append is a pipelined transaction (pool check, BEGIN, SET LOCAL lock_timeout, LOCK TABLE,
    NOTIFY, INSERT, sync, fetch, COMMIT): ~1.4 ms of Python per append, most of a workflow step's recording
    and the worker's largest cost of its own (docs/PERFORMANCE.md). `asnflow_append_events` runs the same
    statements inside the server, in the single transaction of the call: the EXCLUSIVE table lock (so
    notification ids commit in order and readers never pass over a gap), the NOTIFY and the INSERT, whose
    unique violation on a taken version raises IntegrityError exactly as before. (The library's own
    database function, `enable_db_functions`, leaves the table lock out, so it is not used.) A plain call is
    also free of psycopg 3.3.9's pipeline hang on a ~1 MB append over a unix socket, which the previous
    recorder had to route around for a selection round's score file."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema, table = Identifier(self.datastore.schema), Identifier(self.events_table_name)
        function = Identifier(f"{self.events_table_name}_append")
        # Creators may start together (worker, projector, API): one at a time replaces the functions.
        self.sql_create_statements.insert(0, SQL("SELECT pg_advisory_xact_lock(hashtext('asnflow store functions'))"))
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}(events {schema}.{event}[]) RETURNS SETOF bigint"
                " LANGUAGE plpgsql AS $$ BEGIN"
                " SET LOCAL lock_timeout = '{lock_timeout}s';"
                " LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE;"
                " NOTIFY {channel};"
                " RETURN QUERY INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state)"
                " SELECT originator_id, originator_version, topic, state FROM unnest(events) RETURNING notification_id;"
                " END $$"
            ).format(
                schema=schema, function=function, event=Identifier(self.stored_event_type_name), table=table,
                lock_timeout=self.datastore.lock_timeout, channel=Identifier(self.channel_name),
            )
        )
        self._append = SQL("SELECT * FROM {schema}.{function}(%s) AS n").format(schema=schema, function=function)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Append in one statement (its own transaction: the pool's connections are in autocommit)."""
        if not stored_events:
            return []
        rows = [self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state) for e in stored_events]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._append, (rows,), prepare=True)
            return [row["n"] for row in curs.fetchall()]


def _ping_if_touched(conn: Any) -> None:
    """The pool's check: ping only a connection the server wrote to while it sat idle in the pool."""
    # A healthy idle connection has nothing to read; a terminated backend has sent its FATAL message and
    # closed the socket. Pinging every connection handed out cost a round trip per append and per page.
    if conn.closed or select.select([conn.fileno()], [], [], 0)[0]:
        ConnectionPool.check_connection(conn)


class EventStore(Application[Any]):
    """The system of record: one aggregate sequence per case, one global order for auditors."""

    name = APP_NAME
    # Cases are append-only logs read by version range; caching aggregates buys nothing.
    is_snapshotting_enabled = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # POSTGRES_PRE_PING's check, made local (psycopg_pool keeps it in `_check`; left alone if that moves).
        pool = getattr(getattr(self.recorder, "datastore", None), "pool", None)
        if getattr(pool, "_check", None) is ConnectionPool.check_connection:
            pool._check = _ping_if_touched  # type: ignore[union-attr]  # noqa: SLF001


class StoreCipher(AESCipher):
    """eventsourcing's AES-GCM cipher (same bytes: nonce, tag, ciphertext) with its key schedule made once.

    The library builds an AESGCM object per call; reusing one saves ~8 µs of the ~12 µs each event's
    decryption cost here, which a rebuild pays for every stored event (measured, docs/PERFORMANCE.md)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._aesgcm = AESGCM(self.key)

    def encrypt(self, plaintext: bytes) -> bytes:
        """nonce + tag + ciphertext, as eventsourcing.cryptography.AESCipher writes them."""
        nonce = os.urandom(12)
        sealed = self._aesgcm.encrypt(nonce, plaintext, None)
        return nonce + sealed[-16:] + sealed[:-16]

    def decrypt(self, ciphertext: bytes) -> bytes:
        """The plaintext; ValueError for a changed or foreign row (the GCM tag does not verify)."""
        if len(ciphertext) < 28:
            raise ValueError("Damaged cipher text: too short")
        try:
            return self._aesgcm.decrypt(ciphertext[:12], ciphertext[28:] + ciphertext[12:28], None)
        except InvalidTag as exc:
            raise ValueError("Invalid cipher tag") from exc


class StateCodec:
    """Opens raw `state` bytes read by SQL (audit, sealing): the store's cipher, then its JSON transcoder."""

    def __init__(self, env: dict[str, str]) -> None:
        from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, UUIDAsHex

        environment = Environment(APP_NAME, env)
        topic = environment.get("CIPHER_TOPIC")
        self.cipher: Cipher | None = resolve_topic(topic)(environment) if topic else None
        self.transcoder = JSONTranscoder()
        for t in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
            self.transcoder.register(t)

    def decode(self, state: bytes) -> dict[str, Any]:
        """The event's fields; ValueError when the bytes were changed (AES-GCM tag) or are not an event."""
        plain = self.cipher.decrypt(state) if self.cipher is not None else state
        return self.transcoder.decode(plain)  # type: ignore[no-any-return]


@dataclass
class StoredCaseEvent:
    """A stored event with its global position."""

    position: int
    event: CaseEvent


def build_events(inp: RecordInput, default_tenant: str = DEFAULT_TENANT) -> tuple[list[CaseEvent], str]:
    """Construct the domain events of a RecordInput with their hash links and the case's tenant."""
    # The tenant comes from the case id, never from the caller: a case cannot be recorded into
    # another tenant, and no workflow input had to change (old histories replay unchanged).
    tenant = tenant_of(inp.case_id, default_tenant)
    originator_id = case_aggregate_id(inp.case_id)
    occurred_at = datetime.fromisoformat(inp.occurred_at)
    previous = inp.previous_hash
    events: list[CaseEvent] = []
    for offset, new in enumerate(inp.events, start=1):
        cls = EVENT_TYPES.get(new.type)
        if cls is None:
            raise UnknownEventTypeError(new.type)
        version = inp.expected_version + offset
        unsealed = cls(
            originator_id=originator_id,
            originator_version=version,
            timestamp=occurred_at,
            case_id=inp.case_id,
            process=inp.process,
            occurred_at=occurred_at,
            actor=new.actor,
            workflow_id=inp.workflow_id,
            run_id=inp.run_id,
            reason=new.reason,
            payload=new.payload,
            previous_hash=previous,
            hash="",
            tenant=tenant,
        )
        digest = hash_of(unsealed)
        events.append(dataclasses.replace(unsealed, hash=digest))
        previous = digest
    return events, previous


STEP_FIELDS = ("case_id", "tenant", "process", "workflow_id", "run_id", "actor", "reason", "payload")


def _same_step(stored: CaseEvent, new: CaseEvent) -> bool:
    """The same event of the same workflow run, whenever it ran (hash and occurred_at aside)."""
    return type(stored) is type(new) and (stored.hash == new.hash or all(
        getattr(stored, name) == getattr(new, name) for name in STEP_FIELDS
    ))


def record(store: EventStore, inp: RecordInput, default_tenant: str = DEFAULT_TENANT) -> RecordResult:
    """Append at exactly the expected version; a retry of a committed append succeeds unchanged."""
    events, last_hash = build_events(inp, default_tenant)
    if not events:
        return RecordResult(version=inp.expected_version, last_hash=inp.previous_hash, positions=[])
    try:
        recordings = store.save(*events)
        positions = [r.notification.id for r in recordings]
    except IntegrityError:
        # Either our own earlier attempt committed (then the stored events are identical,
        # hashes included) or another writer took these versions: that would fork the case.
        stored = read_case(
            store,
            inp.case_id,
            gt=inp.expected_version,
            lte=inp.expected_version + len(events),
        )
        # A workflow task retried after a worker crash runs the step again at a later workflow time:
        # the same run's same events with another occurred_at (so other hashes). The first attempt's
        # events stand and the workflow chains on from them; any other difference is a fork.
        same = len(stored) == len(events) and all(
            _same_step(s.event, e) for s, e in zip(stored, events, strict=False)
        )
        if not same:
            raise CaseForkedError(
                f"case {inp.case_id} already has other events after version {inp.expected_version}"
            ) from None
        positions = [s.position for s in stored]
        last_hash = stored[-1].event.hash
    return RecordResult(
        version=inp.expected_version + len(events), last_hash=last_hash, positions=positions
    )


def read_case(
    store: EventStore, case_id: str, *, gt: int | None = None, lte: int | None = None
) -> list[StoredCaseEvent]:
    """A case's events in version order with their global positions."""
    sql = (
        f"SELECT notification_id, originator_id, originator_version, topic, state "  # noqa: S608
        f"FROM {EVENTS_TABLE} WHERE originator_id = %s"
    )
    params: list[Any] = [case_aggregate_id(case_id)]
    if gt is not None:
        sql += " AND originator_version > %s"
        params.append(gt)
    if lte is not None:
        sql += " AND originator_version <= %s"
        params.append(lte)
    sql += " ORDER BY originator_version"
    return list(_decode_rows(store, sql, params))


def read_log(store: EventStore, *, gt: int = 0, limit: int = 1000) -> list[StoredCaseEvent]:
    """A page of the global log after position `gt`."""
    sql = (
        f"SELECT notification_id, originator_id, originator_version, topic, state "  # noqa: S608
        f"FROM {EVENTS_TABLE} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
    )
    return list(_decode_rows(store, sql, [gt, limit]))


def max_position(store: EventStore) -> int:
    """The highest global position in the store (0 when empty)."""
    return store.recorder.max_notification_id() or 0  # type: ignore[attr-defined]


def _decode_rows(store: EventStore, sql: str, params: list[Any]) -> Iterator[StoredCaseEvent]:
    datastore = store.recorder.datastore  # type: ignore[attr-defined]
    # Binary results: bytea arrives as raw bytes instead of hex text, which halves the cost of a read.
    with datastore.get_connection() as conn, conn.cursor(binary=True, row_factory=tuple_row) as curs:
        curs.execute(sql, params)
        rows = curs.fetchall()
    decode = EventDecoder.of(store).decode
    for position, originator_id, version, topic, state in rows:
        yield StoredCaseEvent(position=position, event=decode(originator_id, version, topic, state))


# A JSON integer of 19 or more digits: orjson reads those as floats, the json module as exact ints. Such an
# event goes to the library's decoder. Two C passes find any run of 19 digits (NIPs have 18); only then is
# the slower pattern run, which tells a number (after ':', ',' or '[') from a string (a genesis hash: 64 zeros).
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x2E for b in range(256))
_LONG_RUN = b"0" * 19
_LONG_INTEGER = re.compile(rb"[:,\[]\s*-?[0-9]{19}")


def _long_integer(plain: bytes) -> bool:
    return _LONG_RUN in plain.translate(_DIGITS) and _LONG_INTEGER.search(plain) is not None


_TYPED = b'"_type_"'
_USUALLY_TYPED = ("timestamp", "occurred_at")


class EventDecoder:
    """The store mapper's `to_domain_event`, same objects, with less work per event (every read of the log pays it).

    The library decodes each event's JSON with a Python `object_hook` called for every dict, which
    was a quarter of a rebuild's time: here orjson reads the JSON and only the top-level fields that
    hold a typed value (`{"_type_": ..., "_data_": ...}`, e.g. `occurred_at`) are converted. Any
    state where that shortcut could differ from the library — a typed value nested deeper, an
    integer orjson would turn into a float, JSON orjson refuses (NaN, lone surrogates) — is decoded
    by the library's own transcoder instead (tests/unit/test_event_decoder.py compares both).
    """

    def __init__(self, store: EventStore) -> None:
        mapper: Any = store.mapper
        self.mapper = mapper
        self.cipher = mapper.cipher
        self.compressor = mapper.compressor
        self.transcoder = mapper.transcoder
        # Only the library's JSON transcoder is mirrored; another transcoder decodes as it does.
        self.fast = type(self.transcoder) is JSONTranscoder
        self.names: dict[str, Any] = self.transcoder.names if self.fast else {}
        self.classes: dict[str, tuple[type, Any, int]] = {}

    @classmethod
    def of(cls, store: EventStore) -> EventDecoder:
        """The store's decoder (made once per store)."""
        decoder = store.__dict__.get("_asnflow_decoder")
        if decoder is None:
            decoder = store.__dict__["_asnflow_decoder"] = cls(store)
        return decoder  # type: ignore[no-any-return]

    def fields(self, state: bytes) -> dict[str, Any]:
        """The event's stored fields: decrypted, decompressed and decoded as the library's transcoder would."""
        plain = self.cipher.decrypt(state) if self.cipher else state
        if self.compressor:
            plain = self.compressor.decompress(plain)
        if not self.fast or _long_integer(plain):
            return self.transcoder.decode(plain)  # type: ignore[no-any-return]
        try:
            fields = orjson.loads(plain)
        except orjson.JSONDecodeError:
            return self.transcoder.decode(plain)  # type: ignore[no-any-return]
        typed = plain.count(_TYPED)
        if typed:
            if type(fields) is not dict:
                return self.transcoder.decode(plain)  # type: ignore[no-any-return]
            found = 0
            # The envelope's datetimes first: in the usual event they are its only typed values.
            for key in _USUALLY_TYPED:
                value = fields.get(key)
                if type(value) is dict and len(value) == 2 and "_type_" in value and "_data_" in value:
                    fields[key] = self._typed(value)
                    found += 1
            if found != typed:
                for key, value in fields.items():
                    if key not in _USUALLY_TYPED and type(value) is dict and len(value) == 2 and "_type_" in value and "_data_" in value:
                        fields[key] = self._typed(value)
                        found += 1
            if found != typed:  # a typed value elsewhere (or the text "_type_" in a value): the library decides
                return self.transcoder.decode(plain)  # type: ignore[no-any-return]
        return fields  # type: ignore[no-any-return]

    def _typed(self, value: dict[str, Any]) -> Any:
        """What the library's object hook makes of `{"_type_": name, "_data_": data}`."""
        transcoding = self.names.get(value["_type_"]) if type(value["_type_"]) is str else None
        if transcoding is None:
            return self.transcoder._decode_obj(value)  # noqa: SLF001 - the library's own conversion (or its error)
        data = value["_data_"]
        if type(transcoding) is DatetimeAsISO and type(data) is str:
            return datetime.fromisoformat(data)  # DatetimeAsISO.decode without its call
        return transcoding.decode(data)

    def decode(self, originator_id: Any, version: int, topic: str, state: bytes) -> Any:
        """The domain event of one stored row (as `store.mapper.to_domain_event(StoredEvent(...))`)."""
        known = self.classes.get(topic)
        if known is None:
            event_class = resolve_topic(topic)
            known = self.classes[topic] = (
                event_class, find_id_convertor(event_class, type(originator_id)), getattr(event_class, "class_version", 1),
            )
        event_class, id_convertor, class_version = known
        try:
            fields = self.fields(state)
        except Exception as exc:
            msg = (
                f"Failed to deserialise state of stored event with topic '{topic}', "
                f"originator_id '{originator_id}' and originator_version {version}: {exc}"
            )
            raise MapperDeserialisationError(msg) from exc
        fields["originator_id"] = id_convertor(originator_id)
        fields["originator_version"] = version
        from_version = fields.pop("class_version", 1)
        while from_version < class_version:
            getattr(event_class, f"upcast_v{from_version}_v{from_version + 1}")(fields)
            from_version += 1
        event = object.__new__(event_class)
        object.__setattr__(event, "__dict__", fields)
        return event
