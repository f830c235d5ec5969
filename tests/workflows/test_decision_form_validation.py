"""The served decision forms are applied by the one human-task validator, for every process (no server needed)."""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError

from asnflow.workflows.contracts import Actor, DecisionInput
from asnflow.workflows.evaluation import EvaluationWorkflow
from asnflow.workflows.human_tasks import CaseWorkflow, TaskSpec, TaskState

BUPATI = Actor(nip="197001011990011001", roles=["BUPATI"], unit=None)
EMPLOYEE = Actor(nip="199602102022031001", roles=["PEGAWAI"], unit="DISKOMINFO")


def case_with(wf: CaseWorkflow, kind: str, outcomes: list[str], assignee: str) -> TaskState:
    wf._init_case("case-x", subject_nip="199602102022031001")  # noqa: SLF001
    task = TaskState(
        task_id="case-x.t1",
        spec=TaskSpec(kind=kind, title=kind, outcomes=outcomes, due_working_days=3, assignee_nip=assignee, subject_may_act=True),
        due_at="2026-12-01T23:59:59+07:00",
    )
    wf._tasks[task.task_id] = task  # noqa: SLF001
    return task


def refusal(wf: CaseWorkflow, actor: Actor, outcome: str, data: dict[str, Any]) -> tuple[str, list[str]] | None:
    try:
        wf.validate_decide(DecisionInput(task_id="case-x.t1", actor=actor, outcome=outcome, data=data))
    except ApplicationError as err:
        return err.type, [d["field"] for d in err.details]
    return None


def test_a_kind_without_its_own_checks_is_still_held_to_its_form() -> None:
    wf = CaseWorkflow()
    case_with(wf, "PROMOTION_DECREE", ["DECREED", "REJECTED"], BUPATI.nip)
    assert refusal(wf, BUPATI, "DECREED", {}) == ("Invalid", ["sk_nomor", "sk_tanggal"])
    assert refusal(wf, BUPATI, "DECREED", {"sk_nomor": "800/1/BKPSDMD/2026", "sk_tanggal": "1 Desember"}) == ("Invalid", ["sk_tanggal"])
    assert refusal(wf, BUPATI, "DECREED", {"sk_nomor": "800/1/BKPSDMD/2026", "sk_tanggal": "2026-12-01"}) is None
    assert refusal(wf, BUPATI, "REJECTED", {}) is None  # the decree's fields are asked only when decreeing


def test_the_form_checks_after_the_kinds_own_rules() -> None:
    wf = EvaluationWorkflow()
    case_with(wf, "SKP_DRAFT", ["SUBMITTED"], EMPLOYEE.nip)
    wf._superior_indicators = []  # noqa: SLF001  (no superior SKP: cascading is optional)
    target = {"indikator": "Layanan aplikasi daring tersedia", "target": "99%"}
    # The kind's own rule speaks first (its message names the target)…
    assert refusal(wf, EMPLOYEE, "SUBMITTED", {"targets": [{"indikator": "x"}]}) == ("Invalid", ["targets[0].target"])
    # …and the form catches what that rule leaves open: a cascade reference longer than any indicator.
    assert refusal(wf, EMPLOYEE, "SUBMITTED", {"targets": [{**target, "cascaded_from": "x" * 600}]}) == ("Invalid", ["targets[0].cascaded_from"])
    assert refusal(wf, EMPLOYEE, "SUBMITTED", {"targets": [target]}) is None
