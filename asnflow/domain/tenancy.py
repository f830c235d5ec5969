"""Tenants (instansi): which government a case, an event, a view row and a token belong to.

The tenant of a case is part of its identity: the case id of a non-default tenant carries the
tenant as a prefix (`muarojambi.evaluation-2026-<NIP>`), so workflow ids, aggregate ids
(uuid5 of the case id) and task ids (`<case id>.t<n>`) are unique across tenants in one Temporal
namespace and one event store, and a workflow knows its tenant from its own id. Case ids of the
default tenant stay unprefixed, so every case recorded before tenancy keeps its id.
"""

from __future__ import annotations

import re

# Every event recorded before tenancy existed belongs to the first deployment: Batanghari. Such
# events carry no tenant field; they read as this tenant and hash as before (see events.event_hash).
LEGACY_TENANT = "batanghari"
DEFAULT_TENANT = LEGACY_TENANT

# No '-' and no '.': a prefix must never be mistaken for part of a natural key (ids split on '-').
TENANT_PATTERN = r"^[a-z][a-z0-9]{1,31}$"
_TENANT_RE = re.compile(TENANT_PATTERN)
SEPARATOR = "."


def valid_tenant(tenant: str) -> bool:
    """A tenant id: lower-case letters and digits, 2–32 characters, starting with a letter."""
    return bool(_TENANT_RE.match(tenant))


def in_tenant(tenant: str, natural_id: str, default: str = DEFAULT_TENANT) -> str:
    """The case id of a natural key in a tenant (unprefixed for the default tenant)."""
    if not valid_tenant(tenant):
        raise ValueError(f"invalid tenant {tenant!r}")
    if tenant == default:
        return natural_id
    return f"{tenant}{SEPARATOR}{natural_id}"


def tenant_of(case_id: str, default: str = DEFAULT_TENANT) -> str:
    """The tenant a case id belongs to (its prefix, or the default tenant)."""
    head, sep, _ = case_id.partition(SEPARATOR)
    if sep and valid_tenant(head):
        return head
    return default


def case_prefix(case_id: str) -> str | None:
    """The tenant prefix of a case id (None for the default tenant's unprefixed ids)."""
    head, sep, _ = case_id.partition(SEPARATOR)
    return head if sep and valid_tenant(head) else None


def with_prefix(prefix: str | None, natural: str) -> str:
    """A natural key in the tenant whose case-id prefix is given (None: the default tenant)."""
    return natural if prefix is None else f"{prefix}{SEPARATOR}{natural}"


def natural_id(case_id: str) -> str:
    """The case id without its tenant prefix."""
    head, sep, rest = case_id.partition(SEPARATOR)
    return rest if sep and valid_tenant(head) else case_id


def same_tenant(case_id: str, natural: str, default: str = DEFAULT_TENANT) -> str:
    """Another case id in the tenant of `case_id` (e.g. a calibration started from an evaluation)."""
    return in_tenant(tenant_of(case_id, default), natural, default)
