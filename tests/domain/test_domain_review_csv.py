"""The review CSV tools (doses and protocols): result columns, formula-safe output, value-free errors; and the CLI's
JSON results."""

from __future__ import annotations

import csv
import json

import pytest

from pipelines.domain.review_csv import (
    DOSE_RESULTS,
    PROTOCOL_RESULTS,
    ReviewFileError,
    dose_result_json,
    formula_safe,
    parse_dose_file,
    parse_protocol_file,
    protocol_result_json,
)


def write(path, rows, header=("id", "substance", "text")):
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def read(path):
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_adds_result_columns_and_parses_each_row(tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out" / "doses.csv"
    write(
        src,
        [
            ["1", "psilocybin_mushrooms", "0.1-0.2g"],
            ["2", "lsd", "1/10 tab"],
            ["3", "lsd", "Oct-15"],
            ["4", "psilocybin_mushrooms", ""],
            ["5", "psilocybin_mushrooms", "0.1-0.2g"],
            ["6", "psilocybin_mushrooms", "1g"],
            ["7", "lsd", "2015-10-01"],
            ["8", "psilocybin_mushrooms", "200g"],
        ],
    )
    counts = parse_dose_file(src, out, tab_strength_ug=150.0)
    rows = read(out)
    assert rows[0] == ["id", "substance", "text", *DOSE_RESULTS]
    body = {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert body["1"]["amount"] == "0.15" and body["1"]["status"] == "range" and body["1"]["band"] == "standard"
    assert (body["1"]["range_low"], body["1"]["range_high"]) == ("0.1", "0.2")
    assert body["2"]["amount"] == "15.0" and body["2"]["unit"] == "ug" and body["2"]["status"] == "unit_inferred"
    # "10-15" that a spreadsheet showed as a date: recovered as the range, and the reason says where it came from
    assert (body["3"]["status"], body["3"]["reason"]) == ("unit_inferred", "spreadsheet_date_range")
    assert (body["3"]["range_low"], body["3"]["range_high"], body["3"]["amount"]) == ("10.0", "15.0", "12.5")
    assert (
        body["7"]["status"] == "unparseable" and body["7"]["reason"] == "spreadsheet_date" and body["7"]["amount"] == ""
    )
    # an amount a unit slip made implausible: no amount, but the reading a reviewer would most likely settle on
    assert (body["8"]["status"], body["8"]["amount"], body["8"]["likely_amount"]) == ("ambiguous", "", "0.2")
    assert body["4"]["status"] == "missing" and body["4"]["band"] == "unknown"
    assert body["6"]["band"] == "above_micro"
    assert counts == {"range": 2, "unit_inferred": 2, "unparseable": 1, "missing": 1, "exact": 1, "ambiguous": 1}


def test_bands_override(tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    write(src, [["1", "psilocybin_mushrooms", "0.4g"]])
    parse_dose_file(src, out, bands={"psilocybin_mushrooms": {"standard": 0.45, "high_micro": 0.6}})
    assert dict(zip(*read(out)))["band"] == "standard"


def test_output_is_formula_safe(tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    evil = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "-99", "-0.2g"]
    write(src, [[str(i), "lsd", t] for i, t in enumerate(evil)] + [["=1", "psilocybin_mushrooms", "0.2g"]])
    parse_dose_file(src, out)
    rows = read(out)
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    texts = [r[2] for r in rows[1:]]
    assert texts[0] == '\'=HYPERLINK("http://x","y")' and texts[6] == "'-99" and texts[7] == "'-0.2g"
    assert rows[-1][0] == "'=1" and rows[-1][3] == "0.2"  # our own numbers are written plainly


def test_formula_safe_helper():
    assert formula_safe("=1") == "'=1" and formula_safe("0.2") == "0.2" and formula_safe("") == ""


def test_header_with_bom_and_spaces_is_accepted(tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("\ufeffsubstance , text\nlsd,10ug\n", encoding="utf-8")
    parse_dose_file(src, out)
    assert read(out)[1][2:] == ["10.0", "ug", "exact", "explicit_unit", "standard", "", "", ""]


def test_missing_column_error_names_file_and_column_not_values(tmp_path):
    src = tmp_path / "doses_wave1.csv"
    write(src, [["1", "jane.doe@example.org 0.2g"]], header=("id", "dose"))
    with pytest.raises(ReviewFileError) as err:
        parse_dose_file(src, tmp_path / "out.csv")
    msg = str(err.value)
    assert "doses_wave1.csv" in msg and "substance" in msg and "text" in msg and "jane" not in msg


def test_existing_result_column_and_unreadable_files(tmp_path):
    src = tmp_path / "in.csv"
    write(src, [["lsd", "10ug", "x"]], header=("substance", "text", "status"))
    with pytest.raises(ReviewFileError, match="status"):
        parse_dose_file(src, tmp_path / "out.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ReviewFileError, match="empty.csv"):
        parse_dose_file(empty, tmp_path / "out.csv")
    with pytest.raises(ReviewFileError, match="nope.csv"):
        parse_dose_file(tmp_path / "nope.csv", tmp_path / "out.csv")


def test_dose_result_json_is_serialisable_and_does_not_echo_text():
    d = dose_result_json("lsd", "1/10 of a 150ug tab jane@example.org", 100.0, None)
    assert d == {
        "substance": "lsd",
        "amount": 15.0,
        "unit": "ug",
        "status": "exact",
        "reason": "tab_fraction_explicit_strength",
        "band": "high_micro",
        "range_low": None,
        "range_high": None,
        "likely_amount": None,
    }
    assert "jane" not in json.dumps(d)
    r = dose_result_json("psilocybin_mushrooms", "0.1-0.2g", bands={"psilocybin_mushrooms": {"very_low": 0.2}})
    assert r["status"] == "range" and r["band"] == "very_low" and (r["range_low"], r["range_high"]) == (0.1, 0.2)


def test_protocol_file_adds_the_schedule_columns_formula_safe(tmp_path):
    src, out = tmp_path / "protocols.csv", tmp_path / "protocols.parsed.csv"
    write(
        src,
        [
            ["1", "every 3rd day"],
            ["2", "4 days per week"],
            ["3", "daily except Saturdays"],
            ["4", "=cmd|' /C calc'!A0"],
            ["5", "every 3rd day"],
            ["6", ""],
        ],
        header=("id", "text"),
    )
    counts = parse_protocol_file(src, out)
    rows = read(out)
    assert rows[0] == ["id", "text", *PROTOCOL_RESULTS]
    body = {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert (body["1"]["protocol"], body["1"]["days_on"], body["1"]["days_off"]) == ("fadiman", "1", "2")
    assert (body["2"]["protocol"], body["2"]["per_week"], body["2"]["matched_by"]) == ("other", "4", "weekly_pattern")
    assert (body["3"]["protocol"], body["3"]["per_week"], body["3"]["matched_by"]) == ("other", "6", "exception")
    assert body["4"]["text"].startswith("'=")
    assert body["6"]["protocol"] == "unknown"
    assert counts == {"fadiman": 2, "other": 3, "unknown": 1}


def test_protocol_file_errors_name_the_file_and_column(tmp_path):
    src = tmp_path / "schedules.csv"
    write(src, [["1", "jane.doe@example.org fadiman"]], header=("id", "answer"))
    with pytest.raises(ReviewFileError) as err:
        parse_protocol_file(src, tmp_path / "out.csv")
    assert "schedules.csv" in str(err.value) and "text" in str(err.value) and "jane" not in str(err.value)


def test_protocol_result_json_does_not_echo_text():
    d = protocol_result_json("a dose every 72h, ask jane@example.org")
    assert d == {"protocol": "fadiman", "days_on": 1, "days_off": 2, "per_week": None, "matched_by": "schedule_pattern"}
    assert "jane" not in json.dumps(d)
