"""One dynamic partition per landing file, keyed `<study>/<file name>`."""

from __future__ import annotations

import dagster as dg

landing_files = dg.DynamicPartitionsDefinition(name="landing_files")

_FORBIDDEN = (",", "[", "]", "...")


def partition_key(study: str, file_name: str) -> str:
    key = f"{study}/{file_name}"
    if any(bad in key for bad in _FORBIDDEN) or file_name.count("/"):
        raise ValueError(f"{file_name}: file names may not contain , [ ] or ...; rename the file in the landing folder")
    return key


def split_key(key: str) -> tuple[str, str]:
    study, _, file_name = key.partition("/")
    return study, file_name
