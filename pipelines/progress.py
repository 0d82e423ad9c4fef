"""Progress of long reads for whoever watches: a line in the Dagster log per chunk, and a live line per file on the
terminal when `survey-pipeline run` has one. Counts and file names only, never a value."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Listener = Callable[[str, int, float], None]  # (file, rows read so far, seconds since the file was opened)
_listeners: list[Listener] = []


class FileProgress:
    """Called with the running row count after each chunk of one file."""

    def __init__(self, file_name: str, log: Callable[[str], None]):
        self.file_name, self.log, self.started = file_name, log, time.monotonic()

    def __call__(self, rows_read: int) -> None:
        elapsed = time.monotonic() - self.started
        rate = rows_read / elapsed if elapsed > 0 else 0.0
        self.log(f"{self.file_name}: {rows_read:,} rows read ({rate:,.0f} rows/s)")
        for listener in list(_listeners):
            listener(self.file_name, rows_read, elapsed)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Send every file's progress in this process to `listener` while the block runs (the CLI runs Dagster in
    process, so the assets' progress reaches it here)."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


@contextmanager
def terminal_progress() -> Iterator[None]:
    """A live line per file (rows read, rate, time) on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console
    from rich.progress import Progress, TextColumn

    columns = (
        TextColumn("{task.description}"),
        TextColumn("{task.completed:>12,} rows read"),
        TextColumn("{task.fields[rate]:>10} rows/s"),
        TextColumn("{task.fields[elapsed]:>7}"),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        tasks: dict[str, int] = {}

        def show(file_name: str, rows_read: int, elapsed: float) -> None:
            if file_name not in tasks:
                tasks[file_name] = bar.add_task(file_name, total=None, rate="", elapsed="")
            rate = f"{rows_read / elapsed:,.0f}" if elapsed > 0 else ""
            bar.update(tasks[file_name], completed=rows_read, rate=rate, elapsed=f"{elapsed:.1f} s")

        with listening(show):
            yield
