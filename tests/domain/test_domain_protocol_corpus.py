"""The protocol parser against hand-coded corpora of free-text schedule answers, each coded by an independent coder
from the written coding rules alone (tests/domain/coding_rules.md), never from the parser:

- protocol_corpus_respondents.csv: 360 answers in forum and survey phrasing; the parser was then developed against
  it, so it is a development set and its agreement overstates agreement on new text;
- protocol_corpus_heldout.csv: a further independent set, not looked at while developing.

A wrong protocol is worse than `other`: no answer may get a named protocol the coder did not give, and none may be
read as `daily` (which raises the daily-dosing safety flag) unless the coder read it so.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pipelines.domain.protocol import CANONICAL_PROTOCOLS, UNKNOWN, normalise_protocol

HERE = Path(__file__).parent
CORPORA = ("protocol_corpus_respondents.csv", "protocol_corpus_heldout.csv")


def _rows(name: str) -> list[dict[str, str]]:
    with (HERE / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _expected(row: dict[str, str]) -> tuple[str, int | None, int | None]:
    days = [int(row[c]) if row[c] else None for c in ("expected_days_on", "expected_days_off")]
    return row["expected_protocol"], days[0], days[1]


@pytest.mark.parametrize(
    ("name", "size"), [("protocol_corpus_respondents.csv", 200), ("protocol_corpus_heldout.csv", 100)]
)
def test_corpus_is_large_and_covers_every_protocol(name, size):
    rows = _rows(name)
    assert len(rows) >= size
    assert {r["expected_protocol"] for r in rows} == {*CANONICAL_PROTOCOLS, UNKNOWN}
    texts = [r["text"].strip().lower() for r in rows]
    assert len(texts) == len(set(texts)), "duplicate corpus entries"


@pytest.mark.parametrize("name", CORPORA)
def test_protocol_and_days_agree_with_the_coder_on_at_least_95_percent(name):
    rows = _rows(name)
    agree = 0
    for row in rows:
        r = normalise_protocol(None, row["text"])
        agree += (r.protocol, r.days_on, r.days_off) == _expected(row)
    assert agree / len(rows) >= 0.95, f"{agree}/{len(rows)} agree"


@pytest.mark.parametrize("name", CORPORA)
def test_never_a_named_protocol_the_coder_did_not_give(name):
    wrong = []
    for row in _rows(name):
        r = normalise_protocol(None, row["text"])
        if r.protocol not in ("other", UNKNOWN) and r.protocol != row["expected_protocol"]:
            wrong.append((row["text"], row["expected_protocol"], r.protocol))
    assert wrong == []


@pytest.mark.parametrize("name", CORPORA)
def test_daily_only_where_the_coder_reads_daily(name):
    flagged = [
        row["text"]
        for row in _rows(name)
        if normalise_protocol(None, row["text"]).protocol == "daily" and row["expected_protocol"] != "daily"
    ]
    assert flagged == []
