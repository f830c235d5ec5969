"""Read models: each view writes its rows and its tracking position in one transaction."""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import orjson
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from psycopg import Cursor
from psycopg.errors import UniqueViolation
from psycopg.rows import DictRow
from psycopg.sql import SQL
from psycopg.types.json import Jsonb

from asnflow.domain import events as ev
from asnflow.domain import kinship as kin
from asnflow.domain.personal import redact
from asnflow.domain.tenancy import LEGACY_TENANT

Handler = Callable[[Any, Cursor[DictRow], Any, int], None]


TENANT_SETTING = "asnflow.tenant"


def tenant_column_ddl(table: str) -> str:
    """Give a view table its tenant column once: existing rows are the legacy tenant's, new rows the event's."""
    # The column's default is the transaction's tenant setting, which process()/bulk() set from each
    # event before its handler runs: handlers write rows without naming the tenant, and a writer that
    # never set it fails on NOT NULL instead of filing rows under a wrong tenant.
    return (
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
        f" AND table_name = '{table}' AND column_name = 'tenant') THEN"
        f" ALTER TABLE {table} ADD COLUMN tenant text NOT NULL DEFAULT '{LEGACY_TENANT}';"
        f" ALTER TABLE {table} ALTER COLUMN tenant SET DEFAULT NULLIF(current_setting('{TENANT_SETTING}', true), '');"
        " END IF; END $$"
    )


def set_tenant(curs: Cursor[DictRow], tenant: str) -> None:
    """The tenant that rows written in this transaction belong to."""
    curs.execute("SELECT set_config(%s, %s, true)", (TENANT_SETTING, tenant))


# orjson's options that make it refuse what json.dumps refuses (datetimes, dataclasses, subclasses of str/int/dict/list).
_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
# json.dumps's own C encoder, made once (json.dumps makes one per call), refusing NaN instead of writing it.
_C_ENCODE = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, False,  # type: ignore[attr-defined]
)


def json_for_jsonb(obj: Any) -> bytes | str:
    """JSON for a jsonb column: the value json.dumps (psycopg's default) writes, made faster.

    jsonb stores the parsed value, so spacing and escapes do not matter. orjson (~10x faster) writes NaN
    and the infinities as null where json.dumps writes NaN (which jsonb refuses) and fails on integers over
    64 bits, so orjson's text is kept only without any null; otherwise json's C encoder, made once, writes
    it, and json.dumps itself only where that refuses (NaN). One difference is left: a UUID object (only a
    typed value nested in a stored payload could be one) is written as its text where json.dumps raises.
    """
    try:
        text = orjson.dumps(obj, option=_STRICT)
    except TypeError:
        return json.dumps(obj)
    if b"null" not in text:
        return text
    try:
        return "".join(_C_ENCODE(obj, 0))
    except ValueError:
        return json.dumps(obj)


def jsonb(obj: Any) -> Jsonb:
    """A jsonb parameter written by `json_for_jsonb` (the views a rebuild writes row by row)."""
    return Jsonb(obj, dumps=json_for_jsonb)


class View(PostgresTrackingRecorder):
    """A PostgreSQL view table set plus its tracking row; rebuildable by dropping it.

    Every table in `tables` gets a `tenant` column filled from the event being applied
    (tests/unit/test_tenancy.py fails for a view table without one); the API reads each tenant
    through its own schema of filtered views (asnflow/api/tenancy.py).
    """

    tables: ClassVar[tuple[str, ...]] = ()
    kept_tables: ClassVar[tuple[str, ...]] = ()  # tables of this view that a rebuild keeps (people's own state)
    ddl: ClassVar[tuple[str, ...]] = ()
    indexes: ClassVar[tuple[str, ...]] = ()  # DDL naming the tenant column: run after the column is added
    handlers: ClassVar[dict[type, str]] = {}

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.extend(SQL(stmt) for stmt in self.ddl)  # type: ignore[arg-type]
        for table in (*self.tables, *self.kept_tables):
            self.sql_create_statements.append(SQL(tenant_column_ddl(table)))  # type: ignore[arg-type]
        self.sql_create_statements.extend(SQL(stmt) for stmt in self.indexes)  # type: ignore[arg-type]

    def process(self, event: Any, tracking: Tracking) -> None:
        """Apply one event and advance tracking atomically (exactly once per position)."""
        with self.datastore.transaction(commit=True) as curs:
            self.apply_page(curs, [(event, tracking.notification_id)])
            self._insert_tracking(curs, tracking)

    def concerns(self, event: Any) -> bool:
        """Whether applying `event` may write anything here; the pages call `apply` only for such events."""
        # A view answers False only where its `apply` would do nothing, so that a page of events this view
        # ignores costs it no statement at all (not even the tenant setting).
        if type(self).apply is View.apply:
            return type(event) in self.handlers
        return True

    def apply_page(self, curs: Cursor[DictRow], pairs: Iterable[tuple[Any, int]]) -> None:
        """Write the rows of (event, position) pairs in order, each under its event's tenant (no commit)."""
        current: str | None = None
        for event, position in pairs:
            if not self.concerns(event):
                continue
            # Set only when it changes: a page holds long runs of one tenant's events.
            if isinstance(event, ev.CaseEvent) and event.tenant != current:
                set_tenant(curs, event.tenant)
                current = event.tenant
            self.apply(curs, event, position)

    def apply(self, curs: Cursor[DictRow], event: Any, position: int) -> None:
        """Write the rows one event implies (no commit)."""
        name = self.handlers.get(type(event))
        if name is not None:
            getattr(self, name)(curs, event, position)

    @contextmanager
    def bulk(self, curs: Cursor[DictRow]) -> Iterator[Callable[[Iterable[tuple[Any, int]]], None]]:
        """A rebuild's writer of (event, position) pages, applied in order; all written when the block ends."""
        # Pipeline mode sends the statements without waiting for each reply (same SQL, same order),
        # so the server keeps working while the next page is read.
        with curs.connection.pipeline():

            def write(page: Iterable[tuple[Any, int]]) -> None:
                self.apply_page(curs, page)

            yield write

    def reset(self, curs: Cursor[DictRow], application_name: str) -> None:
        """Empty the view and forget its position (inside the caller's transaction)."""
        for table in self.tables:
            curs.execute(SQL("DELETE FROM {}").format(SQL(table)))  # type: ignore[arg-type]
        curs.execute(
            SQL("DELETE FROM {} WHERE application_name = %s").format(SQL(self.tracking_table_name)),  # type: ignore[arg-type]
            (application_name,),
        )


def _actor_nip(event: ev.CaseEvent) -> str | None:
    return event.actor.get("nip")


class EmployeesView(View):
    tables = ("employees", "kinship")
    ddl = (
        "CREATE TABLE IF NOT EXISTS employees ("
        " nip text PRIMARY KEY, nama text NOT NULL, jenis_kelamin text, tanggal_lahir date,"
        " golongan text, jabatan text NOT NULL, jenis_jabatan text NOT NULL, unit text NOT NULL,"
        " atasan_nip text, pendidikan text, tmt_golongan date, tmt_jabatan date,"
        " roles jsonb NOT NULL DEFAULT '[]', updated_position bigint NOT NULL)",
        # Promotion facts from the optional import columns (added in place on an existing view).
        "ALTER TABLE employees ADD COLUMN IF NOT EXISTS hukuman_disiplin_jenis text,"
        " ADD COLUMN IF NOT EXISTS hukuman_disiplin_mulai date, ADD COLUMN IF NOT EXISTS hukuman_disiplin_sampai date,"
        " ADD COLUMN IF NOT EXISTS nilai_kompetensi numeric",
        "CREATE INDEX IF NOT EXISTS employees_atasan_idx ON employees (atasan_nip)",
        "CREATE INDEX IF NOT EXISTS employees_unit_idx ON employees (unit)",
        # The kinship registry lives beside the directory: declared pairs, looked up both ways.
        "CREATE TABLE IF NOT EXISTS kinship ("
        " nip text NOT NULL, relative_nip text NOT NULL, relation text NOT NULL, declared_at timestamptz NOT NULL,"
        " position bigint NOT NULL, PRIMARY KEY (nip, relative_nip))",
        "CREATE INDEX IF NOT EXISTS kinship_relative_idx ON kinship (relative_nip)",
    )
    handlers = {
        ev.EmployeeRegistered: "on_registered",
        ev.EmployeeUpdated: "on_updated",
        kin.KinshipDeclared: "on_kinship_declared",
        kin.KinshipWithdrawn: "on_kinship_withdrawn",
    }
    columns = (
        "nip", "nama", "jenis_kelamin", "tanggal_lahir", "golongan", "jabatan", "jenis_jabatan",
        "unit", "atasan_nip", "pendidikan", "tmt_golongan", "tmt_jabatan",
        "hukuman_disiplin_jenis", "hukuman_disiplin_mulai", "hukuman_disiplin_sampai", "nilai_kompetensi",
    )

    def _upsert(self, curs: Cursor[DictRow], record: dict[str, Any], position: int) -> None:
        # Empty strings are absent values; a competency score of 0 is a value.
        values = [None if record.get(c) in ("", None) else record.get(c) for c in self.columns]
        curs.execute(
            "INSERT INTO employees (" + ", ".join(self.columns) + ", roles, updated_position) VALUES ("
            + ", ".join(["%s"] * len(self.columns)) + ", %s, %s) ON CONFLICT (nip) DO UPDATE SET "
            + ", ".join(f"{c} = EXCLUDED.{c}" for c in self.columns[1:])
            + ", roles = EXCLUDED.roles, updated_position = EXCLUDED.updated_position",
            [*values, Jsonb(record.get("roles", [])), position],
        )

    def on_registered(self, curs: Cursor[DictRow], event: ev.EmployeeRegistered, position: int) -> None:
        self._upsert(curs, event.payload, position)

    def on_updated(self, curs: Cursor[DictRow], event: ev.EmployeeUpdated, position: int) -> None:
        self._upsert(curs, event.payload["record"], position)

    def on_kinship_declared(self, curs: Cursor[DictRow], event: Any, position: int) -> None:
        p = event.payload
        curs.execute(
            "INSERT INTO kinship (nip, relative_nip, relation, declared_at, position) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (nip, relative_nip) DO UPDATE SET relation = EXCLUDED.relation, position = EXCLUDED.position",
            (p["nip"], p["relative_nip"], p["relation"], event.occurred_at, position),
        )

    def on_kinship_withdrawn(self, curs: Cursor[DictRow], event: Any, position: int) -> None:
        p = event.payload
        curs.execute("DELETE FROM kinship WHERE nip = %s AND relative_nip = %s", (p["nip"], p["relative_nip"]))


class CasesView(View):
    tables = ("cases",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS cases ("
        " id text PRIMARY KEY, process text NOT NULL, subject_nip text, unit text, title text,"
        " status text NOT NULL, opened_at timestamptz NOT NULL, closed_at timestamptz,"
        " workflow_id text NOT NULL, run_id text NOT NULL, opened_by text, data jsonb NOT NULL DEFAULT '{}',"
        " outcome jsonb NOT NULL DEFAULT '{}', last_event text, last_position bigint NOT NULL,"
        " event_count int NOT NULL DEFAULT 0)",
        "CREATE INDEX IF NOT EXISTS cases_subject_idx ON cases (subject_nip)",
        "CREATE INDEX IF NOT EXISTS cases_process_status_idx ON cases (process, status, opened_at DESC)",
        "CREATE INDEX IF NOT EXISTS cases_unit_idx ON cases (unit, opened_at DESC)",
    )

    def apply(self, curs: Cursor[DictRow], event: Any, position: int) -> None:
        if isinstance(event, ev.CaseOpened):
            p = event.payload
            curs.execute(
                "INSERT INTO cases (id, process, subject_nip, unit, title, status, opened_at, workflow_id,"
                " run_id, opened_by, data, last_event, last_position, event_count)"
                " VALUES (%s, %s, %s, %s, %s, 'open', %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    event.case_id, event.process, p.get("subject_nip"), p.get("unit"), p.get("title"),
                    event.occurred_at, event.workflow_id, event.run_id, _actor_nip(event),
                    Jsonb(p.get("data", {})), "CaseOpened", position, event.originator_version,
                ),
            )
        elif isinstance(event, ev.CaseClosed):
            curs.execute(
                "UPDATE cases SET status = %s, closed_at = %s, outcome = %s, last_event = %s,"
                " last_position = %s, event_count = %s WHERE id = %s",
                (
                    event.payload.get("status", "completed"), event.occurred_at,
                    Jsonb(event.payload.get("outcome", {})), "CaseClosed", position,
                    event.originator_version, event.case_id,
                ),
            )
        elif isinstance(event, ev.CaseEvent) and event.process != "directory":
            curs.execute(
                "UPDATE cases SET last_event = %s, last_position = %s, event_count = %s WHERE id = %s",
                (type(event).__name__, position, event.originator_version, event.case_id),
            )


# Active tasks per assignee, process and kind: the inbox reads its count of my own tasks here instead of
# counting them (an index scan of every open task of mine per request: 3,419 at the bench's 100,000,
# bench/api.py). Kept by statement triggers on `tasks`, so every writer (the live handlers, the
# rebuild's COPY, escalations moving a task to another assignee) changes it in the same transaction as
# the rows it counts; the rebuild's reset empties it with the tasks. Rows may hold n = 0.
_ACTIVE_ASSIGNED = "assignee_nip IS NOT NULL AND status IN ('open', 'claimed')"
_COUNT_DELTA = (
    "INSERT INTO task_counts AS c (tenant, assignee_nip, process, kind, n) SELECT tenant, assignee_nip, process, kind, sum(d)"
    " FROM ({rows}) x GROUP BY 1, 2, 3, 4 HAVING sum(d) <> 0"
    " ON CONFLICT (assignee_nip, process, kind, tenant) DO UPDATE SET n = c.n + excluded.n;"
)
_NEW = f"SELECT tenant, assignee_nip, process, kind, 1 AS d FROM task_rows_new WHERE {_ACTIVE_ASSIGNED}"
_OLD = f"SELECT tenant, assignee_nip, process, kind, -1 AS d FROM task_rows_old WHERE {_ACTIVE_ASSIGNED}"
TASK_COUNTS_DDL = (
    # One installer at a time; a first install counts the rows already there while writes wait.
    "SELECT pg_advisory_xact_lock(hashtext('asnflow task_counts'))",
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'tasks_counted_update' AND NOT tgisinternal) THEN"
    " LOCK TABLE tasks IN SHARE ROW EXCLUSIVE MODE; DELETE FROM task_counts;"
    f" INSERT INTO task_counts SELECT tenant, assignee_nip, process, kind, count(*) FROM tasks WHERE {_ACTIVE_ASSIGNED}"
    " GROUP BY 1, 2, 3, 4; END IF; END $$",
    "CREATE OR REPLACE FUNCTION task_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    f" IF TG_OP = 'INSERT' THEN {_COUNT_DELTA.format(rows=_NEW)}"
    f" ELSIF TG_OP = 'DELETE' THEN {_COUNT_DELTA.format(rows=_OLD)}"
    f" ELSE {_COUNT_DELTA.format(rows=_NEW + ' UNION ALL ' + _OLD)} END IF; RETURN NULL; END $$",
    "CREATE OR REPLACE TRIGGER tasks_counted_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS task_rows_new"
    " FOR EACH STATEMENT EXECUTE FUNCTION task_counts_apply()",
    "CREATE OR REPLACE TRIGGER tasks_counted_update AFTER UPDATE ON tasks"
    " REFERENCING OLD TABLE AS task_rows_old NEW TABLE AS task_rows_new FOR EACH STATEMENT EXECUTE FUNCTION task_counts_apply()",
    "CREATE OR REPLACE TRIGGER tasks_counted_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS task_rows_old"
    " FOR EACH STATEMENT EXECUTE FUNCTION task_counts_apply()",
)


class TasksView(View):
    tables = ("tasks", "task_counts")
    ddl = (
        "CREATE TABLE IF NOT EXISTS tasks ("
        " id text PRIMARY KEY, case_id text NOT NULL, process text NOT NULL, kind text NOT NULL,"
        " title text, status text NOT NULL, assignee_nip text, candidate_role text, unit text,"
        " subject_nip text, due_at timestamptz, opened_at timestamptz NOT NULL, outcomes jsonb NOT NULL,"
        " claimed_by text, outcome text, decided_by text, closed_at timestamptz, reason text,"
        " data jsonb NOT NULL DEFAULT '{}', updated_position bigint NOT NULL)",
        # The inbox: a person's open tasks by due date, and a role's pool in a unit.
        "CREATE INDEX IF NOT EXISTS tasks_assignee_idx ON tasks (assignee_nip, status, due_at)",
        "CREATE INDEX IF NOT EXISTS tasks_pool_idx ON tasks (candidate_role, unit, status, due_at)",
        "CREATE INDEX IF NOT EXISTS tasks_case_idx ON tasks (case_id)",
        # Claimed tasks in the inbox: with the two above, the inbox's OR becomes a bitmap of index scans.
        "CREATE INDEX IF NOT EXISTS tasks_claimed_idx ON tasks (claimed_by) WHERE claimed_by IS NOT NULL",
        "CREATE TABLE IF NOT EXISTS task_counts (tenant text NOT NULL, assignee_nip text NOT NULL, process text NOT NULL,"
        " kind text NOT NULL, n bigint NOT NULL, PRIMARY KEY (assignee_nip, process, kind, tenant))",
    )
    indexes = (
        # A person's active tasks in the inbox's order (due_at NULLS FIRST): the page comes from the index
        # without a sort, and with the filters' columns included the count is an index-only scan.
        "CREATE INDEX IF NOT EXISTS tasks_inbox_idx ON tasks (assignee_nip, due_at NULLS FIRST, id)"
        " INCLUDE (tenant, process, kind) WHERE status IN ('open', 'claimed')",
        *TASK_COUNTS_DDL,  # after the tenant column: the triggers and the first count read it
    )
    handlers = {
        ev.TaskOpened: "on_opened",
        ev.TaskClaimed: "on_claimed",
        ev.TaskReleased: "on_released",
        ev.TaskDecided: "on_decided",
        ev.TaskCancelled: "on_cancelled",
    }

    # Every handler writes through these two, so the rebuild can fold a task's events into one row in
    # memory (then COPY it) while the live projector runs the same changes as SQL, one event at a time.
    _fold: _TaskFold | None = None
    fold_limit: ClassVar[int] = 50_000  # task rows a rebuild holds before writing them (~1 kB each)

    def insert_task(self, curs: Cursor[DictRow], event: ev.CaseEvent, values: dict[str, Any]) -> None:
        """Add a task row (its tenant is the event's, as the transaction's tenant setting gives it live)."""
        if self._fold is not None:
            self._fold.insert(curs, event, values)
            return
        curs.execute(
            "INSERT INTO tasks (" + ", ".join(values) + ") VALUES (" + ", ".join(["%s"] * len(values)) + ")",  # noqa: S608 - our keys
            list(values.values()),
        )

    def update_task(
        self, curs: Cursor[DictRow], task_id: str, values: dict[str, Any], *, statuses: tuple[str, ...] = ()
    ) -> None:
        """Change a task row's columns (only while its status is one of `statuses`, when given); no row, no change."""
        if self._fold is not None and self._fold.update(task_id, values, statuses):
            return
        curs.execute(
            "UPDATE tasks SET " + ", ".join(f"{k} = %s" for k in values) + " WHERE id = %s"  # noqa: S608 - our keys
            + (" AND status IN (" + ", ".join(["%s"] * len(statuses)) + ")" if statuses else ""),
            [*values.values(), task_id, *statuses],
        )

    @contextmanager
    def bulk(self, curs: Cursor[DictRow]) -> Iterator[Callable[[Iterable[tuple[Any, int]]], None]]:
        # A task's rows are folded in memory and COPYed once, instead of an INSERT and a non-HOT UPDATE
        # (five indexes) per event; every row carries its tenant, so the tenant setting is not needed.
        self._fold = _TaskFold(self.fold_limit)
        try:

            def write(page: Iterable[tuple[Any, int]]) -> None:
                for event, position in page:
                    self.apply(curs, event, position)

            yield write
            self._fold.flush(curs)
        finally:
            self._fold = None

    def on_opened(self, curs: Cursor[DictRow], event: ev.TaskOpened, position: int) -> None:
        p = event.payload
        self.insert_task(curs, event, {
            "id": p["task_id"], "case_id": event.case_id, "process": event.process, "kind": p["kind"], "title": p.get("title"),
            "status": "open", "assignee_nip": p.get("assignee_nip"), "candidate_role": p.get("candidate_role"),
            "unit": p.get("unit"), "subject_nip": p.get("subject_nip"), "due_at": p.get("due_at"), "opened_at": event.occurred_at,
            "outcomes": jsonb(p.get("outcomes", [])), "updated_position": position,
        })

    def on_claimed(self, curs: Cursor[DictRow], event: ev.TaskClaimed, position: int) -> None:
        self.update_task(
            curs, event.payload["task_id"],
            {"status": "claimed", "claimed_by": event.payload["claimed_by"], "updated_position": position},
        )

    def on_released(self, curs: Cursor[DictRow], event: ev.TaskReleased, position: int) -> None:
        self.update_task(curs, event.payload["task_id"], {"status": "open", "claimed_by": None, "updated_position": position})

    def on_decided(self, curs: Cursor[DictRow], event: ev.TaskDecided, position: int) -> None:
        self.update_task(curs, event.payload["task_id"], {
            "status": "done", "outcome": event.payload["outcome"], "decided_by": _actor_nip(event), "closed_at": event.occurred_at,
            "reason": event.reason, "data": jsonb(event.payload.get("data", {})), "updated_position": position,
        })

    def on_cancelled(self, curs: Cursor[DictRow], event: ev.TaskCancelled, position: int) -> None:
        self.update_task(
            curs, event.payload["task_id"],
            {"status": "cancelled", "closed_at": event.occurred_at, "reason": event.reason, "updated_position": position},
        )


class _TaskFold:
    """A rebuild's task rows held in memory until COPYed: each event changes its task's row here, not in SQL.

    Rows are written (COPY, grouped by the columns they set; the others take their defaults) when the
    rebuild ends or `limit` rows are held. A later change to a row already written, or to no row, is
    left to the caller's SQL, which does what the live projector would.
    """

    def __init__(self, limit: int = 50_000) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.limit = limit

    def insert(self, curs: Cursor[DictRow], event: ev.CaseEvent, values: dict[str, Any]) -> None:
        """Hold a new row; a task id held twice fails as the live INSERT would (primary key)."""
        task_id = values["id"]
        if task_id in self.rows:
            raise UniqueViolation(f'duplicate key value violates unique constraint "tasks_pkey": (id)=({task_id})')
        if len(self.rows) >= self.limit:
            self.flush(curs)
        # The live INSERT's tenant column defaults to NULLIF(<the event's tenant>, '').
        self.rows[task_id] = {**values, "tenant": event.tenant or None}

    def update(self, task_id: str, values: dict[str, Any], statuses: tuple[str, ...]) -> bool:
        """Apply a change to a held row (True); False when the row is not held here."""
        row = self.rows.get(task_id)
        if row is None:
            return False
        if not statuses or row["status"] in statuses:
            row.update(values)
        return True

    def flush(self, curs: Cursor[DictRow]) -> None:
        """COPY every held row into the table and forget them."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in self.rows.values():
            groups.setdefault(tuple(row), []).append(row)
        for columns, rows in groups.items():
            # Text format: the server parses each value as it parses the live statements' parameters.
            with curs.copy("COPY tasks (" + ", ".join(columns) + ") FROM STDIN") as copy:  # noqa: S608 - our keys
                for row in rows:
                    copy.write_row(tuple(row.values()))
        self.rows.clear()


class AuditLogView(View):
    tables = ("audit_log",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS audit_log ("
        " position bigint PRIMARY KEY, case_id text NOT NULL, process text NOT NULL, type text NOT NULL,"
        " version int NOT NULL, occurred_at timestamptz NOT NULL, actor jsonb NOT NULL, actor_nip text,"
        " reason text, payload jsonb NOT NULL, previous_hash text NOT NULL, hash text NOT NULL,"
        " workflow_id text, run_id text)",
        "CREATE INDEX IF NOT EXISTS audit_case_idx ON audit_log (case_id, version)",
        "CREATE INDEX IF NOT EXISTS audit_actor_idx ON audit_log (actor_nip, occurred_at)",
        "CREATE INDEX IF NOT EXISTS audit_type_idx ON audit_log (type, occurred_at)",
        "CREATE INDEX IF NOT EXISTS audit_time_idx ON audit_log (occurred_at)",
        # Payloads are stored with personal values redacted (NIK, contacts, reporters: the store alone holds them,
        # encrypted). Such a row's hash cannot be recomputed from the view, so the check made when it was
        # projected is kept here; NULL for rows stored whole.
        "ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS redacted_hash_valid boolean",
    )

    columns = (
        "position", "case_id", "process", "type", "version", "occurred_at", "actor", "actor_nip",
        "reason", "payload", "previous_hash", "hash", "workflow_id", "run_id", "redacted_hash_valid", "tenant",
    )
    column_types = (
        "int8", "text", "text", "text", "int4", "timestamptz", "jsonb", "text",
        "text", "jsonb", "text", "text", "text", "text", "bool", "text",
    )

    def row(self, event: Any, position: int) -> tuple[Any, ...] | None:
        """The one row an event adds (None for events outside the audit envelope)."""
        if not isinstance(event, ev.CaseEvent):
            return None
        payload = redact(event.payload)
        redacted_hash_valid = None if payload is event.payload else ev.hash_of(event) == event.hash
        return (
            position, event.case_id, event.process, type(event).__name__, event.originator_version,
            event.occurred_at, jsonb(event.actor), _actor_nip(event), event.reason, jsonb(payload),
            event.previous_hash, event.hash, event.workflow_id, event.run_id, redacted_hash_valid, event.tenant,
        )

    def apply(self, curs: Cursor[DictRow], event: Any, position: int) -> None:
        row = self.row(event, position)
        if row is not None:
            curs.execute(
                "INSERT INTO audit_log (" + ", ".join(self.columns) + ") VALUES ("  # noqa: S608
                + ", ".join(["%s"] * len(self.columns)) + ")",
                row,
            )

    @contextmanager
    def bulk(self, curs: Cursor[DictRow]) -> Iterator[Callable[[Iterable[tuple[Any, int]]], None]]:
        # Insert-only, one row per event: one binary COPY for the whole rebuild is the fastest way in.
        with curs.copy("COPY audit_log (" + ", ".join(self.columns) + ") FROM STDIN (FORMAT BINARY)") as copy:  # noqa: S608
            copy.set_types(self.column_types)

            def write(page: Iterable[tuple[Any, int]]) -> None:
                for event, position in page:
                    row = self.row(event, position)
                    if row is not None:
                        copy.write_row(row)

            yield write


class ViewProjection(Projection[View]):
    """Feeds every event to its view; unhandled events still advance tracking."""

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.process(domain_event, tracking)


class EmployeesProjection(ViewProjection):
    name = "employees"


class CasesProjection(ViewProjection):
    name = "cases"


class TasksProjection(ViewProjection):
    name = "tasks"


class AuditLogProjection(ViewProjection):
    name = "audit_log"


PROJECTIONS: dict[str, tuple[type[ViewProjection], type[View]]] = {
    "employees": (EmployeesProjection, EmployeesView),
    "cases": (CasesProjection, CasesView),
    "tasks": (TasksProjection, TasksView),
    "audit_log": (AuditLogProjection, AuditLogView),
}

import asnflow.projections.complaints  # noqa: E402,F401 - registers the complaint views (needs View above)
import asnflow.projections.evaluation  # noqa: E402,F401 - registers the evaluation view (needs View above)
import asnflow.projections.notifications  # noqa: E402,F401 - registers notifications and delegations; the tasks view gains escalations
import asnflow.projections.promotion  # noqa: E402,F401 - registers the promotion pipeline, career timeline and eligibility lists
import asnflow.projections.training  # noqa: E402,F401 - registers the training views (needs View above)
import asnflow.projections.selection  # noqa: E402,F401 - registers the selection views (needs View above)
