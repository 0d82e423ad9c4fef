"""Which export format a file is, from its signature (encoding, delimiter and the first header records).

Detection never guesses: a file either carries the signature of one known format or is refused with a message
naming the file and listing what was expected. `generic` is only ever returned when the study mapping supplies
generic reader options, because a generic CSV has no signature of its own. Files that merely look like a
LimeSurvey, SurveyMonkey, Google Forms or Kobo export are named as such in the refusal, so the author knows to
write those options.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from pipelines.readers._text import (
    TextLayout,
    first_line,
    is_zip,
    read_head,
    read_records,
    sniff_delimiter,
    sniff_encoding,
)
from pipelines.readers.errors import ExportReadError

EXPECTED = (
    "one of: Qualtrics CSV (3 header rows with ImportId JSON), Qualtrics TSV (UTF-16, tab-separated), "
    "legacy Qualtrics CSV (V1..V10 header), 2016 Qualtrics CSV ({'ImportId': ...} row), REDCap CSV (record ID, "
    "redcap_* or <form>_complete columns; with its data dictionary), or a generic CSV/XLSX described by the "
    "study mapping's reader options"
)
_REDCAP_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_REDCAP_SPECIAL = {
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_data_access_group",
    "redcap_survey_identifier",
}
DICTIONARY_FIRST = "variable / field name"
_LOOKALIKES = (
    ("a LimeSurvey export", lambda n: {"id", "submitdate", "lastpage", "startlanguage"} <= n),
    ("a SurveyMonkey export", lambda n: {"respondent id", "collector id"} <= n),
    ("a Google Forms export", lambda n: "timestamp" in n),
    ("an ODK/KoboToolbox export", lambda n: bool({"_uuid", "_submission_time", "meta/instanceid", "instanceid"} & n)),
)


class UnknownFormatError(ExportReadError):
    """No known signature; `.lookalike` names the tool the file resembles (for drafting reader options), if any."""

    def __init__(self, file_name: str, problem: str, *, line: int | None, expected: str, lookalike: str | None):
        self.lookalike = lookalike
        super().__init__(file_name, problem, line=line, expected=expected)


def _cells(record: list[str]) -> list[str]:
    return [c.strip() for c in record]


def looks_like_json_import_ids(record: list[str]) -> bool:
    filled = [c for c in _cells(record) if c]
    if not filled:
        return False
    ok = 0
    for cell in filled:
        try:
            ok += isinstance(json.loads(cell), dict) and "ImportId" in json.loads(cell)
        except json.JSONDecodeError:
            pass
    return ok >= max(1, len(filled) // 2)


def looks_like_dict_import_ids(record: list[str]) -> bool:
    filled = [c for c in _cells(record) if c]
    return bool(filled) and sum(c.startswith("{'ImportId'") for c in filled) >= max(1, len(filled) // 2)


def looks_like_redcap(names: list[str]) -> bool:
    """Raw REDCap headers: field-name-shaped names, and redcap_* columns or <form>_complete columns."""
    if not names or not all(_REDCAP_NAME.match(n) for n in names if n):
        return False
    if _REDCAP_SPECIAL & set(names):
        return True
    completes = [n for n in names if n.endswith("_complete")]
    return bool(completes) and (names[0] == "record_id" or names[0].endswith("_id") or any("___" in n for n in names))


def looks_like_redcap_labels(names: list[str]) -> bool:
    """Label-header REDCap exports: `Complete?` columns, or `Event Name` / `Repeat Instrument` beside the first."""
    lowered = {n.strip().lower() for n in names}
    return "complete?" in lowered or bool({"event name", "repeat instrument"} & lowered)


def lookalike(names: list[str]) -> str | None:
    lowered = {n.strip().lower() for n in names}
    return next((label for label, test in _LOOKALIKES if test(lowered)), None)


def _has_generic_options(options: Mapping | None) -> bool:
    return bool(options) and not set(options) <= {"dictionary_path"}


def detect_format(path: Path, *, options: Mapping | None = None) -> str:
    """The format name of an export file, from its signature; ExportReadError if it matches none."""
    path = Path(path)
    file_name = path.name
    head = read_head(path)
    if is_zip(head):
        if _has_generic_options(options):
            return "generic"
        raise ExportReadError(
            file_name,
            "is a ZIP archive or XLSX workbook and the study mapping gives no reader options",
            expected="format generic with a sheet option for an XLSX workbook",
        )
    encoding = sniff_encoding(head, file_name, expected=EXPECTED)
    delimiter = sniff_delimiter(first_line(path, encoding))
    records = read_records(path, TextLayout(encoding, delimiter), 3, file_name, EXPECTED)
    if not records or not any(c.strip() for c in records[0]):
        raise ExportReadError(file_name, "has no header row", line=1, expected=EXPECTED)
    names = _cells(records[0])
    third = records[2] if len(records) >= 3 else []

    qualtrics = None
    if tuple(names[:10]) == tuple(f"V{i}" for i in range(1, 11)):
        qualtrics, want = "qualtrics_legacy", ","
    elif third and looks_like_dict_import_ids(third):
        qualtrics, want = "qualtrics_2016", ","
    elif third and looks_like_json_import_ids(third):
        qualtrics, want = ("qualtrics_tsv", "\t") if delimiter == "\t" else ("qualtrics_csv", ",")
    if qualtrics:
        if delimiter != want:
            raise ExportReadError(
                file_name,
                f"has the {qualtrics} header but is not {'tab' if want == chr(9) else 'comma'}-separated",
                line=1,
                expected=f"a {qualtrics} export as Qualtrics writes it",
            )
        return qualtrics

    if names and names[0].lower() == DICTIONARY_FIRST:
        raise ExportReadError(
            file_name,
            "is a REDCap data dictionary, not a data export",
            line=1,
            expected="the REDCap data export; pass the dictionary as the dictionary_path option",
        )
    if {"event_name", "arm_num", "unique_event_name"} <= {n.lower() for n in names}:
        raise ExportReadError(file_name, "is a REDCap event list, not a data export", line=1, expected=EXPECTED)
    if looks_like_redcap(names) or (options and "dictionary_path" in options and looks_like_redcap_labels(names)):
        if delimiter != ",":
            raise ExportReadError(
                file_name, "has a REDCap header but is not comma-separated", line=1, expected="a REDCap CSV export"
            )
        return "redcap"
    if _has_generic_options(options):
        return "generic"
    like = lookalike(names)
    problem = "matches no known export format"
    if like:
        problem += f"; it looks like {like}, which needs format generic and reader options in the study mapping"
    raise UnknownFormatError(file_name, problem, line=1, expected=EXPECTED, lookalike=like)
