"""Safety signals researchers must count: risk items, interacting co-medication, non-micro doses, daily dosing.

Why flags are NA rather than False when the input is absent: "we did not ask" must never read as "no risk".

`safety_flags(frame)` reads these canonical columns (any may be absent):

======================  ====================================================  ===========================
input column            meaning                                               output flag
======================  ====================================================  ===========================
``phq9_item9``          PHQ-9 item 9, 0-3 (declared in instruments.yaml)      ``flag_phq9_item9`` (>= 1)
``qids_item12``         QIDS-SR16 item 12, 0-3                                ``flag_qids_item12`` (>= 1)
``medication_classes``  list/tuple/set of classes, or "ssri,lithium" text,    ``flag_lithium``,
                        from `classify_medications`; empty / "none" = none    ``flag_ssri_snri``, ``flag_maoi``
``dose_band``           band from `dose_band`; ``unknown`` counts as NA        ``flag_above_micro``
``protocol``            canonical protocol; ``unknown`` counts as NA           ``flag_daily_dosing``
``days_off``            optional: 0 days off also means daily dosing          (``flag_daily_dosing``)
======================  ====================================================  ===========================

Item values below 0 (Qualtrics ``-99``) or non-numeric count as missing (NA).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from rapidfuzz import fuzz, process

from pipelines.domain.instruments import safety_item_declarations

MEDICATION_CLASSES: tuple[str, ...] = ("lithium", "ssri", "snri", "maoi")
FLAG_COLUMNS: tuple[str, ...] = (
    "flag_phq9_item9",
    "flag_qids_item12",
    "flag_lithium",
    "flag_ssri_snri",
    "flag_maoi",
    "flag_above_micro",
    "flag_daily_dosing",
)


class MedicationTableError(ValueError):
    """The medication table is malformed; the message names the key."""


@dataclass(frozen=True, eq=False)  # hashed by identity: tables are cached keys
class MedicationTable:
    """Spellings per class, parsed from `medications.yaml`."""

    names: Mapping[str, str]  # spelling -> class
    fuzzy_names: tuple[str, ...]  # one-word spellings eligible for typo matching
    ignored: frozenset[str]
    fuzzy_threshold: float
    fuzzy_min_length: int

    @classmethod
    def from_dict(cls, raw: Mapping) -> MedicationTable:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("classes"), Mapping):
            raise MedicationTableError("medication table: expected a top-level `classes` mapping")
        names: dict[str, str] = {}
        for klass, spec in raw["classes"].items():
            if klass not in MEDICATION_CLASSES:
                raise MedicationTableError(
                    f"medication table: classes.{klass}: unknown class "
                    f"(expected one of {', '.join(MEDICATION_CLASSES)})"
                )
            if not isinstance(spec, Mapping) or not isinstance(spec.get("names"), list):
                raise MedicationTableError(f"medication table: classes.{klass}.names: expected a list")
            for n in spec["names"]:
                key = _norm(str(n))
                if key in names and names[key] != klass:
                    raise MedicationTableError(
                        f"medication table: classes.{klass}.names: a spelling is listed under two classes"
                    )
                names[key] = klass
        min_len = int(raw.get("fuzzy_min_length", 6))
        fuzzy = tuple(n for n in names if " " not in n and "-" not in n and len(n) >= min_len)
        return cls(
            names,
            fuzzy,
            frozenset(_norm(str(x)) for x in raw.get("ignored_codes") or ()),
            float(raw.get("fuzzy_threshold", 85)),
            min_len,
        )

    @classmethod
    def load(cls, path: str | Path | None = None) -> MedicationTable:
        if path is None:
            text = resources.files("pipelines.domain").joinpath("medications.yaml").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        return cls.from_dict(yaml.safe_load(text))


@lru_cache(maxsize=1)
def default_medication_table() -> MedicationTable:
    return MedicationTable.load()


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")
    text = re.sub(r"[_]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


@lru_cache(maxsize=4096)
def _classes_in_text(text: str, table: MedicationTable) -> frozenset[str]:
    found: set[str] = set()
    exact_words: set[str] = set()
    for name, klass in table.names.items():
        if re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", text):
            found.add(klass)
            exact_words.update(name.split())
    for word in set(re.findall(r"[a-z][a-z-]+", text)):
        if len(word) < table.fuzzy_min_length or word in exact_words or word in table.names:
            continue
        best = process.extractOne(word, table.fuzzy_names, scorer=fuzz.ratio, score_cutoff=table.fuzzy_threshold)
        if best is not None:
            found.add(table.names[best[0]])
    return frozenset(found)


def classify_medications(
    coded: Iterable[str] | str | None, free_text: str | None, table: MedicationTable | None = None
) -> frozenset[str]:
    """Medication classes ({lithium, ssri, snri, maoi}) named by coded answers and/or free text.

    Coded values may be class names (``ssri``) or drug names; ``none``/``other`` add nothing. Free text is
    matched against generic and brand names with typo tolerance; it is never echoed anywhere.
    """
    table = table or default_medication_table()
    found: set[str] = set()
    if isinstance(coded, str):
        coded = re.split(r"[,;|]", coded)
    for code in coded or ():
        if not isinstance(code, str):
            continue
        c = _norm(code)
        if not c or c in table.ignored:
            continue
        found |= _classes_in_text(c, table)
    if isinstance(free_text, str) and free_text.strip():
        found |= _classes_in_text(_norm(free_text), table)
    return frozenset(found)


# --------------------------------------------------------------------------------------------------------------
# Flags
# --------------------------------------------------------------------------------------------------------------


def _na_flags(n: int) -> pd.api.extensions.ExtensionArray:
    return pd.arrays.BooleanArray(np.zeros(n, dtype=bool), np.ones(n, dtype=bool))


def _threshold_flag(series: pd.Series, minimum: float) -> pd.api.extensions.ExtensionArray:
    values = pd.to_numeric(series.astype("object").where(series.notna(), None), errors="coerce")
    arr = values.to_numpy(dtype="float64", na_value=np.nan)
    missing = np.isnan(arr) | (arr < 0)
    return pd.arrays.BooleanArray(np.where(missing, False, arr >= minimum), missing)


def _classes_of(cell: object) -> frozenset[str] | None:
    """Classes held in one `medication_classes` cell; None when the cell is missing."""
    if cell is None:
        return None
    if isinstance(cell, (list, tuple, set, frozenset, np.ndarray)):
        return frozenset(_norm(str(c)) for c in cell if isinstance(c, str) and _norm(c) not in ("", "none"))
    try:
        if pd.isna(cell):
            return None
    except (TypeError, ValueError):
        pass
    text = _norm(str(cell)).strip("[](){}")
    parts = [p.strip().strip("'\"") for p in re.split(r"[,;|]", text)]
    return frozenset(p for p in parts if p and p != "none")


def safety_flags(frame: pd.DataFrame) -> pd.DataFrame:
    """Boolean (nullable) safety flags, one row per input row; see the module docstring for the inputs."""
    n = len(frame)
    out = pd.DataFrame(index=frame.index)

    declared = {s.flag: s for _, s in safety_item_declarations()}
    for flag in ("flag_phq9_item9", "flag_qids_item12"):
        spec = declared.get(flag)
        if spec is not None and spec.column in frame.columns:
            out[flag] = _threshold_flag(frame[spec.column], spec.min)
        else:
            out[flag] = _na_flags(n)

    if "medication_classes" in frame.columns:
        cache: dict[object, frozenset[str] | None] = {}
        sets = []
        for cell in frame["medication_classes"]:
            key = tuple(cell) if isinstance(cell, (list, np.ndarray)) else cell
            try:
                if key not in cache:
                    cache[key] = _classes_of(cell)
                sets.append(cache[key])
            except TypeError:  # unhashable cell: compute directly
                sets.append(_classes_of(cell))
        missing = np.array([s is None for s in sets], dtype=bool)

        def has(*classes: str) -> pd.api.extensions.ExtensionArray:
            vals = np.array([s is not None and any(c in s for c in classes) for s in sets], dtype=bool)
            return pd.arrays.BooleanArray(vals, missing.copy())

        out["flag_lithium"] = has("lithium")
        out["flag_ssri_snri"] = has("ssri", "snri")
        out["flag_maoi"] = has("maoi")
    else:
        for flag in ("flag_lithium", "flag_ssri_snri", "flag_maoi"):
            out[flag] = _na_flags(n)

    if "dose_band" in frame.columns:
        band = frame["dose_band"].astype("string").str.strip()
        missing = (band.isna() | band.isin(["unknown", ""])).to_numpy(dtype=bool, na_value=True)
        vals = (band == "above_micro").to_numpy(dtype=bool, na_value=False)
        out["flag_above_micro"] = pd.arrays.BooleanArray(vals & ~missing, missing)
    else:
        out["flag_above_micro"] = _na_flags(n)

    has_protocol = "protocol" in frame.columns
    has_days_off = "days_off" in frame.columns
    if has_protocol or has_days_off:
        daily = np.zeros(n, dtype=bool)
        known = np.zeros(n, dtype=bool)
        if has_protocol:
            proto = frame["protocol"].astype("string").str.strip()
            known |= ~(proto.isna() | proto.isin(["unknown", ""])).to_numpy(dtype=bool, na_value=False)
            daily |= (proto == "daily").to_numpy(dtype=bool, na_value=False)
        if has_days_off:
            off = pd.to_numeric(frame["days_off"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            daily |= off == 0
            known |= ~np.isnan(off)
        out["flag_daily_dosing"] = pd.arrays.BooleanArray(daily, ~(known | daily))
    else:
        out["flag_daily_dosing"] = _na_flags(n)
    return out[list(FLAG_COLUMNS)]
