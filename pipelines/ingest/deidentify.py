"""From the validated mapped frame to the de-identified research frame.

Identifiers leave here as keyed pseudonyms, dates as keyed shifted day numbers and a calendar quarter, ages as
bands; free text (doses, "other" protocol and medication answers) is read into coded values and then dropped.
Free text is parsed once per distinct value and joined back, since there are few distinct values and many rows.
The output frame has exactly the columns of research.responses (less the ones computed at load) plus the shifted
day and the source row; nothing else can pass.
"""

from __future__ import annotations

import pandas as pd

from pipelines.domain.dose import parse_dose
from pipelines.domain.dose_bands import DoseBands, dose_band
from pipelines.domain.protocol import normalise_protocol
from pipelines.domain.safety import FLAG_COLUMNS, classify_medications, safety_flags
from pipelines.ingest.scoring import score_study_instruments
from pipelines.privacy.pseudonym import normalise_key_values, pseudonymise, shifted_days
from pipelines.readers.dates import parse_response_dates
from schemas.responses import AGE_BANDS, MISSING_CODES
from schemas.study_config import StudyConfig

_AGE_EDGES = [17, 24, 34, 44, 54, 64, 200]
PRIMARY_OUTCOMES = {"phq9": 9, "gad7": 7}  # kept wide on research.responses
MAX_CYCLE_DAYS = 31


def _blank_to_na(s: pd.Series) -> pd.Series:
    s = s.astype("string").str.strip()
    return s.mask(s.isin(MISSING_CODES))


def _decode(s: pd.Series, codes: dict[str, str] | None) -> pd.Series:
    s = _blank_to_na(s)
    return s if codes is None else s.map(codes).astype("string")


def _decode_multi(s: pd.Series, codes: dict[str, str]) -> pd.Series:
    """ "1,3" -> sorted labels, decoded once per distinct answer (there are few)."""
    s = _blank_to_na(s)
    decoded = {v: sorted({codes[c.strip()] for c in v.split(",")}) for v in s.dropna().unique()}
    return pd.Series([list(decoded[v]) if isinstance(v, str) else [] for v in s], index=s.index, dtype=object)


def age_bands(s: pd.Series) -> pd.Series:
    """Whole-year ages to bands, top-coded at 65+."""
    ages = pd.to_numeric(_blank_to_na(s), errors="coerce")
    return pd.cut(ages, bins=_AGE_EDGES, labels=list(AGE_BANDS)).astype("string")


def _per_distinct(frame: pd.DataFrame, func, out_columns: list[str]) -> pd.DataFrame:
    """Apply `func(*row)` once per distinct row of `frame` and join the results back to every row."""
    keys = list(frame.columns)
    work = frame.astype("object").where(frame.notna(), None)
    distinct = work.drop_duplicates().reset_index(drop=True)
    results = pd.DataFrame([func(*row) for row in distinct.itertuples(index=False, name=None)], columns=out_columns)
    table = pd.concat([distinct, results], axis=1)
    merged = work.reset_index().merge(table, on=keys, how="left").set_index("index")
    return merged.loc[frame.index, out_columns]


def _doses(substance: pd.Series, text: pd.Series, study: StudyConfig, bands: DoseBands) -> pd.DataFrame:
    def one(sub, txt):
        if sub is None:
            return (None, None, "missing" if txt is None else "unparseable", None, None, "unknown")
        r = parse_dose(sub, txt, tab_strength_ug=study.dose.tab_strength_ug)
        return (r.amount, r.unit, r.status, r.range_low, r.range_high, dose_band(sub, r.amount, bands))

    frame = pd.DataFrame({"s": substance, "t": _blank_to_na(text)})
    out = _per_distinct(
        frame, one, ["dose_amount", "dose_unit", "dose_status", "dose_range_low", "dose_range_high", "dose_band"]
    )
    for col in ("dose_amount", "dose_range_low", "dose_range_high"):
        out[col] = out[col].astype("Float64")
    return out


def _protocols(coded: pd.Series, other_text: pd.Series, stack: pd.Series) -> pd.DataFrame:
    def one(code, text):
        r = normalise_protocol(code, text)
        return (r.protocol, r.days_on, r.days_off, list(r.stack_components))

    frame = pd.DataFrame({"c": coded, "t": other_text})
    out = _per_distinct(frame, one, ["protocol", "days_on", "days_off", "text_stack"])
    out["stack_components"] = [sorted(set(a) | set(b)) for a, b in zip(stack, out.pop("text_stack"))]
    # a schedule read from free text ("1 on 130 off") outside any plausible cycle is not a protocol we know
    days_on = pd.to_numeric(out["days_on"], errors="coerce")
    days_off = pd.to_numeric(out["days_off"], errors="coerce")
    implausible = ~(days_on.isna() | days_on.between(0, MAX_CYCLE_DAYS)) | ~(
        days_off.isna() | days_off.between(0, MAX_CYCLE_DAYS)
    )
    out.loc[implausible, "protocol"] = "other"
    out["days_on"] = days_on.mask(implausible).astype("Int64")
    out["days_off"] = days_off.mask(implausible).astype("Int64")
    return out


def _medications(coded: pd.Series, other_text: pd.Series) -> pd.Series:
    frame = pd.DataFrame({"c": coded.map(lambda xs: ",".join(xs)), "t": other_text})
    out = _per_distinct(frame, lambda c, t: (sorted(classify_medications(c.split(",") if c else [], t)),), ["m"])
    return out["m"]


def deidentify(
    mapped: pd.DataFrame, study: StudyConfig, *, key: bytes, source_file: str, source_rows: pd.Series, bands: DoseBands
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The research frame for the accepted rows of one chunk, and its instrument scores and items (long)."""
    f = study.fields
    out = pd.DataFrame(index=mapped.index)
    out["study"] = study.study
    pid = pseudonymise(
        normalise_key_values(mapped["participant_key"], study.participant_key.normalise), key, study=study.study
    )
    out["participant_id"] = pid
    out["wave"] = mapped["wave"].astype("string")
    if "recorded" in mapped:
        day_first = None if study.date_order is None else study.date_order == "day_first"
        recorded = parse_response_dates(
            mapped["recorded"],
            day_first=day_first,
            file_name=source_file,
            source_rows=source_rows,
            date_format=study.date_format,
        )
    else:
        recorded = pd.Series(pd.NaT, index=mapped.index, dtype="datetime64[ns]")
    out["days_since_baseline"] = pd.array([pd.NA] * len(out), dtype="Int32")
    out["response_quarter"] = recorded.dt.year.astype("string") + "-Q" + recorded.dt.quarter.astype("string")
    out["age_band"] = age_bands(mapped["age"]) if "age" in f else pd.NA
    for name in ("gender", "country", "substance"):
        out[name] = _decode(mapped[name], f[name].codes) if name in f else pd.NA
    out["substance"] = out["substance"].astype("string")

    if "dose_amount" in f:  # amount + unit columns read as "0.2 g": the same parser, the same statuses
        unit = _decode(mapped["dose_unit"], f["dose_unit"].codes).fillna("") if "dose_unit" in f else ""
        dose_text = (_blank_to_na(mapped["dose_amount"]) + " " + unit).str.strip()
    elif "dose_text" in f:
        dose_text = mapped["dose_text"]
    else:
        dose_text = pd.Series(None, index=mapped.index, dtype="string")
    out = out.join(_doses(out["substance"], dose_text, study, bands))

    stack = (
        _decode_multi(mapped["stack_components"], f["stack_components"].codes)
        if "stack_components" in f
        else pd.Series([[]] * len(out), index=out.index)
    )
    if "protocol" in f:
        other = (
            _blank_to_na(mapped["protocol_other_text"])
            if f["protocol"].other_text_column
            else pd.Series(pd.NA, index=out.index, dtype="string")
        )
        out = out.join(_protocols(_decode(mapped["protocol"], f["protocol"].codes), other, stack))
    else:
        out["protocol"], out["days_on"], out["days_off"], out["stack_components"] = pd.NA, pd.NA, pd.NA, stack

    if "medications" in f:
        coded = _decode_multi(mapped["medications"], f["medications"].codes)
        other = (
            _blank_to_na(mapped["medications_other_text"])
            if f["medications"].other_text_column
            else pd.Series(pd.NA, index=out.index, dtype="string")
        )
        answered = _blank_to_na(mapped["medications"]).notna() | other.notna()
        classes = _medications(coded, other)
        # not answered (blank, -99) is unknown, never "no interacting medication"
        out["medication_classes"] = [c if a else None for c, a in zip(classes, answered)]
    else:
        out["medication_classes"] = [None] * len(out)

    wide, scores_long, items_long = score_study_instruments(mapped, study, wide_items=frozenset(PRIMARY_OUTCOMES))
    for inst, n_items in PRIMARY_OUTCOMES.items():
        if inst in wide:
            out = out.join(
                wide[inst][[f"{inst}_item{i}" for i in range(1, n_items + 1)] + [f"{inst}_total", f"{inst}_band"]]
            )
        else:
            for i in range(1, n_items + 1):
                out[f"{inst}_item{i}"] = pd.array([pd.NA] * len(out), dtype="Int64")
            out[f"{inst}_total"] = pd.array([pd.NA] * len(out), dtype="Int64")
            out[f"{inst}_band"] = pd.array([pd.NA] * len(out), dtype="string")

    signals = pd.DataFrame(index=out.index)
    for column in ("phq9_item9", "dose_band", "protocol", "days_off", "medication_classes"):
        signals[column] = out[column]
    if "qids_sr16" in wide:
        signals["qids_item12"] = wide["qids_sr16"]["qids_sr16_item12"]
    out = out.join(safety_flags(signals)[list(FLAG_COLUMNS)])
    # "other" without a readable schedule says nothing about daily dosing
    unknown_schedule = (out["protocol"] == "other").fillna(False) & out["days_off"].isna()
    out["flag_daily_dosing"] = out["flag_daily_dosing"].mask(unknown_schedule)
    out["source_file"] = source_file
    out["loaded_at"] = pd.NaT
    out["shifted_day"] = shifted_days(recorded, pid, key)
    out["source_row"] = source_rows.astype("int64")
    keys = out[["study", "participant_id", "wave", "shifted_day", "source_row"]]
    return out, keys.join(scores_long, how="inner"), keys.join(items_long, how="inner")
