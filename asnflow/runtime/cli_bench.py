"""`asnflow bench …`: benchmarks that print figures (`name: value`, the headline ratio last)."""

from __future__ import annotations

import typer

bench_app = typer.Typer(help="Benchmarks (print figures; never timed assertions)", no_args_is_help=True)


@bench_app.command("evaluation")
def evaluation(
    employees: int = typer.Option(6000, "--employees", help="Employees in the synthetic regency (Batanghari's scale: 6,000)"),
    database_url: str | None = typer.Option(None, "--database-url", help="Use this PostgreSQL instead of an embedded one"),
    temporal_address: str | None = typer.Option(None, "--temporal-address", help="Use this Temporal instead of a dev server"),
) -> None:
    """A whole evaluation season (season kick-off to every case closed) against bare Temporal with the same waits."""
    import asyncio
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "evaluation.py"
    spec = importlib.util.spec_from_file_location("asnflow_bench_evaluation", path)
    if spec is None or spec.loader is None:
        raise typer.BadParameter(f"{path} not found (bench/ ships with the repository, not the wheel)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.report(asyncio.run(module.run_bench(employees, database_url, temporal_address)))


@bench_app.command("audit-export")
def audit_export(
    events: int = typer.Option(1_000_000, "--events", help="Events generated into a temporary embedded PostgreSQL"),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or csv"),
    seal: bool = typer.Option(False, "--seal", help="Also time sealing a checkpoint and a full verification"),
) -> None:
    """Stream an audit export of N events: events/s, peak RSS, and the ratio to a plain COPY TO."""
    import subprocess
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "audit_export.py"
    if not path.exists():
        raise typer.BadParameter(f"{path} not found (bench/ ships with the repository, not the wheel)")
    argv = [sys.executable, str(path), "--events", str(events), "--format", fmt, *(["--seal"] if seal else [])]
    raise typer.Exit(subprocess.call(argv))


def _run_bench_script(script: str, *args: str) -> None:
    """Run one bench/ script in its own interpreter (bench/ ships with the repository, not the wheel)."""
    import subprocess
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / script
    if not path.exists():
        raise typer.BadParameter(f"{path} not found (bench/ ships with the repository, not the wheel)")
    raise typer.Exit(subprocess.call([sys.executable, str(path), *args]))


@bench_app.command("rebuild")
def rebuild_bench(
    events: int = typer.Option(1_000_000, "--events", help="Events in the store to rebuild from"),
) -> None:
    """Rebuild the tasks and audit_log views from N events, against COPY of the same rows (ratio ≥ 0.25 is the goal)."""
    _run_bench_script("rebuild.py", "--events", str(events))


@bench_app.command("api")
def api_bench(
    open_tasks: int = typer.Option(100_000, "--open-tasks", help="Open tasks in the inbox view"),
    seconds: float = typer.Option(10, "--seconds", help="Seconds of load per round and endpoint"),
    rounds: int = typer.Option(2, "--rounds", help="Alternating bare/inbox rounds"),
) -> None:
    """An approver's inbox page under 8 connections, against a bare FastAPI + psycopg one-row endpoint."""
    _run_bench_script("api.py", "--open-tasks", str(open_tasks), "--seconds", str(seconds), "--rounds", str(rounds))


@bench_app.command("memory")
def memory_bench(
    open_cases: int = typer.Option(10_000, "--open-cases", help="Open cases waiting on people"),
) -> None:
    """Worker peak RSS with N open cases waiting on their first task (goal ≤ 500 MB)."""
    _run_bench_script("memory.py", "--open-cases", str(open_cases))


@bench_app.command("selection")
def selection_bench(
    applicants: int = typer.Option(25_000, "--applicants", help="Applicants in the round (Batanghari 2024: 2,538; design: 100×)"),
    database_url: str | None = typer.Option(None, "--database-url", help="Use this PostgreSQL instead of an embedded one"),
    temporal_address: str | None = typer.Option(None, "--temporal-address", help="Use this Temporal instead of a dev server"),
    steps_only: bool = typer.Option(False, "--steps-only", help="The headline's steps on the real store without Temporal (no applicant cases)"),
) -> None:
    """A selection round: registration, scripted verification, SKD import and cut-off, SKB import and ranking (`seconds:` last)."""
    args = ["--applicants", str(applicants)] + (["--steps-only"] if steps_only else [])
    args += ["--database-url", database_url] if database_url else []
    args += ["--temporal-address", temporal_address] if temporal_address else []
    _run_bench_script("selection.py", *args)
