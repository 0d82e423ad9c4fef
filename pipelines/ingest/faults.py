"""Faults of the machine, not of the file: a folder that cannot be written, a full disk, a warehouse locked by
another process. They are named with the place and what to do, and never recorded against the file being
processed, so the file is taken again once the fault is fixed (no --retry-failed needed)."""

from __future__ import annotations

import errno
from pathlib import Path

import duckdb

from pipelines.warehouse.connect import lock_holder

FULL = {errno.ENOSPC, errno.EDQUOT}
NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}


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
        holder = lock_holder(exc)
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


def file_signature(path: Path) -> tuple[int, int] | None:
    """(size, modification time) of a landing file, to notice that it changed while it was being read."""
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def changed_while_read(path: Path, before: tuple[int, int] | None) -> EnvironmentFault | None:
    """A fault when the file is not as it was when its run began (still being copied in, or re-exported): what was
    read is not what is there, so nothing is recorded for it and the next run takes the file as it is then."""
    if before is None or file_signature(path) == before:
        return None
    return EnvironmentFault(
        f"{Path(path).name}: the file changed while it was being read (still being copied in?); nothing was loaded "
        "from it and it will be processed again, as it is then, on the next run"
    )
