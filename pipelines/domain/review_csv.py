"""Batch parsing of a CSV of free-text answers (a review tool for researchers), and JSON-ready results for the CLI.

`parse-dose --file` and `parse-protocol --file` both come here: each distinct input is parsed once, the result
columns are added beside the input's own, and the file is written formula-safe. Why formula-safe: the output is
opened in spreadsheets, and a free-text cell such as ``=HYPERLINK(...)`` would run as a formula. Every text cell that
starts with ``= + - @``, TAB or CR is written with a leading single quote (OWASP CSV-injection advice). The numbers
the parsers produce are never negative and are written as plain numbers.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from pipelines.domain.dose import DoseResult, canonical_substance, parse_dose
from pipelines.domain.dose_bands import DoseBands, coerce_bands, dose_band
from pipelines.domain.protocol import ProtocolResult, normalise_protocol

DOSE_INPUT: tuple[str, ...] = ("substance", "text")
DOSE_RESULTS: tuple[str, ...] = (
    "amount",
    "unit",
    "status",
    "reason",
    "band",
    "range_low",
    "range_high",
    "likely_amount",
)
PROTOCOL_INPUT: tuple[str, ...] = ("text",)
PROTOCOL_RESULTS: tuple[str, ...] = ("protocol", "days_on", "days_off", "per_week", "matched_by")
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


class ReviewFileError(ValueError):
    """The input file cannot be processed; names the file and the problem, never a cell value."""


def formula_safe(cell: str) -> str:
    """Prefix a single quote to a cell a spreadsheet would read as a formula."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


def _number(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else repr(float(value))


def _dose_row(result: DoseResult, band: str) -> dict[str, str]:
    return {
        "amount": _number(result.amount),
        "unit": result.unit or "",
        "status": result.status,
        "reason": result.reason,
        "band": band,
        "range_low": _number(result.range_low),
        "range_high": _number(result.range_high),
        "likely_amount": _number(result.likely_amount),
    }


def _protocol_row(result: ProtocolResult) -> dict[str, str]:
    return {
        "protocol": result.protocol,
        "days_on": _number(result.days_on),
        "days_off": _number(result.days_off),
        "per_week": _number(result.per_week),
        "matched_by": result.matched_by,
    }


_NUMERIC = frozenset({"amount", "range_low", "range_high", "likely_amount", "days_on", "days_off", "per_week"})


def _read(in_path: Path, required: tuple[str, ...], results: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(in_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise ReviewFileError(f"{in_path}: file not found") from None
    except pd.errors.EmptyDataError:
        raise ReviewFileError(f"{in_path}: empty file (no header row)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ReviewFileError(f"{in_path}: not a readable UTF-8 CSV ({type(exc).__name__})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ReviewFileError(f"{in_path}: missing required column(s): {', '.join(missing)}")
    clash = [c for c in results if c in frame.columns]
    if clash:
        raise ReviewFileError(f"{in_path}: already has result column(s): {', '.join(clash)}")
    return frame


def _annotate(
    in_path: str | Path,
    out_path: str | Path,
    required: tuple[str, ...],
    result_columns: tuple[str, ...],
    parse: Callable[..., dict[str, str]],
    count_by: str,
) -> dict[str, int]:
    """Write `in_path` to `out_path` with the result columns added; each distinct input parsed once. Returns the
    number of rows per value of the `count_by` result column."""
    in_path, out_path = Path(in_path), Path(out_path)
    frame = _read(in_path, required, result_columns)
    results = {key: parse(*key) for key in frame[list(required)].drop_duplicates().itertuples(index=False, name=None)}
    counts: Counter[str] = Counter()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(frame.columns) + list(result_columns)
    keys = [list(frame.columns).index(c) for c in required]
    with out_path.open("w", encoding="utf-8", newline="") as fh:
        # RFC 4180 line ends: with "\r\n" the writer also quotes any cell holding a bare CR or LF
        writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        writer.writerow([formula_safe(c) for c in columns])
        for row in frame.itertuples(index=False, name=None):
            res = results[tuple(row[i] for i in keys)]
            counts[res[count_by]] += 1
            cells = [formula_safe(str(v)) for v in row]
            cells += [res[c] if c in _NUMERIC else formula_safe(res[c]) for c in result_columns]
            writer.writerow(cells)
    return dict(counts)


def parse_dose_file(
    in_path: str | Path,
    out_path: str | Path,
    *,
    tab_strength_ug: float = 100.0,
    bands: DoseBands | Mapping | None = None,
) -> dict[str, int]:
    """A CSV with `substance` and `text` columns, written back with the dose result columns. Rows per status."""
    resolved = coerce_bands(bands)

    def one(substance: str, text: str) -> dict[str, str]:
        r = parse_dose(substance, text, tab_strength_ug=tab_strength_ug)
        return _dose_row(r, dose_band(substance, r.amount, resolved))

    return _annotate(in_path, out_path, DOSE_INPUT, DOSE_RESULTS, one, "status")


def parse_protocol_file(in_path: str | Path, out_path: str | Path) -> dict[str, int]:
    """A CSV with a `text` column of schedule answers, written back with the protocol result columns. Rows per
    protocol."""
    return _annotate(
        in_path,
        out_path,
        PROTOCOL_INPUT,
        PROTOCOL_RESULTS,
        lambda text: _protocol_row(normalise_protocol(None, text)),
        "protocol",
    )


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
        "likely_amount": r.likely_amount,
    }


def protocol_result_json(text: str | None) -> dict[str, object]:
    """One schedule answer parsed, for the CLI; the input text is not echoed."""
    r = normalise_protocol(None, text)
    return {
        "protocol": r.protocol,
        "days_on": r.days_on,
        "days_off": r.days_off,
        "per_week": r.per_week,
        "matched_by": r.matched_by,
    }
