"""`asnflow audit …`: verification (and, as the audit issue lands, export and bundles)."""

from __future__ import annotations

from typing import Annotated

import typer

from asnflow.runtime.cli_common import DataDir, console, settings_for

audit_app = typer.Typer(help="Audit tools", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(data_dir: DataDir = None, case_id: Annotated[str | None, typer.Option(help="One case")] = None) -> None:
    """Verify every case's hash chain in the event store; exit 1 naming the case and position on failure."""
    from asnflow.activities.eventstore import EventStore
    from asnflow.api.routes.audit import verify_store

    settings = settings_for(data_dir)
    store = EventStore(env=settings.store_env())
    try:
        result = verify_store(store, case_id)
    finally:
        store.close()
    for p in result.problems:
        console.print(f"[red]{p['case_id']} v{p['version']} (posisi/position {p['position']}): {p['problem']}[/red]")
    console.print(f"{result.cases_checked} perkara/cases, {result.events_checked} peristiwa/events: " + ("OK" if result.ok else "RUSAK / BROKEN"))
    raise typer.Exit(0 if result.ok else 1)
