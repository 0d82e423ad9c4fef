"""`survey-pipeline check`: a mapping tried on the landing files, every problem at once by YAML key and column,
nothing loaded and no value shown."""

from __future__ import annotations

import csv
import shutil

import pytest
import yaml
from click.testing import CliRunner

from pipelines.cli import main
from tests.conftest import _environment
from tests.paths import REPO_ROOT, SAMPLE_DIR, STUDY


@pytest.fixture
def env(tmp_path, monkeypatch):
    studies = tmp_path / "studies"
    studies.mkdir()
    shutil.copy(REPO_ROOT / "schemas" / "studies" / f"{STUDY}.yaml", studies / f"{STUDY}.yaml")
    for name, value in _environment(tmp_path, studies).items():
        monkeypatch.setenv(name, value)
    landing = tmp_path / "landing" / STUDY
    landing.mkdir()
    return tmp_path, studies, landing


def _edit(studies, change):
    path = studies / f"{STUDY}.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def test_a_good_mapping_reports_what_a_run_would_do_and_loads_nothing(env):
    root, _, landing = env
    shutil.copy(SAMPLE_DIR / "baseline.csv", landing / "baseline.csv")
    result = CliRunner().invoke(main, ["check", STUDY])
    assert result.exit_code == 0, result.output
    assert f"{STUDY}: mapping is valid" in result.output
    line = next(x for x in result.output.splitlines() if "baseline.csv" in x)
    read, accepted = (int(x) for x in (line.split(": ")[1].split()[0], line.split(": ")[2].split()[0]))
    assert read > 0 and 0 < accepted <= read
    assert not (root / "warehouse").exists() and not (root / "staging").exists()


def test_every_mapping_problem_at_once_by_key(env):
    _, studies, landing = env
    shutil.copy(SAMPLE_DIR / "baseline.csv", landing / "baseline.csv")

    def break_it(config):
        config["instruments"]["phq9"]["items"] = config["instruments"]["phq9"]["items"][:2]
        config["fields"]["substance"]["codes"] = {"1": "ketamine"}

    _edit(studies, break_it)
    result = CliRunner().invoke(main, ["check", STUDY])
    assert result.exit_code == 1
    assert "key `instruments.phq9.items`: 2 columns given, PHQ-9 has 9 items" in result.output
    assert "key `fields.substance.codes`: unknown substance ['ketamine']" in result.output


def test_a_file_the_mapping_does_not_fit_is_named_with_every_missing_column(env):
    _, studies, landing = env
    shutil.copy(SAMPLE_DIR / "baseline.csv", landing / "baseline.csv")

    def rename(config):
        config["instruments"]["phq9"]["items"][0] = "Q11_1_renamed"
        config["fields"]["substance"]["column"] = "Q_gone"

    _edit(studies, rename)
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 1
    out = result.output
    assert "baseline.csv: ERROR" in out
    assert "key `instruments.phq9.items[0]` names column 'Q11_1_renamed'" in out
    assert "key `fields.substance.column` names column 'Q_gone'" in out


def test_quarantine_and_unmapped_columns_are_named_by_key_and_column_never_by_value(env):
    _, _, landing = env
    with (SAMPLE_DIR / "baseline.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    q11 = rows[0].index("Q11_1")
    # PHQ-9 item 1 exported as text its coding cannot hold; one unexpected extra column
    for row in rows[3:]:
        row[q11] = "SECRET-VALUE-7"
    extra = ["NewQuestion", "New question?", '{"ImportId":"QID99"}'] + ["y"] * (len(rows) - 3)
    with (landing / "baseline.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(row + [value] for row, value in zip(rows, extra))
    result = CliRunner().invoke(main, ["check", STUDY])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "column 'Q11_1'" in x)
    assert "fail code_in_item_coding at key `instruments.phq9.items[0]` (column 'Q11_1')" in line
    assert int(line.split("quarantine: ")[1].split()[0]) >= 280  # every row not excluded
    assert "neither mapped nor in `ignored_columns`: 'NewQuestion'" in result.output
    assert "SECRET-VALUE-7" not in result.output


def test_an_unknown_study_is_one_line(env):
    result = CliRunner().invoke(main, ["check", "nope"])
    assert result.exit_code != 0 and "no study mapping" in result.output and "Traceback" not in result.output


ODK_STUDY = """
study: odk_app
title: An ODK Briefcase export
format: generic
reader: {names_row: 1, header_rows_to_skip: 0, delimiter: ",", recorded_column: SubmissionDate}
participant_key: {column: participant}
waves: [{name: baseline, file_pattern: "*", baseline: true}]
response_date_column: SubmissionDate
fields:
  age: {column: age}
  substance: {column: substance, codes: {psilocybin: psilocybin_mushrooms, lsd: lsd}}
ignored_columns: [KEY, deviceid]
"""


def test_an_odk_export_with_named_month_dates_loads_without_a_date_setting(env):
    """ODK Briefcase writes "Apr 1, 2018 12:00:00 AM": a month name is never ambiguous, so no date_order is needed."""
    root, studies, _ = env
    (studies / "odk_app.yaml").write_text(ODK_STUDY, encoding="utf-8")
    landing = root / "landing" / "odk_app"
    landing.mkdir()
    rows = ["SubmissionDate,participant,age,substance,KEY,deviceid"]
    rows += [
        f'"Apr {d}, 2018 {h}:00:00 {ap}",p{d},{30 + d},lsd,uuid:{d},dev{d}'
        for d, h, ap in [(1, 12, "AM"), (2, 3, "PM"), (3, 11, "AM")]
    ]
    (landing / "odk_export.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "odk_app"])
    assert result.exit_code == 0, result.output
    assert "odk_export.csv: 3 rows: 3 would load, 0 quarantined, 0 excluded" in result.output, result.output
