"""Selection activities: bulk appends built from staged files and the round's own events (payloads never pass through Temporal)."""

from __future__ import annotations

from typing import Any

import psycopg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from asnflow.activities.eventstore import EVENTS_TABLE, CaseForkedError, EventStore, _decode_rows, read_case, record
from asnflow.domain import selection as sel
from asnflow.domain.events import case_aggregate_id
from asnflow.domain.tenancy import DEFAULT_TENANT
from asnflow.workflows.contracts import ERR_CONFLICT, ERR_INVALID, NewEvent, RecordInput
from asnflow.workflows.selection_contracts import (
    STAGE_FINAL,
    ApplicantRef,
    BuildInput,
    BuildResult,
    PageInput,
    application_case_id,
)

# Uploads wait here (in public: API connections search their tenant's schema), addressed by their SHA-256, until the round takes them in; the event then holds every row.
STAGING_DDL = (
    "CREATE TABLE IF NOT EXISTS public.selection_files (sha256 text NOT NULL, case_id text NOT NULL, stage text NOT NULL,"
    " content bytea NOT NULL, extra jsonb NOT NULL DEFAULT '{}'::jsonb, uploaded_by text, uploaded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (case_id, sha256))"
)


STAGE_SQL = (
    "INSERT INTO public.selection_files (sha256, case_id, stage, content, extra, uploaded_by) VALUES (%s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (case_id, sha256) DO UPDATE SET extra = public.selection_files.extra || EXCLUDED.extra"
)


def ensure_staging(conn: psycopg.Connection[Any]) -> None:
    conn.execute(STAGING_DDL)


def stage_file(conn: psycopg.Connection[Any], case_id: str, stage: str, content: bytes, uploaded_by: str | None, extra: dict[str, Any] | None = None) -> str:
    """Keep an upload under its SHA-256 until the round takes it in (the same bytes twice are one file)."""
    from psycopg.types.json import Jsonb

    ensure_staging(conn)
    sha = sel.file_sha256(content)
    conn.execute(STAGE_SQL, [sha, case_id, stage, content, Jsonb(extra or {}), uploaded_by])
    return sha


def refuse(kind: str, problems: list[dict[str, Any]]) -> ApplicationError:
    """A business refusal the workflow passes on to the caller (nothing recorded)."""
    return ApplicationError("; ".join(p["en"] for p in problems[:5]), *problems[:200], type=kind, non_retryable=True)


def round_events(store: EventStore, case_id: str, version: int) -> list[tuple[str, dict[str, Any]]]:
    """The round's events up to `version` as (type, payload): what every computation folds."""
    return [(type(s.event).__name__, s.event.payload) for s in read_case(store, case_id, lte=version)]


def verification_results(store: EventStore, selection_case: str, reg_nos: list[str]) -> dict[str, str]:
    """Each applicant case's administrative result, read from the store in pages of case ids."""
    out: dict[str, str] = {}
    topic = f"{sel.__name__}:ApplicationVerified"
    for i in range(0, len(reg_nos), 5000):
        ids = [case_aggregate_id(application_case_id(selection_case, r)) for r in reg_nos[i:i + 5000]]
        sql = f"SELECT notification_id, originator_id, originator_version, topic, state FROM {EVENTS_TABLE} WHERE originator_id = ANY(%s) AND topic = %s"  # noqa: S608
        for s in _decode_rows(store, sql, [ids, topic]):
            out[s.event.payload["reg_no"]] = s.event.payload["result"]
    return out


class SelectionActivities:
    """The round's heavy steps: each reads its inputs, computes with domain.selection and appends at the workflow's version."""

    def __init__(self, store: EventStore, database_url: str, default_tenant: str = DEFAULT_TENANT) -> None:
        self.store = store
        self.database_url = database_url
        self.default_tenant = default_tenant  # the tenant of case ids without a prefix, as RecordingActivities

    def _staged(self, sha: str, case_id: str) -> tuple[bytes, dict[str, Any]]:
        with psycopg.connect(self.database_url) as conn:
            ensure_staging(conn)
            row = conn.execute("SELECT content, extra FROM public.selection_files WHERE sha256 = %s AND case_id = %s", [sha, case_id]).fetchone()
        if row is None:
            raise refuse(ERR_INVALID, [sel.problem("file_sha256", "Berkas unggahan tidak ditemukan.", "The uploaded file was not found.")])
        return bytes(row[0]), row[1]

    def _append(self, inp: BuildInput, events: list[NewEvent], summary: dict[str, Any]) -> BuildResult:
        rec = RecordInput(
            case_id=inp.case_id, process=inp.process, expected_version=inp.expected_version, previous_hash=inp.previous_hash,
            workflow_id=inp.workflow_id, run_id=inp.run_id, occurred_at=inp.occurred_at, events=events,
        )
        try:
            result = record(self.store, rec, self.default_tenant)
        except CaseForkedError as exc:
            raise ApplicationError(str(exc), type="CaseForked", non_retryable=True) from exc
        return BuildResult(result.version, result.last_hash, result.positions, summary)

    def _event(self, inp: BuildInput, type_name: str, payload: dict[str, Any], reason: str = "") -> NewEvent:
        return NewEvent(type=type_name, payload=payload, actor=inp.actor, reason=reason or inp.reason)

    @activity.defn(name="selection_build")
    def build(self, inp: BuildInput) -> BuildResult:
        """One bulk step of the round: check its input, compute, append its events (all or nothing)."""
        try:
            facts = sel.fold(round_events(self.store, inp.case_id, inp.expected_version))
        except ValueError as exc:  # no announcement below this version: retrying cannot help
            raise refuse(ERR_CONFLICT, [sel.problem(None, "Seleksi belum diumumkan.", "The selection has not been announced yet.")]) from exc
        step = getattr(self, f"_{inp.step.lower()}")
        events, summary = step(inp, facts)
        return self._append(inp, events, summary)

    # --- steps ------------------------------------------------------------------------------
    def _register(self, inp: BuildInput, facts: sel.RoundFacts) -> tuple[list[NewEvent], dict[str, Any]]:
        content, extra = self._staged(inp.file_sha256, inp.case_id)
        rows, problems = sel.parse_applicants(content, facts.formations, set(facts.applicants))
        if problems:
            raise refuse(ERR_INVALID, problems)
        secrets = extra.get("secrets", {})
        for r in rows:
            r["secret_sha256"] = secrets.get(r["reg_no"])
        payload = {"file_sha256": inp.file_sha256, "count": len(rows), "applicants": rows}
        return [self._event(inp, "ApplicantsRegistered", payload)], {"count": len(rows), "total": len(facts.applicants) + len(rows)}

    def _admin_result(self, inp: BuildInput, facts: sel.RoundFacts) -> tuple[list[NewEvent], dict[str, Any]]:
        if inp.round == 1:
            results = verification_results(self.store, inp.case_id, sorted(facts.applicants))
            missing = len(facts.applicants) - len(results)
            if missing:
                raise refuse(ERR_CONFLICT, [sel.problem(None, f"{missing} berkas pelamar belum diverifikasi.", f"{missing} applications are not verified yet.",
                                                        missing=missing)])
            changed: list[str] = []
        else:
            accepted = inp.params.get("accepted", [])
            results = dict(facts.admin)
            changed = [r for r in accepted if results.get(r) == sel.TMS]
            results.update({r: sel.MS for r in changed})
        for reg, changes in facts.overrides.items():
            if "admin_result" in changes:
                results[reg] = changes["admin_result"]
        results = dict(sorted(results.items()))
        payload = {"round": inp.round, "results": results, "counts": sel.counts(results), "changed": changed}
        return [self._event(inp, "AdministrativeResultAnnounced", payload)], {"counts": payload["counts"], "changed": len(changed)}

    def _import(self, inp: BuildInput, facts: sel.RoundFacts) -> tuple[list[NewEvent], dict[str, Any]]:
        content, _ = self._staged(inp.file_sha256, inp.case_id)
        expected = facts.skb_participants if inp.stage == "SKB" else {r for r, v in facts.admin.items() if v == sel.MS}
        scores, problems = sel.parse_scores(content, inp.stage, facts.rules, expected)
        if problems:
            raise refuse(ERR_INVALID, problems)
        payload = {
            "stage": inp.stage, "file_sha256": inp.file_sha256, "rows": len(scores), "columns": list(sel.score_columns(inp.stage, facts.rules)),
            "scores": dict(sorted(scores.items())), "absent": len(expected) - len(scores),
        }
        return [self._event(inp, "ScoresImported", payload)], {"rows": len(scores), "absent": payload["absent"]}

    def _cut_off(self, inp: BuildInput, facts: sel.RoundFacts) -> tuple[list[NewEvent], dict[str, Any]]:
        payload = sel.determine_cut_off(facts)
        summary = {"passed": len(payload["passed"]), "failed": len(payload["failed"]),
                   "skb_participants": sum(len(v) for v in payload["skb_participants"].values())}
        return [self._event(inp, "SkdCutOffDetermined", payload)], summary

    def _rank(self, inp: BuildInput, facts: sel.RoundFacts) -> tuple[list[NewEvent], dict[str, Any]]:
        ranked = sel.rank_round(facts)
        optimised = sel.optimise(facts, ranked["ranking"])
        # The optimisation marks its fillers in the ranking; the recorded ranking is the one before it.
        ranked = sel.rank_round(facts)
        results = sel.final_results(facts, ranked["ranking"], optimised["moves"])
        final = {"round": 1, "results": results, "counts": sel.counts(results, "status")}
        return (
            [self._event(inp, "SelectionRanked", ranked), self._event(inp, "FormationsOptimised", optimised),
             self._event(inp, "FinalResultAnnounced", final)],
            {"counts": final["counts"], "moves": len(optimised["moves"]), "unfilled": optimised["unfilled"], "ranking_sha256": ranked["ranking_sha256"]},
        )

    def _final_result(self, inp: BuildInput, facts: sel.RoundFacts) -> tuple[list[NewEvent], dict[str, Any]]:
        ranked = sel.rank_round(facts)
        optimised = sel.optimise(facts, ranked["ranking"])
        results = sel.final_results(facts, sel.rank_round(facts)["ranking"], optimised["moves"])
        final = {"round": inp.round, "results": results, "counts": sel.counts(results, "status")}
        return [self._event(inp, "FinalResultAnnounced", final)], {"counts": final["counts"]}

    def _override(self, inp: BuildInput, facts: sel.RoundFacts) -> tuple[list[NewEvent], dict[str, Any]]:
        p = inp.params
        problems = sel.override_problems(p["reg_no"], p["field"], p["value"], inp.reason, facts)
        if problems:
            raise refuse(ERR_INVALID, problems)
        if p["field"] == "admin_result":
            before = facts.overrides.get(p["reg_no"], {}).get("admin_result", facts.admin.get(p["reg_no"]))
        else:
            ranked = sel.rank_round(facts)
            results = sel.final_results(facts, sel.rank_round(facts)["ranking"], sel.optimise(facts, ranked["ranking"])["moves"])
            before = results[p["reg_no"]]["status"]
        payload = {"reg_no": p["reg_no"], "field": p["field"], "before": before, "after": p["value"]}
        return [self._event(inp, "ResultOverridden", payload)], payload

    # --- reads --------------------------------------------------------------------------------
    @activity.defn(name="selection_applicants_page")
    def applicants_page(self, inp: PageInput) -> list[ApplicantRef]:
        """A page of registered applicants (registration order is the file order; pages by registration number)."""
        facts = sel.fold(round_events(self.store, inp.case_id, inp.version))
        regs = sorted(facts.applicants)[inp.offset:inp.offset + inp.limit]
        return [ApplicantRef(r, facts.applicants[r].formation, facts.applicants[r].track) for r in regs]

    @activity.defn(name="selection_appointees")
    def appointees(self, inp: PageInput) -> list[dict[str, Any]]:
        """Who the last final announcement appoints, with what the NIP request and Latsar hand-off need."""
        events = round_events(self.store, inp.case_id, inp.version)
        facts = sel.fold(events)
        finals = [p for t, p in events if t == "FinalResultAnnounced"]
        names = {a["reg_no"]: a["nama"] for t, p in events if t == "ApplicantsRegistered" for a in p["applicants"]}
        if not finals:
            return []
        out = []
        for reg, r in finals[-1]["results"].items():
            if r["status"] in (sel.LULUS, sel.LULUS_OPTIMALISASI):
                f = facts.formations[r["formation"]]
                out.append({"reg_no": reg, "nama": names.get(reg, ""), "formation": f.code, "unit": f.unit, "jabatan": f.jabatan,
                            "birth_date": facts.applicants[reg].birth_date, "stage": STAGE_FINAL})
        return out

    def all(self) -> list[Any]:
        return [self.build, self.applicants_page, self.appointees]


def selection_activities(store: EventStore, settings: Any) -> list[Any]:
    """The selection activities wired to the store and database (for the worker's list)."""
    return SelectionActivities(store, settings.database_url, settings.default_tenant).all()
