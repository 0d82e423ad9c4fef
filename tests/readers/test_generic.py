"""Generic CSV/XLSX readers on synthetic LimeSurvey, SurveyMonkey, Google Forms and Kobo exports."""

from __future__ import annotations

import pytest

from pipelines.readers import ExportReadError, GenericCsvReader, GenericXlsxReader, open_export
from tests.readers._helpers import FIXTURES, READER_COLUMNS, build_xlsx, read_all


def test_limesurvey():
    reader = GenericCsvReader(
        FIXTURES / "limesurvey_responses.csv",
        id_column="id",
        recorded_column="submitdate",
        finished_column="submitdate",
        chunk_rows=2,
    )
    assert reader.names[:4] == ["id", "submitdate", "lastpage", "startlanguage"]
    assert "protocol[SQ001]" in reader.names and reader.consumed_columns == ("submitdate",)
    frame = read_all(reader)
    assert list(frame.columns) == reader.names + READER_COLUMNS
    assert frame["__row"].tolist() == [2, 3, 4]
    assert frame["__finished"].tolist() == [True, False, True]  # empty submitdate = incomplete
    assert frame["__recorded"].tolist() == ["2024-03-02 10:15:22", "", "2024-03-04 21:40:09"]
    assert frame.at[1, "substance"] == "-oth-" and frame.at[1, "comment"] == "-99" and frame.at[1, "refurl"] == ""


def test_surveymonkey_two_header_rows_make_unique_names():
    reader = GenericCsvReader(
        FIXTURES / "surveymonkey_responses.csv",
        header_rows_to_skip=1,
        label_row=2,
        id_column="Respondent ID",
        recorded_column="End Date",
    )
    assert reader.names == [
        "Respondent ID",
        "Collector ID",
        "Start Date",
        "End Date",
        "IP Address",
        "Email Address",
        "First Name",
        "Last Name",
        "Custom Data 1",
        "How old are you?",
        "Which substances have you microdosed? | Psilocybin",
        "Which substances have you microdosed? | LSD",
        "Which substances have you microdosed? | Other (please specify)",
        "Which schedule do you follow?",
        "What else would you like to tell us?",
    ]
    assert reader.columns[11].question == "Which substances have you microdosed?"
    frame = read_all(reader)
    assert frame["__row"].tolist() == [3, 4, 5]
    assert frame["__recorded"].tolist()[0] == "07/31/2023 04:29:02 PM"
    assert frame["Which substances have you microdosed? | LSD"].tolist() == ["", "LSD", "LSD"]


def test_surveymonkey_repeated_labels_get_numbered(tmp_path):
    path = tmp_path / "sm.csv"
    path.write_text("Respondent ID,Rate these,,\n,Response,Response,Response\n1,2,3,4\n", encoding="utf-8")
    reader = GenericCsvReader(path, header_rows_to_skip=1, label_row=2)
    assert reader.names == [
        "Respondent ID",
        "Rate these | Response",
        "Rate these | Response (2)",
        "Rate these | Response (3)",
    ]


def test_google_forms():
    reader = open_export(
        FIXTURES / "google_forms_responses.csv", format="generic", options={"recorded_column": "Timestamp"}
    )
    assert reader.names[0] == "Timestamp" and reader.format_name == "generic"
    frame = read_all(reader)
    assert frame["Which substances have you microdosed?"].tolist() == ["Psilocybin, LSD", "Psilocybin", "LSD"]
    assert frame["How many days did you dose last month?"].tolist() == ["8", "10", "-99"]
    assert frame["__recorded"].tolist()[1] == "8/1/2023 9:02:10" and frame["__kind"].unique().tolist() == ["response"]


def test_kobo_semicolons_every_field_quoted():
    reader = GenericCsvReader(
        FIXTURES / "kobo_responses.csv", delimiter=";", id_column="_uuid", recorded_column="_submission_time"
    )
    assert "group_demo/age" in reader.names and "_location_latitude" in reader.names
    frame = read_all(reader)
    assert frame["group_demo/age"].tolist() == ["36", "24"]
    assert frame["substance/lsd"].tolist() == ["1", "1"] and frame["_location_latitude"].tolist()[1] == ""


def test_preamble_rows_and_header_only(tmp_path):
    path = tmp_path / "preamble.csv"
    path.write_text("Exported 2024\n\nid,answer\n", encoding="utf-8")
    reader = GenericCsvReader(path, names_row=3)
    assert reader.names == ["id", "answer"] and read_all(reader).empty


def test_xlsx_sheet(tmp_path):
    path = build_xlsx(
        tmp_path / "forms.xlsx",
        [
            ["Timestamp", "How old are you?", "Score", "Consent"],
            ["2023-07-31 16:21:36", 31, 1.5, True],
            [None, None, None, None],
            ["2023-08-01 09:02:10", 45, 2.0, False],
        ],
        sheet="Form Responses 1",
        first_row=2,
    )
    reader = open_export(path, options={"sheet": "Form Responses 1", "names_row": 2, "recorded_column": "Timestamp"})
    assert type(reader) is GenericXlsxReader and reader.names == ["Timestamp", "How old are you?", "Score", "Consent"]
    frame = read_all(reader)
    assert frame["__row"].tolist() == [3, 5]  # the sheet's own row numbers; the empty row is skipped
    assert frame["How old are you?"].tolist() == ["31", "45"] and frame["Score"].tolist() == ["1.5", "2"]
    assert frame["Consent"].tolist() == ["True", "False"] and frame["__recorded"].tolist()[0] == "2023-07-31 16:21:36"
    with pytest.raises(ExportReadError, match="no sheet named"):
        GenericXlsxReader(path, sheet="Other")


def test_option_naming_a_missing_column(tmp_path):
    with pytest.raises(ExportReadError) as info:
        GenericCsvReader(FIXTURES / "google_forms_responses.csv", recorded_column="Submitted at")
    assert "recorded_column names a column the file does not have" in str(info.value)


def test_blank_lines_are_skipped_but_counted(tmp_path):
    path = tmp_path / "blanks.csv"
    path.write_text("id,answer\n1,a\n\n2,b\n,\n3,\n\n", encoding="utf-8")
    frame = read_all(GenericCsvReader(path, chunk_rows=2))
    assert frame["__row"].tolist() == [2, 4, 6] and frame["answer"].tolist() == ["a", "b", ""]


def test_declared_encodings(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("id,town\n1,Zürich\n".encode("cp1252"))
    assert read_all(GenericCsvReader(path, encoding="cp1252"))["town"].tolist() == ["Zürich"]
    with pytest.raises(ExportReadError, match="not UTF-8"):
        GenericCsvReader(path)  # the default is UTF-8: never guessed
    with pytest.raises(ExportReadError, match="unknown codec"):
        GenericCsvReader(path, encoding="klingon")
