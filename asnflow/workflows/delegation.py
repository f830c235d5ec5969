"""Acting officials (Plt/Plh) and out-of-office substitutes: a delegation lives from its grant to its end date."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from temporalio import workflow

from asnflow.workflows.human_tasks import CaseWorkflow, problem, reject

with workflow.unsafe.imports_passed_through():
    from asnflow.domain import deadlines as dl
    from asnflow.workflows.contracts import ERR_CONFLICT, ERR_INVALID, SYSTEM
    from asnflow.workflows.deadline_contracts import DelegationResult, GrantDelegationInput, RevokeDelegationInput


def delegation_case_id(suffix: str) -> str:
    """A delegation is its own case (and workflow)."""
    return f"delegation-{suffix}"


@workflow.defn
class DelegationWorkflow(CaseWorkflow):
    """Records the grant, the start (when granted ahead), and the end: by itself at its end date, or revoked."""

    process = "delegation"

    def __init__(self) -> None:
        self._status = "pending"
        self._revocation: RevokeDelegationInput | None = None
        self._ended_position = 0

    @workflow.run
    async def run(self, inp: GrantDelegationInput) -> DelegationResult:
        d = inp.delegation
        self._init_case(inp.delegation_id, d.principal_nip)
        starts, ends = datetime.fromisoformat(d.starts_at), datetime.fromisoformat(d.ends_at)
        label = dl.DELEGATION_TYPES[d.type]
        self._status = "active" if starts <= workflow.now() else "scheduled"
        await self.record(
            self.event(
                "CaseOpened",
                {
                    "subject_nip": d.principal_nip,
                    "unit": d.principal_unit,
                    "title": f"{label['id']} / {label['en']}: {d.principal_nip} → {d.acting_nip}",
                    "data": {"type": d.type, "acting_nip": d.acting_nip, "starts_at": d.starts_at, "ends_at": d.ends_at},
                },
                inp.granted_by,
            ),
            self.event(
                "DelegationGranted",
                {**dataclasses.asdict(d), "legal_basis": inp.legal_basis, "status": self._status, "granted_by": inp.granted_by.nip},
                inp.granted_by,
                inp.reason,
            ),
        )
        if self._status == "scheduled" and not await self._revoked_within(starts):
            self._status = "active"
            await self.record(self.event("DelegationStarted", {"delegation_id": inp.delegation_id}))
        if self._revocation is None:
            await self._revoked_within(ends)
        revocation = self._revocation
        self._status = "revoked" if revocation else "expired"
        actor, reason = (revocation.actor, revocation.reason) if revocation else (SYSTEM, "Masa berlaku berakhir / the period ended")
        recorded = await self.record(
            self.event(
                "DelegationEnded",
                {"delegation_id": inp.delegation_id, "status": self._status, "principal_nip": d.principal_nip, "acting_nip": d.acting_nip},
                actor,
                reason,
            ),
            self.event("CaseClosed", {"status": "completed", "outcome": {"status": self._status}}),
        )
        self._ended_position = recorded.positions[0]
        await workflow.wait_condition(workflow.all_handlers_finished)
        return DelegationResult(delegation_id=inp.delegation_id, status=self._status, position=self._ended_position)

    async def _revoked_within(self, until: datetime) -> bool:
        """Wait until a moment unless revoked first; True when revoked."""
        delay = (until - workflow.now()).total_seconds()
        if delay > 0:
            try:
                await workflow.wait_condition(lambda: self._revocation is not None, timeout=timedelta(seconds=delay))
            except TimeoutError:
                pass
        return self._revocation is not None

    @workflow.update
    async def revoke(self, inp: RevokeDelegationInput) -> DelegationResult:
        """End the delegation before its end date (who may is checked by the API)."""
        self._revocation = inp
        await workflow.wait_condition(lambda: self._ended_position > 0)
        return DelegationResult(delegation_id=self._case_id, status="revoked", position=self._ended_position)

    @revoke.validator
    def validate_revoke(self, inp: RevokeDelegationInput) -> None:
        if self._revocation is not None or self._status in ("revoked", "expired"):
            raise reject(ERR_CONFLICT, problem(None, "Pelimpahan wewenang sudah berakhir.", "The delegation has already ended."))
        if not inp.reason.strip():
            raise reject(ERR_INVALID, problem("reason", "Alasan wajib diisi.", "A reason is required."))

    @workflow.query
    def status(self) -> str:
        """pending | scheduled | active | expired | revoked."""
        return self._status
