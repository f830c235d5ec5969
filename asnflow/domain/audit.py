"""Audit model: access and legal-hold events, retention classes, the global chain and point-in-time folds."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote
from uuid import UUID

from asnflow.domain.events import GENESIS_HASH, CaseEvent, canonical
from asnflow.domain.tenancy import case_prefix, natural_id, with_prefix

AUDIT_PROCESS = "audit"


# --- events of the audit trail itself (each on its own aggregate, never on a case's) -------------
class AuditAccessed(CaseEvent):
    """payload: request_id, action, channel, method, path, query (an auditor's read, recorded before it is served)."""


class LegalHoldPlaced(CaseEvent):
    """payload: hold_case_id, reference (e.g. a BPK or Inspektorat letter number)."""


class LegalHoldReleased(CaseEvent):
    """payload: hold_case_id, reference."""


class CasePurged(CaseEvent):
    """payload: purged_case_id, retention_class, closed_at, events [{position, version, hash}], head_hash."""


def access_case_id(nip: str | None, day: str, tenant_prefix: str | None = None) -> str:
    """One access log per auditor per (WIB) day, in the auditor's tenant: a short chain that is cheap to append to."""
    return with_prefix(tenant_prefix, f"audit-access-{nip or 'cli'}-{day}")


def hold_case_id(case_id: str) -> str:
    """Holds live beside the case (and in its tenant), because the case's own sequence is counted by its workflow."""
    return with_prefix(case_prefix(case_id), f"legal-hold-{natural_id(case_id)}")


def purge_case_id(case_id: str) -> str:
    return with_prefix(case_prefix(case_id), f"purge-{natural_id(case_id)}")


def is_audit_case(case_id: str) -> bool:
    """Aggregates of the audit trail itself (never purged)."""
    return natural_id(case_id).startswith(("audit-access-", "legal-hold-", "purge-"))


# --- retention ---------------------------------------------------------------------------------
# Unconfirmed: periods follow the usual JRA (jadwal retensi arsip) pattern for personnel records, not
# a checked official text. They are configuration (ASNFLOW_AUDIT_RETENTION_FILE), versioned by name.
DEFAULT_RETENTION: dict[str, Any] = {
    "version": "asnflow-default-2026.1 (unconfirmed)",
    "default_class": "PERMANEN",
    "classes": {
        "PERMANEN": {"years": None, "id": "Disimpan permanen", "en": "Kept permanently"},
        "KINERJA": {"years": 10, "id": "10 tahun setelah perkara ditutup", "en": "10 years after the case closes"},
        "PENGEMBANGAN": {"years": 5, "id": "5 tahun setelah perkara ditutup", "en": "5 years after the case closes"},
        "PENGADUAN": {"years": 5, "id": "5 tahun setelah perkara ditutup", "en": "5 years after the case closes"},
        "AKSES_AUDIT": {"years": 10, "id": "10 tahun", "en": "10 years"},
    },
    "processes": {
        "directory": "PERMANEN",
        "selection": "PERMANEN",
        "promotion": "PERMANEN",
        "evaluation": "KINERJA",
        "training": "PENGEMBANGAN",
        "complaint": "PENGADUAN",
        "audit": "PERMANEN",
    },
}


@dataclass(frozen=True)
class RetentionClass:
    name: str
    years: int | None
    text_id: str = ""
    text_en: str = ""


@dataclass(frozen=True)
class RetentionPolicy:
    """Which class each process (record type) belongs to, and how long each class is kept."""

    version: str
    classes: dict[str, RetentionClass]
    processes: dict[str, str]
    default_class: str = "PERMANEN"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RetentionPolicy:
        """Build from the JSON configuration shape of DEFAULT_RETENTION; unknown class names are refused."""
        classes = {
            name: RetentionClass(name, c.get("years"), c.get("id", ""), c.get("en", ""))
            for name, c in config["classes"].items()
        }
        processes = dict(config.get("processes", {}))
        default = config.get("default_class", "PERMANEN")
        for name in [*processes.values(), default]:
            if name not in classes:
                raise ValueError(f"retention class {name!r} is not defined")
        return cls(config.get("version", ""), classes, processes, default)

    def class_for(self, process: str) -> RetentionClass:
        return self.classes[self.processes.get(process, self.default_class)]

    def expires_at(self, process: str, closed_at: datetime | None) -> datetime | None:
        """When a closed case may be purged; None while open or when kept permanently."""
        years = self.class_for(process).years
        if years is None or closed_at is None:
            return None
        try:
            return closed_at.replace(year=closed_at.year + years)
        except ValueError:  # 29 February
            return closed_at.replace(year=closed_at.year + years, day=28)


def load_retention(text: str | None = None) -> RetentionPolicy:
    """The configured policy (JSON text) or the default."""
    return RetentionPolicy.from_config(json.loads(text) if text else DEFAULT_RETENTION)


# --- the global chain over the store's order -------------------------------------------------------
def row_digest(position: int, originator_id: UUID | str, version: int, topic: str, state: bytes) -> str:
    """SHA-256 of a stored row exactly as PostgreSQL holds it (any changed byte changes it)."""
    h = hashlib.sha256(f"{position}\n{originator_id}\n{version}\n{topic}\n".encode())
    h.update(state)
    return h.hexdigest()


def chain_next(previous: str, digest: str) -> str:
    """The global chain link: each row's digest folded onto everything before it."""
    return hashlib.sha256(bytes.fromhex(previous) + bytes.fromhex(digest)).hexdigest()


def checkpoint_message(
    *, seq: int, position: int, count: int, chain: str, created_at: str, previous: str, key_id: str
) -> bytes:
    """The exact bytes a checkpoint signature covers."""
    return canonical(
        {
            "kind": "asnflow-checkpoint/1", "seq": seq, "position": position, "count": count, "chain": chain,
            "created_at": created_at, "previous": previous, "key_id": key_id,
        }
    ).encode()


def message_hash(message: bytes) -> str:
    return hashlib.sha256(message).hexdigest()


GLOBAL_GENESIS = GENESIS_HASH


# --- drill-down --------------------------------------------------------------------------------------
def temporal_url(ui_url: str | None, namespace: str, workflow_id: str, run_id: str) -> str | None:
    """The Temporal UI page of the run that recorded an event (None for events no workflow recorded)."""
    if not ui_url or not workflow_id:
        return None
    base = f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}/workflows/{quote(workflow_id, safe='')}"
    return f"{base}/{quote(run_id, safe='')}/history" if run_id else base


# --- documents referenced by events ----------------------------------------------------------------------
def document_hashes(payload: Any, path: str = "") -> list[dict[str, str]]:
    """Every `sha256`/`*_sha256`/`checksum` string in a payload, with its JSON pointer (document evidence)."""
    found: list[dict[str, str]] = []
    if isinstance(payload, dict):
        for key, value in sorted(payload.items()):
            here = f"{path}/{key}"
            if isinstance(value, str) and (key in ("sha256", "checksum") or key.endswith("_sha256")):
                found.append({"pointer": here, "sha256": value})
            else:
                found.extend(document_hashes(value, here))
    elif isinstance(payload, list):
        for i, value in enumerate(payload):
            found.extend(document_hashes(value, f"{path}/{i}"))
    return found


# --- point in time ---------------------------------------------------------------------------------------
@dataclass
class CaseAsOf:
    """A case folded from its events up to a moment: what anyone acting then could see."""

    case_id: str
    process: str = ""
    status: str = "not_opened"
    subject_nip: str | None = None
    unit: str | None = None
    title: str | None = None
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    position: int = 0
    last_event: str | None = None
    last_hash: str = GENESIS_HASH
    chain_intact: bool = True
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)

    def apply(self, type_name: str, e: Any, position: int, hash_ok: bool) -> None:
        """Fold one event (a CaseEvent or anything with its attributes)."""
        p = e.payload
        self.chain_intact = self.chain_intact and hash_ok and e.previous_hash == self.last_hash
        self.chain_intact = self.chain_intact and e.originator_version == self.version + 1
        self.process = e.process
        self.version, self.position, self.last_event, self.last_hash = e.originator_version, position, type_name, e.hash
        if type_name == "CaseOpened":
            self.status, self.opened_at = "open", e.occurred_at
            self.subject_nip, self.unit, self.title = p.get("subject_nip"), p.get("unit"), p.get("title")
        elif type_name == "CaseClosed":
            self.status, self.closed_at = p.get("status", "completed"), e.occurred_at
            self.outcome = p.get("outcome", {}) or {}
        elif type_name == "TaskOpened":
            self.tasks[p["task_id"]] = {
                "task_id": p["task_id"], "kind": p.get("kind"), "title": p.get("title"), "status": "open",
                "assignee_nip": p.get("assignee_nip"), "candidate_role": p.get("candidate_role"),
                "unit": p.get("unit"), "due_at": p.get("due_at"), "opened_at": e.occurred_at,
                "claimed_by": None, "outcomes": p.get("outcomes", []),
            }
        elif type_name in ("TaskClaimed", "TaskReleased", "TaskDecided", "TaskCancelled"):
            task = self.tasks.get(p.get("task_id", ""))
            if task is None:
                return
            if type_name == "TaskClaimed":
                task.update(status="claimed", claimed_by=p.get("claimed_by"))
            elif type_name == "TaskReleased":
                task.update(status="open", claimed_by=None)
            elif type_name == "TaskCancelled":
                task.update(status="cancelled", closed_at=e.occurred_at)
            else:
                task.update(status="done", closed_at=e.occurred_at, outcome=p.get("outcome"))
                self.decisions.append(
                    {
                        "task_id": task["task_id"], "kind": task["kind"], "outcome": p.get("outcome"),
                        "data": p.get("data", {}), "reason": e.reason, "actor": e.actor,
                        "occurred_at": e.occurred_at, "version": e.originator_version, "position": position,
                    }
                )

    @property
    def open_tasks(self) -> list[dict[str, Any]]:
        return [t for t in self.tasks.values() if t["status"] in ("open", "claimed")]
