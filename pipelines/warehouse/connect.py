"""Read-only connections for the CLI, with a clear message when a running ingestion holds the file.

DuckDB lets one process hold a file for writing, or several for reading, never both: a reader that arrives while
a run writes gets a lock error, which we turn into advice rather than a stack trace.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import duckdb


class WarehouseBusy(RuntimeError):
    """Another process (a running ingestion) holds the DuckDB file."""


_LOCK_PID = re.compile(r"\(PID (\d+)\)")


def lock_holder(exc: BaseException) -> str:
    """` (process N)` from DuckDB's lock message, which names the holder's process (and its user: never passed on)."""
    pid = _LOCK_PID.search(str(exc))
    return f" (process {pid.group(1)})" if pid else ""


def _busy(path: Path, exc: duckdb.IOException) -> WarehouseBusy:
    holder = lock_holder(exc)
    return WarehouseBusy(
        f"{path}: the warehouse is in use by another process{holder} (a running ingestion?); nothing was read, "
        "loaded or marked. Try again when it has finished; analysts query the research or public tier instead"
    )


def open_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise _busy(path, exc) from None
        raise


# No file system, network or extension access beyond the one file opened, and no way to turn that back on: with
# the configuration locked, SET/RESET/PRAGMA of any option fails, so `SET enable_external_access = true` cannot
# undo the seal. read_text/read_csv/read_parquet/glob, `FROM 'file.csv'`, ATTACH, COPY, EXPORT/IMPORT DATABASE,
# INSTALL/LOAD of an extension and CREATE SECRET all fail with a PermissionException or a locked-configuration error.
SEALED_CONFIG = {"enable_external_access": False, "lock_configuration": True}


def open_sealed(path: Path) -> duckdb.DuckDBPyConnection:
    """Read-only connection that can reach `path` and nothing else: the analysts' query tool uses this."""
    try:
        return duckdb.connect(str(path), read_only=True, config=dict(SEALED_CONFIG))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise _busy(path, exc) from None
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
