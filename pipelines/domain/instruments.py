"""Questionnaire scoring from declarations (`instruments.yaml`), vectorised over a frame of item responses.

Why declarations: published data sets disagree on scaling (DASS raw vs x2, QIDS item sums > 27), so the
pipeline stores item responses and computes every score one way, from one table. Adding an instrument is a
YAML block, not code.

Workflow: ``recode_items(source_items, coding)`` (source codes or text labels -> canonical values; unmapped
values become the ``UNMAPPED`` marker so they can be counted, then ``mask_unmapped`` if they should be treated as
missing) -> ``score_instrument(name, items)``. A missing item never counts as 0: the score is NA unless the
declaration allows proration, in which case it is prorated and flagged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

UNMAPPED: int = -9999
"""Marker `recode_items` writes for a source value its coding does not map (missing values become NA)."""

DEFAULT_MISSING_CODES: tuple[object, ...] = (-99, "-99")


class InstrumentError(ValueError):
    """Bad declaration or bad item frame; messages name columns/keys and counts, never cell values."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
    label: str
    min: float


class Proration(_Strict):
    max_missing: int = Field(default=0, ge=0)


class Subscale(_Strict):
    items: list[int] = Field(min_length=1)
    multiplier: float = 1
    scaled_suffix: str | None = None
    bands: list[Band] = []


class SafetyItem(_Strict):
    item: int = Field(ge=1)
    min: float
    column: str
    flag: str


class ChangeCriteria(_Strict):
    """Per-participant change from baseline that counts as a clinical outcome (on the total score)."""

    response_drop: float = Field(gt=0, le=1)  # response: the score drops by at least this share of baseline
    remission_max: float  # remission: the follow-up score is at most this
    improvement_points: float = Field(gt=0)  # improvement: the score drops by at least this many points


class DerivedFrom(_Strict):
    instrument: str
    items: list[int] = Field(min_length=1)


class Instrument(_Strict):
    """One instrument declaration; see the header of instruments.yaml for the meaning of each key."""

    name: str
    label: str
    aliases: list[str] = []
    prefix: str | None = None
    items: int = Field(ge=1)
    item_range: tuple[int, int]
    scoring: Literal["sum", "sum_subscales", "max_domains", "sum_with_conversion"]
    proration: Proration = Proration()
    bands: list[Band] = []
    subscales: dict[str, Subscale] = {}
    domains: dict[str, list[int]] = {}
    domain_missing: Literal["any"] = "any"
    conversion: dict[int, float] = {}
    derived_from: DerivedFrom | None = None
    safety_items: list[SafetyItem] = []
    response_labels: dict[str, int] = {}
    change_criteria: ChangeCriteria | None = None

    @property
    def column_prefix(self) -> str:
        return self.prefix or self.name

    @model_validator(mode="after")
    def _consistent(self) -> Instrument:
        lo, hi = self.item_range
        if lo >= hi:
            raise ValueError("item_range: lowest must be below highest")

        def check_items(where: str, items: list[int]) -> None:
            bad = [i for i in items if not 1 <= i <= self.items]
            if bad or len(set(items)) != len(items):
                raise ValueError(f"{where}: item numbers must be distinct and within 1..{self.items}")

        def check_bands(where: str, bands: list[Band]) -> None:
            mins = [b.min for b in bands]
            if mins != sorted(mins) or len(set(mins)) != len(mins):
                raise ValueError(f"{where}: band minimums must be strictly ascending")

        check_bands("bands", self.bands)
        if self.proration.max_missing >= self.items:
            raise ValueError("proration.max_missing: must be below the item count")
        if self.scoring == "sum_subscales":
            if not self.subscales:
                raise ValueError("subscales: required for scoring sum_subscales")
            for name, sub in self.subscales.items():
                check_items(f"subscales.{name}.items", sub.items)
                check_bands(f"subscales.{name}.bands", sub.bands)
        if self.scoring == "max_domains":
            if not self.domains:
                raise ValueError("domains: required for scoring max_domains")
            seen: list[int] = []
            for name, items in self.domains.items():
                check_items(f"domains.{name}", items)
                seen += items
            if sorted(seen) != list(range(1, self.items + 1)):
                raise ValueError("domains: every item must belong to exactly one domain")
        if self.scoring == "sum_with_conversion":
            need = set(range(lo * self.items, hi * self.items + 1))
            if not need <= set(self.conversion):
                raise ValueError("conversion: must cover every possible raw total")
        if self.derived_from is not None and len(self.derived_from.items) != self.items:
            raise ValueError("derived_from.items: must list exactly `items` item numbers")
        for i, s in enumerate(self.safety_items):
            check_items(f"safety_items[{i}].item", [s.item])
        for label, value in self.response_labels.items():
            if not lo <= value <= hi:
                raise ValueError(f"response_labels.{label}: value outside item_range")
        return self


@lru_cache(maxsize=8)
def _load_path(path: str | None) -> dict[str, Instrument]:
    if path is None:
        text = resources.files("pipelines.domain").joinpath("instruments.yaml").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return registry_from_dict(yaml.safe_load(text))


def registry_from_dict(raw: Mapping) -> dict[str, Instrument]:
    """Validated declarations from a parsed YAML mapping ({"instruments": {name: declaration}})."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("instruments"), Mapping):
        raise InstrumentError("instrument declarations: expected a top-level `instruments` mapping")
    out: dict[str, Instrument] = {}
    for name, spec in raw["instruments"].items():
        try:
            out[str(name)] = Instrument(name=str(name), **(spec or {}))
        except ValidationError as exc:
            where = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(declaration)'}: {e['msg']}" for e in exc.errors()
            )
            raise InstrumentError(f"instrument {name}: {where}") from None
        except TypeError as exc:
            raise InstrumentError(f"instrument {name}: malformed declaration ({exc})") from None
    return out


def load_instruments(path: str | Path | None = None) -> dict[str, Instrument]:
    """The packaged declarations, or those of another YAML file in the same format."""
    return _load_path(None if path is None else str(Path(path).resolve()))


def get_instrument(name: str, registry: Mapping[str, Instrument] | None = None) -> Instrument:
    registry = load_instruments() if registry is None else registry
    key = re.sub(r"\s+", " ", str(name).strip().lower())
    if key in registry:
        return registry[key]
    for inst in registry.values():
        if key in (a.lower() for a in inst.aliases) or key.replace("-", "_") == inst.name:
            return inst
    raise InstrumentError(f"unknown instrument {name!r} (declared: {', '.join(sorted(registry))})")


def item_range(name: str, registry: Mapping[str, Instrument] | None = None) -> tuple[int, int]:
    """Lowest and highest canonical item value."""
    return tuple(get_instrument(name, registry).item_range)  # type: ignore[return-value]


def instrument_items(name: str, registry: Mapping[str, Instrument] | None = None) -> int:
    """Number of items."""
    return get_instrument(name, registry).items


def response_coding(name: str, registry: Mapping[str, Instrument] | None = None) -> dict[str, int]:
    """The declared text-label coding ("Not at all" -> 0 ...), for `recode_items`."""
    return dict(get_instrument(name, registry).response_labels)


def score_columns(name: str, registry: Mapping[str, Instrument] | None = None) -> list[str]:
    """The columns `score_instrument` returns, in order (for schemas and table definitions)."""
    inst = get_instrument(name, registry)
    p = inst.column_prefix
    if inst.scoring == "sum_subscales":
        cols: list[str] = []
        for sub_name, sub in inst.subscales.items():
            cols.append(f"{p}_{sub_name}_raw")
            if sub.multiplier != 1:
                cols.append(f"{p}_{sub_name}_{sub.scaled_suffix or _suffix(sub.multiplier)}")
            if sub.bands:
                cols.append(f"{p}_{sub_name}_band")
            cols.append(f"{p}_{sub_name}_prorated")
        return cols
    if inst.scoring == "sum_with_conversion":
        return [f"{p}_raw", f"{p}_metric", f"{p}_prorated"]
    return [f"{p}_total"] + ([f"{p}_band"] if inst.bands else []) + [f"{p}_prorated"]


def score_ranges(name: str, registry: Mapping[str, Instrument] | None = None) -> dict[str, tuple[float, float]]:
    """Scale name (as in research.instrument_scores) -> (lowest, highest) possible score.

    The statistics need them: bounds clamp noisy figures and set how much one participant can move a sum."""
    inst = get_instrument(name, registry)
    lo, hi = inst.item_range
    if inst.scoring == "sum_subscales":
        out = {}
        for sub_name, sub in inst.subscales.items():
            raw = (lo * len(sub.items), hi * len(sub.items))
            out[f"{sub_name}_raw"] = raw
            if sub.multiplier != 1:
                out[f"{sub_name}_{sub.scaled_suffix or _suffix(sub.multiplier)}"] = (
                    raw[0] * sub.multiplier,
                    raw[1] * sub.multiplier,
                )
        return out
    if inst.scoring == "sum_with_conversion":
        return {
            "raw": (lo * inst.items, hi * inst.items),
            "metric": (min(inst.conversion.values()), max(inst.conversion.values())),
        }
    count = len(inst.domains) if inst.scoring == "max_domains" else inst.items
    return {"total": (lo * count, hi * count)}


def _suffix(multiplier: float) -> str:
    return f"x{int(multiplier) if float(multiplier).is_integer() else multiplier}"


# --------------------------------------------------------------------------------------------------------------
# Recoding
# --------------------------------------------------------------------------------------------------------------

_MISSING = object()


def _key(value: object) -> object:
    """A comparable form of a source code or label: integral numbers as int, text stripped and case-folded."""
    if value is None:
        return _MISSING
    try:
        if pd.isna(value):
            return _MISSING
    except (TypeError, ValueError):
        pass
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return int(f) if f.is_integer() else f
    text = re.sub(r"\s+", " ", str(value)).strip().casefold()
    if text == "":
        return _MISSING
    if re.fullmatch(r"[+-]?\d+(?:\.0+)?", text):
        return int(float(text))
    if re.fullmatch(r"[+-]?\d*\.\d+", text):
        return float(text)
    return text


def recode_items(
    frame: pd.DataFrame, coding: Mapping[object, int], *, missing_codes: tuple[object, ...] = DEFAULT_MISSING_CODES
) -> pd.DataFrame:
    """Map source codes or text labels to canonical item values (nullable Int64, same index and columns).

    `coding` maps source values to canonical ones, e.g. ``{1: 0, 2: 1, 3: 2, 4: 3}`` (Qualtrics 1-4 -> PHQ 0-3),
    a reversed ``{1: 3, 2: 2, 3: 1, 4: 0}``, or labels ``{"Not at all": 0, ...}`` (case and spacing ignored;
    ``"2"``, ``2`` and ``2.0`` are the same code). Blank, NA and `missing_codes` (Qualtrics ``-99``) become NA.
    Any other value the coding does not map becomes ``UNMAPPED`` (-9999): count them with `count_unmapped`, then
    `mask_unmapped` to treat them as missing; `score_instrument` refuses frames that still hold the marker.
    """
    lookup: dict[object, int] = {}
    for k, v in coding.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise InstrumentError("recode_items: coding values must be integers")
        key = _key(k)
        if key is _MISSING:
            raise InstrumentError("recode_items: coding keys must not be blank or NA")
        lookup[key] = int(v)
    missing = {_key(m) for m in missing_codes} - set(lookup)
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        # factorize: each distinct source value is interpreted once, then broadcast (fast on large frames)
        codes, uniques = pd.factorize(frame[col].astype("object"), use_na_sentinel=True)
        lut = np.zeros(len(uniques) + 1, dtype="int64")
        lut_na = np.ones(len(uniques) + 1, dtype=bool)  # the extra last slot serves NA (code -1)
        for i, u in enumerate(uniques):
            k = _key(u)
            if k is not _MISSING and k not in missing:
                lut[i] = lookup.get(k, UNMAPPED)
                lut_na[i] = False
        idx = np.where(codes < 0, len(uniques), codes)
        out[col] = pd.arrays.IntegerArray(lut[idx], lut_na[idx])
    return out


def count_unmapped(frame: pd.DataFrame) -> pd.Series:
    """Per column, how many cells hold the UNMAPPED marker."""
    return pd.Series({c: int((frame[c] == UNMAPPED).fillna(False).sum()) for c in frame.columns}, dtype="int64")


def mask_unmapped(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with UNMAPPED markers turned into NA (count them first)."""
    return frame.mask(frame == UNMAPPED)


# --------------------------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------------------------


def _as_matrix(inst: Instrument, items: pd.DataFrame, registry: Mapping[str, Instrument]) -> np.ndarray:
    if not isinstance(items, pd.DataFrame):
        raise InstrumentError(f"{inst.name}: items must be a pandas DataFrame")
    frame = items
    if frame.shape[1] != inst.items:
        parent = inst.derived_from
        if parent is not None and frame.shape[1] == get_instrument(parent.instrument, registry).items:
            frame = frame.iloc[:, [i - 1 for i in parent.items]]
        else:
            raise InstrumentError(f"{inst.name}: expected {inst.items} item columns, got {frame.shape[1]}")
    lo, hi = inst.item_range
    cols = []
    for col in frame.columns:
        try:
            values = pd.to_numeric(frame[col], errors="raise")
        except (TypeError, ValueError):
            raise InstrumentError(f"{inst.name}: column {col!r} is not numeric (recode it first)") from None
        arr = pd.array(values, dtype="Float64").to_numpy(dtype="float64", na_value=np.nan)
        present = ~np.isnan(arr)
        n_unmapped = int(np.sum(arr[present] == UNMAPPED))
        if n_unmapped:
            raise InstrumentError(
                f"{inst.name}: column {col!r} holds {n_unmapped} UNMAPPED value(s); "
                "count them with count_unmapped() and mask_unmapped() before scoring"
            )
        bad = int(np.sum((arr[present] < lo) | (arr[present] > hi) | (arr[present] != np.round(arr[present]))))
        if bad:
            raise InstrumentError(
                f"{inst.name}: column {col!r} has {bad} value(s) outside the item range {lo}..{hi} or not whole numbers"
            )
        cols.append(arr)
    return np.column_stack(cols) if cols else np.empty((len(frame), 0))


def _sum_with_proration(block: np.ndarray, max_missing: int) -> tuple[np.ndarray, np.ndarray]:
    """Row sums (NaN where too many are missing) and whether each was prorated."""
    n = block.shape[1]
    n_missing = np.isnan(block).sum(axis=1)
    sums = np.nansum(block, axis=1)
    answered = n - n_missing
    with np.errstate(invalid="ignore", divide="ignore"):
        prorated_values = np.where(answered > 0, sums / np.maximum(answered, 1) * n, np.nan)
    ok = n_missing <= max_missing
    total = np.where(n_missing == 0, sums, np.where(ok & (answered > 0), prorated_values, np.nan))
    prorated = (n_missing > 0) & ok & (answered > 0)
    return total, prorated


def _bands(values: np.ndarray, bands: list[Band]) -> pd.api.extensions.ExtensionArray:
    mins = np.array([b.min for b in bands], dtype="float64")
    labels = np.array([b.label for b in bands], dtype=object)
    out = np.full(values.shape, None, dtype=object)
    ok = ~np.isnan(values)
    idx = np.searchsorted(mins, values[ok], side="right") - 1
    picked = np.where(idx >= 0, labels[np.clip(idx, 0, None)], None)
    out[ok] = picked
    return pd.array(out, dtype="string")


def _num_col(values: np.ndarray, integer: bool) -> pd.api.extensions.ExtensionArray:
    mask = np.isnan(values)
    if integer:
        return pd.arrays.IntegerArray(np.where(mask, 0, np.rint(np.where(mask, 0, values))).astype("int64"), mask)
    return pd.arrays.FloatingArray(np.where(mask, 0.0, values).astype("float64"), mask)


def _flag_col(prorated: np.ndarray, values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    return pd.arrays.BooleanArray(np.asarray(prorated, dtype=bool), np.isnan(values))


def score_instrument(
    name: str, items: pd.DataFrame, *, registry: Mapping[str, Instrument] | None = None
) -> pd.DataFrame:
    """Scores for one instrument, one row per input row (same index).

    `items` holds the instrument's items in questionnaire order as columns (names are not used), already recoded
    to the canonical item range, missing = NA. Returns the columns listed by `score_columns(name)`: e.g.
    ``phq9_total`` / ``phq9_band`` / ``phq9_prorated``; ``dass21_depression_raw`` / ``dass21_depression_x2`` /
    ``dass21_depression_band`` / ``dass21_depression_prorated``; ``swemwbs_raw`` / ``swemwbs_metric``.
    """
    registry = load_instruments() if registry is None else registry
    inst = get_instrument(name, registry)
    m = _as_matrix(inst, items, registry)
    p = inst.column_prefix
    integer = inst.proration.max_missing == 0
    out = pd.DataFrame(index=items.index)
    if inst.scoring == "sum":
        total, prorated = _sum_with_proration(m, inst.proration.max_missing)
        out[f"{p}_total"] = _num_col(total, integer)
        if inst.bands:
            out[f"{p}_band"] = _bands(total, inst.bands)
        out[f"{p}_prorated"] = _flag_col(prorated, total)
    elif inst.scoring == "sum_subscales":
        for sub_name, sub in inst.subscales.items():
            block = m[:, [i - 1 for i in sub.items]]
            raw, prorated = _sum_with_proration(block, min(inst.proration.max_missing, len(sub.items) - 1))
            out[f"{p}_{sub_name}_raw"] = _num_col(raw, integer)
            scaled = raw * sub.multiplier
            if sub.multiplier != 1:
                out[f"{p}_{sub_name}_{sub.scaled_suffix or _suffix(sub.multiplier)}"] = _num_col(
                    scaled, integer and float(sub.multiplier).is_integer()
                )
            if sub.bands:
                out[f"{p}_{sub_name}_band"] = _bands(scaled, sub.bands)
            out[f"{p}_{sub_name}_prorated"] = _flag_col(prorated, raw)
    elif inst.scoring == "max_domains":
        domains = []
        for items_ in inst.domains.values():
            block = m[:, [i - 1 for i in items_]]
            any_missing = np.isnan(block).any(axis=1)
            with np.errstate(invalid="ignore"):
                dmax = np.where(any_missing, np.nan, np.nanmax(np.where(np.isnan(block), -np.inf, block), axis=1))
            domains.append(dmax)
        dm = np.column_stack(domains)
        total, prorated = _sum_with_proration(dm, inst.proration.max_missing)
        out[f"{p}_total"] = _num_col(total, integer)
        if inst.bands:
            out[f"{p}_band"] = _bands(total, inst.bands)
        out[f"{p}_prorated"] = _flag_col(prorated, total)
    elif inst.scoring == "sum_with_conversion":
        raw, prorated = _sum_with_proration(m, inst.proration.max_missing)
        # A prorated raw total is rounded half up before conversion: the published table has whole totals only.
        raw_whole = np.where(np.isnan(raw), np.nan, np.floor(raw + 0.5))
        table = inst.conversion
        lut = np.full(max(table) + 2, np.nan)
        for k, v in table.items():
            if k >= 0:
                lut[k] = v
        ok = ~np.isnan(raw_whole)
        metric = np.full(raw_whole.shape, np.nan)
        metric[ok] = lut[np.clip(raw_whole[ok].astype("int64"), 0, len(lut) - 1)]
        out[f"{p}_raw"] = _num_col(raw if not integer else raw_whole, integer)
        out[f"{p}_metric"] = _num_col(metric, False)
        out[f"{p}_prorated"] = _flag_col(prorated, raw)
    return out


def safety_item_declarations(registry: Mapping[str, Instrument] | None = None) -> list[tuple[str, SafetyItem]]:
    """(instrument name, safety item) for every declared safety item, in declaration order."""
    registry = load_instruments() if registry is None else registry
    return [(inst.name, s) for inst in registry.values() for s in inst.safety_items]
