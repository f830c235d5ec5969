"""Selection activities: bulk appends built from staged files and the round's own events (payloads never pass through Temporal)."""

from __future__ import annotations

from datetime import datetime
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


# Uploads never taken in (refused mid-way, abandoned) go after this long: the rows hold personal data in clear.
STAGING_RETENTION_DAYS = 7
PURGE_STALE_SQL = "DELETE FROM public.selection_files WHERE uploaded_at < now() - make_interval(days => %s)"
UNSTAGE_SQL = "DELETE FROM public.selection_files WHERE case_id = %s AND sha256 = ANY(%s)"
# The events that hold a staged file's rows, and the summary each step returns (rebuilt from the event on a retry).
FILE_EVENTS = {"REGISTER": "ApplicantsRegistered", "IMPORT": "ScoresImported"}


def ensure_staging(conn: psycopg.Connection[Any]) -> None:
    conn.execute(STAGING_DDL)


def stage_file(conn: psycopg.Connection[Any], case_id: str, stage: str, content: bytes, uploaded_by: str | None, extra: dict[str, Any] | None = None) -> str:
    """Keep an upload under its SHA-256 until the round takes it in (the same bytes twice are one file)."""
    from psycopg.types.json import Jsonb

    ensure_staging(conn)
    sha = sel.file_sha256(content)
    conn.execute(PURGE_STALE_SQL, [STAGING_RETENTION_DAYS])
    conn.execute(STAGE_SQL, [sha, case_id, stage, content, Jsonb(extra or {}), uploaded_by])
    return sha


class FileGoneError(Exception):
    """The staged file is no longer there: taken in by an earlier attempt, or never uploaded."""


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


def _file_summary(step: str, payload: dict[str, Any], facts: sel.RoundFacts) -> dict[str, Any]:
    """What a file step tells its caller, from its event's payload (`facts`: the round before that event)."""
    if step == "REGISTER":
        return {"count": payload["count"], "total": len(facts.applicants) + payload["count"]}
    return {"rows": payload["rows"], "absent": payload["absent"]}


def _deadline(inp: BuildInput) -> dict[str, Any]:
    """A re-announcement's legal deadline and whether it was missed (rounds recorded before the deadline existed: nothing)."""
    by = inp.params.get("reannounce_by")
    if not by:
        return {}
    return {"reannounce_by": by, "late": datetime.fromisoformat(inp.occurred_at) > datetime.fromisoformat(by)}


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
            raise FileGoneError(sha)
        return bytes(row[0]), row[1]

    def _unstage(self, case_id: str, shas: list[str]) -> None:
        """Drop staged files whose rows are in the store now (the event holds every row and the checksum)."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            ensure_staging(conn)
            conn.execute(UNSTAGE_SQL, [case_id, shas])

    def _taken_in(self, inp: BuildInput, facts: sel.RoundFacts) -> BuildResult:
        """The staged file is gone: an earlier attempt appended its event and unstaged it, but its answer was lost.

        That event sits right after the workflow's version; its result is returned unchanged (nothing doubled).
        Anything else means the file was never uploaded here, and the caller is told."""
        after = read_case(self.store, inp.case_id, gt=inp.expected_version, lte=inp.expected_version + 1)
        if after and type(after[0].event).__name__ == FILE_EVENTS[inp.step] and after[0].event.payload.get("file_sha256") == inp.file_sha256:
            ev = after[0].event
            return BuildResult(ev.originator_version, ev.hash, [after[0].position], _file_summary(inp.step, ev.payload, facts))
        raise refuse(ERR_INVALID, [sel.problem("file_sha256", "Berkas unggahan tidak ditemukan.", "The uploaded file was not found.")])

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
        so_far = round_events(self.store, inp.case_id, inp.expected_version)
        try:
            facts = sel.fold(so_far)
        except ValueError as exc:  # no announcement below this version: retrying cannot help
            raise refuse(ERR_CONFLICT, [sel.problem(None, "Seleksi belum diumumkan.", "The selection has not been announced yet.")]) from exc
        taken = [p["file_sha256"] for t, p in so_far if t in FILE_EVENTS.values()]
        if taken:
            # Files the workflow has already acknowledged (an attempt that died between its append and its unstaging).
            self._unstage(inp.case_id, taken)
        takes_file = inp.step in FILE_EVENTS
        if takes_file and inp.file_sha256 in taken:
            raise refuse(ERR_CONFLICT, [sel.problem("file_sha256", "Berkas ini sudah diterima sebelumnya.", "This file was already taken in.")])
        step = getattr(self, f"_{inp.step.lower()}")
        try:
            events, summary = step(inp, facts)
        except FileGoneError:
            return self._taken_in(inp, facts)
        except ApplicationError as err:
            if takes_file and err.type == ERR_INVALID:
                self._unstage(inp.case_id, [inp.file_sha256])  # a refused file is never taken in: the sender fixes and sends a new one
            raise
        result = self._append(inp, events, summary)
        if takes_file:
            # Only after the append: a retry before this line still finds the file and meets its own events.
            self._unstage(inp.case_id, [inp.file_sha256])
        return result

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
        return [self._event(inp, "ApplicantsRegistered", payload)], _file_summary(inp.step, payload, facts)

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
        payload = {"round": inp.round, "results": results, "counts": sel.counts(results), "changed": changed, **_deadline(inp)}
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
        return [self._event(inp, "ScoresImported", payload)], _file_summary(inp.step, payload, facts)

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
        final = {"round": inp.round, "results": results, "counts": sel.counts(results, "status"), **_deadline(inp)}
        return [self._event(inp, "FinalResultAnnounced", final)], {"counts": final["counts"], **_deadline(inp)}

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
