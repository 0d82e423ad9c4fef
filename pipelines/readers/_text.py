"""Shared machinery for delimited-text exports: encoding checks, header records and bounded chunked reading.

Every reader of a CSV/TSV export goes through here, so the privacy rule holds in one place: errors are built from
record numbers, column positions and expectations, never from a parser's message (which may quote the data), and
never from a cell. Column names are schema (export tags, field names) and may be named; cells never are.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines.readers.errors import ExportReadError

HEAD_BYTES = 65536
_TAIL_BYTES = 262144
_PARSER_POSITION = re.compile(r"(line|row) (\d+)")
_PARSER_SAW = re.compile(r"Expected (\d+) fields .* saw (\d+)")
_ZIP_MAGIC = b"PK\x03\x04"
SUPPORTED_ENCODINGS = "UTF-8 (with or without a byte-order mark) or UTF-16 with a byte-order mark"


@dataclass(frozen=True)
class ColumnInfo:
    """One source column: its name in `.names`, the question text shown to respondents, and the platform id."""

    name: str
    question: str
    import_id: str


@dataclass(frozen=True)
class TextLayout:
    """How a delimited export is written: the codec pandas and csv read it with, the delimiter and the quote."""

    encoding: str
    delimiter: str = ","
    quotechar: str = '"'


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    with Path(path).open("rb") as fh:
        return fh.read(size)


def is_zip(head: bytes) -> bool:
    return head.startswith(_ZIP_MAGIC)


def probable_encoding(head: bytes) -> str | None:
    """What charset-normalizer thinks the bytes are: only ever used to word an error, never to read the file."""
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(head).best()
    except Exception:  # noqa: BLE001 - a hint is optional; its failure must not mask the real error
        return None
    return best.encoding if best is not None else None


def _line_of(head: bytes, offset: int) -> int:
    return head.count(b"\n", 0, offset) + 1


def sniff_encoding(head: bytes, file_name: str, *, declared: str | None = None, expected: str = "a text export") -> str:
    """The codec to read the file with: UTF-8 (BOM optional) or UTF-16 with a BOM, anything else refused.

    A declared encoding (from a study mapping) is honoured but checked; nothing is ever guessed silently.
    """
    if declared:
        try:
            codecs.lookup(declared)
        except LookupError:
            raise ExportReadError(
                file_name,
                "reader option encoding names an unknown codec",
                expected="utf-8, utf-16 or another Python codec name",
            ) from None
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise ExportReadError(file_name, "is empty", expected=expected)
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise ExportReadError(file_name, "is UTF-32 text, which is not supported", expected=SUPPORTED_ENCODINGS)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            head[: len(head) - len(head) % 2].decode("utf-16")
        except UnicodeDecodeError:
            raise ExportReadError(
                file_name, "starts with a UTF-16 byte-order mark but is not valid UTF-16", expected=SUPPORTED_ENCODINGS
            ) from None
        return "utf-16"
    if is_zip(head):
        raise ExportReadError(
            file_name,
            "is a ZIP archive or XLSX workbook, not a text export",
            expected="a CSV/TSV export, or format generic with a sheet option for an XLSX workbook",
        )
    if b"\x00" in head:
        hint = probable_encoding(head)
        looks = f" (it looks like {hint} without a byte-order mark)" if hint and hint.startswith("utf_16") else ""
        raise ExportReadError(
            file_name,
            f"contains binary data (NUL bytes){looks}",
            line=_line_of(head, head.index(b"\x00")),
            expected=f"a text export in {SUPPORTED_ENCODINGS}",
        )
    if declared and codecs.lookup(declared).name not in ("utf-8", "utf-8-sig", "utf-16"):
        encoding = declared
        try:
            head.decode(encoding)
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:
                raise ExportReadError(
                    file_name,
                    f"is not valid {codecs.lookup(declared).name} text as the mapping declares",
                    line=_line_of(head, exc.start),
                    expected=f"{declared} text",
                ) from None
        return encoding
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # A cut through a multi-byte character at the end of the sample is not an error.
        if exc.start < len(head) - 4:
            hint = probable_encoding(head)
            looks = f" (it is probably {hint})" if hint else ""
            raise ExportReadError(
                file_name,
                f"is not UTF-8 or UTF-16 text{looks}",
                line=_line_of(head, exc.start),
                expected=f"an export saved as {SUPPORTED_ENCODINGS}",
            ) from None
        text = head[: exc.start].decode("utf-8-sig")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n")
    if controls > max(8, len(text) // 100):
        raise ExportReadError(file_name, "contains binary data (control characters)", expected="a text export")
    if declared and codecs.lookup(declared).name == "utf-16":
        raise ExportReadError(
            file_name, "is UTF-8 text but the mapping declares UTF-16", expected="UTF-16 with a byte-order mark"
        )
    return "utf-8-sig"


def sniff_delimiter(first_line: str, candidates: str = ",;\t") -> str:
    """The candidate that occurs most often outside quotes in the first record (comma on a tie)."""
    outside = re.sub(r'"[^"]*"', "", first_line)
    counts = {d: outside.count(d) for d in candidates}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def first_line(path: Path, encoding: str) -> str:
    with Path(path).open(encoding=encoding, newline="", errors="replace") as fh:
        return fh.readline(HEAD_BYTES)


def read_records(path: Path, layout: TextLayout, count: int, file_name: str, expected: str) -> list[list[str]]:
    """The first `count` records, parsed strictly with the csv module (small and bounded: header rows only)."""
    records: list[list[str]] = []
    try:
        with Path(path).open(encoding=layout.encoding, newline="") as fh:
            reader = csv.reader(fh, delimiter=layout.delimiter, quotechar=layout.quotechar, strict=True)
            for record in reader:
                records.append(record)
                if len(records) >= count:
                    break
    except csv.Error:
        raise ExportReadError(
            file_name, "the header rows are not valid delimited text", line=len(records) + 1, expected=expected
        ) from None
    except UnicodeDecodeError:
        raise ExportReadError(file_name, "is not valid text in its encoding", expected=SUPPORTED_ENCODINGS) from None
    return records


def spreadsheet_column(position: int) -> str:
    """1-based position to the column letters a spreadsheet shows (1 -> A, 28 -> AB)."""
    letters = ""
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def positions(indexes: list[int]) -> str:
    """Column positions for a message: `3 (C), 18 (R)`, first ten only."""
    shown = ", ".join(f"{i} ({spreadsheet_column(i)})" for i in indexes[:10])
    return shown + (f" and {len(indexes) - 10} more" if len(indexes) > 10 else "")


def check_unique(names: list[str], file_name: str, *, line: int | None, expected: str = "unique column names") -> None:
    """Duplicated names are refused by position (a header cell may be question text, so it is not quoted)."""
    first: dict[str, int] = {}
    dupes: list[int] = []
    for i, name in enumerate(names, start=1):
        if name in first:
            dupes.extend([first[name], i] if first[name] not in dupes else [i])
        else:
            first[name] = i
    if dupes:
        raise ExportReadError(
            file_name,
            f"duplicated column names at columns {positions(sorted(set(dupes)))}",
            line=line,
            expected=expected,
        )


def _translate_parser_error(exc: Exception, file_name: str, width: int) -> ExportReadError:
    text = str(exc)
    found = _PARSER_POSITION.search(text)
    line = None
    if found:  # pandas reports a 1-based record number as "line", a 0-based one as "row"
        line = int(found.group(2)) + (0 if found.group(1) == "line" else 1)
    saw = _PARSER_SAW.search(text)
    if "EOF inside string" in text:
        return ExportReadError(
            file_name,
            "a quoted field is never closed (the file is truncated?)",
            line=line,
            expected="every quote closed",
        )
    if saw:
        if int(saw.group(2)) > width:
            return ExportReadError(
                file_name, "a row has more fields than the header", line=line, expected=f"{width} fields per row"
            )
        return ExportReadError(
            file_name,
            "rows have different numbers of fields (a short row?)",
            line=line,
            expected=f"{width} fields per row",
        )
    return ExportReadError(file_name, "is not valid delimited text", line=line, expected=f"{width} fields per row")


def iter_text_chunks(
    path: Path, layout: TextLayout, *, skip_records: int, width: int, file_name: str, chunk_rows: int
) -> Iterator[pd.DataFrame]:
    """Yield frames of at most `chunk_rows` data records: columns 0..width-1 as text, plus `__row`.

    `__row` is the record number a spreadsheet shows (header records included). Records with no content at all
    (blank lines) are skipped but still counted. pandas pads a short record with empty fields, so a short record
    is only caught when it is the last one (the usual shape of a truncated file), by `check_last_record`.
    """
    record = skip_records
    last_data_record = 0
    try:
        reader = pd.read_csv(
            path,
            header=None,
            skiprows=skip_records,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            encoding=layout.encoding,
            encoding_errors="strict",
            sep=layout.delimiter,
            quotechar=layout.quotechar,
            chunksize=chunk_rows,
            engine="c",
            index_col=False,
            skip_blank_lines=False,
            on_bad_lines="error",
        )
        for chunk in reader:
            n = len(chunk)
            if not n:
                continue
            chunk = chunk.reset_index(drop=True)
            _refuse_swallowed_records(chunk, width, layout.delimiter, record, file_name)
            chunk = _fit_width(chunk, width, record, file_name)
            chunk["__row"] = range(record + 1, record + 1 + n)
            record += n
            blank = chunk[0] == ""
            if blank.any():  # only rows with an empty first field can be blank lines: check those in full
                blank[blank] = (chunk.loc[blank, list(range(width))] == "").all(axis=1)
            if not blank.all():
                last_data_record = int(chunk.loc[~blank, "__row"].iloc[-1])
            if blank.any():
                chunk = chunk.loc[~blank].reset_index(drop=True)
            if len(chunk):
                yield chunk
    except pd.errors.EmptyDataError:
        return  # header rows only: a survey with no responses yet
    except pd.errors.ParserError as exc:
        raise _translate_parser_error(exc, file_name, width) from None
    except UnicodeError:
        # The parser does not say where in the chunk the bad byte is, so no line: only the rows known to be good.
        raise ExportReadError(
            file_name,
            f"contains bytes that are not valid text in its encoding (after row {record})",
            expected=SUPPORTED_ENCODINGS,
        ) from None
    if last_data_record:
        check_last_record(path, layout, width=width, file_name=file_name, line=last_data_record)


def _refuse_swallowed_records(chunk: pd.DataFrame, width: int, delimiter: str, record: int, file_name: str) -> None:
    """An unclosed quote makes the parser read the next respondents' records into one field until some later
    quote, and the file would still load with those respondents silently gone. A field that holds a line break
    followed by a whole record's worth of delimiters is that, never an answer: the file is refused at that record."""
    for column in chunk.columns:  # before the frame is fitted to the header: a swallow can leave extra fields too
        values = chunk[column]
        multiline = values.str.contains("\n", regex=False)
        if not multiline.any():
            continue
        after_break = values[multiline].str.split("\n", n=1).str[1]
        swallowed = after_break.str.count(re.escape(delimiter)) >= width - 1
        if swallowed.any():
            first = int(swallowed.index[swallowed.to_numpy().argmax()])
            raise ExportReadError(
                file_name,
                "a quoted field is never closed: it runs on over the next record(s), which would be lost",
                line=record + first + 1,
                expected="every quote closed, one record per respondent",
            )


def _fit_width(chunk: pd.DataFrame, width: int, record: int, file_name: str) -> pd.DataFrame:
    """The parser sizes the frame by the first record; extra fields with content are an error, empty ones dropped."""
    if chunk.shape[1] > width:
        extra = chunk.iloc[:, width:] != ""
        if extra.any(axis=None):
            first = int(extra.any(axis=1).to_numpy().argmax())
            raise ExportReadError(
                file_name,
                "a row has more fields than the header",
                line=record + first + 1,
                expected=f"{width} fields per row",
            )
        chunk = chunk.iloc[:, :width]
    elif chunk.shape[1] < width:
        for i in range(chunk.shape[1], width):
            chunk[i] = ""
    chunk.columns = range(width)
    return chunk


def check_last_record(path: Path, layout: TextLayout, *, width: int, file_name: str, line: int) -> None:
    """Refuse a file whose last record has fewer fields than the header: the shape of a cut-off download.

    The last record is found from the file's tail: a last line with an even number of quotes is a whole record;
    with an odd number, earlier lines belong to it until the quotes balance. If the tail cannot settle it, the
    check is skipped rather than guessed.
    """
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as fh:
        start = max(0, size - _TAIL_BYTES)
        fh.seek(start)
        raw = fh.read()
    if layout.encoding == "utf-16":
        with path.open("rb") as fh:
            bom = fh.read(2)
        codec = "utf-16-be" if bom == codecs.BOM_UTF16_BE else "utf-16-le"
        raw = raw[(start % 2) :] if start else raw[2:]
        text = raw.decode(codec, errors="replace")
    else:
        text = raw.decode("utf-8-sig" if layout.encoding == "utf-8-sig" else layout.encoding, errors="replace")
    lines = re.split(r"\r\n|\r|\n", text)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return
    q = layout.quotechar
    taken = [lines.pop()]
    while sum(part.count(q) for part in taken) % 2:
        if not lines or (start and len(lines) <= 1):
            return
        taken.insert(0, lines.pop())
    try:
        fields = next(csv.reader(["\n".join(taken)], delimiter=layout.delimiter, quotechar=q, strict=True))
    except (csv.Error, StopIteration):
        return
    if len(fields) < width:
        raise ExportReadError(
            file_name,
            "the last row has fewer fields than the header (is the file truncated?)",
            line=line,
            expected=f"{width} fields per row",
        )
