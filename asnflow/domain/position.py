"""Position filling (REGULATIONS.md §4.2, §6): administrator/pengawas through the Tim Penilai Kinerja and the JPT pratama open selection.

Requirements, talent-box thresholds, selection stages, weights and pass marks are versioned configuration;
the entries marked "unconfirmed" are not in REGULATIONS.md with a source and must be checked against the
official text (PP 11/2017, PermenPANRB 3/2020, PermenPANRB 15/2019) and adjusted here, never in code paths.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from asnflow.domain.events import CaseEvent
from asnflow.domain.nip import InvalidNip, parse_nip
from asnflow.domain.organisation import normalise_pendidikan, parse_golongan
from asnflow.domain.promotion import PREDICATE_TEXT, Facts, RuleFailure, add_years, at_least, functional_level, problem


# --- events: position promotion (Tim Penilai Kinerja) ------------------------------------------------
class PositionVacancyOpened(CaseEvent):
    """payload: jabatan, jenis_jabatan, unit, atasan_nip, rules, requirements, panel [nips], proposed_by."""


class TalentPoolComputed(CaseEvent):
    """payload: on, rules, candidates [{nip, nama, golongan, jabatan, box, performance, potential, kompetensi}], excluded {rule: count}."""


class PanelConflictsDeclared(CaseEvent):
    """payload: panel (TPK|PANSEL), members [{nip, conflict, relatives [{nip, relation}], source (registry|declared)}], sitting, recused."""


class PositionCandidatesRecommended(CaseEvent):
    """payload: ranking [nips], recommended_by (the chair), sitting (members who declared no conflict)."""


class PositionAppointeeChosen(CaseEvent):
    """payload: nip, chosen_by, from (the recommended or shortlisted names)."""


class PositionRejected(CaseEvent):
    """payload: level, rejected_by (the reason is on the envelope)."""


class PositionFreezeApproved(CaseEvent):
    """payload: freeze, letter_nomor, letter_tanggal, entered_by (the Home Minister's written approval inside an election freeze)."""


class PositionDecreed(CaseEvent):
    """payload: nip, jabatan, jenis_jabatan, unit, sk_nomor, sk_tanggal, decided_by, document {name, path, sha256, size}."""


class PositionInaugurated(CaseEvent):
    """payload: nip, tanggal, berita_acara_nomor, sumpah (oath taken), entered_by."""


class PositionApplied(CaseEvent):
    """payload: nip, jabatan, jenis_jabatan, unit, tmt_jabatan, directory_case, directory_position."""


# --- events: JPT pratama open selection ------------------------------------------------------------------
class JptSelectionOpened(CaseEvent):
    """payload: jabatan, unit, rules, pansel [{nip, nama, unsur, peran}], window {opens, closes}, proposed_by."""


class JptPanselFormed(CaseEvent):
    """payload: sk_nomor, sk_tanggal, formed_by, members."""


class JptAnnounced(CaseEvent):
    """payload: nomor, tanggal, opens, closes, announced_by."""


class JptApplicantRegistered(CaseEvent):
    """payload: nip, nama, jabatan, unit, facts (what eligibility was judged on), registered_by."""


class JptRegistrationClosed(CaseEvent):
    """payload: applicants [nips], closes."""


class JptAdministrativeChecked(CaseEvent):
    """payload: nip, passed, checked_by, documents [{code, sha256}] (the reason is on the envelope)."""


class JptStageScored(CaseEvent):
    """payload: stage, weight, scores {nip: score}, scored_by, eliminated [nips]."""


class JptShortlisted(CaseEvent):
    """payload: ranking [{nip, total, stages, passed}], shortlist [3 nips], rules."""


class JptNationalRecommendation(CaseEvent):
    """payload: body, nip, outcome (RECOMMENDED|NOT_RECOMMENDED), nomor, tanggal, source (entered|import), import_sha256, entered_by."""


class JptSelectionFailed(CaseEvent):
    """payload: rule, regulation, stage (the selection ends without an appointment)."""


# --- position requirements (administrator / pengawas / JPT pratama) ------------------------------------
@dataclass(frozen=True)
class PositionRule:
    """What a candidate needs for a post of one type; `regulation` is quoted in every failure."""

    regulation: str
    from_jenis: tuple[str, ...]  # current post types that may move up into it
    min_golongan: str | None
    min_pendidikan: str
    min_years_in_post: int
    predicate_years: int = 2
    min_predicate: str = "BAIK"
    min_kompetensi: float | None = None  # the talent pool's potential floor; None: not required
    max_age: int | None = None
    min_service_years: int | None = None


POSITION_RULES_VERSION = "PP-11/2017+PermenPANRB-3/2020"
POSITION_RULES: dict[str, dict[str, PositionRule]] = {
    POSITION_RULES_VERSION: {
        # PP 11/2017 art. 118 as generally quoted (unconfirmed): pengawas from >= 4 years as pelaksana or JF,
        # administrator from >= 3 years as pengawas, S1/D-IV. The minimum ranks are unconfirmed.
        "PENGAWAS": PositionRule("PP 11/2017 ps. 118 (unconfirmed)", ("PELAKSANA", "FUNGSIONAL"), "III/b", "D-III", 4, min_kompetensi=70),
        "ADMINISTRATOR": PositionRule("PP 11/2017 ps. 118 (unconfirmed)", ("PENGAWAS", "FUNGSIONAL"), "III/c", "S1", 3, min_kompetensi=70),
        # PP 11/2017 art. 107 (REGULATIONS.md §4.2): S1/D-IV, >= 2 years as administrator or JF ahli madya,
        # >= 5 years of relevant experience (counted here as service since the TMT CPNS in the NIP), age <= 56.
        "JPT": PositionRule("PP 11/2017 ps. 107", ("ADMINISTRATOR", "JPT", "FUNGSIONAL"), None, "S1", 2, max_age=56, min_service_years=5),
    },
}
# Functional posts that count as the level below each structural type (JPT: ahli madya, REGULATIONS.md §4.2).
FUNCTIONAL_EQUIVALENT: dict[str, tuple[str, ...]] = {"JPT": ("Ahli Madya", "Ahli Utama"), "ADMINISTRATOR": ("Ahli Muda", "Ahli Madya"), "PENGAWAS": ()}

# Nine-box talent matrix (PermenPANRB 3/2020; the thresholds are unconfirmed): performance from the last
# two predicates, potential from the competency score; the pool takes boxes at or above the floors.
@dataclass(frozen=True)
class TalentBoxes:
    potential_high: float = 80.0
    potential_mid: float = 70.0
    min_performance: int = 2
    min_potential: int = 2


TALENT_BOXES: dict[str, TalentBoxes] = {POSITION_RULES_VERSION: TalentBoxes()}
# Box number from (performance, potential), each 1 (low) .. 3 (high): 9 is high/high.
BOX = {(p, q): (p - 1) * 3 + q for p in (1, 2, 3) for q in (1, 2, 3)}


# D-IV and S1 are the same level for appointments (REGULATIONS.md §4.2 "S1/D-IV").
EDUCATION_LADDER: dict[str, int] = {"SD": 0, "SMP": 1, "SMA": 2, "D-I": 3, "D-II": 4, "D-III": 5, "D-IV": 6, "S1": 6, "PROFESI": 7, "S2": 8, "S3": 9}


def education_rank(level: str | None) -> int:
    """Height of an education level on the ladder (SD lowest); -1 when unknown."""
    return EDUCATION_LADDER.get(normalise_pendidikan(level or "") or "", -1)


def age_on(born: date, day: date) -> int:
    """Completed years of age on a day."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def position_failures(jenis: str, facts: Facts, on: date, version: str = POSITION_RULES_VERSION) -> list[RuleFailure]:
    """Every requirement for a post of this type checked on a date; all failures, each with its regulation."""
    rule = POSITION_RULES[version][jenis]
    reg = rule.regulation
    out: list[RuleFailure] = []

    def fail(code: str, id_: str, en: str, regulation: str = reg) -> None:
        out.append(RuleFailure(code, regulation, id_, en))

    if facts.golongan is None:
        fail("BUKAN_PNS", "Jabatan ini hanya untuk PNS.", "This post is for PNS only.", "UU 20/2023")
        return out
    level = functional_level(facts.jabatan) if facts.jenis_jabatan == "FUNGSIONAL" else None
    from_ok = facts.jenis_jabatan in rule.from_jenis and (facts.jenis_jabatan != "FUNGSIONAL" or jenis == "PENGAWAS" or level in FUNCTIONAL_EQUIVALENT[jenis])
    if not from_ok:
        fail("JABATAN_ASAL", f"Jabatan {facts.jenis_jabatan} {facts.jabatan} bukan jenjang asal untuk jabatan {jenis}.",
             f"A {facts.jenis_jabatan} post ({facts.jabatan}) is not a route into a {jenis} post.")
    elif facts.tmt_jabatan is None or add_years(facts.tmt_jabatan, rule.min_years_in_post) > on:
        met = add_years(facts.tmt_jabatan, rule.min_years_in_post).isoformat() if facts.tmt_jabatan else "-"
        fail("MASA_JABATAN", f"Belum {rule.min_years_in_post} tahun dalam jabatan sekarang pada {on.isoformat()} (terpenuhi {met}).",
             f"Fewer than {rule.min_years_in_post} years in the current post on {on.isoformat()} (met on {met}).")
    if rule.min_golongan and parse_golongan(facts.golongan) < parse_golongan(rule.min_golongan):
        fail("PANGKAT_MINIMAL", f"Pangkat {facts.golongan} di bawah syarat minimal {rule.min_golongan}.",
             f"Rank {facts.golongan} is below the required {rule.min_golongan}.")
    if education_rank(facts.pendidikan) < education_rank(rule.min_pendidikan):
        fail("PENDIDIKAN_MINIMAL", f"Pendidikan {facts.pendidikan or '-'} di bawah syarat minimal {rule.min_pendidikan}.",
             f"Education {facts.pendidikan or '-'} is below the required {rule.min_pendidikan}.")
    for year in range(on.year - rule.predicate_years, on.year):
        pred = facts.predicates.get(year)
        if pred is None or not at_least(pred, rule.min_predicate):
            shown = PREDICATE_TEXT.get(pred or "", "belum ada")
            fail("PREDIKAT_KINERJA", f"Predikat kinerja {year}: {shown}; syarat paling rendah {PREDICATE_TEXT[rule.min_predicate]}.",
                 f"Performance predicate {year}: {pred or 'none'}; at least {rule.min_predicate} is required.", "PermenPANRB 6/2022; " + reg)
    if rule.min_kompetensi is not None and (facts.kompetensi is None or facts.kompetensi < rule.min_kompetensi):
        have = "belum diuji" if facts.kompetensi is None else f"{facts.kompetensi:g}"
        fail("KOMPETENSI", f"Nilai kompetensi {have}, di bawah {rule.min_kompetensi:g}.",
             f"Competency score {'not assessed' if facts.kompetensi is None else f'{facts.kompetensi:g}'}, below {rule.min_kompetensi:g}.",
             "PermenPANRB 3/2020 (unconfirmed threshold)")
    if rule.max_age is not None:
        if facts.tanggal_lahir is None:
            fail("USIA", "Tanggal lahir tidak tercatat.", "The date of birth is not recorded.")
        elif age_on(facts.tanggal_lahir, on) > rule.max_age:
            fail("USIA", f"Usia {age_on(facts.tanggal_lahir, on)} tahun pada {on.isoformat()}, melebihi {rule.max_age}.",
                 f"Aged {age_on(facts.tanggal_lahir, on)} on {on.isoformat()}, above {rule.max_age}.")
    if rule.min_service_years is not None:
        try:
            since: date | None = parse_nip(facts.nip).tmt_cpns
        except InvalidNip:
            since = None
        if since is None or add_years(since, rule.min_service_years) > on:
            fail("PENGALAMAN", f"Pengalaman kerja belum {rule.min_service_years} tahun sejak TMT CPNS.",
                 f"Less than {rule.min_service_years} years of experience since the TMT CPNS.")
    sanction = facts.sanction_failure(on)
    if sanction is not None:
        out.append(sanction)
    return out


def talent_box(facts: Facts, on: date, boxes: TalentBoxes | None = None, years: int = 2) -> tuple[int, int, int]:
    """(box, performance, potential) of the nine-box matrix on a date."""
    boxes = boxes or TALENT_BOXES[POSITION_RULES_VERSION]
    preds = [facts.predicates.get(y) for y in range(on.year - years, on.year)]
    if all(p == "SANGAT_BAIK" for p in preds):
        performance = 3
    elif all(p is not None and at_least(p, "BAIK") for p in preds):
        performance = 2
    else:
        performance = 1
    score = facts.kompetensi
    potential = 1 if score is None else 3 if score >= boxes.potential_high else 2 if score >= boxes.potential_mid else 1
    return BOX[(performance, potential)], performance, potential


def talent_pool(jenis: str, people: Iterable[tuple[Facts, dict[str, Any]]], on: date, version: str = POSITION_RULES_VERSION) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The candidates who meet every requirement and sit at or above the box floors, best first; and exclusions per rule."""
    boxes = TALENT_BOXES[version]
    pool, excluded = [], {}
    for facts, info in people:
        failures = position_failures(jenis, facts, on, version)
        box, performance, potential = talent_box(facts, on, boxes)
        if not failures and (performance < boxes.min_performance or potential < boxes.min_potential):
            failures = [RuleFailure("KOTAK_TALENTA", "PermenPANRB 3/2020 (unconfirmed)", f"Kotak talenta {box} di bawah batas kelompok rencana suksesi.",
                                    f"Talent box {box} is below the succession pool's floor.")]
        if failures:
            for f in {f.rule for f in failures}:
                excluded[f] = excluded.get(f, 0) + 1
            continue
        pool.append({
            "nip": facts.nip, "nama": info.get("nama"), "golongan": facts.golongan, "jabatan": facts.jabatan, "unit": info.get("unit"),
            "box": box, "performance": performance, "potential": potential, "kompetensi": facts.kompetensi,
        })
    # Best box first, then the competency score, then the higher rank; the NIP makes the order total.
    pool.sort(key=lambda c: (-c["box"], -(c["kompetensi"] or 0), -parse_golongan(c["golongan"]).rank_index, c["nip"]))
    return pool, dict(sorted(excluded.items()))


# --- panels: Tim Penilai Kinerja and pansel ------------------------------------------------------------------
@dataclass(frozen=True)
class PanelRule:
    regulation: str
    min_sitting: int  # members left after recusals for a valid session


PANEL_RULES: dict[str, PanelRule] = {
    # The TPK quorum is a regency rule (unconfirmed); pansel: odd number, 5-9 members, internal and
    # external (PermenPANRB 15/2019 as generally quoted: unconfirmed; REGULATIONS.md §4.2 cites 3+4).
    "TPK": PanelRule("PP 11/2017 ps. 191; Perbup (unconfirmed)", 3),
    "PANSEL": PanelRule("UU 5/2014 ps. 110; PermenPANRB 15/2019 (unconfirmed)", 5),
}


def panel_conflicts(members: Iterable[str], candidates: Iterable[str], relatives: dict[str, dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    """Each member's declared relatives among the candidates (the kinship registry); a member who is a candidate conflicts too."""
    cands = set(candidates)
    out: dict[str, list[dict[str, str]]] = {}
    for m in members:
        found = [{"nip": n, "relation": r} for n, r in sorted(relatives.get(m, {}).items()) if n in cands]
        if m in cands:
            found.append({"nip": m, "relation": "DIRI_SENDIRI"})
        if found:
            out[m] = found
    return out


# --- JPT selection: stages, weights, pass marks ---------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    code: str
    weight: float
    min_score: float | None = None  # below it the applicant is eliminated at this stage
    label_id: str = ""
    label_en: str = ""


@dataclass(frozen=True)
class SelectionRule:
    regulation: str
    stages: tuple[Stage, ...]
    pass_mark: float  # weighted total needed to be ranked
    shortlist: int = 3  # names per vacancy (PP 11/2017 art. 127)
    registration_days: int = 14  # announcement to close (REGULATIONS.md §4.2: 2-3 weeks in all)
    national_body: str = "BKN"  # KASN until 2024; its successor is unconfirmed (REGULATIONS.md §4.2)


SELECTION_RULES_VERSION = "PermenPANRB-15/2019"
SELECTION_RULES: dict[str, SelectionRule] = {
    # Stages from REGULATIONS.md §4.2 step 4; the weights and marks are unconfirmed regency configuration.
    SELECTION_RULES_VERSION: SelectionRule(
        "PP 11/2017 ps. 127; PermenPANRB 15/2019",
        (
            Stage("MAKALAH_PRESENTASI", 0.2, None, "Penulisan makalah dan presentasi", "Paper and presentation"),
            Stage("ASSESSMENT_CENTER", 0.4, 60.0, "Uji kompetensi (assessment center)", "Assessment centre"),
            Stage("REKAM_JEJAK", 0.1, None, "Penelusuran rekam jejak", "Track-record check"),
            Stage("WAWANCARA", 0.3, None, "Wawancara", "Interview"),
        ),
        pass_mark=70.0,
    ),
}


def stage_of(code: str, version: str = SELECTION_RULES_VERSION) -> Stage:
    return next(s for s in SELECTION_RULES[version].stages if s.code == code)


def score_problems(scores: Any, applicants: list[str]) -> list[dict[str, Any]]:
    """A stage's scores: one number 0-100 for each applicant still in, nobody else."""
    if not isinstance(scores, dict):
        return [problem("data.scores", "Nilai (scores) wajib berupa objek {NIP: nilai}.", "scores must be an object {NIP: score}.")]
    out = []
    for nip in applicants:
        v = scores.get(nip)
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 100:
            out.append(problem(f"data.scores.{nip}", f"Nilai {nip} wajib angka 0-100.", f"The score of {nip} must be a number 0-100."))
    extra = sorted(set(scores) - set(applicants))
    if extra:
        out.append(problem("data.scores", f"Bukan peserta tahap ini: {', '.join(extra)}.", f"Not in this stage: {', '.join(extra)}."))
    return out


def eliminated(stage: Stage, scores: dict[str, float]) -> list[str]:
    """Applicants below the stage's minimum (in NIP order)."""
    if stage.min_score is None:
        return []
    return sorted(n for n, v in scores.items() if v < stage.min_score)


def rank_applicants(stage_scores: dict[str, dict[str, float]], applicants: list[str], version: str = SELECTION_RULES_VERSION) -> list[dict[str, Any]]:
    """Weighted totals (two decimals) best first; ties go to the higher assessment-centre score, then registration order."""
    rule = SELECTION_RULES[version]
    rows = []
    for order, nip in enumerate(applicants):
        stages = {s.code: stage_scores.get(s.code, {}).get(nip) for s in rule.stages}
        complete = all(v is not None for v in stages.values())
        total = round(sum(s.weight * float(stages[s.code] or 0) for s in rule.stages), 2)
        rows.append({"nip": nip, "total": total, "stages": stages, "passed": complete and total >= rule.pass_mark, "order": order})
    rows.sort(key=lambda r: (-r["total"], -float(r["stages"].get("ASSESSMENT_CENTER") or 0), r["order"]))
    return [{k: v for k, v in r.items() if k != "order"} for r in rows]


def shortlist(ranking: list[dict[str, Any]], version: str = SELECTION_RULES_VERSION) -> list[str]:
    """The first names that passed, as many as the rule asks (fewer means the selection fails)."""
    return [r["nip"] for r in ranking if r["passed"]][: SELECTION_RULES[version].shortlist]


# --- task due periods (working days; regency service standard, unconfirmed) -----------------------------------------
POSITION_DUE_WORKING_DAYS: dict[str, int] = {
    "POSITION_TPK_DECLARATION": 3,
    "POSITION_TPK_RECOMMENDATION": 5,
    "POSITION_PPK_DECISION": 5,
    "POSITION_MENDAGRI_APPROVAL": 20,
    "POSITION_DECREE": 5,
    "POSITION_INAUGURATION": 10,
    "JPT_PANSEL_FORMATION": 5,
    "JPT_PANSEL_DECLARATION": 3,
    "JPT_ANNOUNCEMENT": 3,
    "JPT_ADMIN_CHECK": 3,
    "JPT_ASSESSMENT": 5,
    "JPT_PPK_PICK": 5,
    "JPT_NATIONAL_RECOMMENDATION": 20,
}

ADMIN_DOCUMENTS: dict[str, dict[str, str]] = {
    "SURAT_LAMARAN": {"id": "Surat lamaran", "en": "Application letter"},
    "IJAZAH": {"id": "Ijazah S1/D-IV atau lebih", "en": "S1/D-IV or higher diploma"},
    "SK_JABATAN": {"id": "SK jabatan administrator/fungsional ahli madya", "en": "Administrator / senior functional post decree"},
    "SKP_2_TAHUN": {"id": "SKP 2 tahun terakhir", "en": "Appraisals of the last 2 years"},
    "SURAT_SEHAT": {"id": "Surat keterangan sehat", "en": "Health certificate"},
    "PAKTA_INTEGRITAS": {"id": "Pakta integritas", "en": "Integrity pact"},
}
