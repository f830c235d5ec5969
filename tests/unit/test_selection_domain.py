"""Selection rules at their boundaries: passing grades, cut-off with ties, 40/60, each tie-break step, optimisation, files."""

from __future__ import annotations

from fractions import Fraction

import pytest

from asnflow.domain import selection as sel

R24 = sel.RULES["CPNS-2024"]
R19 = sel.RULES["CPNS-2019"]
PPPK = sel.RULES["PPPK-2024"]


def skd(twk: int, tiu: int, tkp: int) -> dict[str, int]:
    return {"TWK": twk, "TIU": tiu, "TKP": tkp}


# --- passing grades ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scores", "passed"),
    [
        (skd(65, 80, 166), True),  # exactly on every grade
        (skd(60, 80, 166), False),  # TWK one step below
        (skd(65, 75, 166), False),  # TIU one step below
        (skd(65, 80, 165), False),  # TKP one point below
        (skd(150, 175, 165), False),  # a high total does not make up for one sub-test
    ],
)
def test_general_passing_grades_per_subtest(scores: dict[str, int], passed: bool) -> None:
    assert sel.skd_passes(scores, sel.UMUM, R24).passed is passed


def test_failures_name_the_missed_grade() -> None:
    assert sel.skd_passes(skd(60, 80, 166), sel.UMUM, R24).failures == ("TWK<65",)


@pytest.mark.parametrize(
    ("track", "scores", "passed", "basis"),
    [
        ("CUMLAUDE", skd(60, 85, 166), True, "CUMLAUDE"),  # total 311, TIU 85: the track's rule though TWK < 65
        ("CUMLAUDE", skd(60, 85, 165), False, ""),  # total 310
        ("CUMLAUDE", skd(75, 80, 156), False, ""),  # total 311 but TIU 80 < 85, general TKP fails too
        ("DISABILITAS", skd(40, 60, 186), True, "DISABILITAS"),  # total 286, TIU 60
        ("DISABILITAS", skd(40, 55, 190), False, ""),  # TIU 55 < 60
        ("PAPUA", skd(45, 60, 180), False, ""),  # total 285
        ("PAPUA", skd(45, 60, 181), True, "PAPUA"),  # total 286
        ("DISABILITAS", skd(65, 80, 166), True, "DISABILITAS"),  # total 311 meets the track rule first
    ],
)
def test_special_track_rules(track: str, scores: dict[str, int], passed: bool, basis: str) -> None:
    res = sel.skd_passes(scores, track, R24)
    assert (res.passed, res.basis) == (passed, basis)


def test_special_track_applicant_meeting_general_grades_passes_on_the_general_rule() -> None:
    # Total 280 < 286, but every general grade is met.
    assert sel.skd_passes(skd(65, 80, 135 + 31), "DISABILITAS", R24).passed
    res = sel.skd_passes(skd(70, 80, 130 + 36), "PAPUA", R24)
    assert res.passed and res.basis in ("PAPUA", sel.UMUM)


def test_pppk_2024_has_no_passing_grade() -> None:
    assert sel.skd_passes({"TEKNIS": 0, "MANAJERIAL_SOSIOKULTURAL": 0, "WAWANCARA": 0}, sel.UMUM, PPPK).passed


# --- cut-off at 3 × vacancies with ties ------------------------------------------------------------
def test_cut_off_takes_three_times_the_vacancies() -> None:
    cands = [(f"{i:010d}", [100, 100, 200 - i]) for i in range(10)]
    go, stop = sel.cut_off(cands, 2, R24)
    assert go == [f"{i:010d}" for i in range(6)] and stop == [f"{i:010d}" for i in range(6, 10)]


def test_cut_off_includes_applicants_fully_tied_with_the_last_place() -> None:
    cands = [(f"{i:010d}", [100, 100, 200 - i]) for i in range(5)] + [("0000000099", [100, 100, 198])]
    go, stop = sel.cut_off(cands, 1, R24)  # 3 places; the third (198) is shared by two applicants
    assert go == ["0000000000", "0000000001", "0000000002", "0000000099"]
    tied = [("A0000001", [100, 100, 150]), ("A0000002", [100, 100, 150]), ("A0000003", [100, 100, 150]), ("A0000004", [100, 100, 150]),
            ("A0000005", [100, 100, 149])]
    go, stop = sel.cut_off(tied, 1, R24)
    assert go == ["A0000001", "A0000002", "A0000003", "A0000004"] and stop == ["A0000005"]


def test_cut_off_tie_order_separates_equal_totals() -> None:
    # Equal total 350: 2024 breaks by TWK first; 2019 by TKP first.
    a, b = ("A0000001", [100, 100, 150]), ("A0000002", [95, 110, 145])
    c = ("A0000003", [90, 90, 170])
    go24, _ = sel.cut_off([a, b, c], 1, R24)
    assert go24 == ["A0000001", "A0000002", "A0000003"]
    narrow = sel.SelectionRules(**{**R24.__dict__, "cutoff_multiplier": 1})
    assert sel.cut_off([a, b, c], 1, narrow) == (["A0000001"], ["A0000002", "A0000003"])
    narrow19 = sel.SelectionRules(**{**R19.__dict__, "cutoff_multiplier": 1})
    assert sel.cut_off([a, b, c], 1, narrow19) == (["A0000003"], ["A0000001", "A0000002"])


def test_cut_off_without_ties_included_stops_at_the_limit() -> None:
    strict = sel.SelectionRules(**{**R24.__dict__, "cutoff_ties_included": False, "cutoff_multiplier": 1})
    tied = [("A0000001", [100, 100, 150]), ("A0000002", [100, 100, 150])]
    assert sel.cut_off(tied, 1, strict) == (["A0000001"], ["A0000002"])


# --- integration 40/60 ----------------------------------------------------------------------------
def test_final_score_is_40_percent_skd_and_60_percent_skb() -> None:
    assert sel.final_score([150, 175, 225], 100, R24) == 100
    assert sel.final_score([0, 0, 0], 0, R24) == 0
    assert sel.final_score([55, 110, 110], 50, R24) == Fraction(40, 100) * 50 + Fraction(60, 100) * 50  # SKD 275/550 = 50
    assert sel.show(sel.final_score([65, 80, 166], 77, R24)) == "68.818"  # 0.4 × 311/5.5 + 0.6 × 77 = 22.618 + 46.2


def test_weights_are_configuration() -> None:
    half = sel.SelectionRules(**{**R24.__dict__, "skd_weight": Fraction(1, 2), "skb_weight": Fraction(1, 2)})
    assert sel.final_score([55, 110, 110], 100, half) == 75


# --- tie-break chain -----------------------------------------------------------------------------
def app(reg: str, ipk: str = "3.50", born: str = "1998-01-01") -> sel.Applicant:
    return sel.Applicant(reg, "F1", sel.UMUM, born, ipk)


def order(entries: list[tuple[sel.Applicant, list[int], int]]) -> list[str]:
    return [e["reg_no"] for e in sel.rank_formation(entries, R24)]


def test_tie_break_1_higher_skd_total() -> None:
    # Equal final: SKD 330 + SKB 80 vs SKD 357.5-equivalent; build equal finals with different SKD totals.
    a = (app("A"), [80, 100, 150], 80)  # SKD 330 → 24 + 48 = 72
    b = (app("B"), [60, 95, 120], 88)  # SKD 275 → 20 + 52.8 = 72.8 (higher final)
    c = (app("C"), [110, 100, 175], 70)  # SKD 385 → 28 + 42 = 70
    assert order([a, b, c]) == ["B", "A", "C"]
    d = (app("D"), [110, 110, 165], 70)  # SKD 385 → 70, same as C
    e = (app("E"), [55, 55, 110], 80 + 10)  # SKD 220 → 16 + 54 = 70
    assert order([e, d]) == ["D", "E"]


def test_tie_break_2_tkp_then_tiu_then_twk() -> None:
    base = 80
    tkp = (app("TKP"), [100, 100, 170], base)
    tiu = (app("TIU"), [100, 110, 160], base)
    assert order([tiu, tkp]) == ["TKP", "TIU"]
    tiu2 = (app("TIU2"), [95, 115, 160], base)
    assert order([tiu, tiu2]) == ["TIU2", "TIU"]
    twk = (app("TWK"), [105, 110, 155], base)
    twk2 = (app("TWK2"), [100, 115, 155], base)
    assert order([twk2, twk]) == ["TWK2", "TWK"]  # equal TKP 155: TIU 115 > 110 before TWK is looked at
    # With equal SKD total, TKP and TIU, TWK is equal too: the regulation's TWK step never decides alone.


def test_tie_break_3_higher_ipk_then_4_older() -> None:
    same = [100, 100, 170]
    assert order([(app("LOW", "3.40"), same, 80), (app("HIGH", "3.41"), same, 80)]) == ["HIGH", "LOW"]
    assert order([(app("YOUNG", born="1999-01-02"), same, 80), (app("OLD", born="1999-01-01"), same, 80)]) == ["OLD", "YOUNG"]


def test_full_tie_shares_the_rank() -> None:
    same = [100, 100, 170]
    ranked = sel.rank_formation([(app("B"), same, 80), (app("A"), same, 80), (app("C"), same, 79)], R24)
    assert [(e["reg_no"], e["rank"]) for e in ranked] == [("A", 1), ("B", 1), ("C", 3)]


# --- optimisation -----------------------------------------------------------------------------------
def _facts() -> sel.RoundFacts:
    f = {
        "G-A": sel.Formation("G-A", "Dokter", "S1", "RSUD", 1),
        "D-A": sel.Formation("D-A", "Dokter", "S1", "RSUD", 1, "DISABILITAS"),
        "G-B": sel.Formation("G-B", "Dokter", "S1", "PUSKESMAS", 2),
    }
    facts = sel.RoundFacts(rules=R24, formations=f)
    rows = [("1", "G-A", [100, 100, 170], 90), ("2", "G-A", [100, 100, 170], 80), ("3", "G-A", [65, 80, 166], 70),
            ("4", "G-B", [100, 100, 170], 85), ("5", "D-A", [40, 60, 150], 0)]
    for reg, code, s, k in rows:
        facts.applicants[reg] = sel.Applicant(reg, code, f[code].track, "1995-01-01", "3.0")
        facts.skd[reg] = s
        facts.skb[reg] = k
        facts.skb_participants.add(reg)
    return facts


def test_optimisation_fills_special_track_from_general_then_other_placement() -> None:
    facts = _facts()
    del facts.skd["5"], facts.skb["5"]  # the disability formation's applicant was absent
    ranked = sel.rank_round(facts)
    moves = sel.optimise(facts, ranked["ranking"])
    assert [(m["reg_no"], m["to"], m["rule"]) for m in moves["moves"]] == [("2", "D-A", "SPECIAL_TO_GENERAL"), ("3", "G-B", "OTHER_PLACEMENT")]
    assert moves["unfilled"] == {}
    results = sel.final_results(facts, sel.rank_round(facts)["ranking"], moves["moves"])
    assert results["1"]["status"] == sel.LULUS and results["2"] == {"status": sel.LULUS_OPTIMALISASI, "formation": "D-A"}


def test_recomputing_from_events_gives_the_same_ranking() -> None:
    facts = _facts()
    events = [
        ("SelectionAnnounced", {"rules": "CPNS-2024", "formations": [f.as_dict() for f in facts.formations.values()]}),
        ("ApplicantsRegistered", {"applicants": [{"reg_no": a.reg_no, "formation": a.formation, "track": a.track, "birth_date": a.birth_date,
                                                  "ipk": a.ipk} for a in facts.applicants.values()]}),
        ("AdministrativeResultAnnounced", {"results": {r: sel.MS for r in facts.applicants}}),
        ("ScoresImported", {"stage": "SKD", "scores": facts.skd}),
        ("SkdCutOffDetermined", {"skb_participants": {"x": sorted(facts.skb_participants)}}),
        ("ScoresImported", {"stage": "SKB", "scores": {k: [v] for k, v in facts.skb.items()}}),
    ]
    first, again = sel.rank_round(sel.fold(events)), sel.rank_round(sel.fold(events))
    assert first == again and first["rules"] == "CPNS-2024" and first["ranking_sha256"] == sel.ranking_digest(first["ranking"])


# --- files -----------------------------------------------------------------------------------------
def test_score_file_refused_whole_with_line_numbers() -> None:
    content = b"no_peserta,twk,tiu,tkp\n1001,65,80,166\n1002,155,80,166\n1001,65,80,166\n9999,65,80,166\n1003,65,81,166\n"
    scores, problems = sel.parse_scores(content, "SKD", R24, {"1001", "1002", "1003"})
    assert scores == {}
    assert [(p["line"], p["field"]) for p in problems] == [(3, "twk"), (4, "no_peserta"), (5, "no_peserta"), (6, "tiu")]
    assert "duplicate" in problems[1]["en"] and "unknown" in problems[2]["en"]


def test_score_file_with_the_wrong_columns_is_refused() -> None:
    _, problems = sel.parse_scores(b"no_peserta,twk,tiu\n1001,65,80\n", "SKD", R24, {"1001"})
    assert problems[0]["line"] == 1 and "columns" in problems[0]["en"]


def test_good_score_files() -> None:
    scores, problems = sel.parse_scores(b"no_peserta;twk;tiu;tkp\n1001;150;175;225\n1002;0;0;0\n", "SKD", R24, {"1001", "1002", "1003"})
    assert problems == [] and scores == {"1001": [150, 175, 225], "1002": [0, 0, 0]}
    skb, problems = sel.parse_scores(b"no_peserta,nilai_skb\n1001,100\n", "SKB", R24, {"1001"})
    assert skb == {"1001": [100]}
    _, problems = sel.parse_scores(b"no_peserta,nilai_skb\n1001,101\n", "SKB", R24, {"1001"})
    assert problems[0]["line"] == 2


def test_override_needs_a_justification() -> None:
    facts = _facts()
    assert sel.override_problems("1", "final_status", sel.LULUS, "short", facts)[0]["field"] == "justification"
    assert sel.override_problems("1", "final_status", sel.LULUS, "Kesalahan input nilai SKB oleh panitia", facts) == []


def test_pppk_ranks_on_the_test_total_with_its_own_tie_order() -> None:
    f = {"GURU": sel.Formation("GURU", "Guru Ahli Pertama", "S1 Pendidikan", "DISDIKBUD", 1)}
    facts = sel.RoundFacts(rules=PPPK, formations=f)
    rows = {"1": [400, 150, 30], "2": [405, 145, 30], "3": [400, 150, 30], "4": [100, 20, 5]}
    for reg, scores in rows.items():
        facts.applicants[reg] = sel.Applicant(reg, "GURU", sel.UMUM, "1990-01-01" if reg != "3" else "1989-12-31", "3.0")
        facts.skd[reg] = scores
    ranking = sel.rank_round(facts)["ranking"]["GURU"]
    # Totals 580 each for 1, 2, 3: TEKNIS 405 first; then 1 and 3 tie on every part, the older (3) first. No passing grade: 4 is ranked too.
    assert [(e["reg_no"], e["rank"], e["status"]) for e in ranking] == [("2", 1, sel.P1), ("3", 2, sel.TL), ("1", 3, sel.TL), ("4", 4, sel.TL)]
    assert ranking[0]["final"] == "580.000"


def test_pppk_score_file_uses_its_parts_and_maxima() -> None:
    scores, problems = sel.parse_scores(b"no_peserta,teknis,manajerial_sosiokultural,wawancara\n1,450,180,40\n2,455,0,0\n", "PPPK", PPPK, {"1", "2"})
    assert scores == {} and [(p["line"], p["field"]) for p in problems] == [(3, "teknis")]
