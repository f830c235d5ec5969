"""Event types of the store: every case event carries the audit envelope and a hash link."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import DomainEvent

from asnflow.domain.tenancy import LEGACY_TENANT

# Aggregate ids derive from natural keys, so a retried start can never open a second case.
CASE_NAMESPACE = uuid5(NAMESPACE_URL, "https://asnflow.batangharikab.go.id/cases")
GENESIS_HASH = "0" * 64


def case_aggregate_id(case_id: str) -> UUID:
    """The event-store id of a case (or directory entry) from its natural key."""
    return uuid5(CASE_NAMESPACE, case_id)


EVENT_TYPES: dict[str, type[CaseEvent]] = {}


class CaseEvent(DomainEvent):
    """Base of every stored event: the envelope auditors rely on.

    Every subclass registers itself by name, so a process defines its events in its own domain
    module; the recording activity refuses names that no imported module defines.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__name__ in EVENT_TYPES and EVENT_TYPES[cls.__name__] is not cls:
            raise TypeError(f"event type {cls.__name__} is defined twice")
        EVENT_TYPES[cls.__name__] = cls

    case_id: str
    process: str
    occurred_at: datetime
    actor: dict[str, Any]
    workflow_id: str
    run_id: str
    reason: str
    payload: dict[str, Any]
    previous_hash: str
    hash: str
    # The instansi the case belongs to. Events stored before tenancy lack the field and read as
    # the legacy tenant through this class attribute (eventsourcing restores __dict__ as stored).
    tenant: str = LEGACY_TENANT


def canonical(obj: Any) -> str:
    """Stable JSON used for hashing and for comparing a retried event with the stored one."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(
    *,
    type_name: str,
    case_id: str,
    process: str,
    version: int,
    occurred_at: str,
    actor: dict[str, Any],
    workflow_id: str,
    run_id: str,
    reason: str,
    payload: dict[str, Any],
    previous_hash: str,
    tenant: str = LEGACY_TENANT,
) -> str:
    """SHA-256 over the event's content and its predecessor's hash (the case chain)."""
    fields: dict[str, Any] = {
        "type": type_name,
        "case_id": case_id,
        "process": process,
        "version": version,
        "occurred_at": occurred_at,
        "actor": actor,
        "workflow_id": workflow_id,
        "run_id": run_id,
        "reason": reason,
        "payload": payload,
        "previous_hash": previous_hash,
    }
    # Legacy-tenant events hash exactly as before tenancy, so chains stored earlier still verify;
    # any other tenant is bound into the hash (moving an event between tenants breaks its chain).
    if tenant != LEGACY_TENANT:
        fields["tenant"] = tenant
    return hashlib.sha256(canonical(fields).encode()).hexdigest()


def hash_of(event: CaseEvent) -> str:
    """Recompute a stored event's hash (for verification)."""
    return event_hash(
        type_name=type(event).__name__,
        case_id=event.case_id,
        process=event.process,
        version=event.originator_version,
        occurred_at=event.occurred_at.isoformat(),
        actor=event.actor,
        workflow_id=event.workflow_id,
        run_id=event.run_id,
        reason=event.reason,
        payload=event.payload,
        previous_hash=event.previous_hash,
        tenant=event.tenant,
    )


# --- case lifecycle (all processes) ---------------------------------------------------------
class CaseOpened(CaseEvent):
    """payload: subject_nip, unit, title, data."""


class CaseClosed(CaseEvent):
    """payload: status (completed|cancelled|rejected), outcome."""


# --- the human-task mechanism (all processes) -------------------------------------------------
class TaskOpened(CaseEvent):
    """payload: task_id, kind, title, assignee_nip, candidate_role, unit, due_at, outcomes, subject_may_act."""


class TaskClaimed(CaseEvent):
    """payload: task_id, claimed_by."""


class TaskReleased(CaseEvent):
    """payload: task_id."""


class TaskDecided(CaseEvent):
    """payload: task_id, kind, outcome, data."""


class TaskCancelled(CaseEvent):
    """payload: task_id."""


# --- directory ----------------------------------------------------------------------------------
class EmployeeRegistered(CaseEvent):
    """payload: the employee record (nip, nama, golongan, jabatan, unit, atasan_nip, ...)."""


class EmployeeUpdated(CaseEvent):
    """payload: the changed fields, and `record`: the whole record after the change."""


# --- evaluation (PermenPANRB 6/2022) ------------------------------------------------------------
class EvaluationStarted(CaseEvent):
    """payload: nip, year, appraiser_nip, regulation."""


class SkpDrafted(CaseEvent):
    """payload: targets."""


class SkpAgreed(CaseEvent):
    """payload: agreed_by."""


class SkpReturned(CaseEvent):
    """payload: returned_by (the reason is on the envelope)."""


class RatingSubmitted(CaseEvent):
    """payload: hasil_kerja, perilaku_kerja."""


class PredicateDetermined(CaseEvent):
    """payload: predicate, regulation, hasil_kerja, perilaku_kerja."""


class EvaluationAcknowledged(CaseEvent):
    """payload: acknowledged_by."""
