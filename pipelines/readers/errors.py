"""Errors raised while reading an export: they name the file, the line and what was expected, never a value."""

from __future__ import annotations


class ExportReadError(ValueError):
    """An export that cannot be read as the format it claims; the message is safe to log and store."""

    def __init__(self, file_name: str, problem: str, *, line: int | None = None, expected: str | None = None):
        self.file_name = file_name
        self.line = line
        where = f" (line {line})" if line else ""
        want = f"; expected {expected}" if expected else ""
        super().__init__(f"{file_name}{where}: {problem}{want}")
