"""Run inside .venv-pycanon (never imported by the main venv): k-anonymity of a CSV with pycanon.

Usage: python -I _pycanon_runner.py DATA.csv QI_JSON
Every cell is read back as a string (no NA parsing), so the NULL marker written by the caller is an ordinary value
and NULLs form one equivalence class together, as in SQL's GROUP BY. pandas' groupby would otherwise drop them.
Prints one JSON object on stdout: {"k": int, "n_rows": int, "n_classes": int, "pycanon": version}.
"""

import json
import sys

import pandas as pd
import pycanon
from pycanon import anonymity
from pycanon.anonymity.utils import aux_anonymity


def main() -> None:
    path, qi_json = sys.argv[1], sys.argv[2]
    quasi_identifiers = json.loads(qi_json)
    data = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    k = anonymity.k_anonymity(data, quasi_identifiers)
    n_classes = len(aux_anonymity.get_equiv_class(data, quasi_identifiers))
    json.dump(
        {
            "k": int(k),
            "n_rows": int(len(data)),
            "n_classes": n_classes,
            "pycanon": getattr(pycanon, "__version__", "unknown"),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
