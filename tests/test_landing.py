"""The landing folder's edges: links leading out of it, things named like exports that are not files, and files
that cannot be read are named (in `run` and `status`), never loaded silently or skipped silently; the good files
beside them still load."""

from __future__ import annotations

import os

from click.testing import CliRunner

from pipelines.cli import main
from pipelines.ingest import fingerprint
from pipelines.ingest.landing import scan_landing
from tests.paths import SAMPLE_DIR


def test_links_out_and_non_files_are_named_not_loaded(tmp_path):
    landing, outside = tmp_path / "landing", tmp_path / "elsewhere.csv"
    study = landing / "s"
    study.mkdir(parents=True)
    outside.write_text("a,b\n1,2\n")
    (study / "good.csv").write_text("a,b\n1,2\n")
    (study / "inside_link.csv").symlink_to(study / "good.csv")
    (study / "outside_link.csv").symlink_to(outside)
    (study / "dangling.csv").symlink_to(tmp_path / "gone.csv")
    (study / "folder.csv").mkdir()
    os.mkfifo(study / "pipe.csv")
    (study / "notes.docx").write_text("not an export")
    files, problems = scan_landing(landing)
    assert [name for _, name, _ in files] == ["good.csv", "inside_link.csv"]
    reasons = {p.file_name: p.reason for p in problems}
    assert set(reasons) == {"outside_link.csv", "dangling.csv", "folder.csv", "pipe.csv"}
    assert "outside the landing folder" in reasons["outside_link.csv"]
    assert all("not a regular file" in reasons[n] for n in ("dangling.csv", "folder.csv", "pipe.csv"))


def test_an_unreadable_file_is_named_and_the_good_one_beside_it_loads(workspace, monkeypatch):
    workspace.land(SAMPLE_DIR / "baseline.csv")
    workspace.land(SAMPLE_DIR / "followup.csv", name="followup_locked.csv")
    real = fingerprint.file_sha256

    def locked(path):  # as a file held or permission-denied would fail (the tests run as root, which chmod cannot stop)
        if path.name == "followup_locked.csv":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(fingerprint, "file_sha256", locked)
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 1, result.output
    assert "loaded  microdose_mood/baseline.csv" in result.output
    assert "NOT READ microdose_mood/followup_locked.csv: cannot be read (Permission denied)" in result.output
    assert "Traceback" not in result.output
    status = CliRunner().invoke(main, ["status"])
    assert "followup_locked.csv" in status.output and "not read" in status.output
