"""kill -9 of a real `survey-pipeline run` at several points (reading, loading, publishing): the next `run` finishes
on its own within a bounded time, leaves no staging behind, and the warehouse it leaves is the one an
uninterrupted run leaves (the session's released sample, loaded and published without a kill).

The bundled sample is read in 50-row chunks, so that reading lasts long enough to be caught in the act."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.conftest import SAMPLE_KEY, _environment
from tests.paths import SAMPLE_DIR, STUDY

RERUN_TIMEOUT = 240
# what depends on when a run happened, not on what it loaded
VOLATILE = ("loaded_at", "ingested_at", "processed_at", "published_at", "created_at", "run_id", "duration")


def prepared(root: Path) -> dict[str, str]:
    env = {**os.environ, **_environment(root), "SURVEY_CHUNK_ROWS": "50"}
    landing = Path(env["SURVEY_LANDING_DIR"]) / STUDY
    landing.mkdir(parents=True)
    for name in ("baseline.csv", "followup.csv"):
        shutil.copy(SAMPLE_DIR / name, landing / name)
    key = Path(env["SURVEY_PSEUDONYM_KEY_FILE"])
    key.parent.mkdir(parents=True)
    key.write_text(SAMPLE_KEY + "\n")
    return env


def start_run(env: dict[str, str]) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("survey-pipeline")
    return subprocess.Popen(
        [str(exe), "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    """Every table's rows, sorted, without the columns that say when."""
    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        tables = conn.execute("SELECT schema_name, table_name FROM duckdb_tables() ORDER BY 1, 2").fetchall()
        for schema, table in tables:
            columns = [
                c
                for (c,) in conn.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
                    "AND data_type NOT LIKE 'TIMESTAMP%' ORDER BY column_index",
                    [schema, table],
                ).fetchall()
                if not any(v in c for v in VOLATILE)
            ]
            listed = ", ".join(f'"{c}"' for c in columns)
            rows = conn.execute(f'SELECT {listed} FROM "{schema}"."{table}"').fetchall()
            # a parallel sum's last bits depend on the order the threads add in
            rows = [tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in rows]
            out[f"{schema}.{table}"] = sorted(rows, key=repr)
    return out


def staged_files(env: dict[str, str]) -> list[Path]:
    staging = Path(env["SURVEY_STAGING_DIR"])
    return [p for p in staging.rglob("*") if p.is_file()] if staging.exists() else []


def steps_started(env: dict[str, str]) -> tuple[set[str], set[str]]:
    """(steps started, steps finished) over every Dagster run in this instance so far."""
    started, finished = set(), set()
    os.environ["DAGSTER_HOME"], previous = env["DAGSTER_HOME"], os.environ.get("DAGSTER_HOME")
    try:
        with dg.DagsterInstance.get() as instance:
            for run in instance.get_runs():
                for record in instance.all_logs(run.run_id):
                    event = record.dagster_event
                    if event is None or event.step_key is None:
                        continue
                    if event.event_type == dg.DagsterEventType.STEP_START:
                        started.add(event.step_key)
                    elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                        finished.add(event.step_key)
    finally:
        if previous is not None:
            os.environ["DAGSTER_HOME"] = previous
    return started, finished


def reading(env) -> bool:
    return any(p.name.startswith("responses-") for p in staged_files(env))


def loading(env) -> bool:
    started, finished = steps_started(env)
    return any("research__responses" in s and s not in finished for s in started)


def publishing(env) -> bool:
    started, finished = steps_started(env)
    return any(("public" in s or "research_tier" in s) and s not in finished for s in started)


@pytest.fixture
def uninterrupted(released_sample) -> dict[str, list[tuple]]:
    return snapshot(released_sample.workspace.settings.warehouse)


def test_runs_killed_mid_read_mid_load_and_mid_publish_are_finished_by_the_next(tmp_path, uninterrupted):
    """One chain, each kill a real one: the first run dies reading, the run after it dies loading, the one after
    that dies publishing; the last finishes alone."""
    env = prepared(tmp_path)
    for point in (reading, loading, publishing):
        run = start_run(env)
        deadline = time.monotonic() + RERUN_TIMEOUT
        while not point(env):
            assert run.poll() is None, f"the run ended before {point.__name__}: {run.communicate()[0]}"
            assert time.monotonic() < deadline, f"never saw {point.__name__}"
            time.sleep(0.05)
        os.killpg(run.pid, signal.SIGKILL)  # the whole process group, as a reboot or the OOM killer would
        run.wait()
        assert run.returncode == -signal.SIGKILL

    last = start_run(env)
    output, _ = last.communicate(timeout=RERUN_TIMEOUT)  # bounded: it must not wait for a dead run's slot
    assert last.returncode == 0, output
    assert "failed: its process" in output and "freed its slot" in output, output
    assert staged_files(env) == []
    assert snapshot(Path(env["SURVEY_WAREHOUSE"])) == uninterrupted
