"""Outcome statistics by substance, protocol, dose band and wave, computed in DuckDB.

inputs.py builds the per-participant inputs (scores, baseline/follow-up pairs, attrition, doses), cells.py the fixed
grid of cells and its margins, exact.py the exact statistics with primary and complementary suppression. The
disclosure package decides where they go: exact versions to the research tier, perturbed ones to the public tier.
"""
