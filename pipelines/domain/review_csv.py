"""Batch dose parsing for a CSV (a review tool for researchers) and a JSON-ready result for the CLI.

Why formula-safe output: the output is opened in spreadsheets, and a free-text cell such as ``=HYPERLINK(...)``
would run as a formula. Every text cell that starts with ``= + - @``, TAB or CR is written with a leading single
quote (OWASP CSV-injection advice). The numbers this module produces itself (amount, range_low, range_high) are
never negative and are written as plain numbers.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from pipelines.domain.dose import DoseResult, canonical_substance, parse_dose
from pipelines.domain.dose_bands import DoseBands, coerce_bands, dose_band

REQUIRED_COLUMNS: tuple[str, ...] = ("substance", "text")
RESULT_COLUMNS: tuple[str, ...] = ("amount", "unit", "status", "reason", "band", "range_low", "range_high")
_NUMERIC_RESULTS = frozenset({"amount", "range_low", "range_high"})
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


class DoseFileError(ValueError):
    """The input file cannot be processed; names the file and the problem, never a cell value."""


def formula_safe(cell: str) -> str:
    """Prefix a single quote to a cell a spreadsheet would read as a formula."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


def _number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _row(result: DoseResult, band: str) -> dict[str, str]:
    return {
        "amount": _number(result.amount),
        "unit": result.unit or "",
        "status": result.status,
        "reason": result.reason,
        "band": band,
        "range_low": _number(result.range_low),
        "range_high": _number(result.range_high),
    }


def parse_dose_file(
    in_path: str | Path,
    out_path: str | Path,
    *,
    tab_strength_ug: float = 100.0,
    bands: DoseBands | Mapping | None = None,
) -> dict[str, int]:
    """Read a CSV with `substance` and `text` columns; write it back with the result columns added.

    Each distinct (substance, text) pair is parsed once. Returns the number of rows per status.
    """
    in_path, out_path = Path(in_path), Path(out_path)
    resolved = coerce_bands(bands)
    try:
        frame = pd.read_csv(in_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise DoseFileError(f"{in_path}: file not found") from None
    except pd.errors.EmptyDataError:
        raise DoseFileError(f"{in_path}: empty file (no header row)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DoseFileError(f"{in_path}: not a readable UTF-8 CSV ({type(exc).__name__})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DoseFileError(f"{in_path}: missing required column(s): {', '.join(missing)}")
    clash = [c for c in RESULT_COLUMNS if c in frame.columns]
    if clash:
        raise DoseFileError(f"{in_path}: already has result column(s): {', '.join(clash)}")

    results: dict[tuple[str, str], dict[str, str]] = {}
    for sub, txt in frame[list(REQUIRED_COLUMNS)].drop_duplicates().itertuples(index=False, name=None):
        r = parse_dose(sub, txt, tab_strength_ug=tab_strength_ug)
        results[(sub, txt)] = _row(r, dose_band(sub, r.amount, resolved))

    statuses: Counter[str] = Counter()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(frame.columns) + list(RESULT_COLUMNS)
    with out_path.open("w", encoding="utf-8", newline="") as fh:
        # RFC 4180 line ends: with "\r\n" the writer also quotes any cell holding a bare CR or LF
        writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        writer.writerow([formula_safe(c) for c in columns])
        for row in frame.itertuples(index=False, name=None):
            record = dict(zip(frame.columns, row))
            res = results[(record["substance"], record["text"])]
            statuses[res["status"]] += 1
            cells = [formula_safe(str(v)) for v in row]
            cells += [res[c] if c in _NUMERIC_RESULTS else formula_safe(res[c]) for c in RESULT_COLUMNS]
            writer.writerow(cells)
    return dict(statuses)


def dose_result_json(
    substance: str, text: str | None, tab_strength_ug: float = 100.0, bands: DoseBands | Mapping | None = None
) -> dict[str, object]:
    """One parse as a JSON-serialisable dict for the CLI; the input text is deliberately not echoed."""
    r = parse_dose(substance, text, tab_strength_ug=tab_strength_ug)
    return {
        "substance": canonical_substance(substance),
        "amount": r.amount,
        "unit": r.unit,
        "status": r.status,
        "reason": r.reason,
        "band": dose_band(substance, r.amount, coerce_bands(bands)),
        "range_low": r.range_low,
        "range_high": r.range_high,
    }
