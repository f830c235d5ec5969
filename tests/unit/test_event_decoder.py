"""The log's fast decoder gives the very objects eventsourcing's own mapper gives, for ordinary and odd events."""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from asnflow.activities.eventstore import EventDecoder, EventStore, build_events
from asnflow.domain.events import GENESIS_HASH
from asnflow.runtime.settings import STORE_CIPHER_TOPIC
from asnflow.workflows.contracts import NewEvent, RecordInput

ODD_PAYLOADS: list[dict[str, Any]] = [
    {"task_id": "c.t1", "kind": "SKP_DRAFT", "outcomes": ["SUBMITTED"], "due_at": "2026-12-01T16:59:59+00:00"},
    {"data": {"targets": [{"indikator": "Dokumen SKP", "target": "100%"}]}, "nested": [[{"a": None}], True, 1.5]},
    {"when": datetime(2026, 5, 1, 9, 30, tzinfo=UTC)},  # a typed value below the top level
    {"ids": [UUID(int=7)], "amount": Decimal("12.50")},
    {"big": 123456789012345678901234567890, "small": -9223372036854775809, "u64": 18446744073709551615},
    {"note": '"_type_" appears in text', "_type_": "not a typed value"},
    {"_type_": "datetime_iso", "_data_": "2026-01-01T00:00:00+00:00", "third": 1},
    {"nan": float("nan"), "inf": float("inf"), "unicode": "Bapak Sekretaris Daerah — ümlaut ✓"},
    {"nip": "196902082002112001", "number": 1969020820021120, "float": 0.1},
    {"id_like": "1969020820021120011234567", "list": [12345678901234567890123]},
]


def _same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN and the same types throughout (no int read as a float)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize("encrypted", [True, False])
def test_the_decoder_gives_what_the_library_mapper_gives(encrypted: bool) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    if encrypted:
        env |= {"CIPHER_TOPIC": STORE_CIPHER_TOPIC, "CIPHER_KEY": base64.b64encode(bytes(range(32))).decode()}
    store = EventStore(env=env)
    events, _ = build_events(RecordInput(
        case_id="evaluation-2026-199602102022031001", process="evaluation", expected_version=0, previous_hash=GENESIS_HASH,
        workflow_id="evaluation-2026-199602102022031001", run_id="r", occurred_at="2026-11-28T08:00:00+07:00",
        events=[NewEvent("TaskOpened", payload, {"nip": "199602102022031001", "role": "PEGAWAI"}, "alasan") for payload in ODD_PAYLOADS],
    ))
    decoder = EventDecoder.of(store)
    assert EventDecoder.of(store) is decoder
    library_decode, slow = decoder.transcoder.decode, []
    decoder.transcoder.decode = lambda data: slow.append(data) or library_decode(data)  # type: ignore[method-assign]
    slow_ones = []
    for index, event in enumerate(events):
        stored = store.mapper.to_stored_event(event)
        theirs = store.mapper.to_domain_event(stored)
        before = len(slow)
        ours = decoder.decode(stored.originator_id, stored.originator_version, stored.topic, stored.state)
        if len(slow) > before:
            slow_ones.append(index)
        assert type(ours) is type(theirs)
        assert _same(ours.__dict__, theirs.__dict__), ours.__dict__
    # Ordinary events (long digit strings and 16-digit numbers included; the first holds the genesis hash) take the
    # short way; nested typed values, long integers, "_type_" as a key or in a value, and NaN the library's transcoder.
    assert slow_ones == [2, 3, 4, 5, 6, 7, 9]
    with pytest.raises(ValueError, match="Failed to deserialise"):
        decoder.decode(stored.originator_id, 1, stored.topic, b"{not json")
