"""Who may call what: one table for every route, enforced before any handler runs (deny by default).

Handlers still scope rows (own cases, one's unit, one's tasks); this table decides who may reach
them at all. A route without an entry answers 403 to everyone, and the test generated from the
app's route list fails until the route gets its rule.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from asnflow.api.errors import ApiError
from asnflow.domain.organisation import Role

PUBLIC = "public"  # no token (health, pages' shells, the citizens' complaint desk)
SIGNED_IN = "signed-in"  # any valid token; the handler scopes what it returns

ALL_ROLES = tuple(role.value for role in Role)
AUDIT = ("AUDITOR", "ADMIN")
HR = ("BKPSDM", "ADMIN")
LEADERS = ("ADMIN", "AUDITOR", "BKPSDM", "SEKDA", "BUPATI", "KEPALA_OPD", "TIM_PENILAI")

# (method, path template) -> PUBLIC | SIGNED_IN | tuple of roles
POLICY: dict[tuple[str, str], Any] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/ready"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    # Page shells carry no data; their script reads through the API with the person's token.
    ("GET", "/"): PUBLIC,
    ("GET", "/cases/{case_id}"): PUBLIC,
    ("GET", "/me"): PUBLIC,
    ("GET", "/audit"): PUBLIC,
    ("GET", "/dashboards"): PUBLIC,
    ("GET", "/notifications"): PUBLIC,
    ("GET", "/delegations"): PUBLIC,
    ("GET", "/static/{name}"): PUBLIC,
    ("GET", "/dev/users"): PUBLIC,  # 404 unless the stack runs in dev mode
    ("GET", "/dev/token"): PUBLIC,  # 404 unless the stack runs in dev mode
    # Citizens file and track complaints without an account (rate-limited in the handlers).
    ("POST", "/api/v1/complaints"): PUBLIC,
    ("POST", "/api/v1/complaints/attachments"): PUBLIC,
    ("GET", "/api/v1/complaints/metrics"): PUBLIC,
    ("GET", "/api/v1/complaints/{code}"): PUBLIC,
    ("POST", "/api/v1/complaints/{code}/responses"): PUBLIC,
    ("GET", "/pengaduan"): PUBLIC,
    ("GET", "/pengaduan/lacak"): PUBLIC,
    ("POST", "/pengaduan/lacak"): PUBLIC,
    ("GET", "/pengaduan/statistik"): PUBLIC,
    ("GET", "/pengaduan/kelola"): PUBLIC,  # the staff desk's shell: its script reads through the API with the person's token
    # Everyone signed in: handlers show only one's own rows, one's unit, or one's tasks.
    ("GET", "/api/v1/me"): SIGNED_IN,
    ("GET", "/api/v1/cases"): SIGNED_IN,
    ("GET", "/api/v1/cases/{case_id}"): SIGNED_IN,
    ("GET", "/api/v1/cases/{case_id}/events"): SIGNED_IN,
    ("GET", "/api/v1/tasks"): SIGNED_IN,
    ("GET", "/api/v1/tasks/{task_id}"): SIGNED_IN,
    ("POST", "/api/v1/tasks/{task_id}/claim"): SIGNED_IN,
    ("POST", "/api/v1/tasks/{task_id}/release"): SIGNED_IN,
    ("POST", "/api/v1/tasks/{task_id}/decision"): SIGNED_IN,
    ("POST", "/api/v1/tasks/decisions"): SIGNED_IN,
    ("POST", "/api/v1/tasks/{task_id}/cancel"): ("ADMIN",),
    ("GET", "/api/v1/decision-forms"): SIGNED_IN,
    ("GET", "/api/v1/decision-forms/{kind}"): SIGNED_IN,
    ("GET", "/api/v1/employees/{nip}"): SIGNED_IN,
    ("GET", "/api/v1/employees/{nip}/history"): SIGNED_IN,
    ("GET", "/api/v1/employees/{nip}/personal"): SIGNED_IN,  # the handler: only the person, BKPSDM, ADMIN
    ("POST", "/api/v1/kinship"): SIGNED_IN,  # one declares one's own relatives
    ("POST", "/api/v1/kinship/withdraw"): SIGNED_IN,
    ("GET", "/api/v1/kinship"): SIGNED_IN,  # one's own; HR and oversight anyone's (handler)
    ("GET", "/api/v1/notifications"): SIGNED_IN,
    ("POST", "/api/v1/notifications/{notification_id}/read"): SIGNED_IN,
    ("POST", "/api/v1/notifications/read-all"): SIGNED_IN,
    ("GET", "/api/v1/notifications/outbox"): AUDIT,
    ("POST", "/api/v1/delegations"): SIGNED_IN,
    ("GET", "/api/v1/delegations"): SIGNED_IN,
    ("GET", "/api/v1/delegations/{delegation_id}"): SIGNED_IN,
    ("POST", "/api/v1/delegations/{delegation_id}/revoke"): SIGNED_IN,
    # Evaluation
    ("POST", "/api/v1/evaluations"): SIGNED_IN,  # the employee, their superior, BKPSDM or ADMIN
    ("POST", "/api/v1/evaluations/season"): HR,
    ("POST", "/api/v1/evaluations/{case_id}/evidence"): SIGNED_IN,
    ("POST", "/api/v1/evaluations/{case_id}/transfer"): SIGNED_IN,
    ("POST", "/api/v1/evaluations/{case_id}/objection"): SIGNED_IN,
    ("GET", "/api/v1/evaluations/distribution"): ("ATASAN", *LEADERS),
    ("GET", "/api/v1/evaluations/waiting"): ("ATASAN", *LEADERS),
    ("GET", "/api/v1/evaluations/employees/{nip}/predicates"): SIGNED_IN,
    # Promotion
    ("GET", "/api/v1/promotions/periods"): SIGNED_IN,
    ("POST", "/api/v1/promotions"): ("KEPALA_OPD", "BKPSDM"),
    ("GET", "/api/v1/promotions/eligibility"): LEADERS,
    ("POST", "/api/v1/promotions/batches"): ("BKPSDM",),
    ("GET", "/api/v1/promotions/batches/{case_id}"): LEADERS,
    ("POST", "/api/v1/promotions/pertek/import"): ("BKPSDM",),
    ("GET", "/api/v1/promotions/pipeline"): LEADERS,
    ("GET", "/api/v1/promotions/career/{nip}"): SIGNED_IN,
    ("POST", "/api/v1/promotions/rotations"): ("KEPALA_OPD", "BKPSDM"),
    ("GET", "/api/v1/promotions/{case_id}/decree"): SIGNED_IN,
    ("GET", "/api/v1/promotions/positions/talent-pool"): LEADERS,  # OPD heads: their own unit (handler)
    ("POST", "/api/v1/promotions/positions"): ("KEPALA_OPD", "BKPSDM"),
    ("GET", "/api/v1/promotions/positions"): SIGNED_IN,  # summaries: anyone may look for a selection to apply to
    ("GET", "/api/v1/promotions/positions/{case_id}"): SIGNED_IN,  # details for HR, leadership, the unit head and the panel (handler)
    ("POST", "/api/v1/promotions/selections"): ("BKPSDM",),
    ("POST", "/api/v1/promotions/selections/{case_id}/registrations"): SIGNED_IN,  # applicants register themselves
    ("POST", "/api/v1/promotions/selections/recommendations/import"): ("BKPSDM",),
    # Training
    ("POST", "/api/v1/trainings"): HR,
    ("GET", "/api/v1/trainings/catalogue"): SIGNED_IN,
    ("GET", "/api/v1/trainings/leadership-eligibility"): SIGNED_IN,
    ("POST", "/api/v1/trainings/enrolments"): SIGNED_IN,
    ("GET", "/api/v1/trainings/enrolments"): SIGNED_IN,
    ("POST", "/api/v1/trainings/enrolments/{case_id}/evidence"): SIGNED_IN,
    ("GET", "/api/v1/trainings/reminders"): SIGNED_IN,
    ("POST", "/api/v1/trainings/latsar"): HR,
    ("GET", "/api/v1/trainings/latsar"): SIGNED_IN,
    ("GET", "/api/v1/trainings/{year}"): SIGNED_IN,
    ("GET", "/api/v1/trainings/{year}/needs"): SIGNED_IN,
    ("POST", "/api/v1/trainings/{year}/plan/amendments"): HR,
    ("POST", "/api/v1/trainings/{year}/schedule"): HR,
    ("GET", "/api/v1/trainings/{year}/jp"): SIGNED_IN,
    ("GET", "/api/v1/trainings/{year}/jp/units"): SIGNED_IN,
    ("GET", "/api/v1/trainings/{year}/budget"): SIGNED_IN,
    ("GET", "/api/v1/trainings/{year}/compliance-report"): ("KEPALA_OPD", *LEADERS),
    # Selection (CASN): the committee is BKPSDM; applicants use the public desk with their secret code
    ("POST", "/api/v1/selections"): HR,
    ("POST", "/api/v1/selections/{case_id}/applicants"): HR,
    ("POST", "/api/v1/selections/{case_id}/scores/{stage}"): HR,
    ("POST", "/api/v1/selections/{case_id}/administrative-result"): HR,
    ("POST", "/api/v1/selections/{case_id}/overrides"): HR,
    ("GET", "/api/v1/selections/{case_id}"): (*HR, "AUDITOR", "SEKDA", "BUPATI"),
    ("GET", "/api/v1/selections/{case_id}/rankings"): (*HR, "AUDITOR", "SEKDA", "BUPATI"),
    ("GET", "/api/v1/selections/{case_id}/objections"): (*HR, "AUDITOR", "SEKDA", "BUPATI"),
    ("POST", "/api/v1/selections/status"): PUBLIC,  # registration number + secret code, rate-limited
    ("POST", "/api/v1/selections/{case_id}/objections"): PUBLIC,  # registration number + secret code, rate-limited
    ("GET", "/api/v1/selections/{case_id}/announcements/{stage}"): PUBLIC,  # only what the regulation publishes
    # Complaints (staff side)
    ("GET", "/api/v1/complaints/manage"): ("PENGELOLA_PENGADUAN", "PENGHUBUNG_PENGADUAN", "KEPALA_OPD", "AUDITOR", "ADMIN"),
    ("GET", "/api/v1/complaints/manage/{case_id}"): ("PENGELOLA_PENGADUAN", "PENGHUBUNG_PENGADUAN", "KEPALA_OPD", "AUDITOR", "ADMIN"),
    ("GET", "/api/v1/complaints/escalations"): ("AUDITOR", "PENGELOLA_PENGADUAN", "ADMIN", "KEPALA_OPD"),
    ("GET", "/api/v1/complaints/evidence"): SIGNED_IN,  # appraisers see evidence on their own staff
    # Documents: uploads checked by content; a download only for the uploader or a reader of a case naming the file
    ("POST", "/api/v1/documents"): SIGNED_IN,
    ("GET", "/api/v1/documents/{sha256}"): SIGNED_IN,
    # Audit and dashboards
    ("GET", "/api/v1/audit/events"): AUDIT,
    ("GET", "/api/v1/audit/export"): AUDIT,
    ("GET", "/api/v1/audit/verify"): AUDIT,
    ("GET", "/api/v1/audit/checkpoints"): AUDIT,
    ("GET", "/api/v1/audit/cases/{case_id}"): AUDIT,
    ("GET", "/api/v1/audit/cases/{case_id}/bundle"): AUDIT,
    ("GET", "/api/v1/audit/cases/{case_id}/hold"): AUDIT,
    ("POST", "/api/v1/audit/cases/{case_id}/hold"): AUDIT,
    ("POST", "/api/v1/audit/cases/{case_id}/hold/release"): AUDIT,
    ("GET", "/api/v1/audit/retention"): AUDIT,
    ("GET", "/api/v1/stats/waiting"): ("ADMIN", "AUDITOR", "BKPSDM", "SEKDA", "BUPATI", "KEPALA_OPD"),
    ("GET", "/api/v1/stats/cases"): ("ADMIN", "AUDITOR", "BKPSDM", "SEKDA", "BUPATI", "KEPALA_OPD"),
}


def rule_for(method: str, path: str) -> Any:
    """The rule of a route (HEAD follows GET); None when the route has none."""
    return POLICY.get(("GET" if method == "HEAD" else method, path))


def policy_refusal(status: int, message_id: str, message_en: str, rule: str) -> ApiError:
    return ApiError(status, message_id, message_en, [{"field": None, "id": message_id, "en": message_en, "rule": rule}])


async def enforce(request: Request) -> None:
    """Refuse before the handler: unknown route rule → 403; no token → 401; wrong role → 403."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return  # not an API route (404 and friends are answered by the router)
    rule = rule_for(request.method, path)
    if rule is None:
        raise policy_refusal(403, "Rute ini belum punya aturan akses.", "This route has no access rule (deny by default).", "policy:missing")
    if rule == PUBLIC:
        return
    from asnflow.api.deps import authenticate

    user = authenticate(request)
    if rule == SIGNED_IN or user.has(*rule):
        return
    raise policy_refusal(
        403,
        f"Hanya peran {', '.join(rule)} yang boleh memakai layanan ini.",
        f"Only roles {', '.join(rule)} may use this service.",
        "policy:role",
    )
