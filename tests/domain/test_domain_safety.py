"""Medication classification and vectorised safety flags (NA when the input is absent, never False)."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.domain.safety import (
    FLAG_COLUMNS,
    MedicationTable,
    MedicationTableError,
    classify_medications,
    safety_flags,
)


@pytest.mark.parametrize(
    "text,classes",
    [
        ("zoloft", {"ssri"}),
        ("Lexapro 10mg", {"ssri"}),
        ("lithium carbonate", {"lithium"}),
        ("Sertaline 50 mg", {"ssri"}),  # typo
        ("prozac and effexor XR", {"ssri", "snri"}),
        ("Cymbalta 60mg daily", {"snri"}),
        ("duloxitine", {"snri"}),  # typo closer to duloxetine than to fluoxetine
        ("Nardil", {"maoi"}),
        ("selegiline patch (Emsam)", {"maoi"}),
        ("Syrian rue / ayahuasca", {"maoi"}),
        ("escitalopram; lithium 300mg; phenelzine", {"ssri", "lithium", "maoi"}),
        ("Priadel", {"lithium"}),
        ("citalopram", {"ssri"}),
        ("venlafaxine 75", {"snri"}),
    ],
)
def test_free_text_brand_and_generic_names(text, classes):
    assert classify_medications([], text) == frozenset(classes)


@pytest.mark.parametrize(
    "text",
    [
        "bupropion",
        "Wellbutrin",
        "lamotrigine",
        "trazodone",
        "mirtazapine",
        "vitamin D",
        "birth control pill",
        "adderall",
        "fluconazole",
        "Paxlovid",
        "celebrex",
        "seroquel",
        "none",
        "",
        "lions mane and niacin",
        "metformin",
        "prednisone",
    ],
)
def test_no_false_positives(text):
    assert classify_medications([], text) == frozenset()


def test_coded_values():
    assert classify_medications(["ssri", "lithium"], None) == {"ssri", "lithium"}
    assert classify_medications(["none"], None) == frozenset()
    assert classify_medications(["other"], "Zoloft") == {"ssri"}
    assert classify_medications("snri,maoi", None) == {"snri", "maoi"}
    assert classify_medications(None, None) == frozenset()
    assert classify_medications(["sertraline"], None) == {"ssri"}


def test_table_validation_names_the_key():
    with pytest.raises(MedicationTableError, match="classes.benzo"):
        MedicationTable.from_dict({"classes": {"benzo": {"names": ["xanax"]}}})
    with pytest.raises(MedicationTableError, match="classes.ssri.names"):
        MedicationTable.from_dict({"classes": {"ssri": {"names": "zoloft"}}})


def test_custom_table():
    table = MedicationTable.from_dict({"classes": {"ssri": {"names": ["newdrugzine"]}}})
    assert classify_medications([], "newdrugzine 5mg", table) == {"ssri"}
    assert classify_medications([], "zoloft", table) == frozenset()


def test_flags_from_documented_columns():
    frame = pd.DataFrame(
        {
            "phq9_item9": pd.array([0, 1, 3, None, -99], dtype="Int64"),
            "qids_item12": ["0", "2", "", None, "1"],
            "medication_classes": [["ssri"], [], None, "lithium,maoi", ("snri",)],
            "dose_band": ["standard", "above_micro", "unknown", None, "high_micro"],
            "protocol": ["daily", "fadiman", "unknown", None, "other"],
        },
        index=[5, 6, 7, 8, 9],
    )
    out = safety_flags(frame)
    assert list(out.columns) == list(FLAG_COLUMNS)
    assert out.index.equals(frame.index)
    assert all(str(t) == "boolean" for t in out.dtypes)

    def col(name):
        return [None if pd.isna(v) else bool(v) for v in out[name]]

    assert col("flag_phq9_item9") == [False, True, True, None, None]  # -99 = unanswered, not "no risk"
    assert col("flag_qids_item12") == [False, True, None, None, True]
    assert col("flag_lithium") == [False, False, None, True, False]
    assert col("flag_ssri_snri") == [True, False, None, False, True]
    assert col("flag_maoi") == [False, False, None, True, False]
    assert col("flag_above_micro") == [False, True, None, None, False]
    assert col("flag_daily_dosing") == [True, False, None, None, False]


def test_missing_columns_give_na_not_false():
    out = safety_flags(pd.DataFrame({"x": [1, 2]}))
    assert out.isna().all().all()
    assert list(out.columns) == list(FLAG_COLUMNS)


def test_days_off_zero_is_daily_dosing():
    out = safety_flags(pd.DataFrame({"protocol": ["other", "other", None], "days_off": [0, 2, None]}))
    assert [None if pd.isna(v) else bool(v) for v in out["flag_daily_dosing"]] == [True, False, None]
