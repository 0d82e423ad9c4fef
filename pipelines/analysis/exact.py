"""Exact outcome statistics (the research tier's summary.* tables), computed in DuckDB from the an_* inputs.

Protection, since these are exact: a cell resting on fewer than `min_cell` participants is withheld, and so is a cell
where everyone has the same value (it would state each of them); then complementary suppression withholds one more
cell wherever a withheld one could be worked out as a margin minus its published parts. Attrition and change rows
are withheld when either group (followed up, lost) is below the minimum, so that the lost group's baseline cannot be
worked out from the outcomes table; a follow-up outcome cell is withheld when 1-10 of its respondents are not among
the cell's pairs, or pairs not among its respondents (their total would follow from the change and attrition rows).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipelines.analysis.cells import (
    ALL,
    BAND_VALUES,
    PROTOCOL_VALUES,
    STATUS_VALUES,
    SUBSTANCE_VALUES,
    grid_sql,
    grouping_name,
    grouping_sets,
    margin,
    outcome_grid,
    quote,
)
from pipelines.warehouse.tables import (
    SUMMARY_ATTRITION,
    SUMMARY_CHANGE,
    SUMMARY_DOSE_CATEGORIES,
    SUMMARY_DOSES,
    SUMMARY_OUTCOMES,
    column_names,
)

QUANTILES = (10, 25, 50, 75, 90)
RATES = ("response", "remission", "improved")


def install_t_table(conn, max_n: int) -> None:
    """an_t(df, t): the 0.975 quantile of Student's t for df 1..max_n - 1, from scipy (DuckDB has no t quantile)."""
    from scipy import stats  # here, not at import: scipy.stats costs seconds that every CLI command would pay

    conn.execute("CREATE OR REPLACE TEMP TABLE an_t (df BIGINT, t DOUBLE)")
    df = np.arange(1, max(int(max_n), 2), dtype=np.int64)
    arrow = pa.table({"df": df, "t": stats.t.ppf(0.975, df)})  # vectorised: max_n can be a million
    conn.register("an_t_arrow", arrow)
    conn.execute("INSERT INTO an_t SELECT * FROM an_t_arrow")
    conn.unregister("an_t_arrow")
    z = float(stats.norm.ppf(0.975))
    # Wilson score interval of x successes in n; side -1 gives the lower end, +1 the upper
    conn.execute(f"""CREATE OR REPLACE TEMP MACRO an_wilson(x, n, side) AS
                     CASE WHEN n > 0 THEN ((x / n + {z**2!r} / (2 * n))
                          + side * {z!r} * sqrt((x / n) * (1 - x / n) / n + {z**2!r} / (4 * n * n)))
                          / (1 + {z**2!r} / n) END""")


def t_ci(mean: str, sd: str, n: str, sign: str) -> str:
    """mean -/+ t(0.975, n-1) * sd / sqrt(n), with t looked up in an_t."""
    return f"({mean} {sign} (SELECT t FROM an_t WHERE df = {n} - 1) * {sd} / sqrt({n}))"


def complementary_suppression(conn, table: str, keys: list[str], dims: list[str], count: str, min_cell: int) -> int:
    """Withhold more cells until no withheld cell (or withheld group of cells) with fewer than min_cell
    participants can be worked out as a published margin minus its published parts. Returns cells added.

    `dims` are the hierarchical columns whose `all` value is the margin of the others; `keys` the rest of the key.
    Deterministic: the smallest published part, then the first by name, is the one withheld; never the first by
    row order, which a parallel join shuffles (two builds of the same data withholding different cells would,
    side by side, publish both)."""
    added = 0
    while True:
        changed = 0
        for d in dims:
            same = " AND ".join(f"c.{k} = p.{k}" for k in keys + [x for x in dims if x != d])
            found = conn.execute(
                f"""WITH rem AS (
                        SELECT p.rowid AS prow, p.{count} - coalesce(sum(c.{count}) FILTER (WHERE NOT c.suppressed), 0)
                               AS remainder
                        FROM {table} p JOIN {table} c ON {same} AND c.{d} <> '{ALL}'
                        WHERE p.{d} = '{ALL}' AND NOT p.suppressed
                        GROUP BY p.rowid, p.{count}
                        HAVING remainder > 0 AND remainder < {min_cell}),
                    pick AS (
                        SELECT rem.prow, arg_min(c.rowid, {{'n': c.{count}, 'name': c.{d}}}) AS crow
                        FROM rem JOIN {table} p ON p.rowid = rem.prow
                        JOIN {table} c ON {same} AND c.{d} <> '{ALL}' AND NOT c.suppressed AND c.{count} > 0
                        GROUP BY rem.prow)
                    SELECT DISTINCT coalesce(pick.crow, rem.prow) FROM rem LEFT JOIN pick USING (prow)"""
            ).fetchall()
            if found:
                conn.execute(
                    f"UPDATE {table} SET suppressed = true WHERE rowid IN ({', '.join(str(r[0]) for r in found)})"
                )
                changed += len(found)
        added += changed
        if not changed:
            return added


def _insert(conn, target: str, columns: list[str], source: str) -> None:
    """Copy a suppression-marked temp table into its target, withheld figures as NULL."""
    select = []
    for c in columns:
        keep = c in (
            "study",
            "grouping",
            "substance",
            "protocol",
            "dose_band",
            "wave",
            "measure",
            "unit",
            "kind",
            "category",
            "suppressed",
        )
        select.append(c if keep else f"CASE WHEN suppressed THEN NULL ELSE {c} END")
    conn.execute(f"INSERT INTO {target} ({', '.join(columns)}) SELECT {', '.join(select)} FROM {source} ORDER BY ALL")


def build_exact(
    conn, study: str, waves: list[str], measures: list[str], followups: list[str], min_cell: int, catalog: str = ""
) -> None:
    """Fill the summary.* tables (in `catalog`, e.g. the research tier's) for one study from the an_* inputs."""
    prefix = f"{catalog}." if catalog else ""
    max_n = conn.execute("SELECT count(*) FROM an_doses").fetchone()[0]
    install_t_table(conn, max_n)
    if measures:  # a study without instruments has doses but no scores
        _unpaired(conn)
        _outcomes(conn, study, waves, measures, min_cell)
        _insert(conn, f"{prefix}{SUMMARY_OUTCOMES.qualified}", column_names(SUMMARY_OUTCOMES), "an_x_outcomes")
    if measures and followups:  # change and attrition need a follow-up wave
        _change(conn, study, followups, measures, min_cell)
        _insert(conn, f"{prefix}{SUMMARY_CHANGE.qualified}", column_names(SUMMARY_CHANGE), "an_x_change")
        _insert(conn, f"{prefix}{SUMMARY_ATTRITION.qualified}", column_names(SUMMARY_ATTRITION), "an_x_attrition")
    _doses(conn, study, waves, min_cell)
    _insert(conn, f"{prefix}{SUMMARY_DOSES.qualified}", column_names(SUMMARY_DOSES), "an_x_doses")
    _insert(
        conn,
        f"{prefix}{SUMMARY_DOSE_CATEGORIES.qualified}",
        column_names(SUMMARY_DOSE_CATEGORIES),
        "an_x_dose_categories",
    )
    for table in (
        "an_x_unpaired",
        "an_x_outcomes",
        "an_x_change",
        "an_x_attrition",
        "an_x_doses",
        "an_x_dose_categories",
        "an_t",
    ):
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def _unpaired(conn) -> None:
    """an_x_unpaired: per follow-up cell, the respondents scored there (summary.outcomes, by follow-up answers) who
    are not among the cell's pairs (summary.change_from_baseline, by baseline answers), and the pairs not scored
    there. The follow-up n x mean minus the pairs' sums (mean change and the followed-up baseline mean) is their
    total, so a follow-up outcome cell is withheld when they are 1-10."""
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE an_x_unpaired AS
            WITH rows AS (
                SELECT participant_id, substance, protocol, dose_band, wave, measure, 1 AS in_outcomes, 0 AS in_pairs
                FROM an_scores WHERE wave IN (SELECT wave FROM an_followup_waves)
                UNION ALL
                SELECT participant_id, substance, protocol, dose_band, wave, measure, 0, 1 FROM an_pairs),
            member AS (
                SELECT substance, {margin("protocol")}, {margin("dose_band")}, wave, measure,
                       max(in_outcomes) <> max(in_pairs) AS differs
                FROM rows GROUP BY {grouping_sets("wave", "measure", "participant_id")})
            SELECT substance, protocol, dose_band, wave, measure, count(*) FILTER (WHERE differs) AS n_unpaired
            FROM member GROUP BY ALL"""
    )


def _outcomes(conn, study, waves, measures, min_cell) -> None:
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE an_x_outcomes AS
            WITH agg AS (
                SELECT substance, {margin("protocol")}, {margin("dose_band")}, wave, measure,
                       count(*) AS n, avg(score) AS mean, stddev_samp(score) AS sd,
                       quantile_cont(score, 0.5) AS median, quantile_cont(score, 0.25) AS q1,
                       quantile_cont(score, 0.75) AS q3
                FROM an_scores GROUP BY {grouping_sets("wave", "measure")})
            SELECT {quote(study)} AS study, {grouping_name("g.protocol", "g.dose_band")} AS grouping, g.*,
                   coalesce(agg.n, 0) AS n, mean, sd, median, q1, q3,
                   {t_ci("mean", "sd", "agg.n", "-")} AS ci_low, {t_ci("mean", "sd", "agg.n", "+")} AS ci_high,
                   coalesce(agg.n BETWEEN 1 AND {min_cell - 1} OR sd = 0
                            OR u.n_unpaired BETWEEN 1 AND {min_cell - 1}, false) AS suppressed
            FROM ({outcome_grid(waves, measures)}) g LEFT JOIN agg USING (substance, protocol, dose_band, wave, measure)
            LEFT JOIN an_x_unpaired u USING (substance, protocol, dose_band, wave, measure)"""
    )
    complementary_suppression(
        conn, "an_x_outcomes", ["substance", "wave", "measure"], ["protocol", "dose_band"], "n", min_cell
    )


def _change(conn, study, followups, measures, min_cell) -> None:
    rate_aggs = ", ".join(f"count({r}) AS {r}_assessed, count(*) FILTER (WHERE {r}) AS n_{r}" for r in RATES)
    rate_cols = ", ".join(
        f"""CASE WHEN {r}_assessed > 0 THEN n_{r} END AS n_{r},
            CASE WHEN {r}_assessed > 0 THEN n_{r} / n_pairs END AS {r}_rate,
            CASE WHEN {r}_assessed > 0 THEN an_wilson(n_{r}, n_pairs, -1) END AS {r}_ci_low,
            CASE WHEN {r}_assessed > 0 THEN an_wilson(n_{r}, n_pairs, 1) END AS {r}_ci_high"""
        for r in RATES
    )
    grid = outcome_grid(followups, measures)
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE an_x_attrition AS
            WITH agg AS (
                SELECT substance, {margin("protocol")}, {margin("dose_band")}, wave, measure,
                       count(*) AS n_baseline, count(*) FILTER (WHERE followed_up) AS n_followed_up,
                       count(*) FILTER (WHERE NOT followed_up) AS n_lost,
                       avg(baseline) FILTER (WHERE followed_up) AS baseline_mean_followed_up,
                       avg(baseline) FILTER (WHERE NOT followed_up) AS baseline_mean_lost
                FROM an_attrition GROUP BY {grouping_sets("wave", "measure")})
            SELECT {quote(study)} AS study, {grouping_name("g.protocol", "g.dose_band")} AS grouping, g.*,
                   coalesce(n_baseline, 0) AS n_baseline, coalesce(n_followed_up, 0) AS n_followed_up,
                   coalesce(n_lost, 0) AS n_lost, baseline_mean_followed_up, baseline_mean_lost,
                   coalesce(n_baseline BETWEEN 1 AND {min_cell - 1} OR n_followed_up BETWEEN 1 AND {min_cell - 1}
                            OR n_lost BETWEEN 1 AND {min_cell - 1}, false) AS suppressed
            FROM ({grid}) g LEFT JOIN agg USING (substance, protocol, dose_band, wave, measure)"""
    )
    keys, dims = ["substance", "wave", "measure"], ["protocol", "dose_band"]
    while complementary_suppression(conn, "an_x_attrition", keys, dims, "n_lost", min_cell) + complementary_suppression(
        conn, "an_x_attrition", keys, dims, "n_followed_up", min_cell
    ):
        pass
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE an_x_change AS
            WITH agg AS (
                SELECT substance, {margin("protocol")}, {margin("dose_band")}, wave, measure,
                       count(*) AS n_pairs, avg(change) AS mean_change, stddev_samp(change) AS sd_change,
                       stddev_samp(baseline) AS sd_baseline,
                       count(*) FILTER (WHERE changed_protocol) AS n_changed_protocol, {rate_aggs}
                FROM an_pairs GROUP BY {grouping_sets("wave", "measure")})
            SELECT {quote(study)} AS study, {grouping_name("g.protocol", "g.dose_band")} AS grouping, g.*,
                   coalesce(agg.n_pairs, 0) AS n_pairs, mean_change, sd_change,
                   {t_ci("mean_change", "sd_change", "agg.n_pairs", "-")} AS ci_low,
                   {t_ci("mean_change", "sd_change", "agg.n_pairs", "+")} AS ci_high,
                   mean_change / nullif(sd_change, 0) AS cohens_dz,
                   mean_change / nullif(sd_baseline, 0) AS change_in_baseline_sd,
                   n_changed_protocol, {rate_cols},
                   coalesce(agg.n_pairs BETWEEN 1 AND {min_cell - 1} OR sd_change = 0, false)
                   OR a.suppressed AS suppressed
            FROM ({grid}) g LEFT JOIN agg USING (substance, protocol, dose_band, wave, measure)
            JOIN an_x_attrition a USING (substance, protocol, dose_band, wave, measure)"""
    )
    complementary_suppression(conn, "an_x_change", keys, dims, "n_pairs", min_cell)
    # a rate of 0 % or 100 % states every participant's outcome: withheld, the rest of the row stays
    for r in RATES:
        conn.execute(f"""UPDATE an_x_change SET n_{r} = NULL, {r}_rate = NULL, {r}_ci_low = NULL, {r}_ci_high = NULL
                         WHERE n_{r} = 0 OR n_{r} = n_pairs""")


def _doses(conn, study, waves, min_cell) -> None:
    quantiles = ", ".join(f"quantile_cont(dose_amount, {p / 100}) AS p{p}" for p in QUANTILES)
    dose_grid = grid_sql({"substance": SUBSTANCE_VALUES, "protocol": (*PROTOCOL_VALUES, ALL), "wave": tuple(waves)})
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE an_x_doses AS
            WITH agg AS (
                SELECT substance, {margin("protocol")}, wave, any_value(unit) AS unit, count(*) AS n_responses,
                       count(dose_amount) AS n_with_dose, {quantiles}
                FROM an_doses GROUP BY GROUPING SETS ((substance, protocol, wave), (substance, wave)))
            SELECT {quote(study)} AS study,
                   CASE WHEN g.protocol = '{ALL}' THEN 'substance' ELSE 'substance_protocol' END AS grouping, g.*,
                   unit, coalesce(n_responses, 0) AS n_responses, coalesce(n_with_dose, 0) AS n_with_dose,
                   {", ".join(f"p{p}" for p in QUANTILES)},
                   coalesce(n_with_dose BETWEEN 1 AND {min_cell - 1}, false) AS suppressed
            FROM ({dose_grid}) g LEFT JOIN agg USING (substance, protocol, wave)"""
    )
    complementary_suppression(conn, "an_x_doses", ["substance", "wave"], ["protocol"], "n_with_dose", min_cell)
    conn.execute(
        """UPDATE an_x_doses SET unit = CASE substance WHEN 'psilocybin_mushrooms' THEN 'g'
                                                        WHEN 'unknown' THEN NULL ELSE 'ug' END"""
    )
    category_grid = grid_sql(
        {
            "substance": SUBSTANCE_VALUES,
            "protocol": (*PROTOCOL_VALUES, ALL),
            "wave": tuple(waves),
            "kind": ("dose_band", "dose_status"),
            "category": (*dict.fromkeys((*BAND_VALUES, *STATUS_VALUES)), ALL),
        }
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE an_x_dose_categories AS
            WITH long AS (
                SELECT substance, protocol, wave, 'dose_band' AS kind, dose_band AS category FROM an_doses
                UNION ALL SELECT substance, protocol, wave, 'dose_status', dose_status FROM an_doses),
            agg AS (
                SELECT substance, {margin("protocol")}, wave, kind, {margin("category")}, count(*) AS n
                FROM long GROUP BY GROUPING SETS ((substance, protocol, wave, kind, category),
                    (substance, wave, kind, category), (substance, protocol, wave, kind), (substance, wave, kind)))
            SELECT {quote(study)} AS study,
                   CASE WHEN g.protocol = '{ALL}' THEN 'substance' ELSE 'substance_protocol' END AS grouping, g.*,
                   coalesce(agg.n, 0) AS n, CAST(NULL AS DOUBLE) AS share,
                   coalesce(agg.n BETWEEN 1 AND {min_cell - 1}, false) AS suppressed
            FROM ({category_grid}) g LEFT JOIN agg USING (substance, protocol, wave, kind, category)
            WHERE (g.kind = 'dose_band' AND g.category IN ({", ".join(quote(b) for b in (*BAND_VALUES, ALL))}))
               OR (g.kind = 'dose_status' AND g.category IN ({", ".join(quote(s) for s in (*STATUS_VALUES, ALL))}))"""
    )
    complementary_suppression(
        conn, "an_x_dose_categories", ["substance", "wave", "kind"], ["protocol", "category"], "n", min_cell
    )
    conn.execute(
        f"""UPDATE an_x_dose_categories c SET share = c.n / t.n
            FROM an_x_dose_categories t
            WHERE t.substance = c.substance AND t.protocol = c.protocol AND t.wave = c.wave AND t.kind = c.kind
              AND t.category = '{ALL}' AND NOT t.suppressed AND t.n > 0"""
    )
    conn.execute(f"DELETE FROM an_x_dose_categories WHERE category = '{ALL}'")
