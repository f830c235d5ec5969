"""Position-filling reads: the talent pool and the kinship registry, from the views."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from temporalio import activity

from asnflow.activities.promotion import load_config, people_facts, relatives_of
from asnflow.domain import position as pos
from asnflow.workflows.position_contracts import KinInput, KinResult, PoolInput, PoolResult


def compute_pool(conn: psycopg.Connection[Any], inp: PoolInput) -> PoolResult:
    """The talent pool for a post type on a date, the relatives of everyone involved, and the members' names."""
    candidates, excluded = pos.talent_pool(inp.jenis_jabatan, people_facts(conn, nips=inp.candidate_nips), date.fromisoformat(inp.on))
    involved = sorted({c["nip"] for c in candidates} | set(inp.members))
    names = {r["nip"]: r["nama"] for r in conn.execute("SELECT nip, nama FROM employees WHERE nip = ANY(%s)", [list(inp.members)]).fetchall()}
    return PoolResult(candidates=candidates, excluded=excluded, relatives=relatives_of(conn, involved), names=names)


class PositionActivities:
    """Reads for the Tim Penilai session and the open selection."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.database_url = database_url
        self.data_dir = Path(data_dir)

    def _freezes(self) -> list[dict[str, Any]]:
        return list(load_config(self.data_dir).get("freezes") or [])

    @activity.defn(name="position_talent_pool")
    def talent_pool(self, inp: PoolInput) -> PoolResult:
        """The talent pool (PermenPANRB 3/2020) computed from the directory and evaluation views."""
        with psycopg.connect(self.database_url, row_factory=dict_row) as conn:
            result = compute_pool(conn, inp)
        result.freezes = self._freezes()
        return result

    @activity.defn(name="position_kinship")
    def kinship(self, inp: KinInput) -> KinResult:
        """Declared relatives of the NIPs given (either side declared them)."""
        with psycopg.connect(self.database_url, row_factory=dict_row) as conn:
            relatives = relatives_of(conn, sorted(set(inp.nips)))
        return KinResult(relatives=relatives, freezes=self._freezes())


def position_activities(settings: Any) -> list[Any]:
    """The position activities wired to the worker's database."""
    acts = PositionActivities(settings.database_url, settings.data_dir)
    return [acts.talent_pool, acts.kinship]
