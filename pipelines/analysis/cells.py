"""The cells every outcome table is reported on: a fixed grid of substance x protocol x dose band x wave, with the
margins `all` (by substance and protocol, by substance and dose band, by substance).

Every cell of the grid is a row whether anyone is in it or not, so which rows exist says nothing about the data.
"""

from __future__ import annotations

from pipelines.domain.dose import DOSE_STATUSES
from pipelines.domain.dose_bands import BAND_NAMES
from pipelines.domain.vocabulary import PROTOCOLS, SUBSTANCES

ALL = "all"
SUBSTANCE_VALUES = (*SUBSTANCES, "unknown")
PROTOCOL_VALUES = (*PROTOCOLS, "unknown")
BAND_VALUES = BAND_NAMES  # includes unknown
STATUS_VALUES = DOSE_STATUSES


def quote(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def values_cte(name: str, values) -> str:
    return f"{name}({name}) AS (VALUES " + ", ".join(f"({quote(v)})" for v in values) + ")"


def grid_sql(dimensions: dict[str, tuple[str, ...]]) -> str:
    """SELECT of the cross product of the given dimensions' values (each a VARCHAR column)."""
    ctes = ", ".join(values_cte(name, values) for name, values in dimensions.items())
    return f"WITH {ctes} SELECT * FROM {', '.join(dimensions)}"


def cell_grid(waves: list[str]) -> str:
    """substance x protocol x dose band x wave, margins included."""
    return grid_sql(
        {
            "substance": SUBSTANCE_VALUES,
            "protocol": (*PROTOCOL_VALUES, ALL),
            "dose_band": (*BAND_VALUES, ALL),
            "wave": tuple(waves),
        }
    )


def outcome_grid(waves: list[str], measures: list[str]) -> str:
    """The cell grid once per measure."""
    return grid_sql(
        {
            "substance": SUBSTANCE_VALUES,
            "protocol": (*PROTOCOL_VALUES, ALL),
            "dose_band": (*BAND_VALUES, ALL),
            "wave": tuple(waves),
            "measure": tuple(measures),
        }
    )


def grouping_sets(*fixed: str) -> str:
    """GROUP BY GROUPING SETS over protocol and dose band, the `fixed` columns in every set."""
    keys = ", ".join(fixed)
    return (
        f"GROUPING SETS ((substance, protocol, dose_band, {keys}), (substance, protocol, {keys}), "
        f"(substance, dose_band, {keys}), (substance, {keys}))"
    )


def margin(column: str) -> str:
    """The grouped column, or `all` on the margin that leaves it out."""
    return f"CASE WHEN grouping({column}) = 1 THEN '{ALL}' ELSE {column} END AS {column}"


def grouping_name(protocol: str = "protocol", dose_band: str = "dose_band") -> str:
    return (
        f"CASE WHEN {protocol} <> '{ALL}' AND {dose_band} <> '{ALL}' THEN 'substance_protocol_dose_band' "
        f"WHEN {protocol} <> '{ALL}' THEN 'substance_protocol' WHEN {dose_band} <> '{ALL}' "
        "THEN 'substance_dose_band' ELSE 'substance' END"
    )
