"""Exports of other survey tools through the real Dagster assets, with study mappings written only in YAML.

Synthetic LimeSurvey, SurveyMonkey and Google Forms exports (tests/readers/fixtures, format `generic` with reader
options) and the real REDCap longitudinal project (../shared/samples/real-exports, format `redcap` with its data
dictionary, events as waves). Every expected count is worked out here from the export itself with the csv module,
never taken from the pipeline.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from pipelines.ingest.process import process_file
from schemas.study_config import StudyConfigError, load_study
from tests.formats.conftest import FIXTURES, REDCAP_DATA, REDCAP_STUDY, write_redcap_mapping
from tests.leaks import stored_text, token_scanner

LIMESURVEY = FIXTURES / "limesurvey_responses.csv"
SURVEYMONKEY = FIXTURES / "surveymonkey_responses.csv"
GOOGLE_FORMS = FIXTURES / "google_forms_responses.csv"

AGE_BANDS = (
    (18, 24, "18-24"),
    (25, 34, "25-34"),
    (35, 44, "35-44"),
    (45, 54, "45-54"),
    (55, 64, "55-64"),
    (65, 200, "65+"),
)


# --- reading the exports independently ------------------------------------------------------------------------
def records(path: Path, header_records: int, delimiter: str = ",") -> tuple[list[str], list[dict[str, str]]]:
    """(names, data rows as dicts) of a CSV whose first record holds the names; `header_records` are skipped."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh, delimiter=delimiter))
    names = rows[0]
    data = [r for r in rows[header_records:] if any(c.strip() for c in r)]
    return names, [dict(zip(names, r)) for r in data]


def age_band(text: str) -> str | None:
    if not text.strip():
        return None
    age = int(text)
    return next(label for lo, hi, label in AGE_BANDS if lo <= age <= hi)


def values_of(rows: list[dict[str, str]], columns, *, min_length: int = 4) -> set[str]:
    return {r[c].strip() for r in rows for c in columns if len(r[c].strip()) >= min_length}


# --- reading the warehouse ------------------------------------------------------------------------------------
def ingested(ws, study: str, file_name: str) -> dict:
    cols = [
        "status",
        "wave",
        "rows_read",
        "rows_accepted",
        "rows_quarantined",
        "rows_excluded",
        "excluded_by_reason",
        "error",
    ]
    rows = ws.sql(
        f"SELECT {', '.join(cols)} FROM ops.ingested_files WHERE study = ? AND file_name = ?", [study, file_name]
    )
    assert len(rows) == 1, rows
    out = dict(zip(cols, rows[0]))
    out["excluded_by_reason"] = dict(out["excluded_by_reason"] or {})
    return out


def assert_loaded(
    ws, study: str, file_name: str, *, read: int, accepted: int, quarantined: int, excluded: dict[str, int]
) -> None:
    row = ingested(ws, study, file_name)
    assert row["status"] == "loaded", row["error"]
    assert (row["rows_read"], row["rows_accepted"], row["rows_quarantined"]) == (read, accepted, quarantined)
    assert row["excluded_by_reason"] == {k: v for k, v in excluded.items() if v}
    assert row["rows_excluded"] == sum(excluded.values())
    assert row["rows_read"] == row["rows_accepted"] + row["rows_quarantined"] + row["rows_excluded"]


def checks(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def assert_ingest_ok(result) -> None:
    assert result.success
    passed = checks(result)
    # every column of the export is mapped or deliberately ignored: the YAML covers the whole export
    assert passed["columns_mapped"] and passed["rows_reconcile"] and passed["one_row_per_participant_wave"], passed


def assert_published(ws, study: str) -> None:
    assert ws.publish().success
    # fixtures this small only make cells below 11 participants: every figure withheld
    cells = ws.sql(
        """SELECT count(*), count(*) FILTER (WHERE NOT suppressed OR n_participants IS NOT NULL
                                                          OR n IS NOT NULL OR mean IS NOT NULL)
                      FROM public.outcomes WHERE study = ?""",
        [study],
    )
    n_research = ws.sql("SELECT count(*) FROM research.responses WHERE study = ?", [study])[0][0]
    assert cells[0][1] == 0
    # the grid of dose cells exists for every study with rows (outcome cells only for studies with instruments)
    doses = ws.sql(
        "SELECT count(*), count(*) FILTER (WHERE NOT suppressed) FROM public.dose_distribution WHERE study = ?", [study]
    )
    assert (doses[0][0] > 0) == (n_research > 0) and doses[0][1] == 0
    assert ws.settings.research_tier.exists() and ws.settings.public_tier.exists()


def assert_nothing_identifying(ws, secrets: set[str], *, source: Path, exact: set[str] = frozenset()) -> None:
    """No secret in any text column of either DuckDB file, nor in the raw bytes of anything under DAGSTER_HOME.

    `exact` values (short keys such as REDCap record IDs "100") are only looked for as whole stored values.
    `source` is the export the secrets come from: every secret must be found in it, so the search is known to work.
    """
    secrets = {s for s in secrets if s}
    assert token_scanner(secrets)(source.read_bytes()) == sorted(secrets)  # the search finds every secret where it is
    found_in = token_scanner(secrets | {s.lower() for s in secrets if "@" in s})  # emails are lower-cased first

    for db in (ws.settings.warehouse, ws.settings.research_tier, ws.settings.public_tier):
        stored = stored_text(db)
        leaked = found_in("\n".join(stored).encode()) + sorted(exact & stored)
        assert not leaked, f"{len(leaked)} identifying value(s) found in {db.name}"

    files = [p for p in ws.settings.dagster_home.rglob("*") if p.is_file()]
    assert files
    for path in files:
        leaked = found_in(path.read_bytes())
        assert not leaked, f"{len(leaked)} identifying value(s) found in {path}"


def research_rows(ws, study: str, columns: str) -> list[tuple]:
    return ws.sql(f"SELECT {columns} FROM research.responses WHERE study = ? ORDER BY ALL", [study])


# --- LimeSurvey ---------------------------------------------------------------------------------------------
STUDY_LS = "limesurvey_fixture"


def limesurvey_followup(tmp_path: Path, days: int = 30) -> Path:
    """The fixture as a later wave: the same participants (tokens), every date `days` later."""
    with LIMESURVEY.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    at = [rows[0].index(c) for c in ("submitdate", "startdate", "datestamp")]
    for row in rows[1:]:
        for i in at:
            if row[i].strip():
                row[i] = (dt.datetime.fromisoformat(row[i]) + dt.timedelta(days=days)).isoformat(sep=" ")
    target = tmp_path / "limesurvey_followup.csv"
    with target.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    return target


def test_limesurvey_two_waves(formats_workspace, tmp_path):
    ws = formats_workspace
    _, rows = records(LIMESURVEY, 1)
    submitted = [r for r in rows if r["submitdate"].strip()]
    assert 0 < len(submitted) < len(rows)  # the fixture has an unsubmitted response

    results = [
        ws.ingest(ws.land(LIMESURVEY, name="limesurvey_baseline.csv", study=STUDY_LS)),
        ws.ingest(ws.land(limesurvey_followup(tmp_path), study=STUDY_LS)),
    ]
    for result in results:
        assert_ingest_ok(result)
        assert checks(result)["rows_valid"]  # nothing quarantined
    for name in ("limesurvey_baseline.csv", "limesurvey_followup.csv"):
        assert_loaded(
            ws,
            STUDY_LS,
            name,
            read=len(rows),
            accepted=len(submitted),
            quarantined=0,
            excluded={"unfinished": len(rows) - len(submitted)},
        )
    assert dict(ws.sql("SELECT file_name, wave FROM ops.ingested_files WHERE study = ?", [STUDY_LS])) == {
        "limesurvey_baseline.csv": "baseline",
        "limesurvey_followup.csv": "followup_30d",
    }
    assert_published(ws, STUDY_LS)

    assert dict(ws.sql("SELECT wave, count(*) FROM research.responses WHERE study = ? GROUP BY wave", [STUDY_LS])) == {
        "baseline": len(submitted),
        "followup_30d": len(submitted),
    }
    gender = {"A1": "woman", "A2": "man", "A3": "non_binary"}
    substance = {"A1": "psilocybin_mushrooms", "A2": "lsd"}
    expected = sorted((age_band(r["age"]), gender[r["gender"]], substance[r["substance"]]) for r in submitted)
    for wave in ("baseline", "followup_30d"):
        got = ws.sql(
            "SELECT age_band, gender, substance FROM research.responses WHERE study = ? AND wave = ? ORDER BY ALL",
            [STUDY_LS, wave],
        )
        assert got == expected
    # the free-text doses were read ("0.1 g dried", "10 ug"), then dropped
    assert research_rows(ws, STUDY_LS, "DISTINCT substance, dose_amount, dose_unit, dose_status") == [
        ("lsd", 10.0, "ug", "exact"),
        ("psilocybin_mushrooms", 0.1, "g", "exact"),
    ]
    # waves link through the pseudonymised token; the interval survives the keyed date shift exactly
    assert ws.sql(
        """SELECT wave, min(days_since_baseline), max(days_since_baseline), count(DISTINCT participant_id)
                     FROM research.responses WHERE study = ? GROUP BY wave ORDER BY wave""",
        [STUDY_LS],
    ) == [("baseline", 0, 0, len(submitted)), ("followup_30d", 30, 30, len(submitted))]

    # only the calendar quarter of each response is kept
    def quarter(stamp: dt.datetime) -> str:
        return f"{stamp.year}-Q{(stamp.month - 1) // 3 + 1}"

    dates = [dt.datetime.fromisoformat(r["submitdate"]) for r in submitted]
    for wave, shift in (("baseline", 0), ("followup_30d", 30)):
        got = ws.sql(
            "SELECT DISTINCT response_quarter FROM research.responses WHERE study = ? AND wave = ?", [STUDY_LS, wave]
        )
        assert {q for (q,) in got} == {quarter(d + dt.timedelta(days=shift)) for d in dates}

    secrets = values_of(rows, ("token", "ipaddr", "refurl"), min_length=3)
    secrets |= values_of(rows, ("comment", "dose", "protocol[other]"), min_length=4)
    assert len(secrets) >= 10
    assert_nothing_identifying(ws, secrets, source=LIMESURVEY)


# --- SurveyMonkey -------------------------------------------------------------------------------------------
STUDY_SM = "surveymonkey_fixture"


def test_surveymonkey_two_header_rows(formats_workspace):
    ws = formats_workspace
    _, rows = records(SURVEYMONKEY, 2)
    blank_key = [i for i, r in enumerate(rows) if not r["Email Address"].strip()]
    assert 0 < len(blank_key) < len(rows)

    result = ws.ingest(ws.land(SURVEYMONKEY, study=STUDY_SM))
    assert_ingest_ok(result)
    assert not checks(result)["rows_valid"]  # WARN: a response without the key column is quarantined
    assert_loaded(
        ws,
        STUDY_SM,
        SURVEYMONKEY.name,
        read=len(rows),
        accepted=len(rows) - len(blank_key),
        quarantined=len(blank_key),
        excluded={},
    )
    # position and check only: records 1-2 are headers, so data row i is record i + 3
    assert ws.sql(
        "SELECT source_row, column_name, check_name FROM ops.quarantine WHERE study = ? ORDER BY ALL", [STUDY_SM]
    ) == [(i + 3, "participant_key", "participant_key_present") for i in blank_key]
    assert_published(ws, STUDY_SM)

    accepted = [r for i, r in enumerate(rows) if i not in blank_key]
    protocol = {"Fadiman": "fadiman", "Stamets": "stamets", "Intuitive": "intuitive"}
    assert research_rows(ws, STUDY_SM, "wave, age_band, protocol, days_since_baseline") == sorted(
        ("baseline", age_band(r["How old are you?"]), protocol[r["Which schedule do you follow?"]], 0) for r in accepted
    )
    # "07/31/2023 04:29:02 PM": month first, as the mapping's date_order says
    assert research_rows(ws, STUDY_SM, "DISTINCT response_quarter") == [("2023-Q3",)]
    ids = [pid for (pid,) in research_rows(ws, STUDY_SM, "participant_id")]
    assert len(set(ids)) == len(accepted) and all(re.fullmatch(r"[0-9a-f]{64}", pid) for pid in ids)

    identifying = ("Respondent ID", "IP Address", "Email Address", "First Name", "Last Name", "Custom Data 1")
    secrets = values_of(rows, identifying, min_length=3)
    # free text: the substance question's "Other (please specify)" column (its name is in the label row, so it
    # is read by position) and the closing comment
    with SURVEYMONKEY.open(newline="", encoding="utf-8") as fh:
        header, labels, *data = list(csv.reader(fh))
    free_text = [labels.index("Other (please specify)"), header.index("What else would you like to tell us?")]
    secrets |= {r[i].strip() for r in data for i in free_text if len(r[i].strip()) >= 4}
    assert {"ginger tea", "Quinn", "203.0.113.5", "quinn.fakeperson@example.invalid"} <= secrets
    assert_nothing_identifying(ws, secrets, source=SURVEYMONKEY)


# --- Google Forms -------------------------------------------------------------------------------------------
STUDY_GF = "google_forms_fixture"


def test_google_forms(formats_workspace):
    ws = formats_workspace
    _, rows = records(GOOGLE_FORMS, 1)
    substances = {"Psilocybin": "psilocybin_mushrooms", "LSD": "lsd"}
    expected_quarantine = []
    for i, r in enumerate(rows):
        if not r["Email Address"].strip():
            expected_quarantine.append((i + 2, "participant_key", "participant_key_present"))
        if r["Which substances have you microdosed?"].strip() not in substances:  # e.g. "Psilocybin, LSD"
            expected_quarantine.append((i + 2, "substance", "code_in_mapping"))
    bad_rows = {row for row, _, _ in expected_quarantine}
    accepted = [r for i, r in enumerate(rows) if i + 2 not in bad_rows]
    assert accepted and bad_rows

    result = ws.ingest(ws.land(GOOGLE_FORMS, study=STUDY_GF))
    assert_ingest_ok(result)
    assert_loaded(
        ws, STUDY_GF, GOOGLE_FORMS.name, read=len(rows), accepted=len(accepted), quarantined=len(bad_rows), excluded={}
    )
    assert ws.sql(
        "SELECT source_row, column_name, check_name FROM ops.quarantine WHERE study = ? ORDER BY ALL", [STUDY_GF]
    ) == sorted(expected_quarantine)
    assert_published(ws, STUDY_GF)

    assert research_rows(ws, STUDY_GF, "wave, age_band, substance") == sorted(
        ("baseline", age_band(r["How old are you?"]), substances[r["Which substances have you microdosed?"]])
        for r in accepted
    )
    assert research_rows(ws, STUDY_GF, "DISTINCT response_quarter") == [("2023-Q3",)]

    secrets = values_of(rows, ("Email Address",), min_length=3) | values_of(rows, ("Anything else?",), min_length=4)
    assert len(secrets) >= 4
    assert_nothing_identifying(ws, secrets, source=GOOGLE_FORMS)


def test_multi_valued_answer_is_never_loaded_as_unanswered(formats_workspace, studies_dir):
    """A checkbox answer naming two substances cannot become "not answered": refuse the mapping or the row."""
    ws = formats_workspace
    path = studies_dir / f"{STUDY_GF}.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["fields"]["substance"]["multiple"] = True  # as one would write for a checkbox question
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    _, rows = records(GOOGLE_FORMS, 1)
    assert all(r["Which substances have you microdosed?"].strip() for r in rows)  # everyone answered

    result = ws.ingest(ws.land(GOOGLE_FORMS, study=STUDY_GF))
    if result.success:  # loaded: then no answered substance may read as unanswered
        assert ws.sql("SELECT count(*) FROM research.responses WHERE study = ? AND substance IS NULL", [STUDY_GF]) == [
            (0,)
        ]
    else:  # or refused, naming the key
        assert "fields.substance" in ingested(ws, STUDY_GF, GOOGLE_FORMS.name)["error"]


# --- REDCap longitudinal ------------------------------------------------------------------------------------
REDCAP_WAVES = {
    "enrollment_arm_1": "enrollment",
    "enrollment_arm_2": "enrollment",
    "visit_1_arm_1": "visit_1",
    "first_visit_arm_2": "visit_1",
    "visit_2_arm_1": "visit_2",
    "final_visit_arm_1": "final_visit",
    "final_visit_arm_2": "final_visit",
}
# withheld by the reader (Identifier? = y, or validated as email/phone) ...
REDCAP_IDENTIFIERS = ("first_name", "last_name", "telephone_1", "email", "dob", "ec_phone", "next_of_kin_contact_phone")
# ... and yielded but ignored by the mapping: a name and an address the dictionary does not flag, and free text
REDCAP_UNFLAGGED = (
    "next_of_kin_contact_name",
    "next_of_kin_contact_address",
    "comments",
    "vob7",
    "vob14",
    "study_comments",
)


def redcap_secrets(rows) -> set[str]:
    secrets = values_of(rows, REDCAP_IDENTIFIERS, min_length=4) | values_of(rows, REDCAP_UNFLAGGED, min_length=4)
    # a birth date equal to someone's enrolment date is a coincidence, not a leak (and dates are not loaded anyway)
    return secrets - {r["date_enrolled"] for r in rows}


@pytest.mark.real_exports
def test_redcap_longitudinal_events_as_waves(formats_workspace):
    ws = formats_workspace
    _, rows = records(REDCAP_DATA, 1)
    in_study = [r for r in rows if r["redcap_event_name"] in REDCAP_WAVES]

    def valid_age(text: str) -> bool:
        return not text.strip() or (text.strip().isdigit() and 18 <= int(text) <= 100)

    bad_age = [r for r in in_study if not valid_age(r["age"])]  # this project enrols children: ages 4 and 9
    accepted = [r for r in in_study if valid_age(r["age"])]
    assert bad_age and accepted

    result = ws.ingest(ws.land(REDCAP_DATA, study=REDCAP_STUDY))
    assert_ingest_ok(result)
    assert_loaded(
        ws,
        REDCAP_STUDY,
        REDCAP_DATA.name,
        read=len(rows),
        accepted=len(accepted),
        quarantined=len(bad_age),
        excluded={"wave_not_in_study": len(rows) - len(in_study)},
    )
    assert ingested(ws, REDCAP_STUDY, REDCAP_DATA.name)["wave"] == "(per row)"
    positions = {id(r): i + 2 for i, r in enumerate(rows)}
    assert ws.sql(
        "SELECT source_row, column_name, check_name FROM ops.quarantine WHERE study = ? ORDER BY ALL", [REDCAP_STUDY]
    ) == sorted((positions[id(r)], "age", "age_whole_years_18_to_100") for r in bad_age)
    assert_published(ws, REDCAP_STUDY)

    # waves as mapped from redcap_event_name, both arms
    assert dict(
        ws.sql("SELECT wave, count(*) FROM research.responses WHERE study = ? GROUP BY wave", [REDCAP_STUDY])
    ) == dict(Counter(REDCAP_WAVES[r["redcap_event_name"]] for r in accepted))
    # one pseudonym per study_id, the same in every wave
    assert ws.sql("SELECT count(DISTINCT participant_id) FROM research.responses WHERE study = ?", [REDCAP_STUDY]) == [
        (len({r["study_id"] for r in accepted}),)
    ]
    # demographics on enrollment rows: sex 0/1 -> woman/man; meds checkbox (Lexapro, Celexa, ...: all SSRIs)
    sexes = {"0": "woman", "1": "man"}
    meds = [f"meds___{i}" for i in range(1, 6)]
    expected = sorted(
        (
            REDCAP_WAVES[r["redcap_event_name"]],
            age_band(r["age"]),
            sexes.get(r["sex"]),
            # no box ticked: unknown (the form may not be on this event), never "no interacting medication"
            ["ssri"] if any(r[m] == "1" for m in meds) else None,
        )
        for r in accepted
    )
    assert research_rows(ws, REDCAP_STUDY, "wave, age_band, gender, medication_classes") == expected
    flags = [
        name
        for (name,) in ws.sql("""SELECT column_name FROM duckdb_columns() WHERE schema_name = 'research'
                                           AND table_name = 'responses' AND column_name LIKE 'flag_%ssri%'""")
    ]
    for flag in flags:  # the SSRI safety flag is raised wherever an SSRI was reported
        assert ws.sql(
            f"SELECT count(*) FROM research.responses WHERE study = ? AND list_contains(medication_classes, 'ssri') "
            f"AND {flag} IS NOT TRUE",
            [REDCAP_STUDY],
        ) == [(0,)]
    # not in this project, so not mapped: NULL
    assert research_rows(ws, REDCAP_STUDY, "DISTINCT substance, protocol, phq9_total") == [(None, None, None)]

    # no study ID in the clear, and none of the withheld or ignored identifying values anywhere
    ids = [pid for (pid,) in research_rows(ws, REDCAP_STUDY, "participant_id")]
    assert all(re.fullmatch(r"[0-9a-f]{64}", pid) for pid in ids)
    secrets = redcap_secrets(rows)
    assert {"Zharko", "zlehnox@gmail.com", "(415) 555-1212", "1983-09-23"} <= secrets
    assert_nothing_identifying(ws, secrets, source=REDCAP_DATA, exact={r["study_id"] for r in rows})


@pytest.mark.real_exports
@pytest.mark.parametrize(
    "key, column",
    [
        ("participant_key.column", "first_name"),
        ("participant_key.column", "telephone_1"),
        ("fields.age.column", "dob"),
        ("response_date_column", "dob"),
    ],
)
def test_redcap_identifier_can_never_be_mapped(studies_dir, tmp_path, key, column):
    """Refused before a row is read, naming the file, the key and the column (no Dagster: the run below shows the
    same refusal through the assets)."""
    study_file = write_redcap_mapping(studies_dir, **{key: column})
    with pytest.raises(StudyConfigError) as refused:
        process_file(
            REDCAP_DATA,
            load_study(study_file),
            study_file=study_file.name,
            key=b"k" * 32,
            staging_root=tmp_path / "staging",
        )
    error = str(refused.value)
    assert study_file.name in error and f"key `{key}`" in error and repr(column) in error
    assert "identifier" in error
    assert not (tmp_path / "staging").exists() or not any((tmp_path / "staging").rglob("*.parquet"))


@pytest.mark.real_exports
def test_redcap_identifier_mapped_fails_the_file_and_publishes_nothing(formats_workspace, studies_dir):
    ws, key, column = formats_workspace, "participant_key.column", "email"
    study_file = write_redcap_mapping(studies_dir, **{key: column})
    _, rows = records(REDCAP_DATA, 1)

    result = ws.ingest(ws.land(REDCAP_DATA, study=REDCAP_STUDY))
    assert not result.success
    row = ingested(ws, REDCAP_STUDY, REDCAP_DATA.name)
    assert row["status"] == "failed"
    assert row["rows_read"] is None and row["rows_accepted"] is None
    error = row["error"]
    assert error.startswith(REDCAP_DATA.name)
    assert study_file.name in error and f"key `{key}`" in error and repr(column) in error
    assert "identifier" in error
    # the run's failure says the same
    failures = [e for e in result.all_events if e.is_step_failure]
    assert [e.step_key for e in failures] == ["deidentified_responses"]
    assert failures[0].step_failure_data.user_failure_data.description == error

    assert ws.sql("SELECT count(*) FROM research.responses") == [(0,)]
    assert ws.sql("SELECT count(*) FROM ops.quarantine") == [(0,)]
    assert ws.publish().success
    assert ws.sql("SELECT count(*) FROM public.outcomes") == [(0,)]
    assert_nothing_identifying(ws, redcap_secrets(rows), source=REDCAP_DATA, exact={r["study_id"] for r in rows})
