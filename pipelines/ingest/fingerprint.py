"""File identity by content, so that a file is loaded once whatever it is called."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path, *, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()
