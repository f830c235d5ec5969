"""Position promotion (Tim Penilai Kinerja) and the JPT pratama open selection on the time-skipping server, with the real store."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from asnflow.activities.directory import employee_case_id, import_employees
from asnflow.activities.eventstore import EventStore, read_case, record
from asnflow.activities.promotion import load_facts
from asnflow.domain import position as pos
from asnflow.domain import promotion as pr
from asnflow.domain.events import GENESIS_HASH, hash_of
from asnflow.domain.kinship import kinship_case_id
from asnflow.domain.nip import make_nip
from asnflow.projections.runner import rebuild
from asnflow.runtime.demo_org import AUDITOR_NIP, KABID_APTIKA_NIP, KEPALA_BKPSDMD_NIP, SEKDA_NIP
from asnflow.runtime.settings import Settings
from asnflow.runtime.worker import build_worker
from asnflow.workflows.contracts import SYSTEM, Actor, CancelTaskInput, NewEvent, RecordInput
from asnflow.workflows.human_tasks import CaseWorkflow
from asnflow.workflows.position import JptSelectionWorkflow, PositionPromotionWorkflow
from asnflow.workflows.position_contracts import (
    PanselMember,
    RegisterInput,
    StartPositionInput,
    StartSelectionInput,
    position_case_id,
    selection_case_id,
)
from tests.support import make_settings, prepare_database
from tests.workflows.test_promotion_workflow import BUPATI, HR1, HR2, decide, opened, refused, save_history

SHA = hashlib.sha256(b"berkas").hexdigest()
TODAY: list[date] = []
SEKDA = Actor(nip=SEKDA_NIP, roles=["PEGAWAI", "KEPALA_OPD", "TIM_PENILAI", "SEKDA"], unit="SETDA")
KABAN = Actor(nip=KEPALA_BKPSDMD_NIP, roles=["PEGAWAI", "KEPALA_OPD", "BKPSDM"], unit="BKPSDMD")
AUDITOR = Actor(nip=AUDITOR_NIP, roles=["PEGAWAI", "AUDITOR"], unit="INSPEKTORAT")
KABID = Actor(nip=KABID_APTIKA_NIP, roles=["PEGAWAI", "ATASAN"], unit="DISKOMINFO")


def years_before(day: date, years: int) -> date:
    return day.replace(year=day.year - years)


def append(store: EventStore, case_id: str, process: str, *events: NewEvent) -> None:
    """Append to a case's sequence at its next version (what the kinship route and an evaluation's close do)."""
    history = read_case(store, case_id)
    record(store, RecordInput(
        case_id=case_id, process=process, expected_version=len(history), previous_hash=history[-1].event.hash if history else GENESIS_HASH,
        workflow_id="", run_id="", occurred_at=datetime.now(UTC).isoformat(), events=list(events),
    ))


def past_predicates(store: EventStore, nip: str, predicates: dict[int, str]) -> None:
    """Completed evaluations of past years as the store holds them (CaseOpened + CaseClosed with the final predicate)."""
    for year, predicate in predicates.items():
        append(store, f"evaluation-{year}-{nip}", "evaluation",
               NewEvent("CaseOpened", {"subject_nip": nip, "unit": "DISKOMINFO", "title": f"SKP {year}", "data": {"year": year}}, SYSTEM.as_event_actor(), ""),
               NewEvent("CaseClosed", {"status": "completed", "outcome": {"predicate": predicate}}, SYSTEM.as_event_actor(), ""))


def person(store: EventStore, *, predicates: tuple[str, str] = ("BAIK", "BAIK"), born: date | None = None, cpns: date = date(2010, 3, 1),
           on: date | None = None, **overrides: Any) -> str:
    """A fictional PNS with two past predicates; by default a pelaksana III/c, S1, five years in post, competency 75."""
    on = on or TODAY[0]
    rng = random.Random(uuid.uuid4().int)
    birth = born or date(1980, 1, 1) + timedelta(days=rng.randrange(3000))
    nip = make_nip(birth, cpns, rng.choice("LP"), rng.randrange(1, 999))
    record_ = {
        "nip": nip, "nama": f"Calon Uji {nip[-4:]}", "jenis_kelamin": "L" if nip[14] == "1" else "P", "tanggal_lahir": birth.isoformat(),
        "golongan": "III/c", "tmt_golongan": "2021-04-01", "jabatan": "Analis Sistem Informasi", "jenis_jabatan": "PELAKSANA", "unit": "DISKOMINFO",
        "atasan_nip": KABID_APTIKA_NIP, "pendidikan": "S1", "tmt_jabatan": years_before(on, 5).isoformat(), "nilai_kompetensi": 75.0,
        "roles": ["PEGAWAI"],
    }
    record_.update(overrides)
    import_employees(store, [record_], SYSTEM, source="test")
    past_predicates(store, nip, {on.year - 2: predicates[0], on.year - 1: predicates[1]})
    return nip


def declare_relative(store: EventStore, nip: str, relative: str, relation: str = "SEPUPU") -> None:
    append(store, kinship_case_id(nip), "directory",
           NewEvent("KinshipDeclared", {"nip": nip, "relative_nip": relative, "relation": relation}, {"nip": nip, "role": "PEGAWAI", "on_behalf_of": None}, ""))


@pytest.fixture(scope="module")
async def time_skipping_env(temporal_test_server: str) -> AsyncIterator[WorkflowEnvironment]:
    """A server of this module's own: "today" is read from its clock, which other modules' skips must not move."""
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=temporal_test_server)
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
async def pos_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory, time_skipping_env: WorkflowEnvironment) -> Settings:
    TODAY[:] = [(await time_skipping_env.get_current_time() + pr.WIB_OFFSET).date()]
    settings = make_settings(database_url, tmp_path_factory.mktemp("position"))
    await asyncio.to_thread(prepare_database, settings)
    return settings


@pytest.fixture(scope="module")
async def people(pos_settings: Settings) -> dict[str, Any]:
    """Candidates for a pengawas post and applicants for a JPT post, projected into the views they are read from."""
    store = EventStore(env=pos_settings.store_env())
    adm = {"jenis_jabatan": "ADMINISTRATOR", "golongan": "IV/a", "jabatan": "Kepala Bidang Uji", "tmt_jabatan": years_before(TODAY[0], 3).isoformat()}
    try:
        made: dict[str, Any] = {
            "star": person(store, predicates=("SANGAT_BAIK", "SANGAT_BAIK"), nilai_kompetensi=85.0),
            "good": person(store),
            "cousin": person(store, nilai_kompetensi=90.0),
            "weak": person(store, nilai_kompetensi=60.0),
            "sanctioned": person(store, nilai_kompetensi=88.0, hukuman_disiplin_jenis="SEDANG",
                                 hukuman_disiplin_mulai=(TODAY[0] - timedelta(days=100)).isoformat(),
                                 hukuman_disiplin_sampai=(TODAY[0] + timedelta(days=200)).isoformat()),
            "applicants": [person(store, **adm) for _ in range(5)],
            "old": person(store, born=years_before(TODAY[0], 57), **adm),
            "jpt_sanctioned": person(store, hukuman_disiplin_jenis="BERAT", hukuman_disiplin_mulai=(TODAY[0] - timedelta(days=10)).isoformat(),
                                     hukuman_disiplin_sampai=(TODAY[0] + timedelta(days=400)).isoformat(), **adm),
        }
        declare_relative(store, KABID_APTIKA_NIP, made["cousin"])  # the Kabid declared the cousin
        declare_relative(store, made["applicants"][4], KABID_APTIKA_NIP, "IPAR")  # an applicant declared the Kabid
    finally:
        store.close()
    await asyncio.to_thread(rebuild, pos_settings.store_env(), "employees")
    await asyncio.to_thread(rebuild, pos_settings.store_env(), "cases")
    return made


@pytest.fixture
async def running(time_skipping_env: WorkflowEnvironment, pos_settings: Settings) -> AsyncIterator[tuple[Client, Settings, EventStore, WorkflowEnvironment]]:
    settings = pos_settings.model_copy(update={"task_queue": f"tq-{uuid.uuid4()}"})
    store = EventStore(env=settings.store_env())
    with ThreadPoolExecutor(8) as executor:
        async with build_worker(time_skipping_env.client, settings, store, executor):
            # Time moves only when a test says so (the registration window); task deadlines never fire on their own.
            with time_skipping_env.auto_time_skipping_disabled():
                yield time_skipping_env.client, settings, store, time_skipping_env
    store.close()


def types(store: EventStore, case_id: str) -> list[str]:
    return [type(s.event).__name__ for s in read_case(store, case_id)]


def payload(store: EventStore, case_id: str, type_name: str) -> dict[str, Any]:
    return next(s.event.payload for s in read_case(store, case_id) if type(s.event).__name__ == type_name)


async def task_ids(store: EventStore, case_id: str, kind: str, n: int) -> list[str]:
    """The ids of the first n tasks of a kind opened in the case (waits for them)."""
    for _ in range(300):
        found = [s.event.payload["task_id"] for s in await asyncio.to_thread(read_case, store, case_id)
                 if type(s.event).__name__ == "TaskOpened" and s.event.payload["kind"] == kind]
        if len(found) >= n:
            return found[:n]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{n} {kind} tasks never opened in {case_id}: {types(store, case_id)}")


def assignee(store: EventStore, task_id: str) -> str | None:
    case_id = task_id.rsplit(".t", 1)[0]
    return next(s.event.payload["assignee_nip"] for s in read_case(store, case_id)
                if type(s.event).__name__ == "TaskOpened" and s.event.payload["task_id"] == task_id)


async def test_pengawas_vacancy_through_the_tim_penilai_to_inauguration(running: tuple, people: dict[str, Any]) -> None:
    client, settings, store, env = running
    on = TODAY[0].isoformat()
    pool_nips = [people[k] for k in ("star", "good", "cousin", "weak", "sanctioned")]
    panel = [SEKDA.nip, KABAN.nip, AUDITOR.nip, KABID.nip]
    case_id = position_case_id("DISKOMINFO", "Kepala Seksi Uji", on)

    # The proposer may not sit on the board: refused at the start, nothing recorded.
    bad_id = position_case_id("DISKOMINFO", "Kepala Seksi Lain", on)
    bad = await client.start_workflow(PositionPromotionWorkflow.run, StartPositionInput(
        case_id=bad_id, jabatan="Kepala Seksi Lain", jenis_jabatan="PENGAWAS", unit="DISKOMINFO", panel=[HR1.nip, *panel[:3]],
        proposed_by=HR1, candidate_nips=pool_nips), id=bad_id, task_queue=settings.task_queue)
    with pytest.raises(WorkflowFailureError) as info:
        await bad.result()
    assert info.value.cause.details[0]["rule"] == "PEMISAHAN_TUGAS" and read_case(store, bad_id) == []  # type: ignore[union-attr]

    handle = await client.start_workflow(PositionPromotionWorkflow.run, StartPositionInput(
        case_id=case_id, jabatan="Kepala Seksi Uji", jenis_jabatan="PENGAWAS", unit="DISKOMINFO", panel=panel, proposed_by=HR1,
        atasan_nip=KABID.nip, candidate_nips=pool_nips), id=case_id, task_queue=settings.task_queue)
    declarations = await task_ids(store, case_id, "POSITION_TPK_DECLARATION", 3)
    pool = payload(store, case_id, "TalentPoolComputed")
    assert [c["nip"] for c in pool["candidates"]] == [people["star"], people["cousin"], people["good"]]  # box 9, then 6 (score 90), then 5
    assert pool["excluded"] == {"HUKUMAN_DISIPLIN": 1, "KOMPETENSI": 1}
    # The Kabid declared the cousin in the registry: recused without a task; the other three declare.
    assert sorted(assignee(store, t) for t in declarations) == sorted(panel[:3])
    by_member = {assignee(store, t): t for t in declarations}
    await refused(handle, by_member[SEKDA.nip], KABAN, "NO_CONFLICT", "Forbidden")  # each declares for themself
    await refused(handle, by_member[AUDITOR.nip], AUDITOR, "CONFLICT", "Invalid", reason="")  # a conflict needs its reason
    for member in panel[:3]:
        await decide(handle, by_member[member], Actor(nip=member, roles=["PEGAWAI"]), "NO_CONFLICT")
    chair_task = (await task_ids(store, case_id, "POSITION_TPK_RECOMMENDATION", 1))[0]
    conflicts = payload(store, case_id, "PanelConflictsDeclared")
    assert conflicts["recused"] == [KABID.nip] and conflicts["sitting"] == panel[:3]
    assert conflicts["members"][3]["relatives"] == [{"nip": people["cousin"], "relation": "SEPUPU"}]
    assert assignee(store, chair_task) == SEKDA.nip
    problem = await refused(handle, chair_task, SEKDA, "RECOMMENDED", "Invalid", {"ranking": [people["weak"]]})
    assert problem["rule"] == "KELOMPOK_TALENTA"  # only the pool may be recommended
    await decide(handle, chair_task, SEKDA, "RECOMMENDED", {"ranking": [people["star"], people["good"]]}, "Sidang 12/TPK")
    ppk = (await task_ids(store, case_id, "POSITION_PPK_DECISION", 1))[0]
    await refused(handle, ppk, BUPATI, "APPOINTED", "Invalid", {"nip": people["cousin"]})  # not recommended
    await refused(handle, ppk, Actor(nip=SEKDA.nip, roles=["BUPATI"]), "APPOINTED", "Forbidden", {"nip": people["star"]})  # a board member
    await decide(handle, ppk, BUPATI, "APPOINTED", {"nip": people["star"]})
    decree = (await task_ids(store, case_id, "POSITION_DECREE", 1))[0]
    await refused(handle, decree, BUPATI, "DECREED", "Invalid", {"sk_nomor": "", "sk_tanggal": on})
    await decide(handle, decree, BUPATI, "DECREED", {"sk_nomor": "821.2/40/BKPSDMD/2026", "sk_tanggal": on})
    inauguration = (await task_ids(store, case_id, "POSITION_INAUGURATION", 1))[0]
    await refused(handle, inauguration, HR2, "INAUGURATED", "Invalid", {"tanggal": on, "berita_acara_nomor": "BA-7", "sumpah": False})
    early = (TODAY[0] - timedelta(days=1)).isoformat()
    await refused(handle, inauguration, HR2, "INAUGURATED", "Invalid", {"tanggal": early, "berita_acara_nomor": "BA-7", "sumpah": True})
    await decide(handle, inauguration, HR2, "INAUGURATED", {"tanggal": on, "berita_acara_nomor": "BA-7/2026", "sumpah": True})

    result = await handle.result()
    assert result.status == "completed" and result.outcome["nip"] == people["star"]
    await save_history(handle, "positionpromotion-inaugurated")
    assert [t for t in types(store, case_id) if not t.startswith("Task")] == [
        "CaseOpened", "PositionVacancyOpened", "TalentPoolComputed", "PanelConflictsDeclared", "PositionCandidatesRecommended",
        "PositionAppointeeChosen", "PositionDecreed", "PositionInaugurated", "PositionApplied", "CaseClosed",
    ]
    events = read_case(store, case_id)
    previous = GENESIS_HASH
    for stored in events:
        assert stored.event.previous_hash == previous and hash_of(stored.event) == stored.event.hash
        previous = stored.event.hash
    decreed = payload(store, case_id, "PositionDecreed")
    pdf = (settings.data_dir / decreed["document"]["path"]).read_bytes()
    assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == decreed["document"]["sha256"]
    last = read_case(store, employee_case_id(people["star"]))[-1].event
    assert last.payload["source_case"] == case_id
    assert last.payload["changes"] == {"jabatan": "Kepala Seksi Uji", "jenis_jabatan": "PENGAWAS", "tmt_jabatan": on}


async def test_inside_an_election_freeze_the_home_minister_approves_before_the_decree(running: tuple, people: dict[str, Any]) -> None:
    client, settings, store, env = running
    on = TODAY[0].isoformat()
    config = settings.data_dir / "config" / "promotion.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"freezes": [{"label": "Uji larangan", "starts": on, "ends": (TODAY[0] + timedelta(days=90)).isoformat()}]}))
    try:
        case_id = position_case_id("DISKOMINFO", "Kepala Seksi Beku", on)
        handle = await client.start_workflow(PositionPromotionWorkflow.run, StartPositionInput(
            case_id=case_id, jabatan="Kepala Seksi Beku", jenis_jabatan="PENGAWAS", unit="DISKOMINFO", panel=[SEKDA.nip, KABAN.nip, AUDITOR.nip],
            proposed_by=HR1, candidate_nips=[people["good"]]), id=case_id, task_queue=settings.task_queue)
        for task in await task_ids(store, case_id, "POSITION_TPK_DECLARATION", 3):
            await decide(handle, task, Actor(nip=assignee(store, task), roles=["PEGAWAI"]), "NO_CONFLICT")
        await decide(handle, (await task_ids(store, case_id, "POSITION_TPK_RECOMMENDATION", 1))[0], SEKDA, "RECOMMENDED", {"ranking": [people["good"]]})
        await decide(handle, (await task_ids(store, case_id, "POSITION_PPK_DECISION", 1))[0], BUPATI, "APPOINTED", {"nip": people["good"]})
        approval = (await task_ids(store, case_id, "POSITION_MENDAGRI_APPROVAL", 1))[0]  # no decree task before it
        await refused(handle, approval, HR2, "APPROVED", "Invalid", {"nomor": "", "tanggal": on})
        await refused(handle, approval, HR2, "REFUSED", "Invalid", reason="")
        await decide(handle, approval, HR2, "REFUSED", reason="Mendagri tidak menyetujui penggantian pejabat")
        result = await handle.result()
    finally:
        config.unlink()
    assert result.status == "rejected" and result.outcome["level"] == "MENDAGRI"
    await save_history(handle, "positionpromotion-freeze-refused")
    kinds = [s.event.payload["kind"] for s in read_case(store, case_id) if type(s.event).__name__ == "TaskOpened"]
    assert "POSITION_DECREE" not in kinds and types(store, case_id)[-2:] == ["PositionRejected", "CaseClosed"]


async def test_a_cancelled_declaration_closes_the_case_and_its_sibling_tasks(running: tuple, people: dict[str, Any]) -> None:
    client, settings, store, env = running
    case_id = position_case_id("DISKOMINFO", "Kepala Seksi Batal", TODAY[0].isoformat())
    handle = await client.start_workflow(PositionPromotionWorkflow.run, StartPositionInput(
        case_id=case_id, jabatan="Kepala Seksi Batal", jenis_jabatan="PENGAWAS", unit="DISKOMINFO", panel=[SEKDA.nip, KABAN.nip, AUDITOR.nip],
        proposed_by=HR1, candidate_nips=[people["good"]]), id=case_id, task_queue=settings.task_queue)
    first, *others = await task_ids(store, case_id, "POSITION_TPK_DECLARATION", 3)
    await handle.execute_update(CaseWorkflow.cancel_task, CancelTaskInput(task_id=first, actor=Actor(nip="199306302020121001", roles=["ADMIN"]),
                                                                          reason="Formasi dibatalkan"))
    result = await handle.result()
    assert result.status == "cancelled"
    await save_history(handle, "positionpromotion-cancelled")
    cancelled = [s.event.payload["task_id"] for s in read_case(store, case_id) if type(s.event).__name__ == "TaskCancelled"]
    assert cancelled == [first, *others] and types(store, case_id)[-1] == "CaseClosed"


async def test_eligibility_facts_carry_the_registry_relatives_and_the_running_sanction(pos_settings: Settings, people: dict[str, Any]) -> None:
    """What rank proposals and position cases judge on: relatives from the kinship view, the sanction and score from the employees view."""
    def read(nip: str) -> pr.Facts:
        with psycopg.connect(pos_settings.database_url, row_factory=dict_row) as conn:
            found = load_facts(conn, None, nip)  # type: ignore[arg-type]
        assert found is not None
        return found[0]
    cousin, sanctioned = await asyncio.to_thread(read, people["cousin"]), await asyncio.to_thread(read, people["sanctioned"])
    assert cousin.relatives == (KABID.nip,) and cousin.kompetensi == 90.0 and cousin.sanction_until is None
    assert sanctioned.sanction_kind == "SEDANG" and sanctioned.sanction_on(TODAY[0])
    period = pr.open_periods(TODAY[0])[0]
    rank = pr.check_eligibility("REGULER", sanctioned, period)
    assert "HUKUMAN_DISIPLIN" in [f.rule for f in rank.failures]


async def register(handle: WorkflowHandle, settings: Settings, nip: str) -> None:
    """What the API does: read the applicant's facts from the views and hand them to the workflow to judge."""
    def read() -> Any:
        with psycopg.connect(settings.database_url, row_factory=dict_row) as conn:
            return load_facts(conn, None, nip)  # type: ignore[arg-type]
    facts, row = await asyncio.to_thread(read)
    await handle.execute_update(JptSelectionWorkflow.register, RegisterInput(
        actor=Actor(nip=nip, roles=["PEGAWAI"]), nip=nip, nama=row["nama"], jabatan=row["jabatan"], unit=row["unit"], facts=facts.to_dict()))


async def register_refused(handle: WorkflowHandle, settings: Settings, nip: str, kind: str) -> list[dict[str, Any]]:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await register(handle, settings, nip)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == kind, cause
    return list(cause.details)


def pansel() -> list[PanselMember]:
    internal = [PanselMember("Hasanuddin", "INTERNAL", "KETUA", SEKDA.nip), PanselMember("Kepala BKPSDMD", "INTERNAL", "ANGGOTA", KABAN.nip),
                PanselMember("Kabid Aptika", "INTERNAL", "ANGGOTA", KABID.nip)]
    return internal + [PanselMember(f"Akademisi {i}", "EKSTERNAL", "ANGGOTA", None, "Universitas Jambi") for i in range(4)]


async def test_jpt_open_selection_from_pansel_to_inauguration(running: tuple, people: dict[str, Any]) -> None:
    client, settings, store, env = running
    applicants: list[str] = people["applicants"]
    case_id = selection_case_id("DPUTR", TODAY[0].isoformat())
    handle = await client.start_workflow(JptSelectionWorkflow.run, StartSelectionInput(
        case_id=case_id, jabatan="Kepala Dinas Pekerjaan Umum dan Penataan Ruang", unit="DPUTR", pansel=pansel(), proposed_by=HR1), id=case_id, task_queue=settings.task_queue)
    t = await opened(store, case_id, 1)
    await refused(handle, t, Actor(nip=SEKDA.nip, roles=["BUPATI"]), "FORMED", "Forbidden", {"sk_nomor": "1", "sk_tanggal": TODAY[0].isoformat()})
    await register_refused(handle, settings, applicants[0], "Conflict")  # not announced yet
    await decide(handle, t, BUPATI, "FORMED", {"sk_nomor": "800/11/2026", "sk_tanggal": TODAY[0].isoformat()})
    t = await opened(store, case_id, 2)
    await decide(handle, t, HR2, "ANNOUNCED", {"nomor": "PENG-01/PANSEL/2026", "tanggal": TODAY[0].isoformat()})
    for _ in range(300):
        if "JptAnnounced" in types(store, case_id):
            break
        await asyncio.sleep(0.05)

    for nip in applicants:
        await register(handle, settings, nip)
    await register_refused(handle, settings, applicants[0], "Conflict")  # once only
    assert [p["rule"] for p in await register_refused(handle, settings, people["old"], "Invalid")] == ["USIA"]
    assert [p["rule"] for p in await register_refused(handle, settings, people["jpt_sanctioned"], "Invalid")] == ["HUKUMAN_DISIPLIN"]
    assert [p["rule"] for p in await register_refused(handle, settings, people["good"], "Invalid")] == ["JABATAN_ASAL"]
    await register_refused(handle, settings, SEKDA.nip, "Forbidden")  # a pansel member may not apply

    await env.sleep(timedelta(days=pos.SELECTION_RULES[pos.SELECTION_RULES_VERSION].registration_days, hours=1))
    declarations = await task_ids(store, case_id, "JPT_PANSEL_DECLARATION", 2)
    assert payload(store, case_id, "JptRegistrationClosed")["applicants"] == applicants
    await register_refused(handle, settings, people["good"], "Conflict")  # the window has closed
    # The Kabid is an applicant's declared relative: recused by the registry; the two others declare.
    assert sorted(assignee(store, t) for t in declarations) == sorted([SEKDA.nip, KABAN.nip])
    for task in declarations:
        member = assignee(store, task)
        await decide(handle, task, Actor(nip=member, roles=["PEGAWAI"]), "NO_CONFLICT")
    checks = await task_ids(store, case_id, "JPT_ADMIN_CHECK", 5)
    conflicts = payload(store, case_id, "PanelConflictsDeclared")
    assert conflicts["recused"] == [KABID.nip] and conflicts["members"][2]["relatives"][0]["nip"] == applicants[4]
    docs = {"documents": [{"code": c, "sha256": SHA} for c in pos.ADMIN_DOCUMENTS]}
    problem = await refused(handle, checks[0], HR2, "PASSED", "Invalid", {"documents": docs["documents"][:-1]})
    assert problem["missing"] == ["PAKTA_INTEGRITAS"]
    for task in checks[:4]:
        await decide(handle, task, HR2, "PASSED", docs)
    await decide(handle, checks[4], HR2, "FAILED", reason="Surat sehat tidak ada")

    passed = applicants[:4]
    stage_scores = {
        "MAKALAH_PRESENTASI": [80, 85, 70, 90], "ASSESSMENT_CENTER": [80, 75, 72, 59.99],
        "REKAM_JEJAK": [90, 80, 70, 90], "WAWANCARA": [85, 78, 71, 90],
    }
    for n, (stage, values) in enumerate(stage_scores.items(), start=1):
        task = (await task_ids(store, case_id, "JPT_ASSESSMENT", n))[-1]
        in_stage = passed if n <= 2 else passed[:3]  # the assessment centre eliminates the fourth
        assert assignee(store, task) == SEKDA.nip  # the chair records the pansel's scores
        if n == 1:
            await refused(handle, task, SEKDA, "SCORED", "Invalid", {"scores": {passed[0]: 80}})
        await decide(handle, task, SEKDA, "SCORED", {"scores": dict(zip(in_stage, values))})
    shortlisted = await _wait_payload(store, case_id, "JptShortlisted")
    assert shortlisted["shortlist"] == passed[:3]
    assert [r["total"] for r in shortlisted["ranking"]] == [82.5, 78.4, 71.1]
    scored = [s.event.payload for s in read_case(store, case_id) if type(s.event).__name__ == "JptStageScored"]
    assert scored[1]["eliminated"] == [passed[3]]  # below the assessment centre's minimum

    pick = (await task_ids(store, case_id, "JPT_PPK_PICK", 1))[0]
    await refused(handle, pick, BUPATI, "PICKED", "Invalid", {"nip": passed[3]})
    await decide(handle, pick, BUPATI, "PICKED", {"nip": passed[0]})
    national = (await task_ids(store, case_id, "JPT_NATIONAL_RECOMMENDATION", 1))[0]
    await decide(handle, national, HR2, "NOT_RECOMMENDED", {"nomor": "B-1/BKN/2026", "tanggal": TODAY[0].isoformat()}, "Rekam jejak")
    pick = (await task_ids(store, case_id, "JPT_PPK_PICK", 2))[-1]
    await refused(handle, pick, BUPATI, "PICKED", "Invalid", {"nip": passed[0]})  # not recommended: out of the choice
    await decide(handle, pick, BUPATI, "PICKED", {"nip": passed[1]})
    national = (await task_ids(store, case_id, "JPT_NATIONAL_RECOMMENDATION", 2))[-1]
    day = (await env.get_current_time() + pr.WIB_OFFSET).date().isoformat()
    await decide(handle, national, HR2, "RECOMMENDED", {"nomor": "B-2/BKN/2026", "tanggal": day})
    decree = (await task_ids(store, case_id, "POSITION_DECREE", 1))[0]
    await decide(handle, decree, BUPATI, "DECREED", {"sk_nomor": "821.2/50/BKPSDMD/2026", "sk_tanggal": day})
    inauguration = (await task_ids(store, case_id, "POSITION_INAUGURATION", 1))[0]
    await decide(handle, inauguration, HR2, "INAUGURATED", {"tanggal": day, "berita_acara_nomor": "BA-9/2026", "sumpah": True})

    result = await handle.result()
    assert result.status == "completed" and result.outcome["nip"] == passed[1]
    await save_history(handle, "jptselection-inaugurated")
    names = [t for t in types(store, case_id) if t.startswith(("Jpt", "Position", "Panel"))]
    assert names == [
        "JptSelectionOpened", "JptPanselFormed", "JptAnnounced", *["JptApplicantRegistered"] * 5, "JptRegistrationClosed",
        "PanelConflictsDeclared", *["JptAdministrativeChecked"] * 5, *["JptStageScored"] * 4, "JptShortlisted",
        "PositionAppointeeChosen", "JptNationalRecommendation", "PositionAppointeeChosen", "JptNationalRecommendation",
        "PositionDecreed", "PositionInaugurated", "PositionApplied",
    ]
    last = read_case(store, employee_case_id(passed[1]))[-1].event
    assert last.payload["changes"]["jenis_jabatan"] == "JPT" and last.payload["record"]["unit"] == "DPUTR"


async def test_selection_with_too_few_applicants_fails_naming_the_rule(running: tuple, people: dict[str, Any]) -> None:
    client, settings, store, env = running
    case_id = selection_case_id("DISDIKBUD", TODAY[0].isoformat())
    handle = await client.start_workflow(JptSelectionWorkflow.run, StartSelectionInput(
        case_id=case_id, jabatan="Kepala Dinas Pendidikan", unit="DISDIKBUD", pansel=pansel(), proposed_by=HR1, registration_days=3),
        id=case_id, task_queue=settings.task_queue)
    await decide(handle, await opened(store, case_id, 1), BUPATI, "FORMED", {"sk_nomor": "800/12/2026", "sk_tanggal": TODAY[0].isoformat()})
    await decide(handle, await opened(store, case_id, 2), HR2, "ANNOUNCED", {"nomor": "PENG-02", "tanggal": TODAY[0].isoformat()})
    await _wait_payload(store, case_id, "JptAnnounced")
    await env.sleep(timedelta(days=3, hours=1))
    result = await handle.result()
    assert result.status == "failed" and result.outcome == {"rule": "PESERTA_KURANG", "stage": "PENDAFTARAN"}
    assert types(store, case_id)[-3:] == ["JptRegistrationClosed", "JptSelectionFailed", "CaseClosed"]


async def _wait_payload(store: EventStore, case_id: str, type_name: str) -> dict[str, Any]:
    for _ in range(300):
        found = [s.event.payload for s in await asyncio.to_thread(read_case, store, case_id) if type(s.event).__name__ == type_name]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{type_name} never recorded in {case_id}")
