"""One file, one owner: claims racing in threads against real PostgreSQL, whatever the views have seen."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from asnflow.activities.documents import DocumentActivities
from asnflow.activities.eventstore import EventStore, read_case
from asnflow.domain import documents as docs
from asnflow.workflows.contracts import ClaimDocumentInput
from tests.support import make_settings


def claim(owner: str, sha: str, run: str = "run-1") -> ClaimDocumentInput:
    return ClaimDocumentInput(
        purpose="training_certificate", sha256=sha, owner_case_id=owner, actor={"nip": "199602102022031001", "role": "PEGAWAI", "on_behalf_of": None},
        workflow_id=owner, run_id=run, occurred_at="2026-11-28T08:00:00+00:00",
    )


def test_eight_cases_racing_for_one_file_get_one_owner(fresh_database_url: str) -> None:
    store = EventStore(env=make_settings(fresh_database_url, Path("/tmp")).store_env())
    try:
        activities = DocumentActivities(store)
        sha = uuid.uuid4().hex * 2
        barrier = threading.Barrier(8)
        answers: dict[str, str] = {}

        def contender(owner: str) -> None:
            barrier.wait()
            answers[owner] = activities.claim(claim(owner, sha))

        owners = [f"training-2026-{n}-TEK-SPBE" for n in range(8)]
        threads = [threading.Thread(target=contender, args=(o,)) for o in owners]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = set(answers.values())
        assert len(answers) == 8 and len(winners) == 1 and winners <= set(owners)
        stored = read_case(store, docs.claim_case_id("training_certificate", sha))
        assert [s.event.payload["owner_case_id"] for s in stored] == list(winners)
        # The winner's retry (same run) is the same step and still owns it; a later run of a loser does not.
        winner = winners.pop()
        assert activities.claim(claim(winner, sha)) == winner
        loser = next(o for o in owners if o != winner)
        assert activities.claim(claim(loser, sha, run="run-2")) == winner
        assert len(read_case(store, docs.claim_case_id("training_certificate", sha))) == 1
    finally:
        store.close()
