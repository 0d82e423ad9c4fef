"""Paths and small builders shared by the reader tests (no conftest: the shared one imports unfinished modules).

Tests that read REAL_EXPORTS carry the `real_exports` marker: tests/conftest.py skips them where the folder is absent.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd

from tests.paths import REAL_EXPORTS  # noqa: F401  (re-exported for the reader tests)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
READER_COLUMNS = ["__row", "__kind", "__finished", "__recorded"]
REDCAP_PROJECTS = {
    "longitudinal": ("redcap_longitudinal_data.csv", "redcap_longitudinal_dictionary.csv"),
    "checkboxes": ("redcap_checkboxes_data.csv", "redcap_checkboxes_dictionary.csv"),
    "repeating": ("redcap_repeating_data.csv", "redcap_repeating_dictionary.csv"),
}


def read_all(reader) -> pd.DataFrame:
    chunks = list(reader.iter_chunks())
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=reader.names + READER_COLUMNS)


def csv_records(path: Path, encoding: str = "utf-8-sig", delimiter: str = ",") -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.reader(fh, delimiter=delimiter))


def data_values(path: Path, header_records: int, *, min_length: int = 4, delimiter: str = ",") -> set[str]:
    """Distinct non-trivial cell values below the header records: what must never be printed."""
    values = set()
    for record in csv_records(path, delimiter=delimiter)[header_records:]:
        values.update(v.strip() for v in record if len(v.strip()) >= min_length)
    return values


def write_csv(path: Path, records: list[list[str]], *, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(records)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def _col(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def build_xlsx(path: Path, rows: list[list], *, sheet: str = "Sheet1", first_row: int = 1) -> Path:
    """A minimal XLSX workbook (inline strings, numbers, booleans) written with zipfile: no writer dependency."""
    xml_rows = []
    for r, row in enumerate(rows, start=first_row):
        cells = []
        for c, v in enumerate(row):
            ref = f"{_col(c)}{r}"
            if v is None:
                continue
            if isinstance(v, bool):
                cells.append(f'<c r="{ref}" t="b"><v>{int(v)}</v></c>')
            elif isinstance(v, (int, float)):
                cells.append(f'<c r="{ref}"><v>{v}</v></c>')
            else:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(v)}</t></is></c>')
        xml_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{pkg}/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            "</Types>",
        )
        z.writestr(
            "_rels/.rels",
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{pkg}/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{main}" xmlns:r="{rel}">'
            f'<sheets><sheet name="{escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{pkg}/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        z.writestr(
            "xl/worksheets/sheet1.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{main}">'
            f"<sheetData>{''.join(xml_rows)}</sheetData></worksheet>",
        )
    return path
