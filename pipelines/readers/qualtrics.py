"""Qualtrics exports: the current CSV, the UTF-16 TSV, the legacy (pre-2017) CSV and the 2016 CSV.

Current CSV/TSV: three header records — export tag (`Q1`, `Q3_2`), question text, ImportId JSON. Data is read with
pandas' C parser in bounded chunks, every cell as text, so memory does not grow with the file and no value is
reinterpreted before validation. Error messages are built from positions and expectations only: the parser's own
messages are never passed on, since a parser may quote the offending text.

Variants, and the names they give columns (`.names`):
- legacy: row 1 `V1..V10` + question tags, row 2 labels, no ImportId row. The ten `V` placeholders are named by
  their row-2 label (`ResponseID`, `ResponseSet`, `Name`, `ExternalDataReference`, `EmailAddress`, `IPAddress`,
  `Status`, `StartDate`, `EndDate`, `Finished`) since `V5` means nothing to a mapping author; `import_id` keeps `V5`.
  The trailing empty column the legacy writer adds (a comma at the end of every record) is dropped.
- a reused export tag (two questions tagged `Q5`) is told apart by its ImportId: `Q5 [QID7]`, `Q5 [QID9]`.
- 2016: ImportId row in Python-dict style (`{'ImportId': 'QID4-1-1'}`). A column whose export tag is empty is
  named by its ImportId, else `column_<n>` (its 1-based position), which is stable for a given survey layout.
- TSV: UTF-16 with a byte-order mark, tab-separated, otherwise the current layout.

Reader columns: `__kind` from Status (numeric or choice text) and DistributionChannel; an unknown Status is an
error, since loading a preview or test as data is worse than stopping. `__finished` from Finished (`1`/`True`).
`__recorded` is RecordedDate, or EndDate where the variant has no RecordedDate, as exported (text).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from pipelines.readers._text import (
    DELIMITER_NAMES,
    ColumnInfo,
    TextLayout,
    check_unique,
    first_line,
    iter_text_chunks,
    read_head,
    read_records,
    sniff_delimiter,
    sniff_encoding,
)
from pipelines.readers.errors import ExportReadError

__all__ = [
    "ColumnInfo",
    "METADATA_COLUMNS",
    "QualtricsCsvReader",
    "QualtricsTsvReader",
    "QualtricsLegacyReader",
    "Qualtrics2016Reader",
    "open_export",
]

METADATA_COLUMNS = (
    "StartDate",
    "EndDate",
    "Status",
    "IPAddress",
    "Progress",
    "Duration (in seconds)",
    "Finished",
    "RecordedDate",
    "ResponseId",
    "RecipientLastName",
    "RecipientFirstName",
    "RecipientEmail",
    "ExternalReference",
    "LocationLatitude",
    "LocationLongitude",
    "DistributionChannel",
    "UserLanguage",
)
HEADER_RECORDS = 3
LEGACY_TAGS = tuple(f"V{i}" for i in range(1, 11))
_REQUIRED = ("Status", "Finished", "RecordedDate", "ResponseId")
_DICT_IMPORT_ID = re.compile(r"""^\{\s*'ImportId'\s*:\s*'([^']*)'\s*(?:,.*)?\}$""", re.S)

# Status codes and their choice-text labels (Qualtrics "Response Type"); spam is not data, so it counts as test.
_STATUS_KIND = {
    "0": "response",
    "4": "response",
    "16": "response",
    "ip address": "response",
    "imported": "response",
    "offline": "response",
    "1": "preview",
    "9": "preview",
    "17": "preview",
    "survey preview": "preview",
    "preview spam": "preview",
    "offline survey preview": "preview",
    "2": "test",
    "8": "test",
    "12": "test",
    "survey test": "test",
    "spam": "test",
    "imported spam": "test",
}


def _told_apart(columns: list[ColumnInfo]) -> list[ColumnInfo]:
    """A survey can reuse an export tag (two questions both tagged `Q5`); the ImportId row still tells the columns
    apart, so each reused tag is named `<tag> [<ImportId>]` (as `inspect` shows, and a mapping names it). Tags that
    remain alike (no ImportId, or the same one) are refused by the reader's uniqueness check."""
    counts = Counter(c.name for c in columns)
    reused = {name for name, n in counts.items() if n > 1 and name not in METADATA_COLUMNS}  # "Status" twice: refused
    if not reused:
        return columns
    out = []
    for c in columns:
        if c.name in reused and c.import_id:
            c = dataclasses.replace(c, name=f"{c.name} [{c.import_id}]")
        out.append(c)
    return out


class QualtricsCsvReader:
    """Reads one current-layout Qualtrics CSV export; `columns` after construction, `iter_chunks` to stream."""

    format_name = "qualtrics_csv"
    header_records = HEADER_RECORDS
    delimiter = ","
    required: tuple[str, ...] = _REQUIRED
    recorded_candidates: tuple[str, ...] = ("RecordedDate",)
    expected = "three header rows (export tags, question text, ImportId JSON) as Qualtrics writes them"

    def __init__(self, path: Path, *, chunk_rows: int = 50_000):
        self.path = Path(path)
        self.file_name = self.path.name
        self.chunk_rows = chunk_rows
        head = read_head(self.path)
        self.encoding = sniff_encoding(head, self.file_name, expected=f"a Qualtrics export with {self.expected}")
        self.layout = TextLayout(self.encoding, self.delimiter)
        line = first_line(self.path, self.encoding)
        if self.delimiter not in line:
            what = "tab" if self.delimiter == "\t" else "comma"
            found = sniff_delimiter(line)
            seems = f" (it is separated by {DELIMITER_NAMES[found]})" if found != self.delimiter else ""
            raise ExportReadError(
                self.file_name,
                f"the first row has a single column: the delimiter is not a {what}{seems}",
                line=1,
                expected=f"a {what}-separated Qualtrics export",
            )
        records = read_records(self.path, self.layout, self.header_records, self.file_name, self.expected)
        if len(records) < self.header_records:
            raise ExportReadError(self.file_name, f"has only {len(records)} header row(s)", expected=self.expected)
        if len({len(r) for r in records}) != 1:
            raise ExportReadError(
                self.file_name,
                f"the {self.header_records} header rows have different numbers of fields",
                expected=self.expected,
            )
        self._width = len(records[0])
        self._keep = list(range(self._width))
        self.columns = self._columns_from(records)
        self.names = [c.name for c in self.columns]
        check_unique(self.names, self.file_name, line=1, expected="unique export tags")
        missing = [c for c in self.required if c not in self.names]
        if missing:
            raise ExportReadError(
                self.file_name, f"the header lacks the Qualtrics columns {missing}", line=1, expected=self.expected
            )
        self.recorded_column = next((c for c in self.recorded_candidates if c in self.names), None)
        # Columns read here to derive the __ columns; the pipeline need not map or ignore them.
        self.consumed_columns = tuple(
            c for c in ("Status", "Finished", "DistributionChannel", self.recorded_column) if c and c in self.names
        )

    # --- header ----------------------------------------------------------------------------------------------
    def _columns_from(self, records: list[list[str]]) -> list[ColumnInfo]:
        tags, questions, ids = records
        columns = []
        for position, (tag, question, raw_id) in enumerate(zip(tags, questions, ids), start=1):
            columns.append(ColumnInfo(tag, question, self._import_id(raw_id, position)))
        return _told_apart(columns)

    def _import_id(self, raw: str, position: int) -> str:
        if not raw.strip():
            return ""
        try:
            value = json.loads(raw)
            return str(value.get("ImportId", ""))
        except (json.JSONDecodeError, AttributeError):
            raise ExportReadError(
                self.file_name,
                f"column {position} has no ImportId JSON in the third header row",
                line=3,
                expected=self.expected,
            ) from None

    # --- data ------------------------------------------------------------------------------------------------
    def iter_chunks(self) -> Iterator[pd.DataFrame]:
        """Yield frames of at most `chunk_rows` responses, every cell as text, with the reader's `__` columns."""
        for chunk in iter_text_chunks(
            self.path,
            self.layout,
            skip_records=self.header_records,
            width=self._width,
            file_name=self.file_name,
            chunk_rows=self.chunk_rows,
        ):
            rows = chunk["__row"]
            chunk = chunk[self._keep]
            chunk.columns = self.names
            chunk = chunk.copy()
            chunk["__row"] = rows.to_numpy()
            yield self._with_metadata(chunk)

    def _with_metadata(self, chunk: pd.DataFrame) -> pd.DataFrame:
        status = chunk["Status"].str.strip().str.lower()
        kind = status.map(_STATUS_KIND)
        unknown = kind.isna()
        if unknown.any():
            repeated = unknown & (chunk["Status"].str.strip() == "Status")  # a header record, not a response
            if repeated.any():
                raise ExportReadError(
                    self.file_name,
                    "the header rows appear again inside the data (two exports joined into one file?)",
                    line=int(chunk.loc[repeated, "__row"].iloc[0]),
                    expected="one export per file, its header rows only at the top",
                )
            raise ExportReadError(
                self.file_name,
                f"{int(unknown.sum())} row(s) have a Status the reader does not know",
                line=int(chunk.loc[unknown, "__row"].iloc[0]),
                expected="Status 0/1/2/4/8/16 or its choice text (IP Address, Survey Preview, Survey Test, Imported, Spam)",
            )
        if "DistributionChannel" in chunk:
            channel = chunk["DistributionChannel"].str.strip().str.lower()
            kind = kind.mask(channel == "preview", "preview").mask(channel == "test", "test")
        chunk["__kind"] = kind.astype("string")
        chunk["__finished"] = chunk["Finished"].str.strip().str.lower().isin(["1", "true"])
        chunk["__recorded"] = chunk[self.recorded_column] if self.recorded_column else ""
        return chunk


class QualtricsTsvReader(QualtricsCsvReader):
    """The TSV export: UTF-16 with a byte-order mark, tab-separated, otherwise the current layout."""

    format_name = "qualtrics_tsv"
    delimiter = "\t"


class QualtricsLegacyReader(QualtricsCsvReader):
    """Pre-2017 CSV: row 1 `V1..V10` + question tags, row 2 labels, no ImportId row (see the module docstring)."""

    format_name = "qualtrics_legacy"
    header_records = 2
    required = ("ResponseID", "Status", "Finished")
    recorded_candidates = ("RecordedDate", "EndDate")
    expected = "two header rows (V1..V10 and question tags, then labels) as legacy Qualtrics writes them"

    def _columns_from(self, records: list[list[str]]) -> list[ColumnInfo]:
        tags, labels = records
        if tuple(tags[:10]) != LEGACY_TAGS:
            raise ExportReadError(
                self.file_name, "the first header row does not start with V1..V10", line=1, expected=self.expected
            )
        keep = list(range(len(tags)))
        if not tags[-1].strip() and not labels[-1].strip():
            keep = keep[:-1]  # the legacy writer ends every record with a comma
        self._keep = keep
        columns = []
        for i in keep:
            tag, label = tags[i], labels[i]
            if tag in LEGACY_TAGS and label.strip():
                columns.append(ColumnInfo(label.strip(), label, tag))
            else:
                columns.append(ColumnInfo(tag or f"column_{i + 1}", label, ""))
        return columns

    def iter_chunks(self) -> Iterator[pd.DataFrame]:
        dropped = [i for i in range(self._width) if i not in self._keep]
        for chunk in iter_text_chunks(
            self.path,
            self.layout,
            skip_records=self.header_records,
            width=self._width,
            file_name=self.file_name,
            chunk_rows=self.chunk_rows,
        ):
            if dropped and (chunk[dropped] != "").any(axis=None):
                row = int(chunk.loc[(chunk[dropped] != "").any(axis=1), "__row"].iloc[0])
                raise ExportReadError(
                    self.file_name,
                    "a row has a value in the unnamed last column",
                    line=row,
                    expected="the legacy layout's empty trailing column",
                )
            rows = chunk["__row"].to_numpy()
            chunk = chunk[self._keep].copy()
            chunk.columns = self.names
            chunk["__row"] = rows
            yield self._with_metadata(chunk)


class Qualtrics2016Reader(QualtricsCsvReader):
    """2016 CSV: ImportId row in Python-dict style; embedded-data columns may lack tags (see the module docstring)."""

    format_name = "qualtrics_2016"
    required = ("ResponseID", "Status", "Finished")
    recorded_candidates = ("RecordedDate", "EndDate")
    expected = (
        "three header rows (export tags, question text, ImportId as {'ImportId': ...}) as Qualtrics wrote in 2016"
    )

    def _columns_from(self, records: list[list[str]]) -> list[ColumnInfo]:
        tags, questions, ids = records
        columns = []
        for position, (tag, question, raw_id) in enumerate(zip(tags, questions, ids), start=1):
            import_id = ""
            if raw_id.strip():
                found = _DICT_IMPORT_ID.match(raw_id.strip())
                if not found:
                    raise ExportReadError(
                        self.file_name,
                        f"column {position} has no ImportId in the third header row",
                        line=3,
                        expected=self.expected,
                    )
                import_id = found.group(1)
            name = tag.strip() or import_id or f"column_{position}"
            columns.append(ColumnInfo(name, question, import_id))
        return columns


def open_export(path: Path, *, chunk_rows: int = 50_000, **kwargs):
    """Kept for callers that import it from here; the dispatcher lives in `pipelines.readers`."""
    from pipelines.readers import open_export as dispatch

    return dispatch(path, chunk_rows=chunk_rows, **kwargs)
