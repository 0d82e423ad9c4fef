"""The landing folder's edges: links leading out of it, things named like exports that are not files, and files
that cannot be read are named, never loaded silently or skipped silently (`run` and `status` with an unreadable
file beside good ones: tests/test_cli.py)."""

from __future__ import annotations

import os

from pipelines.ingest.landing import scan_landing


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
