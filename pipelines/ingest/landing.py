"""What is in the landing folder: the exports to process, and the entries that cannot be (named, never skipped
silently). Plain Python, no Dagster: the runner, `status` and the sensor all look through here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EXPORT_SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx"}


@dataclass(frozen=True)
class Unreadable:
    """A landing entry that looks like an export but cannot be processed, and why (no value, only the name)."""

    study: str
    file_name: str
    reason: str

    @property
    def message(self) -> str:
        """`study/file: why` (`study/: why` for a study folder)."""
        return f"{self.study}/{self.file_name}: {self.reason}"


def scan_landing(landing_dir: Path) -> tuple[list[tuple[str, str, Path]], list[Unreadable]]:
    """(study, file name, path) of every export in `<landing>/<study>/`, and the entries that cannot be read: a
    study folder that cannot be listed, a link leading outside the landing folder (its target is not ours to
    load), or something named like an export that is not a regular file (a folder, a pipe, a broken link)."""
    found: list[tuple[str, str, Path]] = []
    problems: list[Unreadable] = []
    if not landing_dir.is_dir():
        return found, problems
    root = landing_dir.resolve()
    for study_dir in sorted(p for p in landing_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            entries = sorted(study_dir.iterdir())
        except OSError as exc:
            problems.append(Unreadable(study_dir.name, "", f"the study folder cannot be listed ({exc.strerror})"))
            continue
        for path in entries:
            if path.name.startswith(".") or path.suffix.lower() not in EXPORT_SUFFIXES:
                continue
            if not path.is_file():
                reason = "is not a regular file (a folder, a pipe or a broken link)"
            elif path.is_symlink() and not path.resolve().is_relative_to(root):
                reason = "is a link to a file outside the landing folder; copy the export into the folder instead"
            else:
                found.append((study_dir.name, path.name, path))
                continue
            problems.append(Unreadable(study_dir.name, path.name, reason))
    return found, problems


def unreadable(study: str, file_name: str, exc: OSError) -> Unreadable:
    """A file that was listed but could not be opened or hashed."""
    return Unreadable(study, file_name, f"cannot be read ({exc.strerror or type(exc).__name__}); nothing was loaded")
