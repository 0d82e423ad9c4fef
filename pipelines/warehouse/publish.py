"""The public tier and the analysts' copy: the only code that writes `public.*`.

Public tables hold aggregates only, and every cell of fewer than MIN_CELL participants has its figures withheld
(NULL) and `suppressed` set. Analysts query a published copy (analytics.duckdb), written to a new file and renamed
into place, so a running ingestion never holds a lock they wait on, and restricted tables are never in it.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipelines.warehouse.connect import transaction
from pipelines.warehouse.tables import ALL_TABLES, OUTCOMES_BY_PROTOCOL_DOSE, SAFETY_SIGNALS, column_names, ensure_tables

SIGNALS = ("phq9_item9", "qids_item12", "lithium", "ssri_snri", "maoi", "above_micro", "daily_dosing")

MIN_CELL = 11


def build_outcomes_by_protocol_dose(conn) -> dict[str, int]:
    """Rebuild public.outcomes_by_protocol_dose from research.responses; returns cell counts."""
    ensure_tables(conn)
    with transaction(conn):
        conn.execute("DELETE FROM public.outcomes_by_protocol_dose")
        conn.execute(
            f"""INSERT INTO public.outcomes_by_protocol_dose ({', '.join(column_names(OUTCOMES_BY_PROTOCOL_DOSE))})
            WITH cells AS (
                SELECT study, coalesce(substance, 'unknown') AS substance, coalesce(protocol, 'unknown') AS protocol,
                       coalesce(dose_band, 'unknown') AS dose_band, wave,
                       count(*) AS n,  -- one row per participant and wave: rows are participants
                       count(phq9_total) AS phq9_n, avg(phq9_total) AS phq9_mean,
                       count(gad7_total) AS gad7_n, avg(gad7_total) AS gad7_mean
                FROM research.responses
                GROUP BY ALL
            )
            SELECT study, substance, protocol, dose_band, wave,
                   CASE WHEN n < {MIN_CELL} THEN NULL ELSE n END,
                   CASE WHEN n < {MIN_CELL} OR phq9_n < {MIN_CELL} OR n - phq9_n BETWEEN 1 AND {MIN_CELL - 1}
                        THEN NULL ELSE phq9_n END,
                   CASE WHEN n < {MIN_CELL} OR phq9_n < {MIN_CELL} THEN NULL ELSE round(phq9_mean, 2) END,
                   CASE WHEN n < {MIN_CELL} OR gad7_n < {MIN_CELL} OR n - gad7_n BETWEEN 1 AND {MIN_CELL - 1}
                        THEN NULL ELSE gad7_n END,
                   CASE WHEN n < {MIN_CELL} OR gad7_n < {MIN_CELL} THEN NULL ELSE round(gad7_mean, 2) END,
                   n < {MIN_CELL}
            FROM cells
            ORDER BY ALL"""
        )
    cells, suppressed = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE suppressed) FROM public.outcomes_by_protocol_dose"
    ).fetchone()
    return {"cells": cells, "suppressed_cells": suppressed}


def build_safety_signals(conn) -> dict[str, int]:
    """Rebuild public.safety_signals: each flag counted by substance x protocol x dose band, small counts withheld.

    Cells are the same as outcomes_by_protocol_dose's (per wave, one response per participant), so no count can
    be recovered by differencing the two tables. A cell's counts are withheld when fewer than MIN_CELL
    participants were assessed, when fewer than MIN_CELL (but some) are flagged or not flagged, when everyone
    assessed is flagged (no cell where all share one outcome), or when fewer than MIN_CELL (but some) of the
    cell's participants were not assessed (the complement of a published cell size).
    """
    ensure_tables(conn)
    unpivot = " UNION ALL ".join(
        f"SELECT study, substance, protocol, dose_band, wave, '{name}' AS signal, flag_{name} AS flag "
        "FROM research.responses"
        for name in SIGNALS
    )
    with transaction(conn):
        conn.execute("DELETE FROM public.safety_signals")
        conn.execute(
            f"""INSERT INTO public.safety_signals ({', '.join(column_names(SAFETY_SIGNALS))})
            WITH flags AS ({unpivot}),
            cells AS (
                SELECT study, coalesce(substance, 'unknown') AS substance, coalesce(protocol, 'unknown') AS protocol,
                       coalesce(dose_band, 'unknown') AS dose_band, wave, signal,
                       -- one row per participant and wave (research.responses' key), so rows are participants
                       count(*) AS cell_n, count(flag) AS assessed, count(*) FILTER (WHERE flag) AS flagged
                FROM flags GROUP BY ALL
            ),
            judged AS (
                SELECT *, assessed < {MIN_CELL}
                          OR (flagged > 0 AND flagged < {MIN_CELL})
                          OR (assessed - flagged > 0 AND assessed - flagged < {MIN_CELL})
                          OR (flagged > 0 AND flagged = assessed)
                          OR (cell_n - assessed > 0 AND cell_n - assessed < {MIN_CELL}) AS hide
                FROM cells
            )
            SELECT study, substance, protocol, dose_band, wave, signal,
                   CASE WHEN hide THEN NULL ELSE assessed END, CASE WHEN hide THEN NULL ELSE flagged END, hide
            FROM judged ORDER BY ALL"""
        )
    cells, suppressed = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE suppressed) FROM public.safety_signals").fetchone()
    return {"cells": cells, "suppressed_cells": suppressed}


def smallest_unsuppressed_cell(conn) -> int | None:
    """For the blocking check: the smallest participant count that is published (must be >= MIN_CELL)."""
    return conn.execute(
        "SELECT min(n_participants) FROM public.outcomes_by_protocol_dose WHERE NOT suppressed"
    ).fetchone()[0]


def publish_copy(conn, target: Path) -> list[str]:
    """Write the published tables to a new DuckDB file and rename it over `target`; returns the tables copied."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)
    published = [t for t in ALL_TABLES if t.published]
    quoted = str(tmp).replace("'", "''")  # ATTACH takes no parameters: quote the path as a literal
    conn.execute(f"ATTACH '{quoted}' AS pub")
    try:
        ensure_tables(conn, catalog="pub", tables=published)
        for table in published:
            cols = ", ".join(column_names(table))
            conn.execute(f"INSERT INTO pub.{table.qualified} ({cols}) SELECT {cols} FROM {table.qualified}")
    finally:
        conn.execute("DETACH pub")
    os.replace(tmp, target)
    return [t.qualified for t in published]
