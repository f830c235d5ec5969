"""Pure checks: the hash chain, task ids, tokens and bilingual errors (no servers)."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from starlette.requests import Request

from asnflow.activities.eventstore import build_events
from asnflow.api.auth import VERIFIED_TTL_SECONDS, TokenVerifier, ensure_dev_keys, mint_token
from asnflow.api.errors import ApiError, body
from asnflow.domain.events import GENESIS_HASH, hash_of
from asnflow.workflows.contracts import NewEvent, RecordInput, case_id_of_task


def sample(version: int = 0, previous: str = GENESIS_HASH, payload: dict | None = None) -> RecordInput:
    return RecordInput(
        case_id="evaluation-2026-199602102022031001", process="evaluation", expected_version=version,
        previous_hash=previous, workflow_id="wf", run_id="run", occurred_at="2026-01-05T02:00:00+00:00",
        events=[
            NewEvent("CaseOpened", payload or {"subject_nip": "199602102022031001"}, {"nip": "1", "role": "PEGAWAI", "on_behalf_of": None}),
            NewEvent("TaskOpened", {"task_id": "x.t1"}, {"nip": None, "role": "SYSTEM", "on_behalf_of": None}),
        ],
    )


def test_events_link_into_a_chain_and_hashes_are_deterministic() -> None:
    events, last = build_events(sample())
    again, _ = build_events(sample())
    assert [e.hash for e in events] == [e.hash for e in again]  # a retry builds the very same events
    assert events[0].previous_hash == GENESIS_HASH and events[1].previous_hash == events[0].hash == hash_of(events[0])
    assert last == events[1].hash and [e.originator_version for e in events] == [1, 2]


def test_any_change_of_content_changes_the_hash() -> None:
    base, _ = build_events(sample())
    other, _ = build_events(sample(payload={"subject_nip": "199602102022031002"}))
    later, _ = build_events(sample(version=5, previous=base[1].hash))
    assert base[0].hash != other[0].hash
    assert later[0].originator_version == 6 and later[0].hash != base[0].hash


def test_unknown_event_types_are_refused() -> None:
    inp = sample()
    inp.events[0].type = "SomethingHappened"
    with pytest.raises(Exception, match="SomethingHappened"):
        build_events(inp)


def test_task_ids_name_their_case() -> None:
    assert case_id_of_task("evaluation-2026-199602102022031001.t12") == "evaluation-2026-199602102022031001"
    for bad in ("nope", ".t1", ""):
        with pytest.raises(ValueError):
            case_id_of_task(bad)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, TokenVerifier]:
    private, public = tmp_path / "k.pem", tmp_path / "k.pub.pem"
    ensure_dev_keys(private, public)
    return private, TokenVerifier(issuer="asnflow-dev", audience="asnflow", public_key_pem=public.read_bytes())


def test_tokens_carry_roles_and_unit(keys: tuple[Path, TokenVerifier]) -> None:
    private, verifier = keys
    token = mint_token(private, nip="199602102022031001", name="Bayu", roles=["PEGAWAI"], unit="DISKOMINFO", issuer="asnflow-dev", audience="asnflow")
    user = verifier.verify(token)
    assert (user.nip, user.roles, user.unit) == ("199602102022031001", ["PEGAWAI"], "DISKOMINFO")


@pytest.mark.parametrize("problem", ["expired", "audience", "issuer", "foreign-key", "garbage"])
def test_bad_tokens_get_401(keys: tuple[Path, TokenVerifier], tmp_path: Path, problem: str) -> None:
    private, verifier = keys
    kw = {"nip": "1", "name": "x", "roles": ["ADMIN"], "unit": None, "issuer": "asnflow-dev", "audience": "asnflow"}
    if problem == "expired":
        token = mint_token(private, **kw, ttl_seconds=-120)  # type: ignore[arg-type]
    elif problem == "audience":
        token = mint_token(private, **{**kw, "audience": "other"})  # type: ignore[arg-type]
    elif problem == "issuer":
        token = mint_token(private, **{**kw, "issuer": "evil"})  # type: ignore[arg-type]
    elif problem == "foreign-key":
        ensure_dev_keys(tmp_path / "o.pem", tmp_path / "o.pub.pem")
        token = mint_token(tmp_path / "o.pem", **kw)  # type: ignore[arg-type]
    else:
        token = "not.a.token"
    with pytest.raises(ApiError) as info:
        verifier.verify(token)
    assert info.value.status == 401


def test_unsigned_tokens_are_refused(keys: tuple[Path, TokenVerifier]) -> None:
    _, verifier = keys
    claims = {"sub": "1", "roles": ["ADMIN"], "iss": "asnflow-dev", "aud": "asnflow", "exp": int(time.time()) + 60}
    with pytest.raises(ApiError):
        verifier.verify(jwt.encode(claims, key=None, algorithm="none"))  # type: ignore[arg-type]


def request_with(language: str) -> Request:
    return Request({"type": "http", "headers": [(b"accept-language", language.encode())]})


@pytest.mark.parametrize(
    ("language", "expected"),
    [("", "Ditolak."), ("id-ID,id;q=0.9", "Ditolak."), ("en-US,en;q=0.9", "Refused."), ("id,en;q=0.5", "Ditolak."), ("en,id", "Refused.")],
)
def test_errors_speak_the_callers_language_and_carry_both(language: str, expected: str) -> None:
    doc = body(request_with(language), ApiError(403, "Ditolak.", "Refused."))
    assert doc["message"] == expected and doc["message_id"] == "Ditolak." and doc["message_en"] == "Refused."


def test_a_verified_token_is_remembered_until_its_deadline(keys: tuple[Path, TokenVerifier], tmp_path: Path) -> None:
    private, verifier = keys
    token = mint_token(private, nip="1", name="x", roles=["PEGAWAI"], unit=None, issuer="asnflow-dev", audience="asnflow")
    first = verifier.verify(token)
    first.roles.append("ADMIN")  # a handler changing its copy does not change the remembered caller
    assert verifier.verify(token).roles == ["PEGAWAI"]
    # The key is replaced: the remembered token is still honoured until its deadline, then checked again.
    ensure_dev_keys(tmp_path / "o.pem", tmp_path / "o.pub.pem")
    verifier._key = serialization.load_pem_public_key((tmp_path / "o.pub.pem").read_bytes())
    assert verifier.verify(token).nip == "1"
    until, user = verifier._verified[token]
    assert until <= time.time() + VERIFIED_TTL_SECONDS and until <= jwt.decode(token, options={"verify_signature": False})["exp"] + 30
    verifier._verified[token] = (time.time() - 1, user)
    with pytest.raises(ApiError) as info:
        verifier.verify(token)
    assert info.value.status == 401
