"""Merit-based selection of new civil servants (CPNS and PPPK; REGULATIONS.md §1): versioned rules, pure computations, events.

Everything here is a pure function of its inputs: the ranking recorded in `SelectionRanked` is recomputed
from the case's events with `rank_round` and must come out identical (same rules version, same order).
Thresholds, weights, tie orders and periods are configuration per regulation and year; the ones the
sources do not confirm are marked `unconfirmed` in `RULES`.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from functools import lru_cache
from math import gcd
from typing import Any

from asnflow.domain.events import CaseEvent, canonical

PROCESS = "selection"
Problem = dict[str, Any]

CPNS = "CPNS"
PPPK = "PPPK"
UMUM = "UMUM"  # the general track

# Application states an applicant sees (Indonesian codes, as announced).
MS, TMS = "MS", "TMS"  # memenuhi / tidak memenuhi syarat (administrative result)
LULUS, TL = "LULUS", "TL"  # passed / not passed (final result)
LULUS_OPTIMALISASI = "LULUS_OPTIMALISASI"  # filled by optimisation (status code unconfirmed)
P1 = "P1"  # an applicant the final ranking puts within the vacancies (before optimisation)


def problem(field_name: str | None, message_id: str, message_en: str, **extra: Any) -> Problem:
    """One bilingual problem of a refused input."""
    return {"field": field_name, "id": message_id, "en": message_en, **extra}


# --- events ---------------------------------------------------------------------------------------
class SelectionAnnounced(CaseEvent):
    """payload: year, kind, rules (version), formations, schedule."""


class ApplicantsRegistered(CaseEvent):
    """payload: file_sha256, count, applicants [{reg_no, nama, formation, track, birth_date, ipk, secret_sha256}]."""


class ApplicationsOpened(CaseEvent):
    """payload: batch, reg_nos (child cases started in this batch)."""


class ApplicationSubmitted(CaseEvent):
    """(applicant case) payload: reg_no, formation, track, selection_case_id."""


class ApplicationVerified(CaseEvent):
    """(applicant case) payload: reg_no, result MS|TMS, verified_by (the reason is on the envelope)."""


class AdministrativeResultAnnounced(CaseEvent):
    """payload: results {reg_no: MS|TMS}, counts, round (1 = first, 2 = after objections)."""


class SelectionObjectionFiled(CaseEvent):
    """payload: objection_id, reg_no, stage (ADMINISTRASI|AKHIR), task_id."""


class SelectionObjectionDecided(CaseEvent):
    """payload: objection_id, reg_no, stage, outcome ACCEPTED|REJECTED, decided_by."""


class ObjectionPeriodClosed(CaseEvent):
    """payload: stage, closed_at, reannounce_by (the re-announcement's legal deadline), open_objections."""


class ReannouncementOverdue(CaseEvent):
    """payload: stage, reannounce_by, open_objections [task ids]: the deadline passed with objections unanswered."""


class ScoresImported(CaseEvent):
    """payload: stage (SKD|SKB|PPPK), file_sha256, rows, columns, scores {reg_no: [...]}."""


class SkdCutOffDetermined(CaseEvent):
    """payload: rules, passed {reg_no: basis}, failed [...], skb_participants {formation: [reg_no]}, cut_off."""


class SelectionRanked(CaseEvent):
    """payload: rules, ranking {formation: [entry]}, ranking_sha256."""


class FormationsOptimised(CaseEvent):
    """payload: rules, moves [{reg_no, from, to, rule}], unfilled {formation: n}."""


class ResultOverridden(CaseEvent):
    """payload: reg_no, field, before, after (the justification is the reason)."""


class FinalResultAnnounced(CaseEvent):
    """payload: round, results {reg_no: status, formation}, counts."""


class AppointmentStepRecorded(CaseEvent):
    """payload: step (DRH|NIP_REQUESTED|NIP_ISSUED|SK_SIGNED|LATSAR), data."""


# --- configuration --------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrackRule:
    """A special track's SKD rule: a minimum total and minimum sub-tests (REGULATIONS.md §1.2)."""

    min_total: int
    min_sub: dict[str, int]
    label: str


@dataclass(frozen=True)
class Part:
    """One scored part of a test: its maximum and the step its raw scores come in."""

    name: str
    max: int
    step: int = 1


@dataclass(frozen=True)
class SelectionRules:
    """One regulation-year's rules; `unconfirmed` names the values no official text confirmed."""

    version: str
    kind: str  # CPNS | PPPK
    regulation: str
    parts: tuple[Part, ...]  # SKD sub-tests (CPNS) or the PPPK competency parts
    passing: dict[str, int] | None  # per part; None: ranking only (PPPK 2024)
    tracks: dict[str, TrackRule]
    general_also_passes: bool  # a special-track applicant who meets the general grades passes too
    cutoff_multiplier: int  # at most N × vacancies go on to the SKB
    cutoff_tie_order: tuple[str, ...]  # sub-tests that break SKD ties at the cut-off
    cutoff_ties_included: bool  # applicants fully tied with the last place all go on
    skb_max: int
    skd_weight: Fraction
    skb_weight: Fraction
    final_tie_order: tuple[str, ...]  # after the final score: SKD total, sub-tests, IPK, age
    objection_days: int
    reannounce_days: int  # calendar days from the objection window's close to the re-announcement (§1.4)
    registration_days: int
    verification_days: int  # working days for one application's administrative check
    objection_review_days: int
    drh_days: int
    nip_days: int
    optimisation: tuple[str, ...]  # the optimisation rules applied, in order
    unconfirmed: tuple[str, ...] = ()
    # Not law: the regency's service standard for reminding the committee before the re-announcement is due.
    reannounce_remind_days: int = 2

    @property
    def max_total(self) -> int:
        return sum(p.max for p in self.parts)

    def part_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parts)


SKD_PARTS = (Part("TWK", 150, 5), Part("TIU", 175, 5), Part("TKP", 225, 1))
PPPK_PARTS = (Part("TEKNIS", 450, 5), Part("MANAJERIAL_SOSIOKULTURAL", 180, 1), Part("WAWANCARA", 40, 1))
SPECIAL_2024 = {
    "CUMLAUDE": TrackRule(311, {"TIU": 85}, "Lulusan terbaik (cum laude) / Best graduates"),
    "DISABILITAS": TrackRule(286, {"TIU": 60}, "Penyandang disabilitas / Disability"),
    "PAPUA": TrackRule(286, {"TIU": 60}, "Putra/putri Papua / Papuan candidates"),
}
_COMMON: dict[str, Any] = dict(
    objection_days=3, reannounce_days=7, registration_days=21, verification_days=5, objection_review_days=3, drh_days=30, nip_days=30,
    skb_max=100, skd_weight=Fraction(40, 100), skb_weight=Fraction(60, 100),
    optimisation=("SPECIAL_TO_GENERAL", "OTHER_PLACEMENT"),
)

RULES: dict[str, SelectionRules] = {
    # KepmenPANRB 321/2024 (grades), PermenPANRB 6/2024 art. 45(4) (final tie order).
    "CPNS-2024": SelectionRules(
        version="CPNS-2024", kind=CPNS, regulation="PermenPANRB 6/2024; KepmenPANRB 321/2024", parts=SKD_PARTS,
        passing={"TWK": 65, "TIU": 80, "TKP": 166}, tracks=SPECIAL_2024, general_also_passes=True,
        cutoff_multiplier=3, cutoff_tie_order=("TWK", "TIU", "TKP"), cutoff_ties_included=True,
        final_tie_order=("SKD", "TKP", "TIU", "TWK", "IPK", "AGE"),
        unconfirmed=("cutoff_tie_order", "cutoff_ties_included", "general_also_passes", "optimisation", "LULUS_OPTIMALISASI", "registration_days"),
        **_COMMON,
    ),
    # The 2019 round broke cut-off ties TKP→TIU→TWK and sent fully tied applicants to the SKB.
    "CPNS-2019": SelectionRules(
        version="CPNS-2019", kind=CPNS, regulation="PermenPANRB 23/2019", parts=SKD_PARTS,
        passing={"TWK": 65, "TIU": 80, "TKP": 126}, tracks=SPECIAL_2024, general_also_passes=True,
        cutoff_multiplier=3, cutoff_tie_order=("TKP", "TIU", "TWK"), cutoff_ties_included=True,
        final_tie_order=("SKD", "TKP", "TIU", "TWK", "IPK", "AGE"),
        unconfirmed=("passing", "tracks", "general_also_passes", "optimisation"), **_COMMON,
    ),
    # KepmenPANRB 347/2024: no passing grade, ranking alone.
    "PPPK-2024": SelectionRules(
        version="PPPK-2024", kind=PPPK, regulation="KepmenPANRB 347/2024", parts=PPPK_PARTS, passing=None, tracks={},
        general_also_passes=True, cutoff_multiplier=0, cutoff_tie_order=(), cutoff_ties_included=True,
        final_tie_order=("TEKNIS", "MANAJERIAL_SOSIOKULTURAL", "WAWANCARA", "AGE"),
        unconfirmed=("final_tie_order", "optimisation"), **_COMMON,
    ),
}
DEFAULT_VERSION = {CPNS: "CPNS-2024", PPPK: "PPPK-2024"}


def rules_for(kind: str, version: str = "") -> SelectionRules:
    """The rules of a version (default: the latest for the kind)."""
    rules = RULES[version or DEFAULT_VERSION[kind]]
    if rules.kind != kind:
        raise KeyError(f"{version} is a {rules.kind} rule set, not {kind}")
    return rules


# --- formations and applicants --------------------------------------------------------------------
@dataclass(frozen=True)
class Formation:
    """One line of the formation decree: a position in a placement unit for one track."""

    code: str
    jabatan: str
    education: str
    unit: str
    vacancies: int
    track: str = UMUM

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "jabatan": self.jabatan, "education": self.education, "unit": self.unit,
                "vacancies": self.vacancies, "track": self.track}


def formation_problems(items: Any, rules: SelectionRules, known_units: set[str] | None = None) -> list[Problem]:
    """Each malformed formation line, named by its index."""
    if not isinstance(items, list) or not items:
        return [problem("formations", "Formasi wajib diisi.", "At least one formation is required.")]
    problems, seen = [], set()
    tracks = {UMUM, *rules.tracks}
    for i, f in enumerate(items):
        where = f"formations[{i}]"
        if not isinstance(f, dict):
            problems.append(problem(where, "Formasi tidak valid.", "Malformed formation."))
            continue
        code = str(f.get("code", "")).strip()
        if not code or code in seen:
            problems.append(problem(where, "Kode formasi kosong atau ganda.", "Formation code missing or duplicated."))
        seen.add(code)
        for key in ("jabatan", "education", "unit"):
            if not str(f.get(key, "")).strip():
                problems.append(problem(f"{where}.{key}", f"{key} wajib diisi.", f"{key} is required."))
        if known_units is not None and f.get("unit") and f["unit"] not in known_units:
            problems.append(problem(f"{where}.unit", "Unit penempatan tidak dikenal.", "Unknown placement unit."))
        v = f.get("vacancies")
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            problems.append(problem(f"{where}.vacancies", "Jumlah kebutuhan minimal 1.", "Vacancies must be at least 1."))
        if f.get("track", UMUM) not in tracks:
            problems.append(problem(f"{where}.track", f"Jalur harus salah satu dari {sorted(tracks)}.", f"Track must be one of {sorted(tracks)}."))
    return problems


def parse_formations(items: list[dict[str, Any]]) -> list[Formation]:
    return [Formation(code=str(f["code"]).strip(), jabatan=f["jabatan"], education=f["education"], unit=f["unit"],
                      vacancies=int(f["vacancies"]), track=f.get("track", UMUM)) for f in items]


@dataclass(frozen=True)
class Applicant:
    reg_no: str
    formation: str
    track: str
    birth_date: str  # ISO date
    ipk: str  # GPA (or the diploma's average for senior-high graduates), as a decimal string

    @classmethod
    def of(cls, d: dict[str, Any]) -> Applicant:
        return cls(d["reg_no"], d["formation"], d.get("track", UMUM), d["birth_date"], str(d.get("ipk", "0")))


def secret_digest(reg_no: str, secret: str) -> str:
    """What the store keeps of an applicant's secret code (the code itself has 120+ random bits)."""
    return hashlib.sha256(f"asnflow-selection:{reg_no}:{secret}".encode()).hexdigest()


# --- CSV files ----------------------------------------------------------------------------------
APPLICANT_COLUMNS = ("no_peserta", "nama", "formasi", "jalur", "tanggal_lahir", "ipk")


def score_columns(stage: str, rules: SelectionRules) -> tuple[str, ...]:
    """The columns a BKN file of `stage` has, in order."""
    if stage == "SKB":
        return ("no_peserta", "nilai_skb")
    return ("no_peserta", *(p.name.lower() for p in rules.parts))


def _rows(content: bytes, columns: tuple[str, ...]) -> tuple[list[tuple[int, dict[str, str]]], list[Problem]]:
    """A CSV's rows with their line numbers; the wrong column set refuses the whole file."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [problem("file", "Berkas harus UTF-8.", "The file must be UTF-8.", line=0)]
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = tuple(h.strip().lower() for h in next(reader, []))
    if sorted(header) != sorted(columns):
        return [], [problem("file", f"Kolom harus tepat: {', '.join(columns)}.", f"The columns must be exactly: {', '.join(columns)}.", line=1,
                            found=list(header))]
    rows = []
    width = len(header)
    for fields in reader:
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != width:
            rows.append((reader.line_num, {"__extra__": "1"}))
            continue
        rows.append((reader.line_num, {h: f.strip() for h, f in zip(header, fields, strict=True)}))
    return rows, []


def parse_applicants(content: bytes, formations: dict[str, Formation], registered: set[str]) -> tuple[list[dict[str, Any]], list[Problem]]:
    """SSCASN's applicant export: every row checked; any problem refuses the whole file (line-numbered)."""
    rows, problems = _rows(content, APPLICANT_COLUMNS)
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line, r in rows:
        if "__extra__" in r:
            problems.append(problem("file", f"Baris {line}: jumlah kolom salah.", f"Line {line}: wrong number of fields.", line=line))
            continue
        reg, here = r["no_peserta"], len(problems)
        if not reg.isdigit() or not 8 <= len(reg) <= 20:
            problems.append(problem("no_peserta", f"Baris {line}: nomor peserta tidak valid.", f"Line {line}: invalid registration number.", line=line))
        elif reg in seen:
            problems.append(problem("no_peserta", f"Baris {line}: nomor peserta ganda (juga baris {seen[reg]}).",
                                    f"Line {line}: duplicate registration number (also line {seen[reg]}).", line=line))
        elif reg in registered:
            problems.append(problem("no_peserta", f"Baris {line}: pelamar sudah terdaftar.", f"Line {line}: applicant already registered.", line=line))
        seen.setdefault(reg, line)
        f = formations.get(r["formasi"])
        if f is None:
            problems.append(problem("formasi", f"Baris {line}: formasi tidak dikenal.", f"Line {line}: unknown formation.", line=line))
        track = r["jalur"] or UMUM
        if f is not None and track != f.track:
            problems.append(problem("jalur", f"Baris {line}: jalur tidak sesuai formasi.", f"Line {line}: track does not match the formation.", line=line))
        if not r["nama"]:
            problems.append(problem("nama", f"Baris {line}: nama wajib diisi.", f"Line {line}: name is required.", line=line))
        try:
            date.fromisoformat(r["tanggal_lahir"])
        except ValueError:
            problems.append(problem("tanggal_lahir", f"Baris {line}: tanggal lahir tidak valid.", f"Line {line}: invalid birth date.", line=line))
        try:
            ipk = Fraction(r["ipk"] or "0")
            if not 0 <= ipk <= 100:
                raise ValueError
        except (ValueError, ZeroDivisionError):
            problems.append(problem("ipk", f"Baris {line}: IPK/nilai rata-rata tidak valid.", f"Line {line}: invalid GPA or average mark.", line=line))
        if len(problems) == here:
            out.append({"reg_no": reg, "nama": r["nama"], "formation": r["formasi"], "track": track, "birth_date": r["tanggal_lahir"], "ipk": r["ipk"] or "0"})
    if not rows and not problems:
        problems.append(problem("file", "Berkas tidak berisi baris.", "The file has no rows.", line=0))
    return out, problems


def parse_scores(content: bytes, stage: str, rules: SelectionRules, expected: set[str]) -> tuple[dict[str, list[int]], list[Problem]]:
    """A BKN score file (SKD, SKB or PPPK): all rows or nothing; each refusal names its line.

    `expected` are the registration numbers that may appear (MS applicants for the SKD, SKB participants for the SKB).
    """
    columns = score_columns(stage, rules)
    rows, problems = _rows(content, columns)
    parts = (Part("NILAI_SKB", rules.skb_max, 1),) if stage == "SKB" else rules.parts
    scores: dict[str, list[int]] = {}
    seen: dict[str, int] = {}
    for line, r in rows:
        if "__extra__" in r:
            problems.append(problem("file", f"Baris {line}: jumlah kolom salah.", f"Line {line}: wrong number of fields.", line=line))
            continue
        reg = r["no_peserta"]
        if reg in seen:
            problems.append(problem("no_peserta", f"Baris {line}: baris ganda untuk {reg} (juga baris {seen[reg]}).",
                                    f"Line {line}: duplicate row for {reg} (also line {seen[reg]}).", line=line))
            continue
        seen[reg] = line
        if reg not in expected:
            problems.append(problem("no_peserta", f"Baris {line}: nomor peserta {reg} tidak dikenal pada tahap ini.",
                                    f"Line {line}: registration number {reg} is unknown at this stage.", line=line))
            continue
        values, ok = [], True
        for part in parts:
            raw = r[part.name.lower()]
            try:
                v = int(raw)
            except ValueError:
                v = -1
            if not 0 <= v <= part.max or v % part.step:
                ok = False
                problems.append(problem(part.name.lower(), f"Baris {line}: nilai {part.name} {raw!r} di luar rentang 0–{part.max}"
                                        + (f" (kelipatan {part.step})" if part.step > 1 else "") + ".",
                                        f"Line {line}: {part.name} score {raw!r} is outside 0–{part.max}"
                                        + (f" (multiples of {part.step})" if part.step > 1 else "") + ".", line=line))
            values.append(v)
        if ok:
            scores[reg] = values
    if not rows and not problems:
        problems.append(problem("file", "Berkas tidak berisi baris.", "The file has no rows.", line=0))
    return ({} if problems else scores), problems


def file_sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# --- SKD: passing grades and the cut-off -----------------------------------------------------------
@dataclass(frozen=True)
class SkdResult:
    passed: bool
    basis: str  # UMUM or the special track whose rule it met; "" when failed
    failures: tuple[str, ...]  # the grades missed (empty when passed)


def skd_passes(scores: dict[str, int], track: str, rules: SelectionRules) -> SkdResult:
    """Whether SKD scores pass: every sub-test's general grade, or the special track's total and sub-test minimums."""
    if rules.passing is None:
        return SkdResult(True, UMUM, ())
    general = tuple(f"{k}<{v}" for k, v in rules.passing.items() if scores[k] < v)
    special: tuple[str, ...] | None = None
    rule = rules.tracks.get(track)
    if rule is not None:
        total = sum(scores[p] for p in rules.part_names())
        special = ((f"TOTAL<{rule.min_total}",) if total < rule.min_total else ()) + tuple(
            f"{k}<{v}" for k, v in rule.min_sub.items() if scores[k] < v
        )
        if not special:
            return SkdResult(True, track, ())
    if not general and (rule is None or rules.general_also_passes):
        return SkdResult(True, UMUM, ())
    return SkdResult(False, "", special if special is not None else general)


def _skd_key(scores: list[int], rules: SelectionRules, order: tuple[str, ...]) -> tuple[int, ...]:
    named = dict(zip(rules.part_names(), scores, strict=True))
    return (sum(scores), *(named[n] for n in order))


def cut_off(candidates: list[tuple[str, list[int]]], vacancies: int, rules: SelectionRules) -> tuple[list[str], list[str]]:
    """Who of a formation's SKD passers goes on to the SKB: at most multiplier × vacancies, fully tied last places included.

    Returns (continuing, stopped) in rank order; ties beyond the tie order are ordered by registration number only for display.
    """
    ranked = sorted(candidates, key=lambda c: (tuple(-x for x in _skd_key(c[1], rules, rules.cutoff_tie_order)), c[0]))
    limit = rules.cutoff_multiplier * vacancies
    if len(ranked) <= limit:
        return [c[0] for c in ranked], []
    last = _skd_key(ranked[limit - 1][1], rules, rules.cutoff_tie_order)
    n = limit
    if rules.cutoff_ties_included:
        while n < len(ranked) and _skd_key(ranked[n][1], rules, rules.cutoff_tie_order) == last:
            n += 1
    return [c[0] for c in ranked[:n]], [c[0] for c in ranked[n:]]


# --- integration and the final ranking -----------------------------------------------------------
def final_score(skd: list[int], skb: int | None, rules: SelectionRules) -> Fraction:
    """CPNS: skd_weight × (SKD / max × 100) + skb_weight × SKB (0–100). PPPK: the test total (ranking only)."""
    if rules.kind == PPPK:
        return Fraction(sum(skd))
    return rules.skd_weight * Fraction(sum(skd) * 100, rules.max_total) + rules.skb_weight * Fraction(skb or 0)


def _integer_weights(rules: SelectionRules) -> tuple[int, int, int]:
    """(a, b, d) with final = (a × SKD + b × SKB) / d exactly: ranking compares integers, not fractions."""
    return _weights(rules.kind, rules.skd_weight, rules.skb_weight, rules.max_total)


@lru_cache(maxsize=64)
def _weights(kind: str, skd_weight: Fraction, skb_weight: Fraction, max_total: int) -> tuple[int, int, int]:
    if kind == PPPK:
        return 1, 0, 1
    wa, wb = skd_weight * Fraction(100, max_total), skb_weight
    d = wa.denominator * wb.denominator // gcd(wa.denominator, wb.denominator)
    return int(wa * d), int(wb * d), d


def show(score: Fraction) -> str:
    """A score as announced (3 decimals); ranking always compares the exact value."""
    return f"{float(round(score, 3)):.3f}"


def _final_key(a: Applicant, skd: list[int], skb: int | None, rules: SelectionRules) -> tuple[Any, ...]:
    wa, wb, _ = _integer_weights(rules)
    named = dict(zip(rules.part_names(), skd, strict=True))
    key: list[Any] = [-(wa * sum(skd) + wb * (skb or 0))]
    for step in rules.final_tie_order:
        if step == "SKD":
            key.append(-sum(skd))
        elif step == "IPK":
            key.append(-Fraction(a.ipk))
        elif step == "AGE":
            key.append(a.birth_date)  # the earlier date (the older applicant) first
        else:
            key.append(-named[step])
    return tuple(key)


def rank_formation(entries: list[tuple[Applicant, list[int], int | None]], rules: SelectionRules) -> list[dict[str, Any]]:
    """One formation's ranking by the final score and the tie-break chain; applicants tied through the whole chain share a rank."""
    keyed = sorted(((_final_key(a, s, k, rules), a, s, k) for a, s, k in entries), key=lambda e: (e[0], e[1].reg_no))
    out, rank, prev = [], 0, None
    d = _integer_weights(rules)[2]
    for i, (key, a, s, k) in enumerate(keyed, start=1):
        if key != prev:
            rank, prev = i, key
        out.append({"reg_no": a.reg_no, "rank": rank, "final": show(Fraction(-key[0], d)), "skd": s, "skb": k,
                    "skd_total": sum(s), "ipk": a.ipk, "birth_date": a.birth_date, "track": a.track})
    return out


def ranking_digest(ranking: dict[str, list[dict[str, Any]]]) -> str:
    return hashlib.sha256(canonical(ranking).encode()).hexdigest()


@dataclass
class RoundFacts:
    """What a round's events say, folded: the input of every computation."""

    rules: SelectionRules
    formations: dict[str, Formation]
    applicants: dict[str, Applicant] = field(default_factory=dict)
    admin: dict[str, str] = field(default_factory=dict)  # reg_no -> MS/TMS (as last announced)
    skd: dict[str, list[int]] = field(default_factory=dict)
    skb: dict[str, int] = field(default_factory=dict)
    skb_participants: set[str] = field(default_factory=set)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # reg_no -> {field: value}


def determine_cut_off(facts: RoundFacts) -> dict[str, Any]:
    """SKD passing per applicant and, per formation, who goes on to the SKB (the SkdCutOffDetermined payload)."""
    rules = facts.rules
    passed: dict[str, str] = {}
    failed: dict[str, list[str]] = {}
    by_formation: dict[str, list[tuple[str, list[int]]]] = {code: [] for code in facts.formations}
    for reg, scores in sorted(facts.skd.items()):
        a = facts.applicants[reg]
        res = skd_passes(dict(zip(rules.part_names(), scores, strict=True)), a.track, rules)
        if res.passed:
            passed[reg] = res.basis
            by_formation[a.formation].append((reg, scores))
        else:
            failed[reg] = list(res.failures)
    participants, stopped = {}, {}
    for code, cands in sorted(by_formation.items()):
        if rules.cutoff_multiplier:
            go, stop = cut_off(cands, facts.formations[code].vacancies, rules)
        else:
            go, stop = sorted(c[0] for c in cands), []
        participants[code], stopped[code] = go, stop
    return {"rules": rules.version, "passed": passed, "failed": failed, "skb_participants": participants, "stopped": stopped}


def rank_round(facts: RoundFacts) -> dict[str, Any]:
    """The final ranking per formation (SelectionRanked payload): CPNS integrate SKD and SKB; PPPK rank the test total."""
    rules = facts.rules
    groups: dict[str, list[tuple[Applicant, list[int], int | None]]] = {code: [] for code in facts.formations}
    for reg in sorted(facts.skb_participants if rules.kind == CPNS else facts.skd):
        if reg not in facts.skd or (rules.kind == CPNS and reg not in facts.skb):
            continue  # absent from a test: not ranked
        a = facts.applicants[reg]
        groups[a.formation].append((a, facts.skd[reg], facts.skb.get(reg)))
    ranking = {code: rank_formation(entries, rules) for code, entries in sorted(groups.items())}
    for code, entries in ranking.items():
        vacancies = facts.formations[code].vacancies
        for e in entries:
            e["status"] = P1 if e["rank"] <= vacancies else TL
    return {"rules": rules.version, "ranking": ranking, "ranking_sha256": ranking_digest(ranking)}


def _general_pass(reg: str, facts: RoundFacts) -> bool:
    rules = facts.rules
    if rules.passing is None:
        return True
    scores = dict(zip(rules.part_names(), facts.skd[reg], strict=True))
    return all(scores[k] >= v for k, v in rules.passing.items())


def optimise(facts: RoundFacts, ranking: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Fill empty vacancies with the next-best (FormationsOptimised payload); deterministic, formations in code order.

    SPECIAL_TO_GENERAL: an empty special-track vacancy goes to the same position and unit's general-track applicants.
    OTHER_PLACEMENT: an empty vacancy goes to applicants for the same position and education in another unit.
    Fillers must meet the general SKD grades and not already hold a place (REGULATIONS.md §1.3).
    """
    rules = facts.rules
    placed = {e["reg_no"] for entries in ranking.values() for e in entries if e["status"] == P1}
    index = {e["reg_no"]: e for entries in ranking.values() for e in entries}
    moves: list[dict[str, Any]] = []
    unfilled: dict[str, int] = {}
    for code, f in sorted(facts.formations.items()):
        empty = f.vacancies - sum(1 for e in ranking.get(code, []) if e["status"] == P1)
        for rule in rules.optimisation:
            if empty <= 0:
                break
            if rule == "SPECIAL_TO_GENERAL":
                if f.track == UMUM:
                    continue
                pools = [c for c, g in facts.formations.items() if g.track == UMUM and (g.jabatan, g.education, g.unit) == (f.jabatan, f.education, f.unit)]
            elif rule == "OTHER_PLACEMENT":
                pools = [c for c, g in facts.formations.items() if c != code and (g.jabatan, g.education) == (f.jabatan, f.education) and g.unit != f.unit]
            else:
                continue
            cands = [e for c in pools for e in ranking.get(c, []) if e["reg_no"] not in placed and _general_pass(e["reg_no"], facts)]
            cands.sort(key=lambda e: (_final_key(facts.applicants[e["reg_no"]], e["skd"], e["skb"], rules), e["reg_no"]))
            for e in cands[:empty]:
                placed.add(e["reg_no"])
                moves.append({"reg_no": e["reg_no"], "from": facts.applicants[e["reg_no"]].formation, "to": code, "rule": rule, "final": e["final"]})
                index[e["reg_no"]]["status"] = LULUS_OPTIMALISASI
                empty -= 1
        if empty > 0:
            unfilled[code] = empty
    return {"rules": rules.version, "moves": moves, "unfilled": unfilled}


def final_results(facts: RoundFacts, ranking: dict[str, list[dict[str, Any]]], moves: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every applicant's final status and placement, overrides applied last."""
    results: dict[str, dict[str, Any]] = {}
    moved = {m["reg_no"]: m["to"] for m in moves}
    for reg, a in sorted(facts.applicants.items()):
        results[reg] = {"status": TL, "formation": a.formation}
    for code, entries in ranking.items():
        for e in entries:
            if e["status"] == P1:
                results[e["reg_no"]] = {"status": LULUS, "formation": code}
    for reg, to in moved.items():
        results[reg] = {"status": LULUS_OPTIMALISASI, "formation": to}
    for reg, changes in facts.overrides.items():
        if reg in results and "final_status" in changes:
            results[reg] = {**results[reg], "status": changes["final_status"], "overridden": True}
    return results


def counts(results: dict[str, Any], key: str | None = None) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in results.values():
        s = v[key] if key else v
        out[s] = out.get(s, 0) + 1
    return dict(sorted(out.items()))


# --- folding a round's events -----------------------------------------------------------------------
def fold(events: list[tuple[str, dict[str, Any]]]) -> RoundFacts:
    """The facts of a round from its (type, payload) events in order: the input to recompute any ranking."""
    facts: RoundFacts | None = None
    for kind, p in events:
        if kind == "SelectionAnnounced":
            facts = RoundFacts(rules=RULES[p["rules"]], formations={f["code"]: Formation(**f) for f in p["formations"]})
            continue
        if facts is None:
            continue
        if kind == "ApplicantsRegistered":
            for a in p["applicants"]:
                facts.applicants[a["reg_no"]] = Applicant.of(a)
        elif kind == "AdministrativeResultAnnounced":
            facts.admin.update(p["results"])
        elif kind == "ScoresImported":
            if p["stage"] == "SKB":
                facts.skb.update({k: v[0] for k, v in p["scores"].items()})
            else:
                facts.skd.update(p["scores"])
        elif kind == "SkdCutOffDetermined":
            facts.skb_participants = {r for regs in p["skb_participants"].values() for r in regs}
        elif kind == "ResultOverridden":
            facts.overrides.setdefault(p["reg_no"], {})[p["field"]] = p["after"]
    if facts is None:
        raise ValueError("no SelectionAnnounced event")
    return facts


OVERRIDE_FIELDS = ("final_status", "admin_result")


def override_problems(reg_no: str, fld: str, value: Any, justification: str, facts: RoundFacts) -> list[Problem]:
    """A manual override needs a known applicant, a known field and value, and a written justification."""
    problems = []
    if reg_no not in facts.applicants:
        problems.append(problem("reg_no", "Nomor peserta tidak dikenal.", "Unknown registration number."))
    if fld not in OVERRIDE_FIELDS:
        problems.append(problem("field", f"Kolom harus salah satu dari {list(OVERRIDE_FIELDS)}.", f"Field must be one of {list(OVERRIDE_FIELDS)}."))
    allowed = (LULUS, TL, LULUS_OPTIMALISASI) if fld == "final_status" else (MS, TMS)
    if value not in allowed:
        problems.append(problem("value", f"Nilai harus salah satu dari {list(allowed)}.", f"Value must be one of {list(allowed)}."))
    if len(justification.strip()) < 10:
        problems.append(problem("justification", "Alasan perubahan wajib diisi (minimal 10 karakter).", "A written justification (at least 10 characters) is required."))
    return problems


# What the public announcement lists show per stage (names and registration numbers of those who pass; no scores of others).
PUBLIC_FIELDS = {
    "ADMINISTRASI": ("reg_no", "nama", "formation", "result"),
    "SKD": ("reg_no", "nama", "formation", "skd_total"),
    "AKHIR": ("reg_no", "nama", "formation", "final", "status"),
}


def nip_problems(kind: str, nips: Any, appointees: list[dict[str, Any]]) -> list[Problem]:
    """NIP_ISSUED data: a valid NIP (CPNS) or NI PPPK for every appointee, matching their birth date, none twice."""
    from asnflow.domain.nip import InvalidNip, parse_ni_pppk, parse_nip

    if not isinstance(nips, dict):
        return [problem("data.nips", "nips harus berupa peta nomor peserta → NIP.", "nips must map registration numbers to NIPs.")]
    problems, seen = [], set()
    for a in appointees:
        value = nips.get(a["reg_no"])
        where = f"data.nips.{a['reg_no']}"
        if not isinstance(value, str):
            problems.append(problem(where, f"NIP untuk {a['reg_no']} wajib diisi.", f"A NIP for {a['reg_no']} is required."))
            continue
        try:
            parsed = parse_ni_pppk(value) if kind == PPPK else parse_nip(value)
        except InvalidNip:
            problems.append(problem(where, f"NIP {value} tidak valid.", f"NIP {value} is not valid."))
            continue
        if parsed.birth_date.isoformat() != a["birth_date"]:
            problems.append(problem(where, f"NIP {value} tidak sesuai tanggal lahir pelamar.", f"NIP {value} does not match the applicant's birth date."))
        if value in seen:
            problems.append(problem(where, f"NIP {value} dipakai dua kali.", f"NIP {value} is used twice."))
        seen.add(value)
    extra = set(nips) - {a["reg_no"] for a in appointees}
    if extra:
        problems.append(problem("data.nips", f"Bukan peserta yang lulus: {sorted(extra)[:5]}.", f"Not appointees: {sorted(extra)[:5]}."))
    return problems
