"""Scheduled ingestion: every file dropped in the landing folder is picked up once per content.

Neither the sensor nor the schedule opens DuckDB (a reader would block the writer): they ask the Dagster instance
whether the file's partition was already loaded with the same SHA-256, and use `<partition>:<sha256>` as the run
key, so the same bytes are never requested twice while a changed file is picked up again. The sensor's cursor keeps
each file's size, modification time and hash, so a tick hashes only files that are new or changed on disk.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from pipelines.defs.assets import deidentified_responses, research_responses
from pipelines.defs.jobs import RELEASE_ASSETS, ingest_file_job
from pipelines.defs.partitions import landing_files, partition_key
from pipelines.defs.resources import SurveyPaths
from pipelines.ingest.fingerprint import file_sha256
from pipelines.ingest.landing import scan_landing, unreadable

RESEARCH_KEY = dg.AssetKey(["research", "responses"])
PUBLIC_KEY = dg.AssetKey(["tiers", "public"])
INGEST_KEYS = [deidentified_responses.key, research_responses.key]


def loaded_sha(instance: dg.DagsterInstance, key: str) -> str | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=RESEARCH_KEY, asset_partitions=[key]), limit=1
    ).records
    if not records:
        return None
    meta = records[0].asset_materialization.metadata if records[0].asset_materialization else {}
    value = meta.get("file_sha256")
    return getattr(value, "value", value)


def unloaded_files(
    instance: dg.DagsterInstance, landing_dir: Path, seen: dict[str, list], log
) -> Iterator[tuple[str, str]]:
    """(partition key, sha256) of each landing file whose bytes are not loaded yet. `seen` maps a partition key to
    [size, mtime_ns, sha256] from the last look and is updated in place; a file unchanged on disk since then is
    skipped without hashing (it was requested then, or was already loaded)."""
    present = set()
    files, problems = scan_landing(landing_dir)
    for problem in problems:
        log.warning(problem.message)
    for study, name, path in files:
        try:
            key = partition_key(study, name)
            stat = path.stat()
        except ValueError as exc:
            log.warning(str(exc))
            continue
        except OSError as exc:
            log.warning(unreadable(study, name, exc).message)
            continue
        present.add(key)
        signature = [stat.st_size, stat.st_mtime_ns]
        before = seen.get(key)
        if before and before[:2] == signature:
            continue
        try:
            sha = file_sha256(path)
        except OSError as exc:
            log.warning(unreadable(study, name, exc).message)
            continue
        seen[key] = [*signature, sha]
        if (before and before[2] == sha) or loaded_sha(instance, key) == sha:
            continue
        yield key, sha
    for gone in set(seen) - present:
        del seen[gone]


@dg.sensor(job=ingest_file_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def landing_folder_sensor(context: dg.SensorEvaluationContext, paths: SurveyPaths):
    """Request one ingest run per new or changed file in the landing folder."""
    seen = json.loads(context.cursor) if context.cursor else {}
    known = set(context.instance.get_dynamic_partitions(landing_files.name))
    pending = list(unloaded_files(context.instance, Path(paths.landing_dir), seen, context.log))
    new_keys = [key for key, _ in pending if key not in known]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"{key}:{sha}", partition_key=key) for key, sha in pending],
        dynamic_partitions_requests=[landing_files.build_add_request(new_keys)] if new_keys else [],
        cursor=json.dumps(seen),
    )


def unreleased_load(instance: dg.DagsterInstance) -> str | None:
    """The run id of the latest load when it came after the last public release (or nothing was released)."""
    loaded = instance.get_latest_materialization_event(RESEARCH_KEY)
    released = instance.get_latest_materialization_event(PUBLIC_KEY)
    if loaded is None or (released is not None and released.timestamp >= loaded.timestamp):
        return None
    return loaded.run_id


def catch_up_schedule(cron: str) -> dg.ScheduleDefinition:
    """The daily safety net: ingest every landing file the sensor missed (it was off, or the UI was not running);
    when none is missing but files were loaded after the last release, rebuild the release. New loads are released
    by declarative automation, so the two never race for the warehouse."""

    @dg.schedule(
        cron_schedule=cron,
        name="daily_catch_up",
        target=dg.AssetSelection.assets(*INGEST_KEYS, *RELEASE_ASSETS),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        execution_timezone="UTC",
    )
    def daily_catch_up(context: dg.ScheduleEvaluationContext, paths: SurveyPaths):
        pending = list(unloaded_files(context.instance, Path(paths.landing_dir), {}, context.log))
        if pending:
            known = set(context.instance.get_dynamic_partitions(landing_files.name))
            new_keys = [key for key, _ in pending if key not in known]
            if new_keys:
                context.instance.add_dynamic_partitions(landing_files.name, new_keys)
            return [
                dg.RunRequest(run_key=f"catch-up:{key}:{sha}", partition_key=key, asset_selection=INGEST_KEYS)
                for key, sha in pending
            ]
        stale = unreleased_load(context.instance)
        if stale is not None:  # keyed by that load, so a failing release is retried once per new load, not daily
            return [dg.RunRequest(run_key=f"rebuild-after-run-{stale}", asset_selection=list(RELEASE_ASSETS))]
        return dg.SkipReason("every landing file is loaded and the release is up to date")

    return daily_catch_up


publish_when_loaded = dg.AutomationConditionSensorDefinition(
    "publish_when_loaded",
    target=dg.AssetSelection.assets(*RELEASE_ASSETS),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Releases the research and public tiers once per burst of newly loaded files (declarative "
    "automation on the release assets).",
)
