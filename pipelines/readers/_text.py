"""Shared machinery for delimited-text exports: encoding checks, header records and bounded chunked reading.

Every reader of a CSV/TSV export goes through here, so the privacy rule holds in one place: errors are built from
record numbers, column positions and expectations, never from a parser's message (which may quote the data), and
never from a cell. Column names are schema (export tags, field names) and may be named; cells never are.
"""

from __future__ import annotations

import codecs
import csv
import io
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


_WESTERN = re.compile(r"[\u00c0-\u00ff\u00a0-\u00bf\u2013\u2014\u2018\u2019\u201c\u201d\u2026\u20ac]")


def probable_encoding(head: bytes) -> str | None:
    """What the bytes probably are, only ever used to word an error, never to read the file. Text whose every
    non-ASCII byte is a Western European letter or typographic mark in Windows-1252 is named so: that is how Excel
    saves "CSV" on Windows, and charset-normalizer cannot tell it from its Central European neighbours (it says
    cp1250 for German or French text). Bytes that are partly valid UTF-8 are UTF-8 with something mixed in.
    Anything else gets charset-normalizer's opinion."""
    as_utf8 = head.decode("utf-8", errors="replace")
    if any(ord(ch) > 127 and ch != "\ufffd" for ch in as_utf8):
        return "UTF-8 with bytes of another encoding mixed in (rows added by another program?)"
    try:
        text = head.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        unusual = [ch for ch in text if ord(ch) > 127]
        if unusual and all(_WESTERN.fullmatch(ch) for ch in unusual):
            return "Windows-1252 / Latin-1"
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(head).best()
    except Exception:  # noqa: BLE001 - a hint is optional; its failure must not mask the real error
        return None
    return best.encoding if best is not None else None


def _utf16_without_bom(head: bytes) -> str | None:
    """Mostly-ASCII UTF-16 has a NUL in every other byte: the odd ones for little-endian, the even for big."""
    even, odd = head[0::2], head[1::2]
    if len(head) >= 8 and odd.count(0) >= 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "UTF-16 (little-endian)"
    if len(head) >= 8 and even.count(0) >= 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "UTF-16 (big-endian)"
    return None


def _line_of(head: bytes, offset: int) -> int:
    """The record (1-based, as a spreadsheet numbers rows) holding byte `offset` of `head`: answers may span
    lines, so the text before it is parsed, not its line breaks counted."""
    return record_at(io.BytesIO(head[:offset]), "utf-8")


def record_at(raw, encoding: str, limit: int | None = None, delimiter: str = ",", quotechar: str = '"') -> int:
    """The record that byte `limit` of the binary stream `raw` (its end, by default) belongs to, parsing the text
    before it line by line (bounded memory; only ever on an error path)."""
    state = {"last": ""}

    def lines():
        taken = 0
        for line in raw:
            if limit is not None and taken + len(line) > limit:
                line = line[: limit - taken]
            taken += len(line)
            state["last"] = text = line.decode(encoding, errors="replace")
            yield text
            if limit is not None and taken >= limit:
                return

    records, open_quote = 0, False
    try:
        for _ in csv.reader(lines(), delimiter=delimiter, quotechar=quotechar):
            records += 1
    except csv.Error:
        open_quote = True  # the text ends inside a quoted field: the byte is in the record that field opened
        records += 1
    ends_a_record = not open_quote and (not state["last"] or state["last"].endswith(("\n", "\r")))
    return records + 1 if ends_a_record else max(records, 1)


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
        hint = _utf16_without_bom(head)
        looks = f" (it looks like {hint} without a byte-order mark)" if hint else ""
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
            raise not_utf8(file_name, head, exc.start) from None
        text = head[: exc.start].decode("utf-8-sig")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n")
    if controls > max(8, len(text) // 100):
        raise ExportReadError(file_name, "contains binary data (control characters)", expected="a text export")
    if declared and codecs.lookup(declared).name == "utf-16":
        raise ExportReadError(
            file_name, "is UTF-8 text but the mapping declares UTF-16", expected="UTF-16 with a byte-order mark"
        )
    refuse_documents(text, file_name)
    return "utf-8-sig"


_DOCUMENTS = (
    (
        re.compile(r"<!doctype html|<html|<head>|<body", re.I),
        "is an HTML page, not an export (a login or error page saved in its place?)",
    ),
    (re.compile(r"<\?xml|<[A-Za-z][\w:.-]*[ >]"), "is an XML document, not a delimited export"),
    (re.compile(r"[{\[]\s*[\"{\[]"), "is JSON, not a delimited export (an API response saved in its place?)"),
)


def refuse_documents(text: str, file_name: str) -> None:
    """A web page, XML or JSON saved under an export's name is said to be what it is, not parsed as a CSV."""
    start = text.lstrip("\ufeff \t\r\n")[:200]
    for pattern, problem in _DOCUMENTS:
        if pattern.match(start):
            raise ExportReadError(file_name, problem, line=1, expected="the survey tool's CSV/TSV export")


def not_utf8(file_name: str, sample: bytes, offset: int, *, line: int | None = None) -> ExportReadError:
    """The error for text that is not UTF-8 at byte `offset` (of the file), with what it probably is and the fix."""
    hint = probable_encoding(sample)
    looks = f"; it is probably {hint}" if hint else ""
    return ExportReadError(
        file_name,
        f"is not UTF-8 or UTF-16 text: the first byte that is not UTF-8 is at byte {offset:,}{looks}",
        line=line or _line_of(sample, offset),
        expected=f'an export saved as {SUPPORTED_ENCODINGS} (in Excel: Save As "CSV UTF-8"); a generic export '
        "may instead declare its encoding under reader (e.g. encoding: cp1252)",
    )


def first_undecodable(path: Path, layout: TextLayout, block: int = 1 << 20) -> tuple[int, int, bytes] | None:
    """Where a file stops being valid text: (byte offset, record, the bytes around it for a hint), read in blocks
    so memory stays bounded. Only called once reading has failed, so its cost is the error path's."""
    decoder = codecs.getincrementaldecoder(layout.encoding)("strict")
    offset = 0
    with Path(path).open("rb") as fh:
        while True:
            data = fh.read(block)
            try:
                decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                at = max(0, exc.start - len(decoder.getstate()[0]))
                break
            if not data:
                return None
            offset += len(data)
        fh.seek(0)
        record = record_at(fh, layout.encoding, offset + at, layout.delimiter, layout.quotechar)
    return offset + at, record, data[max(0, at - 4096) : at + 4096]


DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}


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
        raise _undecodable(path, layout, file_name) from None
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


def _record_spans_lines(path: Path, layout: TextLayout, number: int) -> bool:
    """Whether record `number` (1-based, header records included) holds a line break in a field: read with the csv
    module up to that record, on the error path only."""
    with Path(path).open(encoding=layout.encoding, newline="") as fh:
        for i, fields in enumerate(csv.reader(fh, delimiter=layout.delimiter, quotechar=layout.quotechar), 1):
            if i == number:
                return any("\n" in f or "\r" in f for f in fields)
    return False


def _translate_parser_error(
    exc: Exception, path: Path, layout: TextLayout, file_name: str, width: int
) -> ExportReadError:
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
            if line is not None and _record_spans_lines(path, layout, line):
                return ExportReadError(file_name, UNCLOSED_QUOTE, line=line, expected=UNCLOSED_EXPECTED)
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
        raise _translate_parser_error(exc, path, layout, file_name, width) from None
    except UnicodeError:
        raise _undecodable(path, layout, file_name) from None
    if last_data_record:
        check_last_record(path, layout, width=width, file_name=file_name, line=last_data_record)


def _undecodable(path: Path, layout: TextLayout, file_name: str) -> ExportReadError:
    """The parser does not say where the bad byte is: find it, and say at which byte and line."""
    found = first_undecodable(path, layout)
    if found is None:  # cannot happen for a file the parser failed to decode; say what is known
        return ExportReadError(
            file_name, "contains bytes that are not valid text in its encoding", expected=SUPPORTED_ENCODINGS
        )
    offset, line, around = found
    if codecs.lookup(layout.encoding).name in ("utf-8", "utf-8-sig"):
        return not_utf8(file_name, around, offset, line=line)
    return ExportReadError(
        file_name,
        f"is not valid {codecs.lookup(layout.encoding).name} text from byte {offset:,}",
        line=line,
        expected=f"{layout.encoding} text throughout",
    )


UNCLOSED_QUOTE = "a quoted field is never closed: it runs on over the next record(s), which would be lost"
UNCLOSED_EXPECTED = "every quote closed, one record per respondent"


def _shape(values: pd.Series) -> pd.Series:
    """A value's outline (digits as 9, letters as a, other characters kept), to compare with a column's usual one."""
    return values.str.replace(r"[0-9]+", "9", regex=True).str.replace(r"[^\W\d_]+", "a", regex=True)


def _refuse_swallowed_records(chunk: pd.DataFrame, width: int, delimiter: str, record: int, file_name: str) -> None:
    """An unclosed quote makes the parser read the next respondents' records into one field until some later
    quote, and the file would still load with those respondents silently gone. Such a field holds a line break
    followed by the start of a record: either a whole record's worth of delimiters, or (the quote closing at the
    same column of the next record, which leaves the merged record exactly as wide as the header) as many fields
    as precede the column, the first of which look like those columns' usual values. An answer that merely spans
    lines and holds commas has neither. The file is refused at the record where the quote opened."""
    usual: dict[int, str | None] = {}

    def usual_shape(column: int) -> str | None:
        if column not in usual:
            shapes = _shape(chunk[column][chunk[column] != ""]).value_counts(normalize=True)
            usual[column] = shapes.index[0] if len(shapes) and shapes.iloc[0] >= 0.8 else None
        return usual[column]

    for position, column in enumerate(chunk.columns):  # before fitting to the header: a swallow can leave extras
        values = chunk[column]
        multiline = values.str.contains("\n", regex=False)
        if not multiline.any():
            continue
        after_break = values[multiline].str.split("\n", n=1).str[1]
        pieces = after_break.str.split(delimiter)
        swallowed = pieces.str.len() >= width
        checked = min(position, 3)
        if checked:
            looks_like_record = pieces.str.len() > position
            for m in range(checked):
                shape = usual_shape(chunk.columns[m])
                looks_like_record &= shape is not None and _shape(pieces.str[m].fillna("")) == shape
            swallowed |= looks_like_record
        if swallowed.any():
            first = int(swallowed.index[swallowed.to_numpy().argmax()])
            raise ExportReadError(file_name, UNCLOSED_QUOTE, line=record + first + 1, expected=UNCLOSED_EXPECTED)


def _fit_width(chunk: pd.DataFrame, width: int, record: int, file_name: str) -> pd.DataFrame:
    """The parser sizes the frame by the first record; extra fields with content are an error, empty ones dropped."""
    if chunk.shape[1] > width:
        extra = chunk.iloc[:, width:] != ""
        if extra.any(axis=None):
            first = int(extra.any(axis=1).to_numpy().argmax())
            if chunk.iloc[first].str.contains("\n", regex=False).any():  # the extra fields came from a run-on quote
                raise ExportReadError(file_name, UNCLOSED_QUOTE, line=record + first + 1, expected=UNCLOSED_EXPECTED)
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
