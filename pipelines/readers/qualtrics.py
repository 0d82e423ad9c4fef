"""Qualtrics CSV exports (current layout): three header records, then one record per response.

The header records are the export tag (`Q1`, `Q3_2`), the question text and the ImportId JSON. Data is read with
pandas' C parser in bounded chunks, every cell as text, so memory does not grow with the file and no value is
reinterpreted before validation. Error messages are built here from positions and expectations only: the parser's
own messages are never passed on, since a parser may quote the offending text.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines.readers.errors import ExportReadError

METADATA_COLUMNS = (
    "StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished", "RecordedDate",
    "ResponseId", "RecipientLastName", "RecipientFirstName", "RecipientEmail", "ExternalReference",
    "LocationLatitude", "LocationLongitude", "DistributionChannel", "UserLanguage",
)
HEADER_RECORDS = 3
_REQUIRED = ("Status", "Finished", "RecordedDate", "ResponseId")
_LINE_IN_PARSER_ERROR = re.compile(r"(line|row) (\d+)")


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    question: str
    import_id: str


def _detect_encoding(head: bytes, file_name: str) -> str:
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    if b"\x00" in head:
        raise ExportReadError(file_name, "contains binary data (NUL bytes)", expected="a text CSV export")
    try:
        head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # A cut in the middle of a multi-byte character at the end of the sample is not an error.
        if exc.start < len(head) - 4:
            raise ExportReadError(file_name, "is not UTF-8 text", expected="a UTF-8 or UTF-16 Qualtrics export") from None
    return "utf-8-sig"


class QualtricsCsvReader:
    """Reads one Qualtrics CSV export; `columns` after construction, `iter_chunks` to stream the responses."""

    format_name = "qualtrics_csv"

    def __init__(self, path: Path, *, chunk_rows: int = 50_000):
        self.path = Path(path)
        self.file_name = self.path.name
        self.chunk_rows = chunk_rows
        with self.path.open("rb") as fh:
            head = fh.read(65536)
        if not head.strip():
            raise ExportReadError(self.file_name, "is empty", expected="a Qualtrics CSV export with three header rows")
        self.encoding = _detect_encoding(head, self.file_name)
        self.columns = self._read_header()
        self.names = [c.name for c in self.columns]

    def _read_header(self) -> list[ColumnInfo]:
        expected = "three header rows (export tags, question text, ImportId JSON) as Qualtrics writes them"
        with self.path.open(encoding=self.encoding, newline="", errors="replace") as fh:
            first_line = fh.readline()
        if "," not in first_line:
            raise ExportReadError(self.file_name, "the first row has a single column: the delimiter is not a comma",
                                  line=1, expected="a comma-separated Qualtrics export")
        try:
            with self.path.open(encoding=self.encoding, newline="") as fh:
                records = []
                reader = csv.reader(fh, strict=True)
                for record in reader:
                    records.append(record)
                    if len(records) == HEADER_RECORDS:
                        break
        except csv.Error:
            raise ExportReadError(self.file_name, "the header rows are not valid CSV", expected=expected) from None
        except UnicodeDecodeError:
            raise ExportReadError(self.file_name, "is not valid text in its encoding", expected=expected) from None
        if len(records) < HEADER_RECORDS:
            raise ExportReadError(self.file_name, f"has only {len(records)} header row(s)", expected=expected)
        tags, questions, ids = records
        missing = [c for c in _REQUIRED if c not in tags]
        if missing:
            raise ExportReadError(
                self.file_name, f"the first header row lacks the Qualtrics columns {missing}", line=1, expected=expected
            )
        if not (len(tags) == len(questions) == len(ids)):
            raise ExportReadError(self.file_name, "the three header rows have different numbers of fields", expected=expected)
        seen: set[str] = set()
        dupes = sorted({t for t in tags if t in seen or seen.add(t)})
        if dupes:
            raise ExportReadError(self.file_name, f"duplicated column names {dupes}", line=1, expected="unique export tags")
        columns = []
        for tag, question, raw_id in zip(tags, questions, ids):
            try:
                import_id = json.loads(raw_id).get("ImportId", "") if raw_id.strip() else ""
            except (json.JSONDecodeError, AttributeError):
                raise ExportReadError(
                    self.file_name, f"column {tag!r} has no ImportId JSON in the third header row", line=3, expected=expected
                ) from None
            columns.append(ColumnInfo(tag, question, import_id))
        return columns

    def iter_chunks(self) -> Iterator[pd.DataFrame]:
        """Yield frames of at most `chunk_rows` responses, every cell as text, with the reader's `__` columns."""
        record = HEADER_RECORDS  # CSV records consumed so far
        try:
            reader = pd.read_csv(
                self.path, header=None, skiprows=HEADER_RECORDS, dtype=str,
                keep_default_na=False, na_filter=False,
                encoding=self.encoding, chunksize=self.chunk_rows, engine="c", index_col=False,
                skip_blank_lines=True, on_bad_lines="error",
            )
            for chunk in reader:
                if chunk.empty:
                    continue
                chunk = self._checked_width(chunk.reset_index(drop=True), record)
                chunk["__row"] = range(record + 1, record + 1 + len(chunk))
                record += len(chunk)
                yield self._with_metadata(chunk)
        except pd.errors.EmptyDataError:
            return  # header rows only: a survey with no responses yet
        except pd.errors.ParserError as exc:
            text = str(exc)
            found = _LINE_IN_PARSER_ERROR.search(text)
            # pandas gives a 1-based physical "line", or a 0-based "row" counted over all records.
            line = None
            if found:
                line = int(found.group(2)) + (0 if found.group(1) == "line" else 1)
            if "EOF inside string" in text:
                problem, expected = "a quoted field is never closed (the file is truncated?)", "every quote closed"
            elif "Expected" in text and "fields" in text:
                problem, expected = "a row has more fields than the header", f"{len(self.names)} fields per row"
            else:
                problem, expected = "is not valid CSV", "a comma-separated Qualtrics export"
            raise ExportReadError(
                self.file_name, problem, line=line, expected=expected
            ) from None
        except UnicodeDecodeError:
            raise ExportReadError(self.file_name, "contains bytes that are not valid text", expected="UTF-8 text") from None

    def _checked_width(self, chunk: pd.DataFrame, record: int) -> pd.DataFrame:
        """Every record must have exactly as many fields as the header; the parser fills short ones with NaN."""
        width = len(self.names)
        if chunk.shape[1] > width:
            extra = chunk.iloc[:, width:].notna() & (chunk.iloc[:, width:] != "")
            first = int(extra.any(axis=1).to_numpy().argmax()) if extra.any(axis=None) else 0
            raise ExportReadError(self.file_name, "a row has more fields than the header", line=record + first + 1,
                                  expected=f"{width} fields per row")
        short = chunk.iloc[:, -1].isna()
        if short.any():
            raise ExportReadError(self.file_name, "a row has fewer fields than the header (truncated?)",
                                  line=record + int(short.to_numpy().argmax()) + 1, expected=f"{width} fields per row")
        chunk.columns = self.names
        return chunk

    @staticmethod
    def _with_metadata(chunk: pd.DataFrame) -> pd.DataFrame:
        status = chunk["Status"].str.strip().str.lower()
        channel = chunk["DistributionChannel"].str.strip().str.lower() if "DistributionChannel" in chunk else ""
        kind = pd.Series("response", index=chunk.index, dtype="string")
        kind[status.isin(["1", "survey preview"]) | (channel == "preview")] = "preview"
        kind[status.isin(["2", "survey test", "spam"]) | (channel == "test")] = "test"
        chunk["__kind"] = kind
        chunk["__finished"] = chunk["Finished"].str.strip().str.lower().isin(["1", "true"])
        chunk["__recorded"] = chunk["RecordedDate"]
        return chunk


def open_export(path: Path, *, chunk_rows: int = 50_000) -> QualtricsCsvReader:
    """The reader for a landing file. Only Qualtrics CSV for now; other formats plug in here."""
    return QualtricsCsvReader(path, chunk_rows=chunk_rows)
