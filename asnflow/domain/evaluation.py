"""Events of the whole SKP year beyond the spine's minimal evaluation (PermenPANRB 6/2022, SE MenPANRB 3/2023)."""

from __future__ import annotations

from asnflow.domain.events import CaseEvent

# Evaluation case (process "evaluation").


class SkpPeriodOpened(CaseEvent):
    """payload: number, starts, jabatan, jenis_jabatan, unit, appraiser_nip, superior_indicators, checkin_period."""


class SkpPeriodClosed(CaseEvent):
    """payload: number, ends, months, cause (transfer|year_end)."""


class SkpDraftOverdue(CaseEvent):
    """payload: deadline, fallback (true: the appraiser drafts it under the predecessor rule)."""


class LeaderExpectationsRecorded(CaseEvent):
    """payload: expectations (ekspektasi pimpinan), period."""


class EvidenceRecorded(CaseEvent):
    """payload: filename, sha256, size_bytes, note, period (the file stays outside the store; only its hash is kept)."""


class CheckInRecorded(CaseEvent):
    """payload: period, feedback, evidence, periodic_predicate (when rated), hasil_kerja, perilaku_kerja."""


class TransferRecorded(CaseEvent):
    """payload: effective_date, from {jabatan, unit, appraiser_nip}, to {...}, decree."""


class CalibrationJoined(CaseEvent):
    """payload: calibration_case_id (empty when the subject heads the unit: the raw predicate is final)."""


class UnitResultApplied(CaseEvent):
    """payload: unit, org_predicate, hasil_kerja, rules (the unit head's work results follow the unit's predicate)."""


class PredicateCalibrated(CaseEvent):
    """payload: raw, calibrated, adjusted, justification, calibration_case_id, org_predicate."""


class ResultDelivered(CaseEvent):
    """payload: predicate, objection_deadline."""


class ObjectionFiled(CaseEvent):
    """payload: filed_by, to (the appraiser's superior), deadline (the reason is on the envelope)."""


class ObjectionResponded(CaseEvent):
    """payload: explanation, by."""


class ObjectionDecided(CaseEvent):
    """payload: decision (UPHELD|CHANGED), before, after, decided_by (final)."""


class ObjectionWindowClosed(CaseEvent):
    """payload: deadline, predicate."""


class CreditPointsDetermined(CaseEvent):
    """payload: predicate, periods [{jabatan, months, coefficient, points}], points, rules."""


class EvaluationFinalised(CaseEvent):
    """payload: nip, year, unit, raw, calibrated, final, credit_points, objection."""


# Calibration case (process "evaluation_calibration"), one per unit, year and round.


class CalibrationOpened(CaseEvent):
    """payload: unit, year, round, head_nip, leader_nip, rules."""


class OrganisationPredicateSet(CaseEvent):
    """payload: unit, year, predicate, set_by, quota."""


class UnitHeadsInformed(CaseEvent):
    """payload: org_predicate, case_ids (the unit heads' evaluation cases told the unit's predicate)."""


class CalibrationRoundOpened(CaseEvent):
    """payload: round, org_predicate, members [{case_id, nip, raw}], distribution, quota_violations (of the raw predicates)."""


class UnitCalibrated(CaseEvent):
    """payload: unit, year, org_predicate, final {nip: predicate}, adjustments, distribution_before/after, quota_violations, quota_justification."""


class CalibrationResultSent(CaseEvent):
    """payload: case_ids, failed."""


# Season kick-off case (process "evaluation_season").


class SeasonStarted(CaseEvent):
    """payload: year, employees."""


class SeasonCasesStarted(CaseEvent):
    """payload: started, existing, failed, done, total."""


FIRST_SEASON_YEAR = 2022  # PermenPANRB 6/2022: the SKP year as this platform runs it


def season_year_problem(year: int, today_year: int) -> tuple[str, str] | None:
    """Why a season cannot be kicked off for `year` (Indonesian, English), or None.

    A season opens for a past year (backfill), this year, or the next one (BKPSDM prepares planning in
    December); a year further out would start a case for every employee that nobody can act on for years.
    """
    if FIRST_SEASON_YEAR <= year <= today_year + 1:
        return None
    return (
        f"Musim evaluasi hanya untuk tahun {FIRST_SEASON_YEAR} sampai {today_year + 1}",
        f"An evaluation season can only be started for {FIRST_SEASON_YEAR} to {today_year + 1}",
    )
