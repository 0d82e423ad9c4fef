"""`survey-pipeline run` as a researcher uses it: seeds the sample once, loads it, and a second run does nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import duckdb
from click.testing import CliRunner

from pipelines.cli import main


def test_run_twice_then_status_then_recover_an_interrupted_release(workspace, monkeypatch, tmp_path):
    quoted = tmp_path / "o'brien" / "survey.duckdb"  # a quote in the path must not break loading or publishing
    monkeypatch.setenv("SURVEY_WAREHOUSE", str(quoted))
    sample = tmp_path / "sample"
    (sample / "microdose_mood").mkdir(parents=True)
    from tests.paths import SAMPLE_DIR

    for f in SAMPLE_DIR.iterdir():
        (sample / "microdose_mood" / f.name).write_bytes(f.read_bytes())
    monkeypatch.setenv("SURVEY_SAMPLE_DIR", str(sample))
    runner = CliRunner()

    first = runner.invoke(main, ["run", "--seed-sample"])
    assert first.exit_code == 0, first.output
    assert "Created pseudonymisation key" in first.output
    assert "Processed 2 new file(s)" in first.output
    assert "loaded  microdose_mood/baseline.csv: 305 rows read = " in first.output
    # why rows were quarantined, by check and the export's column (the sample has out-of-range ages): no value
    assert (
        "quarantined: 2 row(s) fail age_whole_years_18_to_100 at column 'Q3' (key `fields.age.column`)" in first.output
    )
    assert "public.outcomes" in first.output and "survey-pipeline query" in first.output

    second = runner.invoke(main, ["run", "--seed-sample"])
    assert second.exit_code == 0
    assert "nothing to do, the warehouse is unchanged" in second.output
    assert "Copied the bundled sample" not in second.output

    status = runner.invoke(main, ["status"])
    assert "microdose_mood/baseline.csv" in status.output and "loaded" in status.output

    query = runner.invoke(main, ["query", "--tier", "research", "SELECT count(*) AS n FROM research.responses"])
    assert query.exit_code == 0, query.output
    released = int(re.search(r"│\s+(\d+)\s+│", query.output).group(1))
    with duckdb.connect(str(quoted), read_only=True) as conn:
        loaded = conn.execute("SELECT count(*) FROM research.responses").fetchone()[0]
    assert 0.95 * loaded <= released <= loaded  # k-anonymity withholds or leaves out at most 5 %

    copy = quoted.parent.parent / "research" / "research_tier.duckdb"  # the tiers sit beside the warehouse folder
    copy.unlink()  # as if a run had stopped between loading and releasing
    recovered = runner.invoke(main, ["run"])
    assert recovered.exit_code == 0 and "have been rebuilt" in recovered.output, recovered.output
    assert copy.exists()


def test_run_fails_naming_the_bad_and_the_unreadable_file(workspace, monkeypatch):
    from pipelines.ingest import fingerprint
    from tests.paths import SAMPLE_DIR

    workspace.land(SAMPLE_DIR / "baseline.csv")
    workspace.land_bytes(b"\x00\x01binary\x00", "followup_corrupt.csv")
    workspace.land(SAMPLE_DIR / "followup.csv", name="followup_locked.csv")
    real = fingerprint.file_sha256

    def locked(path):  # as a permission-denied file fails (the tests run as root, which chmod cannot stop)
        if path.name == "followup_locked.csv":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(fingerprint, "file_sha256", locked)
    result = CliRunner().invoke(main, ["run"])
    assert "NOT READ microdose_mood/followup_locked.csv: cannot be read (Permission denied)" in result.output
    assert "Traceback" not in result.output and "Stack Trace" not in result.output  # traces stay in the UI
    status = CliRunner().invoke(main, ["status"])
    assert "followup_locked.csv" in status.output and "not read" in status.output
    assert result.exit_code == 1
    assert "FAILED  microdose_mood/followup_corrupt.csv" in result.output
    assert "loaded  microdose_mood/baseline.csv" in result.output
    assert workspace.settings.public_tier.exists()  # the good file is released despite the bad one
    again = CliRunner().invoke(main, ["run"])
    assert again.exit_code == 1  # a failed file stays visible until it is fixed
    assert "failed before and are unchanged: microdose_mood/followup_corrupt.csv" in again.output


def test_console_script_is_installed():
    exe = os.path.join(os.path.dirname(sys.executable), "survey-pipeline")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("run", "status", "ui", "query"):
        assert command in out


def test_inspect_profiles_without_values_and_writes_a_draft(tmp_path):
    from tests.paths import SAMPLE_DIR

    draft = tmp_path / "draft.yaml"
    result = CliRunner().invoke(
        main, ["inspect", str(SAMPLE_DIR / "baseline.csv"), "--study", "new_study", "--draft", str(draft)]
    )
    assert result.exit_code == 0, result.output
    assert "qualtrics_csv" in result.output and "RecipientEmail" in result.output
    text = draft.read_text()
    assert "study: new_study" in text and "IPAddress" in text
    import csv

    with (SAMPLE_DIR / "baseline.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))[2:]
    for value in ({r["RecipientEmail"] for r in rows} | {r["IPAddress"] for r in rows}) - {""}:
        assert value not in result.output and value not in text


def test_parse_dose_command_and_file(tmp_path):
    import json

    one = CliRunner().invoke(main, ["parse-dose", "--substance", "lsd", "1/10 tab"])
    assert one.exit_code == 0
    result = json.loads(one.output)
    assert result["amount"] == 10.0 and result["unit"] == "ug" and result["band"] == "standard"
    src = tmp_path / "doses.csv"
    src.write_text("substance,text\npsilocybin_mushrooms,0.2g\nlsd,=cmd|' /C calc'!A0\n", encoding="utf-8")
    done = CliRunner().invoke(main, ["parse-dose", "--file", str(src)])
    assert done.exit_code == 0, done.output
    out = (tmp_path / "doses.parsed.csv").read_text(encoding="utf-8")
    assert "0.2" in out and "\n=" not in out and ",=" not in out


def test_parse_protocol_command_and_file(tmp_path):
    import json

    one = CliRunner().invoke(main, ["parse-protocol", "every 3rd day"])
    assert one.exit_code == 0, one.output
    assert json.loads(one.output) == {
        "protocol": "fadiman",
        "days_on": 1,
        "days_off": 2,
        "per_week": None,
        "matched_by": "schedule_pattern",
    }
    src = tmp_path / "protocols.csv"
    src.write_text("text\nnot daily\n4 days per week\n=cmd|' /C calc'!A0\n", encoding="utf-8")
    done = CliRunner().invoke(main, ["parse-protocol", "--file", str(src)])
    assert done.exit_code == 0, done.output
    assert "other 3" in done.output
    rows = (tmp_path / "protocols.parsed.csv").read_text(encoding="utf-8").splitlines()
    assert rows[1].startswith("not daily,other,,,,negated") and rows[2].startswith("4 days per week,other,,,4,")
    assert rows[3].startswith("'=")
    missing = CliRunner().invoke(main, ["parse-protocol"])
    assert missing.exit_code != 0 and "schedule TEXT" in missing.output


def test_busy_warehouse_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    import time

    db = tmp_path / "survey.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        monkeypatch.setenv("SURVEY_WAREHOUSE", str(db))
        exe = os.path.join(os.path.dirname(sys.executable), "survey-pipeline")
        start = time.monotonic()
        done = subprocess.run([exe, "status"], capture_output=True, text=True)
        assert done.returncode != 0 and time.monotonic() - start < 30
        assert "in use by another process" in done.stderr and "Traceback" not in done.stderr
    finally:
        holder.kill()
