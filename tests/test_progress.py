"""Progress of long reads: one call per chunk with the running count, to the Dagster log and to listeners."""

from __future__ import annotations

from pipelines.ingest.process import process_file
from pipelines.progress import FileProgress, listening
from pipelines.settings import REPO_ROOT
from schemas.study_config import load_study
from tests.paths import SAMPLE_DIR, STUDY


def test_each_chunk_reports_the_running_count_to_the_log_and_listeners(tmp_path):
    study = load_study(REPO_ROOT / "schemas" / "studies" / f"{STUDY}.yaml")
    logged, heard = [], []
    with listening(lambda name, rows, elapsed: heard.append((name, rows, elapsed >= 0))):
        outcome = process_file(
            SAMPLE_DIR / "baseline.csv",
            study,
            study_file=f"{STUDY}.yaml",
            key=b"k" * 32,
            staging_root=tmp_path,
            chunk_rows=100,
            on_chunk=FileProgress("baseline.csv", logged.append),
        )
    assert outcome.rows_read == 305
    assert [rows for _, rows, _ in heard] == [100, 200, 300, 305]
    assert all(name == "baseline.csv" and ok for name, _, ok in heard)
    assert logged[-1].startswith("baseline.csv: 305 rows read (") and logged[-1].endswith(" rows/s)")
    with listening(heard.append):
        pass
    FileProgress("other.csv", logged.append)(1)
    assert len(heard) == 4  # a listener hears nothing once its block is left
