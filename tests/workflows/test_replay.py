"""Recorded histories of every workflow replay against the current code (determinism guard)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from asnflow.runtime.worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_every_workflow_has_recorded_histories() -> None:
    recorded = {p.name.split("-")[0] for p in HISTORIES}
    expected = {w.__name__.removesuffix("Workflow").lower() for w in WORKFLOWS}
    assert expected <= recorded, f"record histories with ASNFLOW_RECORD_HISTORIES=1 for {expected - recorded}"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await Replayer(workflows=WORKFLOWS).replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
