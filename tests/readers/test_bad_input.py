"""Bad input is refused with a message that names the file, the line where it can and what was expected,
and never holds a cell of the file."""

from __future__ import annotations

import csv
import io

import pytest

from pipelines.readers import ExportReadError, GenericCsvReader, open_export
from pipelines.readers.qualtrics import METADATA_COLUMNS
from tests.paths import SAMPLE_DIR
from tests.readers._helpers import REAL_EXPORTS, read_all

SAMPLE_BASELINE = SAMPLE_DIR / "baseline.csv"

SECRETS = (
    "jane.fakeperson@example.invalid",
    "203.0.113.9",
    "Fakeperson",
    "R_fake1",
    "Zürich",
    "Müller",
    "my private note",
    "unclosed",
    "surplus",
    "Café",
)
HEADER = (
    ",".join(METADATA_COLUMNS + ("Q1", "Q2"))
    + "\n"
    + ",".join(METADATA_COLUMNS + ("Do you consent?", "Any comment?"))
    + "\n"
    + ",".join('"{""ImportId"":""%s""}"' % c for c in METADATA_COLUMNS + ("QID1", "QID2_TEXT"))
    + "\n"
)
ROW = (
    "2025-01-01 10:00:00,2025-01-01 10:10:00,0,203.0.113.9,100,600,1,2025-01-01 10:10:00,R_fake1,Fakeperson,Jane,"
    "jane.fakeperson@example.invalid,,47.3769,8.5417,anonymous,EN,1,my private note\n"
)


def refused(tmp_path, content: bytes, name: str = "export.csv", **options) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ExportReadError) as info:
        read_all(open_export(path, **options))
    return str(info.value)


def assert_safe(message: str, *, name: str = "export.csv", line: int | None = None, fragment: str = "") -> None:
    assert message.startswith(name)
    if line is not None:
        assert message.startswith(f"{name} (line {line}):"), message
    assert "; expected " in message
    assert fragment in message, message
    for secret in SECRETS:
        assert secret not in message, message


def test_empty_file(tmp_path):
    assert_safe(refused(tmp_path, b""), fragment="is empty")
    assert_safe(refused(tmp_path, b"\xef\xbb\xbf\r\n  \n"), fragment="is empty")


@pytest.mark.real_exports
def test_header_rows_only_is_zero_rows_not_an_error(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(HEADER, encoding="utf-8")
    assert read_all(open_export(path)).empty
    redcap = tmp_path / "redcap.csv"
    redcap.write_text((REAL_EXPORTS / "redcap_checkboxes_data.csv").read_text().splitlines()[0] + "\n")
    reader = open_export(redcap, options={"dictionary_path": str(REAL_EXPORTS / "redcap_checkboxes_dictionary.csv")})
    assert read_all(reader).empty
    generic = tmp_path / "forms.csv"
    generic.write_text("Timestamp,Age\n")
    assert read_all(GenericCsvReader(generic)).empty


def test_truncated_quoted_field(tmp_path):
    content = (HEADER + ROW + ROW[:-18] + '"unclosed my private note\n').encode()
    assert_safe(refused(tmp_path, content), line=5, fragment="quoted field is never closed")


def test_an_unclosed_quote_mid_file_does_not_swallow_the_next_respondents(tmp_path):
    # the sample's baseline with a quote opened in record 11's free-text answer: the parser would read the next
    # respondents into that field up to some later quote, and the file would load 8 respondents short
    text = SAMPLE_BASELINE.read_text(encoding="utf-8")
    records = list(csv.reader(io.StringIO(text)))
    column = records[0].index("Q7")
    records[10][column] = "zz private answer zz"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(records)
    body = out.getvalue()
    at = body.index("zz private answer zz")
    message = refused(tmp_path, (body[:at] + '"' + body[at:]).encode(), name="baseline.csv")
    assert message.startswith("baseline.csv (line 11): a quoted field is never closed"), message
    assert "zz private" not in message and "; expected " in message
    # a real answer may hold line breaks and commas: that is not a swallowed record
    answer = ROW.replace("my private note", '"my private note,\nwith a second line, and a third"')
    assert len(read_all(open_export(write(tmp_path, (HEADER + ROW + answer + ROW).encode())))) == 3


def write(tmp_path, content: bytes):
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    return path


def test_truncated_last_row(tmp_path):
    content = (HEADER + ROW + ROW[:60]).encode()  # a download cut mid-row, no closing newline
    assert_safe(refused(tmp_path, content), line=5, fragment="last row has fewer fields")


def test_wrong_delimiter(tmp_path):
    semicolons = (HEADER + ROW).replace(",", ";").encode()
    assert_safe(refused(tmp_path, semicolons), line=1, fragment="not comma-separated")
    path = tmp_path / "forms.csv"
    path.write_text("Timestamp;Age;Town\n2024-01-01;33;Zürich\n", encoding="utf-8")
    with pytest.raises(ExportReadError) as info:
        GenericCsvReader(path, delimiter=",")
    assert_safe(str(info.value), name="forms.csv", line=1, fragment="delimiter is not ','")


def test_binary_data(tmp_path):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    assert_safe(refused(tmp_path, png), line=3, fragment="binary data")
    utf16_without_bom = (HEADER + ROW).encode("utf-16-le")
    message = refused(tmp_path, utf16_without_bom)
    assert_safe(message, line=1, fragment="binary data")
    assert "UTF-16 (little-endian) without a byte-order mark" in message


def test_encoding_neither_utf8_nor_utf16(tmp_path):
    content = (HEADER + ROW.replace("Fakeperson", "Müller").replace("my private note", "Café in Zürich")).encode(
        "cp1252"
    )
    message = refused(tmp_path, content)
    assert_safe(message, line=4, fragment="is not UTF-8 or UTF-16 text")


def test_invalid_bytes_after_the_sample_are_refused(tmp_path):
    content = (HEADER + ROW * 1000).encode() + ROW.replace("Fakeperson", "Müller").encode("cp1252")
    assert len(content) > 65536 * 2
    at = content.index("Müller".encode("cp1252")) + 1  # the ü, in the 1,004th record (3 header rows + 1,000)
    assert_safe(refused(tmp_path, content), line=1004, fragment=f"the first byte that is not UTF-8 is at byte {at:,}")


def test_duplicated_column_names(tmp_path):
    # a reused Qualtrics export tag is told apart by its ImportId (test_qualtrics_reader.py); the same ImportId too
    # leaves nothing to tell them apart by
    lines = HEADER.split("\n")
    lines[0] = lines[0].replace(",Q2", ",Q1", 1)
    lines[2] = lines[2].replace("QID2_TEXT", "QID1", 1)
    message = refused(tmp_path, "\n".join(lines).encode() + ROW.encode())
    assert_safe(message, line=1, fragment="duplicated column names at columns 18 (R), 19 (S)")
    path = tmp_path / "forms.csv"
    path.write_text("Timestamp,Your town?,Age,Your town?\n2024-01-01,Zürich,33,Zürich\n", encoding="utf-8")
    with pytest.raises(ExportReadError) as info:
        GenericCsvReader(path)
    assert_safe(str(info.value), name="forms.csv", line=1, fragment="columns 2 (B), 4 (D)")


def test_row_with_more_fields_than_the_header(tmp_path):
    first = (HEADER + ROW.replace("\n", ",surplus\n")).encode()
    assert_safe(refused(tmp_path, first), line=4, fragment="more fields than the header")
    later = (HEADER + ROW + ROW + ROW.replace("\n", ",surplus\n")).encode()
    assert_safe(refused(tmp_path, later), line=6, fragment="more fields than the header")


def test_no_known_format_and_no_mapping(tmp_path):
    content = "participant,town,note\n1,Zürich,my private note\n".encode()
    message = refused(tmp_path, content, name="mystery.csv")
    assert_safe(message, name="mystery.csv", line=1, fragment="matches no known export format")
    assert "Qualtrics" in message and "REDCap" in message and "generic" in message
