"""Running, rebuilding and waiting on the projections."""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import structlog
from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.utils import Environment
from psycopg.sql import SQL, Identifier

from asnflow.activities.eventstore import APP_NAME, EventStore, max_position, read_log
from asnflow.projections.views import PROJECTIONS, View

log = structlog.get_logger("projector")
GATHER_SECONDS = 0.02


def open_view(name: str, env: dict[str, str]) -> View:
    """Construct (and create the tables of) one view."""
    _, view_class = PROJECTIONS[name]
    factory = InfrastructureFactory.construct(env=Environment(name, env))
    return factory.tracking_recorder(view_class)  # type: ignore[return-value]


def run_projector(env: dict[str, str], names: Iterable[str], stop: threading.Event, *, batch: int = 500) -> None:
    """Keep every named view up to date until `stop` is set: one read of the log, one commit per page for all views.

    One reader decodes each event once for all views (one runner per view decoded it once per
    view and committed once per event per view: the projector's CPU, not PostgreSQL, was the
    ceiling under a season's load). Each view's rows and tracking position are written in the same
    transaction (`_apply_together`, or `_apply_page` per view after a failure), so a crash anywhere
    leaves every view exactly at a committed position.
    """
    names = list(names)
    ensure_tables(env, names, stop)
    env = {**env, "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "1", "CREATE_TABLE": "n"}  # the store: LISTEN + reads
    while not stop.is_set():
        try:
            _follow(env, names, stop, batch)
        except Exception as exc:  # noqa: BLE001 - the database may be restarting: resume from the tracking rows
            log.warning("projector failed, restarting", error=repr(exc))
            stop.wait(0.5)


def _follow(env: dict[str, str], names: list[str], stop: threading.Event, batch: int) -> None:
    store = EventStore(env=env)
    # Every view writes through the store's pool: two connections per projector (one listens), not
    # a pool per view, so replicas and rebuilds fit in PostgreSQL's connection limit.
    datastore = store.recorder.datastore  # type: ignore[attr-defined]
    views = {name: PROJECTIONS[name][1](datastore=datastore, tracking_table_name=f"{name}_tracking") for name in names}
    try:
        positions = {name: tracking_position(view) for name, view in views.items()}
        failing: dict[str, float] = {}
        log.info("projector following", views=names, position=min(positions.values(), default=0))
        with _Wakeup(store) as wakeup:
            while not stop.is_set():
                now = time.monotonic()
                live = [name for name in names if failing.get(name, 0) <= now]
                low = min((positions[name] for name in live), default=None)
                page = read_log(store, gt=low, limit=batch) if low is not None else []
                if not page:
                    wakeup.wait(0.2)
                    continue
                _apply(datastore, views, page, live, positions, failing)
                if len(page) < batch:
                    # Caught up: let the next few appends gather into one page. Under load a page per append
                    # cost a transaction per append (GATHER_SECONDS is the lag this adds, at most).
                    stop.wait(GATHER_SECONDS)
                    wakeup.drain()
    finally:
        store.close()


def _apply(datastore: Any, views: dict[str, View], page: list[Any], live: list[str], positions: dict[str, int], failing: dict[str, float]) -> None:
    """Apply a page to the live views, together or, when that fails, view by view; updates positions and failing."""
    pairs = [(stored.event, stored.position) for stored in page]
    work = {name: todo for name in live if (todo := [pair for pair in pairs if pair[1] > positions[name]])}
    try:
        positions.update(_apply_together(datastore, {name: (views[name], todo) for name, todo in work.items()}))
        for name in work:
            failing.pop(name, None)
        return
    except Exception as exc:  # noqa: BLE001 - find the failing view below, one view at a time
        log.info("page failed in one transaction, applying it view by view", error=repr(exc))
    for name, todo in work.items():
        try:
            positions[name] = _apply_page(views[name], todo)
            failing.pop(name, None)
        except Exception as exc:  # noqa: BLE001 - one view's failure must not stop the others
            log.warning("view failed, retrying", view=name, error=repr(exc))
            failing[name] = time.monotonic() + 1.0
            positions[name] = tracking_position(views[name])


def _apply_together(datastore: Any, work: dict[str, tuple[View, list[tuple[object, int]]]]) -> dict[str, int]:
    """Apply a page to every view in one transaction, sent in pipeline mode; returns each view's new position.

    The same rows, positions and locks as `_apply_page` view by view, in about two round trips instead of
    seven per view: live pages are small (an append or two), so the statements around the rows (pool
    check, BEGIN, lock, position, tenant, tracking, COMMIT) were most of the projector's and much of
    PostgreSQL's work in a season (docs/PERFORMANCE.md). Any error rolls the whole page back; the caller
    then applies it view by view, so one failing view still cannot hold the others back.
    """
    if not work:
        return {}
    order = sorted(work, key=lambda name: work[name][0].tracking_table_name)  # one lock order for every writer
    tables = [work[name][0].tracking_table_name for name in order]
    new: dict[str, int] = {}
    with datastore.transaction(commit=True) as curs, curs.connection.pipeline():
        # Conflicts with itself and with a rebuild's EXCLUSIVE lock, as in `_apply_page`: the positions
        # read after the lock are the committed ones, so nothing is applied twice.
        curs.execute(f"LOCK TABLE {', '.join(tables)} IN SHARE ROW EXCLUSIVE MODE")  # noqa: S608
        curs.execute(
            "SELECT " + ", ".join(  # noqa: S608
                f"(SELECT max(notification_id) FROM {table} WHERE application_name = %s) AS p{i}" for i, table in enumerate(tables)
            ),
            [APP_NAME] * len(tables),
        )
        row = curs.fetchone()
        assert row is not None
        for i, name in enumerate(order):
            view, pairs = work[name]
            current = row[f"p{i}"] or 0
            todo = [(event, position) for event, position in pairs if position > current]
            new[name] = todo[-1][1] if todo else current
            if not todo:
                continue
            view.apply_page(curs, todo)
            # The lock is held, so the row cannot have moved meanwhile: nothing to wait for (the library's
            # _insert_tracking fetches its RETURNING row, which would end the pipeline's batch per view).
            curs.execute(
                f"INSERT INTO {view.tracking_table_name} (application_name, notification_id) VALUES (%s, %s)"  # noqa: S608
                " ON CONFLICT (application_name) DO UPDATE SET notification_id = excluded.notification_id",
                (APP_NAME, new[name]),
            )
    return new


def _apply_page(view: View, pairs: list[tuple[object, int]]) -> int:
    """Apply a page's events past the view's committed position, with the new position, in one transaction."""
    with view.datastore.transaction(commit=True) as curs:
        # Self-conflicting and conflicting with a rebuild's EXCLUSIVE lock: a second projector or a
        # rebuild makes us wait, and the position read after the lock is the committed one, so no
        # event is applied twice even when another writer moved the view meanwhile.
        curs.execute(f"LOCK TABLE {view.tracking_table_name} IN SHARE ROW EXCLUSIVE MODE")  # noqa: S608
        current = view._max_tracking_id(APP_NAME, curs) or 0  # noqa: SLF001
        todo = [(event, position) for event, position in pairs if position > current]
        if not todo:
            return current
        view.apply_page(curs, todo)
        view._insert_tracking(curs, Tracking(APP_NAME, todo[-1][1]))  # noqa: SLF001
        return todo[-1][1]


class _Wakeup:
    """LISTEN on the store's channel: an append wakes the projector at once instead of after a poll."""

    def __init__(self, store: EventStore) -> None:
        self._recorder: Any = store.recorder
        self._stack = contextlib.ExitStack()
        self._conn: Any = None

    def __enter__(self) -> _Wakeup:
        # A pooled connection of the store's (autocommit, like the library's own subscription).
        self._conn = self._stack.enter_context(self._recorder.datastore.get_connection())
        self._conn.execute(SQL("LISTEN {0}").format(Identifier(self._recorder.channel_name)))
        return self

    def wait(self, timeout: float) -> None:
        """Return after the next append anywhere in the store, or after `timeout` seconds; nothing left pending."""
        for _ in self._conn.notifies(timeout=timeout, stop_after=1):
            pass
        self.drain()

    def drain(self) -> None:
        """Read the notifications already received: the next read of the log covers their appends."""
        # One notification per append: left pending, each woke the projector for a read that found nothing.
        for _ in self._conn.notifies(timeout=0):
            pass

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self._conn.execute(SQL("UNLISTEN *"))
        self._stack.close()


def ensure_tables(env: dict[str, str], names: Iterable[str], stop: threading.Event | None = None) -> None:
    """Create the store's and the views' tables one after another, retrying while others do the same."""
    for attempt in range(60):
        try:
            EventStore(env=env).close()
            for name in names:
                open_view(name, env).datastore.close()
            return
        except Exception as exc:  # noqa: BLE001 - e.g. "tuple concurrently updated" from a parallel CREATE
            if attempt == 59 or (stop is not None and stop.is_set()):
                raise
            log.info("creating tables, retrying", error=repr(exc))
            time.sleep(0.5)


def rebuild(
    env: dict[str, str],
    name: str,
    *,
    batch: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Rebuild one view from the whole store in a single transaction; readers see the old view until commit."""
    return rebuild_views(env, [name], batch=batch, progress=progress)


def rebuild_views(
    env: dict[str, str],
    names: Iterable[str],
    *,
    batch: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Rebuild views from one read of the store, each in its own single transaction; returns events read."""
    # Locked in the live projector's order (by tracking table), so a rebuild and a page never deadlock.
    views = sorted((open_view(name, env) for name in names), key=lambda view: view.tracking_table_name)
    store = EventStore(env=env)
    try:
        total = max_position(store)
        done = 0
        with _fewer_collections(), contextlib.ExitStack() as stack:
            cursors = [stack.enter_context(view.datastore.transaction(commit=True)) for view in views]
            for view, curs in zip(views, cursors, strict=True):
                # A view that no event of a page concerns sits idle in its transaction meanwhile.
                curs.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
                # The live projector waits on this lock and resumes from the rebuilt position.
                curs.execute(f"LOCK TABLE {view.tracking_table_name} IN EXCLUSIVE MODE")  # noqa: S608
                view.reset(curs, APP_NAME)
            position = 0
            with contextlib.ExitStack() as writing:
                writers = [writing.enter_context(view.bulk(curs)) for view, curs in zip(views, cursors, strict=True)]
                while True:
                    page = read_log(store, gt=position, limit=batch)
                    if not page:
                        break
                    # Decoded once for every view: reading the store costs as much as writing a view.
                    pairs = [(stored.event, stored.position) for stored in page]
                    for write in writers:
                        write(pairs)
                    position = page[-1].position
                    done += len(page)
                    if progress:
                        progress(done, total)
            if position:
                for view, curs in zip(views, cursors, strict=True):
                    view._insert_tracking(curs, Tracking(APP_NAME, position))  # noqa: SLF001
        return done
    finally:
        store.close()
        for view in views:
            view.datastore.close()


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often meanwhile (restored after).

    A rebuild allocates some fifty objects per event, none in cycles, and keeps a page of events and the
    folded task rows alive: with the default threshold the young collections cost ~20 % of its CPU."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 100_000), old[1], old[2])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def tracking_position(view: View) -> int:
    """The last store position this view has applied."""
    return view.max_tracking_id(APP_NAME) or 0
