"""Looking for identifying values where they must never be: one whole-token scan, and every stored text value."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb

TOKEN = re.compile(rb"[A-Za-z0-9]+")


def token_scanner(values: Iterable[str]) -> Callable[[bytes], list[str]]:
    """A function giving which of `values` occur in some bytes as whole tokens (so a first name such as "Mark" does
    not match "marked"). Every alphanumeric run of a value is then a whole alphanumeric run of the bytes, so the
    bytes' runs, as a set, rule out almost every value before a substring test and a pattern are tried."""
    simple, compound = set(), {}
    for value in {v.encode() for v in values if v}:
        if TOKEN.fullmatch(value):
            simple.add(value)
        else:
            compound[value] = (
                TOKEN.findall(value),
                re.compile(rb"(?<![A-Za-z0-9])" + re.escape(value) + rb"(?![A-Za-z0-9])"),
            )

    def scan(data: bytes) -> list[str]:
        runs = set(TOKEN.findall(data))
        found = simple & runs
        found |= {
            raw
            for raw, (tokens, pattern) in compound.items()
            if all(t in runs for t in tokens) and raw in data and pattern.search(data)
        }
        return sorted(v.decode(errors="replace") for v in found)

    return scan


def stored_text(db: Path) -> set[str]:
    """Every distinct value of every text or map column in a DuckDB file (DuckDB compresses strings, so its bytes
    cannot be grepped)."""
    with duckdb.connect(str(db), read_only=True) as conn:
        cols = conn.execute(
            """SELECT schema_name, table_name, column_name FROM duckdb_columns()
               WHERE NOT internal AND (data_type LIKE 'VARCHAR%' OR data_type LIKE 'MAP%')"""
        ).fetchall()
        assert cols, f"{db} holds no text column"
        stored = set()
        for schema, table, column in cols:
            rows = conn.execute(f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM {schema}.{table}').fetchall()
            stored |= {r[0] for r in rows if r[0] is not None}
    return stored
