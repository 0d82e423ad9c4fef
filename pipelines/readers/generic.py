"""Generic CSV and XLSX exports described by the study mapping's reader options.

For tools without a signature of their own: LimeSurvey, SurveyMonkey, Google Forms, ODK/KoboToolbox. The study
mapping says where the names are and how the file is written; the reader never guesses a layout.

Options (all keyword):
- `names_row` (1-based record holding the column names; records above it are skipped as preamble);
- `header_rows_to_skip` (header records after the names row that are not data, e.g. SurveyMonkey's second row);
- `label_row` (SurveyMonkey-style second header row, 1-based, combined with the names row; see below);
- `delimiter`, `encoding` (`utf-8` accepts an optional BOM; `utf-16` needs a BOM; another codec must be declared
  and is checked), `quotechar` (CSV only); `sheet` (XLSX only: sheet name, default the first);
- `id_column` (must exist), `recorded_column` (its text becomes `__recorded`), `finished_column` with optional
  `finished_values` (a row is finished when the cell is one of them, or non-blank when no values are given; all
  rows are finished when no finished_column is given). `__kind` is always "response".

Names: the names-row cell, stripped; an empty cell becomes `column_<n>` (1-based position). Duplicates are an
error, except with `label_row`, where names are made unique on purpose: SurveyMonkey writes a question once over
all its columns (blank cells continue the question to the left) and puts `Response`, `Open-Ended Response` or a
choice label in the second row. A question with one column keeps the question text as its name when its label is
blank, `Response` or `Open-Ended Response`; otherwise the name is `<question> | <label>`; a name that still repeats
gets ` (2)`, ` (3)` in order of position.

XLSX cells are turned into text as a spreadsheet would show them: whole numbers without `.0`, other numbers in
Python's shortest form, dates and times in ISO form (`2023-07-31 16:21:36`), booleans `True`/`False`. python-calamine
loads one sheet at a time (bounded by the sheet's size, at most Excel's 1,048,576 rows); chunks are still yielded
at most `chunk_rows` rows at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from pipelines.readers._text import (
    ColumnInfo,
    TextLayout,
    check_unique,
    iter_text_chunks,
    read_head,
    read_records,
    sniff_encoding,
)
from pipelines.readers.errors import ExportReadError

_SINGLE_LABELS = {"", "response", "open-ended response"}


class _GenericBase:
    format_name = "generic"

    def _configure(
        self,
        *,
        names_row: int,
        header_rows_to_skip: int,
        label_row: int | None,
        id_column: str | None,
        recorded_column: str | None,
        finished_column: str | None,
        finished_values: Iterable[str] | None,
        chunk_rows: int,
    ) -> None:
        if names_row < 1 or header_rows_to_skip < 0:
            raise ExportReadError(
                self.file_name,
                "reader options names_row/header_rows_to_skip are out of range",
                expected="names_row >= 1 and header_rows_to_skip >= 0",
            )
        if label_row is not None and not names_row < label_row <= names_row + header_rows_to_skip:
            raise ExportReadError(
                self.file_name,
                "reader option label_row is not one of the skipped header rows",
                expected="names_row < label_row <= names_row + header_rows_to_skip",
            )
        self.names_row = names_row
        self.header_rows_to_skip = header_rows_to_skip
        self.label_row = label_row
        self.data_starts_after = names_row + header_rows_to_skip
        self.id_column = id_column
        self.recorded_column = recorded_column
        self.finished_column = finished_column
        self.finished_values = None if finished_values is None else {str(v).strip().lower() for v in finished_values}
        self.chunk_rows = chunk_rows
        self.expected = (
            f"column names in row {names_row}"
            + (f", labels in row {label_row}" if label_row else "")
            + (f", then {header_rows_to_skip} more header row(s)" if header_rows_to_skip else "")
        )

    def _set_columns(self, records: list[list[str]]) -> None:
        if len(records) < self.data_starts_after:
            raise ExportReadError(self.file_name, f"has only {len(records)} header row(s)", expected=self.expected)
        names_cells = records[self.names_row - 1]
        self._width = len(names_cells)
        if self.label_row is None:
            columns = [ColumnInfo(c.strip() or f"column_{i}", c, "") for i, c in enumerate(names_cells, start=1)]
            check_unique([c.name for c in columns], self.file_name, line=self.names_row)
        else:
            labels = records[self.label_row - 1]
            labels = labels + [""] * (self._width - len(labels))
            columns = self._combined(names_cells, labels[: self._width])
        self.columns = columns
        self.names = [c.name for c in columns]
        self.consumed_columns = tuple(dict.fromkeys(c for c in (self.recorded_column, self.finished_column) if c))
        for option in ("id_column", "recorded_column", "finished_column"):
            value = getattr(self, option)
            if value is not None and value not in self.names:
                raise ExportReadError(
                    self.file_name,
                    f"reader option {option} names a column the file does not have",
                    line=self.names_row,
                    expected="a column name exactly as in the names row",
                )

    @staticmethod
    def _combined(questions: list[str], labels: list[str]) -> list[ColumnInfo]:
        """SurveyMonkey's two header rows to unique names (rule in the module docstring)."""
        filled: list[str] = []
        for q, label in zip(questions, labels):
            q = q.strip()
            if not q and label.strip() and filled:
                q = filled[-1]
            filled.append(q)
        group_size = {q: filled.count(q) for q in set(filled)}
        columns, seen = [], {}
        for i, (q, label) in enumerate(zip(filled, labels), start=1):
            label = label.strip()
            if q and group_size[q] == 1 and label.lower() in _SINGLE_LABELS:
                name = q
            elif q:
                name = f"{q} | {label}" if label else q
            else:
                name = label or f"column_{i}"
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                name = f"{name} ({seen[name]})"
            columns.append(ColumnInfo(name, q or label, ""))
        return columns

    def _with_metadata(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame["__kind"] = pd.Series("response", index=frame.index, dtype="string")
        if self.finished_column is None:
            frame["__finished"] = True
        else:
            cell = frame[self.finished_column].str.strip().str.lower()
            frame["__finished"] = cell.isin(self.finished_values) if self.finished_values is not None else cell != ""
        frame["__recorded"] = frame[self.recorded_column] if self.recorded_column else ""
        return frame


class GenericCsvReader(_GenericBase):
    """A delimited export laid out as the study mapping's reader options say (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        *,
        header_rows_to_skip: int = 0,
        names_row: int = 1,
        label_row: int | None = None,
        delimiter: str = ",",
        encoding: str = "utf-8",
        quotechar: str = '"',
        id_column: str | None = None,
        recorded_column: str | None = None,
        finished_column: str | None = None,
        finished_values: Iterable[str] | None = None,
        chunk_rows: int = 50_000,
    ):
        self.path = Path(path)
        self.file_name = self.path.name
        self._configure(
            names_row=names_row,
            header_rows_to_skip=header_rows_to_skip,
            label_row=label_row,
            id_column=id_column,
            recorded_column=recorded_column,
            finished_column=finished_column,
            finished_values=finished_values,
            chunk_rows=chunk_rows,
        )
        head = read_head(self.path)
        self.encoding = sniff_encoding(
            head, self.file_name, declared=encoding, expected=f"a delimited export with {self.expected}"
        )
        self.layout = TextLayout(self.encoding, delimiter, quotechar)
        records = read_records(self.path, self.layout, self.data_starts_after, self.file_name, self.expected)
        if len(records) >= self.names_row and len(records[self.names_row - 1]) == 1:
            raise ExportReadError(
                self.file_name,
                f"the names row has a single column: the delimiter is not {delimiter!r}",
                line=self.names_row,
                expected=f"a {delimiter!r}-separated export as the reader options say",
            )
        self._set_columns(records)

    def iter_chunks(self) -> Iterator[pd.DataFrame]:
        """Yield frames of at most `chunk_rows` rows, every cell as text, with the reader's `__` columns."""
        for chunk in iter_text_chunks(
            self.path,
            self.layout,
            skip_records=self.data_starts_after,
            width=self._width,
            file_name=self.file_name,
            chunk_rows=self.chunk_rows,
        ):
            rows = chunk["__row"].to_numpy()
            frame = chunk[list(range(self._width))].copy()
            frame.columns = self.names
            frame["__row"] = rows
            yield self._with_metadata(frame)


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


class GenericXlsxReader(_GenericBase):
    """One sheet of an XLSX workbook, laid out as the reader options say; `__row` is the sheet's row number."""

    def __init__(
        self,
        path: Path,
        *,
        sheet: str | None = None,
        header_rows_to_skip: int = 0,
        names_row: int = 1,
        label_row: int | None = None,
        id_column: str | None = None,
        recorded_column: str | None = None,
        finished_column: str | None = None,
        finished_values: Iterable[str] | None = None,
        chunk_rows: int = 50_000,
    ):
        self.path = Path(path)
        self.file_name = self.path.name
        self.sheet = sheet
        self._configure(
            names_row=names_row,
            header_rows_to_skip=header_rows_to_skip,
            label_row=label_row,
            id_column=id_column,
            recorded_column=recorded_column,
            finished_column=finished_column,
            finished_values=finished_values,
            chunk_rows=chunk_rows,
        )
        header = []
        for _, row in self._rows():
            header.append([_cell_text(v) for v in row])
            if len(header) >= self.data_starts_after:
                break
        self._set_columns(header)

    def _rows(self) -> Iterator[tuple[int, list]]:
        """(spreadsheet row number, raw cells) for the sheet; calamine's rows start at row 1 of the sheet."""
        try:
            from python_calamine import CalamineWorkbook
        except ImportError:  # pragma: no cover - a missing dependency, not bad input
            raise ExportReadError(
                self.file_name,
                "cannot be read: python-calamine is not installed",
                expected="python-calamine for XLSX exports",
            ) from None
        if not read_head(self.path, 4).startswith(b"PK\x03\x04"):
            raise ExportReadError(self.file_name, "is not an XLSX workbook", expected="an .xlsx file")
        try:
            book = CalamineWorkbook.from_path(str(self.path))
            names = book.sheet_names
            if self.sheet is not None and self.sheet not in names:
                raise ExportReadError(
                    self.file_name,
                    f"has no sheet named as the sheet option says ({len(names)} sheet(s))",
                    expected="the name of a sheet in the workbook",
                )
            if not names:
                raise ExportReadError(self.file_name, "has no sheets", expected="a workbook with the export's sheet")
            rows = book.get_sheet_by_name(self.sheet or names[0]).iter_rows()
            yield from enumerate(rows, start=1)
        except ExportReadError:
            raise
        except Exception:  # noqa: BLE001 - calamine's messages may quote cell text; say what was expected instead
            raise ExportReadError(self.file_name, "is not a readable XLSX workbook", expected="an .xlsx file") from None

    def iter_chunks(self) -> Iterator[pd.DataFrame]:
        """Yield frames of at most `chunk_rows` rows, every cell as text, with the reader's `__` columns."""
        batch: list[list[str]] = []
        numbers: list[int] = []
        for number, row in self._rows():
            if number <= self.data_starts_after:
                continue
            cells = [_cell_text(v) for v in row]
            if len(cells) > self._width and any(c != "" for c in cells[self._width :]):
                raise ExportReadError(
                    self.file_name,
                    "a row has more cells than the header",
                    line=number,
                    expected=f"{self._width} columns",
                )
            cells = (cells + [""] * self._width)[: self._width]
            if not any(cells):
                continue
            batch.append(cells)
            numbers.append(number)
            if len(batch) >= self.chunk_rows:
                yield self._frame(batch, numbers)
                batch, numbers = [], []
        if batch:
            yield self._frame(batch, numbers)

    def _frame(self, batch: list[list[str]], numbers: list[int]) -> pd.DataFrame:
        frame = pd.DataFrame(batch, columns=self.names, dtype=str)
        frame["__row"] = numbers
        return self._with_metadata(frame)
