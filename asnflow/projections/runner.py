"""Running, rebuilding and waiting on the projections."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable

import structlog
from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.projection import ProjectionRunner
from eventsourcing.utils import Environment

from asnflow.activities.eventstore import APP_NAME, EventStore, max_position, read_log
from asnflow.projections.views import PROJECTIONS, View

log = structlog.get_logger("projector")


def open_view(name: str, env: dict[str, str]) -> View:
    """Construct (and create the tables of) one view."""
    _, view_class = PROJECTIONS[name]
    factory = InfrastructureFactory.construct(env=Environment(name, env))
    return factory.tracking_recorder(view_class)  # type: ignore[return-value]


def run_projector(env: dict[str, str], names: Iterable[str], stop: threading.Event) -> None:
    """Keep one runner per view alive until `stop` is set; a failed runner restarts from its tracking."""
    names = list(names)
    ensure_tables(env, names, stop)
    # One runner per view, each with its own store and view pools: keep them small, or a dozen
    # views exhaust PostgreSQL's connections (each runner writes serially anyway). Tables exist
    # now, so the runners skip DDL (concurrent CREATE … IF NOT EXISTS can fail in PostgreSQL).
    env = {**env, "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "2", "CREATE_TABLE": "n"}
    runners: dict[str, ProjectionRunner] = {}  # type: ignore[type-arg]

    def start(name: str) -> None:
        projection_class, view_class = PROJECTIONS[name]
        try:
            runner = ProjectionRunner(
                application_class=EventStore, projection_class=projection_class, view_class=view_class, env=env
            )
            runners[name] = runner.__enter__()
            log.info("projection started", view=name)
        except Exception as exc:  # noqa: BLE001 - the database may be restarting; try again next round
            runners.pop(name, None)
            log.warning("projection could not start, retrying", view=name, error=repr(exc))

    for name in names:
        start(name)
    try:
        while not stop.is_set():
            for name in names:
                runner = runners.get(name)
                if runner is None:
                    time.sleep(0.5)
                    start(name)
                    continue
                try:
                    runner.run_forever(timeout=0.2)
                except Exception as exc:  # noqa: BLE001 - restart from the committed tracking position
                    log.warning("projection failed, restarting", view=name, error=repr(exc))
                    _close(runner)
                    runners.pop(name, None)
                    time.sleep(0.5)
                    start(name)
    finally:
        for runner in runners.values():
            _close(runner)


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


def _close(runner: ProjectionRunner) -> None:  # type: ignore[type-arg]
    try:
        runner.__exit__(None, None, None)
    except Exception as exc:  # noqa: BLE001 - closing a failed runner re-raises its error
        log.debug("runner closed with error", error=repr(exc))


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
    views = [open_view(name, env) for name in names]
    store = EventStore(env=env)
    try:
        total = max_position(store)
        done = 0
        with contextlib.ExitStack() as stack:
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


def tracking_position(view: View) -> int:
    """The last store position this view has applied."""
    return view.max_tracking_id(APP_NAME) or 0
