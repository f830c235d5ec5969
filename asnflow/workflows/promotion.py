"""Career development: rank promotion (OPD head -> BKPSDM -> BKN pertek -> PPK decree), batches, and rotation."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from asnflow.workflows.human_tasks import CaseWorkflow, TaskCancelledError, TaskSpec, TaskState, reject

with workflow.unsafe.imports_passed_through():
    from asnflow.activities.promotion import PromotionActivities
    from asnflow.domain import promotion as rules
    from asnflow.domain.events import canonical
    from asnflow.domain.organisation import UNITS_BY_CODE
    from asnflow.workflows.contracts import ERR_FORBIDDEN, SYSTEM, Actor, CaseResult, DecisionInput
    from asnflow.workflows.promotion_contracts import (
        BKN_PERTEK,
        DECREE,
        PROMOTION_PROCESS,
        REVISION,
        ROTATION_ADVICE,
        ROTATION_DECREE,
        ROTATION_MENDAGRI,
        VERIFICATION,
        BatchInput,
        DecreeDocumentInput,
        DirectoryChangeInput,
        EligibilityListInput,
        FactsInput,
        PromotionFacts,
        StartPromotionInput,
        StartRotationInput,
        promotion_case_id,
    )

READ = RetryPolicy(maximum_interval=timedelta(seconds=30), non_retryable_error_types=["NotFound"])
REFUSED = "Refused"  # the start was refused: nothing is recorded, the workflow id stays reusable


def refuse(problems: list[dict[str, Any]]) -> ApplicationError:
    """Fail the start without recording anything; the problems name the rule and regulation."""
    return ApplicationError("; ".join(p["en"] for p in problems), *problems, type=REFUSED, non_retryable=True)


def today_wib() -> date:
    return (workflow.now() + rules.WIB_OFFSET).date()


def acting(actor: Actor) -> set[str]:
    """The person deciding and, for an acting official (Plt/Plh), the one they stand in for."""
    return {n for n in (actor.nip, actor.on_behalf_of) if n}


def segregation(rule_id: str, rule_en: str) -> ApplicationError:
    return reject(
        ERR_FORBIDDEN,
        rules.problem(None, f"{rule_id} [PEMISAHAN_TUGAS]", f"{rule_en} [SEGREGATION_OF_DUTIES]", rule="PEMISAHAN_TUGAS"),
    )


def text_problems(data: dict[str, Any], *keys: str) -> list[dict[str, Any]]:
    out = []
    for key in keys:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            out.append(rules.problem(key, f"{key} wajib diisi (teks, paling banyak 200 karakter).", f"{key} is required (text, at most 200 characters)."))
    return out


def date_problem(data: dict[str, Any], key: str, not_before: str | None = None) -> list[dict[str, Any]]:
    try:
        value = date.fromisoformat(str(data.get(key)))
    except ValueError:
        return [rules.problem(key, f"{key} harus tanggal (YYYY-MM-DD).", f"{key} must be a date (YYYY-MM-DD).")]
    if not_before and value < date.fromisoformat(not_before):
        return [rules.problem(key, f"{key} tidak boleh sebelum {not_before}.", f"{key} may not be before {not_before}.")]
    return []


class CareerCase(CaseWorkflow):
    """What the promotion and rotation cases share: facts, refusals at start, decrees and the directory change."""

    process = PROMOTION_PROCESS

    def _start(self, case_id: str, nip: str, proposer: Actor) -> None:
        self._init_case(case_id, nip)
        self._proposer = proposer
        self._relatives: set[str] = set()
        # Who acted at each step: proposer, verifier/adviser and decider must be different people.
        self._acted: dict[str, set[str]] = {"proposer": acting(proposer)}

    async def _facts(self, nip: str) -> PromotionFacts:
        got = await workflow.execute_activity_method(
            PromotionActivities.promotion_facts, FactsInput(nip=nip), start_to_close_timeout=timedelta(seconds=30), retry_policy=READ
        )
        self._relatives = set(got.facts.get("relatives") or [])
        return got

    def _proposer_problems(self, nip: str) -> list[dict[str, Any]]:
        who = acting(self._proposer)
        if nip in who:
            return [rules.problem(None, "Tidak seorang pun boleh mengusulkan perkaranya sendiri. [PEMISAHAN_TUGAS]", "Nobody may propose their own case. [SEGREGATION_OF_DUTIES]", rule="PEMISAHAN_TUGAS")]
        if who & self._relatives:
            return [rules.problem(None, "Pengusul adalah kerabat yang dideklarasikan pegawai ini. [KERABAT]", "The proposer is a declared relative of this employee. [RELATIVE]", rule="KERABAT")]
        return []

    def _check_people(self, decision: DecisionInput, *not_steps: str) -> None:
        """Relatives never act; the steps named must have been someone else's."""
        who = acting(decision.actor)
        if who & self._relatives:
            raise segregation("Kerabat pegawai yang dideklarasikan tidak boleh memutuskan perkara ini.", "A declared relative of the employee may not act on this case.")
        for step in not_steps:
            if who & self._acted.get(step, set()):
                raise segregation(
                    f"Pengusul, verifikator dan pengambil keputusan harus orang berbeda (Anda sudah bertindak sebagai {step}).",
                    f"Proposer, verifier and decider must be different people (you already acted as {step}).",
                )

    async def _issue_decree(self, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        doc = await workflow.execute_activity_method(
            PromotionActivities.decree_document,
            DecreeDocumentInput(case_id=self._case_id, kind=kind, fields=fields),
            start_to_close_timeout=timedelta(seconds=60),
        )
        return {"name": doc.name, "path": doc.path, "sha256": doc.sha256, "size": doc.size, "media_type": doc.media_type}

    async def _change_directory(self, nip: str, changes: dict[str, Any], decision: DecisionInput, decree: dict[str, Any]) -> dict[str, Any]:
        info = workflow.info()
        result = await workflow.execute_activity_method(
            PromotionActivities.apply_directory_change,
            DirectoryChangeInput(
                source_case=self._case_id, nip=nip, changes=changes, actor=decision.actor.as_event_actor(),
                reason=f"SK {decree['sk_nomor']} tanggal {decree['sk_tanggal']}", occurred_at=workflow.now().isoformat(),
                workflow_id=info.workflow_id, run_id=info.run_id, decree=decree,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=10), non_retryable_error_types=["NotFound"]),
        )
        return {"directory_case": result.directory_case, "directory_position": result.position}


@workflow.defn
class PromotionWorkflow(CareerCase):
    """One rank-promotion proposal for one employee and period."""

    @workflow.run
    async def run(self, inp: StartPromotionInput) -> CaseResult:
        self._start(inp.case_id, inp.nip, inp.proposed_by)
        self._kind, self._period = inp.kind, date.fromisoformat(inp.period)
        got = await self._facts(inp.nip)
        self._base = rules.Facts.from_dict(got.facts)
        self._declared = dict(inp.declared or {})
        problems = rules.period_problems(self._period, today_wib(), rules.policy_from_config(got.config))
        problems += self._proposer_problems(inp.nip) + rules.declared_problems(inp.declared)
        if not problems:
            problems = [f.as_problem() for f in self._eligibility(self._declared).failures]
        if problems:
            raise refuse(problems)
        self._pertek_date: str | None = None
        result = self._eligibility(self._declared)
        golongan_baru = result.golongan_baru
        label = rules.KIND_LABELS[inp.kind]["id"]
        before = [
            self.event(
                "CaseOpened",
                {
                    "subject_nip": inp.nip, "unit": got.unit, "title": f"{label} {inp.period} — {got.nama}",
                    "data": {"kind": inp.kind, "period": inp.period, "golongan_lama": result.golongan_lama,
                             "golongan_baru": golongan_baru, "batch_id": inp.batch_id},
                },
                inp.proposed_by, inp.note,
            ),
            self.event(
                "PromotionProposed",
                {
                    "nip": inp.nip, "kind": inp.kind, "period": inp.period, "golongan_lama": result.golongan_lama,
                    "golongan_baru": golongan_baru, "rules": result.rules, "eligible_from": result.to_dict()["eligible_from"],
                    "calendar": rules.calendar_on(self._period, rules.policy_from_config(got.config)),
                    "facts": self._merged(self._declared).to_dict(), "declared": self._declared, "batch_id": inp.batch_id,
                    "required_documents": self._required(),
                },
                inp.proposed_by, inp.note,
            ),
        ]

        def spec(kind: str, title: str, outcomes: list[str], **kw: Any) -> TaskSpec:
            return TaskSpec(kind=kind, title=f"{title} — {got.nama}", outcomes=outcomes, due_working_days=rules.due_days(kind),
                            reason_required_for=["RETURNED", "REJECTED", "WITHDRAWN"], **kw)

        try:
            while True:
                verify = await self.human_task(
                    spec(VERIFICATION, "Verifikasi berkas kenaikan pangkat / Verify promotion dossier", ["VERIFIED", "RETURNED", "REJECTED"],
                         candidate_role="BKPSDM", unit="BKPSDMD"),
                    *before,
                )
                if verify.outcome != "VERIFIED":
                    before = await self._returned_or_rejected(verify, "VERIFICATION", spec, got.unit)
                    continue
                # Everyone who ever verified this case stays barred from deciding it.
                self._acted.setdefault("verifier", set()).update(acting(verify.actor))
                pertek = await self.human_task(
                    spec(BKN_PERTEK, "Pertimbangan teknis BKN / BKN technical approval", ["APPROVED", "RETURNED", "REJECTED"],
                         candidate_role="BKPSDM", unit="BKPSDMD"),
                    self.event("PromotionDossierVerified", {"verified_by": verify.actor.nip, "documents": verify.data["documents"],
                                                            "required": self._required()}, verify.actor, verify.reason),
                )
                if pertek.outcome != "APPROVED":
                    before = await self._returned_or_rejected(pertek, "BKN_PERTEK", spec, got.unit)
                    continue
                self._pertek_date = pertek.data["tanggal"]
                decree = await self.human_task(
                    spec(DECREE, "Penetapan SK kenaikan pangkat / Rank promotion decree", ["DECREED", "RETURNED", "REJECTED"],
                         candidate_role="BUPATI"),
                    self.event("PromotionPertekReceived", {
                        "nomor": pertek.data["nomor"], "tanggal": pertek.data["tanggal"], "source": pertek.data.get("source", "entered"),
                        "import_sha256": pertek.data.get("import_sha256"), "entered_by": pertek.actor.nip,
                    }, pertek.actor, pertek.reason),
                )
                if decree.outcome != "DECREED":
                    before = await self._returned_or_rejected(decree, "DECREE", spec, got.unit)
                    continue
                break
            status, outcome = await self._decreed(inp, got, decree, pertek)
        except _Closed as closed:
            status, outcome = closed.status, closed.outcome
        except TaskCancelledError as cancelled:
            await self.record(self.event("CaseClosed", {"status": "cancelled", "outcome": {}}, SYSTEM, f"task {cancelled} cancelled"))
            status, outcome = "cancelled", {}
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseResult(case_id=inp.case_id, status=status, outcome=outcome)

    def _merged(self, declared: dict[str, Any]) -> rules.Facts:
        return rules.merge_declared(self._base, declared)

    def _eligibility(self, declared: dict[str, Any]) -> rules.Eligibility:
        return rules.check_eligibility(self._kind, self._merged(declared), self._period)

    def _required(self) -> list[str]:
        result = self._eligibility(self._declared)
        return rules.required_documents(self._kind, result.golongan_lama, result.golongan_baru)

    async def _returned_or_rejected(self, decision: DecisionInput, level: str, spec: Any, unit: str) -> list[Any]:
        """A rejection closes the case; a return goes to the proposer, whose resubmission restarts verification."""
        if decision.outcome == "REJECTED":
            await self.record(
                self.event("PromotionRejected", {"level": level, "rejected_by": decision.actor.nip}, decision.actor, decision.reason),
                self.event("CaseClosed", {"status": "rejected", "outcome": {"level": level}}, decision.actor, decision.reason),
            )
            raise _Closed("rejected", {"level": level, "reason": decision.reason})
        revision = await self.human_task(
            spec(REVISION, "Perbaiki usulan kenaikan pangkat / Revise the promotion proposal", ["RESUBMITTED", "WITHDRAWN"],
                 assignee_nip=self._proposer.nip, unit=unit),
            self.event("PromotionReturned", {"level": level, "returned_by": decision.actor.nip}, decision.actor, decision.reason),
        )
        if revision.outcome == "WITHDRAWN":
            await self.record(
                self.event("PromotionWithdrawn", {"withdrawn_by": revision.actor.nip}, revision.actor, revision.reason),
                self.event("CaseClosed", {"status": "cancelled", "outcome": {"withdrawn": True}}, revision.actor, revision.reason),
            )
            raise _Closed("cancelled", {"withdrawn": True})
        self._declared = {**self._declared, **(revision.data.get("declared") or {})}
        return [
            self.event("PromotionResubmitted", {"declared": self._declared, "golongan_baru": self._eligibility(self._declared).golongan_baru,
                                                "required_documents": self._required()}, revision.actor, revision.reason)
        ]

    async def _decreed(self, inp: StartPromotionInput, got: PromotionFacts, decree: DecisionInput, pertek: DecisionInput) -> tuple[str, dict[str, Any]]:
        result = self._eligibility(self._declared)
        fields = {
            "case_id": inp.case_id, "kind": inp.kind, "nip": inp.nip, "nama": got.nama, "jabatan": self._base.jabatan,
            "unit": got.unit, "golongan_lama": result.golongan_lama, "golongan_baru": result.golongan_baru, "tmt": inp.period,
            "sk_nomor": decree.data["sk_nomor"], "sk_tanggal": decree.data["sk_tanggal"],
            "pertek_nomor": pertek.data["nomor"], "pertek_tanggal": pertek.data["tanggal"],
            "bupati_nama": decree.actor.name or decree.actor.nip,
        }
        document = await self._issue_decree("RANK", fields)
        sk = {"sk_nomor": fields["sk_nomor"], "sk_tanggal": fields["sk_tanggal"], "case_id": inp.case_id, "document_sha256": document["sha256"]}
        await self.record(
            self.event("PromotionDecreed", {
                "sk_nomor": fields["sk_nomor"], "sk_tanggal": fields["sk_tanggal"], "tmt": inp.period,
                "golongan_lama": result.golongan_lama, "golongan_baru": result.golongan_baru, "decided_by": decree.actor.nip,
                "document": document,
            }, decree.actor, decree.reason)
        )
        applied = await self._change_directory(inp.nip, {"golongan": result.golongan_baru, "tmt_golongan": inp.period}, decree, sk)
        outcome = {"golongan_baru": result.golongan_baru, "sk_nomor": fields["sk_nomor"], "sk_sha256": document["sha256"]}
        await self.record(
            self.event("PromotionApplied", {"nip": inp.nip, "golongan": result.golongan_baru, "tmt_golongan": inp.period, **applied}),
            self.event("CaseClosed", {"status": "completed", "outcome": outcome}),
        )
        return "completed", outcome

    def validate_decision_data(self, task: TaskState, decision: DecisionInput) -> list[dict[str, Any]]:
        """Segregation first (403), then each kind's data (422)."""
        kind, data = task.spec.kind, decision.data
        if kind == VERIFICATION:
            self._check_people(decision, "proposer")
            if decision.outcome == "VERIFIED":
                return rules.checklist_problems(data, self._required())
        elif kind == DECREE:
            self._check_people(decision, "proposer", "verifier")
            if decision.outcome == "DECREED":
                return text_problems(data, "sk_nomor") + date_problem(data, "sk_tanggal", self._pertek_date)
        elif kind == BKN_PERTEK:
            self._check_people(decision)
            if decision.outcome == "APPROVED":
                return text_problems(data, "nomor") + date_problem(data, "tanggal")
        elif kind == REVISION and decision.outcome == "RESUBMITTED":
            self._check_people(decision)
            declared = data.get("declared") or {}
            problems = rules.declared_problems(declared)
            if not problems:
                problems = [f.as_problem() for f in self._eligibility({**self._declared, **declared}).failures]
            return problems
        return []


class _Closed(Exception):
    def __init__(self, status: str, outcome: dict[str, Any]) -> None:
        super().__init__(status)
        self.status, self.outcome = status, outcome


@workflow.defn
class PromotionBatchWorkflow(CaseWorkflow):
    """BKPSDM lists everyone who is eligible for a period and proposes them all in one step."""

    process = PROMOTION_PROCESS

    @workflow.run
    async def run(self, inp: BatchInput) -> CaseResult:
        self._init_case(inp.case_id, None)
        listed = await workflow.execute_activity_method(
            PromotionActivities.promotion_eligibility_list,
            EligibilityListInput(period=inp.period, unit=inp.unit, nips=inp.nips, declared=inp.declared),
            start_to_close_timeout=timedelta(seconds=120),
            retry_policy=READ,
        )
        period = date.fromisoformat(inp.period)
        problems = rules.period_problems(period, today_wib(), rules.policy_from_config(listed.config))
        if problems:
            raise refuse(problems)
        entries = [
            {k: e[k] for k in ("nip", "nama", "unit", "kind", "eligible", "golongan_lama", "golongan_baru", "eligible_from")}
            | {"failures": [f["rule"] for f in e["failures"]]}
            for e in listed.entries
        ]
        await self.record(
            self.event("CaseOpened", {"subject_nip": None, "unit": inp.unit, "title": f"Usulan kolektif kenaikan pangkat {inp.period}",
                                      "data": {"period": inp.period, "unit": inp.unit, "batch": True}}, inp.started_by),
            self.event("PromotionBatchListed", {
                "period": inp.period, "unit": inp.unit, "rules": rules.RANK_RULES_VERSION,
                "calendar": rules.calendar_on(period, rules.policy_from_config(listed.config)),
                "entries": entries, "list_sha256": hashlib.sha256(canonical(entries).encode()).hexdigest(),
            }, inp.started_by),
        )
        started: list[str] = []
        skipped: list[dict[str, Any]] = []
        for e in listed.entries:
            if not e["eligible"]:
                continue
            case_id = promotion_case_id(e["nip"], inp.period)
            if e["nip"] in acting(inp.started_by) or acting(inp.started_by) & set(e["facts"].get("relatives") or []):
                skipped.append({"nip": e["nip"], "case_id": case_id, "why": "PEMISAHAN_TUGAS"})
                continue
            try:
                await workflow.start_child_workflow(
                    PromotionWorkflow.run,
                    StartPromotionInput(case_id=case_id, nip=e["nip"], kind=e["kind"], period=inp.period, proposed_by=inp.started_by,
                                        declared=inp.declared.get(e["nip"], {}), batch_id=inp.case_id),
                    id=case_id,
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                )
                started.append(case_id)
            except WorkflowAlreadyStartedError:
                skipped.append({"nip": e["nip"], "case_id": case_id, "why": "SUDAH_DIUSULKAN"})
        outcome = {"listed": len(entries), "started": len(started), "skipped": len(skipped)}
        await self.record(
            self.event("PromotionBatchProposed", {"started": started, "skipped": skipped}, inp.started_by),
            self.event("CaseClosed", {"status": "completed", "outcome": outcome}),
        )
        return CaseResult(case_id=inp.case_id, status="completed", outcome=outcome)


@workflow.defn
class PromotionRotationWorkflow(CareerCase):
    """A transfer inside the regency: 2-5-year window, Tim Penilai advice, Home Minister approval in a freeze, PPK decree."""

    @workflow.run
    async def run(self, inp: StartRotationInput) -> CaseResult:
        self._start(inp.case_id, inp.nip, inp.proposed_by)
        got = await self._facts(inp.nip)
        facts = rules.Facts.from_dict(got.facts)
        today = today_wib()
        problems, window = rules.rotation_problems(facts.tmt_jabatan, today)
        problems += self._proposer_problems(inp.nip)
        if inp.unit_baru not in UNITS_BY_CODE:
            problems.append(rules.problem("unit_baru", "Unit tujuan tidak dikenal.", "Unknown destination unit."))
        if problems:
            raise refuse(problems)
        freeze = rules.freeze_on(today, rules.freezes_from(got.config.get("freezes")))
        self._freeze = freeze.to_dict() if freeze else None
        self._approved = False
        mendagri: dict[str, Any] = {}
        await self.record(
            self.event("CaseOpened", {"subject_nip": inp.nip, "unit": got.unit, "title": f"Mutasi — {got.nama}",
                                      "data": {"kind": "MUTASI", "unit_baru": inp.unit_baru, "freeze": self._freeze}}, inp.proposed_by, inp.note),
            self.event("RotationProposed", {
                "nip": inp.nip, "jabatan_lama": facts.jabatan, "unit_lama": got.unit, "jabatan_baru": inp.jabatan_baru,
                "jenis_jabatan_baru": inp.jenis_jabatan_baru, "unit_baru": inp.unit_baru, "atasan_nip_baru": inp.atasan_nip_baru,
                "window": window, "freeze": self._freeze, "rules": rules.ROTATION_RULES_VERSION,
            }, inp.proposed_by, inp.note),
        )

        def spec(kind: str, title: str, outcomes: list[str], **kw: Any) -> TaskSpec:
            return TaskSpec(kind=kind, title=f"{title} — {got.nama}", outcomes=outcomes, due_working_days=rules.due_days(kind),
                            reason_required_for=["NOT_RECOMMENDED", "REFUSED", "REJECTED"], **kw)

        try:
            advice = await self.human_task(spec(ROTATION_ADVICE, "Pertimbangan Tim Penilai Kinerja / Performance board advice",
                                                ["RECOMMENDED", "NOT_RECOMMENDED"], candidate_role="TIM_PENILAI"))
            self._acted["adviser"] = acting(advice.actor)
            advice_date = today_wib().isoformat()
            advised = self.event("RotationAdvised", {"advice": advice.outcome, "advised_by": advice.actor.nip,
                                                     "conflict_of_interest": False}, advice.actor, advice.reason)
            if advice.outcome != "RECOMMENDED":
                await self._reject(advised, "ADVICE", advice)
            before = [advised]
            if self._freeze is not None:
                approval = await self.human_task(
                    spec(ROTATION_MENDAGRI, "Persetujuan tertulis Mendagri / Home Minister's approval", ["APPROVED", "REFUSED"],
                         candidate_role="BKPSDM", unit="BKPSDMD"),
                    *before,
                )
                if approval.outcome != "APPROVED":
                    await self._reject(None, "MENDAGRI", approval)
                self._approved, mendagri = True, approval.data
                before = [self.event("RotationFreezeApproved", {"freeze": self._freeze, "letter_nomor": approval.data["nomor"],
                                                                "letter_tanggal": approval.data["tanggal"], "entered_by": approval.actor.nip},
                                     approval.actor, approval.reason)]
            decree = await self.human_task(
                spec(ROTATION_DECREE, "Penetapan SK mutasi / Transfer decree", ["DECREED", "REJECTED"], candidate_role="BUPATI"), *before
            )
            if decree.outcome != "DECREED":
                await self._reject(None, "DECREE", decree)
            fields = {
                "case_id": inp.case_id, "nip": inp.nip, "nama": got.nama, "golongan": facts.golongan, "jabatan_lama": facts.jabatan,
                "unit_lama": got.unit, "jabatan_baru": inp.jabatan_baru, "unit_baru": inp.unit_baru, "tmt": decree.data["sk_tanggal"],
                "sk_nomor": decree.data["sk_nomor"], "sk_tanggal": decree.data["sk_tanggal"],
                "advice_tanggal": advice_date, "mendagri_nomor": mendagri.get("nomor"),
                "bupati_nama": decree.actor.name or decree.actor.nip,
            }
            document = await self._issue_decree("ROTATION", fields)
            await self.record(self.event("RotationDecreed", {
                "sk_nomor": fields["sk_nomor"], "sk_tanggal": fields["sk_tanggal"], "tmt_jabatan": fields["tmt"],
                "jabatan_baru": inp.jabatan_baru, "unit_baru": inp.unit_baru, "decided_by": decree.actor.nip, "document": document,
            }, decree.actor, decree.reason))
            changes = {"jabatan": inp.jabatan_baru, "jenis_jabatan": inp.jenis_jabatan_baru, "unit": inp.unit_baru, "tmt_jabatan": fields["tmt"]}
            if inp.atasan_nip_baru:
                changes["atasan_nip"] = inp.atasan_nip_baru
            sk = {"sk_nomor": fields["sk_nomor"], "sk_tanggal": fields["sk_tanggal"], "case_id": inp.case_id, "document_sha256": document["sha256"]}
            applied = await self._change_directory(inp.nip, changes, decree, sk)
            outcome = {"jabatan": inp.jabatan_baru, "unit": inp.unit_baru, "sk_nomor": fields["sk_nomor"], "sk_sha256": document["sha256"]}
            await self.record(
                self.event("RotationApplied", {"nip": inp.nip, "jabatan": inp.jabatan_baru, "unit": inp.unit_baru, "tmt_jabatan": fields["tmt"], **applied}),
                self.event("CaseClosed", {"status": "completed", "outcome": outcome}),
            )
            status = "completed"
        except _Closed as closed:
            status, outcome = closed.status, closed.outcome
        except TaskCancelledError as cancelled:
            await self.record(self.event("CaseClosed", {"status": "cancelled", "outcome": {}}, SYSTEM, f"task {cancelled} cancelled"))
            status, outcome = "cancelled", {}
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseResult(case_id=inp.case_id, status=status, outcome=outcome)

    async def _reject(self, first: Any, level: str, decision: DecisionInput) -> None:
        events = [first] if first is not None else []
        await self.record(
            *events,
            self.event("RotationRejected", {"level": level, "rejected_by": decision.actor.nip}, decision.actor, decision.reason),
            self.event("CaseClosed", {"status": "rejected", "outcome": {"level": level}}, decision.actor, decision.reason),
        )
        raise _Closed("rejected", {"level": level, "reason": decision.reason})

    def validate_decision_data(self, task: TaskState, decision: DecisionInput) -> list[dict[str, Any]]:
        """Advisers declare no conflict of interest; the decree needs the Home Minister's approval inside a freeze."""
        kind, data = task.spec.kind, decision.data
        if kind == ROTATION_ADVICE:
            self._check_people(decision, "proposer")
            if data.get("conflict_of_interest") is not False:
                raise reject(ERR_FORBIDDEN, rules.problem(
                    "data.conflict_of_interest",
                    "Anggota Tim Penilai wajib menyatakan tidak ada konflik kepentingan (conflict_of_interest: false); bila ada, mundur dari perkara ini.",
                    "A board member must declare no conflict of interest (conflict_of_interest: false), or recuse.", rule="KONFLIK_KEPENTINGAN"))
        elif kind == ROTATION_MENDAGRI:
            self._check_people(decision)
            if decision.outcome == "APPROVED":
                return text_problems(data, "nomor") + date_problem(data, "tanggal")
        elif kind == ROTATION_DECREE:
            self._check_people(decision, "proposer", "adviser")
            if decision.outcome == "DECREED":
                if self._freeze is not None and not self._approved:
                    raise reject(ERR_FORBIDDEN, rules.problem(None, "Masa larangan pilkada: perlu persetujuan tertulis Mendagri.",
                                                              "Election freeze: the Home Minister's written approval is required.", rule="LARANGAN_PILKADA",
                                                              regulation=self._freeze["regulation"]))
                return text_problems(data, "sk_nomor") + date_problem(data, "sk_tanggal")
        return []

