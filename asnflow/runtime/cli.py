"""The `asnflow` command line."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from asnflow.runtime import cli_audit, cli_bench, cli_evaluations, cli_schedules
from asnflow.runtime.cli_common import DataDir, console, progress_bar, settings_for
from asnflow.runtime.settings import Settings

app = typer.Typer(help="asnflow: alur kerja kepegawaian ASN / ASN HR workflows", no_args_is_help=True)
demo_app = typer.Typer(help="Demo organisation of Kabupaten Batanghari", no_args_is_help=True)
import_app = typer.Typer(help="Import reference data", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
app.add_typer(import_app, name="import")
# Command groups of their own modules register here, one line each.
app.add_typer(cli_audit.audit_app, name="audit")
app.add_typer(cli_bench.bench_app, name="bench")
app.add_typer(cli_evaluations.evaluations_app, name="evaluations")
app.add_typer(cli_schedules.schedules_app, name="schedules")

def _stop_on_signals(stop: asyncio.Event | threading.Event, loop: asyncio.AbstractEventLoop | None = None) -> None:
    def handler(*_: object) -> None:
        if loop is not None:
            loop.call_soon_threadsafe(stop.set)
        else:
            stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@app.command()
def dev(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Data folder")] = Path("var"),
    port: Annotated[int | None, typer.Option(help="API port (default 8000 on first run, then as before)")] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Use this PostgreSQL instead of the embedded one")
    ] = None,
) -> None:
    """Start everything on embedded defaults: Temporal dev server, PostgreSQL, worker, projector, API, demo data."""
    from asnflow.activities.temporal_client import ensure_payload_key
    from asnflow.runtime.services import EmbeddedPostgres, StackState, TemporalDevServer, load_or_create
    from asnflow.runtime.supervisor import Supervisor, wait_http_ok

    # Started in the background by a script (`asnflow dev &`), a process inherits SIGINT ignored, and Python
    # then leaves it ignored: a Ctrl-C or `kill -INT` before the supervisor takes the signals over (start-up,
    # the banner) would be lost and the stack would run on. Both stop requests unwind start-up from here.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    first_run = StackState.load(data_dir) is None
    state = load_or_create(data_dir, port if port is not None else (8000 if first_run else None))
    services: list[object] = []
    supervisor = None
    try:
        with console.status("Menyalakan / starting PostgreSQL and Temporal…"):
            if database_url is None:
                pg = EmbeddedPostgres(data_dir)
                services.append(pg)  # listed before it starts: a start interrupted half-way is stopped too
                database_url = pg.start()
            temporal = TemporalDevServer(
                data_dir, port=state.temporal_grpc_port, ui_port=state.temporal_ui_port,
                http_port=state.temporal_http_port, metrics_port=state.temporal_metrics_port,
            )
            services.append(temporal)
            temporal.start()
            temporal.wait_ready(timeout=60)
        api_url = f"http://127.0.0.1:{state.api_port}"
        settings = settings_for(
            data_dir, database_url=database_url, temporal_address=temporal.address, dev_mode=True, public_url=api_url
        )
        ensure_payload_key(settings.dev_payload_key_path)
        _prepare_store(settings)
        if not state.seeded or not _has_demo(settings):
            with console.status("Mengisi data demo / seeding the Batanghari demo organisation…"):
                n = seed_demo(settings)
            state.seeded = True
            state.save(data_dir)
            console.print(f"Data demo: {n} pegawai / employees")
        env = {
            **os.environ,
            "ASNFLOW_DATA_DIR": str(data_dir),
            "ASNFLOW_DATABASE_URL": database_url,
            "ASNFLOW_TEMPORAL_ADDRESS": temporal.address,
            "ASNFLOW_DEV_MODE": "true",
            "ASNFLOW_PAYLOAD_KEY_FILE": str(settings.dev_payload_key_path),
            "ASNFLOW_PUBLIC_URL": api_url,
            "PYTHONUNBUFFERED": "1",
        }
        me = [sys.executable, "-m", "asnflow.runtime.cli"]
        supervisor = Supervisor(data_dir, services=list(reversed(services)))  # type: ignore[arg-type]
        supervisor.add("projector", [*me, "projector"], env)
        supervisor.add("worker", [*me, "worker"], env)
        supervisor.add("api", [*me, "api", "--port", str(state.api_port)], env)
        # Signed checkpoints of the global chain every five minutes (Ed25519 key in DATA/keys).
        supervisor.add("checkpoints", [*me, "audit", "checkpoint", "--every", "300"], env)
        supervisor.start_all()
        wait_http_ok(f"{api_url}/ready", timeout=90)
        _print_banner(api_url, temporal.ui_url, data_dir)
        code = supervisor.run_until_signal()
    except BaseException as exc:
        if supervisor is not None:
            supervisor.stop_all()
        else:
            for service in reversed(services):
                service.stop()  # type: ignore[attr-defined]
        if isinstance(exc, KeyboardInterrupt):
            # Ctrl-C while starting up is a stop request like any other: everything is down now.
            raise typer.Exit(0) from None
        raise
    raise typer.Exit(code)


def _prepare_store(settings: Settings) -> None:
    """Create the event store and view tables before any process needs them."""
    from asnflow.projections.runner import ensure_tables
    from asnflow.projections.views import PROJECTIONS

    ensure_tables(settings.store_env(), PROJECTIONS)


def _has_demo(settings: Settings) -> bool:
    from asnflow.activities.directory import employee_case_id
    from asnflow.activities.eventstore import EventStore, read_case
    from asnflow.runtime.demo_org import demo_users

    store = EventStore(env=settings.store_env())
    try:
        return bool(read_case(store, employee_case_id(demo_users()[0]["nip"])))
    finally:
        store.close()


def _print_banner(api_url: str, temporal_ui: str | None, data_dir: Path) -> None:
    from rich.table import Table

    from asnflow.runtime.demo_org import demo_users

    out = Console()
    out.print("[bold green]asnflow siap / ready[/bold green]")
    out.print(f"  Halaman web / web page : {api_url}/")
    out.print(f"  Dokumentasi API / docs : {api_url}/docs")
    out.print(f"  Temporal UI            : {temporal_ui}")
    out.print(f"  Data                   : {data_dir}")
    table = Table("NIP", "Nama", "Peran / Roles", "Unit", title="Pengguna demo / demo users")
    for u in demo_users():
        table.add_row(u["nip"], u["nama"], ", ".join(u["roles"]), u["unit"] or "")
    out.print(table)
    out.print(f"  Token: asnflow token NIP --data-dir {data_dir}")
    out.print("  Ctrl-C menghentikan semuanya / stops everything")


@app.command()
def worker(data_dir: DataDir = None) -> None:
    """Run a Temporal worker (ASNFLOW_TEMPORAL_ADDRESS, ASNFLOW_DATABASE_URL)."""
    from asnflow.runtime.worker import run_worker

    settings = settings_for(data_dir)

    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop, asyncio.get_running_loop())
        await run_worker(settings, stop)

    asyncio.run(main())


@app.command()
def projector(
    data_dir: DataDir = None,
    view: Annotated[list[str] | None, typer.Option("--view", help="Only these views")] = None,
) -> None:
    """Run the projections that keep the views up to date."""
    from asnflow.projections.runner import run_projector
    from asnflow.projections.views import PROJECTIONS

    settings = settings_for(data_dir)
    stop = threading.Event()
    _stop_on_signals(stop)
    run_projector(settings.store_env(), view or list(PROJECTIONS), stop)


@app.command()
def api(
    data_dir: DataDir = None,
    host: Annotated[str, typer.Option(help="Bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
) -> None:
    """Serve the HTTP API and the web page."""
    import uvicorn

    from asnflow.api.app import create_app

    settings = settings_for(data_dir)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", access_log=False)


@app.command()
def token(
    nip: str,
    data_dir: DataDir = None,
    role: Annotated[list[str] | None, typer.Option("--role", help="Roles (default: the demo user's)")] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds")] = 12 * 3600,
) -> None:
    """Print a dev token for a demo user (signed with the data folder's dev key)."""
    from asnflow.api.auth import ensure_dev_keys, mint_token
    from asnflow.runtime.demo_org import demo_person

    settings = settings_for(data_dir, dev_mode=True)  # dev tokens are a dev-mode thing by definition
    person = demo_person(nip)
    if person is None and not role:
        console.print(f"[red]{nip} bukan pegawai demo / is not a demo employee; pass --role[/red]")
        raise typer.Exit(2)
    ensure_dev_keys(settings.dev_private_key_path, settings.dev_public_key_path)
    print(
        mint_token(
            settings.dev_private_key_path, nip=nip, name=person["nama"] if person else nip,
            roles=role or person["roles"], unit=person["unit"] if person else None,
            issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_seconds=ttl,
            tenant=person["tenant"] if person else None,
        )
    )


@demo_app.command("users")
def demo_users_cmd(as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False) -> None:
    """List the demo users (nip, name, roles, unit)."""
    from asnflow.runtime import demo_muarojambi
    from asnflow.runtime.demo_org import demo_users

    users = [
        {k: u[k] for k in ("nip", "nama", "roles", "unit", "description", "tenant") if k in u}
        for u in (*demo_users(), *demo_muarojambi.users())
    ]
    if as_json:
        print(json.dumps(users, ensure_ascii=False, indent=2))
        return
    from rich.table import Table

    table = Table("NIP", "Nama", "Peran / Roles", "Unit")
    for u in users:
        table.add_row(u["nip"], u["nama"], ", ".join(u["roles"]), u["unit"] or "")
    Console().print(table)


def seed_demo(settings: Settings) -> int:
    """Import the demo organisation unless it is already in the store; returns employees registered."""
    from asnflow.activities.directory import import_employees
    from asnflow.activities.eventstore import EventStore
    from asnflow.domain.directory import parse_employee_csv
    from asnflow.runtime import demo_muarojambi
    from asnflow.runtime.demo_org import demo_csv, roles_for
    from asnflow.workflows.contracts import SYSTEM

    records = parse_employee_csv(demo_csv())
    store = EventStore(env=settings.store_env())
    try:
        rows = [{**r.to_dict(), "roles": roles_for(r.nip)} for r in records]
        result = import_employees(store, rows, SYSTEM, source="demo organisation")
        # The second regency proves tenancy: its own directory, units and users, invisible to Batanghari.
        import_employees(
            store, demo_muarojambi.rows(), SYSTEM, source="demo organisation (Muaro Jambi)", tenant_prefix=demo_muarojambi.TENANT
        )
    finally:
        store.close()
    return result.registered


@demo_app.command("seed")
def demo_seed(data_dir: DataDir = None) -> None:
    """Import the Batanghari demo organisation (idempotent)."""
    n = seed_demo(settings_for(data_dir))
    console.print(f"{n} pegawai didaftarkan / employees registered")


@import_app.command("employees")
def import_employees_cmd(file: Path, data_dir: DataDir = None) -> None:
    """Import a SIASN-like CSV; a bad file is rejected whole with line-numbered reasons."""
    from asnflow.activities.directory import import_employees
    from asnflow.activities.eventstore import EventStore
    from asnflow.domain.directory import DirectoryImportError, derive_roles, parse_employee_csv
    from asnflow.workflows.contracts import Actor

    settings = settings_for(data_dir)
    store = EventStore(env=settings.store_env())
    try:
        existing = _existing_nips(settings)
        try:
            records = parse_employee_csv(file.read_text(encoding="utf-8-sig"), existing_nips=existing)
        except DirectoryImportError as err:
            for line, field, message_id, message_en in err.problems:
                console.print(f"[red]baris/line {line}[/red] {field}: {message_id} / {message_en}")
            console.print(f"[red]Berkas ditolak seluruhnya / file rejected whole ({len(err.problems)} masalah/problems)[/red]")
            raise typer.Exit(1) from None
        roles = derive_roles(records)
        with progress_bar() as bar:
            task = bar.add_task("Impor pegawai / importing employees", total=len(records))
            result = import_employees(
                store,
                [{**r.to_dict(), "roles": [str(x) for x in roles.get(r.nip, ["PEGAWAI"])]} for r in records],
                Actor(nip=None, roles=["ADMIN"]),
                source=file.name,
                progress=lambda n: bar.update(task, completed=n),
            )
    finally:
        store.close()
    console.print(
        f"baru/registered {result.registered}, berubah/updated {result.updated}, tetap/unchanged {result.unchanged}"
    )


def _existing_nips(settings: Settings) -> set[str]:
    import psycopg

    try:
        with psycopg.connect(settings.database_url) as conn:
            return {r[0] for r in conn.execute("SELECT nip FROM employees")}
    except psycopg.Error:
        return set()


@app.command()
def rebuild(view: str, data_dir: DataDir = None) -> None:
    """Rebuild one view (employees, cases, tasks, audit_log) from the event store."""
    from asnflow.projections.runner import rebuild as do_rebuild
    from asnflow.projections.views import PROJECTIONS

    if view not in PROJECTIONS:
        console.print(f"[red]view tidak dikenal / unknown view {view}; one of {', '.join(PROJECTIONS)}[/red]")
        raise typer.Exit(2)
    settings = settings_for(data_dir)
    with progress_bar() as bar:
        task = bar.add_task(f"Membangun ulang / rebuilding {view}", total=None)
        n = do_rebuild(settings.store_env(), view, progress=lambda done, total: bar.update(task, completed=done, total=total))
    console.print(f"{view}: {n} peristiwa / events")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(app())
