"""A `survey-pipeline run` that died (kill -9, a reboot) leaves its Dagster run STARTED holding the one `duckdb`
slot; the next run marks it failed, frees the slot and goes on. A run blocked by a live holder says which run it
waits for and stops on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest

from pipelines.runner import RUN_TAGS
from tests.paths import SAMPLE_DIR


@pytest.fixture
def dagster_home_kept() -> bool:
    return True  # the CLI's runs and the stuck run share the instance under DAGSTER_HOME


def stuck_run(instance: dg.DagsterInstance, pid: int) -> str:
    """A run as a killed `survey-pipeline run` leaves it: STARTED, tagged with its process, holding the slot."""
    run_id = str(uuid.uuid4())
    tags = {**RUN_TAGS, "survey/host": socket.gethostname(), "survey/pid": str(pid)}
    instance.add_run(
        dg.DagsterRun(job_name="ingest_file", run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags=tags)
    )
    instance.event_log_storage.initialize_concurrency_limit_to_default("duckdb")  # 1, from dagster.yaml
    claim = instance.event_log_storage.claim_concurrency_slot("duckdb", run_id, "deidentified_responses")
    assert claim.is_claimed
    return run_id


def gone_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def cli(*args: str) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("survey-pipeline")
    return subprocess.Popen([str(exe), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_dead_runs_slot_is_freed_and_the_next_run_goes_on(workspace):
    run_id = stuck_run(workspace.instance, gone_pid())
    workspace.land_bytes(b"\x00\x01binary\x00", "corrupt.csv")  # fails fast: the run got the slot and went on
    process = cli("run")
    output, _ = process.communicate(timeout=240)
    assert f"Marked run {run_id[:8]} (ingest_file) failed" in output and "freed its slot" in output
    assert "FAILED  microdose_mood/corrupt.csv: corrupt.csv" in output, output
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.event_log_storage.get_concurrency_info("duckdb").claimed_slots == []


def test_a_run_waiting_for_a_live_holder_says_so_and_stops_on_ctrl_c(workspace):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        run_id = stuck_run(workspace.instance, holder.pid)  # alive: it may be a real run, so it is never reaped
        workspace.land(SAMPLE_DIR / "baseline.csv")
        process = cli("run")
        seen, deadline = [], time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            seen.append(line)
            if "Waiting for run" in line:
                break
        assert f"Waiting for run {run_id[:8]} (ingest_file, started)" in "".join(seen), "".join(seen)
        time.sleep(2)  # into Dagster's wait for the slot
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
        assert process.returncode != 0
    finally:
        holder.kill()
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED  # a live holder is left alone
    assert os.path.exists(workspace.settings.landing_dir / "microdose_mood" / "baseline.csv")


def test_a_second_run_waits_for_the_first_and_then_does_only_what_is_left(workspace):
    import fcntl

    from pipelines.runner import prepare_dagster_home, run_lease

    home = prepare_dagster_home(workspace.settings)
    workspace.land_bytes(b"\x00\x01binary\x00", "corrupt.csv")
    with run_lease(home):  # as a first `survey-pipeline run` in progress holds it
        process = cli("run")
        line = process.stdout.readline()
        assert line.startswith(f"Another survey-pipeline run (process {os.getpid()}) is processing"), line
        time.sleep(1)
        assert process.poll() is None  # still waiting
    output, _ = process.communicate(timeout=120)
    assert "FAILED  microdose_mood/corrupt.csv" in output, output  # it went on once the lease was free
    with (home / "survey-pipeline-run.lock").open() as fh:  # and let go of it when it ended
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
