"""Response dates as exported (ISO) or as a spreadsheet re-saved them (`7/20/2016 12:49`), parsed without guessing.

Readers keep dates as text (`__recorded`); this pure function turns them into datetimes where the pipeline needs
them. The decision: an ambiguous date is an error, never a guess. With `day_first=None`, a slash date is accepted
only when its order cannot be in doubt (`20/7/2016`, `7/20/2016`, `7/7/2016`); `7/8/2016` raises. Every value is
judged on its own: one unambiguous row does not decide the others, because files merged from two spreadsheets can
mix orders. Set `day_first` (from the study mapping) to read a whole column in one order; a value that is then
impossible (`7/20/2016` day-first) raises too.

Accepted layouts: `YYYY-MM-DD[ T]HH:MM[:SS[.fff]]` with an optional `Z`/`±HH:MM` (converted to UTC, then
naive; times without an offset are kept as written), `YYYY/MM/DD [time]`, `D/M/YYYY` or `M/D/YYYY` (also with
`.` or `-`, two-digit years read as 20YY) with optional `H:MM[:SS]` and `AM`/`PM`, and dates with the month
written as a name, which are never ambiguous: `Apr 1, 2018 12:00:00 AM` (ODK Briefcase), `1 April 2018`,
`01-Apr-2018 09:15`. A study's `date_format` (a strftime layout such as `%d.%m.%Y %H:%M`) reads the whole column
in that one layout instead. Blanks become NaT.
Errors are DateParseError (an ExportReadError): counts, the first source row and the expectation, never a value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.readers.errors import ExportReadError

_TIME = r"(?:[T ]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<F>\d{1,9}))?)?\s*(?P<AP>[AaPp]\.?[Mm]\.?)?)?"
_ISO = r"^(?P<Y>\d{4})[-/](?P<a>\d{1,2})[-/](?P<b>\d{1,2})" + _TIME + r"\s*(?P<Z>Z|[+-]\d{2}:?\d{2})?$"
_SLASH = r"^(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-](?P<Y>\d{4}|\d{2})" + _TIME + r"$"
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MON = r"(?P<mon>(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*)\.?"
_NAMED_TIME = r"(?:[ ,T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?\s*(?P<AP>[ap]\.?m\.?)?)?$"
_MONTH_FIRST = r"^" + _MON + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<Y>\d{4})" + _NAMED_TIME
_DAY_FIRST = r"^(?P<d>\d{1,2})(?:st|nd|rd|th)?[\s-]+" + _MON + r"[\s,-]+(?P<Y>\d{4})" + _NAMED_TIME


def _named_months(text: pd.Series) -> pd.Series:
    """Dates with a month name rewritten as ISO text (24-hour clock), vectorised; other values unchanged."""
    lower = text.str.lower()
    for pattern in (_MONTH_FIRST, _DAY_FIRST):
        parts = lower.str.extract(pattern)
        hit = parts["Y"].notna()
        if not hit.any():
            continue
        month = parts["mon"].str[:3].map({m: i for i, m in enumerate(_MONTHS, start=1)})
        hour = _num(parts["H"]).fillna(0)
        ampm = parts["AP"].fillna("").str.replace(".", "", regex=False)
        hour = hour.mask((ampm == "pm") & (hour < 12), hour + 12).mask((ampm == "am") & (hour == 12), 0)
        hour = hour.mask((ampm != "") & ((hour < 0) | (hour > 23)), 99)  # left to fail as an invalid time
        iso = (
            parts["Y"]
            + "-"
            + month.astype("Int64").astype("string").str.zfill(2)
            + "-"
            + parts["d"].str.zfill(2)
            + " "
            + hour.astype("Int64").astype("string").str.zfill(2)
            + ":"
            + parts["M"].fillna("00")
            + ":"
            + parts["S"].fillna("00")
        )
        text = text.mask(hit & iso.notna(), iso)
    return text


class DateParseError(ExportReadError):
    """Dates that cannot be read without guessing; `.rows` holds the index labels of the offending rows."""

    def __init__(self, file_name: str, problem: str, *, rows: list, line: int | None, expected: str):
        self.rows = rows
        super().__init__(file_name, problem, line=line, expected=expected)


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce")


def _iso_fast_path(text: pd.Series) -> pd.Series | None:
    """Machine-written exports use one ISO layout throughout: parse it in C; anything else takes the full path."""
    blank = text == ""
    for layout in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        parsed = pd.to_datetime(text.mask(blank), format=layout, errors="coerce")
        if bool((parsed.notna() | blank).all()):
            return parsed.astype("datetime64[ns]")
    return None


def parse_response_dates(
    series: pd.Series,
    *,
    day_first: bool | None,
    file_name: str = "dates",
    source_rows: pd.Series | None = None,
    date_format: str | None = None,
) -> pd.Series:
    """Text dates to datetime64 (NaT for blanks); DateParseError for ambiguous, invalid or unknown layouts.

    `file_name` and `source_rows` (the reader's `__row`) only word the error: which file and which record.
    `date_format`, when the study gives one, is the only layout accepted.
    """
    text = series.astype("string").fillna("").str.strip()
    column = f"column {series.name}" if series.name is not None else "the date column"
    if date_format is not None:
        blank = text == ""
        parsed = pd.to_datetime(text.mask(blank), format=date_format, errors="coerce").astype("datetime64[ns]")
        bad = ~blank & parsed.isna()
        if bad.any():
            labels = list(series.index[bad.to_numpy()])
            line = int(source_rows[bad].iloc[0]) if source_rows is not None else None
            raise DateParseError(
                file_name,
                f"{len(labels)} value(s) in {column} do not match the study's date_format",
                rows=labels,
                line=line,
                expected=f"dates written as {date_format}",
            )
        return pd.Series(parsed.to_numpy(dtype="datetime64[ns]"), index=series.index, name=series.name)
    fast = _iso_fast_path(text)
    if fast is not None:
        return fast
    text = _named_months(text)

    def fail(mask: pd.Series, problem: str, expected: str) -> DateParseError:
        labels = list(series.index[mask.to_numpy()])
        line = int(source_rows[mask].iloc[0]) if source_rows is not None else None
        return DateParseError(
            file_name, f"{len(labels)} value(s) in {column} {problem}", rows=labels, line=line, expected=expected
        )

    iso = text.str.extract(_ISO)
    slash = text.str.extract(_SLASH)
    is_iso = iso["Y"].notna()
    is_slash = slash["Y"].notna() & ~is_iso
    blank = text == ""
    unknown = ~(is_iso | is_slash | blank)
    if unknown.any():
        raise fail(
            unknown,
            "are not dates in a known layout",
            "ISO dates (2016-07-20 12:49:05), spreadsheet dates (7/20/2016 12:49), dates with a month name "
            "(Apr 1, 2018 12:00:00 AM), or the layout given as `date_format` in the study mapping",
        )

    parts = iso.where(is_iso, slash)
    year = _num(parts["Y"])
    year = year.where(year >= 100, year + 2000)
    a, b = _num(parts["a"]), _num(parts["b"])
    month, day = a.copy(), b.copy()  # ISO: year, month, day
    if is_slash.any():
        if day_first is None:
            swap_free = (a == b) | (a > 12) | (b > 12)
            ambiguous = is_slash & ~swap_free
            if ambiguous.any():
                raise fail(
                    ambiguous,
                    "are ambiguous: day and month could be either way round",
                    "`date_order: day_first` or `date_order: month_first` in the study mapping, or dates with a day "
                    "above 12",
                )
            dmy = is_slash & (a > 12)
        else:
            dmy = is_slash & bool(day_first)
        mdy = is_slash & ~dmy
        day = day.mask(dmy, a).mask(mdy, b)
        month = month.mask(dmy, b).mask(mdy, a)

    hour = _num(parts["H"]).fillna(0)
    ampm = parts["AP"].str.lower().str.replace(".", "", regex=False).fillna("").astype(str)
    bad_clock = (ampm != "") & ((hour < 1) | (hour > 12))
    hour = hour.mask((ampm == "pm") & (hour < 12), hour + 12).mask((ampm == "am") & (hour == 12), 0)
    minute = _num(parts["M"]).fillna(0)
    second = _num(parts["S"]).fillna(0)
    filled = ~blank
    invalid = filled & (
        (month < 1) | (month > 12) | (day < 1) | (day > 31) | (hour > 23) | (minute > 59) | (second > 59) | bad_clock
    ).fillna(True)
    ok = (filled & ~invalid).to_numpy(dtype=bool)
    stamp = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    if ok.any():
        parts_ok = pd.DataFrame(
            {"year": year, "month": month, "day": day, "hour": hour, "minute": minute, "second": second}
        )[ok].astype("int64")
        stamp[ok] = pd.to_datetime(parts_ok, errors="coerce").astype("datetime64[ns]")
    invalid |= filled & stamp.isna()
    if invalid.any():
        order = {None: "", True: " as day-first dates", False: " as month-first dates"}[day_first]
        raise fail(invalid, f"are not valid dates{order}", "real calendar dates and times")

    fraction = _num(parts["F"].fillna("").str.ljust(9, "0")).fillna(0).astype("int64")
    stamp = stamp + pd.to_timedelta(fraction.to_numpy(), unit="ns")
    zone = iso["Z"].where(is_iso)
    if zone.notna().any():
        z = zone.fillna("").str.replace(":", "", regex=False)
        sign = np.where(z.str.startswith("-"), -1, 1)
        minutes = (_num(z.str[1:3]).fillna(0) * 60 + _num(z.str[3:5]).fillna(0)) * sign
        stamp = stamp - pd.to_timedelta(minutes.where(z.str.len() == 5, 0), unit="min")
    out = pd.Series(stamp.to_numpy(dtype="datetime64[ns]"), index=series.index, name=series.name)
    return out
