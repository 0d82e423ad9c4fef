"""Targeted dose-parser cases: one per rule, so a failure names the rule that broke."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from pipelines.domain.dose import DoseResult, canonical_substance, parse_dose

M, L, A = "psilocybin_mushrooms", "lsd", "lsd_analogue"


def check(sub, text, amount, unit, status, reason=None, low=None, high=None, **kw):
    r = parse_dose(sub, text, **kw)
    assert r.status == status, r
    if amount is None:
        assert r.amount is None and r.unit is None, r
    else:
        assert r.unit == unit and math.isclose(r.amount, amount, rel_tol=1e-12), r
    if reason is not None:
        assert r.reason == reason, r
    if low is not None:
        assert math.isclose(r.range_low, low) and math.isclose(r.range_high, high), r


@pytest.mark.parametrize(
    "text",
    [
        "0.2g",
        "0.2 g",
        "0.2  grams",
        ".2g",
        "0,2 g",
        "200mg",
        "200 milligrams",
        "200000 µg",
        "200000 μg",
        "200000ug",
        "200000 mcg",
        "200000 micrograms",
    ],
)
def test_mushroom_units_all_normalise_to_grams(text):
    check(M, text, 0.2, "g", "exact", "explicit_unit")


@pytest.mark.parametrize(
    "text", ["10ug", "10 µg", "10μg", "10 mcg", "10 micrograms", "0.01 mg", "0,01mg", "0.00001 g", "10 mics"]
)
def test_lsd_units_all_normalise_to_micrograms(text):
    check(L, text, 10, "ug", "exact")


def test_ranges_give_midpoint_and_bounds():
    check(M, "0.1-0.2g", 0.15, "g", "range", "explicit_unit_range", 0.1, 0.2)
    check(L, "5 to 10 ug", 7.5, "ug", "range", low=5, high=10)
    check(L, "5\u201310ug", 7.5, "ug", "range", low=5, high=10)
    check(M, "100mg-0.2g", 0.15, "g", "range", low=0.1, high=0.2)
    check(M, "0.3-0.1g", None, None, "ambiguous", "reversed_range")


def test_bare_numbers_infer_the_canonical_unit_only_when_plausible():
    check(M, ".25", 0.25, "g", "unit_inferred", "no_unit_assumed_grams")
    check(L, "10", 10, "ug", "unit_inferred", "no_unit_assumed_micrograms")
    check(M, "0.1-0.2", 0.15, "g", "unit_inferred", low=0.1, high=0.2)
    check(M, "250", None, None, "ambiguous", "no_unit_implausible")
    check(L, "0.1", None, None, "ambiguous", "no_unit_implausible")
    check(L, "1/10", None, None, "ambiguous", "fraction_without_unit")


def test_unit_slips_are_never_silently_corrected():
    check(M, ".25mg", None, None, "ambiguous", "implausible_for_unit")
    check(M, "0.16 mg", None, None, "ambiguous", "implausible_for_unit")
    check(L, "10mg", None, None, "ambiguous", "implausible_for_unit")
    check(L, "0.2g", None, None, "ambiguous", "implausible_for_unit")


def test_micrograms_of_mushroom_convert_exactly():
    check(M, "100000 µg", 0.1, "g", "exact", "explicit_unit")


def test_thousands_or_decimal_comma_is_flagged():
    check(M, "100,000 µg", None, None, "ambiguous", "thousands_or_decimal_separator")
    check(M, "1,000,000 ug", 1.0, "g", "exact")  # several groups: only thousands separators read this way
    check(M, "10.000 mg", None, None, "ambiguous", "thousands_or_decimal_separator")  # 10 mg or 10 g: both plausible
    check(M, "1.250g", 1.25, "g", "exact")  # 1250 g is not plausible, so the English reading stands


def test_tab_fractions_use_the_configured_tab_strength():
    check(L, "1/10 tab", 10, "ug", "unit_inferred", "tab_fraction_assumed_strength")
    check(L, "1/10 tab", 15, "ug", "unit_inferred", tab_strength_ug=150.0)
    check(L, "a tenth of a tab", 10, "ug", "unit_inferred")
    check(L, "quarter tab", 25, "ug", "unit_inferred")
    check(L, "1/10 of a 150ug tab", 15, "ug", "exact", "tab_fraction_explicit_strength")
    check(L, "1/10 of a 150ug tab", 15, "ug", "exact", tab_strength_ug=80.0)  # stated strength wins
    check(A, "1/10th of a 1P-LSD tab", 10, "ug", "unit_inferred")
    check(M, "1/10 tab", None, None, "unparseable", "count_without_strength")


def test_volumetric_doses():
    check(L, "1 ml of a 10 µg/ml solution", 10, "ug", "exact", "volumetric_solution")
    check(L, "2ml (10ug/ml)", 20, "ug", "exact", "volumetric_solution")
    check(L, "1 tab in 10ml water, took 1ml", 10, "ug", "unit_inferred", "volumetric_tab_assumed_strength")
    check(L, "1 tab in 10ml water, took 1ml", 20, "ug", "unit_inferred", tab_strength_ug=200.0)
    check(L, "1ml", None, None, "unparseable", "volume_without_concentration")
    check(L, "10ug/ml", None, None, "unparseable", "concentration_without_volume")


@pytest.mark.parametrize("text", ["15-Oct-2019", "2015-10-01", "10/15/2015", "10/15/2015 0:00", "Oct-2015"])
def test_full_spreadsheet_dates_are_never_numbers(text):
    for sub in (M, L):
        check(sub, text, None, None, "unparseable", "spreadsheet_date")


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [("Oct-15", 10, 15), ("oct-15", 10, 15), ("15-Oct", 10, 15), ("1-Oct", 1, 10), ("10-Jan", 1, 10), ("5-Oct", 5, 10)],
)
def test_a_range_a_spreadsheet_turned_into_a_date_is_recovered_and_says_so(text, low, high):
    """ "10-15" typed into Excel shows as "Oct-15" or "15-Oct" (by locale): the range, the unit inferred, the reason
    naming the date; for mushrooms 1-15 g is no microdose window, so it stays for review."""
    check(L, text, (low + high) / 2, "ug", "unit_inferred", "spreadsheet_date_range", low, high)
    check(M, text, None, None, "ambiguous", "spreadsheet_date_range")


@pytest.mark.parametrize("text", ["1 small cap", "a pinch", "half a cap", "2 stems", "a little", "microdose"])
def test_vague_amounts(text):
    check(M, text, None, None, "unparseable", "vague_amount")


@pytest.mark.parametrize(
    "text,reason",
    [
        (None, "empty"),
        ("", "empty"),
        ("   ", "empty"),
        ("-99", "unanswered_code"),
        (-99, "unanswered_code"),
        ("N/A", "no_answer"),
        (float("nan"), "empty"),
        (pd.NA, "empty"),
    ],
)
def test_missing(text, reason):
    check(M, text, None, None, "missing", reason)


def test_numeric_inputs_are_read_like_text():
    check(M, 0.25, 0.25, "g", "unit_inferred")
    check(L, 10, 10, "ug", "unit_inferred")


def test_stack_amounts_and_schedules_are_not_doses():
    check(M, "0.1g + 1g lion's mane + 100mg niacin", 0.1, "g", "exact")
    check(M, "0.2g every 3 days", 0.2, "g", "exact")
    check(L, "10ug 1 on 2 off", 10, "ug", "exact")


def test_fresh_weight_and_compound_mass_are_flagged():
    check(M, "1g fresh", None, None, "ambiguous", "fresh_weight")
    check(M, "10mg psilocybin", None, None, "ambiguous", "compound_mass")


def test_different_amounts_in_one_answer_are_ambiguous_but_restatements_are_not():
    check(M, "0.1g, sometimes 0.2g", None, None, "ambiguous", "multiple_amounts")
    check(M, "0.1g/0.2g alternating", None, None, "ambiguous", "multiple_amounts")
    check(M, "100mg (0.1g)", 0.1, "g", "exact")


def test_unknown_substance_and_aliases():
    check("ketamine", "10mg", None, None, "unparseable", "unknown_substance")
    assert canonical_substance("Psilocybin mushrooms") == M
    assert canonical_substance("1P-LSD") == A
    assert canonical_substance(None) is None


def test_bad_tab_strength_is_rejected():
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            parse_dose(L, "1/10 tab", tab_strength_ug=bad)


def test_long_answers_are_left_for_a_human():
    check(M, "0.2g " + "and then some more words " * 20, None, None, "unparseable", "too_long")


def test_result_is_a_frozen_dataclass():
    r = parse_dose(M, "0.2g")
    assert isinstance(r, DoseResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.amount = 1.0  # type: ignore[misc]
