"""Benchmark: the pipeline on one large synthetic export against DuckDB's bare CSV load of the same file.

    .venv/bin/python bench/benchmark.py [--rows 1000000] [--workdir bench/out]

Generates an export of N responses in the sample study's Qualtrics layout, then measures, each in its own child
process so that peak memory (max RSS) is that run's alone:
  * the pipeline: the `ingest_file` and `publish` assets through Dagster, into a fresh warehouse;
  * DuckDB: `CREATE TABLE t AS SELECT * FROM read_csv(file)` on the same file.
Prints both side by side with their ratio. No target is enforced here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure_pipeline(csv_path: Path, workdir: Path) -> dict:
    import dagster as dg

    for name, sub in (
        ("SURVEY_LANDING_DIR", "landing"),
        ("SURVEY_STAGING_DIR", "staging"),
        ("SURVEY_PSEUDONYM_KEY_FILE", "secrets/pseudonym.key"),
        ("SURVEY_WAREHOUSE", "warehouse/survey.duckdb"),
        ("DAGSTER_HOME", "dagster_home"),
    ):
        os.environ[name] = str(workdir / sub)
    (workdir / "dagster_home").mkdir(parents=True)
    shutil.copy(ROOT / ".dagster" / "dagster.yaml", workdir / "dagster_home" / "dagster.yaml")
    landed = workdir / "landing" / "microdose_mood" / "baseline.csv"
    landed.parent.mkdir(parents=True)
    os.link(csv_path, landed) if csv_path.stat().st_dev == landed.parent.stat().st_dev else shutil.copy(
        csv_path, landed
    )

    from pipelines.defs.assets import (
        deidentified_responses,
        public_tables,
        public_tier,
        research_responses,
        research_tier,
    )
    from pipelines.defs.resources import default_resources

    start = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("landing_files", ["microdose_mood/baseline.csv"])
        resources = default_resources()
        quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
        ingest = dg.materialize(
            [deidentified_responses, research_responses],
            partition_key="microdose_mood/baseline.csv",
            instance=instance,
            resources=resources,
            run_config=quiet,
        )
        publish = dg.materialize(
            [research_tier, public_tables, public_tier], instance=instance, resources=resources, run_config=quiet
        )
    seconds = time.perf_counter() - start
    import duckdb

    with duckdb.connect(os.environ["SURVEY_WAREHOUSE"], read_only=True) as conn:
        read, accepted, quarantined, excluded = conn.execute(
            "SELECT rows_read, rows_accepted, rows_quarantined, rows_excluded FROM ops.ingested_files"
        ).fetchone()
    return {
        "seconds": seconds,
        "ok": ingest.success and publish.success,
        "rows_read": read,
        "rows_accepted": accepted,
        "rows_quarantined": quarantined,
        "rows_excluded": excluded,
    }


def measure_duckdb(csv_path: Path, workdir: Path) -> dict:
    import duckdb

    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with duckdb.connect(str(workdir / "bare.duckdb")) as conn:
        conn.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [str(csv_path)])
        rows = conn.execute("SELECT count(*) FROM t").fetchone()[0]
    return {"seconds": time.perf_counter() - start, "ok": True, "rows_read": rows}


def run_child(kind: str, csv_path: Path, workdir: Path) -> dict:
    """Run one measurement in a child process; add its peak RSS from the kernel's accounting."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--measure", kind, "--file", str(csv_path), "--workdir", str(workdir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{kind} measurement failed")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_mib"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--measure", choices=["pipeline", "duckdb"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        func = measure_pipeline if args.measure == "pipeline" else measure_duckdb
        print(json.dumps(func(args.file, args.workdir)))
        return

    from pipelines.sample.generator import write_export

    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    csv_path = args.workdir / f"export_{args.rows}.csv"
    start = time.perf_counter()
    write_export(csv_path, args.rows, seed=args.seed)
    size_mb = csv_path.stat().st_size / 1e6
    print(f"generated {args.rows:,} responses ({size_mb:,.0f} MB) in {time.perf_counter() - start:.1f} s")

    pipeline = run_child("pipeline", csv_path, args.workdir / "pipeline")
    bare = run_child("duckdb", csv_path, args.workdir / "duckdb")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'':28}{'seconds':>10}{'peak MiB':>11}")
    print(f"{'pipeline (Dagster, 2 runs)':28}{pipeline['seconds']:>10.1f}{pipeline['peak_mib']:>11.0f}")
    print(f"{'DuckDB CREATE TABLE AS':28}{bare['seconds']:>10.1f}{bare['peak_mib']:>11.0f}")
    print(
        f"ratio pipeline / DuckDB: time {pipeline['seconds'] / bare['seconds']:.1f}x, "
        f"memory {pipeline['peak_mib'] / bare['peak_mib']:.1f}x"
    )
    print(
        f"pipeline rows: read {pipeline['rows_read']:,} = accepted {pipeline['rows_accepted']:,} + quarantined "
        f"{pipeline['rows_quarantined']:,} + excluded {pipeline['rows_excluded']:,}; ok={pipeline['ok']}"
    )


if __name__ == "__main__":
    main()
