"""What a person should read beside a task before deciding it, per task kind (from views only)."""

from __future__ import annotations

from typing import Any

# Verified complaints naming the rated employee, from the start of the rated year (WIB) until the rating was decided
# (or now): a complaint verified in January about December still reaches the rating of the year it concerns.
RATING_EVIDENCE_SQL = (
    "SELECT v.case_id, v.kind, v.unit, v.description, v.filed_at, v.verified_at, v.follow_ups, v.asn_response,"
    " v.asn_responded_at, v.closure, v.closed_at FROM complaint_evidence v"
    " WHERE v.visible AND v.asn_nip = %s AND v.verified_at >= (make_date(%s, 1, 1)::timestamp AT TIME ZONE 'Asia/Jakarta')"
    " AND (%s::timestamptz IS NULL OR v.verified_at <= %s) ORDER BY v.verified_at"
)


async def rating_context(conn: Any, task: dict[str, Any]) -> dict[str, Any]:
    """Complaint evidence for an appraiser's RATING task (never the reporter; whistleblowing never reaches this view)."""
    case = await (await conn.execute("SELECT data FROM cases WHERE id = %s", [task["case_id"]])).fetchone()
    year = (case or {}).get("data", {}).get("year")
    until = task.get("closed_at")
    rows = await (await conn.execute(RATING_EVIDENCE_SQL, [task["subject_nip"], int(year), until, until])).fetchall() if year else []
    return {
        "complaint_evidence": rows,
        "complaint_evidence_note": {
            "id": "Pengaduan masyarakat terverifikasi tentang pegawai ini sejak awal tahun penilaian, dengan tanggapan pegawai "
            "bila ada: bahan pertimbangan penilaian perilaku kerja.",
            "en": "Verified public complaints about this employee since the start of the rated year, with the employee's "
            "response if any: material for the work-behaviour rating.",
        },
    }


READERS = {"RATING": rating_context}


async def task_context(conn: Any, task: dict[str, Any]) -> dict[str, Any] | None:
    """The reading material of a task's kind, or None."""
    reader = READERS.get(task["kind"])
    return await reader(conn, task) if reader and task.get("subject_nip") else None
