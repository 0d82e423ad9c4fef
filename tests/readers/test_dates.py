"""parse_response_dates: ISO and spreadsheet dates; an ambiguous date is an error, never a guess."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.readers.dates import DateParseError, parse_response_dates
from pipelines.readers.errors import ExportReadError


def ts(text):
    return pd.Timestamp(text)


def test_iso_and_resaved_dates():
    s = pd.Series(
        [
            "2017-07-18 08:28:09",
            "7/20/2016 12:49",
            "20/7/2016 12:49",
            "2023-07-31T16:21:36Z",
            "07/31/2023 04:21:36 PM",
            "",
            "2016/07/20",
            "7/7/2016",
            "8/13/23 12:00 AM",
            "2024-05-01T10:00:00.250+02:00",
        ],
        name="RecordedDate",
    )
    out = parse_response_dates(s, day_first=None)
    assert str(out.dtype) == "datetime64[ns]"
    assert out.tolist()[:5] == [
        ts("2017-07-18 08:28:09"),
        ts("2016-07-20 12:49"),
        ts("2016-07-20 12:49"),
        ts("2023-07-31 16:21:36"),
        ts("2023-07-31 16:21:36"),
    ]
    assert pd.isna(out[5])
    assert out[6] == ts("2016-07-20") and out[7] == ts("2016-07-07") and out[8] == ts("2023-08-13 00:00")
    assert out[9] == ts("2024-05-01 08:00:00.250")  # offset converted to UTC


def test_ambiguous_dates_are_an_error_with_rows_not_values():
    s = pd.Series(["20/7/2016 12:49", "7/8/2016 09:15", "9/10/2016 10:00"], index=[10, 11, 12], name="EndDate")
    with pytest.raises(DateParseError) as info:
        parse_response_dates(s, day_first=None, file_name="wave1.csv", source_rows=pd.Series([4, 5, 6], index=s.index))
    error = info.value
    assert isinstance(error, ExportReadError)
    assert error.rows == [11, 12]
    message = str(error)
    assert message.startswith("wave1.csv (line 5)") and "2 value(s) in column EndDate are ambiguous" in message
    assert "`date_order: day_first` or `date_order: month_first` in the study mapping" in message
    for value in ("7/8/2016", "9/10/2016", "20/7/2016"):
        assert value not in message


def test_day_first_decides_and_checks():
    s = pd.Series(["7/8/2016", "20/7/2016"])
    assert parse_response_dates(s, day_first=True).tolist() == [ts("2016-08-07"), ts("2016-07-20")]
    with pytest.raises(DateParseError, match="not valid dates as month-first dates"):
        parse_response_dates(s, day_first=False)
    assert parse_response_dates(pd.Series(["7/8/2016"]), day_first=False).tolist() == [ts("2016-07-08")]


@pytest.mark.parametrize("bad", ["31/31/2016", "2016-02-30", "13:00 yesterday", "7/20/2016 25:00", "Jane"])
def test_invalid_or_unknown_values_are_refused_without_the_value(bad):
    with pytest.raises(DateParseError) as info:
        parse_response_dates(pd.Series(["2016-07-20", bad]), day_first=None)
    assert info.value.rows == [1]
    assert bad not in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Apr 1, 2018 12:00:00 AM", "2018-04-01 00:00:00"),  # ODK Briefcase's SubmissionDate
        ("Apr 1, 2018 1:05:09 PM", "2018-04-01 13:05:09"),
        ("September 30, 2019", "2019-09-30 00:00:00"),
        ("1 April 2018", "2018-04-01 00:00:00"),
        ("01-Apr-2018 09:15", "2018-04-01 09:15:00"),
        ("3rd Dec 2020, 18:30", "2020-12-03 18:30:00"),
    ],
)
def test_a_month_written_as_a_name_is_never_ambiguous(text, expected):
    parsed = parse_response_dates(pd.Series([text, ""]), day_first=None)
    assert str(parsed.iloc[0]) == expected and pd.isna(parsed.iloc[1])


def test_a_named_month_that_is_no_date_is_refused_by_row():
    s = pd.Series(["Apr 31, 2018", "Apr 1, 2018"], index=[4, 5], name="SubmissionDate")
    with pytest.raises(DateParseError) as info:
        parse_response_dates(s, day_first=None, file_name="odk.csv")
    assert info.value.rows == [4] and "column SubmissionDate" in str(info.value) and "Apr 31" not in str(info.value)


def test_a_study_date_format_reads_that_layout_only():
    s = pd.Series(["01.04.2018 10:00", "", "2018-04-01 10:00"], index=[1, 2, 3], name="Datum")
    ok = parse_response_dates(s.iloc[:2], day_first=None, date_format="%d.%m.%Y %H:%M")
    assert str(ok.iloc[0]) == "2018-04-01 10:00:00" and pd.isna(ok.iloc[1])
    with pytest.raises(DateParseError) as info:
        parse_response_dates(s, day_first=None, date_format="%d.%m.%Y %H:%M", file_name="app.csv")
    assert info.value.rows == [3] and "date_format" in str(info.value) and "2018-04-01" not in str(info.value)
