"""inspect_export on every real sample file: format, flagged identifiers, and no cell value in any output."""

from __future__ import annotations

import pytest
import yaml

from pipelines.readers import ExportReadError
from pipelines.readers.inspect import draft_mapping_yaml, inspect_export, render_profile
from tests.readers._helpers import FIXTURES, REAL_EXPORTS, csv_records, data_values

# file -> (format, header records, dictionary, columns that must be flagged)
REAL = {
    "qualtrics_v3_numeric_german_labels.csv": (
        "qualtrics_csv",
        3,
        None,
        {
            "RecipientEmail": "email",
            "IPAddress": "IP address",
            "LocationLatitude": "coordinates",
            "LocationLongitude": "coordinates",
            "RecipientFirstName": "name",
            "RecipientLastName": "name",
            "ExternalReference": "ID",
            "ResponseId": "ID",
            "Q2": "free text",
        },
    ),
    "qualtrics_2020_datatable_numeric_minus99_first20.csv": (
        "qualtrics_csv",
        3,
        None,
        {
            "RecipientEmail": "email",
            "IPAddress": "IP address",
            "LocationLatitude": "coordinates",
            "Q47": "free text",
            "Q6_1677721500000000_TEXT": "free text",
        },
    ),
    "qualtrics_legacy_v1v10_bom.csv": (
        "qualtrics_legacy",
        2,
        None,
        {
            "EmailAddress": "email",
            "IPAddress": "IP address",
            "Name": "name",
            "LocationLatitude": "coordinates",
            "Q2": "free text",
        },
    ),
    "qualtrics_2016_excel_resaved_embedded_split.csv": (
        "qualtrics_2016",
        3,
        None,
        {
            "RecipientEmail": "email",
            "IPAddress": "IP address",
            "LocationLatitude": "coordinates",
            "q5_position": "free text",
        },
    ),
    "redcap_longitudinal_data.csv": (
        "redcap",
        1,
        "redcap_longitudinal_dictionary.csv",
        {
            "first_name": "REDCap identifier",
            "last_name": "REDCap identifier",
            "telephone_1": "REDCap identifier",
            "email": "REDCap identifier",
            "dob": "REDCap identifier",
            "ec_phone": "REDCap phone",
            "next_of_kin_contact_phone": "REDCap phone",
            "next_of_kin_contact_name": "name",
            "next_of_kin_contact_address": "address",
            "comments": "free text",
            "patient_document": "file upload",
        },
    ),
    "redcap_checkboxes_data.csv": ("redcap", 1, "redcap_checkboxes_dictionary.csv", {"desired_result": "free text"}),
    "redcap_repeating_data.csv": (
        "redcap",
        1,
        "redcap_repeating_dictionary.csv",
        {"first_name": "REDCap identifier", "dob": "REDCap identifier"},
    ),
}
NOT_EXPORTS = {
    "redcap_longitudinal_dictionary.csv": "data dictionary",
    "redcap_checkboxes_dictionary.csv": "data dictionary",
    "redcap_repeating_dictionary.csv": "data dictionary",
    "redcap_longitudinal_event.csv": "event list",
}
KIND_WORDS = {"response", "preview", "test"}  # the reader's own vocabulary, printed as counts


@pytest.mark.real_exports
def test_every_real_sample_file_is_covered():
    assert {p.name for p in REAL_EXPORTS.glob("*.csv")} == set(REAL) | set(NOT_EXPORTS)


def must_not_appear(path, header_records: int) -> set[str]:
    """Cell values below the header, less those that are also header text (a column name is not a value)."""
    header_text = " ".join(" ".join(r) for r in csv_records(path)[:header_records])
    return {v for v in data_values(path, header_records) if v not in header_text and v.lower() not in KIND_WORDS}


@pytest.mark.real_exports
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


@pytest.mark.real_exports
def test_qualtrics_draft_guesses():
    profile = inspect_export(REAL_EXPORTS / "qualtrics_2020_datatable_numeric_minus99_first20.csv")
    mapping = yaml.safe_load(draft_mapping_yaml(profile, "wave_study"))
    assert mapping["response_date_column"] == "RecordedDate"
    assert mapping["participant_key"]["column"] == "ResponseId"  # the contact-list email is empty in this file
    assert "RecordedDate" not in mapping["ignored_columns"] and "Status" not in mapping["ignored_columns"]
    assert profile.kinds == {"response": 0, "preview": 0, "test": 20}
    assert profile.column("Q2").inferred_type == "integer codes"


@pytest.mark.real_exports
def test_redcap_draft():
    profile = inspect_export(
        REAL_EXPORTS / "redcap_longitudinal_data.csv",
        dictionary_path=REAL_EXPORTS / "redcap_longitudinal_dictionary.csv",
    )
    draft = draft_mapping_yaml(profile, "redcap_study")
    mapping = yaml.safe_load(draft)
    assert mapping["reader"] == {"dictionary_path": "redcap_longitudinal_dictionary.csv"}
    assert mapping["participant_key"]["column"] == "study_id"
    assert "# Withheld by the reader" in draft and "first_name" not in mapping["ignored_columns"]
    assert profile.column("gym").inferred_type == "text labels"  # collapsed checkbox codes "0,1"
    assert profile.column("email").inferred_type == "withheld" and profile.column("email").fill_rate is None


@pytest.mark.real_exports
@pytest.mark.parametrize("name", sorted(NOT_EXPORTS))
def test_side_files_are_refused_by_name(name):
    with pytest.raises(ExportReadError) as info:
        inspect_export(REAL_EXPORTS / name)
    assert str(info.value).startswith(name) and NOT_EXPORTS[name] in str(info.value)


@pytest.mark.parametrize(
    "name, header_records, options, flagged",
    [
        (
            "surveymonkey_responses.csv",
            2,
            {"header_rows_to_skip": 1, "label_row": 2},
            {
                "Email Address": "email",
                "IP Address": "IP address",
                "First Name": "name",
                "Last Name": "name",
                "Respondent ID": "ID",
                "What else would you like to tell us?": "free text",
            },
        ),
        (
            "kobo_responses.csv",
            1,
            {"delimiter": ";"},
            {"_location_latitude": "coordinates", "deviceid": "ID", "_uuid": "ID"},
        ),
        (
            "limesurvey_responses.csv",
            1,
            {"recorded_column": "submitdate"},
            {"ipaddr": "IP address", "token": "ID", "refurl": "URL", "comment": "free text"},
        ),
        (
            "google_forms_responses.csv",
            1,
            {"recorded_column": "Timestamp"},
            {"Email Address": "email", "Anything else?": "free text"},
        ),
    ],
)
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


# --- a header row that is really a respondent's answers ------------------------------------------------------
CANARIES = [
    "canary.person@example.org",
    "+44 7700 900123",
    "Zebedee Quint",
    "2023-07-31 16:21:36",
    "203.0.113.77",
    "Quokkas whispered marmalade sonnets beside Lake Wobblemere.",
]
HEADERLESS_ROWS = [
    CANARIES + ["3", "female"],
    [
        "alba.rowe@example.invalid",
        "+44 7700 900456",
        "Alba Rowe",
        "2023-08-01 09:00:00",
        "203.0.113.78",
        "Invented remark about sleeping better.",
        "4",
        "male",
    ],
    [
        "cato.finch@example.invalid",
        "+44 7700 900789",
        "Cato Finch",
        "2023-08-02 10:30:00",
        "203.0.113.79",
        "Made-up answer on focus at work.",
        "3",
        "female",
    ],
]


def fragments(texts, size: int = 6) -> set[str]:
    """Every substring of `size` characters or more of each text (those of exactly `size` suffice)."""
    return {t[i : i + size] for t in texts for i in range(len(t) - size + 1)} | {t for t in texts if len(t) < size}


def assert_nothing_leaks(text: str, records: list[list[str]]) -> None:
    leaked = sorted(f for f in fragments(CANARIES) if f in text)
    assert not leaked, leaked
    values = {v for r in records for v in r if len(v) >= 4}
    assert not [v for v in values if v in text]


def test_headerless_csv_shows_positions_only(tmp_path):
    from tests.readers._helpers import write_csv

    path = write_csv(tmp_path / "wave1.csv", HEADERLESS_ROWS)
    profile = inspect_export(path, format="generic")
    rendered = render_profile(profile)
    draft = draft_mapping_yaml(profile, "demo_study")
    assert_nothing_leaks(rendered, HEADERLESS_ROWS)
    assert_nothing_leaks(draft, HEADERLESS_ROWS)
    assert profile.header_looks_like_data
    assert [c.name for c in profile.columns] == [f"column_{i}" for i in range(1, 9)]
    assert all(c.question == "" and c.header_hidden for c in profile.columns)
    assert "header row looks like data" in rendered and "may have no header row" in rendered
    assert "names_row" in rendered and "header_rows_to_skip" in rendered
    mapping = yaml.safe_load(draft)  # still valid YAML, naming positions only
    assert mapping["participant_key"]["column"] == "column_1"  # the email-shaped column
    assert set(mapping["ignored_columns"]) <= {f"column_{i}" for i in range(1, 9)}
    assert profile.identifiers["column_5"].startswith("IP address")


def test_headerless_file_through_the_cli(tmp_path):
    from click.testing import CliRunner

    from pipelines.cli import main
    from tests.readers._helpers import write_csv

    path = write_csv(tmp_path / "wave1.csv", HEADERLESS_ROWS)
    draft = tmp_path / "out" / "wave1.draft.yaml"
    draft.parent.mkdir()
    result = CliRunner().invoke(main, ["inspect", str(path), "--format", "generic", "--draft", str(draft)])
    assert result.exit_code == 0, result.output
    assert "column_1" in result.output and "may have no header row" in result.output
    assert_nothing_leaks(result.output, HEADERLESS_ROWS)
    assert_nothing_leaks(draft.read_text(encoding="utf-8"), HEADERLESS_ROWS)
    # without --format the file matches no signature: refused, and the refusal quotes nothing either
    refused = CliRunner().invoke(main, ["inspect", str(path), "--draft", str(draft)])
    assert refused.exit_code != 0 and "matches no known export format" in refused.output
    assert_nothing_leaks(refused.output, HEADERLESS_ROWS)


def test_headerless_xlsx(tmp_path):
    from tests.readers._helpers import build_xlsx

    rows = [
        ["Zebedee Quint", 41, "canary.person@example.org", "female"],
        ["Alba Rowe", 29, "alba.rowe@example.invalid", "male"],
        ["Cato Finch", 35, "cato.finch@example.invalid", "female"],
    ]
    profile = inspect_export(build_xlsx(tmp_path / "wave1.xlsx", rows), format="generic")
    text = render_profile(profile) + draft_mapping_yaml(profile, "demo_study")
    assert profile.header_looks_like_data
    assert_nothing_leaks(text, [[str(v) for v in r] for r in rows])


@pytest.mark.parametrize(
    "first",
    [
        ["Zebedee Quint", "female", "Germany", "psilocybin"],  # no value shapes: the cells recur below them
        ["Quokkas whispered marmalade sonnets beside Lake Wobblemere.", "Zebedee Quint", "Turnips hummed at dawn!"],
    ],
)
def test_header_without_value_shapes_is_still_caught(tmp_path, first):
    from tests.readers._helpers import write_csv

    below = [["Alba Rowe", "male", "Germany", "lsd"], ["Cato Finch", "female", "France", "psilocybin"]]
    if len(first) == 3:
        below = [
            ["Invented remark about sleep.", "Alba Rowe", "Made-up note."],
            ["Fictional text on mood.", "Cato Finch", "Another made-up note."],
        ]
    path = write_csv(tmp_path / "wave1.csv", [first] + below)
    profile = inspect_export(path, format="generic")
    text = render_profile(profile) + draft_mapping_yaml(profile, "demo_study")
    assert profile.header_looks_like_data
    assert not [v for v in first if v in text]
    assert "Zebedee" not in text and "Quint" not in text


def test_one_value_shaped_cell_makes_an_assumed_header_data(tmp_path):
    """A generic header is only assumed: one value-shaped cell is enough to hide every cell (the safe side)."""
    from tests.readers._helpers import write_csv

    header = ["Timestamp", "Contact (zebedee.quint@example.org)", "How old are you?", "Duration (in seconds)"]
    rows = [
        header,
        ["7/31/2023 16:21:36", "alba.rowe@example.invalid", "31", "420"],
        ["8/1/2023 9:02:10", "", "45", "380"],
    ]
    profile = inspect_export(write_csv(tmp_path / "forms.csv", rows), format="generic")
    text = render_profile(profile) + draft_mapping_yaml(profile, "demo_study")
    assert profile.header_looks_like_data and "an email address at column(s) 2 (B)" in text
    assert "zebedee" not in text.lower() and "How old" not in text


@pytest.mark.real_exports
def test_value_shaped_question_text_in_a_proven_header_is_hidden_alone(tmp_path):
    """Qualtrics proves its header (ImportId row): a value-shaped question is dropped, the rest is shown."""
    from tests.readers._helpers import write_csv

    records = csv_records(REAL_EXPORTS / "qualtrics_v3_numeric_german_labels.csv")
    q1 = records[0].index("Q1")
    records[1][q1] = "Write to zebedee.quint@example.org or call +44 7700 900123 if unsure"
    profile = inspect_export(write_csv(tmp_path / "qualtrics.csv", records))
    text = render_profile(profile) + draft_mapping_yaml(profile, "demo_study")
    assert profile.format_name == "qualtrics_csv" and not profile.header_looks_like_data
    assert profile.column("Q1").question == "" and profile.column("Q2").question
    assert "zebedee" not in text.lower() and "7700" not in text
    assert "RecipientEmail" in text and "Duration (in seconds)" in text


@pytest.mark.real_exports
def test_qualtrics_header_is_still_shown():
    profile = inspect_export(REAL_EXPORTS / "qualtrics_v3_numeric_german_labels.csv")
    rendered = render_profile(profile)
    assert not profile.header_looks_like_data and not [c for c in profile.columns if c.header_hidden]
    for name in ("RecipientEmail", "IPAddress", "ResponseId", "Duration (in seconds)", "Q1", "Q2"):
        assert name in rendered, name
    assert all(c.question for c in profile.columns)  # question text (row 2) kept
    assert "looks like data" not in rendered and "hidden" not in rendered


@pytest.mark.parametrize(
    "name",
    [
        "Q1",
        "Q6_1677721500000000_TEXT",
        "RecipientEmail",
        "Duration (in seconds)",
        "How old are you?",
        "protocol[SQ001]",
        "group_demo/age",
        "_location_latitude",
        "Which substances have you microdosed? | Other (please specify)",
        "Custom Data 1",
        "Email Address",
        "IP Address",
        "meta/instanceID",
        "Q3.1",
    ],
)
def test_legitimate_header_cells_pass_the_gate(name):
    from pipelines.readers.inspect import vet_header_cell

    assert vet_header_cell(name, 4) == (name, None)


@pytest.mark.parametrize(
    "cell",
    CANARIES[:2]
    + CANARIES[3:5]
    + [
        "42",
        "-0.5",
        "52.3702157",
        "07/31/2023 04:21:36 PM",
        "2001:db8::1",
        "https://example.invalid/x",
        "www.zebedee.net",
        "+1 (555) 010-9999",
        "11400000001",
        "16:21",
        "—",
        "zebedee.quint＠example.org",
    ],
)
def test_value_shaped_cells_are_replaced_by_their_position(cell):
    from pipelines.readers.inspect import vet_header_cell

    assert vet_header_cell(cell, 4)[0] == "column_4"
    assert vet_header_cell(cell, 4, role="question")[0] == ""
    assert vet_header_cell("Q1", 4, header_is_data=True)[0] == "column_4"


def test_a_profile_with_a_value_shaped_name_cannot_be_built():
    from pipelines.readers.inspect import ColumnProfile, ExportProfile

    column = ColumnProfile("canary.person@example.org", "", "text labels", 1.0, 3, None, False)
    with pytest.raises(ValueError) as info:
        ExportProfile("x.csv", "generic", 3, {"response": 3}, (column,), ())
    assert "canary" not in str(info.value)
    with pytest.raises(ValueError):
        ExportProfile(
            "x.csv",
            "generic",
            3,
            {},
            (ColumnProfile("Q1", "", "empty", 0.0, 0, None, False),),
            (),
            {"id_column": "203.0.113.77"},
        )


def test_identifiers_that_hide_in_media_geo_custom_data_and_other_text(tmp_path):
    """Columns that identify a person without looking like an email or a name: an ODK photo, barcode or traced
    shape, SurveyMonkey custom data left empty, an 'other (please specify)' answer, REDCap's survey identifier."""
    path = tmp_path / "odk_and_friends.csv"
    rows = [
        "age,Custom Data 1,barcode,photo,walk,substance_other_text,Which substance? - Other (please specify),"
        "redcap_survey_identifier,mood",
        '31,,4006381333931,1523466.jpg,"47.3769 8.5417 400 5;47.3771 8.5420 401 5",,,,3',
        '45,,4006381333948,1523467.jpg,"47.3869 8.5517 402 4;47.3871 8.5520 403 4",,,,4',
        '52,,4006381333955,1523468.jpg,"47.3969 8.5617 404 4;47.3971 8.5620 405 4",,,,2',
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    profile = inspect_export(path, format="generic")
    flagged = profile.identifiers
    assert {
        "Custom Data 1",
        "barcode",
        "photo",
        "walk",
        "substance_other_text",
        "Which substance? - Other (please specify)",
        "redcap_survey_identifier",
    } <= set(flagged), flagged
    assert "age" not in flagged and "mood" not in flagged
    assert "GPS point, trace or shape" in flagged["walk"] and "photo" in flagged["photo"]
