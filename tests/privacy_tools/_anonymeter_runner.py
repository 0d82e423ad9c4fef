"""Run inside .venv-anonymeter (never imported by the main venv): singling-out and linkability risk with anonymeter.

Usage: python -I _anonymeter_runner.py DIR
DIR holds params.json and, for the i-th name in its "releases", a folder DIR/i with original.parquet,
released.parquet and control.parquet (written by tests.privacy_tools.anonymeter_risks_many). Prints one JSON
object on stdout: {"anonymeter": version, "releases": {name: {"singling_out", "linkability", "notes"}}}.
Several releases share one process because importing anonymeter (scipy, scikit-learn, polars, numba) takes ~4 s.

anonymeter's k-nearest-neighbour kernels are numba functions compiled on every new process (about 10 s); caching is
switched on for them here, into NUMBA_CACHE_DIR (the caller points it inside .venv-anonymeter), so only the first
call after building the venv pays for it.
"""

import json
import logging
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

import anonymeter.evaluators  # noqa: F401  (import first: anonymeter.neighbors has a circular import otherwise)
import anonymeter.neighbors.mixed_types_kneighbors as _knn
import numpy as np
import pandas as pd
from anonymeter.evaluators import LinkabilityEvaluator, SinglingOutEvaluator


class _Notes(logging.Handler):
    """Collects anonymeter's WARNING-level log lines (e.g. 'could generate only N queries') for the caller."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _enable_numba_cache() -> None:
    try:
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # pragma: no cover - numba layout changed: just compile every time
        return
    for value in vars(_knn).values():
        if isinstance(value, Dispatcher):
            try:
                value.enable_caching()
            except Exception:  # pragma: no cover - caching is an optimisation only
                pass


def _summary(evaluator, confidence_level: float, n_attacks: int) -> dict:
    results = evaluator.results(confidence_level=confidence_level)
    risk = results.risk()
    return {
        "risk": float(risk.value),
        "ci": [float(risk.ci[0]), float(risk.ci[1])],
        "attack_rate": float(results.attack_rate.value),
        "baseline_rate": float(results.baseline_rate.value),
        "control_rate": None if results.control_rate is None else float(results.control_rate.value),
        "n_attacks": int(n_attacks),
        "n_success": int(results.n_success),
        "n_baseline": int(results.n_baseline),
        "n_control": None if results.n_control is None else float(results.n_control),
    }


def _evaluate(folder: Path, params: dict) -> dict:
    original = pd.read_parquet(folder / "original.parquet")
    released = pd.read_parquet(folder / "released.parquet")
    control = pd.read_parquet(folder / "control.parquet")
    confidence = params["confidence_level"]
    # LinkabilityEvaluator samples its targets with DataFrame.sample(), which draws from numpy's global state:
    # re-seeded for every release so that each result is the one a call on its own would give.
    np.random.seed(params["seed"])

    notes = _Notes()
    logging.getLogger("anonymeter").addHandler(notes)
    out: dict = {}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            n_so = min(params["n_attacks"], len(original))
            singling_out = SinglingOutEvaluator(
                ori=original,
                syn=released,
                control=control,
                n_attacks=n_so,
                n_cols=params["n_cols"],
                max_attempts=params["max_attempts"],
                seed=params["seed"],
            ).evaluate(mode=params["singling_out_mode"])
            out["singling_out"] = _summary(singling_out, confidence, n_so)

            # Linkability samples its targets from both original and control without replacement.
            n_link = min(params["n_attacks"], len(original), len(control))
            linkability = LinkabilityEvaluator(
                ori=original,
                syn=released,
                control=control,
                aux_cols=tuple(params["aux_cols"]),
                n_attacks=n_link,
                n_neighbors=params["n_neighbors"],
            ).evaluate(n_jobs=1)
            out["linkability"] = _summary(linkability, confidence, n_link)
    finally:
        logging.getLogger("anonymeter").removeHandler(notes)
    out["notes"] = notes.messages + [str(w.message) for w in caught]
    return out


def main() -> None:
    folder = Path(sys.argv[1])
    params = json.loads((folder / "params.json").read_text())
    _enable_numba_cache()
    results = {name: _evaluate(folder / str(i), params) for i, name in enumerate(params["releases"])}
    json.dump({"anonymeter": version("anonymeter"), "releases": results}, sys.stdout)


if __name__ == "__main__":
    main()
