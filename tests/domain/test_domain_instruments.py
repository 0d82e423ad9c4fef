"""Instrument scoring: hand-computed cases at band edges, missing items, recodings, declarations."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.domain.instruments import (
    UNMAPPED,
    InstrumentError,
    count_unmapped,
    instrument_items,
    item_range,
    load_instruments,
    mask_unmapped,
    recode_items,
    registry_from_dict,
    response_coding,
    score_columns,
    score_instrument,
)

NA = pd.NA


def frame(rows, n=None) -> pd.DataFrame:
    f = pd.DataFrame(rows, dtype="Int64")
    f.columns = [f"item{i}" for i in range(1, f.shape[1] + 1)]
    if n is not None:
        assert f.shape[1] == n
    return f


# ---------------------------------------------------------------------------------------------- PHQ-9 / GAD-7

PHQ9_EDGES = [  # (items, total, band), items chosen by hand
    ([0, 0, 0, 0, 0, 0, 0, 0, 0], 0, "none_minimal"),
    ([1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "none_minimal"),
    ([1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild"),
    ([3, 3, 3, 0, 0, 0, 0, 0, 0], 9, "mild"),
    ([3, 3, 3, 1, 0, 0, 0, 0, 0], 10, "moderate"),
    ([2, 2, 2, 2, 2, 2, 2, 0, 0], 14, "moderate"),
    ([2, 2, 2, 2, 2, 2, 2, 1, 0], 15, "moderately_severe"),
    ([3, 3, 3, 3, 3, 2, 2, 0, 0], 19, "moderately_severe"),
    ([3, 3, 3, 3, 3, 3, 2, 0, 0], 20, "severe"),
    ([3, 3, 3, 3, 3, 3, 3, 3, 3], 27, "severe"),
]


def test_phq9_band_edges():
    out = score_instrument("phq9", frame([r for r, _, _ in PHQ9_EDGES], 9))
    assert out["phq9_total"].tolist() == [t for _, t, _ in PHQ9_EDGES]
    assert out["phq9_band"].tolist() == [b for _, _, b in PHQ9_EDGES]
    assert not out["phq9_prorated"].any()
    assert list(out.columns) == score_columns("phq9") == ["phq9_total", "phq9_band", "phq9_prorated"]
    assert str(out["phq9_total"].dtype) == "Int64" and str(out["phq9_band"].dtype).startswith("string")
    assert str(out["phq9_prorated"].dtype) == "boolean"


def test_gad7_band_edges():
    rows = [
        [1, 1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 1, 0, 0],
        [3, 3, 3, 0, 0, 0, 0],
        [3, 3, 3, 1, 0, 0, 0],
        [2, 2, 2, 2, 2, 2, 2],
        [3, 3, 3, 3, 3, 0, 0],
        [3, 3, 3, 3, 3, 3, 3],
    ]
    out = score_instrument("GAD-7", frame(rows, 7))
    assert out["gad7_total"].tolist() == [4, 5, 9, 10, 14, 15, 21]
    assert out["gad7_band"].tolist() == ["minimal", "mild", "mild", "moderate", "moderate", "severe", "severe"]


def test_a_missing_item_makes_the_score_missing_never_zero():
    out = score_instrument("phq9", frame([[3, 3, 3, 3, 3, 3, 3, 3, NA], [NA] * 9, [0] * 9]))
    assert out["phq9_total"].isna().tolist() == [True, True, False]
    assert out["phq9_band"].isna().tolist() == [True, True, False]
    assert out["phq9_prorated"].isna().tolist() == [True, True, False]
    assert out["phq9_total"].iloc[2] == 0  # an all-zero answer is a real 0


def test_index_is_preserved():
    f = frame([[0] * 9, [1] * 9])
    f.index = pd.Index([10, 42], name="row")
    assert score_instrument("phq9", f).index.equals(f.index)


# ---------------------------------------------------------------------------------------------- DASS-21


def test_dass21_hand_computed_raw_and_x2_with_bands():
    # items 1..21
    items = [0, 1, 2, 0, 3, 1, 0, 2, 1, 3, 0, 1, 2, 3, 0, 1, 2, 0, 3, 1, 2]
    out = score_instrument("dass21", frame([items], 21)).iloc[0]
    # depression = items 3,5,10,13,16,17,21 = 2+3+3+2+1+2+2 = 15 -> x2 30 (extremely severe, 28+)
    assert (out["dass21_depression_raw"], out["dass21_depression_x2"]) == (15, 30)
    assert out["dass21_depression_band"] == "extremely_severe"
    # anxiety = items 2,4,7,9,15,19,20 = 1+0+0+1+0+3+1 = 6 -> x2 12 (moderate, 10-14)
    assert (out["dass21_anxiety_raw"], out["dass21_anxiety_x2"]) == (6, 12)
    assert out["dass21_anxiety_band"] == "moderate"
    # stress = items 1,6,8,11,12,14,18 = 0+1+2+0+1+3+0 = 7 -> x2 14 (normal, 0-14: upper edge)
    assert (out["dass21_stress_raw"], out["dass21_stress_x2"]) == (7, 14)
    assert out["dass21_stress_band"] == "normal"


@pytest.mark.parametrize(
    "subscale,items,edges",
    [
        (
            "depression",
            [3, 5, 10, 13, 16, 17, 21],
            [
                (4, "normal"),
                (5, "mild"),
                (6, "mild"),
                (7, "moderate"),
                (10, "moderate"),
                (11, "severe"),
                (13, "severe"),
                (14, "extremely_severe"),
            ],
        ),
        (
            "anxiety",
            [2, 4, 7, 9, 15, 19, 20],
            [
                (3, "normal"),
                (4, "mild"),
                (5, "moderate"),
                (7, "moderate"),
                (8, "severe"),
                (9, "severe"),
                (10, "extremely_severe"),
            ],
        ),
        (
            "stress",
            [1, 6, 8, 11, 12, 14, 18],
            [
                (7, "normal"),
                (8, "mild"),
                (9, "mild"),
                (10, "moderate"),
                (12, "moderate"),
                (13, "severe"),
                (16, "severe"),
                (17, "extremely_severe"),
            ],
        ),
    ],
)
def test_dass21_band_edges_on_the_x2_scale(subscale, items, edges):
    rows = []
    for raw, _ in edges:
        row = [0] * 21
        left = raw
        for i in items:
            row[i - 1] = min(3, left)
            left -= row[i - 1]
        assert left == 0
        rows.append(row)
    out = score_instrument("dass21", frame(rows, 21))
    assert out[f"dass21_{subscale}_raw"].tolist() == [r for r, _ in edges]
    assert out[f"dass21_{subscale}_x2"].tolist() == [2 * r for r, _ in edges]
    assert out[f"dass21_{subscale}_band"].tolist() == [b for _, b in edges]


def test_dass21_missing_item_only_affects_its_subscale():
    row = [1] * 21
    row[3 - 1] = NA  # item 3 is a depression item
    out = score_instrument("dass21", frame([row], 21)).iloc[0]
    assert pd.isna(out["dass21_depression_raw"]) and pd.isna(out["dass21_depression_x2"])
    assert pd.isna(out["dass21_depression_band"])
    assert out["dass21_anxiety_raw"] == 7 and out["dass21_stress_x2"] == 14


# ---------------------------------------------------------------------------------------------- WEMWBS / SWEMWBS


def test_wemwbs_range():
    out = score_instrument("wemwbs", frame([[1] * 14, [5] * 14, [3] * 14], 14))
    assert out["wemwbs_total"].tolist() == [14, 70, 42]
    assert "wemwbs_band" not in out.columns


def test_swemwbs_metric_conversion_from_seven_items():
    out = score_instrument("swemwbs", frame([[1] * 7, [5] * 7, [3, 4, 2, 5, 3, 4, 1], [2, 2, 2, 2, 2, 2, 2]], 7))
    assert out["swemwbs_raw"].tolist() == [7, 35, 22, 14]
    assert out["swemwbs_metric"].tolist() == [7.00, 35.00, 19.98, 15.32]


def test_swemwbs_from_the_fourteen_wemwbs_items_uses_items_1_2_3_6_7_9_11():
    row = [5, 5, 5, 1, 1, 5, 5, 1, 5, 1, 5, 1, 1, 1]
    assert score_instrument("wemwbs", frame([row], 14))["wemwbs_total"].iloc[0] == 42
    out = score_instrument("swemwbs", frame([row], 14)).iloc[0]
    assert out["swemwbs_raw"] == 35 and out["swemwbs_metric"] == 35.00


# ---------------------------------------------------------------------------------------------- QIDS-SR16


def test_qids_sums_domains_not_items():
    # sleep max(1,3,0,2)=3; item5=2; appetite/weight max(0,1,3,0)=3; items 10-14 = 1,2,1,0,2; psychomotor max(1,3)=3
    items = [1, 3, 0, 2, 2, 0, 1, 3, 0, 1, 2, 1, 0, 2, 1, 3]
    out = score_instrument("qids_sr16", frame([items, [3] * 16, [0] * 16], 16))
    assert out["qids_total"].tolist() == [17, 27, 0]  # the item sums would be 22 and 48
    assert out["qids_band"].tolist() == ["severe", "very_severe", "none"]


@pytest.mark.parametrize(
    "total,band",
    [
        (5, "none"),
        (6, "mild"),
        (10, "mild"),
        (11, "moderate"),
        (15, "moderate"),
        (16, "severe"),
        (20, "severe"),
        (21, "very_severe"),
    ],
)
def test_qids_band_edges(total, band):
    # fill single-item domains first: items 5, 10, 11, 12, 13, 14, then sleep (item 1), appetite (6), motor (15)
    order = [5, 10, 11, 12, 13, 14, 1, 6, 15]
    row, left = [0] * 16, total
    for i in order:
        row[i - 1] = min(3, left)
        left -= row[i - 1]
    out = score_instrument("qids", frame([row], 16)).iloc[0]
    assert (out["qids_total"], out["qids_band"]) == (total, band)


def test_qids_missing_item_in_a_max_domain_is_missing():
    row = [0] * 16
    row[7 - 1] = NA  # appetite item; max of the others would understate
    assert pd.isna(score_instrument("qids", frame([row], 16))["qids_total"].iloc[0])


# ---------------------------------------------------------------------------------------------- recoding


def test_recode_qualtrics_1_to_4_and_reversed_coding():
    src = pd.DataFrame({"q1": [1, 2, 3, 4], "q2": ["1", "2", "3", "4"], "q3": [1.0, 2.0, 3.0, 4.0]})
    assert recode_items(src, {1: 0, 2: 1, 3: 2, 4: 3}).to_numpy().tolist() == [[0] * 3, [1] * 3, [2] * 3, [3] * 3]
    rev = recode_items(src, {1: 3, 2: 2, 3: 1, 4: 0})
    assert rev["q1"].tolist() == [3, 2, 1, 0]
    assert str(rev["q1"].dtype) == "Int64"


def test_recode_text_labels_case_and_spacing_insensitive():
    src = pd.DataFrame({"a": ["Not at all", " several DAYS ", "More than half the days", "Nearly every day"]})
    out = recode_items(src, response_coding("phq9"))
    assert out["a"].tolist() == [0, 1, 2, 3]


def test_recode_missing_and_unmapped_are_distinct():
    src = pd.DataFrame({"a": [1, None, "", -99, "-99", 7, "Sometimes"], "b": [2] * 7})
    out = recode_items(src, {1: 0, 2: 1, 3: 2, 4: 3})
    assert out["a"].iloc[0] == 0
    assert out["a"].iloc[1:5].isna().all()  # blank, NA and Qualtrics -99 are missing
    assert out["a"].iloc[5] == UNMAPPED and out["a"].iloc[6] == UNMAPPED
    assert count_unmapped(out).to_dict() == {"a": 2, "b": 0}
    masked = mask_unmapped(out)
    assert masked["a"].isna().sum() == 6 and count_unmapped(masked).sum() == 0


def test_scoring_refuses_unmapped_markers_without_echoing_values():
    src = pd.DataFrame([[1] * 8 + ["secret-label"]], columns=[f"c{i}" for i in range(9)])
    out = recode_items(src, {1: 0})
    with pytest.raises(InstrumentError) as err:
        score_instrument("phq9", out)
    assert "UNMAPPED" in str(err.value) and "secret" not in str(err.value)
    masked = score_instrument("phq9", mask_unmapped(out))
    assert masked["phq9_total"].isna().all()


def test_out_of_range_and_wrong_shape_are_errors():
    with pytest.raises(InstrumentError, match="outside the item range"):
        score_instrument("phq9", frame([[4] + [0] * 8]))
    with pytest.raises(InstrumentError, match="outside the item range"):
        score_instrument("wemwbs", frame([[0] * 14]))  # WEMWBS items are 1-5, a 0-4 coding was not recoded
    with pytest.raises(InstrumentError, match="expected 9 item columns"):
        score_instrument("phq9", frame([[0] * 8]))
    with pytest.raises(InstrumentError, match="unknown instrument"):
        score_instrument("bdi", frame([[0] * 9]))
    with pytest.raises(InstrumentError, match="not numeric"):
        score_instrument("gad7", pd.DataFrame([["Not at all"] * 7]))


# ---------------------------------------------------------------------------------------------- declarations


def test_metadata_helpers():
    assert item_range("phq9") == (0, 3) and instrument_items("phq9") == 9
    assert item_range("wemwbs") == (1, 5) and instrument_items("swemwbs") == 7
    assert instrument_items("QIDS-SR16") == 16 and instrument_items("DASS-21") == 21
    assert set(load_instruments()) >= {"phq9", "gad7", "dass21", "wemwbs", "swemwbs", "qids_sr16"}
    assert "dass21_depression_raw" in score_columns("dass21") and "dass21_depression_x2" in score_columns("dass21")


def test_proration_is_declared_flagged_and_fractional():
    raw = {
        "instruments": {
            "phq9_prorated": {
                "label": "PHQ-9 (prorated variant)",
                "prefix": "phq9p",
                "items": 9,
                "item_range": [0, 3],
                "scoring": "sum",
                "proration": {"max_missing": 2},
                "bands": [{"label": "low", "min": 0}, {"label": "high", "min": 10}],
            }
        }
    }
    reg = registry_from_dict(raw)
    rows = [[2] * 8 + [NA], [1] * 7 + [NA, NA], [1] * 6 + [NA] * 3, [3] * 9, [3, 2] + [NA] * 7]
    out = score_instrument("phq9_prorated", frame(rows), registry=reg)
    assert out["phq9p_total"].tolist()[:2] == [18.0, 9.0]  # 16/8*9 and 7/7*9
    assert out["phq9p_total"].isna().tolist() == [False, False, True, False, True]  # 3 missing > max 2
    assert out["phq9p_prorated"].tolist()[:2] == [True, True] and bool(out["phq9p_prorated"].iloc[3]) is False
    assert str(out["phq9p_total"].dtype) == "Float64"
    assert out["phq9p_band"].tolist()[:2] == ["high", "low"]


def test_adding_an_instrument_is_a_declaration():
    reg = registry_from_dict(
        {
            "instruments": {
                "phq2": {
                    "label": "PHQ-2",
                    "items": 2,
                    "item_range": [0, 3],
                    "scoring": "sum",
                    "bands": [{"label": "negative", "min": 0}, {"label": "positive", "min": 3}],
                }
            }
        }
    )
    out = score_instrument("phq2", frame([[1, 1], [2, 1]]), registry=reg)
    assert out["phq2_band"].tolist() == ["negative", "positive"]


@pytest.mark.parametrize(
    "spec,named",
    [
        (
            {
                "label": "x",
                "items": 3,
                "item_range": [0, 3],
                "scoring": "sum_subscales",
                "subscales": {"a": {"items": [1, 4]}},
            },
            "subscales.a.items",
        ),
        ({"label": "x", "items": 3, "item_range": [3, 0], "scoring": "sum"}, "item_range"),
        ({"label": "x", "items": 3, "item_range": [0, 3], "scoring": "mean"}, "scoring"),
        (
            {
                "label": "x",
                "items": 3,
                "item_range": [0, 3],
                "scoring": "sum",
                "bands": [{"label": "b", "min": 5}, {"label": "a", "min": 0}],
            },
            "bands",
        ),
        ({"label": "x", "items": 2, "item_range": [0, 3], "scoring": "max_domains", "domains": {"d": [1]}}, "domains"),
        (
            {"label": "x", "items": 2, "item_range": [1, 2], "scoring": "sum_with_conversion", "conversion": {2: 1.0}},
            "conversion",
        ),
        ({"label": "x", "items": 2, "item_range": [0, 3], "scoring": "sum", "colour": "red"}, "colour"),
    ],
)
def test_bad_declarations_name_the_key(spec, named):
    with pytest.raises(InstrumentError) as err:
        registry_from_dict({"instruments": {"toy": spec}})
    assert named in str(err.value) and "toy" in str(err.value)
