"""Complaint rules without servers: intake checks, codes, service-level arithmetic, limiter, sealed identities."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime

from asnflow.api.routes.complaints import RateLimiter, public_status
from asnflow.domain import complaints as cp
from asnflow.domain.organisation import ROLE_LABELS, Role
from asnflow.runtime.demo_org import demo_employees, roles_for


def valid(**overrides: object) -> dict[str, object]:
    return {
        "kind": "PENGADUAN", "unit": "DPMPTSP", "description": "Izin usaha saya tidak diproses sejak bulan lalu.",
        "anonymous": False, "reporter_name": "Budi", "attachments": [{"name": "foto.JPG", "sha256": "a" * 64, "size": 2048}],
        **overrides,
    }


def fields(problems: list[dict[str, object]]) -> set[object]:
    return {p["field"] for p in problems}


def test_a_valid_report_has_no_problems_and_every_problem_speaks_both_languages() -> None:
    assert cp.validate_intake(valid()) == []
    assert cp.validate_intake(valid(anonymous=True, reporter_name=None)) == []
    problems = cp.validate_intake({"attachments": [{"name": "a.exe", "size": 0, "sha256": "x"}] * 6})
    assert fields(problems) >= {"kind", "unit", "description", "reporter_name", "attachments", "attachments.0.name", "attachments.0.size", "attachments.0.sha256"}
    assert all(p["id"] and p["en"] and p["id"] != p["en"] for p in problems)


def test_intake_limits() -> None:
    assert fields(cp.validate_intake(valid(description="pendek"))) == {"description"}
    assert fields(cp.validate_intake(valid(description="x" * (cp.LIMITS.description_max + 1)))) == {"description"}
    assert fields(cp.validate_intake(valid(anonymous=True))) == {"anonymous"}  # a name on an anonymous report
    assert fields(cp.validate_intake(valid(asn_nip="1234"))) == {"asn_nip"}
    big = {"name": "scan.pdf", "sha256": "b" * 64, "size": cp.LIMITS.attachment_bytes_max + 1}
    assert fields(cp.validate_intake(valid(attachments=[big]))) == {"attachments.0.size"}
    assert fields(cp.validate_intake(valid(unit="DINAS-FIKTIF", kind="GOSIP"))) == {"unit", "kind"}


def test_codes_are_readable_random_and_map_one_way_to_case_ids() -> None:
    codes = {cp.format_code(secrets.randbits(60)) for _ in range(200)}
    assert len(codes) == 200 and all(cp.CODE_RE.match(c) for c in codes)
    assert not any(ch in c[4:] for c in codes for ch in "ILOU")
    code = next(iter(codes))
    assert cp.normalise_code(f"  {code.lower()} ") == code
    assert cp.normalise_code("LPR-ILOU-0000-0000") is None and cp.normalise_code("12") is None
    case_id = cp.case_id_for_code(code)
    assert case_id.startswith("complaint-") and code not in case_id and case_id == cp.case_id_for_code(code)


def test_duplicates_ignore_case_spacing_and_punctuation_but_not_the_agency() -> None:
    a = cp.fingerprint("PENGADUAN", "DPMPTSP", "Izin  usaha saya, TIDAK diproses!", None)
    assert a == cp.fingerprint("PENGADUAN", "DPMPTSP", "izin usaha saya tidak diproses", None)
    assert a != cp.fingerprint("PENGADUAN", "DISKOMINFO", "izin usaha saya tidak diproses", None)
    assert a != cp.fingerprint("PENGADUAN", "DPMPTSP", "izin usaha saya tidak diproses", "199602102022031001")


def test_service_levels_are_versioned_configuration() -> None:
    levels = cp.SERVICE_LEVELS[cp.COMPLAINT_REGULATION]
    assert (levels["verification"].days, levels["follow_up"].days, levels["auto_close"].days) == (3, 5, 10)
    assert levels["resolution"] == cp.ServiceLevel(60, working=False)
    # Resolution counts calendar days to the end of the 60th day in WIB, whatever the clock's zone.
    late_evening_utc = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)  # already 2 March in Batanghari
    due = cp.calendar_due(late_evening_utc, 60)
    assert due.isoformat() == "2026-05-01T23:59:59+07:00"
    assert cp.local_date(late_evening_utc) == date(2026, 3, 2)


def test_complaint_roles_exist_with_labels_and_demo_holders() -> None:
    for role in (Role.PENGELOLA_PENGADUAN, Role.PENGHUBUNG_PENGADUAN):
        assert ROLE_LABELS[role]["id"] and ROLE_LABELS[role]["en"]
    holders = {e.unit for e in demo_employees() if "PENGHUBUNG_PENGADUAN" in roles_for(e.nip)}
    assert {"DISKOMINFO", "DPMPTSP"} <= holders
    assert sum("PENGELOLA_PENGADUAN" in roles_for(e.nip) for e in demo_employees()) == 2


def test_the_limiter_lets_a_burst_through_then_slows_one_client_only() -> None:
    limiter = RateLimiter({"file": (3, 10.0)}, max_clients=2)
    assert [limiter.retry_after("file", "a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.retry_after("file", "a", now=0.0) == 10.0
    assert limiter.retry_after("file", "b", now=0.0) == 0.0
    assert limiter.retry_after("file", "a", now=10.0) == 0.0  # one token back after its period
    limiter.retry_after("file", "c", now=10.0)
    assert len(limiter._buckets) == 2  # noqa: SLF001 - memory stays bounded under a flood of addresses


def test_the_public_status_never_carries_people_or_confidential_text() -> None:
    row = {
        "case_id": "complaint-a", "kind": "WHISTLEBLOWING", "unit": "DPMPTSP", "stage": "verification", "closure": None,
        "confidential": True, "description": "Pungutan liar oleh petugas X", "attachments": [], "identity_sealed": "v1.xyz",
        "asn_nip": "199602102022031001", "anonymous": False, "filed_at": datetime(2026, 1, 5, tzinfo=UTC), "verified_at": None,
        "closed_at": None, "due": {"verification": "2026-01-08T23:59:59+07:00"}, "escalated": True, "follow_ups": [], "responses": [],
        "breaches": [{"level": "verification", "due_at": "2026-01-08T23:59:59+07:00", "at": "2026-01-08T17:00:00+00:00"}],
        "timeline": [{"type": "ComplaintFiled", "at": "2026-01-05T02:00:00+00:00"}],
    }
    status = public_status("LPR-0000-0000-0000", row)
    text = str(status)
    assert "Pungutan" not in text and "199602102022031001" not in text and "v1.xyz" not in text
    assert status["escalated_to"] == "INSPEKTORAT" and status["breaches"][0]["label"]["en"].startswith("Verification")
    assert status["timeline"][0]["label"] == {"id": "Laporan diterima", "en": "Report received"}
