"""The evaluation workflows' modules stay apart: the sandbox executes a workflow's module (and what it imports) per run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASE, CALIBRATION, SEASON = "asnflow.workflows.evaluation", "asnflow.workflows.evaluation_calibration", "asnflow.workflows.evaluation_season"


def imported_with(module: str) -> set[str]:
    """The asnflow.workflows modules a fresh interpreter holds after importing `module`."""
    code = f"import sys, {module}; print(' '.join(m for m in sys.modules if m.startswith('asnflow.workflows.')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.mark.parametrize(
    ("module", "others"),
    [(CASE, {CALIBRATION, SEASON}), (CALIBRATION, {CASE, SEASON}), (SEASON, {CASE, CALIBRATION})],
)
def test_an_evaluation_workflow_module_imports_neither_of_the_other_two(module: str, others: set[str]) -> None:
    # One case per employee: its sandbox must not define the calibration's and the season's classes too.
    assert not imported_with(module) & others


def test_the_calibration_signals_the_case_by_its_handlers_names() -> None:
    from temporalio.workflow import _Definition

    from asnflow.workflows import evaluation_contracts as c
    from asnflow.workflows.evaluation import EvaluationWorkflow

    names = set(_Definition.must_from_class(EvaluationWorkflow).signals)
    assert {c.CALIBRATED_SIGNAL, c.CALIBRATION_CLOSED_SIGNAL, c.UNIT_RESULT_SIGNAL} <= names
