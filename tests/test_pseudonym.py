"""Keyed pseudonyms and date shifts."""

from __future__ import annotations

import stat

import pandas as pd
import pytest

from pipelines.privacy.pseudonym import (
    PseudonymKeyError,
    day_shifts,
    load_key,
    load_or_create_key,
    normalise_key_values,
    pseudonymise,
)


def test_key_created_once_with_mode_0600(tmp_path):
    notices = []
    path = tmp_path / "secrets" / "pseudonym.key"
    key = load_or_create_key(path, warehouse_has_pseudonyms=False, notify=notices.append)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(notices) == 1 and str(path) in notices[0]
    assert load_or_create_key(path, warehouse_has_pseudonyms=True, notify=notices.append) == key
    assert len(notices) == 1


def test_a_missing_key_is_never_replaced_once_pseudonyms_exist(tmp_path):
    path = tmp_path / "secrets" / "pseudonym.key"
    with pytest.raises(PseudonymKeyError, match="Restore the key file from your backup"):
        load_or_create_key(path, warehouse_has_pseudonyms=True, notify=print)
    assert not path.exists() and not path.parent.exists()
    with pytest.raises(PseudonymKeyError, match="missing"):
        load_key(path)


def test_an_unreadable_key_is_an_error_not_a_new_key(tmp_path):
    path = tmp_path / "pseudonym.key"
    path.write_bytes(b"\xff\xfe not hex")
    with pytest.raises(PseudonymKeyError) as info:
        load_or_create_key(path, warehouse_has_pseudonyms=False, notify=print)
    assert "not hex" not in str(info.value)
    assert path.read_bytes() == b"\xff\xfe not hex"


def test_pseudonyms_link_waves_but_depend_on_key_and_study():
    emails = pd.Series([" Jane.Doe@Example.org", "jane.doe@example.org", "", None], dtype="string")
    ids = pseudonymise(normalise_key_values(emails, "email"), b"k" * 32, study="s1")
    assert ids[0] == ids[1] and len(ids[0]) == 64 and "jane" not in ids[0]
    assert pd.isna(ids[2]) and pd.isna(ids[3])
    assert pseudonymise(pd.Series(["jane.doe@example.org"]), b"x" * 32, study="s1")[0] != ids[0]
    assert pseudonymise(pd.Series(["jane.doe@example.org"]), b"k" * 32, study="s2")[0] != ids[0]


def test_day_shift_is_per_participant_and_keyed():
    ids = pd.Series(["a" * 64, "a" * 64, "b" * 64])
    shifts = day_shifts(ids, b"k" * 32)
    assert shifts[0] == shifts[1]
    assert ((shifts >= 0) & (shifts < 3650)).all()
    assert not day_shifts(ids, b"j" * 32).equals(shifts)
