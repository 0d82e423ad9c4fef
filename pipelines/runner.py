"""Running the pipeline over the landing folder through Dagster, on the instance in DAGSTER_HOME.

Used by `survey-pipeline run` (and so `make run`). A file is new when its (study, name, SHA-256) has no record in
ops.ingested_files; new files run one at a time through the `ingest_file` job, then the `publish` job rebuilds
the public tier once. Everything reported comes from ops.ingested_files, whose messages are value-free.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pipelines.settings import REPO_ROOT, Settings
from pipelines.warehouse.connect import open_read_only

DAGSTER_YAML = REPO_ROOT / ".dagster" / "dagster.yaml"
# the console shows one line per failed file (from ops.ingested_files); the stack traces stay in the run's event log, for
# the UI: Dagster logs step failures at ERROR, so only CRITICAL reaches the terminal
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass
class RunSummary:
    seeded_from: Path | None = None
    new_files: list[str] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    still_failed: list[dict] = field(default_factory=list)  # failed before, unchanged, not retried
    unreadable: list = field(default_factory=list)  # landing entries that could not be read (ingest.landing)
    publish_attempted: bool = False
    published: bool = False

    @property
    def failed(self) -> list[dict]:
        """Files that failed, and files a fault of the machine stopped (not recorded: taken again next time)."""
        return [r for r in self.records if r["status"] in ("failed", "not done")]


def prepare_dagster_home(settings: Settings) -> Path:
    """Point DAGSTER_HOME at the configured folder, giving it the repository's dagster.yaml if it has none."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)  # run records hold only counts, but nobody else needs them
    if not (home / "dagster.yaml").exists() and DAGSTER_YAML.exists():
        shutil.copy(DAGSTER_YAML, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def seed_sample(settings: Settings) -> Path | None:
    """Copy the bundled sample studies into the landing folder when it holds no study yet."""
    landing = settings.landing_dir
    has_study = landing.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in landing.iterdir())
    if has_study or not settings.sample_dir.is_dir():
        return None
    landing.mkdir(parents=True, exist_ok=True)
    for study_dir in sorted(p for p in settings.sample_dir.iterdir() if p.is_dir()):
        shutil.copytree(study_dir, landing / study_dir.name)
    return settings.sample_dir


def _has_ingested_files(conn) -> bool:
    return bool(
        conn.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'ops' AND table_name = 'ingested_files'"
        ).fetchone()[0]
    )


def known_files(warehouse: Path) -> dict[tuple[str, str, str], str]:
    """(study, file name, sha256) -> status, for every file already processed, from the live warehouse."""
    if not warehouse.exists():
        return {}
    with open_read_only(warehouse) as conn:
        if not _has_ingested_files(conn):
            return {}
        rows = conn.execute("SELECT study, file_name, file_sha256, status FROM ops.ingested_files").fetchall()
    return {(study, name, sha): status for study, name, sha, status in rows}


def publish_is_stale(settings: Settings) -> bool:
    """True when files were loaded after the tiers were last released (e.g. a run stopped before publishing)."""
    if not settings.warehouse.exists():
        return False
    with open_read_only(settings.warehouse) as conn:
        exists = _has_ingested_files(conn)
        last_load = (
            conn.execute("SELECT max(processed_at) FROM ops.ingested_files WHERE status = 'loaded'").fetchone()[0]
            if exists
            else None
        )
    if last_load is None:
        return False
    released = [p for p in (settings.research_tier, settings.public_tier) if p.exists()]
    if len(released) < 2:
        return True
    written = min(datetime.fromtimestamp(p.stat().st_mtime, tz=UTC).replace(tzinfo=None) for p in released)
    return written < last_load


def file_records(warehouse: Path, files: list[tuple[str, str, str]]) -> list[dict]:
    if not files or not warehouse.exists():
        return []
    with open_read_only(warehouse) as conn:
        conn.execute("CREATE TEMP TABLE wanted (study VARCHAR, file_name VARCHAR, file_sha256 VARCHAR)")
        conn.executemany("INSERT INTO wanted VALUES (?, ?, ?)", files)
        cursor = conn.execute(
            """SELECT f.study, f.file_name, f.status, f.rows_read, f.rows_accepted, f.rows_quarantined,
                      f.rows_excluded, f.rows_withdrawn, f.error
               FROM ops.ingested_files f JOIN wanted USING (study, file_name, file_sha256)
               ORDER BY f.study, f.file_name"""
        )
        names = [d[0] for d in cursor.description]
        records = [dict(zip(names, row)) for row in cursor.fetchall()]
        by_check: dict[tuple[str, str], list[tuple[str, str, int]]] = {}
        for study, file_name, column, check, n in conn.execute(
            """SELECT q.study, q.file_name, q.column_name, q.check_name, count(DISTINCT q.source_row) AS n
               FROM ops.quarantine q JOIN wanted USING (study, file_name, file_sha256)
               GROUP BY ALL ORDER BY n DESC, q.column_name, q.check_name"""
        ).fetchall():
            by_check.setdefault((study, file_name), []).append((column, check, n))
    for r in records:
        r["quarantined_by"] = by_check.get((r["study"], r["file_name"]), [])
    return records


RUN_TAGS = {"survey/trigger": "survey-pipeline run"}
LIVE = ("STARTING", "STARTED", "CANCELING", "NOT_STARTED")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process with that id
        return True
    return True


def own_run_tags() -> dict[str, str]:
    """Tags on every run this process executes, so a later run can tell when its process has died."""
    return {**RUN_TAGS, "survey/host": socket.gethostname(), "survey/pid": str(os.getpid())}


def release_dead_runs(instance, notify=print) -> list[str]:
    """Mark failed every unfinished run of `survey-pipeline run` on this machine whose process is gone (killed, or
    the machine restarted) and free the pool slots it held, which would otherwise block every later run."""
    import dagster as dg

    statuses = [dg.DagsterRunStatus[name] for name in LIVE]
    released = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=statuses, tags=RUN_TAGS)):
        pid, host = run.tags.get("survey/pid"), run.tags.get("survey/host")
        if host != socket.gethostname() or not (pid or "").isdigit() or _process_alive(int(pid)):
            continue
        instance.report_run_failed(run, message=f"its survey-pipeline process ({pid}) ended without finishing the run")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run.run_id)
        notify(f"Marked run {run.run_id[:8]} ({run.job_name}) failed: its process ({pid}) is gone; freed its slot.")
    return released


def slot_holders(instance, pool: str = "duckdb") -> list[str]:
    """Runs holding the pool's slot now (a run started from the UI, or another `survey-pipeline run`)."""
    info = instance.event_log_storage.get_concurrency_info(pool)
    return sorted({slot.run_id for slot in info.claimed_slots})


def wait_for_slot(instance, notify=print, poll_seconds: float = 1.0) -> None:
    """Return once no run holds the warehouse's slot, saying which run is waited for. The wait is ours, not
    Dagster's, so Ctrl-C stops it; a holder whose process dies meanwhile is released."""
    announced: set[str] = set()
    while True:
        release_dead_runs(instance, notify)
        holders = slot_holders(instance)
        if not holders:
            return
        for holder in sorted(set(holders) - announced):
            run = instance.get_run_by_id(holder)
            job, status = (run.job_name, run.status.value.lower()) if run else ("unknown job", "unknown")
            notify(f"Waiting for run {holder[:8]} ({job}, {status}) to free the warehouse; Ctrl-C to stop.")
            announced.add(holder)
        time.sleep(poll_seconds)


def _failure_description(result) -> str | None:
    """The value-free description our assets gave a failed step (their dg.Failure), if any."""
    for event in result.all_events:
        data = event.step_failure_data if event.is_step_failure else None
        if data is not None and data.user_failure_data is not None and data.user_failure_data.description:
            return data.user_failure_data.description
    return None


@contextmanager
def run_lease(dagster_home: Path, notify=print):
    """One `survey-pipeline run` at a time on an instance: a second one waits, saying for which process, and then
    sees what the first one loaded instead of reading every file again. Ctrl-C stops the wait. The lock is the
    kernel's (flock), so it goes with its process, however that process ends."""
    path = dagster_home / "survey-pipeline-run.lock"
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            notify(
                f"Another survey-pipeline run ({holder}) is processing the landing folder; waiting for it to "
                "finish, then only what it left is done (Ctrl-C to stop)."
            )
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(f"process {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_pipeline(settings: Settings, *, seed: bool = False, retry_failed: bool = False, notify=print) -> RunSummary:
    """Process every new landing file through Dagster, then rebuild the public tier if anything changed; one run
    at a time (run_lease)."""
    prepare_dagster_home(settings)
    with run_lease(settings.dagster_home, notify):
        return _run_pipeline(settings, seed=seed, retry_failed=retry_failed, notify=notify)


def _run_pipeline(settings: Settings, *, seed: bool, retry_failed: bool, notify) -> RunSummary:
    """Dagster is imported only once there is something to do."""
    from pipelines.ingest.fingerprint import file_sha256
    from pipelines.ingest.landing import scan_landing, unreadable

    summary = RunSummary()
    if seed:
        summary.seeded_from = seed_sample(settings)
    prepare_dagster_home(settings)
    done = known_files(settings.warehouse)
    todo = []
    files, summary.unreadable = scan_landing(settings.landing_dir)
    for study, name, path in files:
        try:
            sha = file_sha256(path)
        except OSError as exc:  # this file's problem, named with it; the others go on
            summary.unreadable.append(unreadable(study, name, exc))
            continue
        status = done.get((study, name, sha))
        if status is None or (status == "failed" and retry_failed):
            todo.append((study, name, sha))
        elif status == "failed":
            summary.still_failed.append({"study": study, "file_name": name})
    summary.new_files = [f"{s}/{n}" for s, n, _ in todo]
    if not todo and not publish_is_stale(settings):
        return summary
    from pipelines.privacy.pseudonym import load_or_create_key  # pandas and pandera: only with work to do
    from pipelines.warehouse.load import holds_pseudonyms

    linked = False
    if settings.warehouse.exists():
        with open_read_only(settings.warehouse) as conn:
            linked = holds_pseudonyms(conn)
    import dagster as dg

    from pipelines.definitions import build_definitions
    from pipelines.defs.partitions import landing_files, partition_key
    from pipelines.progress import terminal_progress

    # before any run: the one-line notice of a new key, or a missing key stops everything (PseudonymKeyError)
    load_or_create_key(settings.pseudonym_key_file, warehouse_has_pseudonyms=linked, notify=notify)

    defs = build_definitions(settings)
    ingest = defs.resolve_job_def("ingest_file")
    with dg.DagsterInstance.get() as instance, terminal_progress():
        unrecorded: dict[tuple[str, str], str | None] = {}
        for study, name, _ in todo:
            try:
                key = partition_key(study, name)
            except ValueError as exc:
                summary.records.append({"study": study, "file_name": name, "status": "failed", "error": str(exc)})
                continue
            instance.add_dynamic_partitions(landing_files.name, [key])
            wait_for_slot(instance, notify)
            result = ingest.execute_in_process(
                instance=instance,
                partition_key=key,
                raise_on_error=False,
                run_config=QUIET_RUN_CONFIG,
                tags=own_run_tags(),
            )
            unrecorded[(study, name)] = _failure_description(result)
        records = file_records(settings.warehouse, todo)
        recorded = {(r["study"], r["file_name"]) for r in records + summary.records}
        # a file the run did not record: a fault of the machine (named, the file is taken again next time), or a
        # run that ended before recording it
        summary.records += [
            {
                "study": s,
                "file_name": n,
                "status": "not done",
                "error": unrecorded.get((s, n))
                or f"{n}: the run ended before the file was recorded; see the run in the Dagster UI",
            }
            for s, n, _ in todo
            if (s, n) not in recorded
        ]
        summary.records += records
        if any(r["status"] == "loaded" for r in summary.records) or publish_is_stale(settings):
            summary.publish_attempted = True
            wait_for_slot(instance, notify)
            result = defs.resolve_job_def("publish").execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config=QUIET_RUN_CONFIG,
                tags=own_run_tags(),
            )
            summary.published = result.success
    return summary


def table_counts(path: Path) -> list[tuple[str, int]]:
    if not path.exists():
        return []
    with open_read_only(path) as conn:
        tables = conn.execute("SELECT schema_name || '.' || table_name FROM duckdb_tables() ORDER BY 1").fetchall()
        return [(t, conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for (t,) in tables]
