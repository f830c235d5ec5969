"""`asnflow bench …`: benchmarks that print figures (`name: value`, the headline ratio last)."""

from __future__ import annotations

import typer

bench_app = typer.Typer(help="Benchmarks (print figures; never timed assertions)", no_args_is_help=True)
