"""The served decision forms against the validators: every kind has one, and forms and validators agree."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from asnflow.domain import complaints as cp
from asnflow.domain import decision_forms as df
from asnflow.domain import performance as pf
from asnflow.domain import position as ps
from asnflow.domain import promotion as pr
from asnflow.domain import rules as er
from asnflow.domain import training as tr
from asnflow.domain.deadlines import SUPERVISION_KIND
from asnflow.workflows import complaint as cw
from asnflow.workflows import promotion as pw
from asnflow.workflows.promotion_contracts import BKN_PERTEK, DECREE, REVISION, ROTATION_ADVICE, ROTATION_DECREE, ROTATION_MENDAGRI, VERIFICATION

RULES = tr.rules_for()


def known_kinds() -> set[str]:
    """Every task kind the processes open, from their own due-date tables and constants."""
    return (
        set(er.TASK_DUE_WORKING_DAYS[er.EVALUATION_REGULATION])
        | set(pr.PROMOTION_DUE_WORKING_DAYS[pr.DUE_VERSION])
        | set(RULES.due_working_days)
        | set(ps.POSITION_DUE_WORKING_DAYS)
        | {cw.VERIFY, cw.FOLLOW_UP, cw.ASN_RESPONSE, SUPERVISION_KIND}
    )


def test_every_task_kind_of_every_process_has_a_form() -> None:
    assert known_kinds() <= set(df.FORMS), sorted(known_kinds() - set(df.FORMS))
    assert {VERIFICATION, REVISION, BKN_PERTEK, DECREE, ROTATION_ADVICE, ROTATION_MENDAGRI, ROTATION_DECREE} <= set(df.FORMS)
    assert set(df.FORMS[cw.VERIFY].outcomes) == set(cw.VERIFY_OUTCOMES)
    assert set(df.FORMS[cw.FOLLOW_UP].outcomes) == set(cw.FOLLOW_UP_OUTCOMES)


def test_allowed_values_are_the_validators_own() -> None:
    fields = {f.name: f for f in df.FORMS["RATING"].fields}
    assert [o.value for o in fields["hasil_kerja"].options] == [r.value for r in pf.Rating]
    assert [o.value for o in df.FORMS["ORG_PREDICATE"].fields[0].options] == [p.value for p in pf.OrgPredicate]
    docs = df.FORMS[VERIFICATION].fields[0].items[0]
    assert [o.value for o in docs.options] == list(pr.DOCUMENTS)
    skp = df.FORMS["SKP_DRAFT"].fields[0]
    assert skp.max_items == pf.SKP_LIMITS[pf.DEFAULT_REGULATION]["max_targets"]


# --- generated data: valid samples, then one broken field at a time -------------------------------------------
def sample(f: df.Field) -> Any:
    """A valid value for a field, built from its description only."""
    if f.type in ("text", "textarea"):
        return ("Teks contoh keputusan " * 3)[: f.max_length or 60].strip() or "x"
    if f.type == "sha256":
        return "a" * 64
    if f.type == "date":
        return "2026-03-02"
    if f.type == "boolean":
        return True
    if f.type == "number":
        return f.maximum if f.maximum is not None else (f.minimum if f.minimum is not None else 1)
    if f.type == "select":
        return f.options[0].value
    if f.type == "list":
        if f.items:
            return [{sub.name: sample(sub) for sub in f.items}]
        return [sample(df.Field(f.name, f.item_type or "text", f.label, max_length=f.max_length))]
    if f.type == "map":
        assert f.key is not None
        return {str(sample(f.key)): sample(f.items[0])}
    if f.type == "object":
        return {sub.name: sample(sub) for sub in f.items}
    raise AssertionError(f.type)


def valid_data(form: df.Form, outcome: str) -> dict[str, Any]:
    return {f.name: sample(f) for f in form.fields if not f.when or outcome in f.when}


def _plan(data: dict[str, Any]) -> list[dict[str, Any]]:
    return tr.normalise_plan(data, tr.catalogue(RULES), RULES)[1]


def _documents(data: dict[str, Any]) -> list[dict[str, Any]]:
    docs = data.get("documents")
    required = [d.get("code") for d in docs if isinstance(d, dict)] if isinstance(docs, list) else []
    return pr.checklist_problems(data, required)


def _admin_documents(data: dict[str, Any]) -> list[dict[str, Any]]:
    docs = data.get("documents")
    present = [d.get("code") for d in docs if isinstance(d, dict)] if isinstance(docs, list) else []
    return pr.checklist_problems(data, present, ps.ADMIN_DOCUMENTS)


def _letter(nomor: str, tanggal: str) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    return lambda d: pw.text_problems(d, nomor) + pw.date_problem(d, tanggal)


def _calibration(data: dict[str, Any]) -> list[dict[str, Any]]:
    items = data.get("adjustments") or []
    members = {a["nip"]: "BAIK" for a in items if isinstance(a, dict) and "nip" in a}
    return pf.validate_calibration(data, members, "ISTIMEWA")[0]


# The kinds' own validators as the workflows call them (outcome, data) -> problems.
VALIDATORS: dict[str, Callable[[str, dict[str, Any]], list[dict[str, Any]]]] = {
    "SKP_DRAFT": lambda o, d: pf.validate_skp_data(d) + (pf.validate_expectations(d) if "expectations" in d else []),
    "SKP_AGREEMENT": lambda o, d: pf.validate_expectations(d) if o == "AGREED" and "expectations" in d else [],
    "CHECK_IN": lambda o, d: pf.validate_checkin_data(d),
    "RATING": lambda o, d: pf.validate_rating_data(d),
    "OBJECTION_RESPONSE": lambda o, d: pf.validate_objection_response(d),
    "OBJECTION_DECISION": lambda o, d: pf.validate_objection_decision(o, d, "SANGAT_KURANG"),
    "ORG_PREDICATE": lambda o, d: pf.validate_org_predicate_data(d),
    "CALIBRATION": lambda o, d: _calibration(d),
    VERIFICATION: lambda o, d: _documents(d) if o == "VERIFIED" else [],
    BKN_PERTEK: lambda o, d: pw.text_problems(d, "nomor") + pw.date_problem(d, "tanggal") if o == "APPROVED" else [],
    DECREE: lambda o, d: pw.text_problems(d, "sk_nomor") + pw.date_problem(d, "sk_tanggal") if o == "DECREED" else [],
    ROTATION_MENDAGRI: lambda o, d: pw.text_problems(d, "nomor") + pw.date_problem(d, "tanggal") if o == "APPROVED" else [],
    ROTATION_DECREE: lambda o, d: pw.text_problems(d, "sk_nomor") + pw.date_problem(d, "sk_tanggal") if o == "DECREED" else [],
    REVISION: lambda o, d: pr.declared_problems(d.get("declared")) if o == "RESUBMITTED" else [],
    "TRAINING_PLAN_DRAFT": lambda o, d: _plan(d),
    "TRAINING_EVALUATION": lambda o, d: tr.validate_training_evaluation(d),
    "LATSAR_ENROLMENT": lambda o, d: tr.validate_latsar_enrolment(d),
    "LATSAR_RESULT": lambda o, d: tr.validate_latsar_result(o, d, RULES),
    "POSITION_MENDAGRI_APPROVAL": lambda o, d: _letter("nomor", "tanggal")(d) if o == "APPROVED" else [],
    "POSITION_DECREE": lambda o, d: _letter("sk_nomor", "sk_tanggal")(d),
    # The oath is checked inline in PositionCase._shared_validation (sumpah must be true): mirrored here.
    "POSITION_INAUGURATION": lambda o, d: _letter("berita_acara_nomor", "tanggal")(d) + ([] if d.get("sumpah") is True else [{"field": "data.sumpah"}]),
    "JPT_PANSEL_FORMATION": lambda o, d: _letter("sk_nomor", "sk_tanggal")(d) if o == "FORMED" else [],
    "JPT_ANNOUNCEMENT": lambda o, d: _letter("nomor", "tanggal")(d),
    "JPT_NATIONAL_RECOMMENDATION": lambda o, d: _letter("nomor", "tanggal")(d),
    "JPT_ADMIN_CHECK": lambda o, d: _admin_documents(d) if o == "PASSED" else [],
    "JPT_ASSESSMENT": lambda o, d: ps.score_problems(d.get("scores"), list(d.get("scores") or {"199001012015011001": 0})),
    cw.FOLLOW_UP: lambda o, d: cw._text_problems(d.get("text"), "data.text", 10),
    cw.ASN_RESPONSE: lambda o, d: cw._text_problems(d.get("response"), "data.response", 1),
}
CASES = [(form, outcome) for form in df.FORMS_LIST for outcome in form.outcomes]


@pytest.mark.parametrize(("form", "outcome"), CASES, ids=[f"{f.kind}-{o}" for f, o in CASES])
def test_a_sample_built_from_the_form_passes_the_form_and_the_kinds_validator(form: df.Form, outcome: str) -> None:
    data = valid_data(form, outcome)
    assert df.check(form.kind, outcome, data) == []
    if form.kind in VALIDATORS:
        assert VALIDATORS[form.kind](outcome, data) == []


def _top(path: str | None) -> str:
    return re.split(r"[.\[]", str(path or "").removeprefix("data."))[0]


REQUIRED = [
    (form, outcome, f) for form, outcome in CASES for f in form.fields
    if f.required and (not f.when or outcome in f.when) and form.kind in VALIDATORS
]


@pytest.mark.parametrize(("form", "outcome", "field"), REQUIRED, ids=[f"{a.kind}-{o}-{f.name}" for a, o, f in REQUIRED])
def test_what_the_form_marks_required_the_validator_requires(form: df.Form, outcome: str, field: df.Field) -> None:
    data = valid_data(form, outcome)
    del data[field.name]
    problems = VALIDATORS[form.kind](outcome, data)
    assert problems and field.name in {_top(p["field"]) for p in problems}, problems
    assert field.name in {_top(p["field"]) for p in df.check(form.kind, outcome, data)}


CLOSED = [
    (form, outcome, f) for form, outcome in CASES for f in form.fields
    if f.type == "select" and f.closed and (not f.when or outcome in f.when) and form.kind in VALIDATORS
]


@pytest.mark.parametrize(("form", "outcome", "field"), CLOSED, ids=[f"{a.kind}-{o}-{f.name}" for a, o, f in CLOSED])
def test_a_value_outside_the_forms_options_is_refused_by_both(form: df.Form, outcome: str, field: df.Field) -> None:
    data = {**valid_data(form, outcome), field.name: "NOT_AN_OPTION"}
    assert _top(VALIDATORS[form.kind](outcome, data)[0]["field"]) == field.name
    assert [_top(p["field"]) for p in df.check(form.kind, outcome, data)] == [field.name]


def test_nested_problems_name_the_item_and_field_in_both_languages() -> None:
    data = {"targets": [{"indikator": "Layanan daring", "target": "99%"}, {"indikator": "", "target": "x" * 300}]}
    problems = df.check("SKP_DRAFT", "SUBMITTED", data)
    assert [p["field"] for p in problems] == ["targets[1].indikator", "targets[1].target"]
    assert all(p["id"] and p["en"] and p["id"] != p["en"] for p in problems)
    assert df.check("PROMOTION_REVISION", "RESUBMITTED", {"declared": {"predicates": {"2024": "HEBAT"}}})[0]["field"] == "declared.predicates.2024"
    assert df.check("ROTATION_ADVICE", "RECOMMENDED", {"conflict_of_interest": "false"})[0]["field"] == "conflict_of_interest"
    assert df.check("ROTATION_ADVICE", "RECOMMENDED", {"conflict_of_interest": False}) == []


def test_fields_for_other_outcomes_and_kinds_without_a_form_are_not_checked() -> None:
    assert df.check("PROMOTION_DECREE", "REJECTED", {}) == []
    assert df.check("PROMOTION_DECREE", "DECREED", {})[0]["field"] == "sk_nomor"
    assert df.check("SELECTION_SOMETHING_NEW", "OK", {"anything": 1}) == []
    assert df.describe("SELECTION_SOMETHING_NEW") is None
    assert df.check("RATING", "SUBMITTED", ["not", "an", "object"])[0]["field"] == ""


def test_the_description_is_plain_json_with_both_languages() -> None:
    import json

    for form in df.FORMS_LIST:
        described = json.loads(json.dumps(df.describe(form.kind)))
        assert described["kind"] == form.kind and set(described["title"]) == {"id", "en"}
        for f in described["fields"]:
            assert f["type"] in df.TYPES and set(f["label"]) == {"id", "en"}
    assert cp.LIMITS.response_max == df.FORMS[cw.FOLLOW_UP].fields[0].max_length
