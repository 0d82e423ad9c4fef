"""Readers turn an export file into chunks of text columns plus reader-derived row metadata.

Every reader yields frames with the source's own column names (all text, blanks as "") and four columns of its
own: `__row` (the CSV record number in the file, header records included: the row a spreadsheet shows),
`__kind` (`response`, `preview` or `test`), `__finished` (bool) and `__recorded` (the response timestamp text).
Every reader has `.format_name`, `.file_name`, `.names`, `.columns` (ColumnInfo) and `.iter_chunks()`.

`open_export` picks the reader: the format named by the study mapping, or the one the file's signature shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pipelines.domain.vocabulary import FORMATS
from pipelines.readers._text import ColumnInfo, is_zip, read_head
from pipelines.readers.detect import detect_format
from pipelines.readers.errors import ExportReadError
from pipelines.readers.generic import GenericCsvReader, GenericXlsxReader
from pipelines.readers.qualtrics import (
    Qualtrics2016Reader,
    QualtricsCsvReader,
    QualtricsLegacyReader,
    QualtricsTsvReader,
)
from pipelines.readers.redcap import RedcapReader

__all__ = [
    "ColumnInfo",
    "ExportReadError",
    "FORMATS",
    "GenericCsvReader",
    "GenericXlsxReader",
    "Qualtrics2016Reader",
    "QualtricsCsvReader",
    "QualtricsLegacyReader",
    "QualtricsTsvReader",
    "RedcapReader",
    "detect_format",
    "open_export",
]

_QUALTRICS = {
    "qualtrics_csv": QualtricsCsvReader,
    "qualtrics_tsv": QualtricsTsvReader,
    "qualtrics_legacy": QualtricsLegacyReader,
    "qualtrics_2016": Qualtrics2016Reader,
}
_REDCAP_OPTIONS = {"dictionary_path"}
_GENERIC_CSV_OPTIONS = {
    "header_rows_to_skip",
    "names_row",
    "label_row",
    "delimiter",
    "encoding",
    "quotechar",
    "id_column",
    "recorded_column",
    "finished_column",
    "finished_values",
}
_GENERIC_XLSX_OPTIONS = {
    "sheet",
    "header_rows_to_skip",
    "names_row",
    "label_row",
    "id_column",
    "recorded_column",
    "finished_column",
    "finished_values",
}


def _check_options(file_name: str, fmt: str, options: Mapping, allowed: set[str]) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ExportReadError(
            file_name,
            f"reader option(s) {unknown} do not apply to format {fmt}",
            expected=f"only {sorted(allowed) or 'no options'}",
        )


def open_export(
    path: Path,
    *,
    chunk_rows: int = 50_000,
    format: str | None = None,  # noqa: A002 - mapping key
    options: Mapping | None = None,
):
    """The reader for a landing file: the mapping's `format` (checked against the file) or the detected one.

    `options` come from the study mapping. redcap: `dictionary_path` (relative paths are resolved against the
    export's folder). generic: the keyword arguments of GenericCsvReader, or GenericXlsxReader for a workbook.
    """
    path = Path(path)
    options = dict(options or {})
    fmt = format or detect_format(path, options=options)
    if fmt not in FORMATS:
        raise ExportReadError(
            path.name, f"the study mapping names an unknown format {fmt!r}", expected=f"one of {list(FORMATS)}"
        )
    if fmt in _QUALTRICS:
        _check_options(path.name, fmt, options, set())
        return _QUALTRICS[fmt](path, chunk_rows=chunk_rows)
    if fmt == "redcap":
        _check_options(path.name, fmt, options, _REDCAP_OPTIONS)
        if "dictionary_path" not in options:
            raise ExportReadError(
                path.name,
                "is a REDCap export but the study mapping gives no data dictionary",
                expected="reader option dictionary_path naming the project's data dictionary CSV",
            )
        dictionary = Path(options["dictionary_path"])
        if not dictionary.is_absolute():
            dictionary = path.parent / dictionary
        return RedcapReader(path, dictionary_path=dictionary, chunk_rows=chunk_rows)
    if is_zip(read_head(path, 4)):
        _check_options(path.name, fmt, options, _GENERIC_XLSX_OPTIONS)
        return GenericXlsxReader(path, chunk_rows=chunk_rows, **options)
    _check_options(path.name, fmt, options, _GENERIC_CSV_OPTIONS)
    return GenericCsvReader(path, chunk_rows=chunk_rows, **options)
