"""`asnflow evaluations …`: the performance-evaluation season from the command line."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Annotated

import typer

from asnflow.domain.calendar import JAKARTA
from asnflow.domain.evaluation import season_year_problem
from asnflow.runtime.cli_common import DataDir, console, progress_bar, settings_for

evaluations_app = typer.Typer(help="Evaluasi kinerja / performance evaluation (PermenPANRB 6/2022)", no_args_is_help=True)


@evaluations_app.command("season")
def season(
    year: int,
    data_dir: DataDir = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the kick-off to its end with a progress bar")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to follow before giving up (the season goes on)")] = 3600,
) -> None:
    """Start the season: one evaluation case for every active employee; a second run starts nothing twice."""
    from asnflow.activities.evaluation import start_season
    from asnflow.activities.eventstore import EventStore, read_case
    from asnflow.activities.temporal_client import connect_temporal
    from asnflow.workflows.contracts import Actor

    problem = season_year_problem(year, datetime.now(JAKARTA).year)
    if problem is not None:
        console.print(f"[red]{problem[0]} / {problem[1]}[/red]")
        raise typer.Exit(2)
    settings = settings_for(data_dir)

    async def kick_off() -> tuple[str, bool]:
        client = await connect_temporal(settings)
        return await start_season(
            client, settings.task_queue, settings.database_url, year, Actor(nip=None, roles=["ADMIN"]), settings.evaluation_policy
        )

    case_id, new = asyncio.run(kick_off())
    console.print(f"{'Dimulai / started' if new else 'Sudah berjalan / already running'}: {case_id}")
    if not wait:
        return
    store = EventStore(env=settings.store_env())
    started = existing = failed = 0
    try:
        with progress_bar() as bar:
            task = bar.add_task(f"Musim evaluasi / season {year}", total=None)
            deadline = time.monotonic() + timeout
            while True:
                events = read_case(store, case_id)
                names = [type(s.event).__name__ for s in events]
                batches = [s.event.payload for s in events if type(s.event).__name__ == "SeasonCasesStarted"]
                total = next((s.event.payload["employees"] for s in events if type(s.event).__name__ == "SeasonStarted"), None)
                started = sum(b["started"] for b in batches)
                existing = sum(b["existing"] for b in batches)
                failed = sum(len(b["failed"]) for b in batches)
                bar.update(task, completed=batches[-1]["done"] if batches else 0, total=total)
                if "CaseClosed" in names:
                    break
                if time.monotonic() > deadline:
                    console.print("[yellow]Masih berjalan; pantau lewat / still running; follow via asnflow audit or the API[/yellow]")
                    raise typer.Exit(3)
                time.sleep(0.5)
    finally:
        store.close()
    console.print(f"baru/started {started}, sudah ada/existing {existing}, gagal/failed {failed}")
    if failed:
        raise typer.Exit(1)
