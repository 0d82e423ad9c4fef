"""Cell-key perturbation of the public tables (the ONS method, carried to means), as DuckDB macros.

Each participant has a secret record key (60 bits of an HMAC-keyed SHA-256 of their pseudonym); a cell's key is
the sum of its participants' record keys. Every published figure of a cell takes its noise from the cell key
alone (counts: keyed by the count's value too, as in the ONS p-table lookup), so:
- the same participants always give the same published figures (no averaging over reruns);
- one participant more or less re-draws every figure of every cell they are in, whatever their answers, so the
  difference of two releases is noise, and *which* figures changed says nothing about their outcomes or flags;
- equal counts of one cell get equal noise, so publishing the same count twice (n and phq9_n) adds nothing.
"""

from __future__ import annotations

import hmac
import math

from schemas.study_config import DisclosureSettings

KEY_BITS = 60
UNIFORM_BITS = 52


def record_key_salt(key: bytes) -> str:
    """Hex salt that turns a pseudonym into its record key; derived from the secret, never stored."""
    return hmac.digest(key, b"cell-key-record-key", "sha256").hex()


def count_noise_thresholds(settings: DisclosureSettings) -> list[tuple[float, int]]:
    """Inverse CDF of the count noise: a discretised normal on [-max, +max] as (upper quantile, noise)."""
    top = settings.count_noise_max
    values = list(range(-top, top + 1))
    weights = [math.exp(-(v * v) / (2 * settings.count_noise_sd**2)) for v in values]
    total = sum(weights)
    out, cumulative = [], 0.0
    for value, weight in zip(values, weights):
        cumulative += weight / total
        out.append((cumulative, value))
    return out


def count_noise_sd(settings: DisclosureSettings) -> float:
    """Standard deviation of the count noise actually applied (for the README and the check's metadata)."""
    pairs = count_noise_thresholds(settings)
    probs = [q - p for (q, _), (p, _) in zip(pairs, [(0.0, 0)] + pairs[:-1])]
    return math.sqrt(sum(pr * v * v for pr, (_, v) in zip(probs, pairs)))


def install_macros(conn, settings: DisclosureSettings) -> None:
    """dc_record_key(salt, pseudonym), dc_uniform(cell_key, label), dc_count(value, cell_key) and
    dc_laplace(u, scale): the whole mechanism, so that every table applies exactly the same one."""
    # the noise is -max plus how many of the inverse CDF's steps u has passed: u appears once, so a figure that
    # uses several noisy counts stays a small expression (a CASE repeating u made plans take a second)
    steps = ", ".join(repr(q) for q, _ in count_noise_thresholds(settings)[:-1])
    top = settings.count_noise_max
    conn.execute(f"""CREATE OR REPLACE TEMP MACRO dc_record_key(salt, pid) AS
                     CAST('0x' || left(sha256(salt || pid), {KEY_BITS // 4}) AS BIGINT)""")
    conn.execute(f"""CREATE OR REPLACE TEMP MACRO dc_uniform(cell_key, label) AS
                     (CAST(CAST('0x' || left(sha256(CAST(cell_key AS VARCHAR) || ':' || label), {UNIFORM_BITS // 4})
                           AS BIGINT) AS DOUBLE) + 0.5) / {float(2**UNIFORM_BITS)!r}""")
    conn.execute(
        f"CREATE OR REPLACE TEMP MACRO dc_count_noise(u) AS len(list_filter([{steps}], lambda q: q <= u)) - {top}"
    )
    # a count below min_cell is never published; above it, value + noise, never shown below min_cell
    conn.execute(f"""CREATE OR REPLACE TEMP MACRO dc_count(value, cell_key) AS
                     CASE WHEN value < {settings.min_cell} THEN NULL
                          ELSE greatest(value + dc_count_noise(dc_uniform(cell_key, 'count:' || value)),
                                        {settings.min_cell}) END""")
    # a sensitive count (flagged / not flagged) is published only above a noisy threshold, so a cell crossing
    # min_cell when one person joins it does not say that this person is flagged
    conn.execute(f"""CREATE OR REPLACE TEMP MACRO dc_sensitive_ok(value, cell_key, label) AS
                     value >= {settings.min_cell}
                     AND value + dc_count_noise(dc_uniform(cell_key, 'threshold:' || label || ':' || value))
                         >= {settings.min_cell + top}""")
    conn.execute("""CREATE OR REPLACE TEMP MACRO dc_laplace(u, scale) AS
                    -scale * sign(u - 0.5) * ln(1 - 2 * abs(u - 0.5))""")


def cell_key_sql(record_key_column: str = "record_key") -> str:
    """The aggregate that makes a cell's key from its participants' record keys."""
    return f"CAST(sum({record_key_column}) % (CAST(1 AS HUGEINT) << {KEY_BITS}) AS BIGINT)"
