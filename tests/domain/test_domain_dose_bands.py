"""Dose bands: defaults and edges from domain.md, study overrides, and validation naming the bad key."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from pipelines.domain.dose_bands import DoseBands, DoseBandsError, dose_band

M, L, A = "psilocybin_mushrooms", "lsd", "lsd_analogue"


@pytest.mark.parametrize(
    "amount,band",
    [
        (0.0, "very_low"),
        (0.05, "very_low"),
        (0.0999, "very_low"),
        (0.1, "standard"),
        (0.2, "standard"),
        (0.3, "standard"),  # 0.1 - 0.3 inclusive
        (0.3001, "high_micro"),
        (0.5, "high_micro"),  # > 0.3 - 0.5
        (0.5001, "above_micro"),
        (5.0, "above_micro"),  # > 0.5
    ],
)
def test_psilocybin_default_edges(amount, band):
    assert dose_band(M, amount, None) == band


@pytest.mark.parametrize(
    "amount,band",
    [
        (4.99, "very_low"),
        (5, "standard"),
        (10, "standard"),
        (10.01, "high_micro"),
        (20, "high_micro"),
        (20.01, "above_micro"),
        (150, "above_micro"),
    ],
)
def test_lsd_and_analogue_default_edges(amount, band):
    assert dose_band(L, amount, None) == band
    assert dose_band(A, amount, DoseBands.from_dict(None)) == band


@pytest.mark.parametrize("amount", [None, float("nan"), pd.NA, -1.0, "abc"])
def test_unknown_without_an_amount(amount):
    assert dose_band(M, amount, None) == "unknown"


def test_unknown_substance_is_unknown_band():
    assert dose_band("ketamine", 0.2, None) == "unknown"
    assert dose_band(None, 0.2, None) == "unknown"


def test_study_override_from_plain_dict():
    bands = DoseBands.from_dict(
        {"psilocybin_mushrooms": {"very_low": 0.05, "standard": 0.25, "high_micro": 0.4}, "lsd": {"standard": 12}}
    )
    assert dose_band(M, 0.07, bands) == "standard"
    assert dose_band(M, 0.3, bands) == "high_micro"
    assert dose_band(M, 0.45, bands) == "above_micro"
    assert dose_band(L, 12, bands) == "standard"
    assert dose_band(L, 4, bands) == "very_low"  # keys not overridden keep their defaults
    assert dose_band(A, 12, bands) == "standard"  # analogues follow LSD unless overridden themselves
    assert dose_band(M, 0.07, {"psilocybin_mushrooms": {"very_low": 0.05}}) == "standard"  # a mapping works too


def test_analogue_can_be_overridden_on_its_own():
    bands = DoseBands.from_dict({"lsd_analogue": {"very_low": 10, "standard": 20, "high_micro": 40}})
    assert dose_band(A, 15, bands) == "standard"
    assert dose_band(L, 15, bands) == "high_micro"


def test_from_config_none_is_the_defaults():
    assert DoseBands.from_config(None).to_dict() == DoseBands.from_dict({}).to_dict() == DoseBands().to_dict()
    assert DoseBands.from_config(None).to_dict()[M] == {"very_low": 0.1, "standard": 0.3, "high_micro": 0.5}


@pytest.mark.parametrize(
    "config,named",
    [
        ({"psilocybin": {"standard": 0.3}}, "psilocybin"),
        ({M: {"very_lo": 0.1}}, f"{M}.very_lo"),
        ({M: {"standard": -0.3}}, f"{M}.standard"),
        ({M: {"standard": True}}, f"{M}.standard"),
        ({M: {"standard": "0.3"}}, f"{M}.standard"),
        ({L: {"standard": 30}}, L),  # standard above high_micro: order broken
        ({M: {"high_micro": math.inf}}, f"{M}.high_micro"),
        ({M: 0.3}, M),
    ],
)
def test_validation_errors_name_the_bad_key(config, named):
    with pytest.raises(DoseBandsError) as err:
        DoseBands.from_dict(config)
    assert named in str(err.value)
    assert isinstance(err.value, ValueError)
