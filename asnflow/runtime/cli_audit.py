"""`asnflow audit …`: verify, checkpoint, export, case bundles, point in time, legal holds, retention and purge."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from asnflow.runtime.cli_common import DataDir, console, progress_bar, settings_for

if TYPE_CHECKING:
    from asnflow.activities.eventstore import EventStore
    from asnflow.runtime.settings import Settings

audit_app = typer.Typer(help="Audit tools / alat audit", no_args_is_help=True)

AuditorNip = Annotated[
    str | None,
    typer.Option("--auditor", envvar="ASNFLOW_AUDITOR_NIP", help="NIP of the auditor this access is recorded for"),
]
CaseOpt = Annotated[str | None, typer.Option("--case-id", help="One case")]


@contextmanager
def _store(settings: Settings) -> Iterator[EventStore]:
    from asnflow.activities.eventstore import EventStore

    store = EventStore(env=settings.store_env())
    try:
        yield store
    finally:
        store.close()


def _record(settings: Settings, auditor: str | None, action: str, details: dict[str, Any]) -> None:
    """Command-line reads are recorded like API reads, before anything is shown."""
    from asnflow.activities.audit import cli_actor, record_access

    with _store(settings) as store:
        record_access(store, cli_actor(auditor), action, {"channel": "cli", **details})


def _fail(message_id: str, message_en: str, code: int = 1) -> typer.Exit:
    console.print(f"[red]{escape(message_id)} / {escape(message_en)}[/red]")
    return typer.Exit(code)


@audit_app.command("verify")
def audit_verify(data_dir: DataDir = None, case_id: CaseOpt = None, auditor: AuditorNip = None) -> None:
    """Verify case chains, signed checkpoints and the global chain; exit 1 naming case and position on failure."""
    import psycopg

    from asnflow.activities.audit import state_codec, trusted_keys, verify

    settings = settings_for(data_dir)
    _record(settings, auditor, "verify", {"case_id": case_id})
    with psycopg.connect(settings.database_url) as conn, progress_bar() as bar:
        task = bar.add_task("Memeriksa / verifying", total=None)
        report = verify(
            conn, trusted_keys(settings), case_id, progress=lambda d, t: bar.update(task, completed=d, total=t),
            codec=state_codec(settings),
        )
    for p in report.problems:
        where = f"{p['case_id'] or '-'} v{p['version'] if p['version'] is not None else '-'} (posisi/position {p['position']})"
        console.print(f"[red]{escape('[' + p['kind'] + '] ' + where + ': ' + p['problem'])}[/red]")
    console.print(
        f"{report.cases_checked} perkara/cases, {report.events_checked} peristiwa/events, "
        f"{report.checkpoints_checked} titik periksa/checkpoints (tersegel/sealed s.d. {report.sealed_position}, "
        f"belum/unsealed {report.unsealed_events}, dihapus sah/purged {report.purged_events}): "
        + ("OK" if report.ok else "RUSAK / BROKEN")
    )
    raise typer.Exit(0 if report.ok else 1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    data_dir: DataDir = None,
    every: Annotated[float | None, typer.Option(help="Keep sealing every N seconds until stopped")] = None,
) -> None:
    """Extend the global chain over new events and sign a checkpoint with the Ed25519 audit key."""
    import psycopg

    from asnflow.activities.audit import AuditRefusedError, load_signing_key, seal, signing_key_path, state_codec

    settings = settings_for(data_dir)
    try:
        key = load_signing_key(settings)
        codec = state_codec(settings)
    except AuditRefusedError as err:
        raise _fail(err.message_id, err.message_en, 2) from None
    while True:
        with psycopg.connect(settings.database_url) as conn, progress_bar() as bar:
            task = bar.add_task("Menyegel / sealing", total=None)
            cp = seal(conn, key, codec=codec, progress=lambda d, t: bar.update(task, completed=d, total=t))
        if cp is None:
            console.print("Tidak ada peristiwa baru / no new events to seal")
        else:
            console.print(
                f"Titik periksa/checkpoint {cp.seq}: posisi/position {cp.position}, {cp.count} peristiwa/events, "
                f"rantai/chain {cp.chain[:16]}…, kunci/key {cp.key_id} ({signing_key_path(settings)})"
            )
        if every is None:
            return
        time.sleep(every)


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@audit_app.command("export")
def audit_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write ('-' for stdout)")],
    data_dir: DataDir = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    case_id: CaseOpt = None,
    actor_nip: Annotated[str | None, typer.Option("--actor")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Event type, e.g. TaskDecided")] = None,
    process: Annotated[str | None, typer.Option()] = None,
    unit: Annotated[str | None, typer.Option()] = None,
    occurred_from: Annotated[str | None, typer.Option("--from", help="ISO 8601")] = None,
    occurred_to: Annotated[str | None, typer.Option("--to", help="ISO 8601 (exclusive)")] = None,
    auditor: AuditorNip = None,
) -> None:
    """Stream events from the store as JSONL or CSV in constant memory, with a progress bar."""
    from asnflow.activities.audit import ExportFilter, export_chunks, state_codec, temporal_ui_url

    if fmt not in ("jsonl", "csv"):
        raise _fail("Format harus jsonl atau csv.", "The format must be jsonl or csv.", 2)
    settings = settings_for(data_dir)
    flt = ExportFilter(
        case_id=case_id, actor_nip=actor_nip, type=type_, process=process, unit=unit,
        occurred_from=_parse_time(occurred_from), occurred_to=_parse_time(occurred_to),
    )
    _record(settings, auditor, "export", {"format": fmt, "filters": flt.describe()})
    written = 0
    sink = sys.stdout.buffer if str(output) == "-" else output.open("wb")
    try:
        with progress_bar() as bar:
            task = bar.add_task("Ekspor / exporting (posisi/positions)", total=None)
            for chunk in export_chunks(
                settings.database_url, flt, fmt, codec=state_codec(settings), ui_url=temporal_ui_url(settings),
                namespace=settings.temporal_namespace, progress=lambda d, t: bar.update(task, completed=d, total=t),
            ):
                sink.write(chunk)
                written += len(chunk)
    finally:
        if sink is not sys.stdout.buffer:
            sink.close()
    console.print(f"{written} bytes → {output}")


@audit_app.command("bundle")
def audit_bundle(
    case_id: str,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Default: CASE_ID.bundle.zip")] = None,
    data_dir: DataDir = None,
    auditor: AuditorNip = None,
) -> None:
    """Write a signed bundle of one case (events, document hashes, manifest, signature)."""
    import psycopg

    from asnflow.activities.audit import (
        AuditRefusedError, build_bundle, cli_actor, load_signing_key, state_codec, temporal_ui_url,
    )

    settings = settings_for(data_dir)
    _record(settings, auditor, "bundle", {"case_id": case_id})
    target = output or Path(f"{case_id}.bundle.zip")
    try:
        with psycopg.connect(settings.database_url) as conn:
            data = build_bundle(
                conn, case_id, load_signing_key(settings), codec=state_codec(settings), generated_by=cli_actor(auditor),
                ui_url=temporal_ui_url(settings), namespace=settings.temporal_namespace,
            )
    except AuditRefusedError as err:
        raise _fail(err.message_id, err.message_en) from None
    target.write_bytes(data)
    console.print(f"{target} ({len(data)} bytes)")


@audit_app.command("verify-bundle")
def audit_verify_bundle(
    file: Path,
    public_key: Annotated[Path | None, typer.Option("--public-key", help="Trusted Ed25519 public key (PEM) to pin")] = None,
) -> None:
    """Verify a case bundle offline (no server): every byte, signature, case chain and checkpoint."""
    from asnflow.activities.audit import verify_bundle

    report = verify_bundle(file.read_bytes(), public_key.read_bytes() if public_key else None)
    for p in report.problems:
        console.print(f"[red]{escape(p)}[/red]")
    sealed = f", tersegel/sealed by checkpoint {report.sealed_by_checkpoint}" if report.sealed_by_checkpoint else ""
    console.print(
        f"{report.case_id}: {report.event_count} peristiwa/events, kunci/key {report.key_id}{sealed}: "
        + ("OK" if report.ok else "RUSAK / BROKEN")
    )
    if public_key is None and report.ok:
        console.print("Catatan/note: bandingkan sidik kunci dengan kunci resmi / compare the key id with the official key (--public-key)")
    raise typer.Exit(0 if report.ok else 1)


@audit_app.command("case")
def audit_case(
    case_id: str,
    at: Annotated[str | None, typer.Option(help="ISO 8601 moment (default now)")] = None,
    version: Annotated[int | None, typer.Option(help="Or: as of this case version")] = None,
    data_dir: DataDir = None,
    auditor: AuditorNip = None,
) -> None:
    """Print a case as it stood at a moment (JSON): status, open tasks, decisions so far."""
    from asnflow.activities.audit import case_as_of

    settings = settings_for(data_dir)
    _record(settings, auditor, "point_in_time", {"case_id": case_id, "at": at, "version": version})
    with _store(settings) as store:
        state, included = case_as_of(store, case_id, at=_parse_time(at), version=version)
    if not included:
        raise _fail("Perkara tidak ditemukan pada saat itu.", "No such case at that moment.")
    out = {k: v for k, v in vars(state).items() if k != "tasks"}
    out |= {"open_tasks": state.open_tasks, "tasks": list(state.tasks.values())}
    print(json.dumps(out, ensure_ascii=False, indent=2, default=str))


def _hold(case_id: str, held: bool, reference: str, reason: str, data_dir: Path | None, auditor: str | None) -> None:
    from asnflow.activities.audit import AuditRefusedError, cli_actor, set_hold

    settings = settings_for(data_dir)
    with _store(settings) as store:
        try:
            position = set_hold(store, case_id, held=held, actor=cli_actor(auditor), reference=reference, reason=reason)
        except AuditRefusedError as err:
            raise _fail(err.message_id, err.message_en) from None
    console.print(("Ditahan / held" if held else "Dilepas / released") + f": {case_id} (posisi/position {position})")


@audit_app.command("hold")
def audit_hold(
    case_id: str,
    reference: Annotated[str, typer.Option(help="Letter or case number that requires the hold")],
    reason: Annotated[str, typer.Option()] = "",
    data_dir: DataDir = None,
    auditor: AuditorNip = None,
) -> None:
    """Place a legal hold on a case: purge is refused until it is released."""
    _hold(case_id, True, reference, reason, data_dir, auditor)


@audit_app.command("release")
def audit_release(
    case_id: str,
    reference: Annotated[str, typer.Option(help="Letter or case number that lifts the hold")],
    reason: Annotated[str, typer.Option()] = "",
    data_dir: DataDir = None,
    auditor: AuditorNip = None,
) -> None:
    """Release a legal hold (recorded)."""
    _hold(case_id, False, reference, reason, data_dir, auditor)


@audit_app.command("retention")
def audit_retention(data_dir: DataDir = None) -> None:
    """Print the retention classes per process in force (JSON)."""
    from asnflow.activities.audit import retention_policy

    policy = retention_policy(settings_for(data_dir))
    print(json.dumps({"version": policy.version, "processes": policy.processes,
                      "classes": {n: vars(c) for n, c in policy.classes.items()}}, ensure_ascii=False, indent=2))


@audit_app.command("purge")
def audit_purge(
    case_id: str,
    execute: Annotated[bool, typer.Option("--execute", help="Really delete (default: only check)")] = False,
    data_dir: DataDir = None,
    auditor: AuditorNip = None,
) -> None:
    """Delete one closed case whose retention expired; refused under a legal hold. Leaves a CasePurged tombstone."""
    import psycopg

    from asnflow.activities.audit import AuditRefusedError, cli_actor, purge_case, retention_policy

    settings = settings_for(data_dir)
    with _store(settings) as store, psycopg.connect(settings.database_url) as conn:
        try:
            plan = purge_case(
                store, conn, case_id, retention_policy(settings), actor=cli_actor(auditor), execute=execute
            )
        except AuditRefusedError as err:
            raise _fail(err.message_id, err.message_en) from None
    verb = "Dihapus / purged" if plan.executed else "Boleh dihapus (uji) / eligible (dry run; add --execute)"
    console.print(f"{verb}: {case_id}, {plan.events} peristiwa/events, kelas/class {plan.retention_class}, "
                  f"ditutup/closed {plan.closed_at}, retensi s.d./until {plan.expires_at}")
