"""Per-substance dose bands, configurable per study (domain.md section 1).

Each substance has three upper bounds in its canonical unit (g dried mushroom, ug LSD):

=============  =============================================  ==================  =========
band           rule                                           psilocybin default  LSD default
=============  =============================================  ==================  =========
very_low       amount < very_low                              < 0.1               < 5
standard       very_low <= amount <= standard                 0.1 - 0.3           5 - 10
high_micro     standard < amount <= high_micro                > 0.3 - 0.5         > 10 - 20
above_micro    amount > high_micro (not a microdose: flag it)  > 0.5               > 20
unknown        no amount (unparseable, ambiguous, missing)
=============  =============================================  ==================  =========

A study YAML overrides any subset, e.g. ``{"lsd": {"standard": 12}}``; keys not given keep their defaults.
``lsd_analogue`` (1P-LSD, ALD-52, AL-LAD) follows ``lsd`` unless it is overridden itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from pipelines.domain.dose import canonical_substance
from pipelines.domain.vocabulary import SUBSTANCES

BAND_NAMES: tuple[str, ...] = ("very_low", "standard", "high_micro", "above_micro", "unknown")
_BOUND_KEYS: tuple[str, ...] = ("very_low", "standard", "high_micro")


class DoseBandsError(ValueError):
    """A band configuration is invalid; the message names the offending key (never a participant value)."""


@dataclass(frozen=True)
class SubstanceBands:
    """Upper bounds of very_low (exclusive), standard and high_micro (inclusive), in the canonical unit."""

    very_low: float
    standard: float
    high_micro: float

    def __post_init__(self) -> None:
        if not (0 < self.very_low < self.standard < self.high_micro):
            raise DoseBandsError("bands must increase: 0 < very_low < standard < high_micro")

    def band(self, amount: float) -> str:
        if amount < self.very_low:
            return "very_low"
        if amount <= self.standard:
            return "standard"
        if amount <= self.high_micro:
            return "high_micro"
        return "above_micro"


_DEFAULTS: dict[str, dict[str, float]] = {
    "psilocybin_mushrooms": {"very_low": 0.1, "standard": 0.3, "high_micro": 0.5},
    "lsd": {"very_low": 5.0, "standard": 10.0, "high_micro": 20.0},
}


def _bound(substance: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise DoseBandsError(f"dose bands: {substance}.{key}: must be a positive finite number")
    return float(value)


@dataclass(frozen=True, eq=False)
class DoseBands:
    """Bands for every canonical substance; build with `DoseBands.from_dict(study_yaml_section)`."""

    substances: Mapping[str, SubstanceBands] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DoseBands) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(tuple(sorted((s, tuple(v.items())) for s, v in self.to_dict().items())))

    def __post_init__(self) -> None:
        if not self.substances:
            object.__setattr__(self, "substances", DoseBands.from_dict(None).substances)
        object.__setattr__(self, "substances", MappingProxyType(dict(self.substances)))

    @classmethod
    def from_dict(cls, overrides: Mapping[str, Mapping[str, float]] | None = None) -> DoseBands:
        """Defaults from domain.md, with `overrides` (substance -> {band: upper bound}) applied per key."""
        overrides = {} if overrides is None else overrides
        if not isinstance(overrides, Mapping):
            raise DoseBandsError("dose bands: expected a mapping of substance -> {band: upper bound}")
        for sub, spec in overrides.items():
            if sub not in SUBSTANCES:
                raise DoseBandsError(f"dose bands: {sub}: unknown substance (expected one of {', '.join(SUBSTANCES)})")
            if not isinstance(spec, Mapping):
                raise DoseBandsError(f"dose bands: {sub}: expected a mapping of band -> upper bound")
            for key in spec:
                if key not in _BOUND_KEYS:
                    raise DoseBandsError(
                        f"dose bands: {sub}.{key}: unknown band key (expected {', '.join(_BOUND_KEYS)})"
                    )
        merged: dict[str, dict[str, float]] = {s: dict(v) for s, v in _DEFAULTS.items()}
        for sub in ("psilocybin_mushrooms", "lsd"):
            for key, value in overrides.get(sub, {}).items():
                merged[sub][key] = _bound(sub, key, value)
        merged["lsd_analogue"] = dict(merged["lsd"])
        for key, value in overrides.get("lsd_analogue", {}).items():
            merged["lsd_analogue"][key] = _bound("lsd_analogue", key, value)
        out: dict[str, SubstanceBands] = {}
        for sub, spec in merged.items():
            try:
                out[sub] = SubstanceBands(**spec)
            except DoseBandsError as exc:
                raise DoseBandsError(f"dose bands: {sub}: {exc}") from None
        return cls(out)

    #: the name the study loader uses (`DoseBands.from_config(study.dose.bands)`)
    from_config = from_dict

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {
            s: {"very_low": b.very_low, "standard": b.standard, "high_micro": b.high_micro}
            for s, b in self.substances.items()
        }

    def for_substance(self, substance: str) -> SubstanceBands | None:
        canon = canonical_substance(substance)
        return None if canon is None else self.substances.get(canon)


def dose_band(substance: str | None, amount: float | None, bands: DoseBands | Mapping | None = None) -> str:
    """The band name for one normalised amount; `unknown` when there is no amount or no known substance."""
    if amount is None or substance is None:
        return "unknown"
    try:
        value = float(amount)
    except (TypeError, ValueError):
        return "unknown"
    if not math.isfinite(value) or value < 0:
        return "unknown"
    if bands is None or isinstance(bands, Mapping):
        bands = _coerce(bands)
    spec = bands.for_substance(substance)
    return "unknown" if spec is None else spec.band(value)


_DEFAULT_BANDS: DoseBands | None = None


def _coerce(bands: Mapping | None) -> DoseBands:
    global _DEFAULT_BANDS
    if bands is None:
        if _DEFAULT_BANDS is None:
            _DEFAULT_BANDS = DoseBands.from_dict(None)
        return _DEFAULT_BANDS
    return DoseBands.from_dict(bands)


def coerce_bands(bands: DoseBands | Mapping | None) -> DoseBands:
    """A DoseBands from an instance, a study-YAML mapping or None (defaults)."""
    return bands if isinstance(bands, DoseBands) else _coerce(bands)
