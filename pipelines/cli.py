"""`survey-pipeline`: run the pipeline, show what it has seen, open the UI, query the analysts' copy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click

from pipelines.settings import REPO_ROOT, load_settings


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@click.group()
def main() -> None:
    """Microdosing survey pipeline: landing exports to de-identified DuckDB tables."""


@main.command()
@click.option("--seed-sample", is_flag=True, help="Copy the bundled sample study into the landing folder if it holds no study.")
@click.option("--retry-failed", is_flag=True, help="Process again files that failed before, even if unchanged.")
def run(seed_sample: bool, retry_failed: bool) -> None:
    """Process every new file in the landing folder, then rebuild the public tables."""
    from pipelines.runner import run_pipeline, table_counts

    settings = load_settings()
    summary = run_pipeline(settings, seed=seed_sample, retry_failed=retry_failed, notify=click.echo)
    if summary.seeded_from:
        click.echo(f"Copied the bundled sample from {_rel(summary.seeded_from)} into {_rel(settings.landing_dir)}.")
    if not summary.new_files:
        click.echo(f"No new files in {_rel(settings.landing_dir)}: nothing to do, the warehouse is unchanged.")
    else:
        click.echo(f"Processed {len(summary.new_files)} new file(s):")
        for r in summary.records:
            if r["status"] == "failed":
                click.echo(f"  FAILED  {r['study']}/{r['file_name']}: {r['error']}")
            elif r["status"] == "duplicate":
                click.echo(f"  skipped {r['study']}/{r['file_name']}: same content as a file already loaded")
            else:
                click.echo(
                    f"  loaded  {r['study']}/{r['file_name']}: {r['rows_read']} rows read = {r['rows_accepted']} accepted"
                    f" + {r['rows_quarantined']} quarantined + {r['rows_excluded']} excluded"
                )
    counts = table_counts(settings.warehouse)
    if counts:
        click.echo(f"Warehouse {_rel(settings.warehouse)} (analysts' copy: {_rel(settings.analytics_copy)}):")
        for table, n in counts:
            click.echo(f"  {table:38} {n:>9} rows")
        click.echo("Query it:  .venv/bin/survey-pipeline query \"SELECT * FROM public.outcomes_by_protocol_dose\"")
    if summary.failed:
        names = ", ".join(f"{r['study']}/{r['file_name']}" for r in summary.failed)
        click.echo(f"{len(summary.failed)} file(s) failed: {names}", err=True)
        sys.exit(1)


@main.command()
def status() -> None:
    """Files seen in the landing folder, their state and row counts."""
    import duckdb

    from pipelines.defs.sensors import landing_files_on_disk
    from pipelines.ingest.fingerprint import file_sha256

    settings = load_settings()
    records = {}
    if settings.warehouse.exists():
        with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
            try:
                rows = conn.execute(
                    """SELECT study, file_name, file_sha256, status, rows_read, rows_accepted, rows_quarantined,
                              rows_excluded, error FROM ops.ingested_files ORDER BY processed_at"""
                ).fetchall()
            except duckdb.CatalogException:
                rows = []
        records = {(r[0], r[1], r[2]): r[3:] for r in rows}
    on_disk = landing_files_on_disk(settings.landing_dir)
    if not on_disk and not records:
        click.echo(f"No files in {_rel(settings.landing_dir)} and nothing recorded yet.")
        return
    click.echo(f"{'file':44} {'state':10} {'read':>7} {'accepted':>9} {'quarantined':>11} {'excluded':>9}")
    listed = set()
    for study, name, path in on_disk:
        key = (study, name, file_sha256(path))
        listed.add(key)
        state, *counts, error = records.get(key, ("new", None, None, None, None, None))
        _status_line(f"{study}/{name}", state, counts, error)
    for key, (state, *counts, error) in records.items():
        if key not in listed:
            _status_line(f"{key[0]}/{key[1]}", f"{state}*", counts, error)
    if any(k not in listed for k in records):
        click.echo("* no longer in the landing folder (or changed since)")


def _status_line(name: str, state: str, counts: list, error: str | None) -> None:
    shown = ["" if c is None else str(c) for c in counts]
    click.echo(f"{name:44} {state:10} {shown[0]:>7} {shown[1]:>9} {shown[2]:>11} {shown[3]:>9}")
    if error:
        click.echo(f"    {error}")


@main.command()
@click.argument("sql")
@click.option("--live", is_flag=True, help="Query the live warehouse instead of the analysts' copy.")
def query(sql: str, live: bool) -> None:
    """Run SQL read-only against the analysts' copy (analytics.duckdb) and print the result."""
    import duckdb

    settings = load_settings()
    path = settings.warehouse if live else settings.analytics_copy
    if not path.exists():
        raise click.ClickException(f"{_rel(path)} does not exist yet: run `survey-pipeline run` first")
    with duckdb.connect(str(path), read_only=True) as conn:
        conn.sql(sql).show(max_rows=200, max_width=200)


@main.command()
@click.option("--port", default=3000, show_default=True)
def ui(port: int) -> None:
    """Start the Dagster UI on localhost for the instance in DAGSTER_HOME."""
    from pipelines.runner import prepare_dagster_home

    home = prepare_dagster_home(load_settings())
    click.echo(f"Dagster UI on http://127.0.0.1:{port} (instance {_rel(home)}); Ctrl-C to stop.")
    dagster = Path(sys.executable).with_name("dagster")
    cmd = [str(dagster), "dev", "-w", str(REPO_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)]
    sys.exit(subprocess.call(cmd, cwd=REPO_ROOT, env={**os.environ, "DAGSTER_HOME": str(home)}))


if __name__ == "__main__":
    main()
