"""The kinship registry (merit over kinship): declared relatives never decide each other's cases."""

from __future__ import annotations

from asnflow.domain.events import CaseEvent

# Relations a civil servant declares (configurable list; the regulation leaves the degree to the agency).
RELATIONS: dict[str, tuple[str, str]] = {
    "SUAMI_ISTRI": ("suami/istri", "spouse"),
    "ORANG_TUA": ("orang tua", "parent"),
    "ANAK": ("anak", "child"),
    "SAUDARA_KANDUNG": ("saudara kandung", "sibling"),
    "MERTUA": ("mertua", "parent-in-law"),
    "MENANTU": ("menantu", "child-in-law"),
    "IPAR": ("ipar", "sibling-in-law"),
    "KAKEK_NENEK": ("kakek/nenek", "grandparent"),
    "CUCU": ("cucu", "grandchild"),
    "PAMAN_BIBI": ("paman/bibi", "uncle/aunt"),
    "KEPONAKAN": ("keponakan", "nephew/niece"),
    "SEPUPU": ("sepupu", "cousin"),
}

ANTI_NEPOTISM_RULE = "anti-nepotism (kinship registry)"


def kinship_case_id(nip: str) -> str:
    """Each employee's declarations are one event sequence."""
    return f"kinship-{nip}"


class KinshipDeclared(CaseEvent):
    """payload: nip, relative_nip, relation."""


class KinshipWithdrawn(CaseEvent):
    """payload: nip, relative_nip."""
