"""Audit domain: retention classes, the global chain, drill-down links, document hashes, point-in-time folds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from asnflow.domain import audit as da
from asnflow.domain.events import EVENT_TYPES, GENESIS_HASH


def test_audit_event_types_register_with_the_store() -> None:
    assert {"AuditAccessed", "LegalHoldPlaced", "LegalHoldReleased", "CasePurged"} <= set(EVENT_TYPES)
    assert da.access_case_id("198502142009022001", "2026-11-28") == "audit-access-198502142009022001-2026-11-28"
    assert da.is_audit_case(da.hold_case_id("evaluation-2026-1")) and not da.is_audit_case("evaluation-2026-1")


def test_retention_classes_are_configuration() -> None:
    policy = da.load_retention()
    closed = datetime(2015, 6, 30, tzinfo=UTC)
    assert policy.class_for("evaluation").name == "KINERJA"
    assert policy.expires_at("evaluation", closed) == datetime(2025, 6, 30, tzinfo=UTC)
    assert policy.expires_at("directory", closed) is None and policy.expires_at("evaluation", None) is None
    assert policy.class_for("something-new").name == "PERMANEN"  # unknown record types are kept
    custom = json.loads(json.dumps(da.DEFAULT_RETENTION))
    custom["processes"]["evaluation"] = "PENGEMBANGAN"
    assert da.load_retention(json.dumps(custom)).expires_at("evaluation", closed).year == 2020  # type: ignore[union-attr]
    custom["processes"]["evaluation"] = "NO_SUCH_CLASS"
    with pytest.raises(ValueError, match="NO_SUCH_CLASS"):
        da.load_retention(json.dumps(custom))


def test_global_chain_changes_with_any_byte_and_order() -> None:
    a = da.row_digest(1, "u", 1, "t:X", b'{"a":1}')
    assert a != da.row_digest(1, "u", 1, "t:X", b'{"a":2}') and a != da.row_digest(2, "u", 1, "t:X", b'{"a":1}')
    b = da.row_digest(2, "u", 2, "t:X", b"{}")
    assert da.chain_next(da.chain_next(GENESIS_HASH, a), b) != da.chain_next(da.chain_next(GENESIS_HASH, b), a)
    m = dict(seq=1, position=9, count=9, chain=a, created_at="2026-11-28T00:00:00+00:00", previous=GENESIS_HASH, key_id="k")
    assert da.checkpoint_message(**m) != da.checkpoint_message(**{**m, "count": 8})


def test_drill_down_link_and_document_hashes() -> None:
    assert da.temporal_url("http://ui:8233/", "default", "evaluation-2026-1", "r1") == (
        "http://ui:8233/namespaces/default/workflows/evaluation-2026-1/r1/history"
    )
    assert da.temporal_url(None, "default", "w", "r") is None and da.temporal_url("http://ui", "default", "", "") is None
    payload = {"data": {"files": [{"name": "sk.pdf", "sha256": "aa"}], "bkn_checksum": "no"}, "scan_sha256": "bb"}
    assert da.document_hashes(payload) == [
        {"pointer": "/data/files/0/sha256", "sha256": "aa"}, {"pointer": "/scan_sha256", "sha256": "bb"}
    ]


def _ev(version: int, type_name: str, payload: dict[str, Any], previous: str, day: int) -> tuple[str, Any]:
    return type_name, SimpleNamespace(
        payload=payload, process="evaluation", originator_version=version, previous_hash=previous, hash=f"h{version}",
        occurred_at=datetime(2026, 1, day, tzinfo=UTC), reason="ok", actor={"nip": "1"},
    )


def test_point_in_time_fold_shows_open_tasks_and_decisions() -> None:
    events = [
        _ev(1, "CaseOpened", {"subject_nip": "9", "unit": "U"}, GENESIS_HASH, 1),
        _ev(2, "TaskOpened", {"task_id": "a", "kind": "SKP_AGREEMENT"}, "h1", 1),
        _ev(3, "TaskClaimed", {"task_id": "a", "claimed_by": "1"}, "h2", 2),
        _ev(4, "TaskDecided", {"task_id": "a", "kind": "SKP_AGREEMENT", "outcome": "AGREED"}, "h3", 3),
        _ev(5, "CaseClosed", {"status": "completed"}, "h4", 4),
    ]
    state = da.CaseAsOf(case_id="c")
    for position, (name, e) in enumerate(events[:3], start=10):
        state.apply(name, e, position, True)
    assert state.status == "open" and [(t["task_id"], t["status"], t["claimed_by"]) for t in state.open_tasks] == [("a", "claimed", "1")]
    assert state.decisions == [] and state.position == 12 and state.chain_intact
    for name, e in events[3:]:
        state.apply(name, e, 99, True)
    assert state.status == "completed" and state.open_tasks == [] and state.decisions[0]["outcome"] == "AGREED"
    broken = da.CaseAsOf(case_id="c")
    broken.apply(*events[1], 1, True)  # type: ignore[arg-type]
    assert broken.chain_intact is False  # version 2 first: a gap
