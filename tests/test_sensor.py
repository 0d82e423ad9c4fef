"""Scheduled ingestion: the landing sensor requests each file once per content, and again when it changes."""

from __future__ import annotations

import dagster as dg

from pipelines.defs.sensors import landing_folder_sensor
from tests.paths import SAMPLE_DIR


def evaluate(workspace) -> dg.SensorResult:
    return landing_folder_sensor(dg.build_sensor_context(instance=workspace.instance))


def test_new_file_requested_once_then_again_when_changed(workspace):
    key = workspace.land(SAMPLE_DIR / "baseline.csv")
    (workspace.settings.landing_dir / "microdose_mood" / "notes.docx").write_bytes(b"not an export")
    first = evaluate(workspace)
    assert [r.partition_key for r in first.run_requests] == [key]
    assert first.dynamic_partitions_requests[0].partition_keys == [key]

    workspace.ingest(key)
    assert evaluate(workspace).run_requests == []  # loaded with these bytes: nothing to do

    path = workspace.settings.landing_dir / "microdose_mood" / "baseline.csv"
    path.write_bytes(path.read_bytes() + b"\n")  # a re-export with changed bytes
    again = evaluate(workspace)
    assert [r.partition_key for r in again.run_requests] == [key]
    assert again.run_requests[0].run_key != first.run_requests[0].run_key
    assert again.dynamic_partitions_requests == []  # the partition exists already
