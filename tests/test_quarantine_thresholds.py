"""The rows_valid check: a quarantine share judged against the study's thresholds, in words, and a file above the
error threshold refused as a file (recorded, not loaded, retried after a fix)."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest
import yaml

from pipelines.privacy.safe_report import quarantine_verdict
from pipelines.settings import REPO_ROOT
from schemas.study_config import QualitySettings, StudyConfigError, load_study
from tests.paths import SAMPLE_DIR, STUDY


@pytest.mark.parametrize(
    "quarantined, validated, level",
    [(0, 100, "OK"), (5, 100, "OK"), (6, 100, "WARN"), (50, 100, "WARN"), (51, 100, "ERROR"), (0, 0, "OK")],
)
def test_verdict_by_share(quarantined, validated, level):
    verdict = quarantine_verdict(quarantined, validated, QualitySettings())
    assert verdict.level == level
    assert verdict.as_metadata()["severity"] == level


def test_the_error_message_holds_counts_and_thresholds_only():
    message = quarantine_verdict(9, 10, QualitySettings()).message("export.csv")
    assert message.startswith("export.csv: 9 of 10 validated rows (90%)")
    assert "quality.quarantine_error_share (50%)" in message and "--retry-failed" in message


def test_thresholds_are_validated_with_the_key(tmp_path):
    raw = yaml.safe_load((REPO_ROOT / "schemas" / "studies" / f"{STUDY}.yaml").read_text())
    raw["quality"] = {"quarantine_warn_share": 0.6, "quarantine_error_share": 0.5}
    path = tmp_path / f"{STUDY}.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(StudyConfigError, match="quality"):
        load_study(path)
    raw["quality"] = {"quarantine_warn_shar": 0.1}
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(StudyConfigError, match="quarantine_warn_shar"):
        load_study(path)


@pytest.fixture
def studies_dir(tmp_path):
    """The sample study with strict thresholds: its 1.4 % quarantine is above the error share."""
    folder = tmp_path / "studies"
    folder.mkdir()
    raw = yaml.safe_load((REPO_ROOT / "schemas" / "studies" / f"{STUDY}.yaml").read_text())
    raw["quality"] = {"quarantine_warn_share": 0.001, "quarantine_error_share": 0.01}
    (folder / f"{STUDY}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return folder


def test_a_file_above_the_error_share_is_refused_as_a_file(workspace):
    result = workspace.ingest(workspace.land(SAMPLE_DIR / "baseline.csv"))
    assert not result.success  # the blocking check stopped the load
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "rows_valid"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR and check.blocking
    assert check.metadata["severity"].value == "ERROR" and check.partition == "microdose_mood/baseline.csv"
    assert workspace.sql("SELECT count(*) FROM research.responses") == [(0,)]
    ((status, error),) = workspace.sql("SELECT status, error FROM ops.ingested_files")
    assert status == "failed" and error.startswith("baseline.csv: 4 of 290 validated rows")
    staging = workspace.settings.staging_dir
    assert not staging.exists() or not any(staging.rglob("*.parquet"))
    # the mapping's thresholds relaxed, the same file loads
    shutil.copy(REPO_ROOT / "schemas" / "studies" / f"{STUDY}.yaml", workspace.settings.studies_dir / f"{STUDY}.yaml")
    assert workspace.ingest("microdose_mood/baseline.csv").success
    assert workspace.sql("SELECT status FROM ops.ingested_files") == [("loaded",)]
