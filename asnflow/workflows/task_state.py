"""A human task's specification and its state inside a case workflow (plain data, no workflow calls)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from asnflow.workflows.contracts import DecisionInput

# Kept apart from human_tasks.py so that the workflow sandbox passes this module through: the sandbox
# executes a workflow's own modules afresh for every case it loads, and building these two dataclasses
# (their generated methods) was a fixed part of that cost (docs/PERFORMANCE.md, evaluation season).


@dataclass
class TaskSpec:
    """What a step asks of a person."""

    kind: str
    title: str
    outcomes: list[str]
    due_working_days: int
    assignee_nip: str | None = None
    candidate_role: str | None = None
    unit: str | None = None
    subject_may_act: bool = False  # the case's own subject acts (drafting, acknowledging)
    reason_required_for: list[str] = field(default_factory=list)
    deadlines: bool = True  # remind and escalate by the kind's policy in asnflow.domain.deadlines


@dataclass
class TaskState:
    task_id: str
    spec: TaskSpec
    due_at: str
    status: str = "open"  # open | claimed | deciding | done | cancelled
    claimed_by: str | None = None
    decision: DecisionInput | None = None
    escalation_level: int = 0
    supervises: str | None = None  # a supervising task: the id of the overdue task it watches
    background: list[asyncio.Task[None]] = field(default_factory=list)  # deadline timers and mail
    recording: int = 0  # appends under way from background work
