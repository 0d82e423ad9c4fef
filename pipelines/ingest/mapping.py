"""Exclusions and the allow-list mapping from a source chunk to the canonical mapped frame.

Rows that are not data (previews, test responses, unfinished responses when the study excludes them, rows
failing a consent or eligibility filter) are excluded with a reason and counted, never silently dropped. Only
the columns the study configuration maps are copied into the mapped frame; everything else stays behind.
"""

from __future__ import annotations

import pandas as pd

from schemas.study_config import StudyConfig, StudyConfigError


def check_columns(study: StudyConfig, columns: list[str], *, study_file: str, file_name: str, withheld=()) -> None:
    """Fail before reading any row if the export lacks a column the mapping reads."""
    refused = [(col, key) for col, key in study.mapped_columns().items() if col in set(withheld)]
    if refused:
        listed = "; ".join(f"key `{key}` names column {col!r}" for col, key in refused)
        raise StudyConfigError(
            f"{file_name}: study configuration {study_file}: {listed}, an identifier the data "
            "dictionary marks as never to be loaded; map a study ID instead"
        )
    missing = [(col, key) for col, key in study.mapped_columns().items() if col not in set(columns)]
    for col, key in missing:
        told_apart = [c for c in columns if c.startswith(f"{col} [")]
        if told_apart:  # a Qualtrics tag two questions share, named by ImportId
            raise StudyConfigError(
                f"{file_name}: key `{key}` names column {col!r}, but the export reuses the tag {col!r} for "
                f"{len(told_apart)} questions, told apart by ImportId as {', '.join(repr(c) for c in told_apart)}; "
                f"expected one of those names in {study_file} (see `survey-pipeline inspect` for each one's question)"
            )
    if missing:
        listed = "; ".join(f"key `{key}` names column {col!r}" for col, key in missing)
        raise StudyConfigError(
            f"{file_name}: does not match study configuration {study_file}: {listed}, not in the file; expected "
            "every column the mapping names (a question renamed or removed in the survey? update that key)"
        )


def unmapped_columns(study: StudyConfig, columns: list[str], consumed=()) -> list[str]:
    """Source columns neither mapped nor deliberately ignored: a survey edit the researcher should review.

    `consumed` are the columns the reader itself reads to classify rows (Status, Finished, ...): never loaded.
    """
    known = set(study.mapped_columns()) | set(study.ignored_columns) | set(consumed) | REPEAT_COLUMNS
    return [c for c in columns if c not in known]


# REDCap's repeat bookkeeping, read here to exclude repeat rows; never loaded.
REPEAT_COLUMNS = {"redcap_repeat_instrument", "redcap_repeat_instance"}


def exclusion_reasons(chunk: pd.DataFrame, study: StudyConfig) -> pd.Series:
    """The first reason each row is not data, or <NA> for rows to validate and load."""
    reason = pd.Series(pd.NA, index=chunk.index, dtype="string")

    def mark(mask: pd.Series, why: str) -> None:
        reason[mask & reason.isna()] = why

    mark(chunk["__kind"] == "preview", "preview")
    mark(chunk["__kind"] == "test", "test_response")
    if study.unfinished_responses == "exclude":
        mark(~chunk["__finished"].astype(bool), "unfinished")
    if "redcap_repeat_instrument" in chunk:  # a repeating form's rows are records of that form, not waves
        mark(chunk["redcap_repeat_instrument"].str.strip() != "", "repeating_instrument_row")
    if study.wave_column:
        mark(~chunk[study.wave_column].str.strip().isin(study.wave_by_value()), "wave_not_in_study")
    for row_filter in study.filters:
        mark(~chunk[row_filter.column].str.strip().isin(row_filter.keep_codes), row_filter.reason)
    return reason


def source_of(study: StudyConfig) -> dict[str, tuple[str, str]]:
    """Each field of the mapped frame (see map_columns) -> (the YAML key that maps it, the export's column): how
    a report names a field so the mapping author can find it."""
    out = {"participant_key": ("participant_key.column", study.participant_key.column)}
    if study.wave_column:
        out["wave"] = ("wave_column", study.wave_column)
    if study.response_date_column:
        out["recorded"] = ("response_date_column", study.response_date_column)
    for name, mapping in study.fields.items():
        out[name] = (f"fields.{name}.column", mapping.column)
        if mapping.other_text_column:
            out[f"{name}_other_text"] = (f"fields.{name}.other_text_column", mapping.other_text_column)
    for inst, mapping in study.instruments.items():
        for i, column in enumerate(mapping.items, start=1):
            out[f"{inst}_item{i}"] = (f"instruments.{inst}.items[{i - 1}]", column)
    return out


def map_columns(chunk: pd.DataFrame, study: StudyConfig, *, file_wave: str | None) -> pd.DataFrame:
    """The canonical mapped frame: only mapped columns, renamed, still as exported text."""
    out = pd.DataFrame(index=chunk.index)
    out["participant_key"] = chunk[study.participant_key.column]
    out["wave"] = chunk[study.wave_column].str.strip().map(study.wave_by_value()) if study.wave_column else file_wave
    if study.response_date_column:
        out["recorded"] = chunk[study.response_date_column]
    for name, mapping in study.fields.items():
        out[name] = chunk[mapping.column]
        if mapping.other_text_column:
            out[f"{name}_other_text"] = chunk[mapping.other_text_column]
    for inst, mapping in study.instruments.items():
        for i, column in enumerate(mapping.items, start=1):
            out[f"{inst}_item{i}"] = chunk[column]
    return out.astype("str")
