"""Position filling: administrator/pengawas through a Tim Penilai Kinerja session, and the JPT pratama open selection."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow

from asnflow.workflows.human_tasks import TaskCancelledError, TaskSpec, TaskState, reject
from asnflow.workflows.promotion import READ, CareerCase, _Closed, acting, date_problem, refuse, segregation, text_problems, today_wib

with workflow.unsafe.imports_passed_through():
    from asnflow.activities.position import PositionActivities
    from asnflow.domain import position as pos
    from asnflow.domain import promotion as rules
    from asnflow.domain.organisation import JENIS_JABATAN_LABELS, UNITS_BY_CODE, JenisJabatan
    from asnflow.workflows.contracts import ERR_CONFLICT, ERR_FORBIDDEN, ERR_INVALID, SYSTEM, Actor, CaseResult, DecisionInput
    from asnflow.workflows.position_contracts import (
        ADMIN_CHECK,
        ANNOUNCEMENT,
        ASSESSMENT,
        INAUGURATION,
        NATIONAL_RECOMMENDATION,
        PANSEL_DECLARATION,
        PANSEL_FORMATION,
        POSITION_DECREE,
        PPK_DECISION,
        POSITION_MENDAGRI,
        PPK_PICK,
        TPK_DECLARATION,
        TPK_RECOMMENDATION,
        KinInput,
        PoolInput,
        RegisterInput,
        RegisterResult,
        StartPositionInput,
        StartSelectionInput,
    )

NO_CONFLICT, CONFLICT = "NO_CONFLICT", "CONFLICT"


def conflict(message_id: str, message_en: str, rule: str = "KONFLIK_KEPENTINGAN") -> Exception:
    """403 naming the conflict-of-interest or kinship rule."""
    return reject(ERR_FORBIDDEN, rules.problem(None, f"{message_id} [{rule}]", f"{message_en} [{rule}]", rule=rule))


class PositionCase(CareerCase):
    """What both routes share: panel declarations, the PPK's choice, the decree, the inauguration and the directory change."""

    def _open_position(self, inp: Any, proposer: Actor) -> None:
        self._start(inp.case_id, None, proposer)
        self._jabatan, self._unit, self._atasan = inp.jabatan, inp.unit, inp.atasan_nip
        self._kin: dict[str, dict[str, str]] = {}
        self._candidates: dict[str, dict[str, Any]] = {}  # NIP -> who they are (name, rank, post, unit)
        self._members: list[str] = []
        self._sitting: list[str] = []
        self._declared: dict[str, str] = {}  # member -> outcome they declared
        self._chosen: str | None = None
        self._choosable: list[str] = []
        self._decree: dict[str, Any] = {}
        self._freezes: tuple[rules.Freeze, ...] = rules.ELECTION_FREEZES

    def _spec(self, kind: str, title: str, outcomes: list[str], **kw: Any) -> TaskSpec:
        return TaskSpec(kind=kind, title=f"{title} — {self._jabatan}", outcomes=outcomes, due_working_days=pos.POSITION_DUE_WORKING_DAYS[kind],
                        reason_required_for=["CONFLICT", "REJECTED", "NONE_SUITABLE", "FAILED", "NOT_RECOMMENDED", "REFUSED"], **kw)

    def _kin_of(self, nip: str) -> dict[str, str]:
        return self._kin.get(nip, {})

    async def _declarations(self, panel: str, kind: str, members: list[str], title: str, others: int = 0) -> Any:
        """Registry conflicts recuse a member at once; everyone else declares over the candidate list in a task of their own.

        `others` counts members without a NIP (external pansel members) who sit without a registry entry or a login.
        """
        found = pos.panel_conflicts(members, list(self._candidates), self._kin)
        self._members = list(members)
        open_for = [m for m in members if m not in found]

        async def declare(member: str) -> None:
            decision = await self.human_task(self._spec(kind, title, [NO_CONFLICT, CONFLICT], assignee_nip=member))
            self._declared[member] = decision.outcome

        await asyncio.gather(*(declare(m) for m in open_for))
        rows = []
        for m in members:
            if m in found:
                rows.append({"nip": m, "conflict": True, "source": "registry", "relatives": found[m]})
            else:
                rows.append({"nip": m, "conflict": self._declared[m] == CONFLICT, "source": "declared", "relatives": []})
        self._sitting = [r["nip"] for r in rows if not r["conflict"]]
        rule = pos.PANEL_RULES[panel]
        event = self.event("PanelConflictsDeclared", {
            "panel": panel, "members": rows, "sitting": self._sitting, "recused": [r["nip"] for r in rows if r["conflict"]],
            "external_sitting": others, "min_sitting": rule.min_sitting, "regulation": rule.regulation,
        })
        if len(self._sitting) + others < rule.min_sitting:
            await self._fail([event], "KUORUM_PANEL", rule.regulation, panel)
        return event

    async def _fail(self, before: list[Any], rule: str, regulation: str, stage: str) -> None:
        """The case ends without an appointment, naming the rule that stopped it."""
        await self.record(
            *before,
            self.event("JptSelectionFailed" if self._route == "JPT" else "PositionRejected",
                       {"rule": rule, "regulation": regulation, "stage": stage, "level": stage, "rejected_by": None}),
            self.event("CaseClosed", {"status": "failed", "outcome": {"rule": rule, "stage": stage}}),
        )
        raise _Closed("failed", {"rule": rule, "stage": stage})

    async def _rejected(self, before: list[Any], level: str, decision: DecisionInput) -> None:
        await self.record(
            *before,
            self.event("PositionRejected", {"level": level, "rejected_by": decision.actor.nip}, decision.actor, decision.reason),
            self.event("CaseClosed", {"status": "rejected", "outcome": {"level": level}}, decision.actor, decision.reason),
        )
        raise _Closed("rejected", {"level": level, "reason": decision.reason})

    async def _decree_and_inauguration(self, before: list[Any], jenis: str, route: str, basis: str) -> tuple[str, dict[str, Any]]:
        """PPK decree with its PDF, the inauguration and oath, then the directory's post change."""
        nip = self._chosen
        assert nip is not None
        who = self._candidates[nip]
        freeze = rules.freeze_on(today_wib(), self._freezes)
        if freeze is not None:
            # UU 10/2016 ps. 71: inside an election freeze no official is placed without the Home Minister's written approval.
            approval = await self.human_task(
                self._spec(POSITION_MENDAGRI, "Persetujuan tertulis Mendagri / Home Minister's approval", ["APPROVED", "REFUSED"],
                           candidate_role="BKPSDM", unit="BKPSDMD"), *before)
            if approval.outcome != "APPROVED":
                await self._rejected([], "MENDAGRI", approval)
            before = [self.event("PositionFreezeApproved", {"freeze": freeze.to_dict(), "letter_nomor": approval.data["nomor"],
                                                            "letter_tanggal": approval.data["tanggal"], "entered_by": approval.actor.nip},
                                 approval.actor, approval.reason)]
        decree = await self.human_task(self._spec(POSITION_DECREE, "Penetapan SK pengangkatan / Appointment decree", ["DECREED"],
                                                  candidate_role="BUPATI"), *before)
        self._decree = decree.data
        fields = {
            "case_id": self._case_id, "nip": nip, "nama": who.get("nama") or nip, "golongan": who.get("golongan"),
            "jabatan_lama": who.get("jabatan"), "unit_lama": who.get("unit"), "jabatan_baru": self._jabatan, "unit_baru": self._unit,
            "jenis_jabatan_label": JENIS_JABATAN_LABELS[JenisJabatan(jenis)]["id"], "route": route, "basis": basis,
            "tmt": decree.data["sk_tanggal"], "sk_nomor": decree.data["sk_nomor"], "sk_tanggal": decree.data["sk_tanggal"],
            "bupati_nama": decree.actor.name or decree.actor.nip,
        }
        document = await self._issue_decree("POSITION", fields)
        inauguration = await self.human_task(
            self._spec(INAUGURATION, "Pelantikan dan pengambilan sumpah / Inauguration and oath", ["INAUGURATED"], candidate_role="BKPSDM", unit="BKPSDMD"),
            self.event("PositionDecreed", {
                "nip": nip, "jabatan": self._jabatan, "jenis_jabatan": jenis, "unit": self._unit, "sk_nomor": fields["sk_nomor"],
                "sk_tanggal": fields["sk_tanggal"], "decided_by": decree.actor.nip, "document": document,
            }, decree.actor, decree.reason),
        )
        day = inauguration.data["tanggal"]
        changes = {"jabatan": self._jabatan, "jenis_jabatan": jenis, "unit": self._unit, "tmt_jabatan": day}
        if self._atasan:
            changes["atasan_nip"] = self._atasan
        sk = {"sk_nomor": fields["sk_nomor"], "sk_tanggal": fields["sk_tanggal"], "case_id": self._case_id, "document_sha256": document["sha256"]}
        applied = await self._change_directory(nip, changes, decree, sk)
        outcome = {"nip": nip, "jabatan": self._jabatan, "unit": self._unit, "sk_nomor": fields["sk_nomor"], "sk_sha256": document["sha256"], "tmt_jabatan": day}
        await self.record(
            self.event("PositionInaugurated", {"nip": nip, "tanggal": day, "berita_acara_nomor": inauguration.data["berita_acara_nomor"],
                                               "sumpah": True, "entered_by": inauguration.actor.nip}, inauguration.actor, inauguration.reason),
            self.event("PositionApplied", {"nip": nip, "jabatan": self._jabatan, "jenis_jabatan": jenis, "unit": self._unit, "tmt_jabatan": day, **applied}),
            self.event("CaseClosed", {"status": "completed", "outcome": outcome}),
        )
        return "completed", outcome

    async def _finish(self, body: Any) -> CaseResult:
        try:
            status, outcome = await body
        except _Closed as closed:
            status, outcome = closed.status, closed.outcome
        except TaskCancelledError as cancelled:
            # Parallel steps (declarations, administrative checks) leave sibling tasks open: they close with the case.
            siblings = [t for t in self._tasks.values() if t.status in ("open", "claimed")]
            for task in siblings:
                task.status = "cancelled"
            await self.record(
                *(self.event("TaskCancelled", {"task_id": t.task_id}, SYSTEM, "Perkara dibatalkan / the case was cancelled") for t in siblings),
                self.event("CaseClosed", {"status": "cancelled", "outcome": {}}, SYSTEM, f"task {cancelled} cancelled"),
            )
            status, outcome = "cancelled", {}
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseResult(case_id=self._case_id, status=status, outcome=outcome)

    # --- validation shared by both routes -------------------------------------------------------------------
    def _not_panel_or_proposer(self, decision: DecisionInput) -> None:
        who = acting(decision.actor)
        if who & (set(self._members) | self._acted["proposer"]):
            raise segregation("Pengusul dan anggota panel tidak boleh memutuskan pengangkatan ini.",
                              "The proposer and the panel's members may not decide this appointment.")

    def _not_relative(self, decision: DecisionInput, nip: str | None) -> None:
        who = acting(decision.actor)
        if nip is not None and (nip in who or who & set(self._kin_of(nip))):
            raise conflict("Anda kerabat yang dideklarasikan (atau diri sendiri) dari calon ini.",
                           "You are a declared relative of this candidate (or the candidate).", "KERABAT")

    def _shared_validation(self, task: TaskState, decision: DecisionInput) -> list[dict[str, Any]] | None:
        """Checks of the task kinds both routes use; None for kinds this does not know."""
        kind, data = task.spec.kind, decision.data
        if kind in (TPK_DECLARATION, PANSEL_DECLARATION):
            return []
        if kind in (PPK_DECISION, PPK_PICK):
            self._not_panel_or_proposer(decision)
            if decision.outcome in ("APPOINTED", "PICKED"):
                if data.get("nip") not in self._choosable:
                    return [rules.problem("data.nip", f"Pilih salah satu dari {self._choosable}.", f"Choose one of {self._choosable}.")]
                self._not_relative(decision, data["nip"])
            return []
        if kind == POSITION_MENDAGRI:
            self._not_relative(decision, self._chosen)
            return text_problems(data, "nomor") + date_problem(data, "tanggal") if decision.outcome == "APPROVED" else []
        if kind == POSITION_DECREE:
            self._not_panel_or_proposer(decision)
            self._not_relative(decision, self._chosen)
            return text_problems(data, "sk_nomor") + date_problem(data, "sk_tanggal")
        if kind == INAUGURATION:
            self._not_relative(decision, self._chosen)
            problems = text_problems(data, "berita_acara_nomor") + date_problem(data, "tanggal", self._decree.get("sk_tanggal"))
            if data.get("sumpah") is not True:
                problems.append(rules.problem("data.sumpah", "Pelantikan mencatat pengambilan sumpah/janji jabatan (sumpah: true).",
                                              "The inauguration records the oath of office (sumpah: true)."))
            return problems
        return None


@workflow.defn
class PositionPromotionWorkflow(PositionCase):
    """An administrator or pengawas vacancy: talent pool, Tim Penilai Kinerja session, PPK decision, SK, inauguration."""

    _route = "TPK"

    @workflow.run
    async def run(self, inp: StartPositionInput) -> CaseResult:
        self._open_position(inp, inp.proposed_by)
        return await self._finish(self._run(inp))

    async def _run(self, inp: StartPositionInput) -> tuple[str, dict[str, Any]]:
        on = today_wib()
        panel = list(dict.fromkeys(inp.panel))
        got = await workflow.execute_activity_method(
            PositionActivities.talent_pool,
            PoolInput(jenis_jabatan=inp.jenis_jabatan, on=on.isoformat(), candidate_nips=inp.candidate_nips, members=panel),
            start_to_close_timeout=timedelta(seconds=120), retry_policy=READ,
        )
        problems = start_problems(inp.jenis_jabatan, inp.unit, panel, got.names, inp.proposed_by, got.candidates)
        if problems:
            raise refuse(problems)
        self._kin = got.relatives
        self._freezes = rules.freezes_from(got.freezes)
        self._candidates = {c["nip"]: c for c in got.candidates}
        rule = pos.POSITION_RULES[pos.POSITION_RULES_VERSION][inp.jenis_jabatan]
        await self.record(
            self.event("CaseOpened", {"subject_nip": None, "unit": inp.unit, "title": f"Pengisian jabatan {inp.jabatan}",
                                      "data": {"kind": "JABATAN_" + inp.jenis_jabatan, "jabatan": inp.jabatan, "route": "TPK"}}, inp.proposed_by, inp.note),
            self.event("PositionVacancyOpened", {
                "jabatan": inp.jabatan, "jenis_jabatan": inp.jenis_jabatan, "unit": inp.unit, "atasan_nip": inp.atasan_nip,
                "rules": pos.POSITION_RULES_VERSION, "requirements": rule.__dict__, "panel": panel, "proposed_by": inp.proposed_by.nip,
            }, inp.proposed_by, inp.note),
            self.event("TalentPoolComputed", {"on": on.isoformat(), "rules": pos.POSITION_RULES_VERSION, "candidates": got.candidates,
                                               "excluded": got.excluded, "restricted_to": inp.candidate_nips}),
        )
        declared = await self._declarations("TPK", TPK_DECLARATION, panel,
                                            "Pernyataan konflik kepentingan Tim Penilai Kinerja / Board conflict-of-interest declaration")
        chair = self._sitting[0]
        self._choosable = list(self._candidates)
        recommendation = await self.human_task(
            self._spec(TPK_RECOMMENDATION, "Sidang Tim Penilai Kinerja: rekomendasi / Board session: recommendation",
                       ["RECOMMENDED", "NONE_SUITABLE"], assignee_nip=chair),
            declared,
        )
        if recommendation.outcome != "RECOMMENDED":
            await self._rejected([], "TPK", recommendation)
        self._acted["adviser"] = set(self._sitting)
        self._choosable = list(recommendation.data["ranking"])
        recommended = self.event("PositionCandidatesRecommended", {
            "ranking": self._choosable, "recommended_by": chair, "sitting": self._sitting,
            "notulen_sha256": recommendation.data.get("notulen_sha256"),
        }, recommendation.actor, recommendation.reason)
        decision = await self.human_task(
            self._spec(PPK_DECISION, "Keputusan PPK atas rekomendasi / PPK decision", ["APPOINTED", "REJECTED"], candidate_role="BUPATI"), recommended
        )
        if decision.outcome != "APPOINTED":
            await self._rejected([], "PPK", decision)
        self._chosen = decision.data["nip"]
        chosen = self.event("PositionAppointeeChosen", {"nip": self._chosen, "chosen_by": decision.actor.nip, "from": self._choosable},
                            decision.actor, decision.reason)
        return await self._decree_and_inauguration([chosen], inp.jenis_jabatan, "sidang Tim Penilai Kinerja PNS",
                                                   f"Rekomendasi Tim Penilai Kinerja PNS perkara {self._case_id}")

    def validate_decision_data(self, task: TaskState, decision: DecisionInput) -> list[dict[str, Any]]:
        """The chair ranks up to three of the pool; the PPK picks one of them; relatives and the panel never decide."""
        shared = self._shared_validation(task, decision)
        if shared is not None:
            return shared
        if task.spec.kind == TPK_RECOMMENDATION and decision.outcome == "RECOMMENDED":
            ranking = decision.data.get("ranking")
            if not isinstance(ranking, list) or not 1 <= len(ranking) <= 3 or len(set(ranking)) != len(ranking):
                return [rules.problem("data.ranking", "Urutan rekomendasi (ranking) berisi 1-3 NIP berbeda.", "The ranking lists 1-3 different NIPs.")]
            outside = [n for n in ranking if n not in self._candidates]
            if outside:
                return [rules.problem("data.ranking", f"Bukan anggota kelompok talenta: {', '.join(outside)}.",
                                      f"Not in the talent pool: {', '.join(outside)}.", rule="KELOMPOK_TALENTA")]
        return []


def start_problems(jenis: str, unit: str, panel: list[str], names: dict[str, str], proposer: Actor, candidates: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Why a Tim Penilai vacancy cannot open (the API runs the same checks before starting the workflow)."""
    out = []
    if jenis not in ("ADMINISTRATOR", "PENGAWAS"):
        out.append(rules.problem("jenis_jabatan", "Jalur ini untuk jabatan ADMINISTRATOR atau PENGAWAS.", "This route is for ADMINISTRATOR or PENGAWAS posts."))
    if unit not in UNITS_BY_CODE:
        out.append(rules.problem("unit", "Unit tidak dikenal.", "Unknown unit."))
    rule = pos.PANEL_RULES["TPK"]
    if len(panel) < rule.min_sitting:
        out.append(rules.problem("panel", f"Tim Penilai Kinerja paling sedikit {rule.min_sitting} anggota.", f"The board needs at least {rule.min_sitting} members.",
                                 rule="KUORUM_PANEL", regulation=rule.regulation))
    unknown = [n for n in panel if n not in names]
    if unknown:
        out.append(rules.problem("panel", f"Anggota tidak terdaftar di direktori: {', '.join(unknown)}.", f"Members not in the directory: {', '.join(unknown)}."))
    if acting(proposer) & set(panel):
        out.append(rules.problem("panel", "Pengusul tidak boleh menjadi anggota Tim Penilai perkara ini. [PEMISAHAN_TUGAS]",
                                 "The proposer may not sit on this case's board. [SEGREGATION_OF_DUTIES]", rule="PEMISAHAN_TUGAS"))
    if candidates is not None and not candidates:
        out.append(rules.problem(None, "Tidak ada calon yang memenuhi syarat dalam kelompok rencana suksesi (talent pool).",
                                 "No candidate in the talent pool meets the requirements.", rule="KELOMPOK_TALENTA_KOSONG", regulation="PermenPANRB 3/2020"))
    return out


def pansel_problems(members: list[Any], unit: str, proposer: Actor, names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """A pansel: enough members, internal and external, one chair who signs in, internal members in the directory."""
    out = []
    rule = pos.PANEL_RULES["PANSEL"]
    if unit not in UNITS_BY_CODE:
        out.append(rules.problem("unit", "Unit tidak dikenal.", "Unknown unit."))
    if len(members) < rule.min_sitting or len(members) % 2 == 0:
        out.append(rules.problem("pansel", f"Pansel berjumlah ganjil, paling sedikit {rule.min_sitting} orang.",
                                 f"A pansel has an odd number of members, at least {rule.min_sitting}.", rule="KUORUM_PANEL", regulation=rule.regulation))
    if not any(m.unsur == "EKSTERNAL" for m in members) or not any(m.unsur == "INTERNAL" for m in members):
        out.append(rules.problem("pansel", "Pansel terdiri atas unsur internal dan eksternal.", "A pansel has internal and external members.",
                                 regulation=rule.regulation))
    chairs = [m for m in members if m.peran == "KETUA"]
    if len(chairs) != 1 or not chairs[0].nip:
        out.append(rules.problem("pansel", "Tepat satu ketua pansel, dengan NIP (ia mencatat nilai tiap tahap).",
                                 "Exactly one chair, with a NIP (the chair records each stage's scores)."))
    nips = [m.nip for m in members if m.nip]
    if len(set(nips)) != len(nips):
        out.append(rules.problem("pansel", "Anggota pansel ganda.", "A member is listed twice."))
    internal_without = [m.nama for m in members if m.unsur == "INTERNAL" and not m.nip]
    if internal_without:
        out.append(rules.problem("pansel", "Anggota internal wajib ber-NIP.", "Internal members need a NIP."))
    if names is not None:
        unknown = [n for n in nips if n not in names]
        if unknown:
            out.append(rules.problem("pansel", f"NIP anggota tidak terdaftar: {', '.join(unknown)}.", f"Members not in the directory: {', '.join(unknown)}."))
    if acting(proposer) & set(nips):
        out.append(rules.problem("pansel", "Pengusul tidak boleh menjadi anggota pansel. [PEMISAHAN_TUGAS]",
                                 "The proposer may not sit on the pansel. [SEGREGATION_OF_DUTIES]", rule="PEMISAHAN_TUGAS"))
    return out


@workflow.defn
class JptSelectionWorkflow(PositionCase):
    """JPT pratama open selection: pansel, announcement, registration window, checks, scored stages, 3 names, PPK, national body, SK, inauguration."""

    _route = "JPT"

    @workflow.run
    async def run(self, inp: StartSelectionInput) -> CaseResult:
        self._open_position(inp, inp.proposed_by)
        self._rule = pos.SELECTION_RULES[pos.SELECTION_RULES_VERSION]
        self._registration_open = False
        self._applicants: list[str] = []
        self._in_stage: list[str] = []
        self._chair = next(m.nip for m in inp.pansel if m.peran == "KETUA") if any(m.peran == "KETUA" for m in inp.pansel) else None
        self._pansel_nips = [m.nip for m in inp.pansel if m.nip]
        self._task_subject: dict[str, str] = {}  # administrative-check task -> the applicant it is about
        return await self._finish(self._run(inp))

    async def _run(self, inp: StartSelectionInput) -> tuple[str, dict[str, Any]]:
        problems = pansel_problems(inp.pansel, inp.unit, inp.proposed_by)
        if problems:
            raise refuse(problems)
        days = inp.registration_days or self._rule.registration_days
        members = [{"nip": m.nip, "nama": m.nama, "unsur": m.unsur, "peran": m.peran, "instansi": m.instansi} for m in inp.pansel]
        await self.record(
            self.event("CaseOpened", {"subject_nip": None, "unit": inp.unit, "title": f"Seleksi terbuka JPT pratama {inp.jabatan}",
                                      "data": {"kind": "JPT_PRATAMA", "jabatan": inp.jabatan, "route": "JPT"}}, inp.proposed_by, inp.note),
            self.event("JptSelectionOpened", {"jabatan": inp.jabatan, "unit": inp.unit, "rules": pos.SELECTION_RULES_VERSION,
                                              "requirements": pos.POSITION_RULES_VERSION, "pansel": members, "registration_days": days,
                                              "proposed_by": inp.proposed_by.nip}, inp.proposed_by, inp.note),
        )
        formation = await self.human_task(self._spec(PANSEL_FORMATION, "Pembentukan panitia seleksi (SK pansel) / Forming the selection committee",
                                                     ["FORMED", "REJECTED"], candidate_role="BUPATI"))
        if formation.outcome != "FORMED":
            await self._rejected([], "PANSEL", formation)
        formed = self.event("JptPanselFormed", {"sk_nomor": formation.data["sk_nomor"], "sk_tanggal": formation.data["sk_tanggal"],
                                                "formed_by": formation.actor.nip, "members": members}, formation.actor, formation.reason)
        announcement = await self.human_task(
            self._spec(ANNOUNCEMENT, "Pengumuman lowongan JPT / Vacancy announcement", ["ANNOUNCED"], candidate_role="BKPSDM", unit="BKPSDMD"), formed
        )
        opens = workflow.now()
        closes = opens + timedelta(days=days)
        self._registration_open = True
        await self.record(self.event("JptAnnounced", {
            "nomor": announcement.data["nomor"], "tanggal": announcement.data["tanggal"], "opens": opens.isoformat(), "closes": closes.isoformat(),
            "announced_by": announcement.actor.nip,
        }, announcement.actor, announcement.reason))
        # The registration window is a durable timer; registrations arrive meanwhile as Updates.
        await workflow.sleep(closes - workflow.now())
        self._registration_open = False
        await workflow.wait_condition(workflow.all_handlers_finished)
        closed = self.event("JptRegistrationClosed", {"applicants": list(self._applicants), "closes": closes.isoformat()})
        need = self._rule.shortlist
        if len(self._applicants) < need:
            await self._fail([closed], "PESERTA_KURANG", self._rule.regulation, "PENDAFTARAN")
        await self.record(closed)

        got = await workflow.execute_activity_method(
            PositionActivities.kinship, KinInput(nips=self._pansel_nips + self._applicants),
            start_to_close_timeout=timedelta(seconds=30), retry_policy=READ,
        )
        self._kin = got.relatives
        self._freezes = rules.freezes_from(got.freezes)
        declared = await self._declarations("PANSEL", PANSEL_DECLARATION, self._pansel_nips,
                                            "Pernyataan konflik kepentingan pansel / Selection committee conflict-of-interest declaration",
                                            others=len(inp.pansel) - len(self._pansel_nips))
        if self._chair not in self._sitting:
            await self._fail([declared], "KETUA_BERHALANGAN", pos.PANEL_RULES["PANSEL"].regulation, "PANSEL")
        await self.record(declared)

        passed: list[str] = []

        async def check(nip: str) -> None:
            who = self._candidates[nip]
            # human_task numbers the task before its first await, so this is the id it gets (deterministic under gather).
            self._task_subject[f"{self._case_id}.t{self._task_seq + 1}"] = nip
            decision = await self.human_task(self._spec(ADMIN_CHECK, f"Seleksi administrasi {who['nama']} / Administrative check",
                                                        ["PASSED", "FAILED"], candidate_role="BKPSDM", unit="BKPSDMD"))
            await self.record(self.event("JptAdministrativeChecked", {
                "nip": nip, "passed": decision.outcome == "PASSED", "checked_by": decision.actor.nip, "documents": decision.data.get("documents", []),
            }, decision.actor, decision.reason))
            if decision.outcome == "PASSED":
                passed.append(nip)

        await asyncio.gather(*(check(n) for n in self._applicants))
        self._in_stage = [n for n in self._applicants if n in passed]  # registration order
        if len(self._in_stage) < need:
            await self._fail([], "PESERTA_KURANG", self._rule.regulation, "ADMINISTRASI")

        scores: dict[str, dict[str, float]] = {}
        for stage in self._rule.stages:
            decision = await self.human_task(self._spec(ASSESSMENT, f"Penilaian tahap {stage.label_id} / Stage scores: {stage.label_en}", ["SCORED"],
                                                        assignee_nip=self._chair))
            scores[stage.code] = {n: float(decision.data["scores"][n]) for n in self._in_stage}
            out = pos.eliminated(stage, scores[stage.code])
            await self.record(self.event("JptStageScored", {
                "stage": stage.code, "weight": stage.weight, "min_score": stage.min_score, "scores": scores[stage.code],
                "scored_by": decision.actor.nip, "eliminated": out,
            }, decision.actor, decision.reason))
            self._in_stage = [n for n in self._in_stage if n not in out]
            if len(self._in_stage) < need:
                await self._fail([], "PESERTA_KURANG", self._rule.regulation, stage.code)
        ranking = pos.rank_applicants(scores, self._in_stage)
        names = pos.shortlist(ranking)
        listed = self.event("JptShortlisted", {"ranking": ranking, "shortlist": names, "rules": pos.SELECTION_RULES_VERSION, "pass_mark": self._rule.pass_mark})
        if len(names) < need:
            await self._fail([listed], "KURANG_DARI_TIGA", self._rule.regulation, "PERINGKAT")
        self._choosable = names
        self._acted["adviser"] = set(self._pansel_nips)
        before = [listed]
        while True:
            pick = await self.human_task(self._spec(PPK_PICK, "PPK memilih satu dari tiga nama / PPK picks one of three", ["PICKED", "REJECTED"],
                                                    candidate_role="BUPATI"), *before)
            if pick.outcome != "PICKED":
                await self._rejected([], "PPK", pick)
            self._chosen = pick.data["nip"]
            chosen = self.event("PositionAppointeeChosen", {"nip": self._chosen, "chosen_by": pick.actor.nip, "from": list(self._choosable)}, pick.actor, pick.reason)
            national = await self.human_task(
                self._spec(NATIONAL_RECOMMENDATION, f"Rekomendasi {self._rule.national_body} / National body's recommendation",
                           ["RECOMMENDED", "NOT_RECOMMENDED"], candidate_role="BKPSDM", unit="BKPSDMD"),
                chosen,
            )
            verdict = self.event("JptNationalRecommendation", {
                "body": self._rule.national_body, "nip": self._chosen, "outcome": national.outcome, "nomor": national.data["nomor"],
                "tanggal": national.data["tanggal"], "source": national.data.get("source", "entered"),
                "import_sha256": national.data.get("import_sha256"), "entered_by": national.actor.nip,
            }, national.actor, national.reason)
            if national.outcome == "RECOMMENDED":
                break
            # Not recommended: the PPK picks again from the names left.
            self._choosable = [n for n in self._choosable if n != self._chosen]
            self._chosen = None
            if not self._choosable:
                await self._fail([verdict], "TIDAK_DIREKOMENDASIKAN", self._rule.national_body, "REKOMENDASI")
            before = [verdict]
        return await self._decree_and_inauguration([verdict], "JPT", "seleksi terbuka JPT pratama",
                                                   f"Rekomendasi {self._rule.national_body} nomor {national.data['nomor']}")

    @workflow.update
    async def register(self, inp: RegisterInput) -> RegisterResult:
        """An applicant registers inside the window; eligibility was judged by the validator on the facts from the views."""
        self._applicants.append(inp.nip)  # before recording: a concurrent duplicate is refused by the validator
        self._candidates[inp.nip] = {"nip": inp.nip, "nama": inp.nama, "golongan": inp.facts.get("golongan"), "jabatan": inp.jabatan, "unit": inp.unit}
        recorded = await self.record(self.event("JptApplicantRegistered", {
            "nip": inp.nip, "nama": inp.nama, "jabatan": inp.jabatan, "unit": inp.unit, "facts": inp.facts, "registered_by": inp.actor.nip,
        }, inp.actor))
        return RegisterResult(nip=inp.nip, position=recorded.positions[-1], applicants=len(self._applicants))

    @register.validator
    def validate_register(self, inp: RegisterInput) -> None:
        if not self._registration_open:
            raise reject(ERR_CONFLICT, rules.problem(None, "Pendaftaran seleksi ini tidak sedang dibuka.", "Registration for this selection is not open."))
        if inp.nip != inp.actor.nip:
            raise reject(ERR_FORBIDDEN, rules.problem("nip", "Pendaftaran dilakukan oleh pelamar sendiri.", "Applicants register themselves."))
        if inp.nip in self._applicants:
            raise reject(ERR_CONFLICT, rules.problem("nip", "Anda sudah terdaftar.", "You are already registered."))
        if inp.nip in self._pansel_nips:
            raise conflict("Anggota pansel tidak boleh melamar.", "A pansel member may not apply.")
        failures = pos.position_failures("JPT", rules.Facts.from_dict(inp.facts), today_wib())
        if failures:
            raise reject(ERR_INVALID, *(f.as_problem() for f in failures))

    def validate_decision_data(self, task: TaskState, decision: DecisionInput) -> list[dict[str, Any]]:
        """Pansel SK, announcement, document checklist, stage scores, the national body's letter."""
        shared = self._shared_validation(task, decision)
        if shared is not None:
            return shared
        kind, data = task.spec.kind, decision.data
        if kind == PANSEL_FORMATION:
            self._check_people(decision, "proposer")
            if acting(decision.actor) & set(self._pansel_nips):
                raise segregation("Anggota pansel tidak membentuk pansel.", "A pansel member does not form the pansel.")
            if decision.outcome == "FORMED":
                return text_problems(data, "sk_nomor") + date_problem(data, "sk_tanggal")
        elif kind == ANNOUNCEMENT:
            return text_problems(data, "nomor") + date_problem(data, "tanggal")
        elif kind == ADMIN_CHECK:
            self._not_relative(decision, self._task_subject.get(task.task_id))
            if decision.outcome == "PASSED":
                return rules.checklist_problems(data, list(pos.ADMIN_DOCUMENTS), pos.ADMIN_DOCUMENTS)
        elif kind == ASSESSMENT:
            return pos.score_problems(data.get("scores"), self._in_stage)
        elif kind == NATIONAL_RECOMMENDATION:
            self._not_relative(decision, self._chosen)
            return text_problems(data, "nomor") + date_problem(data, "tanggal")
        return []
