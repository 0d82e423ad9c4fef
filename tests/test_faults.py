"""Faults of the machine are named as such (which folder, full / not writable / locked) and never recorded against
the file, which is taken again once the fault is fixed; a full disk leaves no staging data behind."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from pipelines.cli import main
from pipelines.ingest.faults import environment_fault
from tests.paths import SAMPLE_DIR

PLACES = {
    "landing_file": Path("/landing/s/export.csv"),
    "staging_dir": Path("/staging"),
    "warehouse": Path("/wh/survey.duckdb"),
}


def test_a_lock_names_the_warehouse_and_the_holding_process_never_the_raw_message():
    exc = duckdb.IOException(
        'IO Error: Could not set lock on file "/wh/survey.duckdb": Conflicting lock is held in '
        "/usr/bin/python3.11 (PID 4242) by user someone. See also https://duckdb.org/docs"
    )
    message = str(environment_fault(exc, **PLACES))
    assert message.startswith("/wh/survey.duckdb: the warehouse is locked by another process (process 4242)")
    assert "someone" not in message and "duckdb.org" not in message


def test_full_and_not_writable_name_the_folder_and_the_export_itself_stays_the_files_problem():
    full = OSError(errno.ENOSPC, "No space left on device", "/staging/s/abc/responses-00000.parquet")
    assert "the disk is full" in str(environment_fault(full, **PLACES))
    read_only = OSError(errno.EROFS, "Read-only file system", "/staging/s")
    assert str(environment_fault(read_only, **PLACES)).startswith("/staging/s: not writable (Read-only file system)")
    unreadable_export = PermissionError(errno.EACCES, "Permission denied", "/landing/s/export.csv")
    assert environment_fault(unreadable_export, **PLACES) is None
    assert environment_fault(ValueError("a bad row"), **PLACES) is None


def test_a_full_disk_stops_the_file_names_the_fault_and_the_next_run_takes_it(workspace, monkeypatch):
    workspace.land(SAMPLE_DIR / "baseline.csv")
    real = pd.DataFrame.to_parquet

    def full_disk(self, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)
    stopped = CliRunner().invoke(main, ["run"])
    assert stopped.exit_code == 1, stopped.output
    assert "NOT DONE microdose_mood/baseline.csv: " in stopped.output and "the disk is full" in stopped.output
    staging = workspace.settings.staging_dir
    assert not staging.exists() or not [p for p in staging.rglob("*") if p.is_file()]  # no partial staging left
    assert workspace.sql("SELECT count(*) FROM ops.ingested_files WHERE status = 'failed'") == [(0,)]

    monkeypatch.setattr(pd.DataFrame, "to_parquet", real)  # space freed
    # the next run takes the file again (no --retry-failed: it was never blamed); its ingest run is enough here
    assert workspace.ingest("microdose_mood/baseline.csv").success
    assert workspace.sql("SELECT status FROM ops.ingested_files") == [("loaded",)]


def test_a_file_that_changes_while_it_is_read_is_not_recorded_and_is_taken_again(workspace, monkeypatch):
    from pipelines.defs import assets

    key = workspace.land(SAMPLE_DIR / "baseline.csv")
    path = workspace.settings.landing_dir / key
    original = path.read_bytes()
    real = assets.process_file

    def appended_meanwhile(*args, **kwargs):  # the export is still being written while the run reads it
        outcome = real(*args, **kwargs)
        with path.open("ab") as fh:
            fh.write(b"\n,,junk appended while the run was reading\n")
        return outcome

    monkeypatch.setattr(assets, "process_file", appended_meanwhile)
    result = workspace.ingest(key)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "changed while it was being read" in failure.step_failure_data.user_failure_data.description
    assert workspace.sql("SELECT count(*) FROM ops.ingested_files") == [(0,)]  # neither loaded nor failed
    assert workspace.sql("SELECT count(*) FROM research.responses") == [(0,)]
    staging = workspace.settings.staging_dir
    assert not [p for p in staging.rglob("*.parquet")] if staging.exists() else True

    monkeypatch.setattr(assets, "process_file", real)
    path.write_bytes(original)  # the valid bytes again
    assert workspace.ingest(key).success
    assert workspace.sql("SELECT status FROM ops.ingested_files") == [("loaded",)]


def mounted_tmpfs(path: Path, size: str, *, read_only: bool = False) -> None:
    """A small tmpfs of our own at `path` (root on Linux, as CI runs); skips, with the reason, where that fails."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0700" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"needs a tmpfs mount for a real full / read-only folder (root on Linux): {done.stderr!r}")


def unmounted(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False)


def run_cli() -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("survey-pipeline")
    return subprocess.run([str(exe), "run"], capture_output=True, text=True, timeout=240)


def test_a_really_full_staging_disk_is_named_and_leaves_nothing_behind(workspace):
    workspace.land(SAMPLE_DIR / "baseline.csv")
    staging = workspace.settings.staging_dir
    mounted_tmpfs(staging, "2m")
    try:
        filler = staging / "someone-elses-file"
        with filler.open("wb") as fh:  # the disk is all but full: a few KB are left
            fh.write(bytes(2040 * 1024))
        stopped = run_cli()
        assert stopped.returncode == 1, stopped.stdout + stopped.stderr
        assert "NOT DONE microdose_mood/baseline.csv: " in stopped.stdout and "the disk is full" in stopped.stdout
        assert [p for p in staging.rglob("*") if p.is_file()] == [filler]  # none of the run's partial files
        assert workspace.sql("SELECT count(*) FROM ops.ingested_files WHERE status = 'failed'") == [(0,)]
        filler.unlink()  # space freed
        # the next run takes the file, without --retry-failed; its ingest run is enough here
        assert workspace.ingest("microdose_mood/baseline.csv").success
    finally:
        unmounted(staging)
    assert workspace.sql("SELECT status FROM ops.ingested_files") == [("loaded",)]


def test_a_really_read_only_staging_folder_is_named_and_the_file_is_not_blamed(workspace):
    workspace.land(SAMPLE_DIR / "baseline.csv")
    staging = workspace.settings.staging_dir
    mounted_tmpfs(staging, "4m", read_only=True)
    try:
        stopped = run_cli()
        assert stopped.returncode == 1, stopped.stdout + stopped.stderr
        assert "NOT DONE microdose_mood/baseline.csv: " in stopped.stdout, stopped.stdout
        assert "not writable" in stopped.stdout, stopped.stdout
        assert not workspace.settings.warehouse.exists() or workspace.sql(
            "SELECT count(*) FROM ops.ingested_files WHERE status = 'failed'"
        ) == [(0,)]
        subprocess.run(["mount", "-o", "remount,rw", str(staging)], check=True)  # the fault fixed
        # the next run takes the file, without --retry-failed; its ingest run is enough here
        assert workspace.ingest("microdose_mood/baseline.csv").success
    finally:
        unmounted(staging)
    assert workspace.sql("SELECT status FROM ops.ingested_files") == [("loaded",)]


def test_a_warehouse_really_held_by_another_process_is_named_and_the_file_is_taken_next_time(workspace):
    assert workspace.ingest(workspace.land(SAMPLE_DIR / "baseline.csv")).success
    workspace.land(SAMPLE_DIR / "followup.csv")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(600)",
            str(workspace.settings.warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        stopped = run_cli()
    finally:
        holder.kill()
        holder.wait()
    said = stopped.stdout + stopped.stderr
    assert stopped.returncode == 1, said
    assert f"in use by another process (process {holder.pid})" in said, said
    assert "Traceback" not in said and "details withheld" not in said, said
    assert workspace.sql("SELECT file_name, status FROM ops.ingested_files") == [("baseline.csv", "loaded")]
    assert workspace.ingest("microdose_mood/followup.csv").success  # the lock gone, the file is taken
