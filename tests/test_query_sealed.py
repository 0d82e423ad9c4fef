"""`survey-pipeline query` reads one tier's file and nothing else: every escape is a clear refusal, never a leak."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pipelines.cli import main
from pipelines.settings import load_settings

KEY_CANARY = "KEY-CANARY-7f3a9c"
EMAIL_CANARY = "canary.participant@example.org"
RESTRICTED_CANARY = "RESTRICTED-CANARY-41d2"


@dataclass
class Tiers:
    root: Path
    warehouse: Path
    research: Path
    public: Path
    key_file: Path
    csv: Path
    parquet: Path


def _build(path: Path, statements: str) -> None:
    """Write a DuckDB file under a neutral name, then move it into place (its catalog name then never equals a schema)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name("building.duckdb")
    with duckdb.connect(str(building)) as conn:
        conn.execute(statements)
    building.rename(path)


@pytest.fixture
def tiers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tiers:
    monkeypatch.setenv("SURVEY_WAREHOUSE", str(tmp_path / "warehouse" / "survey.duckdb"))
    monkeypatch.setenv("SURVEY_RESEARCH_TIER", str(tmp_path / "research" / "research_tier.duckdb"))
    monkeypatch.setenv("SURVEY_PUBLIC_DIR", str(tmp_path / "public"))
    monkeypatch.setenv("SURVEY_PSEUDONYM_KEY_FILE", str(tmp_path / "secrets" / "pseudonym.key"))
    settings = load_settings()  # the files where the command will look for them
    t = Tiers(
        root=tmp_path,
        warehouse=settings.warehouse,
        research=settings.research_tier,
        public=settings.public_tier,
        key_file=settings.pseudonym_key_file,
        csv=tmp_path / "landing" / "raw.csv",
        parquet=tmp_path / "landing" / "raw.parquet",
    )
    _build(
        t.warehouse,
        f"CREATE SCHEMA restricted; CREATE TABLE restricted.identities AS "
        f"SELECT '{EMAIL_CANARY}' AS email, '{RESTRICTED_CANARY}' AS note",
    )
    _build(t.research, "CREATE SCHEMA research; CREATE TABLE research.t AS SELECT 42 AS answer")
    _build(t.public, "CREATE SCHEMA public; CREATE TABLE public.t AS SELECT 7 AS answer, 'ok' AS label")
    t.key_file.parent.mkdir(parents=True)
    t.key_file.write_text(KEY_CANARY + "\n")
    t.csv.parent.mkdir(parents=True)
    t.csv.write_text(f"email,dose_mg\n{EMAIL_CANARY},0.1\n")
    with duckdb.connect() as conn:
        conn.execute(f"COPY (SELECT '{EMAIL_CANARY}' AS email) TO '{t.parquet}' (FORMAT parquet)")
    return t


def _query(*args: str):
    return CliRunner().invoke(main, ["query", *args])


def _assert_no_leak(output: str) -> None:
    for canary in (KEY_CANARY, EMAIL_CANARY, RESTRICTED_CANARY):
        assert canary not in output


def _assert_refused(result, t: Tiers, tier: str = "public") -> None:
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception  # a ClickException, not a traceback
    assert "Traceback" not in result.output
    assert f"refused: the query tool reads only the {tier} tier (" in result.output
    assert f"{(t.public if tier == 'public' else t.research).name})" in result.output
    assert "file functions, ATTACH, COPY, INSTALL/LOAD and configuration changes" in result.output
    _assert_no_leak(result.output)


def test_select_on_public_tier_is_the_default(tiers):
    result = _query("SELECT answer, label FROM public.t")
    assert result.exit_code == 0, result.output
    assert "7" in result.output and "ok" in result.output


def test_select_on_research_tier(tiers):
    result = _query("SELECT answer FROM research.t", "--tier", "research")
    assert result.exit_code == 0, result.output
    assert "42" in result.output


def test_read_only_conveniences_still_work(tiers):
    for sql in (
        "DESCRIBE public.t",
        "SHOW TABLES",
        "SUMMARIZE public.t",
        "FROM public.t",
        "WITH x AS (SELECT answer FROM public.t) SELECT * FROM x",
        "EXPLAIN SELECT * FROM public.t",
    ):
        result = _query(sql)
        assert result.exit_code == 0, (sql, result.output)


def test_live_option_is_gone(tiers):
    result = _query("--live", "SELECT 1")
    assert result.exit_code != 0
    assert "No such option" in result.output and "--live" in result.output


def test_help_names_each_tier_file(tiers):
    result = CliRunner().invoke(main, ["query", "--help"])
    assert result.exit_code == 0
    assert tiers.public.name in result.output and tiers.research.name in result.output
    assert "--live" not in result.output


def _escapes(t: Tiers) -> list[str]:
    return [
        f"SELECT * FROM read_text('{t.key_file}')",
        f"SELECT * FROM read_blob('{t.key_file}')",
        f"SELECT * FROM read_csv('{t.csv}')",
        f"SELECT * FROM read_csv_auto('{t.csv}')",
        f"SELECT * FROM read_csv('{t.key_file}', header=false)",
        f"SELECT * FROM read_parquet('{t.parquet}')",
        f"SELECT * FROM glob('{t.root}/**')",
        f"FROM '{t.csv}'",
        f"SELECT * FROM '{t.parquet}'",
        f"ATTACH '{t.warehouse}' AS w (READ_ONLY)",
        f"ATTACH '{t.warehouse}' AS w; SELECT * FROM w.restricted.identities",
        "ATTACH ':memory:' AS m",
        f"COPY (SELECT * FROM public.t) TO '{t.root}/out.csv'",
        f"COPY public.t FROM '{t.csv}'",
        f"EXPORT DATABASE '{t.root}/export'",
        f"IMPORT DATABASE '{t.root}/export'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "LOAD parquet",  # built in, so DuckDB would allow it: refused by the tool itself
        "SET enable_external_access = true",
        "SET enable_external_access = true; SELECT * FROM read_text('/etc/hostname')",
        "SET lock_configuration = false",
        "RESET lock_configuration",
        "SET memory_limit = '8GB'",
        "SET search_path = 'public'",  # harmless, allowed by DuckDB: refused by the tool itself
        "USE public",
        "SET VARIABLE v = 1",
        "PRAGMA threads = 1",
        "PRAGMA show_tables",  # harmless, allowed by DuckDB: refused by the tool itself
        "PRAGMA enable_profiling",
        "CALL enable_logging()",
        "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
        "CREATE TEMP TABLE tt AS SELECT 1",
        "SELECT 1; SET lock_configuration = false",
        "UPDATE EXTENSIONS",
        f"SELECT * FROM sqlite_scan('{t.warehouse}', 'identities')",
        f"SELECT * FROM query('SELECT * FROM read_text(''{t.key_file}'')')",
    ]


def test_every_escape_is_refused_on_public(tiers):
    for sql in _escapes(tiers):
        result = _query(sql)
        try:
            _assert_refused(result, tiers)
        except AssertionError as exc:
            raise AssertionError(f"{sql!r} was not refused cleanly:\n{result.output}") from exc


def test_every_escape_is_refused_on_research(tiers):
    for sql in _escapes(tiers):
        result = _query(sql, "--tier", "research")
        try:
            _assert_refused(result, tiers, tier="research")
        except AssertionError as exc:
            raise AssertionError(f"{sql!r} was not refused cleanly:\n{result.output}") from exc


def test_escape_cannot_write_a_file(tiers):
    _query(f"COPY (SELECT 1) TO '{tiers.root}/out.csv'")
    _query(f"EXPORT DATABASE '{tiers.root}/export'")
    assert not (tiers.root / "out.csv").exists()
    assert not (tiers.root / "export").exists()


def test_tier_file_is_not_modified(tiers):
    before = tiers.public.read_bytes()
    for sql in (
        "CREATE TABLE public.x AS SELECT 1",
        "INSERT INTO public.t VALUES (1, 'x')",
        "DROP TABLE public.t",
        "CHECKPOINT",
    ):
        assert _query(sql).exit_code != 0
    assert tiers.public.read_bytes() == before


def test_restricted_warehouse_unreachable_from_research(tiers):
    for sql in (
        "SELECT * FROM restricted.identities",
        "SELECT * FROM survey.restricted.identities",
        "SELECT email FROM identities",
    ):
        result = _query(sql, "--tier", "research")
        assert result.exit_code != 0 and "Catalog Error" in result.output, result.output
        _assert_no_leak(result.output)
    attach = _query(f"ATTACH '{tiers.warehouse}' AS survey (READ_ONLY)", "--tier", "research")
    _assert_refused(attach, tiers, tier="research")
    none = _query("SELECT count(*) AS n FROM duckdb_tables() WHERE schema_name = 'restricted'", "--tier", "research")
    assert none.exit_code == 0 and "0" in none.output, none.output
    listed = _query("SELECT database_name, schema_name, table_name FROM duckdb_tables()", "--tier", "research")
    assert listed.exit_code == 0, listed.output
    assert "research" in listed.output and "identities" not in listed.output
    dbs = _query("SELECT path FROM duckdb_databases() WHERE path IS NOT NULL", "--tier", "research")
    assert str(tiers.warehouse) not in dbs.output


def test_plain_sql_error_shows_duckdb_message(tiers):
    unknown = _query("SELECT * FROM public.nope")
    assert unknown.exit_code != 0 and isinstance(unknown.exception, SystemExit)
    assert "Catalog Error" in unknown.output and "nope" in unknown.output
    assert "refused" not in unknown.output and "Traceback" not in unknown.output

    syntax = _query("SELEC 1")
    assert syntax.exit_code != 0
    assert "Parser Error" in syntax.output and "refused" not in syntax.output

    empty = _query("  ")
    assert empty.exit_code != 0 and "no SQL statement" in empty.output


@pytest.mark.parametrize("tier", ["public", "research"])
def test_missing_tier_file(tiers, tier):
    (tiers.public if tier == "public" else tiers.research).unlink()
    result = _query("SELECT 1", "--tier", tier)
    assert result.exit_code != 0
    assert "does not exist yet" in result.output and "survey-pipeline run" in result.output
    assert (tiers.public if tier == "public" else tiers.research).name in result.output
