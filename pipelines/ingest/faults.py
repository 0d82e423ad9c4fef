"""Faults of the machine, not of the file: a folder that cannot be written, a full disk, a warehouse locked by
another process. They are named with the place and what to do, and never recorded against the file being
processed, so the file is taken again once the fault is fixed (no --retry-failed needed)."""

from __future__ import annotations

import errno
import re
from pathlib import Path

import duckdb

FULL = {errno.ENOSPC, errno.EDQUOT}
NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}
_LOCK_PID = re.compile(r"\(PID (\d+)\)")


class EnvironmentFault(RuntimeError):
    """What is wrong with the machine (which folder, not writable / full / locked); the message is ours, value-free."""


def _folder(exc: OSError, fallback: Path) -> Path:
    name = getattr(exc, "filename", None)
    path = Path(name) if isinstance(name, str) and name else fallback
    return path if path.is_dir() or not path.suffix else path.parent  # a file's folder; a folder as it is


def environment_fault(exc: BaseException, *, landing_file: Path, staging_dir: Path, warehouse: Path):
    """The EnvironmentFault `exc` stands for, or None when it is the file's own problem (or not recognised).

    Only messages we write come out: DuckDB's and the OS's texts are matched here, never passed on."""
    text = str(exc)
    if isinstance(exc, duckdb.IOException) and "could not set lock" in text.lower():
        pid = _LOCK_PID.search(text)
        holder = f" (process {pid.group(1)})" if pid else ""
        return EnvironmentFault(
            f"{warehouse}: the warehouse is locked by another process{holder}; close it (an analyst should query a "
            "released tier, never the live file) and run again: the file was not marked failed"
        )
    if isinstance(exc, (OSError, duckdb.IOException)) and (
        getattr(exc, "errno", None) in FULL or "no space left on device" in text.lower()
    ):
        where = _folder(exc, staging_dir) if isinstance(exc, OSError) else warehouse.parent
        return EnvironmentFault(
            f"{where}: the disk is full; free space and run again: the file was not marked failed and its "
            "partial staging data was removed"
        )
    if isinstance(exc, OSError) and getattr(exc, "errno", None) in NOT_WRITABLE:
        folder = _folder(exc, staging_dir)
        if Path(landing_file).resolve() == Path(getattr(exc, "filename", "") or "/").resolve():
            return None  # the export itself cannot be read: that is the file's problem
        return EnvironmentFault(
            f"{folder}: not writable ({exc.strerror}); fix its permissions (or mount) and run again: the file was "
            "not marked failed"
        )
    return None
