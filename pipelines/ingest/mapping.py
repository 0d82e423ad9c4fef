"""Exclusions and the allow-list mapping from a source chunk to the canonical mapped frame.

Rows that are not data (previews, test responses, unfinished responses when the study excludes them, rows
failing a consent or eligibility filter) are excluded with a reason and counted, never silently dropped. Only
the columns the study configuration maps are copied into the mapped frame; everything else stays behind.
"""

from __future__ import annotations

import pandas as pd

from schemas.study_config import StudyConfig, StudyConfigError


def check_columns(study: StudyConfig, columns: list[str], *, study_file: str, file_name: str) -> None:
    """Fail before reading any row if the export lacks a column the mapping reads."""
    missing = [(col, key) for col, key in study.mapped_columns().items() if col not in set(columns)]
    if missing:
        listed = "; ".join(f"key `{key}` names column {col!r}" for col, key in missing)
        raise StudyConfigError(f"{file_name}: does not match study configuration {study_file}: {listed}, not in the file")


def unmapped_columns(study: StudyConfig, columns: list[str]) -> list[str]:
    """Source columns neither mapped nor deliberately ignored: a survey edit the researcher should review."""
    known = set(study.mapped_columns()) | set(study.ignored_columns) | READER_CONSUMED
    return [c for c in columns if c not in known]


# Columns the Qualtrics reader itself reads to classify rows; they are never loaded.
READER_CONSUMED = {"Status", "Finished", "DistributionChannel", "RecordedDate"}


def exclusion_reasons(chunk: pd.DataFrame, study: StudyConfig) -> pd.Series:
    """The first reason each row is not data, or <NA> for rows to validate and load."""
    reason = pd.Series(pd.NA, index=chunk.index, dtype="string")

    def mark(mask: pd.Series, why: str) -> None:
        reason[mask & reason.isna()] = why

    mark(chunk["__kind"] == "preview", "preview")
    mark(chunk["__kind"] == "test", "test_response")
    if study.unfinished_responses == "exclude":
        mark(~chunk["__finished"].astype(bool), "unfinished")
    for row_filter in study.filters:
        mark(~chunk[row_filter.column].str.strip().isin(row_filter.keep_codes), row_filter.reason)
    return reason


def map_columns(chunk: pd.DataFrame, study: StudyConfig) -> pd.DataFrame:
    """The canonical mapped frame: only mapped columns, renamed, still as exported text."""
    out = pd.DataFrame(index=chunk.index)
    out["participant_key"] = chunk[study.participant_key.column]
    out["recorded"] = chunk[study.response_date_column]
    for name, mapping in study.fields.items():
        out[name] = chunk[mapping.column]
        if mapping.other_text_column:
            out[f"{name}_other_text"] = chunk[mapping.other_text_column]
    for inst, mapping in study.instruments.items():
        for i, column in enumerate(mapping.items, start=1):
            out[f"{inst}_item{i}"] = chunk[column]
    return out.astype("str")
