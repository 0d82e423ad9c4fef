"""Format detection from file signatures, and open_export's dispatch, on the real exports and synthetic variants."""

from __future__ import annotations

import pytest

from pipelines.readers import (
    ExportReadError,
    GenericCsvReader,
    Qualtrics2016Reader,
    QualtricsCsvReader,
    QualtricsLegacyReader,
    QualtricsTsvReader,
    RedcapReader,
    detect_format,
    open_export,
)
from tests.readers._helpers import FIXTURES, REAL_EXPORTS, csv_records, write_csv

REAL_FORMATS = {
    "qualtrics_v3_numeric_german_labels.csv": "qualtrics_csv",
    "qualtrics_2020_datatable_numeric_minus99_first20.csv": "qualtrics_csv",
    "qualtrics_legacy_v1v10_bom.csv": "qualtrics_legacy",
    "qualtrics_2016_excel_resaved_embedded_split.csv": "qualtrics_2016",
    "redcap_longitudinal_data.csv": "redcap",
    "redcap_checkboxes_data.csv": "redcap",
    "redcap_repeating_data.csv": "redcap",
}


@pytest.mark.real_exports
@pytest.mark.parametrize("name, expected", sorted(REAL_FORMATS.items()))
def test_real_exports_are_detected(name, expected):
    assert detect_format(REAL_EXPORTS / name) == expected


@pytest.mark.real_exports
@pytest.mark.parametrize(
    "name, kind",
    [
        ("redcap_longitudinal_dictionary.csv", "data dictionary"),
        ("redcap_checkboxes_dictionary.csv", "data dictionary"),
        ("redcap_repeating_dictionary.csv", "data dictionary"),
        ("redcap_longitudinal_event.csv", "event list"),
    ],
)
def test_redcap_side_files_are_named_not_read(name, kind):
    with pytest.raises(ExportReadError) as info:
        detect_format(REAL_EXPORTS / name)
    assert str(info.value).startswith(name) and kind in str(info.value)


@pytest.mark.real_exports
def test_open_export_keeps_the_old_signature_and_dispatches():
    assert (
        type(open_export(REAL_EXPORTS / "qualtrics_v3_numeric_german_labels.csv", chunk_rows=5)) is QualtricsCsvReader
    )
    assert type(open_export(REAL_EXPORTS / "qualtrics_legacy_v1v10_bom.csv")) is QualtricsLegacyReader
    assert type(open_export(REAL_EXPORTS / "qualtrics_2016_excel_resaved_embedded_split.csv")) is Qualtrics2016Reader
    reader = open_export(
        REAL_EXPORTS / "redcap_checkboxes_data.csv", options={"dictionary_path": "redcap_checkboxes_dictionary.csv"}
    )  # relative to the export
    assert type(reader) is RedcapReader and reader.format_name == "redcap"


@pytest.mark.real_exports
def test_redcap_without_dictionary_is_refused():
    with pytest.raises(ExportReadError, match="no data dictionary"):
        open_export(REAL_EXPORTS / "redcap_repeating_data.csv")


@pytest.mark.real_exports
def test_utf16_tsv_is_detected_and_read(tmp_path):
    records = csv_records(REAL_EXPORTS / "qualtrics_v3_numeric_german_labels.csv")
    path = write_csv(tmp_path / "survey.tsv", records, encoding="utf-16", delimiter="\t")
    assert path.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    assert detect_format(path) == "qualtrics_tsv"
    reader = open_export(path)
    assert type(reader) is QualtricsTsvReader
    frame = next(reader.iter_chunks())
    assert reader.names[-1] == "Q2 - Topics" and reader.columns[3].question == "IP-Adresse"
    assert list(frame["__row"]) == [4] and frame.at[0, "Q1"] == "2" and frame.at[0, "__kind"] == "response"


def test_generic_only_with_options():
    path = FIXTURES / "google_forms_responses.csv"
    with pytest.raises(ExportReadError) as info:
        detect_format(path)
    message = str(info.value)
    assert message.startswith("google_forms_responses.csv (line 1)") and "Google Forms" in message
    assert "expected one of" in message
    assert detect_format(path, options={"recorded_column": "Timestamp"}) == "generic"
    assert type(open_export(path, options={"recorded_column": "Timestamp"})) is GenericCsvReader


@pytest.mark.real_exports
def test_explicit_format_is_checked_against_the_file():
    with pytest.raises(ExportReadError, match="V1..V10"):
        open_export(REAL_EXPORTS / "qualtrics_v3_numeric_german_labels.csv", format="qualtrics_legacy")
    with pytest.raises(ExportReadError, match="unknown format"):
        open_export(REAL_EXPORTS / "qualtrics_v3_numeric_german_labels.csv", format="spss")
    with pytest.raises(ExportReadError, match="do not apply"):
        open_export(REAL_EXPORTS / "qualtrics_v3_numeric_german_labels.csv", options={"sheet": "x"})


@pytest.mark.real_exports
def test_qualtrics_header_with_the_wrong_delimiter_is_named(tmp_path):
    records = csv_records(REAL_EXPORTS / "qualtrics_v3_numeric_german_labels.csv")
    path = write_csv(tmp_path / "semicolons.csv", records, delimiter=";")
    with pytest.raises(ExportReadError) as info:
        detect_format(path)
    assert "not comma-separated" in str(info.value) and "(line 1)" in str(info.value)
