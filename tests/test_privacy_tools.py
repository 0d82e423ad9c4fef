"""The independent privacy harness itself (tests/privacy_tools): pycanon's k and anonymeter's risks on frames whose
answer is known by construction. They skip only when `make test` / `make privacy-tools` has not built the venvs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests import privacy_tools

needs_pycanon = pytest.mark.skipif(not privacy_tools.pycanon_available(), reason=privacy_tools.PYCANON_MISSING)
needs_anonymeter = pytest.mark.skipif(not privacy_tools.anonymeter_available(), reason=privacy_tools.ANONYMETER_MISSING)

QI = ["age_band", "sex", "region"]


def classes(*sizes: int) -> pd.DataFrame:
    """One equivalence class per size, each with distinct quasi-identifiers and a varying non-QI column."""
    rows = []
    combos = [("18-29", "f", "north"), ("30-44", "m", "north"), ("45-64", "f", "south"), ("65+", "m", "south")]
    for (age, sex, region), size in zip(combos, sizes, strict=False):
        rows += [{"age_band": age, "sex": sex, "region": region, "phq9": i} for i in range(size)]
    return pd.DataFrame(rows)


@needs_pycanon
def test_k_is_the_smallest_class():
    assert privacy_tools.pycanon_k(classes(5, 7, 9), QI) == 5


@needs_pycanon
def test_one_unique_row_makes_k_1():
    frame = pd.concat(
        [classes(5, 7, 9), pd.DataFrame([{"age_band": "65+", "sex": "x", "region": "west", "phq9": 3}])],
        ignore_index=True,
    )
    assert privacy_tools.pycanon_k(frame, QI) == 1


@needs_pycanon
def test_result_reports_rows_and_classes():
    result = privacy_tools.pycanon_result(classes(5, 7, 9), QI)
    assert (result["k"], result["n_rows"], result["n_classes"], result["pycanon"]) == (5, 21, 3, "1.3.6")


@needs_pycanon
def test_k_depends_only_on_the_quasi_identifiers_given():
    frame = classes(5, 7, 9)
    # Over the sex column alone the classes are f: 5 + 9 and m: 7.
    assert privacy_tools.pycanon_k(frame, ["sex"]) == 7
    # phq9 varies inside every class, so adding it as a QI splits them down to single rows.
    assert privacy_tools.pycanon_k(frame, QI + ["phq9"]) == 1


@needs_pycanon
def test_nulls_form_one_class_together_and_are_not_dropped():
    frame = classes(5, 7, 9)
    frame["region"] = frame["region"].astype(object)
    # Three NULL regions in the size-9 class: they make a class of 3 of their own instead of vanishing
    # (pandas' groupby would drop them and still report 5).
    frame.loc[frame.index[-3:], "region"] = None
    assert privacy_tools.pycanon_k(frame, QI) == 3


@needs_pycanon
def test_numeric_and_mixed_typed_quasi_identifiers():
    frame = pd.DataFrame({"birth_year": [1980] * 4 + [1990] * 6, "zip3": pd.array([100] * 4 + [None] * 6, "Int64")})
    assert privacy_tools.pycanon_k(frame, ["birth_year", "zip3"]) == 4


@needs_pycanon
def test_pycanon_on_a_larger_random_frame_matches_pandas():
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "age_band": rng.choice(["18-29", "30-44", "45-64", "65+"], 2000),
            "sex": rng.choice(["f", "m"], 2000),
            "country": rng.choice(["AT", "DE", "NL", "US", "GB"], 2000),
        }
    )
    assert privacy_tools.pycanon_k(frame, list(frame.columns)) == frame.value_counts().min()


def test_input_errors_are_errors_not_skips():
    with pytest.raises(privacy_tools.PrivacyToolError, match="not in the frame"):
        privacy_tools.pycanon_k(classes(5), ["age_band", "nope"])
    with pytest.raises(privacy_tools.PrivacyToolError, match="no rows"):
        privacy_tools.pycanon_k(classes(5).iloc[0:0], QI)
    frame = classes(5)
    frame.loc[0, "region"] = privacy_tools.NULL_MARKER
    with pytest.raises(privacy_tools.PrivacyToolError, match="NULL marker"):
        privacy_tools.pycanon_k(frame, QI)


def test_missing_venv_raises_with_the_build_instruction(monkeypatch, tmp_path):
    monkeypatch.setattr(privacy_tools, "PYCANON_VENV", tmp_path / ".venv-pycanon")
    monkeypatch.setattr(privacy_tools, "ANONYMETER_VENV", tmp_path / ".venv-anonymeter")
    assert privacy_tools.available() == {"pycanon": False, "anonymeter": False}
    with pytest.raises(privacy_tools.PrivacyToolError, match="make test"):
        privacy_tools.pycanon_k(classes(5), QI)
    with pytest.raises(pytest.skip.Exception, match="make test"):
        privacy_tools.require_anonymeter()


def survey(n: int, seed: int) -> pd.DataFrame:
    """Synthetic row-level survey data with several quasi-identifiers, nearly every row unique."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "sex": rng.choice(["f", "m", "x"], n),
            "postcode": rng.choice([f"P{i:03d}" for i in range(60)], n),
            "phq9": rng.integers(0, 28, n),
            "gad7": rng.integers(0, 22, n),
            "substance": rng.choice(["lsd", "psilocybin"], n),
        }
    )


def coarsen(frame: pd.DataFrame) -> pd.DataFrame:
    """A generalised release: 20-year age bands, postcode suppressed, scores in bands of 10."""
    out = frame.copy()
    out["age"] = out["age"] // 20 * 20
    out["postcode"] = "*"
    out["phq9"] = out["phq9"] // 10 * 10
    out["gad7"] = out["gad7"] // 10 * 10
    return out


AUX = (["age", "sex", "postcode"], ["phq9", "gad7", "substance"])


@pytest.fixture(scope="module")
def leaky_and_coarse():
    if not privacy_tools.anonymeter_available():
        pytest.skip(privacy_tools.ANONYMETER_MISSING)
    original, control = survey(400, seed=1), survey(400, seed=2)
    results = privacy_tools.anonymeter_risks_many(
        original, {"leaky": original, "coarse": coarsen(original)}, control, aux_cols=AUX
    )
    return results["leaky"], results["coarse"]


@needs_anonymeter
def test_releasing_the_original_is_clearly_riskier_than_a_coarsened_release(leaky_and_coarse):
    leaky, coarse = leaky_and_coarse
    # Publishing the records themselves: almost every query that singles someone out in the release does so in the
    # original too, and far more often than in the control set.
    assert leaky["singling_out_risk"] > 0.8
    assert coarse["singling_out_risk"] < 0.1
    assert leaky["singling_out"]["ci"][0] > coarse["singling_out"]["ci"][1]
    # Linkability: both halves of a record find the very same released row as nearest neighbour.
    assert leaky["linkability_risk"] > 0.5
    assert coarse["linkability_risk"] < 0.05
    assert leaky["linkability"]["ci"][0] > coarse["linkability"]["ci"][1]


@needs_anonymeter
def test_anonymeter_result_shape(leaky_and_coarse):
    leaky, _ = leaky_and_coarse
    assert leaky["anonymeter"] == "1.1.0"
    assert leaky["parameters"]["aux_cols"] == AUX
    for key in ("singling_out", "linkability"):
        detail = leaky[key]
        assert 0.0 <= detail["ci"][0] <= detail["risk"] <= detail["ci"][1] <= 1.0
        assert detail["n_attacks"] == 200
        assert detail["control_rate"] is not None
    assert isinstance(leaky["notes"], list)


@needs_anonymeter
def test_anonymeter_is_repeatable_and_takes_nulls_and_mixed_types():
    original, control = survey(150, seed=3), survey(150, seed=4)
    released = coarsen(original)
    released["age"] = released["age"].astype(str) + "+"  # a text band where the original has a number
    original.loc[:4, "gad7"] = np.nan  # NULLs in a numeric column
    quick = {"n_attacks": 50, "max_attempts": 2_000}  # a coarsened release yields few queries: cap the search
    on_its_own = privacy_tools.anonymeter_risks(original, released, control, **quick)
    batch = privacy_tools.anonymeter_risks_many(original, {"a": released, "b": released}, control, **quick)
    # Seeded: the attacks repeat exactly, in a batch as on their own (anonymeter's random-guess baseline is not
    # seedable, so its counts may differ).
    for result in (batch["a"], batch["b"]):
        for key in ("singling_out", "linkability"):
            assert (result[key]["risk"], result[key]["n_success"], result[key]["n_control"]) == (
                on_its_own[key]["risk"],
                on_its_own[key]["n_success"],
                on_its_own[key]["n_control"],
            )
    # Default aux_cols: the columns split into halves, in order.
    assert on_its_own["parameters"]["aux_cols"] == (["age", "sex", "postcode"], ["phq9", "gad7", "substance"])


def test_anonymeter_input_errors_are_errors_not_skips():
    original = survey(20, seed=5)
    with pytest.raises(privacy_tools.PrivacyToolError, match="columns"):
        privacy_tools.anonymeter_risks(original, original.drop(columns="sex"), original)
    with pytest.raises(privacy_tools.PrivacyToolError, match="aux_cols"):
        privacy_tools.anonymeter_risks(original, original, original, aux_cols=(["age"], ["nope"]))
