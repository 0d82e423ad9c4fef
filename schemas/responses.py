"""pandera models for the two frames that cross a trust boundary.

`mapped_schema(study)` validates the mapped source frame (text as exported, before any recoding): codes must be
ones the study mapping knows, ages plausible, dates readable. Every check is named, so reports carry the check's
name and never a value. `DeidentifiedResponses` validates what is about to be loaded into `research.responses`.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from schemas.study_config import StudyConfig

MISSING_CODES = ("", "-99")  # blank = not shown; -99 = Qualtrics "seen but unanswered"
AGE_MIN, AGE_MAX = 18, 100
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")


def _missing(s: pd.Series) -> pd.Series:
    return s.str.strip().isin(MISSING_CODES)


def _code_check(allowed: set[str], name: str, *, fold_case: bool = False) -> pa.Check:
    def ok(s: pd.Series) -> pd.Series:
        text = s.str.strip()
        return _missing(s) | (text.str.lower() if fold_case else text).isin(allowed)

    return pa.Check(ok, name=name)


def _multi_code_check(allowed: set[str]) -> pa.Check:
    def ok(s: pd.Series) -> pd.Series:
        text = s.str.strip()
        verdict = {v: all(x.strip() in allowed for x in v.split(",")) for v in text.dropna().unique()}
        return _missing(s) | text.map(verdict).fillna(True).astype(bool)

    return pa.Check(ok, name="codes_in_mapping")


def _age_check() -> pa.Check:
    def ok(s: pd.Series) -> pd.Series:
        n = pd.to_numeric(s.str.strip(), errors="coerce")
        whole = n.notna() & (n == n.round())
        return _missing(s) | (whole & n.between(AGE_MIN, AGE_MAX))

    return pa.Check(ok, name=f"age_whole_years_{AGE_MIN}_to_{AGE_MAX}")


def mapped_schema(study: StudyConfig) -> pa.DataFrameSchema:
    """The schema of the mapped frame of one study: one column per mapped source column, named canonically."""
    text = pa.Column(str, nullable=False)
    columns: dict[str, pa.Column] = {
        "participant_key": pa.Column(str, checks=pa.Check(lambda s: ~_missing(s), name="participant_key_present")),
        "wave": pa.Column(str, nullable=False),
    }
    if study.response_date_column:
        # present here; readable (one parser, pipelines/readers/dates.py) is checked per row by the ingest stage
        columns["recorded"] = pa.Column(str, checks=pa.Check(lambda s: s.str.strip() != "", name="date_present"))
    for name, mapping in study.fields.items():
        if name == "age":
            columns[name] = pa.Column(str, checks=_age_check())
        elif mapping.codes and mapping.multiple:
            columns[name] = pa.Column(str, checks=_multi_code_check(set(mapping.codes)))
        elif mapping.codes:
            columns[name] = pa.Column(str, checks=_code_check(set(mapping.codes), "code_in_mapping"))
        else:
            columns[name] = text
        if mapping.other_text_column:
            columns[f"{name}_other_text"] = text
    for inst, mapping in study.instruments.items():
        for i, _ in enumerate(mapping.items, start=1):
            columns[f"{inst}_item{i}"] = pa.Column(
                str, checks=_code_check(set(mapping.coding), "code_in_item_coding", fold_case=True)
            )
    return pa.DataFrameSchema(columns, strict=True, name=f"{study.study}_mapped")


class DeidentifiedResponses(pa.DataFrameModel):
    """What may be loaded into research.responses: pseudonyms, bands and scores, no identifier or free text."""

    study: str
    participant_id: str = pa.Field(str_matches=r"^[0-9a-f]{64}$")
    wave: str
    age_band: str = pa.Field(isin=list(AGE_BANDS), nullable=True)
    phq9_total: pd.Int64Dtype = pa.Field(ge=0, le=27, nullable=True)
    gad7_total: pd.Int64Dtype = pa.Field(ge=0, le=21, nullable=True)

    class Config:
        strict = False
        coerce = False
