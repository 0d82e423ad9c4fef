"""One landing file through exclusion, mapping, validation and de-identification, in bounded chunks.

Accepted rows are written to staging Parquet (de-identified already), and quarantine entries (row, column, check:
never a value) beside them, one part per chunk, so memory does not grow with the export. The outcome carries only
counts and names, so it is safe to put in Dagster metadata and logs.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from pipelines.domain.dose_bands import DoseBands, coerce_bands
from pipelines.ingest.deidentify import deidentify
from pipelines.ingest.fingerprint import file_sha256
from pipelines.ingest.mapping import check_columns, exclusion_reasons, map_columns, unmapped_columns
from pipelines.privacy.pseudonym import normalise_key_values, pseudonymise, shifted_days
from pipelines.privacy.safe_report import FailureTally, failures_from
from pipelines.readers import ExportReadError, open_export
from pipelines.readers.dates import DateParseError, parse_response_dates
from pipelines.readers.inspect import PROVEN_HEADER_FORMATS, vet_header_cell
from schemas.responses import DeidentifiedResponses, mapped_schema
from schemas.study_config import StudyConfig


class DeidentifiedFrameError(RuntimeError):
    """The de-identified frame broke its own contract: a pipeline bug, reported by column and check only."""


@dataclass
class FileOutcome:
    """Value-free account of one file: counts, names and where the staged parts are."""

    study: str
    file_name: str
    sha256: str
    wave: str
    staging_dir: Path
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    excluded: Counter = field(default_factory=Counter)
    failures: FailureTally = field(default_factory=FailureTally)
    seen_unanswered: Counter = field(default_factory=Counter)  # Qualtrics -99: the question was shown, not answered
    not_shown: Counter = field(default_factory=Counter)  # blank: skipped by display logic (or never asked)
    unmapped_columns: list[str] = field(default_factory=list)
    duplicate_of: str | None = None  # the name these bytes were already loaded under

    @property
    def rows_excluded(self) -> int:
        return sum(self.excluded.values())

    @property
    def reconciles(self) -> bool:
        return self.rows_read == self.rows_accepted + self.rows_quarantined + self.rows_excluded

    def parts_glob(self, kind: str) -> str:
        """Staged parts of one kind: responses, scores, items or quarantine."""
        return str(self.staging_dir / f"{kind}-*.parquet")


def staging_dir_for(staging_root: Path, study: str, sha256: str) -> Path:
    return Path(staging_root) / study / sha256[:16]


def make_staging_dir(staging_root: Path, study: str, sha256: str) -> Path:
    """A fresh, owner-only staging folder: staged Parquet is row-level restricted data until it is loaded."""
    root = Path(staging_root)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    out_dir = staging_dir_for(root, study, sha256)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True, mode=0o700)
    return out_dir


def _shown(names: list[str], reader) -> list[str]:
    """Column names as a report may show them: through the one header gate, since a headerless generic export's
    "names" are its first respondent's answers (such a name becomes `column_<position>`)."""
    assumed = reader.format_name not in PROVEN_HEADER_FORMATS
    position = {name: i for i, name in enumerate(reader.names, start=1)}
    return [vet_header_cell(name, position[name], assumed=assumed)[0] for name in names]


def process_file(
    path: Path,
    study: StudyConfig,
    *,
    study_file: str,
    key: bytes,
    staging_root: Path,
    chunk_rows: int = 50_000,
    bands: DoseBands | None = None,
    sha256: str | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> FileOutcome:
    """Stage one export; raises ExportReadError / StudyConfigError (value-free) if it cannot be read.
    `on_chunk` is told the running count of rows read after each chunk (progress for long files)."""
    path = Path(path)
    sha256 = sha256 or file_sha256(path)
    if study.is_withdrawal_list(path.name):
        return process_withdrawal_list(
            path, study, study_file=study_file, key=key, staging_root=staging_root, sha256=sha256
        )
    wave = study.wave_for(path.name)
    reader = open_export(path, chunk_rows=chunk_rows, format=study.format, options=study.reader)
    check_columns(
        study,
        reader.names,
        study_file=study_file,
        file_name=path.name,
        withheld=getattr(reader, "withheld_columns", ()),
    )
    schema = mapped_schema(study)
    bands = bands or coerce_bands(study.dose.bands)
    out_dir = make_staging_dir(staging_root, study.study, sha256)
    outcome = FileOutcome(
        study.study,
        path.name,
        sha256,
        wave.name if wave else "(per row)",
        out_dir,
        unmapped_columns=_shown(unmapped_columns(study, reader.names, reader.consumed_columns), reader),
    )

    processed_at = pd.Timestamp.now(tz="UTC").tz_localize(None)
    for part, chunk in enumerate(reader.iter_chunks()):
        outcome.rows_read += len(chunk)
        if on_chunk is not None:
            on_chunk(outcome.rows_read)
        reasons = exclusion_reasons(chunk, study)
        outcome.excluded.update(reasons.dropna().value_counts().to_dict())
        withdrawals = _withdrawals(
            chunk[reasons.isin([f.reason for f in study.filters])], study, key, file_wave=wave.name if wave else None
        )
        if not withdrawals.empty:
            withdrawals.to_parquet(out_dir / f"withdrawn-{part:05d}.parquet", index=False)
        kept = chunk[reasons.isna()]
        mapped = map_columns(kept, study, file_wave=wave.name if wave else None)
        _count_missing(mapped, outcome)
        failing = _validate(mapped, schema, outcome)
        if study.response_date_column:
            for index, check in _bad_dates(mapped, study, path.name, kept["__row"], processed_at):
                if index not in failing or ("recorded", "date_present") not in failing[index]:
                    failing.setdefault(index, []).append(("recorded", check))
                    outcome.failures.add("recorded", check)
        if failing:
            bad = sorted(failing)
            q = pd.DataFrame(
                [
                    (study.study, path.name, sha256, int(kept.at[i, "__row"]), col, check)
                    for i, col, check in _flatten(failing)
                ],
                columns=["study", "file_name", "file_sha256", "source_row", "column_name", "check_name"],
            )
            q.to_parquet(out_dir / f"quarantine-{part:05d}.parquet", index=False)
            outcome.rows_quarantined += len(bad)
            mapped = mapped.drop(index=bad)
        if mapped.empty:
            continue
        research, scores, items = deidentify(
            mapped, study, key=key, source_file=path.name, source_rows=kept.loc[mapped.index, "__row"], bands=bands
        )
        _check_contract(research)
        research.to_parquet(out_dir / f"responses-{part:05d}.parquet", index=False)
        scores.to_parquet(out_dir / f"scores-{part:05d}.parquet", index=False)
        items.to_parquet(out_dir / f"items-{part:05d}.parquet", index=False)
        outcome.rows_accepted += len(research)
    return outcome


WITHDRAWAL_LIST_WAVE = "(withdrawal list)"


def process_withdrawal_list(
    path: Path, study: StudyConfig, *, study_file: str, key: bytes, staging_root: Path, sha256: str
) -> FileOutcome:
    """Stage the participants a withdrawal list names (undated: all their responses go, and stay out)."""
    import csv

    column = study.withdrawal_list.column
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            if column not in header:
                raise ExportReadError(
                    path.name,
                    f"the withdrawal list has no column {column!r}",
                    expected=f"a CSV whose header names `withdrawal_list.column` of {study_file}",
                )
            position = header.index(column)
            keys = [row[position] if position < len(row) else "" for row in reader]
    except UnicodeDecodeError:
        raise ExportReadError(path.name, "the withdrawal list is not UTF-8 text", expected="a UTF-8 CSV") from None
    except csv.Error as exc:
        raise ExportReadError(
            path.name,
            f"the withdrawal list is not a readable CSV ({type(exc).__name__})",
            expected="a comma-separated file with a header row",
        ) from None
    out_dir = make_staging_dir(staging_root, study.study, sha256)
    outcome = FileOutcome(study.study, path.name, sha256, WITHDRAWAL_LIST_WAVE, out_dir, rows_read=len(keys))
    values = normalise_key_values(pd.Series(keys, dtype="string"), study.participant_key.normalise)
    pid = pseudonymise(values, key, study=study.study)
    frame = pd.DataFrame(
        {
            "study": study.study,
            "participant_id": pid,
            "wave": pd.Series(pd.NA, index=pid.index, dtype="string"),
            "shifted_day": pd.Series(pd.NA, index=pid.index, dtype="Int64"),
        }
    ).dropna(subset=["participant_id"])
    if not frame.empty:
        frame.to_parquet(out_dir / "withdrawn-00000.parquet", index=False)
    outcome.excluded["withdrawal_request"] = len(frame)
    if blank := len(keys) - len(frame):
        outcome.excluded["withdrawal_request_blank"] = blank
    return outcome


def _withdrawals(excluded: pd.DataFrame, study: StudyConfig, key: bytes, *, file_wave: str | None) -> pd.DataFrame:
    """(participant, wave, shifted day) of rows a study filter excludes (consent withdrawn, no longer eligible).

    A later export that excludes a participant must take out what an earlier one loaded; the loader removes
    their earlier rows for that wave unless those are newer than this response.
    """
    columns = ["study", "participant_id", "wave", "shifted_day"]
    if excluded.empty:
        return pd.DataFrame(columns=columns)
    mapped = map_columns(excluded, study, file_wave=file_wave)
    pid = pseudonymise(
        normalise_key_values(mapped["participant_key"], study.participant_key.normalise), key, study=study.study
    )
    day = pd.Series(pd.NA, index=mapped.index, dtype="Int64")
    if "recorded" in mapped:
        day_first = None if study.date_order is None else study.date_order == "day_first"
        try:
            recorded = parse_response_dates(mapped["recorded"], day_first=day_first, date_format=study.date_format)
            day = shifted_days(recorded, pid, key)
        except DateParseError:
            pass  # unknown date: the withdrawal applies whatever the date of the earlier response
    out = pd.DataFrame(
        {"study": study.study, "participant_id": pid, "wave": mapped["wave"].astype("string"), "shifted_day": day}
    )
    return out.dropna(subset=["participant_id", "wave"])[columns]


def _count_missing(mapped: pd.DataFrame, outcome: FileOutcome) -> None:
    """Per mapped column: answers seen but not given (-99) and questions not shown (blank), kept apart."""
    for column in mapped.columns:
        if column in ("participant_key", "wave") or column.endswith("_other_text"):
            continue
        text = mapped[column].str.strip()
        if n := int((text == "-99").sum()):
            outcome.seen_unanswered[column] += n
        if n := int((text == "").sum()):
            outcome.not_shown[column] += n


# No clock on Earth is more than 14 hours ahead of UTC: a response recorded later than that is not from today.
LATEST_OFFSET = pd.Timedelta(hours=14)


def _bad_dates(
    mapped: pd.DataFrame, study: StudyConfig, file_name: str, rows: pd.Series, processed_at: pd.Timestamp
) -> list[tuple[int, str]]:
    """(row, check) for dates that cannot stand: unreadable (unknown layout, impossible date), after the file is
    processed (`date_not_in_future`: a 2099 date would otherwise supersede every later response of that person), or
    before the study's `study_start`. Each is quarantined row by row.

    An ambiguous date (7/8/2016 with no `date_order`) stays an error for the whole file: it is a mapping decision,
    not a bad row, and guessing would shift every such date by months.
    """
    day_first = None if study.date_order is None else study.date_order == "day_first"
    # named as the export names it: the user knows the column, not our internal field
    remaining = mapped["recorded"][mapped["recorded"].str.strip() != ""].rename(study.response_date_column)
    bad: list[tuple[int, str]] = []
    parsed = pd.Series(dtype="datetime64[ns]")
    while not remaining.empty:
        try:
            parsed = parse_response_dates(
                remaining,
                day_first=day_first,
                file_name=file_name,
                source_rows=rows.loc[remaining.index],
                date_format=study.date_format,
            )
            break
        except DateParseError as exc:
            if "ambiguous" in str(exc) or not exc.rows:
                raise
            bad += [(i, "date_readable") for i in exc.rows]
            remaining = remaining.drop(index=exc.rows)
    bad += [(i, "date_not_in_future") for i in parsed.index[parsed > processed_at + LATEST_OFFSET]]
    if study.study_start is not None:
        bad += [(i, "date_not_before_study_start") for i in parsed.index[parsed < pd.Timestamp(study.study_start)]]
    return bad


def _validate(
    mapped: pd.DataFrame, schema: pa.DataFrameSchema, outcome: FileOutcome
) -> dict[int, list[tuple[str, str]]]:
    """Failing row index -> [(column, check)]; tallies per column and check."""
    try:
        schema.validate(mapped, lazy=True)
    except SchemaErrors as errors:
        failing: dict[int, list[tuple[str, str]]] = {}
        for failure in failures_from(errors):
            outcome.failures.add(failure.column, failure.check)
            if failure.index is None:
                raise DeidentifiedFrameError(
                    f"{outcome.file_name}: mapped frame failed check {failure.check!r} on {failure.column!r} as a whole"
                ) from None
            failing.setdefault(failure.index, []).append((failure.column, failure.check))
        return failing
    return {}


def _flatten(failing: dict[int, list[tuple[str, str]]]):
    for index in sorted(failing):
        for column, check in failing[index]:
            yield index, column, check


def _check_contract(research: pd.DataFrame) -> None:
    try:
        DeidentifiedResponses.validate(research, lazy=True)
    except SchemaErrors as errors:
        problems = sorted({f"{f.column}:{f.check}" for f in failures_from(errors)})
        raise DeidentifiedFrameError(f"de-identified frame failed its contract: {problems}") from None
