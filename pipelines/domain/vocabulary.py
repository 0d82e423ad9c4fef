"""The project's vocabularies, defined once: substances and their canonical units, protocols, export formats.

A module of plain tuples that imports nothing, so that the CLI (its option choices) and the study configuration
(its validation) can read them without loading the parsers, pandas or the readers.
"""

from __future__ import annotations

SUBSTANCES: tuple[str, ...] = ("psilocybin_mushrooms", "lsd", "lsd_analogue")
CANONICAL_UNIT: dict[str, str] = {"psilocybin_mushrooms": "g", "lsd": "ug", "lsd_analogue": "ug"}
PROTOCOLS: tuple[str, ...] = ("fadiman", "stamets", "every_other_day", "twice_weekly", "daily", "intuitive", "other")
FORMATS: tuple[str, ...] = ("qualtrics_csv", "qualtrics_tsv", "qualtrics_legacy", "qualtrics_2016", "redcap", "generic")
