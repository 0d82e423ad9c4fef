"""Keyed pseudonyms (HMAC-SHA256) and keyed date shifts.

A plain hash of an email is re-identifiable by a dictionary attack; an HMAC with a secret key kept outside the
data and the repository is not, and still links the same person across waves. The key file is created with
mode 0600 on first use. Dates are never stored: each participant's dates are shifted by a keyed offset so that
intervals between their responses survive exactly while the calendar dates do not.
"""

from __future__ import annotations

import hmac
import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas only where frames are pseudonymised: the CLI reads key errors without it
    import pandas as pd

KEY_BYTES = 32
MAX_SHIFT_DAYS = 3650


class PseudonymKeyError(RuntimeError):
    """The key file exists but cannot be used."""


def load_key(path: Path) -> bytes:
    """Read the secret key, which must exist: anything that links, withdraws or releases needs the same key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise PseudonymKeyError(_missing_message(path)) from None
    except IsADirectoryError:
        raise PseudonymKeyError(
            f"{path}: the pseudonymisation key cannot be read (IsADirectoryError: a folder "
            f"is at the key's path); {_RESTORE}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        what = "not plain ASCII text" if isinstance(exc, UnicodeDecodeError) else (exc.strerror or "unreadable")
        raise PseudonymKeyError(
            f"{path}: the pseudonymisation key cannot be read ({type(exc).__name__}: {what}); "
            f"fix its permissions or {_RESTORE}"
        ) from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise PseudonymKeyError(
            f"{path}: not a pseudonymisation key: expected {KEY_BYTES * 2} hexadecimal characters; {_RESTORE}"
        ) from None
    if len(key) < 16:
        what = "empty" if not text else "too short"
        raise PseudonymKeyError(
            f"{path}: the pseudonymisation key is {what} (key too short; expected {KEY_BYTES * 2} hexadecimal "
            f"characters); {_RESTORE}"
        )
    return key


_RESTORE = (
    "restore the key file from your backup, or, only if the warehouse is still empty, delete it so that "
    "a new key is made."
)


def _missing_message(path: Path) -> str:
    return (
        f"{path}: the pseudonymisation key is missing, but the warehouse already holds pseudonyms made with it. "
        "A new key would stop new waves linking to earlier ones and withdrawals from finding anyone, so the run "
        "stops here. Restore the key file from your backup (or point SURVEY_PSEUDONYM_KEY_FILE at it); only an "
        "empty warehouse gets a new key."
    )


def load_or_create_key(
    path: Path, *, warehouse_has_pseudonyms: bool, notify=lambda msg: print(msg, file=sys.stderr)
) -> bytes:
    """Read the secret key; create it (0600, in a 0700 folder) with a one-line notice only for an empty warehouse."""
    path = Path(path)
    if path.exists() or path.is_symlink() or warehouse_has_pseudonyms:
        return load_key(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(KEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.hex() + "\n")
    notify(
        f"Created pseudonymisation key {path} (mode 0600): keep it secret and backed up; without it waves no longer link."
    )
    return key


def normalise_key_values(values: pd.Series, how: str) -> pd.Series:
    """Trim (and lower-case emails) so that the same person gets the same pseudonym in every wave."""
    out = values.astype("string").str.strip()
    return out.str.lower() if how == "email" else out


def _per_distinct(values: pd.Series, func, dtype: str) -> pd.Series:
    """Apply `func` once per distinct non-empty value (hmac.digest is C-fast; the Python loop is the cost)."""
    present = values.notna() & (values.astype("string") != "")
    import pandas as pd

    distinct = pd.unique(values[present].to_numpy(dtype=object))
    table = dict(zip(distinct, (func(v) for v in distinct)))
    return values.map(table).where(present).astype(dtype)


def pseudonymise(values: pd.Series, key: bytes, *, study: str) -> pd.Series:
    """HMAC-SHA256 hex digests, scoped by study so that one person's IDs do not link across studies."""
    prefix = study.encode() + b"\x1f"
    return _per_distinct(values, lambda v: hmac.digest(key, prefix + v.encode(), "sha256").hex(), "string")


def day_shifts(pseudonyms: pd.Series, key: bytes) -> pd.Series:
    """A keyed offset in days per participant, in [0, MAX_SHIFT_DAYS), derived from the pseudonym."""

    def shift(p: str) -> int:
        digest = hmac.digest(key, b"date-shift\x1f" + p.encode(), "sha256")
        return int.from_bytes(digest[:4], "big") % MAX_SHIFT_DAYS

    return _per_distinct(pseudonyms, shift, "Int64")


def shifted_days(recorded: pd.Series, pseudonyms: pd.Series, key: bytes) -> pd.Series:
    """Each response's day number plus its participant's keyed shift: exact intervals, unrecoverable dates."""
    import pandas as pd

    days = (recorded.dt.normalize() - pd.Timestamp("1970-01-01")).dt.days.astype("Int64")
    return (days + day_shifts(pseudonyms, key)).astype("Int64")
