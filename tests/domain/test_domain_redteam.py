"""Answers a red-team review found the parsers confidently wrong on (tests/domain/redteam_cases.csv, with the reading
a careful coder gives). The promise tested is the issue's: never confidently wrong. A dose may be the coder's amount
(`exact`/`range`) or any cautious status, never another amount; a schedule may be the coder's protocol or `other`,
never another named protocol, and never `daily` unless the coder reads daily."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from pipelines.domain.dose import parse_dose
from pipelines.domain.protocol import normalise_protocol

with (Path(__file__).parent / "redteam_cases.csv").open(encoding="utf-8", newline="") as fh:
    CASES = list(csv.DictReader(fh))


@pytest.mark.parametrize("case", [c for c in CASES if c["kind"] == "dose"], ids=lambda c: c["text"][:40])
def test_dose_is_the_coders_amount_or_cautious(case):
    r = parse_dose(case["substance"], case["text"])
    if r.status in ("exact", "range"):
        assert case["acceptable"], r
        assert math.isclose(r.amount, float(case["acceptable"]), rel_tol=1e-9), r


@pytest.mark.parametrize("case", [c for c in CASES if c["kind"] == "protocol"], ids=lambda c: c["text"][:40])
def test_protocol_is_the_coders_or_other(case):
    r = normalise_protocol(None, case["text"])
    assert r.protocol in (case["acceptable"], "other"), r
