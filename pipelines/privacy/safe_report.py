"""The one place that turns validation failures into reports: it only ever keeps row numbers, column names and
check names.

pandera's `SchemaErrors` carries the failing values (`failure_cases.failure_case`) and its message quotes them.
Both are dropped here, before anything leaves the validation stage, so no log line, exception, Dagster metadata
or quarantine row can hold a participant's value.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
from pandera.errors import SchemaErrors

_SAFE_COLUMNS = ["index", "column", "check"]


@dataclass(frozen=True)
class Failure:
    """One failing cell (or row): its position and the check's name, no value."""

    index: int | None
    column: str
    check: str


def failures_from(errors: SchemaErrors) -> list[Failure]:
    """Value-free failures from a lazy pandera validation."""
    cases = errors.failure_cases
    safe = cases.loc[:, [c for c in _SAFE_COLUMNS if c in cases.columns]].copy()
    del cases
    out = []
    for index, column, check in safe.itertuples(index=False, name=None):
        out.append(
            Failure(
                None if index is None or pd.isna(index) else int(index),
                "(table)" if column is None or pd.isna(column) else str(column),
                _check_name(check),
            )
        )
    return out


def _check_name(check) -> str:
    # Our checks are all named; pandera's built-in ones are named after the check and its (config) arguments.
    text = str(check)
    return text.split("(", 1)[0] if "(" in text else text


@dataclass
class FailureTally:
    """Counts per column and check, accumulated over the chunks of one file."""

    counts: Counter = field(default_factory=Counter)

    def add(self, column: str, check: str, n: int = 1) -> None:
        self.counts[(column, check)] += n

    def as_metadata(self) -> dict[str, int]:
        return {f"{column} · {check}": n for (column, check), n in sorted(self.counts.items())}

    def total(self) -> int:
        return sum(self.counts.values())


class WithheldError(RuntimeError):
    """An unexpected error whose own message may quote data: only its type and the stage are kept."""


def value_free_message(exc: BaseException, *, file_name: str, stage: str, safe_types: tuple[type, ...]) -> str:
    """The message to log, store and show for `exc`.

    Our own error types build their messages from file names, positions and expectations only, so they pass as
    they are. Anything else (a library's ValueError may quote the text it could not parse) is reduced to its type.
    """
    if isinstance(exc, safe_types):
        return str(exc)
    return (
        f"{file_name}: unexpected {type(exc).__name__} while {stage} "
        "(details withheld because they may contain survey data; rerun with a synthetic file to debug)"
    )
