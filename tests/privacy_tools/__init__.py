"""Independent privacy checks for the tests, run in their own pinned venvs by subprocess.

Two libraries cross-check our own privacy code; neither can live in .venv (their pins clash with pandas 3 / pyarrow
26), so `make test` (or `make privacy-tools`) builds one venv each from the requirements files beside this module:

- pycanon 1.3.6 in .venv-pycanon: k-anonymity, `pycanon_k(frame, quasi_identifiers) -> int`.
- anonymeter 1.1.0 in .venv-anonymeter: singling-out and linkability risk,
  `anonymeter_risks(original, released, control, ...) -> dict`, or for several releases in one process
  `anonymeter_risks_many(original, {name: released}, control, ...) -> {name: dict}`.

A test skips only when a venv is absent::

    from tests import privacy_tools

    @pytest.mark.skipif(not privacy_tools.pycanon_available(), reason=privacy_tools.PYCANON_MISSING)
    def test_research_tier_is_5_anonymous(...):
        assert privacy_tools.pycanon_k(frame, ["age_band", "sex", "country"]) >= 5

or call `privacy_tools.require_pycanon()` / `require_anonymeter()` at the top of a test (they call pytest.skip).
Anything else that goes wrong (pycanon fails, bad column names, odd output) raises PrivacyToolError, never a skip.

Data leaves this process only through a private temporary folder (mode 0700, removed afterwards) and only the
columns the check needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]

PYCANON_VENV = REPO_ROOT / ".venv-pycanon"
ANONYMETER_VENV = REPO_ROOT / ".venv-anonymeter"

#: Written for NULL cells in the CSV handed to pycanon. NULLs then form one equivalence class together (as SQL's
#: GROUP BY treats them) instead of being dropped by pandas' groupby. A real value equal to it is refused.
NULL_MARKER = "*"

PYCANON_MISSING = (
    "pycanon venv not built: run `make test` or `make privacy-tools` to build .venv-pycanon "
    "(tests/privacy_tools/requirements-pycanon.txt)"
)
ANONYMETER_MISSING = (
    "anonymeter venv not built: run `make test` or `make privacy-tools` to build .venv-anonymeter "
    "(tests/privacy_tools/requirements-anonymeter.txt)"
)

TIMEOUT_SECONDS = 600


class PrivacyToolError(RuntimeError):
    """An independent privacy tool is missing or failed."""


# --------------------------------------------------------------------------------------------------- availability


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _built(venv: Path) -> bool:
    # The Makefile writes .installed last, so a venv whose install was interrupted counts as absent.
    return _python(venv).exists() and (venv / ".installed").exists()


def pycanon_available() -> bool:
    """True when .venv-pycanon has been built completely (by `make test` / `make privacy-tools`)."""
    return _built(PYCANON_VENV)


def anonymeter_available() -> bool:
    """True when .venv-anonymeter has been built completely (by `make test` / `make privacy-tools`)."""
    return _built(ANONYMETER_VENV)


def available() -> dict[str, bool]:
    """Which tools can run: {"pycanon": bool, "anonymeter": bool}."""
    return {"pycanon": pycanon_available(), "anonymeter": anonymeter_available()}


def require_pycanon() -> None:
    """pytest.skip with the build instruction when .venv-pycanon is absent; otherwise nothing."""
    if not pycanon_available():
        import pytest

        pytest.skip(PYCANON_MISSING)


def require_anonymeter() -> None:
    """pytest.skip with the build instruction when .venv-anonymeter is absent; otherwise nothing."""
    if not anonymeter_available():
        import pytest

        pytest.skip(ANONYMETER_MISSING)


# --------------------------------------------------------------------------------------------------- subprocess


def _run(venv: Path, missing: str, args: list[str], env_extra: dict[str, str] | None = None) -> dict:
    if not _built(venv):
        raise PrivacyToolError(missing)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(env_extra or {})
    # -I: isolated, so the repository, PYTHONPATH and user site-packages never leak into the tool's interpreter.
    command = [str(_python(venv)), "-I", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired as error:
        raise PrivacyToolError(f"{Path(args[0]).name} did not finish within {TIMEOUT_SECONDS} s") from error
    if done.returncode != 0:
        raise PrivacyToolError(f"{Path(args[0]).name} failed with exit code {done.returncode}:\n{done.stderr[-3000:]}")
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as error:
        raise PrivacyToolError(
            f"{Path(args[0]).name} printed no JSON result; stdout: {done.stdout[-500:]!r}; "
            f"stderr: {done.stderr[-2000:]}"
        ) from error


def _check_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise PrivacyToolError(f"{what}: columns not in the frame: {missing}; it has {list(frame.columns)}")


# --------------------------------------------------------------------------------------------------- pycanon


def pycanon_result(frame: pd.DataFrame, quasi_identifiers: Sequence[str]) -> dict:
    """pycanon's view of `frame`: {"k", "n_rows", "n_classes", "pycanon"} (see pycanon_k)."""
    quasi_identifiers = list(quasi_identifiers)
    if not quasi_identifiers:
        raise PrivacyToolError("pycanon_k needs at least one quasi-identifier")
    if len(set(quasi_identifiers)) != len(quasi_identifiers):
        raise PrivacyToolError(f"pycanon_k: repeated quasi-identifier in {quasi_identifiers}")
    _check_columns(frame, quasi_identifiers, "pycanon_k")
    if len(frame) == 0:
        raise PrivacyToolError("pycanon_k: the frame has no rows, so k is undefined")
    subset = frame[quasi_identifiers]
    clashes = [column for column in quasi_identifiers if subset[column].astype("string").eq(NULL_MARKER).any()]
    if clashes:
        raise PrivacyToolError(
            f"pycanon_k: column(s) {clashes} hold the literal NULL marker {NULL_MARKER!r}, which would merge "
            "with NULL; set tests.privacy_tools.NULL_MARKER to something else"
        )
    with tempfile.TemporaryDirectory(prefix="pycanon-") as folder:  # mode 0700, removed on exit
        path = Path(folder) / "quasi_identifiers.csv"
        subset.to_csv(path, index=False, na_rep=NULL_MARKER)
        result = _run(
            PYCANON_VENV,
            PYCANON_MISSING,
            [str(HERE / "_pycanon_runner.py"), str(path), json.dumps(quasi_identifiers)],
        )
    if result.get("n_rows") != len(frame):
        raise PrivacyToolError(f"pycanon read {result.get('n_rows')} rows back, the frame has {len(frame)}")
    return result


def pycanon_k(frame: pd.DataFrame, quasi_identifiers: Sequence[str]) -> int:
    """k of k-anonymity of `frame` over `quasi_identifiers`, computed by pycanon in .venv-pycanon.

    k is the size of the smallest equivalence class (rows sharing all quasi-identifier values). Only the
    quasi-identifier columns are written, to a temporary CSV, with NULL as NULL_MARKER ('*'): all NULLs of a column
    count as one value, as SQL's GROUP BY counts them. Every value is compared as its CSV text, so 1 and 1.0 in
    differently typed columns never meet, but within one column values compare as pandas writes them.
    Raises PrivacyToolError when the venv is missing (run `make test` / `make privacy-tools`) or pycanon fails.
    """
    return int(pycanon_result(frame, quasi_identifiers)["k"])


# --------------------------------------------------------------------------------------------------- anonymeter


def _as_text(series: pd.Series) -> pd.Series:
    """Text with NULL as NULL_MARKER; integral numbers without '.0', so 5 (int64) and 5.0 (float64, NULL-holding) meet."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        numbers = pd.to_numeric(series).astype("Float64")
        present = numbers.dropna()
        if (present == present.round()).all():
            numbers = numbers.astype("Int64")
        text = numbers.astype("string")
    else:
        text = series.astype("string")
    return text.fillna(NULL_MARKER).astype(object)


def _harmonise(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Give the three frames column types anonymeter accepts together.

    anonymeter refuses frames whose columns differ in kind (numeric or not) and its neighbour search cannot handle
    NULLs, so a column that is numeric in some frames but not all (e.g. age in the original, an age band in the
    release) or that holds a NULL anywhere becomes text in all three, with NULL as NULL_MARKER: a categorical
    column for anonymeter. Other columns keep their types.
    """
    out = {name: frame.reset_index(drop=True).copy() for name, frame in frames.items()}
    for column in out["original"].columns:
        numeric = [
            pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column])
            for frame in out.values()
        ]
        has_null = any(frame[column].isna().any() for frame in out.values())
        if has_null or len(set(numeric)) > 1:
            for frame in out.values():
                frame[column] = _as_text(frame[column])
        elif any(isinstance(frame[column].dtype, pd.CategoricalDtype) for frame in out.values()):
            for frame in out.values():
                frame[column] = frame[column].astype(object)
    return out


def anonymeter_risks(
    original: pd.DataFrame,
    released: pd.DataFrame,
    control: pd.DataFrame,
    *,
    aux_cols: tuple[Sequence[str], Sequence[str]] | None = None,
    n_attacks: int = 200,
    n_cols: int = 3,
    singling_out_mode: str = "multivariate",
    max_attempts: int = 20_000,
    n_neighbors: int = 1,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> dict:
    """Singling-out and linkability risk of releasing `released`, measured by anonymeter in .venv-anonymeter.

    original: the records the release was made from (the attacked individuals).
    released: what is published, same columns as original (coarsened, suppressed, or synthetic).
    control: records of the same population NOT used for the release (e.g. a held-out half of the input); the
        reported risk is the attack's success on `original` in excess of its success on `control`, so it measures
        what the release itself gives away beyond population-level knowledge.
    aux_cols: the two column groups the linkability attacker holds in two separate datasets; it links them through
        the release's nearest neighbours. Default: the columns split into halves in their order.
    n_attacks: records attacked per evaluator (capped at the frames' sizes). 200 gives a 95% interval of about
        +/-0.07 on a rate near 0.5 and keeps a call at a few seconds.
    n_cols: columns combined in each multivariate singling-out query (anonymeter's default, 3).
    singling_out_mode: "multivariate" (queries on n_cols columns) or "univariate" (rare single values).
    max_attempts: cap on singling-out query generation attempts. anonymeter's default (10 million) makes a
        well-coarsened release, where hardly any query singles anyone out, run for minutes; 20,000 (20 batches) ends
        in about a second, and a release that cannot yield queries then simply scores a low risk (see "notes").
    n_neighbors: linkability counts a link when both halves share one of this many nearest released records (1,
        the strictest attacker success criterion and anonymeter's default).
    confidence_level: of the "ci" intervals.
    seed: seeds the singling-out query generator and the linkability target sampling, so results repeat.

    Returns {"singling_out_risk": float, "linkability_risk": float, "singling_out": {...}, "linkability": {...},
    "notes": [...], "parameters": {...}, "anonymeter": version}. Each detail dict has "risk", "ci" (lower, upper at
    confidence_level), "attack_rate", "baseline_rate" (random-guess attacker), "control_rate", "n_attacks",
    "n_success", "n_baseline", "n_control". Risks are in [0, 1]. "notes" holds anonymeter's warnings, e.g. that the
    attack did no better than the baseline (expected for a safe release) or that fewer queries could be generated.

    Each call starts one interpreter (~4 s of imports, plus ~10 s of numba compilation the first time after the venv
    is built); to compare several releases of one original, anonymeter_risks_many runs them in one process.
    Column types: see _harmonise (mixed numeric/text or NULL-holding columns become categorical text).
    Raises PrivacyToolError when the venv is missing (run `make test` / `make privacy-tools`) or anonymeter fails.
    """
    return anonymeter_risks_many(
        original,
        {"released": released},
        control,
        aux_cols=aux_cols,
        n_attacks=n_attacks,
        n_cols=n_cols,
        singling_out_mode=singling_out_mode,
        max_attempts=max_attempts,
        n_neighbors=n_neighbors,
        confidence_level=confidence_level,
        seed=seed,
    )["released"]


def anonymeter_risks_many(
    original: pd.DataFrame,
    releases: Mapping[str, pd.DataFrame],
    control: pd.DataFrame,
    *,
    aux_cols: tuple[Sequence[str], Sequence[str]] | None = None,
    n_attacks: int = 200,
    n_cols: int = 3,
    singling_out_mode: str = "multivariate",
    max_attempts: int = 20_000,
    n_neighbors: int = 1,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> dict[str, dict]:
    """anonymeter_risks for several releases of one original in one anonymeter process: {name: result}.

    Each release is evaluated exactly as anonymeter_risks would on its own (its own type harmonisation, the same
    seeds), so results[name] equals anonymeter_risks(original, releases[name], control, ...).
    """
    columns = list(original.columns)
    if not releases:
        raise PrivacyToolError("anonymeter_risks_many needs at least one release")
    for name, frame in [*releases.items(), ("control", control)]:
        if sorted(frame.columns) != sorted(columns):
            raise PrivacyToolError(f"anonymeter_risks: {name} has columns {list(frame.columns)}, original {columns}")
        if len(frame) == 0:
            raise PrivacyToolError(f"anonymeter_risks: {name} has no rows")
    if len(columns) < 2:
        raise PrivacyToolError("anonymeter_risks needs at least two columns (linkability splits them in two)")
    if len(original) == 0:
        raise PrivacyToolError("anonymeter_risks: original has no rows")
    if aux_cols is None:
        half = len(columns) // 2
        aux_cols = (columns[:half], columns[half:])
    aux_cols = (list(aux_cols[0]), list(aux_cols[1]))
    if not aux_cols[0] or not aux_cols[1]:
        raise PrivacyToolError(f"anonymeter_risks: both aux_cols groups need a column, got {aux_cols}")
    _check_columns(original, aux_cols[0] + aux_cols[1], "anonymeter_risks aux_cols")
    if singling_out_mode not in ("multivariate", "univariate"):
        raise PrivacyToolError(f"singling_out_mode must be 'multivariate' or 'univariate', not {singling_out_mode!r}")
    if n_cols > len(columns):
        raise PrivacyToolError(f"anonymeter_risks: n_cols={n_cols} exceeds the {len(columns)} columns")

    names = [str(name) for name in releases]
    if len(set(names)) != len(names):
        raise PrivacyToolError(f"anonymeter_risks_many: release names must be distinct, got {names}")
    params = {
        "aux_cols": aux_cols,
        "n_attacks": int(n_attacks),
        "n_cols": int(n_cols),
        "singling_out_mode": singling_out_mode,
        "max_attempts": int(max_attempts),
        "n_neighbors": int(n_neighbors),
        "confidence_level": float(confidence_level),
        "seed": int(seed),
        "releases": names,
    }
    with tempfile.TemporaryDirectory(prefix="anonymeter-") as folder:  # mode 0700, removed on exit
        for i, released in enumerate(releases.values()):
            frames = _harmonise({"original": original, "released": released[columns], "control": control[columns]})
            (Path(folder) / str(i)).mkdir()
            for part, frame in frames.items():
                frame.to_parquet(Path(folder) / str(i) / f"{part}.parquet", index=False)
        (Path(folder) / "params.json").write_text(json.dumps(params))
        output = _run(
            ANONYMETER_VENV,
            ANONYMETER_MISSING,
            [str(HERE / "_anonymeter_runner.py"), folder],
            env_extra={"NUMBA_CACHE_DIR": str(ANONYMETER_VENV / "numba-cache")},
        )
    public_params = {key: value for key, value in params.items() if key != "releases"}
    results = {}
    for key, name in zip(releases, names):
        result = output["releases"][name]
        result["singling_out_risk"] = result["singling_out"]["risk"]
        result["linkability_risk"] = result["linkability"]["risk"]
        result["parameters"] = dict(public_params)
        result["anonymeter"] = output["anonymeter"]
        results[key] = result
    return results
