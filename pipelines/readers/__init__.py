"""Readers turn an export file into chunks of text columns plus reader-derived row metadata.

Every reader yields frames with the source's own column names (all text, blanks as "") and four columns of its
own: `__row` (the CSV record number in the file, header records included: the row a spreadsheet shows),
`__kind` (`response`, `preview` or `test`), `__finished` (bool) and `__recorded` (the response timestamp text).
"""

from pipelines.readers.errors import ExportReadError
from pipelines.readers.qualtrics import QualtricsCsvReader, open_export

__all__ = ["ExportReadError", "QualtricsCsvReader", "open_export"]
