"""Pure domain logic (no Dagster): dose parsing and bands, protocols, instrument scoring, safety flags.

Everything here is a plain function over plain values or pandas frames so it can be tested with pytest and reused
by the CLI. Tables that researchers may need to change (protocol aliases, instrument declarations, medication
names) live in YAML files beside these modules, shipped as package data. Import the module you need
(`pipelines.domain.dose`, ...): the package itself imports nothing, so that the CLI can read a vocabulary without
loading pandas.
"""
