"""The bundled sample through the real Dagster assets into a temporary warehouse."""

from __future__ import annotations

import csv
import datetime as dt
import io

import dagster as dg

from pipelines.definitions import defs
from pipelines.warehouse.tables import ALL_TABLES, column_names
from tests.leaks import stored_text, token_scanner
from tests.paths import SAMPLE_DIR

BASELINE = SAMPLE_DIR / "baseline.csv"
FOLLOWUP = SAMPLE_DIR / "followup.csv"
IDENTIFYING = (
    "RecipientEmail",
    "RecipientFirstName",
    "RecipientLastName",
    "IPAddress",
    "LocationLatitude",
    "LocationLongitude",
    "ResponseId",
    "ExternalReference",
)
FREE_TEXT = ("Q7", "Q8_7_TEXT", "Q10_6_TEXT", "Q13")


def column_values(path, columns, *, min_length=4) -> set[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[2:]  # skip the question-text and ImportId rows
    return {row[c].strip() for row in rows for c in columns if len(row[c].strip()) >= min_length}


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)
    assert {job.name for job in defs.jobs} >= {"ingest_file", "publish"}


def test_sample_end_to_end(released_sample):
    workspace, results = released_sample.workspace, released_sample.ingest_results
    files = workspace.sql(
        """SELECT file_name, status, rows_read, rows_accepted, rows_quarantined, rows_excluded,
                  map_keys(excluded_by_reason) FROM ops.ingested_files ORDER BY file_name"""
    )
    assert [f[:2] for f in files] == [("baseline.csv", "loaded"), ("followup.csv", "loaded")]
    for name, _, read, accepted, quarantined, excluded, reasons in files:
        assert read == accepted + quarantined + excluded, name
        assert accepted > 0 and quarantined > 0 and excluded > 0
        assert {"preview", "test_response"} <= set(reasons)
    with (SAMPLE_DIR / "baseline.csv").open(newline="") as fh:
        assert files[0][2] == sum(1 for _ in csv.reader(fh)) - 3

    # every declared table exists with exactly its declared columns, in the live warehouse
    for table in ALL_TABLES:
        cols = [
            r[0]
            for r in workspace.sql(
                "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
                [table.schema, table.name],
            )
        ]
        assert cols == column_names(table), table.qualified
    for needed in ("participant_id", "wave", "age_band", "dose_band", "protocol", "phq9_total", "gad7_total"):
        assert needed in column_names(ALL_TABLES[0])

    # one row per participant and wave; follow-ups ~30 days after baseline
    waves = dict(workspace.sql("SELECT wave, count(*) FROM research.responses GROUP BY wave"))
    assert waves["baseline"] > waves["followup_30d"] > 0
    days = workspace.sql(
        "SELECT min(days_since_baseline), max(days_since_baseline) FROM research.responses WHERE wave = 'followup_30d'"
    )[0]
    assert 20 <= days[0] <= days[1] <= 40
    assert workspace.sql("SELECT DISTINCT days_since_baseline FROM research.responses WHERE wave = 'baseline'") == [
        (0,)
    ]

    # public tier: withheld figures are NULL, published ones rest on at least 11 participants
    small = workspace.sql(
        "SELECT count(*) FROM public.outcomes WHERE suppressed AND (n IS NOT NULL OR mean IS NOT NULL)"
    )
    assert small == [(0,)]
    assert workspace.sql("SELECT min(n) >= 11, count(*) > 10 FROM public.outcomes WHERE NOT suppressed") == [
        (True, True)
    ]

    # the checks ran and reported counts only
    evaluations = [e for r in results for e in r.get_asset_check_evaluations()]
    names = {e.check_name for e in evaluations}
    assert {"rows_reconcile", "rows_valid", "columns_mapped", "one_row_per_participant_wave"} <= names
    assert all(e.passed for e in evaluations if e.check_name == "rows_reconcile")
    valid = [e for e in evaluations if e.check_name == "rows_valid"]
    # the sample quarantines about 1.4 % of its validated rows: under the default 5 % warning share, so it passes,
    # saying so in words, with the counts kept
    assert all(e.passed and e.metadata["severity"].value == "OK" for e in valid)
    assert all(0 < e.metadata["quarantined_share"].value < 0.05 for e in valid)
    words = {"severity", "quarantined_share", "warn_above_share", "error_above_share"}
    assert all(isinstance(v.value, int) for e in valid for k, v in e.metadata.items() if k not in words)
    # every per-file check names the file (partition) it judged
    assert {e.partition for e in evaluations} == {"microdose_mood/baseline.csv", "microdose_mood/followup.csv"}
    labels = {k for e in valid for k in e.metadata}
    assert any(k.startswith("seen but unanswered (-99) · phq9_item") for k in labels)  # kept apart from blanks
    assert any(k.startswith("not shown (blank) · ") for k in labels)

    # three tiers, three files: each holds its own tables only, with its own permissions
    import duckdb

    def tables_in(path):
        with duckdb.connect(str(path), read_only=True) as conn:
            return {
                r[0] for r in conn.execute("SELECT schema_name || '.' || table_name FROM duckdb_tables()").fetchall()
            }

    settings = workspace.settings
    research, public = tables_in(settings.research_tier), tables_in(settings.public_tier)
    assert "research.responses" in research and not any(t.startswith("public.") for t in research)
    assert "ops.response_days" not in research and "ops.withdrawals" not in research
    released = {t.name for t in ALL_TABLES if t.released_in == "public"}
    assert released == {
        "outcomes",
        "change_from_baseline",
        "attrition",
        "dose_distribution",
        "dose_categories",
        "safety_signals",
        "release_method",
    }
    assert public == {f"public.{t}" for t in released} | {"meta.data_dictionary"}
    assert {p.name for p in settings.public_dir.iterdir()} == {
        "public_tier.duckdb",
        *(f"{t}.{ext}" for t in released for ext in ("parquet", "csv")),
    }
    modes = {
        p: oct(p.stat().st_mode & 0o777) for p in (settings.warehouse, settings.research_tier, settings.public_tier)
    }
    assert list(modes.values()) == ["0o600", "0o640", "0o644"]
    assert oct(settings.warehouse.parent.stat().st_mode & 0o777) == "0o700"
    assert oct(settings.staging_dir.stat().st_mode & 0o777) == "0o700"  # staged Parquet is row-level


def test_no_identifier_or_free_text_reaches_warehouse_or_dagster_home(released_sample):
    workspace = released_sample.workspace
    secrets = set()
    for path in (BASELINE, FOLLOWUP):
        secrets |= column_values(path, IDENTIFYING, min_length=3) | column_values(path, FREE_TEXT, min_length=6)
    secrets |= {s.lower() for s in secrets if "@" in s}  # the pipeline lower-cases emails before hashing
    assert len(secrets) > 500
    scan = token_scanner(secrets)
    assert scan(BASELINE.read_bytes() + FOLLOWUP.read_bytes()), "the scan finds the values where they are"

    # the tables' own documentation (column comments, Parquet descriptions) is text we wrote, not data: it is cut
    # out before the scan, exactly, so a word such as "Wilson" (the interval) is not mistaken for a surname
    docs = sorted(
        {t.doc.encode() for t in ALL_TABLES} | {c.doc.encode() for t in ALL_TABLES for c in t.columns},
        key=len,
        reverse=True,
    )

    def found_in(data: bytes) -> list[str]:
        for doc in docs:
            data = data.replace(doc, b"")
        return scan(data)

    for db in (workspace.settings.warehouse, workspace.settings.research_tier, workspace.settings.public_tier):
        leaked = found_in("\n".join(stored_text(db)).encode())
        assert not leaked, f"{len(leaked)} identifying values found in {db.name}"

    # raw bytes of everything Dagster wrote (event log, run storage, compute logs, IO manager pickles)
    home = workspace.settings.dagster_home
    files = [p for p in home.rglob("*") if p.is_file()]
    assert len(files) > 3
    released = [p for p in workspace.settings.public_dir.iterdir()] + [workspace.settings.research_tier]
    for path in files + [workspace.settings.warehouse] + released:
        data = path.read_bytes()
        leaked = found_in(data)
        assert not leaked, f"{len(leaked)} identifying values found in {path}"


def test_same_file_twice_loads_once(sample_workspace):
    workspace = sample_workspace
    before = workspace.sql("SELECT count(*) FROM research.responses")
    again = workspace.ingest(workspace.land(BASELINE, name="baseline_copy.csv"))
    rerun = workspace.ingest("microdose_mood/baseline.csv")
    assert again.success and rerun.success
    assert workspace.sql("SELECT count(*) FROM research.responses") == before
    statuses = dict(workspace.sql("SELECT file_name, status FROM ops.ingested_files"))
    assert statuses == {"baseline.csv": "loaded", "followup.csv": "loaded", "baseline_copy.csv": "duplicate"}


def _records(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _header_then(data: bytes) -> bytes:
    """The follow-up's three header records (question texts hold quoted line breaks), then `data`."""
    with FOLLOWUP.open(newline="", encoding="utf-8") as fh:
        head = list(csv.reader(fh))[:3]
    return _records(head) + data


def _first_data_row() -> bytes:
    with FOLLOWUP.open(newline="", encoding="utf-8") as fh:
        return _records([list(csv.reader(fh))[3]])


def test_corrupt_files_fail_alone(workspace):
    """Each bad file fails on its own, recorded with a value-free message, and leaves the warehouse as it was;
    the good files before and after load. What each reader error says is tested in tests/readers without
    Dagster; here one kind that fails before any row is read, and two that fail in the middle of the file."""
    assert workspace.ingest(workspace.land(BASELINE)).success
    before = workspace.sql("SELECT count(*) FROM research.responses")
    text = FOLLOWUP.read_bytes()
    broken = {
        "followup_binary.csv": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        "followup_cut.csv": (text[: len(text) // 2] + b',"this answer was cut', "quoted field is never closed"),
        "followup_wide.csv": (
            _header_then(_first_data_row().rstrip(b"\n") + b",surplus\n"),
            "more fields than the header",
        ),
    }
    for name, (data, expected) in broken.items():
        result = workspace.ingest(workspace.land_bytes(data, name))
        assert not result.success, name
        ((status, error),) = workspace.sql("SELECT status, error FROM ops.ingested_files WHERE file_name = ?", [name])
        assert status == "failed"
        assert error.startswith(name) and expected in error, error
        for fragment in ("surplus", "this answer was cut", "@"):
            assert fragment not in error
        assert workspace.sql("SELECT count(*) FROM research.responses") == before
        assert workspace.sql("SELECT count(*) FROM ops.quarantine WHERE file_name = ?", [name]) == [(0,)]
    assert workspace.ingest(workspace.land(FOLLOWUP)).success


def test_odd_answers_load_as_unknown_not_as_errors_or_no(workspace):
    """An implausible free-text schedule and an unanswered medication question: the file loads, and both read as
    unknown (never as a schedule, never as "no interacting medication")."""
    with BASELINE.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    col = {name: i for i, name in enumerate(header)}
    data = [
        r
        for r in rows[3:]
        if r[col["Status"]] == "0" and r[col["Finished"]] == "1" and r[col["Q1"]] == "1" and r[col["Q2"]] == "1"
    ][:2]
    data[0][col["Q8"]], data[0][col["Q8_7_TEXT"]] = "7", "1 day on 130 days off"
    data[1][col["Q10"]], data[1][col["Q10_6_TEXT"]] = "-99", ""
    for r in data:
        r[col["Q3"]] = "30"
        for i in range(1, 10):
            r[col[f"Q11_{i}"]] = "1"
        for i in range(1, 8):
            r[col[f"Q12_{i}"]] = "1"
    result = workspace.ingest(workspace.land_bytes(_records(rows[:3] + data), "baseline_odd.csv"))
    assert result.success
    got = workspace.sql(
        "SELECT protocol, days_on, days_off, flag_daily_dosing, medication_classes, flag_lithium "
        "FROM research.responses ORDER BY protocol"
    )
    assert len(got) == 2
    odd_schedule = [g for g in got if g[0] == "other"]
    assert odd_schedule and odd_schedule[0][1:4] == (None, None, None)
    no_answer = [g for g in got if g[4] is None]
    assert no_answer and no_answer[0][5] is None


def test_an_impossible_date_quarantines_its_row_only(workspace):
    with FOLLOWUP.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    col = {name: i for i, name in enumerate(rows[0])}
    ok = [
        i
        for i, r in enumerate(rows)
        if i >= 3 and r[col["Status"]] == "0" and r[col["Finished"]] == "1" and r[col["Q1"]] == r[col["Q2"]] == "1"
    ]
    first, second, third = ok[2], ok[3], ok[4]
    rows[first][col["RecordedDate"]] = "2025-02-30 10:00:00"
    rows[second][col["RecordedDate"]] = "sometime in May"
    rows[third][col["RecordedDate"]] = "2099-01-01 10:00:00"  # would win over every later response of theirs
    result = workspace.ingest(workspace.land_bytes(_records(rows), "followup_dates.csv"))
    assert result.success
    quarantined = workspace.sql(
        "SELECT source_row, column_name, check_name FROM ops.quarantine "
        "WHERE column_name = 'recorded' ORDER BY source_row"
    )
    assert quarantined == [
        (first + 1, "recorded", "date_readable"),
        (second + 1, "recorded", "date_readable"),
        (third + 1, "recorded", "date_not_in_future"),
    ]
    ((read, accepted, q, excluded),) = workspace.sql(
        "SELECT rows_read, rows_accepted, rows_quarantined, rows_excluded FROM ops.ingested_files"
    )
    assert read == accepted + q + excluded and accepted > 150


def _consenting_rows(path):
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    col = {name: i for i, name in enumerate(rows[0])}
    ok = [
        r
        for r in rows[3:]
        if r[col["Status"]] == "0"
        and r[col["Finished"]] == "1"
        and r[col["Q1"]] == r[col["Q2"]] == "1"
        and r[col["Q3"]].isdigit()
        and 18 <= int(r[col["Q3"]]) <= 100
    ]
    return rows[:3], ok, col


def test_withdrawn_consent_removes_the_earlier_response(workspace):
    head, ok, col = _consenting_rows(BASELINE)
    first = [list(r) for r in ok[:3]]
    workspace.ingest(workspace.land_bytes(_records(head + first), "baseline_v1.csv"))
    assert workspace.sql("SELECT count(*) FROM research.responses") == [(3,)]
    later = [list(r) for r in first]
    later[0][col["Q1"]] = "2"  # the cumulative re-export: this participant has withdrawn consent
    later[0][col["RecordedDate"]] = later[0][col["RecordedDate"]].replace("20", "21", 1)  # a year later
    result = workspace.ingest(workspace.land_bytes(_records(head + later), "baseline_v2.csv"))
    assert result.success
    assert workspace.sql("SELECT count(*) FROM research.responses") == [(2,)]
    assert workspace.sql("SELECT rows_withdrawn FROM ops.ingested_files WHERE file_name = 'baseline_v2.csv'") == [(1,)]


def test_an_older_file_loaded_later_does_not_replace_a_newer_response(workspace):
    head, ok, col = _consenting_rows(BASELINE)
    newer = [list(ok[0])]
    older = [list(ok[0])]
    older[0][col["RecordedDate"]] = "2020-01-01 09:00:00"
    older[0][col["Q3"]] = "99"
    workspace.ingest(workspace.land_bytes(_records(head + newer), "baseline_b.csv"))
    workspace.ingest(workspace.land_bytes(_records(head + older), "baseline_a_old.csv"))
    assert workspace.sql("SELECT source_file FROM research.responses") == [("baseline_b.csv",)]
    reasons = workspace.sql("SELECT excluded_by_reason FROM ops.ingested_files WHERE file_name = 'baseline_a_old.csv'")
    assert reasons == [({"superseded_by_newer_response": 1},)]


def test_dates_in_the_future_or_before_the_study_start_are_quarantined_row_by_row():
    import pandas as pd

    from pipelines.ingest.process import _bad_dates
    from pipelines.settings import REPO_ROOT
    from schemas.study_config import load_study

    study = load_study(REPO_ROOT / "schemas" / "studies" / "microdose_mood.yaml")
    study = study.model_copy(update={"study_start": dt.date(2025, 1, 1)})
    now = pd.Timestamp("2026-12-02 12:00:00")
    mapped = pd.DataFrame(
        {"recorded": ["2026-12-02 20:00:00", "2026-12-03 08:00:00", "2024-12-31 23:00:00", "2025-06-01 10:00:00", ""]},
        dtype="string",
    )
    rows = pd.Series(range(4, 9))
    # 20:00 is within the 14 hours that some clock on Earth is ahead of UTC; 08:00 the next day is not
    assert _bad_dates(mapped, study, "f.csv", rows, now) == [
        (1, "date_not_in_future"),
        (2, "date_not_before_study_start"),
    ]
