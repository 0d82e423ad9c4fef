"""inspect_export on every real sample file: format, flagged identifiers, and no cell value in any output."""

from __future__ import annotations

import pytest
import yaml

from pipelines.readers import ExportReadError
from pipelines.readers.inspect import draft_mapping_yaml, inspect_export, render_profile
from tests.readers._helpers import FIXTURES, REAL_EXPORTS, csv_records, data_values

# file -> (format, header records, dictionary, columns that must be flagged)
REAL = {
    "qualtrics_v3_numeric_german_labels.csv": ("qualtrics_csv", 3, None, {
        "RecipientEmail": "email", "IPAddress": "IP address", "LocationLatitude": "coordinates",
        "LocationLongitude": "coordinates", "RecipientFirstName": "name", "RecipientLastName": "name",
        "ExternalReference": "ID", "ResponseId": "ID", "Q2": "free text"}),
    "qualtrics_2020_datatable_numeric_minus99_first20.csv": ("qualtrics_csv", 3, None, {
        "RecipientEmail": "email", "IPAddress": "IP address", "LocationLatitude": "coordinates",
        "Q47": "free text", "Q6_1677721500000000_TEXT": "free text"}),
    "qualtrics_legacy_v1v10_bom.csv": ("qualtrics_legacy", 2, None, {
        "EmailAddress": "email", "IPAddress": "IP address", "Name": "name", "LocationLatitude": "coordinates",
        "Q2": "free text"}),
    "qualtrics_2016_excel_resaved_embedded_split.csv": ("qualtrics_2016", 3, None, {
        "RecipientEmail": "email", "IPAddress": "IP address", "LocationLatitude": "coordinates",
        "q5_position": "free text"}),
    "redcap_longitudinal_data.csv": ("redcap", 1, "redcap_longitudinal_dictionary.csv", {
        "first_name": "REDCap identifier", "last_name": "REDCap identifier", "telephone_1": "REDCap identifier",
        "email": "REDCap identifier", "dob": "REDCap identifier", "ec_phone": "REDCap phone",
        "next_of_kin_contact_phone": "REDCap phone", "next_of_kin_contact_name": "name",
        "next_of_kin_contact_address": "address", "comments": "free text", "patient_document": "file upload"}),
    "redcap_checkboxes_data.csv": ("redcap", 1, "redcap_checkboxes_dictionary.csv", {"desired_result": "free text"}),
    "redcap_repeating_data.csv": ("redcap", 1, "redcap_repeating_dictionary.csv", {
        "first_name": "REDCap identifier", "dob": "REDCap identifier"}),
}
NOT_EXPORTS = {"redcap_longitudinal_dictionary.csv": "data dictionary", "redcap_checkboxes_dictionary.csv": "data dictionary",
               "redcap_repeating_dictionary.csv": "data dictionary", "redcap_longitudinal_event.csv": "event list"}
KIND_WORDS = {"response", "preview", "test"}  # the reader's own vocabulary, printed as counts


def test_every_real_sample_file_is_covered():
    assert {p.name for p in REAL_EXPORTS.glob("*.csv")} == set(REAL) | set(NOT_EXPORTS)


def must_not_appear(path, header_records: int) -> set[str]:
    """Cell values below the header, less those that are also header text (a column name is not a value)."""
    header_text = " ".join(" ".join(r) for r in csv_records(path)[:header_records])
    return {v for v in data_values(path, header_records) if v not in header_text and v.lower() not in KIND_WORDS}


@pytest.mark.parametrize("name", sorted(REAL))
def test_inspect_real_export(name):
    fmt, header_records, dictionary, flagged = REAL[name]
    path = REAL_EXPORTS / name
    profile = inspect_export(path, dictionary_path=REAL_EXPORTS / dictionary if dictionary else None)
    assert profile.format_name == fmt
    assert profile.rows == len(csv_records(path)) - header_records
    for column, reason in flagged.items():
        assert column in profile.identifiers, column
        assert reason in profile.identifiers[column], (column, profile.identifiers[column])
    for c in profile.columns:
        assert c.inferred_type in ("empty", "integer codes", "decimal", "date", "text labels", "free text", "withheld")
        assert c.fill_rate is None or 0.0 <= c.fill_rate <= 1.0

    rendered = render_profile(profile)
    draft = draft_mapping_yaml(profile, "demo_study")
    values = must_not_appear(path, header_records)
    assert values, "the test needs values to look for"
    for value in values:
        assert value not in rendered, value
        assert value not in draft, value

    mapping = yaml.safe_load(draft)
    assert mapping["format"] == fmt and mapping["study"] == "demo_study"
    ignored = set(mapping["ignored_columns"])
    key = mapping["participant_key"]["column"]
    for column in flagged:
        if column not in profile.withheld and column != key:
            assert column in ignored, column
    assert all(line.startswith("#") for line in draft.split("fields:", 1)[1].splitlines()[1:] if line.strip())


def test_qualtrics_draft_guesses():
    profile = inspect_export(REAL_EXPORTS / "qualtrics_2020_datatable_numeric_minus99_first20.csv")
    mapping = yaml.safe_load(draft_mapping_yaml(profile, "wave_study"))
    assert mapping["response_date_column"] == "RecordedDate"
    assert mapping["participant_key"]["column"] == "ResponseId"  # the contact-list email is empty in this file
    assert "RecordedDate" not in mapping["ignored_columns"] and "Status" not in mapping["ignored_columns"]
    assert profile.kinds == {"response": 0, "preview": 0, "test": 20}
    assert profile.column("Q2").inferred_type == "integer codes"


def test_redcap_draft():
    profile = inspect_export(REAL_EXPORTS / "redcap_longitudinal_data.csv",
                             dictionary_path=REAL_EXPORTS / "redcap_longitudinal_dictionary.csv")
    draft = draft_mapping_yaml(profile, "redcap_study")
    mapping = yaml.safe_load(draft)
    assert mapping["reader"] == {"dictionary_path": "redcap_longitudinal_dictionary.csv"}
    assert mapping["participant_key"]["column"] == "study_id"
    assert "# Withheld by the reader" in draft and "first_name" not in mapping["ignored_columns"]
    assert profile.column("gym").inferred_type == "text labels"  # collapsed checkbox codes "0,1"
    assert profile.column("email").inferred_type == "withheld" and profile.column("email").fill_rate is None


@pytest.mark.parametrize("name", sorted(NOT_EXPORTS))
def test_side_files_are_refused_by_name(name):
    with pytest.raises(ExportReadError) as info:
        inspect_export(REAL_EXPORTS / name)
    assert str(info.value).startswith(name) and NOT_EXPORTS[name] in str(info.value)


@pytest.mark.parametrize("name, header_records, options, flagged", [
    ("surveymonkey_responses.csv", 2, {"header_rows_to_skip": 1, "label_row": 2},
     {"Email Address": "email", "IP Address": "IP address", "First Name": "name", "Last Name": "name",
      "Respondent ID": "ID", "What else would you like to tell us?": "free text"}),
    ("kobo_responses.csv", 1, {"delimiter": ";"},
     {"_location_latitude": "coordinates", "deviceid": "ID", "_uuid": "ID"}),
    ("limesurvey_responses.csv", 1, {"recorded_column": "submitdate"},
     {"ipaddr": "IP address", "token": "ID", "refurl": "URL", "comment": "free text"}),
    ("google_forms_responses.csv", 1, {"recorded_column": "Timestamp"},
     {"Email Address": "email", "Anything else?": "free text"}),
])
def test_inspect_generic_lookalikes(name, header_records, options, flagged):
    path = FIXTURES / name
    profile = inspect_export(path)  # no options given: suggested from the look-alike signature
    assert profile.format_name == "generic"
    for key, value in options.items():
        assert profile.reader_options[key] == value
    for column, reason in flagged.items():
        assert reason in (profile.identifiers.get(column) or ""), (column, profile.identifiers.get(column))
    delimiter = options.get("delimiter", ",")
    header_text = " ".join(" ".join(r) for r in csv_records(path, delimiter=delimiter)[:header_records])
    values = {v for v in data_values(path, header_records, delimiter=delimiter) if v not in header_text}
    text = render_profile(profile) + draft_mapping_yaml(profile, "generic_study")
    assert values and not [v for v in values if v in text]
