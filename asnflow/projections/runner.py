"""Running, rebuilding and waiting on the projections."""

from __future__ import annotations

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
    runners: dict[str, ProjectionRunner] = {}  # type: ignore[type-arg]

    def start(name: str) -> None:
        projection_class, view_class = PROJECTIONS[name]
        runner = ProjectionRunner(
            application_class=EventStore, projection_class=projection_class, view_class=view_class, env=env
        )
        runners[name] = runner.__enter__()
        log.info("projection started", view=name)

    for name in names:
        start(name)
    try:
        while not stop.is_set():
            for name in names:
                runner = runners[name]
                try:
                    runner.run_forever(timeout=0.2)
                except Exception as exc:  # noqa: BLE001 - restart from the committed tracking position
                    log.warning("projection failed, restarting", view=name, error=repr(exc))
                    _close(runner)
                    time.sleep(0.5)
                    start(name)
    finally:
        for runner in runners.values():
            _close(runner)


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
    view = open_view(name, env)
    store = EventStore(env=env)
    try:
        total = max_position(store)
        done = 0
        with view.datastore.transaction(commit=True) as curs:
            # The live projector waits on this lock and resumes from the rebuilt position.
            curs.execute(f"LOCK TABLE {view.tracking_table_name} IN EXCLUSIVE MODE")  # noqa: S608
            view.reset(curs, APP_NAME)
            position = 0
            while True:
                page = read_log(store, gt=position, limit=batch)
                if not page:
                    break
                for stored in page:
                    view.apply(curs, stored.event, stored.position)
                position = page[-1].position
                done += len(page)
                if progress:
                    progress(done, total)
            if position:
                view._insert_tracking(curs, Tracking(APP_NAME, position))  # noqa: SLF001
        return done
    finally:
        store.close()
        view.datastore.close()


def tracking_position(view: View) -> int:
    """The last store position this view has applied."""
    return view.max_tracking_id(APP_NAME) or 0
