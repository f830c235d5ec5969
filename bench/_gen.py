"""Fast generation of evaluation-shaped case events straight into the store (for the benches)."""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from asnflow.activities.eventstore import EventStore, build_events
from asnflow.domain.events import GENESIS_HASH, CaseEvent
from asnflow.runtime.demo_org import demo_employees
from asnflow.workflows.contracts import NewEvent, RecordInput
from asnflow.workflows.evaluation import evaluation_case_id

SYSTEM = {"system": True, "nip": None, "role": "SYSTEM", "on_behalf_of": None}
TARGETS = {"targets": [{"indikator": "Dokumen SKP unit tersusun tepat waktu", "target": "100%"},
                       {"indikator": "Layanan kepegawaian terselesaikan", "target": "12 dokumen"}]}
RATING = {"hasil_kerja": "DI_ATAS_EKSPEKTASI", "perilaku_kerja": "SESUAI_EKSPEKTASI"}
# The recording steps of one evaluation, as EvaluationWorkflow records them; an odd step opens a task.
STEPS_FULL = 9
TASK_STEPS = {1: 1, 3: 2, 5: 3, 7: 4}  # step -> task number opened by that step


def _actor(nip: str, role: str) -> dict[str, str | None]:
    return {"nip": nip, "role": role, "on_behalf_of": None}


def case_steps(case_id: str, nip: str, boss: str, unit: str, year: int, due: datetime, steps: int) -> list[list[NewEvent]]:
    """The first `steps` recordings of an evaluation case (9 = closed, an odd count leaves a task open)."""
    emp, sup = _actor(nip, "PEGAWAI"), _actor(boss, "ATASAN")

    def task(n: int, kind: str, assignee: str, outcomes: list[str]) -> NewEvent:
        return NewEvent("TaskOpened", {
            "task_id": f"{case_id}.t{n}", "kind": kind, "title": f"{kind} {year}", "assignee_nip": assignee,
            "candidate_role": None, "unit": unit, "due_at": due.isoformat(), "outcomes": outcomes,
            "subject_nip": nip, "subject_may_act": assignee == nip,
        }, SYSTEM)

    def decided(n: int, kind: str, actor: dict, outcome: str, data: dict) -> NewEvent:
        return NewEvent("TaskDecided", {"task_id": f"{case_id}.t{n}", "kind": kind, "outcome": outcome, "data": data}, actor)

    all_steps = [
        [NewEvent("CaseOpened", {"subject_nip": nip, "unit": unit, "title": f"Evaluasi kinerja {year}", "data": {"year": year}}, emp),
         NewEvent("EvaluationStarted", {"nip": nip, "year": year, "appraiser_nip": boss, "regulation": "PermenPANRB-6-2022"}, emp),
         task(1, "SKP_DRAFT", nip, ["SUBMITTED"])],
        [decided(1, "SKP_DRAFT", emp, "SUBMITTED", TARGETS)],
        [NewEvent("SkpDrafted", TARGETS, emp), task(2, "SKP_AGREEMENT", boss, ["AGREED", "RETURNED"])],
        [decided(2, "SKP_AGREEMENT", sup, "AGREED", {})],
        [NewEvent("SkpAgreed", {"agreed_by": boss}, sup), task(3, "RATING", boss, ["SUBMITTED"])],
        [decided(3, "RATING", sup, "SUBMITTED", RATING)],
        [NewEvent("RatingSubmitted", RATING, sup),
         NewEvent("PredicateDetermined", {"predicate": "BAIK", "regulation": "PermenPANRB-6-2022", **RATING}, SYSTEM),
         task(4, "ACKNOWLEDGEMENT", nip, ["ACKNOWLEDGED"])],
        [decided(4, "ACKNOWLEDGEMENT", emp, "ACKNOWLEDGED", {})],
        [NewEvent("EvaluationAcknowledged", {"acknowledged_by": nip}, emp),
         NewEvent("CaseClosed", {"status": "completed", "outcome": {"predicate": "BAIK"}}, SYSTEM)],
    ]
    return all_steps[:steps]


def cases(n_cases: int, *, open_only: bool, seed: int = 12) -> Iterator[list[CaseEvent]]:
    """The stored events of `n_cases` cases of the demo staff (open_only: every case waits on a task)."""
    rng = random.Random(seed)
    staff = [e for e in demo_employees() if e.atasan_nip]
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    for i in range(n_cases):
        e = staff[i % len(staff)]
        year = 2026 - i // len(staff)  # one evaluation per employee per year: distinct natural keys
        case_id = evaluation_case_id(e.nip, year)
        at = start + timedelta(seconds=i)
        # Due dates around "now": some inboxes are late, most are not.
        due = datetime.now(UTC) + timedelta(days=rng.randint(-10, 30), minutes=rng.randint(0, 600))
        steps = rng.choice((1, 3, 5, 7)) if open_only else rng.choice((1, 3, 5, 7, 9, 9, 9, 9))
        version, previous, out = 0, GENESIS_HASH, []
        for events in case_steps(case_id, e.nip, e.atasan_nip, e.unit, year, due, steps):  # type: ignore[arg-type]
            inp = RecordInput(case_id, "evaluation", version, previous, case_id, f"run-{i}", at.isoformat(), events)
            built, previous = build_events(inp)
            version += len(built)
            out.extend(built)
        yield out


def fill(store: EventStore, target_events: int | None = None, *, open_cases: int | None = None, per_save: int = 400,
         progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Append cases until `target_events` events (or `open_cases` cases) are stored; returns (events, cases)."""
    pending: list[CaseEvent] = []
    events = n_cases = 0
    limit = open_cases if open_cases is not None else sys.maxsize
    for case in cases(limit, open_only=open_cases is not None):
        pending.extend(case)
        n_cases += 1
        if len(pending) >= per_save:
            # Many cases per call (appends are serialised by a table lock); larger calls hang over
            # the embedded server's unix socket (psycopg pipeline sync with a message of ~0.5 MB).
            store.save(*pending)
            events += len(pending)
            pending = []
            if progress:
                progress(events)
        if target_events is not None and events + len(pending) >= target_events:
            break
    if pending:
        store.save(*pending)
        events += len(pending)
    return events, n_cases


def stderr_progress(label: str, total: int | None) -> Callable[[int], None]:
    """A progress line on stderr, at most every two seconds."""
    started, last = time.perf_counter(), [0.0]

    def show(done: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= 2:
            last[0] = now
            of = f"/{total}" if total else ""
            print(f"  {label}: {done}{of} ({done / (now - started):.0f}/s)", file=sys.stderr, flush=True)

    return show
