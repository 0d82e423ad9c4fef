"""Scheduled ingestion: every file dropped in the landing folder is picked up once per content.

The sensor never opens DuckDB (a reader would block the writer): it asks the Dagster instance whether the file's
partition was already loaded with the same SHA-256, and uses `<partition>:<sha256>` as the run key, so the same
bytes are never requested twice while a changed file is picked up again.
"""

from pathlib import Path

import dagster as dg

from pipelines.defs.jobs import ingest_file_job, publish_job
from pipelines.defs.partitions import landing_files, partition_key
from pipelines.ingest.fingerprint import file_sha256
from pipelines.settings import load_settings

RESEARCH_KEY = dg.AssetKey(["research", "responses"])


EXPORT_SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx"}


def landing_files_on_disk(landing_dir: Path) -> list[tuple[str, str, Path]]:
    """(study, file name, path) for every export in `<landing>/<study>/`, skipping hidden and non-export files."""
    found = []
    if not landing_dir.is_dir():
        return found
    for study_dir in sorted(p for p in landing_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(study_dir.iterdir()):
            if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in EXPORT_SUFFIXES:
                found.append((study_dir.name, path.name, path))
    return found


def loaded_sha(instance: dg.DagsterInstance, key: str) -> str | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=RESEARCH_KEY, asset_partitions=[key]), limit=1
    ).records
    if not records:
        return None
    meta = records[0].asset_materialization.metadata if records[0].asset_materialization else {}
    value = meta.get("file_sha256")
    return getattr(value, "value", value)


@dg.sensor(job=ingest_file_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def landing_folder_sensor(context: dg.SensorEvaluationContext):
    """Request one ingest run per new or changed file in the landing folder."""
    settings = load_settings()
    requests, new_keys = [], []
    existing = set(context.instance.get_dynamic_partitions(landing_files.name))
    for study, name, path in landing_files_on_disk(settings.landing_dir):
        try:
            key = partition_key(study, name)
        except ValueError as exc:
            context.log.warning(str(exc))
            continue
        sha = file_sha256(path)
        if loaded_sha(context.instance, key) == sha:
            continue
        if key not in existing:
            new_keys.append(key)
        requests.append(dg.RunRequest(run_key=f"{key}:{sha}", partition_key=key))
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[landing_files.build_add_request(new_keys)] if new_keys else [],
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_file_job],
    request_job=publish_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def publish_after_ingest(context: dg.RunStatusSensorContext):
    """Rebuild the public tier after every successful ingestion."""
    return dg.RunRequest(run_key=f"publish-after-{context.dagster_run.run_id}")
