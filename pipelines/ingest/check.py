"""`survey-pipeline check [STUDY]`: a study mapping tried against the files in its landing folder, loading nothing.

Why: a mapping mistake found at run time is buried in a run and records the export as a failed file. Here every
problem is reported at once, by YAML key and export column: the YAML's own problems, then per landing file whether
it can be read, which mapped columns it lacks, which columns the mapping leaves unread, and what a run would exclude
and quarantine (by check and column). Each file goes through the same `process_file` a run uses, with a throwaway
key into a temporary staging folder that is removed afterwards: the warehouse, staging and ops tables are never
touched, and like every report here it names columns and checks, never a value.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.ingest.landing import scan_landing
from pipelines.ingest.mapping import source_of
from pipelines.ingest.process import FileOutcome, process_file
from pipelines.readers.errors import ExportReadError
from pipelines.settings import Settings
from schemas.study_config import StudyConfig, StudyConfigError, load_study


@dataclass
class FileCheck:
    """What a run would do with one landing file: an error that stops it, or its counts and warnings."""

    file_name: str
    error: str | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    quarantined_by: list[tuple[str, str, int]] = field(default_factory=list)  # (where, check, rows)
    unmapped_columns: list[str] = field(default_factory=list)


@dataclass
class StudyCheck:
    study: str
    config_error: str | None = None
    config_problems: tuple[str, ...] = ()  # the config error's problems one by one, where it has several
    files: list[FileCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.config_error is None and all(f.error is None for f in self.files)


def _where(column: str, sources: dict[str, tuple[str, str]]) -> str:
    """A mapped field as the mapping author knows it: the YAML key and the export's column."""
    if column in sources:
        key, source = sources[column]
        return f"key `{key}` (column {source!r})"
    return f"field `{column}`"


def _file_check(path: Path, study: StudyConfig, study_file: str, staging_root: Path, chunk_rows: int) -> FileCheck:
    result = FileCheck(path.name)
    try:
        outcome: FileOutcome = process_file(
            path,
            study,
            study_file=study_file,
            key=secrets.token_bytes(32),  # nothing it derives is kept
            staging_root=staging_root,
            chunk_rows=chunk_rows,
        )
    except (ExportReadError, StudyConfigError) as exc:
        result.error = str(exc)
        return result
    except OSError as exc:
        result.error = f"{path.name}: cannot be read ({exc.strerror or type(exc).__name__})"
        return result
    sources = source_of(study)
    result.rows_read, result.rows_accepted = outcome.rows_read, outcome.rows_accepted
    result.rows_quarantined = outcome.rows_quarantined
    result.excluded = dict(outcome.excluded)
    result.quarantined_by = sorted(
        ((_where(column, sources), check, n) for (column, check), n in outcome.failures.counts.items()),
        key=lambda t: (-t[2], t[0], t[1]),
    )
    result.unmapped_columns = list(outcome.unmapped_columns)
    return result


def check_study(settings: Settings, study_name: str) -> StudyCheck:
    """Validate one study's YAML, then try it on every export in its landing folder."""
    path = settings.studies_dir / f"{study_name}.yaml"
    report = StudyCheck(study_name)
    try:
        study = load_study(path)
    except StudyConfigError as exc:
        report.config_error, report.config_problems = str(exc), exc.problems
        return report
    found, unreadable = scan_landing(settings.landing_dir)
    for problem in unreadable:
        if problem.study == study_name:
            report.files.append(FileCheck(problem.file_name or "(study folder)", error=problem.reason))
    staging_root = Path(tempfile.mkdtemp(prefix="survey-check-"))
    try:
        for study_dir, _, file_path in found:
            if study_dir == study_name:
                report.files.append(_file_check(file_path, study, path.name, staging_root, settings.chunk_rows))
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
    return report


def studies_to_check(settings: Settings, study: str | None) -> list[str]:
    """The named study, or every study with a YAML file."""
    if study:
        return [study]
    return sorted(p.stem for p in settings.studies_dir.glob("*.yaml"))


def render(report: StudyCheck, landing_dir: Path) -> list[str]:
    """The report as lines for the terminal."""
    if report.config_error:
        return [
            f"{report.study}: mapping has problems:",
            *(f"  {p}" for p in report.config_problems or [report.config_error]),
        ]
    lines = [f"{report.study}: mapping is valid"]
    if not report.files:
        lines.append(f"  no exports in {landing_dir / report.study} to try it on")
    for f in report.files:
        if f.error:
            lines.append(f"  {f.file_name}: ERROR {f.error.removeprefix(f'{f.file_name}: ')}")
            continue
        excluded = sum(f.excluded.values())
        lines.append(
            f"  {f.file_name}: {f.rows_read} rows: {f.rows_accepted} would load, {f.rows_quarantined} quarantined, "
            f"{excluded} excluded"
            + (" (" + ", ".join(f"{reason} {n}" for reason, n in sorted(f.excluded.items())) + ")" if excluded else "")
        )
        for where, check, n in f.quarantined_by:
            lines.append(f"    quarantine: {n} row(s) fail {check} at {where}")
        if f.unmapped_columns:
            shown = ", ".join(repr(c) for c in f.unmapped_columns[:8])
            more = f" and {len(f.unmapped_columns) - 8} more" if len(f.unmapped_columns) > 8 else ""
            lines.append(
                f"    {len(f.unmapped_columns)} column(s) neither mapped nor in `ignored_columns`: {shown}{more}"
            )
    return lines
