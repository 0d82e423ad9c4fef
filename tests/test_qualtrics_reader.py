"""The Qualtrics reader: real exports, record numbers, and bad input refused with value-free messages."""

from __future__ import annotations

import pytest

from pipelines.readers import ExportReadError, QualtricsCsvReader
from pipelines.readers.qualtrics import METADATA_COLUMNS
from tests.paths import REAL_EXPORTS

HEADER = (
    ",".join(METADATA_COLUMNS + ("Q1",))
    + "\n"
    + ",".join(METADATA_COLUMNS + ("Do you consent?",))
    + "\n"
    + ",".join('"{""ImportId"":""%s""}"' % c for c in METADATA_COLUMNS + ("QID1",))
    + "\n"
)
ROW = "2025-01-01 10:00:00,2025-01-01 10:10:00,0,203.0.113.9,100,600,1,2025-01-01 10:10:00,R_x,Doe,Jane,jane@example.org,,40.1,-70.2,anonymous,EN,1\n"


def write(tmp_path, text: str | bytes, name="export.csv"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def read_all(path):
    return [chunk for chunk in QualtricsCsvReader(path, chunk_rows=2).iter_chunks()]


@pytest.mark.real_exports
def test_real_current_export_reads_with_record_numbers():
    reader = QualtricsCsvReader(REAL_EXPORTS / "qualtrics_2020_datatable_numeric_minus99_first20.csv", chunk_rows=7)
    chunks = list(reader.iter_chunks())
    rows = sum(len(c) for c in chunks)
    assert rows == 20
    assert chunks[0]["__row"].iloc[0] == 4  # three header records, then the first response
    assert list(chunks[-1]["__row"])[-1] == 23
    assert set(chunks[0]["__kind"]) <= {"response", "preview", "test"}
    assert "test" in set().union(*(set(c["__kind"]) for c in chunks))


@pytest.mark.real_exports
def test_real_export_with_german_labels_reads():
    reader = QualtricsCsvReader(REAL_EXPORTS / "qualtrics_v3_numeric_german_labels.csv")
    assert reader.names[:3] == ["StartDate", "EndDate", "Status"]
    assert sum(len(c) for c in reader.iter_chunks()) > 0


def test_row_numbers_across_chunks(tmp_path):
    path = write(tmp_path, HEADER + ROW * 5)
    chunks = read_all(path)
    assert [list(c["__row"]) for c in chunks] == [[4, 5], [6, 7], [8]]


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"", "is empty"),
        (HEADER.encode(), None),  # header only: zero rows, not an error
        (HEADER.split("\n")[0].encode() + b"\n", "header row"),
        ((HEADER + ROW + ROW[:-8] + ',"unclosed text\n').encode(), "quoted field is never closed"),
        (HEADER.replace(",", ";").encode() + ROW.replace(",", ";").encode(), "delimiter"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        ((HEADER + ROW.replace("\n", ",extra\n")).encode(), "more fields than the header"),
        (HEADER.replace("Q1", "Status").encode(), "duplicated column names"),
        ("StartDate,Status\nDébut,Statut\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_bad_input_is_refused_without_values(tmp_path, content, fragment):
    path = write(tmp_path, content)
    if fragment is None:
        assert read_all(path) == []
        return
    with pytest.raises(ExportReadError) as info:
        read_all(path)
    message = str(info.value)
    assert message.startswith("export.csv")
    assert fragment in message
    for value in ("jane@example.org", "203.0.113.9", "Doe", "unclosed", "extra", "Début"):
        assert value not in message


def _two_q5(second_id: str) -> str:
    tags = ",".join(METADATA_COLUMNS + ("Q5", "Q5"))
    questions = ",".join(METADATA_COLUMNS + ("Mood today?", "Sleep last night?"))
    ids = ",".join('"{""ImportId"":""%s""}"' % c for c in METADATA_COLUMNS + ("QID7", second_id))
    return f"{tags}\n{questions}\n{ids}\n" + ROW.replace(",EN,1\n", ",EN,3,4\n")


def test_a_reused_export_tag_is_told_apart_by_its_import_id(tmp_path):
    """5 of 23 QualtricsTools samples reuse a tag; the ImportId row tells the columns apart."""
    reader = QualtricsCsvReader(write(tmp_path, _two_q5("QID9")))
    assert reader.names[-2:] == ["Q5 [QID7]", "Q5 [QID9]"]
    assert [c.question for c in reader.columns[-2:]] == ["Mood today?", "Sleep last night?"]
    chunk = next(reader.iter_chunks())
    assert chunk[["Q5 [QID7]", "Q5 [QID9]"]].iloc[0].tolist() == ["3", "4"]


def test_a_reused_tag_with_the_same_import_id_is_still_refused(tmp_path):
    with pytest.raises(ExportReadError, match="duplicated column names"):
        QualtricsCsvReader(write(tmp_path, _two_q5("QID7")))
