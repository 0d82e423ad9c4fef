"""Qualtrics variants: legacy, 2016, TSV, choice text, -99 and blanks kept as text, dates kept as exported."""

from __future__ import annotations

import pytest

from pipelines.readers import ExportReadError, open_export
from pipelines.readers.qualtrics import METADATA_COLUMNS, Qualtrics2016Reader, QualtricsLegacyReader
from tests.readers._helpers import READER_COLUMNS, REAL_EXPORTS, csv_records, read_all, write_csv


@pytest.mark.real_exports
def test_legacy_names_rows_and_metadata():
    reader = QualtricsLegacyReader(REAL_EXPORTS / "qualtrics_legacy_v1v10_bom.csv")
    assert reader.names == [
        "ResponseID",
        "ResponseSet",
        "Name",
        "ExternalDataReference",
        "EmailAddress",
        "IPAddress",
        "Status",
        "StartDate",
        "EndDate",
        "Finished",
        "Q1",
        "Q2",
        "LocationLatitude",
        "LocationLongitude",
        "LocationAccuracy",
    ]  # trailing empty column dropped
    assert reader.columns[4].import_id == "V5" and reader.columns[10].question == "This is a multiple choice question."
    frame = read_all(reader)
    assert list(frame.columns) == reader.names + READER_COLUMNS
    assert frame["__row"].tolist() == [3]  # two header records
    assert frame.at[0, "__kind"] == "response" and bool(frame.at[0, "__finished"])
    assert frame.at[0, "__recorded"] == "2017-07-18 08:28:48"  # EndDate: legacy has no RecordedDate
    assert frame.at[0, "ExternalDataReference"] == ""


@pytest.mark.real_exports
def test_2016_embedded_column_and_resaved_dates():
    reader = Qualtrics2016Reader(REAL_EXPORTS / "qualtrics_2016_excel_resaved_embedded_split.csv", chunk_rows=4)
    split = reader.columns[reader.names.index("split")]
    assert (split.question, split.import_id) == ("", "")  # embedded data: empty label and ImportId cells
    assert reader.columns[12].import_id == "QID4-1-1"
    chunks = list(reader.iter_chunks())
    assert [len(c) for c in chunks] == [4, 4, 2]
    frame = read_all(reader)
    assert frame["__row"].tolist() == list(range(4, 14))
    assert set(frame["split"]) == {"GroupA", "GroupB"}
    assert frame.at[0, "__recorded"] == "7/20/2016 12:49"  # kept as text; parse_response_dates decides later
    assert set(frame["__kind"]) == {"test"}  # Status 2: generated test responses
    assert (frame.drop(columns=READER_COLUMNS).map(lambda v: isinstance(v, str))).all(axis=None)


@pytest.mark.real_exports
def test_2016_column_without_a_tag_gets_a_stable_name(tmp_path):
    records = csv_records(REAL_EXPORTS / "qualtrics_2016_excel_resaved_embedded_split.csv")
    records[0][5] = ""  # the embedded-data column loses its tag as well
    records[0][21] = ""  # a question column without a tag keeps its ImportId
    reader = Qualtrics2016Reader(write_csv(tmp_path / "untagged.csv", records))
    assert reader.names[5] == "column_6" and reader.names[21] == "QID1"
    assert read_all(reader)["column_6"].tolist()[:2] == ["GroupA", "GroupB"]


@pytest.mark.real_exports
def test_minus_99_and_blanks_stay_text():
    reader = open_export(REAL_EXPORTS / "qualtrics_2020_datatable_numeric_minus99_first20.csv")
    frame = read_all(reader)
    cells = frame[reader.names]
    assert (cells == "-99").any(axis=None)
    assert (cells == "").any(axis=None)
    assert not cells.isna().any(axis=None)


def _choice_text_export(tmp_path, statuses, finished=("True",)):
    header = [
        list(METADATA_COLUMNS) + ["Q1"],
        list(METADATA_COLUMNS) + ["Consent"],
        ['{"ImportId":"%s"}' % c for c in METADATA_COLUMNS] + ['{"ImportId":"QID1"}'],
    ]
    rows = []
    for i, status in enumerate(statuses):
        row = dict.fromkeys(METADATA_COLUMNS, "")
        row.update(
            Status=status,
            Finished=finished[i % len(finished)],
            RecordedDate="7/20/2016 12:49",
            ResponseId=f"R_fake{i}",
            DistributionChannel="anonymous",
        )
        rows.append([row[c] for c in METADATA_COLUMNS] + ["Yes"])
    return write_csv(tmp_path / "choice_text.csv", header + rows)


def test_choice_text_status_and_finished(tmp_path):
    path = _choice_text_export(
        tmp_path, ["IP Address", "Survey Preview", "Survey Test", "Spam", "Imported"], finished=("True", "False")
    )
    frame = read_all(open_export(path))
    assert frame["__kind"].tolist() == ["response", "preview", "test", "test", "response"]
    assert frame["__finished"].tolist() == [True, False, True, False, True]


def test_unknown_status_is_refused_without_the_value(tmp_path):
    path = _choice_text_export(tmp_path, ["IP Address", "Umfragevorschau"])
    with pytest.raises(ExportReadError) as info:
        read_all(open_export(path))
    message = str(info.value)
    assert message.startswith("choice_text.csv (line 5)") and "Status" in message
    assert "Umfragevorschau" not in message
