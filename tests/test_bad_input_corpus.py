"""The bad-input corpus: every kind of bad file an operator has dropped into a landing folder, each with what the
pipeline must say or do. Each case is built from the bundled sample's baseline export (a real Qualtrics layout) by
one change, and processed as `survey-pipeline run` processes a landing file (`process_file`, with the study's own
mapping), or looked at as the landing scan looks at entries.

The expectations were written from the kind of fault alone, before the code ran on them: the message names the
file, the record (line) where there is one, and what was expected; it never holds a cell of the file; and whatever
loads reconciles (rows read = accepted + quarantined + excluded)."""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipelines.ingest.landing import scan_landing
from pipelines.ingest.process import process_file
from pipelines.readers import ExportReadError
from schemas.study_config import StudyConfigError, load_study
from tests.leaks import token_scanner
from tests.paths import SAMPLE_DIR

STUDY_FILE = Path(__file__).resolve().parents[1] / "schemas" / "studies" / "microdose_mood.yaml"
SAMPLE = SAMPLE_DIR / "baseline.csv"
KEY = bytes(range(32))
HEADER_RECORDS = 3


def sample_records() -> list[list[str]]:
    with SAMPLE.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


RECORDS = sample_records()
NAMES = RECORDS[0]
DATA = RECORDS[HEADER_RECORDS:]


def col(name: str) -> int:
    return NAMES.index(name)


def render(records: list[list[str]], *, quoting: int = csv.QUOTE_MINIMAL, delimiter: str = ",") -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n", quoting=quoting, delimiter=delimiter).writerows(records)
    return out.getvalue()


def with_cell(record: int, name: str, value: str) -> list[list[str]]:
    """The sample with one cell changed; `record` counts from the top, header records included (1-based)."""
    records = [list(r) for r in RECORDS]
    records[record - 1][col(name)] = value
    return records


def sample_bytes(records: list[list[str]] | None = None, **kwargs) -> bytes:
    return render(records or RECORDS, **kwargs).encode("utf-8")


# a response that passes every filter (consented, eligible, finished, a real response): a change there shows
ELIGIBLE = next(
    i
    for i, r in enumerate(RECORDS, 1)
    if i > HEADER_RECORDS
    and r[col("Q1")] == "1"
    and r[col("Q2")] == "1"
    and r[col("Finished")] == "1"
    and r[col("Status")] == "0"
)


def unclosed_quote_same_column() -> bytes:
    """A quote opened in one respondent's dose answer that closes at the next respondent's (quoted) dose answer:
    the merged record is exactly as wide as the header, and one respondent would vanish."""
    records = [list(r) for r in RECORDS]
    here, nxt = ELIGIBLE, ELIGIBLE + 1
    records[here - 1][col("Q7")] = "QQmark"
    records[nxt - 1][col("Q7")] = "0.1 g, sometimes 0.2 g"  # holds a comma: the writer quotes it
    for r in (here, nxt):  # nothing else quoted in the two records
        for j, v in enumerate(records[r - 1]):
            if j != col("Q7") and any(c in v for c in ',"\r\n'):
                records[r - 1][j] = v.replace(",", " ").replace('"', "").replace("\r", " ").replace("\n", " ")
    text = render(records)
    return text.replace("QQmark", '"0.2 g', 1).encode()


def unclosed_quote_extra_fields() -> bytes:
    """A quote opened in one respondent's last answer (the comment) that closes at the next respondent's quoted
    dose answer: the merged record has more fields than the header."""
    records = [list(r) for r in RECORDS]
    here, nxt = ELIGIBLE, ELIGIBLE + 1
    records[here - 1][col("Q13")] = "QQmark"
    records[nxt - 1][col("Q7")] = "0.1 g, sometimes 0.2 g"
    for r in (here, nxt):
        for j, v in enumerate(records[r - 1]):
            if j != col("Q7") or r == here:
                if j != col("Q13") or r == nxt:
                    records[r - 1][j] = v.replace(",", " ").replace('"', "").replace("\r", " ").replace("\n", " ")
    records[nxt - 1][col("Q7")] = "0.1 g, sometimes 0.2 g"
    return render(records).replace("QQmark", '"felt fine', 1).encode()


def unclosed_quote_runs_on() -> bytes:
    """A quote opened in a dose answer that is closed only many records later."""
    text = render(with_cell(ELIGIBLE, "Q7", "QQmark"))
    return text.replace("QQmark", '"0.2 g', 1).encode()


def mixed_encoding_at_depth() -> tuple[bytes, int, int]:
    """The sample many times over (so the bad byte is far past the first 64 KB), then one response appended in
    Windows-1252 by another program. Returns the bytes, the offset of the first bad byte and its line."""
    body = render(RECORDS[:HEADER_RECORDS] + DATA * 8)
    appended = render([["Müller" if j == col("RecipientLastName") else v for j, v in enumerate(DATA[0])]])
    good = body.encode("utf-8")
    bad = appended.encode("cp1252")
    offset = len(good) + next(i for i, b in enumerate(bad) if b > 127)
    line = HEADER_RECORDS + 8 * len(DATA) + 1  # the appended record (answers span lines: not a line count)
    return good + bad, offset, line


def latin1_records() -> list[list[str]]:
    """The export as an old Excel saves it, with accented names in the first response (µ, which Latin-1 has but
    which would come first, in the header, spelled u)."""
    records = with_cell(HEADER_RECORDS + 1, "RecipientLastName", "Müller-Lüdenscheidt")
    records[HEADER_RECORDS][col("RecipientFirstName")] = "Hélène"
    return [[v.replace("µ", "u") for v in r] for r in records]


def latin1_export() -> bytes:
    return render(latin1_records()).encode("latin-1")


def xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def header_rows_only() -> bytes:
    return sample_bytes(RECORDS[:HEADER_RECORDS])


def with_extra_field(record: int) -> bytes:
    records = [list(r) for r in RECORDS]
    records[record - 1].append("surplus")
    return sample_bytes(records)


def without_column(name: str) -> bytes:
    j = col(name)
    return sample_bytes([r[:j] + r[j + 1 :] for r in RECORDS])


def with_new_column_full() -> bytes:
    extra = ["Q14", "A new question", '{"ImportId":"QID14"}'] + ["3"] * len(DATA)
    return sample_bytes([r + [v] for r, v in zip(RECORDS, extra)])


def reordered_columns() -> bytes:
    order = list(range(len(NAMES)))
    order[col("Q3")], order[col("Q4")] = order[col("Q4")], order[col("Q3")]
    return sample_bytes([[r[j] for j in order] for r in RECORDS])


def repeated_header() -> bytes:
    half = HEADER_RECORDS + len(DATA) // 2
    return sample_bytes(RECORDS[:half] + RECORDS[:HEADER_RECORDS] + RECORDS[half:])


def line_endings(ending: str) -> bytes:
    return render(RECORDS).replace("\r\n", "\x00").replace("\x00", ending).encode()


def blank_lines() -> bytes:
    text = render(RECORDS)
    lines = text.split("\r\n")
    return ("\r\n".join(lines[:40] + ["", ""] + lines[40:]) + "\r\n\r\n\r\n").encode()


def all_dates_broken() -> bytes:
    records = [list(r) for r in RECORDS]
    for r in records[HEADER_RECORDS:]:
        r[col("RecordedDate")] = "sometime last week"
    return sample_bytes(records)


def ambiguous_dates() -> bytes:
    records = [list(r) for r in RECORDS]
    for r in records[HEADER_RECORDS:]:
        r[col("RecordedDate")] = "07/08/2025 10:00"
    return sample_bytes(records)


@dataclass
class Case:
    """One kind of bad input. `error`: the message must contain it (and `line`, when given, is the record named).
    `quarantined`: (column, check) pairs the changed row must be quarantined with. `excluded`: a reason counted.
    `loads`: the file loads whole (no error, nothing quarantined beyond the sample's own)."""

    kind: str
    content: Callable[[], bytes]
    error: str | None = None
    line: int | None = None
    quarantined: set[tuple[str, str]] = field(default_factory=set)
    excluded: str | None = None
    loads: bool = False
    name: str = "baseline.csv"
    check: Callable[[object], None] | None = None


FIRST_NON_ASCII = next(i for i, r in enumerate(latin1_records(), 1) if any(ord(c) > 127 for v in r for c in v))
MIXED, MIXED_OFFSET, MIXED_LINE = mixed_encoding_at_depth()
EXCEL_CSV_SEMICOLON = render(RECORDS, delimiter=";").encode()


def no_rows(outcome) -> None:
    assert outcome.rows_read == 0


def all_rows_quarantined(outcome) -> None:
    assert outcome.rows_quarantined > 0 and outcome.rows_accepted == 0


def unmapped_q14(outcome) -> None:
    assert outcome.unmapped_columns == ["Q14"]


CASES = [
    # --- not an export at all ---------------------------------------------------------------------------------
    Case("empty file", lambda: b"", error="is empty"),
    Case("only a byte-order mark and blank lines", lambda: b"\xef\xbb\xbf\r\n \r\n", error="is empty"),
    Case("a ZIP archive", lambda: b"PK\x03\x04" + bytes(200), error="is a ZIP archive or XLSX workbook"),
    Case("an XLSX workbook named .csv", xlsx_bytes, error="is a ZIP archive or XLSX workbook"),
    Case("a PNG image", lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), error="binary data"),
    Case(
        "a PDF", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\n", error="is not UTF-8 or UTF-16 text", line=2
    ),
    Case("control characters", lambda: b"\x1b[0m\x07\x01\x02\x03\x04\x05\x06\x0e\x0f" * 20, error="binary data"),
    Case("an HTML login page", lambda: b"<!DOCTYPE html>\n<html><head><title>Sign in</title>", error="is an HTML page"),
    Case("an HTML page, lower case", lambda: b"\n\n<html lang='en'>\n<body>Session expired</body>", error="HTML page"),
    Case("an XML document", lambda: b'<?xml version="1.0"?>\n<responses><r id="1"/></responses>', error="XML"),
    Case("a JSON API response", lambda: b'{"responses": [{"values": {"QID1": 1}}]}', error="is JSON"),
    Case("a JSON array", lambda: b'[\n  {"ResponseId": "R_1"}\n]', error="is JSON"),
    # --- encodings --------------------------------------------------------------------------------------------
    Case("UTF-32", lambda: "\ufeffStartDate,EndDate\r\n".encode("utf-32"), error="is UTF-32 text"),
    Case("UTF-16 BOM, broken", lambda: b"\xff\xfeS\x00t\x00\x00\xd8", error="not valid UTF-16"),
    Case(
        "UTF-16 without a BOM",
        lambda: render(RECORDS).encode("utf-16-le"),
        error="UTF-16 (little-endian) without a byte-order mark",
    ),
    Case("the export saved as Latin-1", latin1_export, error="probably Windows-1252 / Latin-1", line=FIRST_NON_ASCII),
    Case(
        "a Windows-1252 row appended deep in a UTF-8 file",
        lambda: MIXED,
        error=f"at byte {MIXED_OFFSET:,}",
        line=MIXED_LINE,
    ),
    Case(
        "a stray byte deep in a UTF-8 file",
        lambda: MIXED[:MIXED_OFFSET] + b"\xff" + MIXED[MIXED_OFFSET + 1 :],
        error="UTF-8 with bytes of another encoding mixed in",
        line=MIXED_LINE,
    ),
    # --- delimiters and headers -------------------------------------------------------------------------------
    Case(
        "semicolons (a European Excel re-save)",
        lambda: EXCEL_CSV_SEMICOLON,
        error="(it is separated by semicolons)",
        line=1,
    ),
    Case(
        "tabs in a comma study",
        lambda: render(RECORDS, delimiter="\t").encode(),
        error="(it is separated by tabs)",
        line=1,
    ),
    Case("only the first header row", lambda: sample_bytes(RECORDS[:1]), error="header", line=None),
    Case("the ImportId row missing", lambda: sample_bytes(RECORDS[:2] + DATA), error="ImportId", line=3),
    Case(
        "a duplicated column name, ImportId and all",
        lambda: sample_bytes([r[:-1] + ([r[col("Q12_7")]] if i in (0, 2) else [r[-1]]) for i, r in enumerate(RECORDS)]),
        error="duplicated column names",
        line=1,
    ),
    Case(
        "an export tag reused by two questions (told apart by ImportId; the mapping must say which)",
        lambda: sample_bytes([r[:-1] + ([r[col("Q12_7")]] if i == 0 else [r[-1]]) for i, r in enumerate(RECORDS)]),
        error="the export reuses the tag 'Q12_7'",
    ),
    Case("a required Qualtrics column missing", lambda: without_column("Status"), error="Status", line=1),
    Case("a mapped column missing", lambda: without_column("Q7"), error="Q7"),
    Case("the participant key column missing", lambda: without_column("RecipientEmail"), error="RecipientEmail"),
    Case("an instrument item missing", lambda: without_column("Q11_9"), error="Q11_9"),
    Case("a new unmapped column", with_new_column_full, loads=True, check=unmapped_q14),
    Case("columns in another order", reordered_columns, loads=True),
    Case("header rows only (no responses yet)", header_rows_only, loads=True, check=no_rows),
    Case(
        "the header rows repeated mid-file (two exports joined)",
        repeated_header,
        error="header rows appear again",
        line=HEADER_RECORDS + len(DATA) // 2 + 1,
    ),
    Case("a file name no wave matches", lambda: sample_bytes(), name="export-march.csv", error="no wave"),
    # --- structure of records ---------------------------------------------------------------------------------
    Case(
        "cut off inside a quoted answer",
        lambda: unclosed_quote_runs_on()[: unclosed_quote_runs_on().index(b'"0.2 g') + 40],
        error="quoted field is never closed",
        line=ELIGIBLE,
    ),
    Case(
        "cut off mid-row, no final newline",
        lambda: sample_bytes()[:-30],
        error="last row has fewer fields",
        line=len(RECORDS),
    ),
    Case(
        "an unclosed quote that runs on over many records", unclosed_quote_runs_on, error="never closed", line=ELIGIBLE
    ),
    Case(
        "an unclosed quote closed at the next respondent's answer",
        unclosed_quote_same_column,
        error="never closed",
        line=ELIGIBLE,
    ),
    Case("an unclosed quote leaving extra fields", unclosed_quote_extra_fields, error="never closed", line=ELIGIBLE),
    Case(
        "a surplus field in the first response",
        lambda: with_extra_field(HEADER_RECORDS + 1),
        error="more fields than the header",
        line=HEADER_RECORDS + 1,
    ),
    Case(
        "a surplus field later on",
        lambda: with_extra_field(HEADER_RECORDS + 20),
        error="more fields than the header",
        line=HEADER_RECORDS + 20,
    ),
    Case("old Mac line endings (CR only)", lambda: line_endings("\r"), loads=True),
    Case("Unix line endings", lambda: line_endings("\n"), loads=True),
    Case("blank lines inside and at the end", blank_lines, loads=True),
    Case("a byte-order mark", lambda: b"\xef\xbb\xbf" + sample_bytes(), loads=True),
    Case("every field quoted", lambda: sample_bytes(quoting=csv.QUOTE_ALL), loads=True),
    Case(
        "a Status the reader does not know",
        lambda: sample_bytes(with_cell(ELIGIBLE, "Status", "7")),
        error="Status",
        line=ELIGIBLE,
    ),
    Case(
        "all dates unreadable",
        all_dates_broken,
        check=all_rows_quarantined,
        quarantined={("recorded", "date_readable")},
    ),
    Case("ambiguous day/month dates and no date_order", ambiguous_dates, error="column RecordedDate are ambiguous"),
    # --- single bad values: the row is quarantined with its check, the rest loads ----------------------------
    Case(
        "age out of range",
        lambda: sample_bytes(with_cell(ELIGIBLE, "Q3", "150")),
        quarantined={("age", "age_whole_years_18_to_100")},
    ),
    Case(
        "age in words",
        lambda: sample_bytes(with_cell(ELIGIBLE, "Q3", "thirty")),
        quarantined={("age", "age_whole_years_18_to_100")},
    ),
    Case(
        "age with a decimal",
        lambda: sample_bytes(with_cell(ELIGIBLE, "Q3", "33.5")),
        quarantined={("age", "age_whole_years_18_to_100")},
    ),
    Case(
        "a gender code the mapping lacks",
        lambda: sample_bytes(with_cell(ELIGIBLE, "Q4", "9")),
        quarantined={("gender", "code_in_mapping")},
    ),
    Case(
        "a country answered as text",
        lambda: sample_bytes(with_cell(ELIGIBLE, "Q5", "Germany")),
        quarantined={("country", "code_in_mapping")},
    ),
    Case(
        "a multi-select with an unknown code",
        lambda: sample_bytes(with_cell(ELIGIBLE, "Q9", "1,9")),
        quarantined={("stack_components", "codes_in_mapping")},
    ),
    Case(
        "a PHQ-9 answer outside its coding",
        lambda: sample_bytes(with_cell(ELIGIBLE, "Q11_3", "7")),
        quarantined={("phq9_item3", "code_in_item_coding")},
    ),
    Case(
        "a GAD-7 answer as label text",
        lambda: sample_bytes(with_cell(ELIGIBLE, "Q12_1", "Several days")),
        quarantined={("gad7_item1", "code_in_item_coding")},
    ),
    Case(
        "an unreadable date",
        lambda: sample_bytes(with_cell(ELIGIBLE, "RecordedDate", "2025-13-45 10:00:00")),
        quarantined={("recorded", "date_readable")},
    ),
    Case(
        "a date in the future",
        lambda: sample_bytes(with_cell(ELIGIBLE, "RecordedDate", "2099-01-01 10:00:00")),
        quarantined={("recorded", "date_not_in_future")},
    ),
    Case(
        "an empty date",
        lambda: sample_bytes(with_cell(ELIGIBLE, "RecordedDate", "")),
        quarantined={("recorded", "date_present")},
    ),
    Case(
        "no participant key",
        lambda: sample_bytes(with_cell(ELIGIBLE, "RecipientEmail", "")),
        quarantined={("participant_key", "participant_key_present")},
    ),
    # --- rows that are not data: excluded and counted ---------------------------------------------------------
    Case("an unfinished response", lambda: sample_bytes(with_cell(ELIGIBLE, "Finished", "0")), excluded="unfinished"),
    Case("a survey preview", lambda: sample_bytes(with_cell(ELIGIBLE, "Status", "1")), excluded="preview"),
    Case("consent refused", lambda: sample_bytes(with_cell(ELIGIBLE, "Q1", "2")), excluded="no_consent"),
]


def process(tmp_path: Path, case: Case):
    path = tmp_path / "landing" / case.name
    path.parent.mkdir(parents=True)
    path.write_bytes(case.content())
    return process_file(
        path, load_study(STUDY_FILE), study_file=str(STUDY_FILE), key=KEY, staging_root=tmp_path / "staging"
    )


SECRETS = token_scanner(
    v
    for r in DATA
    for j, v in enumerate(r)
    if NAMES[j] in ("RecipientEmail", "RecipientLastName", "RecipientFirstName", "IPAddress", "ResponseId", "Q13")
    and len(v) >= 5
)
BASELINE = None


def baseline_outcome(tmp_path_factory):
    global BASELINE
    if BASELINE is None:
        BASELINE = process(tmp_path_factory.mktemp("baseline"), Case("the sample", sample_bytes, loads=True))
    return BASELINE


def test_the_corpus_has_at_least_sixty_kinds():
    assert len({c.kind for c in CASES}) == len(CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_each_bad_input_gets_its_message_or_outcome(case: Case, tmp_path, tmp_path_factory):
    if case.error is not None:
        with pytest.raises((ExportReadError, StudyConfigError)) as info:
            process(tmp_path, case)
        message = str(info.value)
        assert message.startswith(case.name), message
        if case.line is not None:
            assert message.startswith(f"{case.name} (line {case.line}):"), message
        assert case.error in message, message
        assert "expected" in message, message
        assert not SECRETS(message.encode()), message
        return
    outcome = process(tmp_path, case)
    assert outcome.reconciles
    sample = baseline_outcome(tmp_path_factory)
    if case.loads:
        assert outcome.rows_quarantined == sample.rows_quarantined or case.check is no_rows
        assert outcome.rows_accepted == sample.rows_accepted or case.check is no_rows
    if case.quarantined and case.check is None:
        assert outcome.rows_quarantined == sample.rows_quarantined + 1
        assert outcome.rows_read == sample.rows_read
        for column, check in case.quarantined:
            assert outcome.failures.counts[(column, check)] >= 1, (column, check, outcome.failures)
    if case.excluded:
        assert outcome.excluded[case.excluded] == sample.excluded[case.excluded] + 1
        assert outcome.rows_accepted == sample.rows_accepted - 1
    if case.check is not None:
        case.check(outcome)


LANDING_CASES = {
    "a folder named like an export": (lambda p: p.mkdir(), "is not a regular file"),
    "a named pipe": (lambda p: os.mkfifo(p), "is not a regular file"),
    "a broken link": (lambda p: p.symlink_to(p.parent / "gone.csv"), "is not a regular file"),
    "a link to a file outside the landing folder": (
        lambda p: p.symlink_to(SAMPLE),
        "is a link to a file outside the landing folder",
    ),
}


@pytest.mark.parametrize("kind", LANDING_CASES)
def test_landing_entries_that_are_not_exports_are_named(kind, tmp_path):
    make, reason = LANDING_CASES[kind]
    study = tmp_path / "landing" / "microdose_mood"
    study.mkdir(parents=True)
    (study / "baseline.csv").write_bytes(SAMPLE.read_bytes())
    make(study / "odd.csv")
    found, problems = scan_landing(tmp_path / "landing")
    assert [name for _, name, _ in found] == ["baseline.csv"]
    assert [p.message for p in problems] == [f"microdose_mood/odd.csv: {reason}" + problems[0].message.split(reason)[1]]


def test_downloads_in_progress_and_hidden_files_are_not_taken(tmp_path):
    study = tmp_path / "landing" / "microdose_mood"
    study.mkdir(parents=True)
    for name in ("baseline.csv.crdownload", "baseline.csv.part", ".~lock.baseline.csv#", ".baseline.csv"):
        (study / name).write_bytes(SAMPLE.read_bytes())
    assert scan_landing(tmp_path / "landing") == ([], [])
