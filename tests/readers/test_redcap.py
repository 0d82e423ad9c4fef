"""REDCap exports with their dictionaries: identifiers withheld, checkboxes collapsed, events and repeats kept."""

from __future__ import annotations

import pytest

from pipelines.readers import ExportReadError, RedcapReader
from tests.readers._helpers import READER_COLUMNS, REAL_EXPORTS, REDCAP_PROJECTS, csv_records, read_all, write_csv

pytestmark = pytest.mark.real_exports  # every test reads a real project or its data dictionary


def reader_for(project: str, chunk_rows: int = 50_000) -> RedcapReader:
    data, dictionary = REDCAP_PROJECTS[project]
    return RedcapReader(REAL_EXPORTS / data, dictionary_path=REAL_EXPORTS / dictionary, chunk_rows=chunk_rows)


def identifier_values(project: str, reader: RedcapReader) -> set[str]:
    """Every non-blank value of a withheld field (checkbox members included) in the real file."""
    records = csv_records(REAL_EXPORTS / REDCAP_PROJECTS[project][0])
    header = records[0]
    positions = [i for i, name in enumerate(header) if name.partition("___")[0] in reader.withheld_columns]
    kept = {r[i].strip() for r in records[1:] for i in range(len(header)) if i not in positions}
    secret = {r[i].strip() for r in records[1:] for i in positions if r[i].strip()}
    return secret - kept  # a birth date that equals someone's enrolment date is a coincidence, not a leak


@pytest.mark.parametrize(
    "project, withheld",
    [
        (
            "longitudinal",
            ["first_name", "last_name", "telephone_1", "email", "dob", "ec_phone", "next_of_kin_contact_phone"],
        ),
        ("repeating", ["first_name", "dob"]),
        ("checkboxes", []),
    ],
)
def test_identifiers_are_withheld_and_never_yielded(project, withheld):
    reader = reader_for(project, chunk_rows=5)
    assert reader.withheld_columns == withheld
    assert not set(withheld) & set(reader.names)
    frame = read_all(reader)
    assert list(frame.columns) == reader.names + READER_COLUMNS
    secrets = identifier_values(project, reader)
    assert len(secrets) >= 2 * len(withheld)  # names, phones, emails, birth dates of the fake participants
    text = frame.astype(str)
    for secret in secrets:
        assert not (text == secret).any(axis=None)
        assert not text.apply(lambda col, s=secret: col.str.contains(s, regex=False)).any(axis=None)


def test_longitudinal_events_checkboxes_and_forms():
    reader = reader_for("longitudinal", chunk_rows=4)
    assert "gym" in reader.names and not any("___" in n for n in reader.names)
    frame = read_all(reader)
    assert len(frame) == 18 and frame["__row"].tolist() == list(range(2, 20))
    assert frame["redcap_event_name"].tolist()[:3] == ["enrollment_arm_1", "dose_1_arm_1", "visit_1_arm_1"]
    assert set(frame["redcap_event_name"]) >= {"enrollment_arm_2", "deadline_to_return_arm_2"}
    first = frame.iloc[0]
    assert (first["study_id"], first["gym"], first["aerobics"], first["meds"]) == ("100", "0", "1,2", "2")
    assert frame.loc[6, "gym"] == "0,1" and frame.loc[6, "study_id"] == "220"
    assert set(frame["demographics_complete"]) <= {"0", "1", "2", ""}
    assert reader.instrument_of("gym") == "demographics" and reader.instrument_of("gym___3") == "demographics"
    assert reader.instrument_of("vob14") == "visit_observed_behavior"
    assert reader.instrument_of("baseline_data_complete") == "baseline_data"
    assert reader.instrument_of("redcap_event_name") is None
    with pytest.raises(KeyError):
        reader.instrument_of("not_a_field")
    assert set(frame["__kind"]) == {"response"} and frame["__finished"].all() and set(frame["__recorded"]) == {""}
    assert reader.columns[reader.names.index("gym")].question == "Gym (Weight Training)"


def test_checkbox_codes_numeric_and_letters():
    frame = read_all(reader_for("checkboxes"))
    assert frame["check_one"].tolist() == ["1", "", "1,2,3,4", ""]
    assert frame["check_two"].tolist() == ["a,c", "b,d", "", ""]
    assert frame["form_2_complete"].tolist() == ["2", "0", "2", "0"]


def test_repeat_rows_stay_separate():
    frame = read_all(reader_for("repeating"))
    assert frame["record_id"].tolist() == ["1", "1", "1", "1", "2", "2"]
    assert frame["redcap_repeat_instrument"].tolist() == ["", "bp", "bp", "bp", "", "bp"]
    assert frame["redcap_repeat_instance"].tolist() == ["", "1", "2", "3", "", "1"]
    assert frame["bp_systolic"].tolist() == ["", "110", "111", "112", "", "114"]


def test_label_export_with_survey_timestamps(tmp_path):
    """A label-header, label-value export of the checkboxes project, with a survey timestamp column added."""
    header = [
        "Record ID",
        "Complete?",
        "Survey Timestamp",
        "check one (choice=one)",
        "check one (choice=two)",
        "check one (choice=three)",
        "check one (choice=four)",
        "check two (choice=A)",
        "check two (choice=B)",
        "check two (choice=C)",
        "check two (choice=D)",
        "check two (choice=E)",
        "What should happen for this participant",
        "Complete?",
    ]
    rows = [
        [
            "1",
            "Incomplete",
            "2024-01-05 10:00:00",
            "Checked",
            "Unchecked",
            "Unchecked",
            "Unchecked",
            "Checked",
            "Unchecked",
            "Checked",
            "Unchecked",
            "Unchecked",
            "",
            "Complete",
        ],
        [
            "2",
            "Incomplete",
            "[not completed]",
            "Unchecked",
            "Unchecked",
            "Unchecked",
            "Unchecked",
            "Unchecked",
            "Checked",
            "Unchecked",
            "Checked",
            "Unchecked",
            "",
            "Unverified",
        ],
    ]
    path = write_csv(tmp_path / "labels.csv", [header] + rows)
    reader = RedcapReader(path, dictionary_path=REAL_EXPORTS / "redcap_checkboxes_dictionary.csv")
    assert reader.names == [
        "record_id",
        "form_1_complete",
        "form_2_timestamp",
        "check_one",
        "check_two",
        "desired_result",
        "form_2_complete",
    ]
    frame = read_all(reader)
    assert frame["check_one"].tolist() == ["1", ""] and frame["check_two"].tolist() == ["a,c", "b,d"]
    assert frame["form_2_complete"].tolist() == ["2", "1"] and frame["form_1_complete"].tolist() == ["0", "0"]
    assert frame["__recorded"].tolist() == ["2024-01-05 10:00:00", ""]


def test_a_column_the_dictionary_does_not_explain_is_refused(tmp_path):
    records = csv_records(REAL_EXPORTS / "redcap_repeating_data.csv")
    records[0].append("home_address")
    for r in records[1:]:
        r.append("12 Fake Street")
    path = write_csv(tmp_path / "extra.csv", records)
    with pytest.raises(ExportReadError) as info:
        RedcapReader(path, dictionary_path=REAL_EXPORTS / "redcap_repeating_dictionary.csv")
    message = str(info.value)
    assert (
        message.startswith("extra.csv (line 1)")
        and "1 column(s) are not in the data dictionary (columns 16 (P))" in message
    )
    assert "Fake Street" not in message


def test_bad_checkbox_cell_and_wrong_dictionary(tmp_path):
    records = csv_records(REAL_EXPORTS / "redcap_checkboxes_data.csv")
    records[3][3] = "yes please"
    path = write_csv(tmp_path / "bad.csv", records)
    with pytest.raises(ExportReadError) as info:
        read_all(RedcapReader(path, dictionary_path=REAL_EXPORTS / "redcap_checkboxes_dictionary.csv"))
    assert "(line 4)" in str(info.value) and "check_one" in str(info.value) and "yes please" not in str(info.value)
    with pytest.raises(ExportReadError, match="record ID field"):
        RedcapReader(
            REAL_EXPORTS / "redcap_checkboxes_data.csv",
            dictionary_path=REAL_EXPORTS / "redcap_longitudinal_dictionary.csv",
        )
    with pytest.raises(ExportReadError, match="lacks the columns"):
        RedcapReader(
            REAL_EXPORTS / "redcap_checkboxes_data.csv", dictionary_path=REAL_EXPORTS / "redcap_longitudinal_event.csv"
        )


def test_the_api_metadata_export_is_the_same_dictionary(tmp_path):
    """REDCap's API (`content=metadata`) names the dictionary's columns in snake_case; read as the same dictionary,
    it withholds the same identifiers and yields the same frame."""
    import csv

    api_names = {
        "Variable / Field Name": "field_name",
        "Form Name": "form_name",
        "Section Header": "section_header",
        "Field Type": "field_type",
        "Field Label": "field_label",
        "Choices, Calculations, OR Slider Labels": "select_choices_or_calculations",
        "Field Note": "field_note",
        "Text Validation Type OR Show Slider Number": "text_validation_type_or_show_slider_number",
        "Text Validation Min": "text_validation_min",
        "Text Validation Max": "text_validation_max",
        "Identifier?": "identifier",
        "Branching Logic (Show field only if...)": "branching_logic",
        "Required Field?": "required_field",
        "Custom Alignment": "custom_alignment",
        "Question Number (surveys only)": "question_number",
        "Matrix Group Name": "matrix_group_name",
        "Matrix Ranking?": "matrix_ranking",
        "Field Annotation": "field_annotation",
    }
    data, dictionary = REDCAP_PROJECTS["longitudinal"]
    rows = csv_records(REAL_EXPORTS / dictionary)
    assert all(h in api_names for h in rows[0]), rows[0]
    api = tmp_path / "metadata.csv"
    with api.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([[api_names[h] for h in rows[0]], *rows[1:]])
    ui_reader = reader_for("longitudinal")
    api_reader = RedcapReader(REAL_EXPORTS / data, dictionary_path=api)
    assert api_reader.withheld_columns == ui_reader.withheld_columns
    assert api_reader.names == ui_reader.names
    assert read_all(api_reader).equals(read_all(ui_reader))
