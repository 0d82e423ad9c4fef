"""A key file that cannot be used stops `run` with one line saying what is wrong with it and what to do: never a
traceback, never a new key over a broken one, nothing processed."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pipelines.cli import main
from tests.paths import SAMPLE_DIR


def _empty(path):
    path.write_bytes(b"")


def _not_ascii(path):
    path.write_bytes("clé-secrète\n".encode())


def _directory(path):
    path.mkdir()


def _not_hex(path):
    path.write_text("not a key at all\n")


@pytest.mark.parametrize(
    "make, expected",
    [
        (_empty, "the pseudonymisation key is empty"),
        (_not_ascii, "cannot be read (UnicodeDecodeError: not plain ASCII text)"),
        (_directory, "cannot be read (IsADirectoryError: a folder is at the key's path)"),
        (_not_hex, "expected 64 hexadecimal characters"),
    ],
)
def test_an_unusable_key_file_is_one_line_naming_the_file(workspace, make, expected):
    key_file = workspace.settings.pseudonym_key_file
    key_file.parent.mkdir(parents=True)
    make(key_file)
    workspace.land(SAMPLE_DIR / "baseline.csv")
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code != 0
    error = result.output.strip().splitlines()[-1]
    assert error.startswith(f"Error: {key_file}: ") and expected in error, result.output
    assert "restore the key file from your backup" in error
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    assert not workspace.settings.warehouse.exists()  # nothing was processed
