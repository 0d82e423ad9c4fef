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


@dataclass(frozen=True)
class QuarantineVerdict:
    """What a file's quarantine share means under its study's thresholds: "OK", "WARN" or "ERROR"."""

    level: str
    quarantined: int
    validated: int
    warn_above: float
    error_above: float

    @property
    def share(self) -> float:
        return self.quarantined / self.validated if self.validated else 0.0

    def as_metadata(self) -> dict[str, object]:
        return {
            "severity": self.level,
            "quarantined_share": round(self.share, 4),
            "warn_above_share": self.warn_above,
            "error_above_share": self.error_above,
        }

    def message(self, file_name: str) -> str:
        """Why an ERROR file was not loaded, value-free: counts and the thresholds only."""
        return (
            f"{file_name}: {self.quarantined} of {self.validated} validated rows ({self.share:.0%}) failed "
            f"validation, above the study's quality.quarantine_error_share ({self.error_above:.0%}), so nothing "
            "was loaded; the rows_valid check lists the failures by column and check. Fix the mapping or the "
            "export, then run again with --retry-failed"
        )


def quarantine_verdict(quarantined: int, validated: int, quality) -> QuarantineVerdict:
    """ERROR above the study's error share, WARN above its warning share, else OK."""
    share = quarantined / validated if validated else 0.0
    level = (
        "ERROR" if share > quality.quarantine_error_share else "WARN" if share > quality.quarantine_warn_share else "OK"
    )
    return QuarantineVerdict(
        level, quarantined, validated, quality.quarantine_warn_share, quality.quarantine_error_share
    )


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
