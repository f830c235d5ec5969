"""A selection round of N applicants: registration file, scripted administrative verification, SKD import and cut-off, SKB import and ranking.

Usage: asnflow bench selection [--applicants 25000]   (or: python bench/selection.py --applicants N)
Starts an embedded PostgreSQL and a Temporal dev server in a temporary folder (or uses --database-url /
--temporal-address), runs the worker as its own process, drives the round through the same Updates the API
sends, and prints `name: value` lines; `seconds:` (SKD import + cut-off + SKB import + ranking) comes last.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from _services import bench_services  # noqa: E402 - the shared helpers of bench/
from evaluation import PeakRss, spawn, stop  # noqa: E402

STAFF_NIP = "199104122019032001"
VACANCIES = 10
PER_FORMATION = 250  # ~25 applicants per vacancy, as in Batanghari 2024 (2,538 for ~100 posts)


def formations(n: int) -> list[dict[str, Any]]:
    """One formation per 250 applicants; every tenth a disability-track twin of the one before."""
    out = []
    for i in range(max(1, n // PER_FORMATION)):
        track = "DISABILITAS" if i % 10 == 9 else "UMUM"
        base = i - 1 if track != "UMUM" else i
        out.append({"code": f"F{i:04d}", "jabatan": f"Jabatan {base % 40}", "education": "S1", "unit": ("RSUD-HAMBA", "DISDIKBUD", "DPUTR")[base % 3],
                    "vacancies": VACANCIES if track == "UMUM" else 1, "track": track})
    return out


def files(n: int, forms: list[dict[str, Any]], seed: int = 20241128) -> tuple[bytes, list[str], bytes]:
    """The registration file and BKN's SKD file (3 % absent from the test)."""
    rnd = random.Random(seed)
    regs = [f"2415{i:08d}" for i in range(n)]
    lines = ["no_peserta,nama,formasi,jalur,tanggal_lahir,ipk"]
    for i, reg in enumerate(regs):
        f = forms[i % len(forms)]
        born = date(1990, 1, 1) + timedelta(days=rnd.randrange(4000))
        lines.append(f"{reg},Pelamar {i},{f['code']},{f['track']},{born.isoformat()},{rnd.randint(275, 400) / 100:.2f}")
    skd = ["no_peserta,twk,tiu,tkp"]
    for reg in regs:
        if rnd.random() < 0.03:
            continue  # absent from the SKD
        skd.append(f"{reg},{5 * rnd.randint(8, 30)},{5 * rnd.randint(10, 35)},{rnd.randint(130, 225)}")
    return "\n".join(lines).encode(), regs, "\n".join(skd).encode()


async def run_bench(n: int, database_url: str | None, temporal_address: str | None, echo: Any = print) -> dict[str, Any]:
    from asnflow.activities.eventstore import EventStore, read_case
    from asnflow.activities.selection import stage_file
    from asnflow.activities.temporal_client import connect_temporal
    from asnflow.runtime.cli import _prepare_store
    from asnflow.runtime.settings import Settings, ensure_store_key
    from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
    from temporalio.service import RPCError

    from asnflow.workflows.contracts import ERR_CONFLICT, Actor, DecisionInput
    from asnflow.workflows.human_tasks import CaseWorkflow
    from asnflow.workflows.selection import SelectionWorkflow
    from asnflow.workflows.selection_contracts import AnnounceInput, FileInput, SelectionSchedule, StartSelectionInput, application_case_id

    procs: list[subprocess.Popen[bytes]] = []
    figures: dict[str, Any] = {"applicants": n}
    with bench_services("af-bench-sel-", database_url, temporal_address) as (root, database_url, temporal_address, _):
        try:
            queue = f"bench-sel-{uuid.uuid4().hex[:6]}"
            key = ensure_store_key(root / "keys" / "event-store.key")
            settings = Settings(database_url=database_url, temporal_address=temporal_address, data_dir=root, task_queue=queue, store_key_file=key)
            _prepare_store(settings)
            env = {"ASNFLOW_DATABASE_URL": database_url, "ASNFLOW_TEMPORAL_ADDRESS": temporal_address, "ASNFLOW_TASK_QUEUE": queue,
                   "ASNFLOW_DATA_DIR": str(root), "ASNFLOW_STORE_KEY_FILE": str(key), "PYTHONUNBUFFERED": "1",
                   # Temporal's sandbox executes the workflow modules afresh for every case it loads: without .pyc files
                   # (PYTHONDONTWRITEBYTECODE=1 over a source checkout) each load compiles them again, which was 36 % of
                   # the worker's time here. An installed wheel ships its .pyc; the bench lets the worker write them.
                   "PYTHONDONTWRITEBYTECODE": ""}
            worker = spawn([sys.executable, "-m", "asnflow.runtime.cli", "worker"], env, root / "worker.log")
            procs.append(worker)
            rss = PeakRss(worker.pid)
            client = await connect_temporal(settings)
            staff = Actor(nip=STAFF_NIP, roles=["BKPSDM"], unit="BKPSDMD")
            forms = formations(n)
            registration, regs, skd = files(n, forms)
            figures["formations"] = len(forms)

            def staged(stage: str, content: bytes) -> str:
                with psycopg.connect(database_url, autocommit=True) as conn:
                    return stage_file(conn, case_id, stage, content, STAFF_NIP)

            case_id = f"selection-2024-bench-{uuid.uuid4().hex[:6]}"
            window = 20 + n / 1500  # seconds: long enough to take the registration file in
            handle = await client.start_workflow(
                SelectionWorkflow.run,
                StartSelectionInput(case_id=case_id, year=2024, kind="CPNS", title="Bench", formations=forms, started_by=staff,
                                    schedule=SelectionSchedule(registration_days=window / 86400, objection_days=3 / 86400, drh_days=1)),
                id=case_id, task_queue=queue,
            )
            t0 = time.perf_counter()
            await handle.execute_update(SelectionWorkflow.register_applicants, FileInput(staff, await asyncio.to_thread(staged, "REGISTRATION", registration)))
            figures["registration_import_s"] = time.perf_counter() - t0
            echo(f"registration_import_s: {figures['registration_import_s']:.2f}")

            # Scripted administrative verification: every applicant case's pool task, decided as the API would.
            t0 = time.perf_counter()
            rnd = random.Random(7)
            sem = asyncio.Semaphore(32)

            async def verify(reg: str) -> None:
                child = application_case_id(case_id, reg)
                tms = rnd.random() < 0.2
                async with sem:
                    for _ in range(2000):
                        try:
                            await client.get_workflow_handle(child).execute_update(
                                CaseWorkflow.decide,
                                DecisionInput(task_id=f"{child}.t1", actor=staff, outcome="TMS" if tms else "MS", reason="Syarat tidak lengkap" if tms else ""),
                            )
                            return
                        except WorkflowUpdateFailedError as exc:
                            if getattr(exc.cause, "type", None) == ERR_CONFLICT:
                                return  # an earlier attempt was decided although its answer was lost
                            await asyncio.sleep(0.5)  # its task is not open yet
                        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
                            # Not started yet, or an earlier attempt went through and the case has since closed.
                            try:
                                if (await client.get_workflow_handle(child).describe()).status != WorkflowExecutionStatus.RUNNING:
                                    return
                            except RPCError:
                                pass
                            await asyncio.sleep(0.5)
                    raise RuntimeError(f"{child} never opened its task")

            await asyncio.gather(*(verify(r) for r in regs))
            while True:
                try:
                    await handle.execute_update(SelectionWorkflow.announce_administrative, AnnounceInput(staff))
                    break
                except Exception:  # noqa: BLE001 - the last applicant cases are still recording their results
                    await asyncio.sleep(0.5)
            figures["verification_s"] = time.perf_counter() - t0
            echo(f"verification_s: {figures['verification_s']:.1f}  (applicant cases started, verified, announced)")
            while await handle.query(SelectionWorkflow.phase) != "skd":
                await asyncio.sleep(0.2)

            # BKN tests only those announced MS (after the objections): the file holds no one else.
            store = EventStore(env=settings.store_env())
            try:
                announced = [s.event.payload for s in read_case(store, case_id) if type(s.event).__name__ == "AdministrativeResultAnnounced"][-1]
            finally:
                store.close()
            ms = {r for r, v in announced["results"].items() if v == "MS"}
            lines = skd.split(b"\n")
            skd = b"\n".join([lines[0], *(line for line in lines[1:] if line.split(b",")[0].decode() in ms)])
            t0 = time.perf_counter()
            res = await handle.execute_update(SelectionWorkflow.import_scores, FileInput(staff, await asyncio.to_thread(staged, "SKD", skd), "SKD"))
            figures["skd_import_and_cut_off_s"] = time.perf_counter() - t0
            cut = res.summary["cut_off"]
            figures["skd_rows"], figures["skb_participants"] = res.summary["rows"], cut["skb_participants"]
            store = EventStore(env=settings.store_env())
            try:
                participants = next(s.event.payload["skb_participants"] for s in read_case(store, case_id) if type(s.event).__name__ == "SkdCutOffDetermined")
            finally:
                store.close()
            skb_rnd = random.Random(11)
            skb = "\n".join(["no_peserta,nilai_skb", *(f"{r},{skb_rnd.randint(40, 100)}" for regs_ in participants.values() for r in regs_)]).encode()
            t0 = time.perf_counter()
            res = await handle.execute_update(SelectionWorkflow.import_scores, FileInput(staff, await asyncio.to_thread(staged, "SKB", skb), "SKB"))
            figures["skb_import_and_ranking_s"] = time.perf_counter() - t0
            figures["final"] = res.summary["final"]
            figures["seconds"] = figures["skd_import_and_cut_off_s"] + figures["skb_import_and_ranking_s"]
            figures["worker_peak_rss_mb"] = rss.stop() / 2**20
            with psycopg.connect(database_url) as conn:
                figures["largest_event_mb"] = conn.execute("SELECT max(length(state)) FROM asnflow_events").fetchone()[0] / 2**20  # type: ignore[index]
            history = await handle.fetch_history()
            figures["round_history_events"] = len(history.events)
            await handle.terminate("bench done")
            return figures
        finally:
            for proc in reversed(procs):
                stop(proc)


def run_steps(n: int, database_url: str | None, echo: Any = print) -> dict[str, Any]:
    """The headline's steps without Temporal: the round's bulk activity on the real store, as its two Updates call it.

    For a machine where N scripted applicant cases cannot run in the time (the dev server carried ~5 cases/s
    here): the applicant cases' verification is appended straight into their cases (the events each case
    records), then SKD import + cut-off and SKB import + ranking run through SelectionActivities.build exactly as
    the round's Updates run them. What this leaves out is the Updates' own round trips (constant in N: history
    carries hashes and counts only)."""
    import resource
    from datetime import datetime, timezone

    from asnflow.activities.eventstore import EventStore, build_events, read_case, record
    from asnflow.activities.selection import SelectionActivities, stage_file
    from asnflow.domain import selection as sel
    from asnflow.domain.events import GENESIS_HASH
    from asnflow.runtime.cli import _prepare_store
    from asnflow.runtime.settings import Settings, ensure_store_key
    from asnflow.workflows.contracts import Actor, NewEvent, RecordInput
    from asnflow.workflows.selection_contracts import BuildInput, application_case_id

    figures: dict[str, Any] = {"applicants": n, "mode": "steps"}
    with bench_services("af-bench-sel-", database_url, "unused:0") as (root, database_url, _, _):
        key = ensure_store_key(root / "keys" / "event-store.key")
        settings = Settings(database_url=database_url, temporal_address="unused:0", data_dir=root, store_key_file=key)
        _prepare_store(settings)
        store = EventStore(env=settings.store_env())
        try:
            acts = SelectionActivities(store, database_url, settings.default_tenant)
            actor = Actor(nip=STAFF_NIP, roles=["BKPSDM"], unit="BKPSDMD").as_event_actor()
            forms = formations(n)
            registration, regs, skd = files(n, forms)
            figures["formations"] = len(forms)
            case_id = f"selection-2024-bench-{uuid.uuid4().hex[:6]}"
            now = datetime.now(timezone.utc).isoformat()
            cur: Any = record(store, RecordInput(
                case_id=case_id, process=sel.PROCESS, expected_version=0, previous_hash=GENESIS_HASH, workflow_id=case_id, run_id="bench",
                occurred_at=now, events=[NewEvent("SelectionAnnounced", {"year": 2024, "kind": sel.CPNS, "rules": "CPNS-2024", "formations": forms}, actor)],
            ))

            def staged(stage: str, content: bytes) -> str:
                with psycopg.connect(database_url, autocommit=True) as conn:
                    return stage_file(conn, case_id, stage, content, STAFF_NIP)

            def step(name: str, **kw: Any) -> Any:
                nonlocal cur
                cur = acts.build(BuildInput(case_id=case_id, process=sel.PROCESS, expected_version=cur.version, previous_hash=cur.last_hash,
                                            workflow_id=case_id, run_id="bench", occurred_at=now, actor=actor, step=name, **kw))
                return cur

            t0 = time.perf_counter()
            step("REGISTER", file_sha256=staged("REGISTRATION", registration))
            figures["registration_import_s"] = time.perf_counter() - t0
            echo(f"registration_import_s: {figures['registration_import_s']:.2f}")
            # What each applicant case records from submission to its decision, appended 500 cases at a time.
            t0 = time.perf_counter()
            rnd = random.Random(7)
            for i in range(0, n, 500):
                batch = []
                for reg in regs[i:i + 500]:
                    child = application_case_id(case_id, reg)
                    result = "TMS" if rnd.random() < 0.2 else "MS"
                    events, _ = build_events(RecordInput(
                        case_id=child, process=sel.PROCESS, expected_version=0, previous_hash=GENESIS_HASH, workflow_id=child, run_id="bench",
                        occurred_at=now, events=[NewEvent("ApplicationSubmitted", {"reg_no": reg, "selection_case_id": case_id}, actor),
                                                 NewEvent("ApplicationVerified", {"reg_no": reg, "result": result, "verified_by": STAFF_NIP}, actor)]))
                    batch.extend(events)
                store.save(*batch)
            step("ADMIN_RESULT", round=1)
            figures["verification_s"] = time.perf_counter() - t0
            echo(f"verification_s: {figures['verification_s']:.1f}  (appended straight into the applicant cases, announced)")
            announced = [s.event.payload for s in read_case(store, case_id) if type(s.event).__name__ == "AdministrativeResultAnnounced"][-1]
            ms = {r for r, v in announced["results"].items() if v == "MS"}
            lines = skd.split(b"\n")
            skd = b"\n".join([lines[0], *(line for line in lines[1:] if line.split(b",")[0].decode() in ms)])
            # The headline: what the SKD Update runs (import, cut-off), then what the SKB Update runs (import, ranking).
            t0 = time.perf_counter()
            imported = step("IMPORT", file_sha256=staged("SKD", skd), stage="SKD")
            cut = step("CUT_OFF")
            figures["skd_import_and_cut_off_s"] = time.perf_counter() - t0
            figures["skd_rows"], figures["skb_participants"] = imported.summary["rows"], cut.summary["skb_participants"]
            participants = next(s.event.payload["skb_participants"] for s in read_case(store, case_id) if type(s.event).__name__ == "SkdCutOffDetermined")
            skb_rnd = random.Random(11)
            skb = "\n".join(["no_peserta,nilai_skb", *(f"{r},{skb_rnd.randint(40, 100)}" for regs_ in participants.values() for r in regs_)]).encode()
            t0 = time.perf_counter()
            step("IMPORT", file_sha256=staged("SKB", skb), stage="SKB")
            ranked = step("RANK")
            figures["skb_import_and_ranking_s"] = time.perf_counter() - t0
            figures["final"] = ranked.summary
            figures["seconds"] = figures["skd_import_and_cut_off_s"] + figures["skb_import_and_ranking_s"]
            figures["worker_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # this process ran the activities
            with psycopg.connect(database_url) as conn:
                figures["largest_event_mb"] = conn.execute("SELECT max(length(state)) FROM asnflow_events").fetchone()[0] / 2**20  # type: ignore[index]
                figures["staged_left"] = conn.execute("SELECT count(*) FROM public.selection_files").fetchone()[0]  # type: ignore[index]
            figures["round_history_events"] = 0  # no Temporal here
            return figures
        finally:
            store.close()


def report(f: dict[str, Any], echo: Any = print) -> None:
    echo(f"applicants: {f['applicants']}  formations: {f['formations']}")
    echo(f"skd_rows: {f['skd_rows']}  skb_participants: {f['skb_participants']}")
    echo(f"final: {f['final']['counts']}  optimisation moves: {f['final']['moves']}")
    echo(f"skd_import_and_cut_off_s: {f['skd_import_and_cut_off_s']:.2f}")
    echo(f"skb_import_and_ranking_s: {f['skb_import_and_ranking_s']:.2f}")
    echo(f"per_applicant_ms: {1000 * f['seconds'] / f['applicants']:.3f}  (import + ranking)")
    if f.get("mode") == "steps":
        echo(f"mode: steps without Temporal (activities in this process)  staged files left: {f['staged_left']}")
    echo(f"largest_event_mb: {f['largest_event_mb']:.2f}  round_history_events: {f['round_history_events']}")
    echo(f"worker_peak_rss_mb: {f['worker_peak_rss_mb']:.0f}")
    echo(f"seconds: {f['seconds']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--applicants", type=int, default=25_000)
    parser.add_argument("--database-url")
    parser.add_argument("--temporal-address")
    parser.add_argument("--steps-only", action="store_true", help="the headline's steps on the real store without Temporal (see run_steps)")
    args = parser.parse_args()
    if args.steps_only:
        report(run_steps(args.applicants, args.database_url))
    else:
        report(asyncio.run(run_bench(args.applicants, args.database_url, args.temporal_address)))


if __name__ == "__main__":
    main()
