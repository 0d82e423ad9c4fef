"""Read-only connections for the CLI, with a clear message when a running ingestion holds the file.

DuckDB lets one process hold a file for writing, or several for reading, never both: a reader that arrives while
a run writes gets a lock error, which we turn into advice rather than a stack trace.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import duckdb


class WarehouseBusy(RuntimeError):
    """Another process (a running ingestion) holds the DuckDB file."""


def open_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseBusy(
                f"{path} is in use by another process (a running ingestion?); query the analysts' copy, "
                "or try again when the run has finished"
            ) from None
        raise


@contextmanager
def transaction(conn):
    """All or nothing: commit when the block ends (even by `return`), roll back on any error."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
