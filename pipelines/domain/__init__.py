"""Pure domain logic (no Dagster): dose parsing and bands, protocols, instrument scoring, safety flags.

Everything here is a plain function over plain values or pandas frames so it can be tested with pytest and reused
by the CLI. Tables that researchers may need to change (protocol aliases, instrument declarations, medication
names) live in YAML files beside these modules, shipped as package data.
"""

from pipelines.domain.dose import DoseResult, parse_dose
from pipelines.domain.dose_bands import DoseBands, dose_band
from pipelines.domain.instruments import instrument_items, item_range, recode_items, score_instrument
from pipelines.domain.protocol import ProtocolResult, normalise_protocol, stack_components_from_codes
from pipelines.domain.safety import classify_medications, safety_flags

__all__ = [
    "DoseBands",
    "DoseResult",
    "ProtocolResult",
    "classify_medications",
    "dose_band",
    "instrument_items",
    "item_range",
    "normalise_protocol",
    "parse_dose",
    "recode_items",
    "safety_flags",
    "score_instrument",
    "stack_components_from_codes",
]
