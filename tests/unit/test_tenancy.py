"""Tenancy rules without servers: case ids, the envelope and its hash, token claims, view declarations."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from asnflow.activities.eventstore import build_events
from asnflow.api.auth import ClaimMap, TokenVerifier
from asnflow.api.errors import ApiError
from asnflow.domain import events as ev
from asnflow.domain.tenancy import case_prefix, in_tenant, natural_id, tenant_of, valid_tenant, with_prefix
from asnflow.projections.views import PROJECTIONS
from asnflow.workflows.contracts import NewEvent, RecordInput, case_id_of_task


def test_case_ids_carry_their_tenant_except_the_default() -> None:
    assert in_tenant("batanghari", "evaluation-2026-199602102022031001") == "evaluation-2026-199602102022031001"
    mj = in_tenant("muarojambi", "evaluation-2026-199503032021031005")
    assert mj == "muarojambi.evaluation-2026-199503032021031005"
    assert tenant_of(mj) == "muarojambi" and case_prefix(mj) == "muarojambi" and natural_id(mj).startswith("evaluation-")
    assert tenant_of("evaluation-2026-1") == "batanghari" and case_prefix("evaluation-2026-1") is None
    assert tenant_of("training-2026", default="tebo") == "tebo"
    assert with_prefix(None, "training-2026") == "training-2026"
    # Task ids still name their case; natural keys still split on '-' as before.
    assert case_id_of_task(f"{mj}.t3") == mj and mj.split("-")[1] == "2026"
    for bad in ("", "a", "Muaro", "muaro-jambi", "muaro.jambi", "1abc", "x" * 33):
        assert not valid_tenant(bad)
        with pytest.raises(ValueError):
            in_tenant(bad, "evaluation-2026-1")


def record_input(case_id: str) -> RecordInput:
    return RecordInput(
        case_id=case_id, process="evaluation", expected_version=0, previous_hash=ev.GENESIS_HASH, workflow_id=case_id,
        run_id="r", occurred_at=datetime(2026, 1, 5, tzinfo=UTC).isoformat(),
        events=[NewEvent("CaseOpened", {"subject_nip": "1"}, {"nip": None, "role": "SYSTEM", "on_behalf_of": None})],
    )


def test_the_envelope_takes_the_tenant_from_the_case_id_and_legacy_hashes_are_unchanged() -> None:
    [legacy], _ = build_events(record_input("evaluation-2026-1"))
    [other], _ = build_events(record_input("muarojambi.evaluation-2026-1"))
    assert legacy.tenant == "batanghari" and other.tenant == "muarojambi"
    # The pre-tenancy formula, verbatim: a legacy-tenant event hashes without the tenant field.
    body = ev.canonical({
        "type": "CaseOpened", "case_id": legacy.case_id, "process": "evaluation", "version": 1,
        "occurred_at": legacy.occurred_at.isoformat(), "actor": legacy.actor, "workflow_id": legacy.workflow_id,
        "run_id": "r", "reason": "", "payload": legacy.payload, "previous_hash": ev.GENESIS_HASH,
    })
    assert legacy.hash == hashlib.sha256(body.encode()).hexdigest() == ev.hash_of(legacy)
    assert ev.hash_of(other) == other.hash
    # The default tenant of a deployment names its unprefixed cases.
    [tebo], _ = build_events(record_input("evaluation-2026-1"), default_tenant="tebo")
    assert tebo.tenant == "tebo" and tebo.hash != legacy.hash


def test_an_event_stored_before_tenancy_reads_as_the_legacy_tenant() -> None:
    [fresh], _ = build_events(record_input("evaluation-2026-1"))
    old = ev.CaseOpened.__new__(ev.CaseOpened)
    old.__dict__.update({k: v for k, v in fresh.__dict__.items() if k != "tenant"})  # as eventsourcing restores it
    assert "tenant" not in old.__dict__ and old.tenant == "batanghari" and ev.hash_of(old) == fresh.hash


def verifier_and_key(tmp_path: Path, claims: ClaimMap | None = None) -> tuple[TokenVerifier, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return TokenVerifier(issuer="iss", audience="aud", public_key_pem=pem, claims=claims, default_tenant="batanghari"), key


def token(key: Ed25519PrivateKey, **extra: object) -> str:
    now = int(time.time())
    claims = {"sub": "199503032021031005", "roles": ["PEGAWAI"], "iss": "iss", "aud": "aud", "exp": now + 60, **extra}
    return jwt.encode(claims, key, algorithm="EdDSA")  # type: ignore[arg-type]


def test_tokens_name_their_tenant_by_a_configurable_claim_path(tmp_path: Path) -> None:
    verifier, key = verifier_and_key(tmp_path, ClaimMap(tenant="org.instansi"))
    user = verifier.verify(token(key, org={"instansi": "muarojambi"}))
    assert user.tenant == "muarojambi" and not user.default_tenant
    assert user.actor().tenant == "muarojambi" and user.case_id("kinship-1") == "muarojambi.kinship-1"
    plain = verifier.verify(token(key))
    assert plain.tenant == "batanghari" and plain.default_tenant and plain.actor().tenant is None
    assert plain.case_id("kinship-1") == "kinship-1"
    with pytest.raises(ApiError) as refused:
        verifier.verify(token(key, org={"instansi": "../batanghari"}))
    assert refused.value.status == 401


def test_every_table_a_view_creates_is_declared_so_it_gets_a_tenant_column() -> None:
    for name, (_, view) in PROJECTIONS.items():
        created = {d.split("EXISTS", 1)[1].split("(", 1)[0].strip() for d in view.ddl if d.lstrip().startswith("CREATE TABLE")}
        assert created and created <= {*view.tables, *view.kept_tables}, (name, created - {*view.tables, *view.kept_tables})
