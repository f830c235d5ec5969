"""What every CLI module shares: settings from options, the console, progress bars."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from asnflow.runtime.settings import Settings

console = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data folder (default ./var or ASNFLOW_DATA_DIR)")]


def settings_for(data_dir: Path | None = None, **overrides: object) -> Settings:
    """Settings from the environment, with command-line overrides."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)  # type: ignore[arg-type]


def progress_bar() -> Progress:
    """A rich progress bar on stderr."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console)
