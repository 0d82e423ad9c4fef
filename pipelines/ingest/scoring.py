"""Instrument items and scores for every instrument a study maps, in long form.

Each instrument is declared once (pipelines/domain/instruments.yaml), so the warehouse stores scores as rows
(instrument, scale, score, band, prorated) rather than one column per scale: adding an instrument adds rows, not
a schema change. PHQ-9 and GAD-7, the primary outcomes, are also kept wide on research.responses.
"""

from __future__ import annotations

import pandas as pd

from pipelines.domain.instruments import get_instrument, load_instruments, score_columns, score_instrument
from schemas.responses import MISSING_CODES
from schemas.study_config import StudyConfig


def recoded_items(mapped: pd.DataFrame, study: StudyConfig, instrument: str) -> pd.DataFrame:
    """The instrument's items as canonical values (Int64, NA when not answered), in questionnaire order."""
    coding = study.instruments[instrument].coding
    out = pd.DataFrame(index=mapped.index)
    for i in range(1, len(study.instruments[instrument].items) + 1):
        text = mapped[f"{instrument}_item{i}"].astype("string").str.strip()
        text = text.mask(text.isin(MISSING_CODES)).str.lower()
        out[f"{instrument}_item{i}"] = text.map(coding).astype("Int64")
    return out


def derived_instruments(study: StudyConfig) -> list[tuple[str, str]]:
    """(instrument, source) for declared instruments computed from another's items, e.g. SWEMWBS from WEMWBS."""
    out = []
    for name, inst in load_instruments().items():
        parent = inst.derived_from
        if parent is not None and parent.instrument in study.instruments and name not in study.instruments:
            out.append((name, parent.instrument))
    return out


def _scale_specs(instrument: str) -> list[tuple[str, str, str | None, str | None]]:
    """(scale name, score column, band column, prorated column) for each score the instrument produces."""
    inst = get_instrument(instrument)
    p = inst.column_prefix
    columns = set(score_columns(instrument))
    specs = []
    if inst.scoring == "sum_subscales":
        for sub in inst.subscales:
            band = f"{p}_{sub}_band" if f"{p}_{sub}_band" in columns else None
            prorated = f"{p}_{sub}_prorated"
            scaled = [
                c
                for c in score_columns(instrument)
                if c.startswith(f"{p}_{sub}_") and c not in (f"{p}_{sub}_raw", band, prorated)
            ]
            # cut-offs apply to the scaled score (DASS bands are on the x2 scale), never to the raw sum
            specs.append((f"{sub}_raw", f"{p}_{sub}_raw", None if scaled else band, prorated))
            specs += [(c[len(p) + 1 :], c, band, prorated) for c in scaled]
        return specs
    band = f"{p}_band" if f"{p}_band" in columns else None
    for col in score_columns(instrument):
        if not (col.endswith("_band") or col.endswith("_prorated")):
            specs.append((col[len(p) + 1 :], col, band if col == f"{p}_total" else None, f"{p}_prorated"))
    return specs


def long_scores(instrument: str, scores: pd.DataFrame) -> pd.DataFrame:
    """Wide `score_instrument` output to rows of (instrument, scale, score, band, prorated), index repeated."""
    n = len(scores)
    frames = [
        pd.DataFrame(
            {
                "instrument": instrument,
                "scale": scale,
                "score": scores[col].astype("Float64"),
                "band": scores[band].astype("string") if band else pd.array([pd.NA] * n, dtype="string"),
                "prorated": scores[prorated].astype("boolean")
                if prorated in scores
                else pd.array([pd.NA] * n, dtype="boolean"),
            },
            index=scores.index,
        )
        for scale, col, band, prorated in _scale_specs(instrument)
    ]
    return pd.concat(frames)


def long_items(instrument: str, items: pd.DataFrame) -> pd.DataFrame:
    frames = [
        pd.DataFrame({"instrument": instrument, "item": i, "value": items[col].astype("Int64")}, index=items.index)
        for i, col in enumerate(items.columns, start=1)
    ]
    return pd.concat(frames)


def score_study_instruments(
    mapped: pd.DataFrame, study: StudyConfig, *, wide_items: frozenset[str] = frozenset()
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """Per instrument: recoded items and wide scores; plus all scores, and the items of instruments not in
    `wide_items` (kept as columns elsewhere), in long form (index = row)."""
    wide: dict[str, pd.DataFrame] = {}
    scores_long, items_long = [], []
    for name in study.instruments:
        items = recoded_items(mapped, study, name)
        scores = score_instrument(name, items)
        wide[name] = items.join(scores)
        scores_long.append(long_scores(name, scores))
        if name not in wide_items:
            items_long.append(long_items(name, items))
        for derived, source in derived_instruments(study):
            if source == name:
                d_scores = score_instrument(derived, items)
                scores_long.append(long_scores(derived, d_scores))
    empty_s = pd.DataFrame(
        {
            "instrument": pd.Series(dtype="string"),
            "scale": pd.Series(dtype="string"),
            "score": pd.Series(dtype="Float64"),
            "band": pd.Series(dtype="string"),
            "prorated": pd.Series(dtype="boolean"),
        }
    )
    empty_i = pd.DataFrame(
        {"instrument": pd.Series(dtype="string"), "item": pd.Series(dtype="int64"), "value": pd.Series(dtype="Int64")}
    )
    return (wide, pd.concat(scores_long) if scores_long else empty_s, pd.concat(items_long) if items_long else empty_i)
