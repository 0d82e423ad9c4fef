"""Scheduled ingestion and release: the landing sensor requests each file once per content (hashing only what changed
on disk), the daily schedule catches up what it missed, and declarative automation releases once per burst."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import timedelta

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from pipelines.defs import sensors
from pipelines.defs.jobs import RELEASE_ASSETS
from pipelines.defs.resources import SurveyPaths
from pipelines.defs.sensors import landing_folder_sensor
from pipelines.settings import SettingsError
from pipelines.warehouse.tables import RESPONSES, column_names
from tests.paths import SAMPLE_DIR


@pytest.fixture
def dagster_home_kept() -> bool:
    """A schedule's context needs an instance it can reopen, so these tests keep one under DAGSTER_HOME."""
    return True


def released(workspace) -> None:
    """Record the release as materialized, as a publish run would (its own work is tested elsewhere)."""
    for key in RELEASE_ASSETS:
        workspace.instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))


def evaluate(workspace, cursor: str | None = None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=workspace.instance, cursor=cursor, resources=workspace.resources)
    return landing_folder_sensor(context)


def test_new_file_requested_once_then_again_when_changed(workspace):
    key = workspace.land(SAMPLE_DIR / "baseline.csv")
    (workspace.settings.landing_dir / "microdose_mood" / "notes.docx").write_bytes(b"not an export")
    first = evaluate(workspace)
    assert [r.partition_key for r in first.run_requests] == [key]
    assert first.dynamic_partitions_requests[0].partition_keys == [key]
    assert list(json.loads(first.cursor)) == [key]

    workspace.ingest(key)
    assert evaluate(workspace).run_requests == []  # loaded with these bytes: nothing to do

    path = workspace.settings.landing_dir / "microdose_mood" / "baseline.csv"
    path.write_bytes(path.read_bytes() + b"\n")  # a re-export with changed bytes
    again = evaluate(workspace, first.cursor)
    assert [r.partition_key for r in again.run_requests] == [key]
    assert again.run_requests[0].run_key != first.run_requests[0].run_key
    assert again.dynamic_partitions_requests == []  # the partition exists already


def test_the_cursor_spares_hashing_unchanged_files(workspace, monkeypatch):
    workspace.land(SAMPLE_DIR / "baseline.csv")
    first = evaluate(workspace)
    hashed = []
    monkeypatch.setattr(sensors, "file_sha256", lambda path: hashed.append(path.name) or "x" * 64)
    second = evaluate(workspace, first.cursor)
    assert hashed == [] and second.run_requests == []  # unchanged since the last tick: not even hashed
    path = workspace.settings.landing_dir / "microdose_mood" / "baseline.csv"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # touched
    third = evaluate(workspace, second.cursor)
    assert hashed == ["baseline.csv"] and [r.partition_key for r in third.run_requests] == [
        "microdose_mood/baseline.csv"
    ]  # (the fake hash differs from the real one, as changed bytes would)


def test_the_sensor_reads_its_landing_folder_from_the_resource(workspace, tmp_path):
    other = tmp_path / "elsewhere"
    (other / "microdose_mood").mkdir(parents=True)
    (other / "microdose_mood" / "followup.csv").write_bytes((SAMPLE_DIR / "followup.csv").read_bytes())
    paths = SurveyPaths.from_settings(dataclasses.replace(workspace.settings, landing_dir=other))
    context = dg.build_sensor_context(instance=workspace.instance, resources={**workspace.resources, "paths": paths})
    assert [r.partition_key for r in landing_folder_sensor(context).run_requests] == ["microdose_mood/followup.csv"]


def test_the_daily_schedule_catches_up_missed_files_then_rebuilds_a_stale_release(workspace):
    defs = build_definitions(dataclasses.replace(workspace.settings, catch_up_cron="30 2 * * *"))
    schedule = defs.resolve_schedule_def("daily_catch_up")
    assert schedule.cron_schedule == "30 2 * * *"
    key = workspace.land(SAMPLE_DIR / "baseline.csv")

    def tick():
        context = dg.build_schedule_context(
            instance=workspace.instance, resources=workspace.resources, repository_def=defs.get_repository_def()
        )
        return schedule.evaluate_tick(context)

    missed = tick().run_requests
    assert [(r.partition_key, r.asset_selection) for r in missed] == [(key, sensors.INGEST_KEYS)]
    assert key in workspace.instance.get_dynamic_partitions("landing_files")

    assert workspace.ingest(key).success  # loaded, never released: the schedule rebuilds
    rebuild = tick().run_requests
    assert [(r.partition_key, set(r.asset_selection)) for r in rebuild] == [(None, set(RELEASE_ASSETS))]

    released(workspace)
    up_to_date = tick()
    assert up_to_date.run_requests == [] and "up to date" in up_to_date.skip_message


def test_automation_releases_once_after_files_load(workspace):
    defs = build_definitions(workspace.settings)
    first = dg.evaluate_automation_conditions(defs=defs, instance=workspace.instance)
    cursor = first.cursor  # the very first look requests the release once (nothing is released yet)

    assert workspace.ingest(workspace.land(SAMPLE_DIR / "baseline.csv")).success
    after_load = dg.evaluate_automation_conditions(defs=defs, instance=workspace.instance, cursor=cursor)
    requested = {key for key in RELEASE_ASSETS if after_load.get_num_requested(key)}
    assert requested == set(RELEASE_ASSETS)  # one run for the whole release
    assert after_load.total_requested == len(RELEASE_ASSETS)

    released(workspace)
    quiet = dg.evaluate_automation_conditions(defs=defs, instance=workspace.instance, cursor=after_load.cursor)
    assert quiet.total_requested == 0  # released, nothing new


def test_a_bad_schedule_or_freshness_setting_names_its_variable(workspace):
    with pytest.raises(SettingsError, match="SURVEY_CATCH_UP_CRON"):
        build_definitions(dataclasses.replace(workspace.settings, catch_up_cron="every morning"))
    with pytest.raises(SettingsError, match="SURVEY_FRESHNESS_WARN_HOURS"):
        build_definitions(dataclasses.replace(workspace.settings, freshness_warn_hours=48, freshness_fail_hours=24))


def test_public_assets_carry_freshness_and_column_schemas(workspace):
    graph = build_definitions(dataclasses.replace(workspace.settings, freshness_warn_hours=5)).resolve_asset_graph()
    outcomes = graph.get(dg.AssetKey(["public", "outcomes"]))
    assert outcomes.freshness_policy.warn_window.seconds == timedelta(hours=5).seconds
    columns = {c.name: c for c in outcomes.metadata["dagster/column_schema"].columns}
    assert columns["mean"].description and columns["n"].type
    responses = graph.get(dg.AssetKey(["research", "responses"]))
    assert responses.freshness_policy is None
    assert [c.name for c in responses.metadata["dagster/column_schema"].columns] == column_names(RESPONSES)
