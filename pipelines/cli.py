"""`survey-pipeline`: run the pipeline, show what it has seen, open the UI, query the public or research tier."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import duckdb

from pipelines.domain.vocabulary import SUBSTANCES
from pipelines.settings import REPO_ROOT, SettingsError, load_settings
from pipelines.warehouse.connect import WarehouseBusy, open_read_only, open_sealed


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@click.group()
def main() -> None:
    """Microdosing survey pipeline: landing exports to de-identified DuckDB tables."""


@functools.cache
def _sources(studies_dir: Path, study: str) -> dict[str, tuple[str, str]]:
    """A study's mapped fields -> (YAML key, export column), read once per command."""
    from pipelines.ingest.mapping import source_of
    from schemas.study_config import StudyConfigError, load_study

    try:
        return source_of(load_study(studies_dir / f"{study}.yaml"))
    except StudyConfigError:
        return {}


def _echo_quarantine(settings, record: dict, shown: int = 5) -> None:
    """Quarantined rows by check, named by the export's column and the YAML key (no value), under the file's line."""
    if not record.get("quarantined_by"):
        return
    sources = _sources(settings.studies_dir, record["study"])
    for column, check, n in record["quarantined_by"][:shown]:
        where = f"column {sources[column][1]!r} (key `{sources[column][0]}`)" if column in sources else f"`{column}`"
        click.echo(f"          quarantined: {n} row(s) fail {check} at {where}")
    if len(record["quarantined_by"]) > shown:
        click.echo(f"          ... and {len(record['quarantined_by']) - shown} more check(s): see `ops.quarantine`")


@main.command()
@click.option(
    "--seed-sample", is_flag=True, help="Copy the bundled sample study into the landing folder if it holds no study."
)
@click.option("--retry-failed", is_flag=True, help="Process again files that failed before, even if unchanged.")
def run(seed_sample: bool, retry_failed: bool) -> None:
    """Process every new file in the landing folder, then rebuild the public tables."""
    from pipelines.privacy.pseudonym import PseudonymKeyError
    from pipelines.runner import run_pipeline, table_counts

    settings = load_settings()
    try:
        summary = run_pipeline(settings, seed=seed_sample, retry_failed=retry_failed, notify=click.echo)
    except PseudonymKeyError as exc:
        raise click.ClickException(f"{exc} Nothing was processed; the warehouse is unchanged.") from None
    if summary.seeded_from:
        click.echo(f"Copied the bundled sample from {_rel(summary.seeded_from)} into {_rel(settings.landing_dir)}.")
    if not summary.new_files and not summary.publish_attempted:
        click.echo(f"No new files in {_rel(settings.landing_dir)}: nothing to do, the warehouse is unchanged.")
    elif not summary.new_files:
        click.echo("No new files; the public tables were older than the last load and have been rebuilt.")
    else:
        click.echo(f"Processed {len(summary.new_files)} new file(s):")
        for r in summary.records:
            if r["status"] == "failed":
                click.echo(f"  FAILED  {r['study']}/{r['file_name']}: {r['error']}")
            elif r["status"] == "not done":
                click.echo(f"  NOT DONE {r['study']}/{r['file_name']}: {r['error']}")
            elif r["status"] == "duplicate":
                click.echo(f"  skipped {r['study']}/{r['file_name']}: same content as a file already loaded")
            else:
                click.echo(
                    f"  loaded  {r['study']}/{r['file_name']}: {r['rows_read']} rows read = {r['rows_accepted']} accepted"
                    f" + {r['rows_quarantined']} quarantined + {r['rows_excluded']} excluded"
                    + (
                        f"; {r['rows_withdrawn']} earlier response(s) removed (now excluded by a study filter)"
                        if r.get("rows_withdrawn")
                        else ""
                    )
                )
                _echo_quarantine(settings, r)
    counts = table_counts(settings.warehouse)
    if counts:
        click.echo(
            f"Restricted warehouse {_rel(settings.warehouse)} (owner only; research tier: "
            f"{_rel(settings.research_tier)}, public tier: {_rel(settings.public_dir)}/):"
        )
        for table, n in counts:
            click.echo(f"  {table:38} {n:>9} rows")
        click.echo('Query it:  .venv/bin/survey-pipeline query "SELECT * FROM public.outcomes WHERE NOT suppressed"')
        if (settings.reports_dir / "report.html").exists():
            click.echo(f"Report:    {_rel(settings.reports_dir / 'report.html')} (charts from the public tier)")
    if summary.publish_attempted and not summary.published:
        click.echo(
            "Releasing the research and public tiers FAILED (a disclosure check may have blocked it): see the "
            "`publish` run in the Dagster UI",
            err=True,
        )
    if summary.still_failed:
        names = ", ".join(f"{r['study']}/{r['file_name']}" for r in summary.still_failed)
        click.echo(
            f"{len(summary.still_failed)} file(s) failed before and are unchanged: {names} "
            "(see `survey-pipeline status`; fix the file or run with --retry-failed)",
            err=True,
        )
    for problem in summary.unreadable:
        click.echo(f"  NOT READ {problem.message}", err=True)
    if summary.failed:
        names = ", ".join(f"{r['study']}/{r['file_name']}" for r in summary.failed)
        click.echo(f"{len(summary.failed)} file(s) failed: {names}", err=True)
    if (
        summary.failed
        or summary.still_failed
        or summary.unreadable
        or (summary.publish_attempted and not summary.published)
    ):
        sys.exit(1)


@main.command()
def status() -> None:
    """Files seen in the landing folder, their state and row counts."""
    import duckdb

    from pipelines.ingest.fingerprint import file_sha256
    from pipelines.ingest.landing import scan_landing, unreadable

    settings = load_settings()
    records = {}
    if settings.warehouse.exists():
        with open_read_only(settings.warehouse) as conn:
            try:
                rows = conn.execute(
                    """SELECT study, file_name, file_sha256, status, rows_read, rows_accepted, rows_quarantined,
                              rows_excluded, error FROM ops.ingested_files ORDER BY processed_at"""
                ).fetchall()
            except duckdb.CatalogException:
                rows = []
        records = {(r[0], r[1], r[2]): r[3:] for r in rows}
    on_disk, problems = scan_landing(settings.landing_dir)
    if not on_disk and not records and not problems:
        click.echo(f"No files in {_rel(settings.landing_dir)} and nothing recorded yet.")
        return
    click.echo(f"{'file':44} {'state':10} {'read':>7} {'accepted':>9} {'quarantined':>11} {'excluded':>9}")
    listed = set()
    for study, name, path in on_disk:
        try:
            key = (study, name, file_sha256(path))
        except OSError as exc:
            problems.append(unreadable(study, name, exc))
            continue
        listed.add(key)
        state, *counts, error = records.get(key, ("new", None, None, None, None, None))
        _status_line(f"{study}/{name}", state, counts, error)
    for key, (state, *counts, error) in records.items():
        if key not in listed:
            _status_line(f"{key[0]}/{key[1]}", f"{state}*", counts, error)
    for problem in problems:
        _status_line(f"{problem.study}/{problem.file_name}", "not read", [None] * 4, problem.reason)
    if any(k not in listed for k in records):
        click.echo("* no longer in the landing folder (or changed since)")


def _status_line(name: str, state: str, counts: list, error: str | None) -> None:
    shown = ["" if c is None else str(c) for c in counts]
    click.echo(f"{name:44} {state:10} {shown[0]:>7} {shown[1]:>9} {shown[2]:>11} {shown[3]:>9}")
    if error:
        click.echo(f"    {error}")


# Statement kinds the query tool runs: reads only. DESCRIBE, SHOW, SUMMARIZE, FROM-first and WITH are SELECTs to
# DuckDB; PIVOT is a MULTI. Everything else (SET/RESET/USE/PRAGMA, INSTALL/LOAD, ATTACH/DETACH, COPY, EXPORT/IMPORT
# DATABASE, CALL, CREATE/INSERT/...) is refused before it runs, even the kinds the sealed connection would refuse too.
_READ_STATEMENTS = ("SELECT", "EXPLAIN", "MULTI")

# What DuckDB says when the sealed connection stops an escape (no file system / extensions / config changes).
_SEAL_MESSAGES = ("disabled by configuration", "disabled through configuration", "configuration has been locked")


def _refused(tier: str, path: Path) -> click.ClickException:
    return click.ClickException(
        f"refused: the query tool reads only the {tier} tier ({_rel(path)}); only read queries (SELECT, FROM, WITH, "
        "DESCRIBE, SHOW, SUMMARIZE, EXPLAIN, PIVOT) run, and file functions, ATTACH, COPY, INSTALL/LOAD and "
        "configuration changes (SET, RESET, PRAGMA) are disabled"
    )


def _check_statements(conn, sql: str, tier: str, path: Path) -> None:
    """Parse without running; refuse anything that is not a read. A parse error is the user's own SQL: shown as is."""
    try:
        kinds = [statement.type.name for statement in conn.extract_statements(sql)]
    except duckdb.ParserException as exc:
        raise click.ClickException(str(exc)) from None
    except (ValueError, duckdb.Error):
        # a statement kind this DuckDB's Python API cannot even name (e.g. UPDATE EXTENSIONS): not a read
        raise _refused(tier, path) from None
    if not kinds:
        raise click.ClickException("no SQL statement given")
    if any(kind not in _READ_STATEMENTS for kind in kinds):
        raise _refused(tier, path)


@main.command()
@click.argument("sql")
@click.option(
    "--tier",
    type=click.Choice(["public", "research"]),
    default="public",
    show_default=True,
    help="public = the public tier, public_tier.duckdb in SURVEY_PUBLIC_DIR (default "
    "data/public/public_tier.duckdb); research = the research tier, the file SURVEY_RESEARCH_TIER names "
    "(default data/research/research_tier.duckdb). The restricted live warehouse is never queryable "
    "from this tool.",
)
def query(sql: str, tier: str) -> None:
    """Run read-only SQL against one tier's DuckDB file (sealed: no files, ATTACH, COPY, extensions or SET)."""
    settings = load_settings()
    path = settings.public_tier if tier == "public" else settings.research_tier
    if not path.exists():
        raise click.ClickException(
            f"the {tier} tier ({_rel(path)}) does not exist yet: run `survey-pipeline run` first"
        )
    try:
        conn = open_sealed(path)
    except WarehouseBusy as exc:
        raise click.ClickException(str(exc)) from None
    with conn:
        _check_statements(conn, sql, tier, path)
        try:
            relation = conn.sql(sql)
            if relation is not None:
                relation.show(max_rows=200, max_width=200)
        except duckdb.PermissionException:
            raise _refused(tier, path) from None
        except duckdb.Error as exc:
            message = str(exc)
            if any(m in message for m in _SEAL_MESSAGES):
                raise _refused(tier, path) from None
            # the user's own SQL went wrong (syntax, unknown table/column): DuckDB's message, no traceback
            raise click.ClickException(message) from None


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--dictionary",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="REDCap data dictionary CSV, for a REDCap export.",
)
@click.option("--format", "fmt", default=None, help="Skip detection and read the file as this format.")
@click.option("--study", default=None, help="Study name for the draft mapping (default: from the file name).")
@click.option(
    "--draft",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the draft mapping YAML (default: ./<study>.draft.yaml).",
)
def inspect(file: Path, dictionary: Path | None, fmt: str | None, study: str | None, draft: Path | None) -> None:
    """Detect an export's format and profile its columns (never values); write a draft study mapping."""
    import re

    from pipelines.readers import ExportReadError
    from pipelines.readers.inspect import draft_mapping_yaml, inspect_export, render_profile

    try:
        profile = inspect_export(file, dictionary_path=dictionary, format=fmt)
    except ExportReadError as exc:
        hint = ""
        if fmt is None and "matches no known export format" in str(exc):
            # ODK Briefcase, LimeSurvey's "R data file" CSV, SurveyMonkey, Google Forms, an app's CSV: no signature
            hint = (
                f"\nA plain CSV or XLSX with one header row (ODK, LimeSurvey R export, SurveyMonkey, Google Forms, an "
                f"app's export) has no signature to detect: try `survey-pipeline inspect {file.name} --format generic`."
            )
        raise click.ClickException(str(exc) + hint) from None
    click.echo(render_profile(profile))
    name = study or re.sub(r"[^a-z0-9_]+", "_", file.stem.lower()).strip("_") or "my_study"
    if not name[0].isalpha():
        name = f"study_{name}"
    target = draft or Path.cwd() / f"{name}.draft.yaml"  # never beside the export: the landing folder is for data
    target.write_text(draft_mapping_yaml(profile, name), encoding="utf-8")
    click.echo(f"Draft mapping written to {_rel(target)}: review it, then save it as schemas/studies/{name}.yaml")


@main.command()
@click.argument("study", required=False)
def check(study: str | None) -> None:
    """Try a study mapping (or every one) on the exports in its landing folder, loading nothing: every problem
    at once, by YAML key and column. Exit status 1 if any mapping or file has an error."""
    from pipelines.ingest.check import check_study, render, studies_to_check

    settings = load_settings()
    names = studies_to_check(settings, study)
    if not names:
        raise click.ClickException(f"no study mappings in {_rel(settings.studies_dir)}")
    if study and not (settings.studies_dir / f"{study}.yaml").exists():
        raise click.ClickException(f"no study mapping {_rel(settings.studies_dir / f'{study}.yaml')}")
    failed = False
    for name in names:
        report = check_study(settings, name)
        click.echo("\n".join(render(report, settings.landing_dir)))
        failed |= not report.ok
    if failed:
        sys.exit(1)


_out_option = click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output CSV for --file (default: <file>.parsed.csv).",
)


def _write_review_file(in_file: Path, out: Path | None, write) -> None:
    """`--file` of parse-dose and parse-protocol: write the annotated copy, say where and how many of each."""
    from pipelines.domain.review_csv import ReviewFileError

    target = out or in_file.with_name(in_file.stem + ".parsed.csv")
    try:
        counts = write(in_file, target)
    except ReviewFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Wrote {_rel(target)}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@main.command("parse-dose")
@click.argument("text", required=False)
@click.option(
    "--substance",
    type=click.Choice(SUBSTANCES),
    help="Substance of the dose TEXT.",
)
@click.option(
    "--file",
    "in_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV with columns `substance` and `text`: writes it back with the parse results added.",
)
@_out_option
@click.option("--tab-strength-ug", type=float, default=100.0, show_default=True, help="Micrograms in one LSD tab.")
@click.option("--study", default=None, help="Use this study's dose bands and tab strength.")
def parse_dose(
    text: str | None,
    substance: str | None,
    in_file: Path | None,
    out: Path | None,
    tab_strength_ug: float,
    study: str | None,
) -> None:
    """Normalise a free-text dose (or a CSV of them) to amount, unit, status, reason and band."""
    import json

    from pipelines.domain.review_csv import dose_result_json, parse_dose_file
    from schemas.study_config import load_study

    bands = None
    if study:
        config = load_study(load_settings().studies_dir / f"{study}.yaml")
        bands, tab_strength_ug = config.dose.bands, config.dose.tab_strength_ug
    if in_file:
        _write_review_file(
            in_file, out, lambda src, dst: parse_dose_file(src, dst, tab_strength_ug=tab_strength_ug, bands=bands)
        )
        return
    if text is None or substance is None:
        raise click.UsageError("give --substance and a dose TEXT, or --file CSV")
    click.echo(json.dumps(dose_result_json(substance, text, tab_strength_ug=tab_strength_ug, bands=bands), indent=2))


@main.command("parse-protocol")
@click.argument("text", required=False)
@click.option(
    "--file",
    "in_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV with a column `text` of schedule answers: writes it back with the parse results added.",
)
@_out_option
def parse_protocol(text: str | None, in_file: Path | None, out: Path | None) -> None:
    """Read a free-text dosing schedule ("every 3rd day", or a CSV of them) as a canonical protocol with its days."""
    import json

    from pipelines.domain.review_csv import parse_protocol_file, protocol_result_json

    if in_file:
        _write_review_file(in_file, out, parse_protocol_file)
        return
    if text is None:
        raise click.UsageError("give a schedule TEXT, or --file CSV")
    click.echo(json.dumps(protocol_result_json(text), indent=2))


@main.command()
@click.option("--port", default=3000, show_default=True, help="Port of the web UI on 127.0.0.1.")
def ui(port: int) -> None:
    """Start the Dagster UI and its daemon (sensors, schedule, automation) on localhost, for the instance in
    DAGSTER_HOME. Ctrl-C or SIGTERM stops it, with every process it started."""
    from pipelines.runner import prepare_dagster_home

    home = prepare_dagster_home(load_settings())
    click.echo(f"Dagster UI on http://127.0.0.1:{port} (instance {_rel(home)}); Ctrl-C to stop.")
    dagster = Path(sys.executable).with_name("dagster")
    cmd = [str(dagster), "dev", "-w", str(REPO_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(
        cmd, cwd=REPO_ROOT, env={**os.environ, "DAGSTER_HOME": str(home)}, start_new_session=True
    )
    code = _supervise(process)
    click.echo("Dagster UI stopped.")
    sys.exit(code)


def _supervise(process: subprocess.Popen, grace: float = 20.0) -> int:
    """Wait for `process`; on SIGINT or SIGTERM stop its whole process group, then kill what is left after `grace`
    seconds. (`dagster dev` started without a terminal ignores signals in part of its tree, and a webserver or
    daemon left behind keeps the port and the instance.)"""
    stop_at: list[float] = []

    def stop(signum, frame) -> None:
        if not stop_at:
            stop_at.append(time.monotonic() + grace)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                code = process.wait(timeout=1)
                break
            except subprocess.TimeoutExpired:
                if stop_at and time.monotonic() > stop_at[0]:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        with contextlib.suppress(ProcessLookupError):  # children that outlived dagster dev
            os.killpg(process.pid, signal.SIGKILL)
    return 0 if stop_at else code


def run_cli() -> None:
    """Entry point: a busy warehouse or a bad setting is a message, not a traceback."""
    try:
        main()
    except (WarehouseBusy, SettingsError) as exc:
        raise SystemExit(f"Error: {exc}") from None
    except KeyboardInterrupt:
        # a run stops between files or while waiting for the warehouse; each file's load is one transaction
        raise SystemExit("Stopped (Ctrl-C). Files already loaded stay loaded; run again to go on.") from None


if __name__ == "__main__":
    run_cli()
