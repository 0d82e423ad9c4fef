"""Perturbed outcome statistics for the public tier: public.outcomes, change_from_baseline, attrition,
dose_distribution and dose_categories, from the an_* inputs (pipelines/analysis/inputs.py), on the fixed grid.

Every figure takes its noise from the cell key of the participants it rests on (perturbation.py):
- counts: dc_count (ONS cell-key noise, never below min_cell);
- means and SDs: a sum and a sum of squares, each with keyed Laplace noise of scale (its range) / epsilon, then
  divided (the SD clamped to what the range allows);
- medians, quartiles and dose quantiles: the exponential mechanism (McSherry and Talwar; for quantiles Smith 2011)
  on a fixed grid of candidate values, utility = -(distance in ranks from the quantile), sampled with the keyed
  uniform so that the same participants always give the same answer;
- rates: the count meeting the criterion and the count not meeting it must each clear the noisy threshold that
  the safety signals use; the rate and its Wilson interval come from the published counts;
- confidence intervals come from the published figures only (perturbed n, rounded mean and SD: an interval from
  the true n would give the true n away through its width), widened by the variance of the noise itself.
A cell is withheld when it rests on fewer than min_cell participants, when everyone in it has the same value, or
when it holds exactly the participants of a coarser cell containing it (it would repeat it and say its siblings
are empty). dc_truth keeps, per table and cell, what each published figure rests on, for the checks.
"""

from __future__ import annotations

from pipelines.analysis.cells import (
    ALL,
    BAND_VALUES,
    PROTOCOL_VALUES,
    STATUS_VALUES,
    SUBSTANCE_VALUES,
    cell_grid,
    grid_sql,
    grouping_name,
    outcome_grid,
    quote,
)
from pipelines.analysis.exact import install_t_table
from pipelines.analysis.inputs import Measure
from pipelines.disclosure.perturbation import cell_key_sql
from pipelines.warehouse.tables import ATTRITION, CHANGE, DOSE_CATEGORIES, DOSES, OUTCOMES, column_names
from schemas.study_config import DisclosureSettings

QUANTILE_STATS = {"median": 0.5, "q1": 0.25, "q3": 0.75}
DOSE_QUANTILES = {f"p{p}": p / 100 for p in (10, 25, 50, 75, 90)}
# candidate doses: dense where microdoses lie, sparse above (the exponential mechanism wanders on a wide flat grid);
# doses above the last candidate are top-coded to it
DOSE_GRID = {
    "g": (
        0.01,
        0.02,
        0.03,
        0.04,
        0.05,
        0.06,
        0.07,
        0.08,
        0.09,
        0.1,
        0.125,
        0.15,
        0.175,
        0.2,
        0.25,
        0.3,
        0.35,
        0.4,
        0.5,
        0.75,
        1.0,
    ),
    "ug": (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 25, 30, 40, 50),
}
RATES = ("response", "remission", "improved")


def create_truth_table(conn) -> None:
    conn.execute("""CREATE OR REPLACE TEMP TABLE dc_truth (study VARCHAR, table_name VARCHAR, min_cell INTEGER,
                    grouping VARCHAR, n BIGINT, published BOOLEAN, all_same BOOLEAN)""")


def _expand(source: str, dims: tuple[str, ...]) -> str:
    """Each row once per margin it belongs to: its own cell and the cells where some of `dims` read `all`."""
    parts = []
    for mask in range(2 ** len(dims)):
        replaced = [d for i, d in enumerate(dims) if mask >> i & 1]
        replace = f" REPLACE ({', '.join(f'{quote(ALL)} AS {d}' for d in replaced)})" if replaced else ""
        parts.append(f"SELECT *{replace} FROM {source}")
    return " UNION ALL ".join(parts)


def _grouping(dims: tuple[str, ...]) -> str:
    if "dose_band" not in dims:
        return f"CASE WHEN g.protocol = '{ALL}' THEN 'substance' ELSE 'substance_protocol' END"
    return grouping_name("g.protocol", "g.dose_band")


def _same_as_margin(table: str, keys: list[str], dims: tuple[str, ...], count: str) -> str:
    """SQL flag: a coarser cell containing this one holds exactly its participants."""
    same = " AND ".join(f"m.{k} = c.{k}" for k in keys)
    inside = " AND ".join(f"(m.{d} = '{ALL}' OR m.{d} = c.{d})" for d in dims)
    coarser = " + ".join(f"(m.{d} = '{ALL}')::INT" for d in dims)
    finer = " + ".join(f"(c.{d} = '{ALL}')::INT" for d in dims)
    return (
        f"EXISTS (SELECT 1 FROM {table} m WHERE {same} AND {inside} AND m.{count} = c.{count} AND c.{count} > 0 "
        f"AND {coarser} > {finer})"
    )


def cell_table(
    conn, name: str, source: str, dims: tuple[str, ...], keys: list[str], grid: str, aggregates: str, count: str
) -> None:
    """Temp table `name`: the grid left-joined to the aggregates of `source` over every margin, with the cell key
    (sum of record keys of the rows aggregated) and the same-as-margin flag."""
    cell = keys + list(dims)
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE {name}_0 AS
            WITH agg AS (SELECT {", ".join(cell)}, {aggregates},
                                {cell_key_sql()} AS cell_key
                         FROM ({_expand(source, dims)}) GROUP BY {", ".join(cell)})
            SELECT {_grouping(dims)} AS grouping, g.*, agg.* EXCLUDE ({", ".join(cell)})
            FROM ({grid}) g LEFT JOIN agg USING ({", ".join(cell)})"""
    )
    conn.execute(f"UPDATE {name}_0 SET {count} = coalesce({count}, 0), cell_key = coalesce(cell_key, 0)")
    conn.execute(f"""CREATE OR REPLACE TEMP TABLE {name} AS
                     SELECT c.*, {_same_as_margin(f"{name}_0", keys, dims, count)} AS same_as_margin
                     FROM {name}_0 c""")
    conn.execute(f"DROP TABLE {name}_0")


def _noisy_sum(expr: str, label: str, scale: float) -> str:
    return f"({expr} + dc_laplace(dc_uniform(cell_key, '{label}:' || {expr}), {scale!r}))"


def _noisy_sd(sum_expr: str, sumsq_expr: str, n: str, span: float, epsilon: float, label: str) -> str:
    """SD from a noisy sum and a noisy sum of squares of values shifted into [0, span]."""
    s1 = _noisy_sum(sum_expr, f"{label}:s1", span / epsilon)
    s2 = _noisy_sum(sumsq_expr, f"{label}:s2", span * span / epsilon)
    top = span * span / 4
    return f"sqrt(least(greatest(({s2} - {s1} * {s1} / {n}) / ({n} - 1), 0), {top!r} * {n} / ({n} - 1)))"


def _ci(mean: str, sd: str, n: str, noise_scale: str, sign: str) -> str:
    """mean -/+ t * sqrt(sd^2 / n + var(noise of the mean)); Laplace of scale b has variance 2 b^2, and the mean's
    noise is the sum's divided by n."""
    return (
        f"round({mean} {sign} (SELECT t FROM an_t WHERE df = {n} - 1) "
        f"* sqrt({sd} * {sd} / {n} + 2 * ({noise_scale} / {n}) ^ 2), 2)"
    )


def em_quantiles(
    conn,
    cells: str,
    rows: str,
    keys: list[str],
    value: str,
    candidates: str,
    join: list[str],
    quantiles: dict[str, float],
    epsilon: float,
    label: str,
) -> None:
    """Add a column per quantile to `cells` (rows where `eligible`): the exponential mechanism over `candidates`.

    `rows` holds one row per value with the cell columns `keys`; `candidates` (join columns, candidate) the grid.
    Utility of candidate c for quantile q: -max(0, #(x < c) - q n, q n - #(x <= c)), sensitivity 1."""

    def same(alias: str) -> str:
        return " AND ".join(f"{alias}.{k} = c.{k}" for k in keys)

    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE em_cum AS
            SELECT {", ".join(keys)}, v, sum(cnt) OVER (PARTITION BY {", ".join(keys)} ORDER BY v) AS cum
            FROM (SELECT {", ".join(keys)}, {value} AS v, count(*) AS cnt FROM {rows} GROUP BY ALL)"""
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE em_cand AS
            SELECT c.*, coalesce(le.cum, 0) AS at_or_below, coalesce(lt.cum, 0) AS below
            FROM (SELECT {", ".join("e." + k for k in keys)}, e.n_basis AS n, e.cell_key, g.candidate
                  FROM {cells} e JOIN {candidates} g ON {" AND ".join(f"g.{j} = e.{j}" for j in join)}
                  WHERE e.eligible) c
            ASOF LEFT JOIN em_cum le ON {same("le")} AND c.candidate >= le.v
            ASOF LEFT JOIN em_cum lt ON {same("lt")} AND c.candidate > lt.v"""
    )
    for name, q in quantiles.items():
        conn.execute(f"ALTER TABLE {cells} ADD COLUMN IF NOT EXISTS {name} DOUBLE")
        part = ", ".join(keys)
        conn.execute(
            f"""UPDATE {cells} e SET {name} = pick.candidate FROM (
                    WITH u AS (
                        SELECT *, -greatest(0, below - {q!r} * n, {q!r} * n - at_or_below) AS utility FROM em_cand),
                    w AS (SELECT *, exp({epsilon / 2!r} * (utility - max(utility) OVER (PARTITION BY {part}))) AS weight
                          FROM u),
                    c AS (SELECT *, sum(weight) OVER (PARTITION BY {part} ORDER BY candidate)
                                    / sum(weight) OVER (PARTITION BY {part}) AS cdf FROM w)
                    SELECT {part}, coalesce(min(candidate) FILTER (WHERE cdf >= dc_uniform(cell_key, '{label}:{name}')),
                                            max(candidate)) AS candidate
                    FROM c GROUP BY {part}) pick
                WHERE {" AND ".join(f"pick.{k} = e.{k}" for k in keys)}"""
        )
    # each quantile is drawn on its own: sorting them (post-processing, no further disclosure) keeps q1 <= median
    names = sorted(quantiles, key=quantiles.get)
    ordered = f"list_sort([{', '.join(names)}])"
    conn.execute(
        f"UPDATE {cells} SET "
        + ", ".join(f"{n} = {ordered}[{i + 1}]" for i, n in enumerate(names))
        + f" WHERE {names[0]} IS NOT NULL"
    )
    conn.execute("DROP TABLE em_cum")
    conn.execute("DROP TABLE em_cand")


def _truth(conn, study: str, table: str, min_cell: int, cells: str, n: str, published: str, all_same: str) -> None:
    conn.execute(f"""INSERT INTO dc_truth SELECT {quote(study)}, '{table}', {min_cell}, grouping, {n},
                     coalesce({published}, false), coalesce({all_same}, false) FROM {cells}""")


def _score_candidates(conn, measures: list[Measure]) -> None:
    """dc_grid_scores: each whole point of each score's range, the candidates of its quantiles."""
    conn.execute("CREATE OR REPLACE TEMP TABLE dc_grid_scores (measure VARCHAR, candidate DOUBLE)")
    rows = []
    for m in measures:
        v = m.low
        while v <= m.high + 1e-9:
            rows.append((m.name, v))
            v += 1.0
    if rows:
        conn.executemany("INSERT INTO dc_grid_scores VALUES (?, ?)", rows)


def build_public_statistics(
    conn,
    study: str,
    settings: DisclosureSettings,
    measures: list[Measure],
    waves: list[str],
    followups: list[str],
    salt: str,
) -> None:
    """Insert this study's rows of public.outcomes, change_from_baseline, attrition, dose_distribution and
    dose_categories (macros of perturbation.py installed, an_* inputs built)."""
    install_t_table(conn, conn.execute("SELECT count(*) FROM an_doses").fetchone()[0])
    _score_candidates(conn, measures)
    conn.execute(f"""CREATE OR REPLACE TEMP TABLE dc_rk AS SELECT DISTINCT participant_id,
                     dc_record_key({quote(salt)}, participant_id) AS record_key FROM an_doses""")
    names = [m.name for m in measures]
    if names:
        _outcomes(conn, study, settings, measures, waves)
        if followups:
            _change_and_attrition(conn, study, settings, measures, followups)
    _doses(conn, study, settings, waves)
    for table in ("dc_rk", "dc_grid_scores", "an_t"):
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def _outcomes(conn, study, settings, measures, waves) -> None:
    eps, min_cell = settings.mean_epsilon, settings.min_cell
    conn.execute("""CREATE OR REPLACE TEMP TABLE dc_src AS
                    SELECT s.*, k.record_key, s.score - m.low AS shifted FROM an_scores s
                    JOIN dc_rk k USING (participant_id) JOIN an_measures m USING (measure)""")
    keys = ["substance", "wave", "measure"]
    cell_table(
        conn,
        "dc_o",
        "dc_src",
        ("protocol", "dose_band"),
        keys,
        outcome_grid(waves, [m.name for m in measures]),
        "count(*) AS n, sum(shifted) AS s1, sum(shifted * shifted) AS s2, min(score) AS lo, max(score) AS hi, "
        "count(DISTINCT participant_id) AS n_people",
        "n",
    )
    # n_participants: everyone in the cell with a response at that wave, as in public.safety_signals
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE dc_people_rows AS SELECT d.*, k.record_key FROM an_doses d "
        "JOIN dc_rk k USING (participant_id)"
    )
    cell_table(
        conn,
        "dc_people",
        "dc_people_rows",
        ("protocol", "dose_band"),
        ["substance", "wave"],
        cell_grid(waves),
        "count(*) AS n_participants",
        "n_participants",
    )
    conn.execute("DROP TABLE dc_people_rows")
    conn.execute("""ALTER TABLE dc_o ADD COLUMN eligible BOOLEAN""")
    conn.execute(f"""UPDATE dc_o SET eligible = n >= {min_cell} AND lo < hi AND NOT same_as_margin""")
    conn.execute("ALTER TABLE dc_o ADD COLUMN n_basis BIGINT")
    conn.execute("UPDATE dc_o SET n_basis = n")
    em_quantiles(
        conn,
        "dc_o",
        "(" + _expand("dc_src", ("protocol", "dose_band")) + ")",
        keys + ["protocol", "dose_band"],
        "score",
        "dc_grid_scores",
        ["measure"],
        QUANTILE_STATS,
        eps,
        "q",
    )
    by_measure = []
    for m in measures:
        mean = f"least(greatest({_noisy_sum('s1', 'sum', m.span / eps)} / n, 0), {m.span!r}) + {m.low!r}"
        sd = _noisy_sd("s1", "s2", "n", m.span, eps, "sd")
        by_measure.append(f"""SELECT *, {mean} AS mean_raw, {sd} AS sd_raw, {m.span / eps!r} AS noise_scale
                              FROM dc_o WHERE measure = {quote(m.name)} AND eligible""")
    conn.execute("CREATE OR REPLACE TEMP TABLE dc_o_pub AS " + " UNION ALL ".join(by_measure))
    conn.execute(
        f"""INSERT INTO public.outcomes ({", ".join(column_names(OUTCOMES))})
            SELECT {quote(study)}, o.grouping, o.substance, o.protocol, o.dose_band, o.wave,
                   CASE WHEN NOT p0.same_as_margin THEN dc_count(p0.n_participants, p0.cell_key) END, o.measure,
                   CASE WHEN o.eligible THEN dc_count(o.n, o.cell_key) END,
                   round(x.mean_raw, 1), round(x.sd_raw, 1), o.median, o.q1, o.q3,
                   {_ci("round(x.mean_raw, 1)", "round(x.sd_raw, 1)", "dc_count(o.n, o.cell_key)", "x.noise_scale", "-")},
                   {_ci("round(x.mean_raw, 1)", "round(x.sd_raw, 1)", "dc_count(o.n, o.cell_key)", "x.noise_scale", "+")},
                   NOT o.eligible
            FROM dc_o o
            LEFT JOIN dc_o_pub x USING (substance, protocol, dose_band, wave, measure)
            LEFT JOIN dc_people p0 USING (substance, protocol, dose_band, wave)"""
    )
    _truth(conn, study, "public.outcomes", min_cell, "dc_o", "n", "eligible", "n > 0 AND lo = hi")
    for t in ("dc_src", "dc_o", "dc_o_pub", "dc_people"):
        conn.execute(f"DROP TABLE {t}")


def _change_and_attrition(conn, study, settings, measures, followups) -> None:
    eps, min_cell = settings.mean_epsilon, settings.min_cell
    keys = ["substance", "wave", "measure"]
    dims = ("protocol", "dose_band")
    grid = outcome_grid(followups, [m.name for m in measures])
    conn.execute("""CREATE OR REPLACE TEMP TABLE dc_src AS
                    SELECT a.*, k.record_key, a.baseline - m.low AS shifted FROM an_attrition a
                    JOIN dc_rk k USING (participant_id) JOIN an_measures m USING (measure)""")
    cell_table(
        conn,
        "dc_a",
        "dc_src",
        dims,
        keys,
        grid,
        "count(*) AS n_baseline, count(*) FILTER (WHERE followed_up) AS n_followed_up, "
        "count(*) FILTER (WHERE NOT followed_up) AS n_lost, "
        "sum(shifted) FILTER (WHERE followed_up) AS s_f, sum(shifted) FILTER (WHERE NOT followed_up) AS s_l",
        "n_baseline",
    )
    conn.execute(f"""ALTER TABLE dc_a ADD COLUMN eligible BOOLEAN;
                     UPDATE dc_a SET n_followed_up = coalesce(n_followed_up, 0), n_lost = coalesce(n_lost, 0);
                     UPDATE dc_a SET eligible = n_followed_up >= {min_cell} AND n_lost >= {min_cell}
                                                AND NOT same_as_margin""")
    means = []
    for m in measures:
        scale = m.span / eps
        f_mean = f"round(least(greatest({_noisy_sum('s_f', 'base_f', scale)} / n_followed_up, 0), {m.span!r}) + {m.low!r}, 1)"
        l_mean = f"round(least(greatest({_noisy_sum('s_l', 'base_l', scale)} / n_lost, 0), {m.span!r}) + {m.low!r}, 1)"
        means.append(
            f"SELECT substance, protocol, dose_band, wave, measure, {f_mean} AS mf, {l_mean} AS ml "
            f"FROM dc_a WHERE measure = {quote(m.name)} AND eligible"
        )
    conn.execute(
        f"""INSERT INTO public.attrition ({", ".join(column_names(ATTRITION))})
            SELECT {quote(study)}, a.grouping, a.substance, a.protocol, a.dose_band, a.wave, a.measure,
                   CASE WHEN NOT a.same_as_margin THEN dc_count(a.n_baseline, a.cell_key) END,
                   CASE WHEN a.eligible THEN dc_count(a.n_followed_up, a.cell_key) END,
                   CASE WHEN a.eligible THEN dc_count(a.n_lost, a.cell_key) END,
                   x.mf, x.ml, NOT a.eligible
            FROM dc_a a LEFT JOIN ({" UNION ALL ".join(means)}) x USING (substance, protocol, dose_band, wave, measure)"""
    )
    _truth(conn, study, "public.attrition", min_cell, "dc_a", "least(n_followed_up, n_lost)", "eligible", "false")
    conn.execute("DROP TABLE dc_src")
    # change from baseline: pairs, in the baseline cell
    conn.execute("""CREATE OR REPLACE TEMP TABLE dc_src AS
                    SELECT p.*, k.record_key, p.change + (m.high - m.low) AS shifted_change,
                           p.baseline - m.low AS shifted_base FROM an_pairs p
                    JOIN dc_rk k USING (participant_id) JOIN an_measures m USING (measure)""")
    rate_aggs = ", ".join(f"count({r}) AS {r}_assessed, count(*) FILTER (WHERE {r}) AS {r}_yes" for r in RATES)
    cell_table(
        conn,
        "dc_c",
        "dc_src",
        dims,
        keys,
        grid,
        "count(*) AS n, sum(shifted_change) AS c1, sum(shifted_change * shifted_change) AS c2, "
        "sum(shifted_base) AS b1, sum(shifted_base * shifted_base) AS b2, min(change) AS lo, max(change) AS hi, "
        f"count(*) FILTER (WHERE changed_protocol) AS n_changed, {rate_aggs}",
        "n",
    )
    conn.execute(f"""ALTER TABLE dc_c ADD COLUMN eligible BOOLEAN;
                     UPDATE dc_c SET eligible = n >= {min_cell} AND lo < hi AND NOT same_as_margin""")
    parts = []
    for m in measures:
        span2 = 2 * m.span  # a change lies in [-span, span]: shifted into [0, 2 span]
        mean = f"(least(greatest({_noisy_sum('c1', 'change', span2 / eps)} / n, 0), {span2!r}) - {m.span!r})"
        sd = _noisy_sd("c1", "c2", "n", span2, eps, "sd_change")
        sd_base = _noisy_sd("b1", "b2", "n", m.span, eps, "sd_base")
        parts.append(f"""SELECT substance, protocol, dose_band, wave, measure, {mean} AS mc, {sd} AS sdc,
                                {sd_base} AS sdb, {span2 / eps!r} AS noise_scale
                         FROM dc_c WHERE measure = {quote(m.name)} AND eligible""")
    rates = []
    for r in RATES:
        ok = (
            f"(c.eligible AND c.{r}_assessed > 0 AND dc_sensitive_ok(c.{r}_yes, c.cell_key, '{r}:yes') "
            f"AND dc_sensitive_ok(c.n - c.{r}_yes, c.cell_key, '{r}:no'))"
        )
        x, n = f"dc_count(c.{r}_yes, c.cell_key)", "dc_count(c.n, c.cell_key)"
        rates.append(f"""CASE WHEN {ok} THEN {x} END, CASE WHEN {ok} THEN round({x} / {n}, 3) END,
                         CASE WHEN {ok} THEN round(an_wilson({x}, {n}, -1), 3) END,
                         CASE WHEN {ok} THEN round(an_wilson({x}, {n}, 1), 3) END""")
        _truth(
            conn,
            study,
            f"public.change_from_baseline:{r}",
            min_cell,
            "dc_c AS c",
            f"least(c.{r}_yes, c.n - c.{r}_yes)",
            ok,
            "false",
        )
    conn.execute(
        f"""INSERT INTO public.change_from_baseline ({", ".join(column_names(CHANGE))})
            SELECT {quote(study)}, c.grouping, c.substance, c.protocol, c.dose_band, c.wave, c.measure,
                   CASE WHEN c.eligible THEN dc_count(c.n, c.cell_key) END,
                   round(x.mc, 1), round(x.sdc, 1),
                   {_ci("round(x.mc, 1)", "round(x.sdc, 1)", "dc_count(c.n, c.cell_key)", "x.noise_scale", "-")},
                   {_ci("round(x.mc, 1)", "round(x.sdc, 1)", "dc_count(c.n, c.cell_key)", "x.noise_scale", "+")},
                   round(x.mc / nullif(x.sdc, 0), 2), round(x.mc / nullif(x.sdb, 0), 2),
                   CASE WHEN c.eligible THEN dc_count(c.n_changed, c.cell_key) END,
                   {", ".join(rates)}, NOT c.eligible
            FROM dc_c c LEFT JOIN ({" UNION ALL ".join(parts)}) x USING (substance, protocol, dose_band, wave, measure)"""
    )
    _truth(conn, study, "public.change_from_baseline", min_cell, "dc_c", "n", "eligible", "n > 0 AND lo = hi")
    for t in ("dc_src", "dc_a", "dc_c"):
        conn.execute(f"DROP TABLE {t}")


def _doses(conn, study, settings, waves) -> None:
    eps, min_cell = settings.mean_epsilon, settings.min_cell
    keys, dims = ["substance", "wave"], ("protocol",)
    grid = grid_sql({"substance": SUBSTANCE_VALUES, "protocol": (*PROTOCOL_VALUES, ALL), "wave": tuple(waves)})
    conn.execute("CREATE OR REPLACE TEMP TABLE dc_grid_doses (unit VARCHAR, candidate DOUBLE)")
    conn.executemany(
        "INSERT INTO dc_grid_doses VALUES (?, ?)", [(u, float(v)) for u, values in DOSE_GRID.items() for v in values]
    )
    tops = " ".join(f"WHEN '{u}' THEN {float(values[-1])!r}" for u, values in DOSE_GRID.items())
    conn.execute(f"""CREATE OR REPLACE TEMP TABLE dc_src AS
                     SELECT d.* EXCLUDE (dose_band), k.record_key,
                            CASE WHEN d.dose_amount IS NOT NULL THEN least(d.dose_amount, CASE d.unit {tops} END) END AS dose FROM an_doses d
                     JOIN dc_rk k USING (participant_id)""")
    cell_table(
        conn,
        "dc_d",
        "dc_src",
        dims,
        keys,
        grid,
        "count(*) AS n_responses, count(dose) AS n_with_dose, min(dose) AS lo, max(dose) AS hi, any_value(unit) AS unit",
        "n_with_dose",
    )
    conn.execute(f"""ALTER TABLE dc_d ADD COLUMN eligible BOOLEAN; ALTER TABLE dc_d ADD COLUMN n_basis BIGINT;
                     UPDATE dc_d SET n_basis = n_with_dose, unit = CASE substance WHEN 'psilocybin_mushrooms' THEN 'g'
                                                                  WHEN 'unknown' THEN NULL ELSE 'ug' END;
                     UPDATE dc_d SET eligible = n_with_dose >= {min_cell} AND lo < hi AND NOT same_as_margin
                                                AND unit IS NOT NULL""")
    em_quantiles(
        conn,
        "dc_d",
        "(SELECT * FROM (" + _expand("dc_src", dims) + ") WHERE dose IS NOT NULL)",
        keys + ["protocol"],
        "dose",
        "dc_grid_doses",
        ["unit"],
        DOSE_QUANTILES,
        eps,
        "dose",
    )
    conn.execute(
        f"""INSERT INTO public.dose_distribution ({", ".join(column_names(DOSES))})
            SELECT {quote(study)}, grouping, substance, protocol, wave, unit,
                   CASE WHEN NOT same_as_margin THEN dc_count(n_responses, cell_key) END,
                   CASE WHEN eligible THEN dc_count(n_with_dose, cell_key) END,
                   {", ".join(f"CASE WHEN eligible THEN round({q}, 2) END" for q in DOSE_QUANTILES)}, NOT eligible
            FROM dc_d"""
    )
    _truth(
        conn,
        study,
        "public.dose_distribution",
        min_cell,
        "dc_d",
        "n_with_dose",
        "eligible",
        "n_with_dose > 0 AND lo = hi",
    )
    # dose bands and parse statuses: a category's count and its complement must both clear the noisy threshold
    conn.execute("""CREATE OR REPLACE TEMP TABLE dc_src AS
                    SELECT substance, protocol, wave, 'dose_band' AS kind, dose_band AS category, record_key
                    FROM an_doses JOIN dc_rk USING (participant_id)
                    UNION ALL SELECT substance, protocol, wave, 'dose_status', dose_status, record_key
                    FROM an_doses JOIN dc_rk USING (participant_id)""")
    cat_grid = grid_sql(
        {
            "substance": SUBSTANCE_VALUES,
            "protocol": (*PROTOCOL_VALUES, ALL),
            "wave": tuple(waves),
            "kind": ("dose_band", "dose_status"),
            "category": (*dict.fromkeys((*BAND_VALUES, *STATUS_VALUES)), ALL),
        }
    )
    cat_grid = (
        f"SELECT * FROM ({cat_grid}) WHERE (kind = 'dose_band' AND category IN "
        f"({', '.join(quote(b) for b in (*BAND_VALUES, ALL))})) OR (kind = 'dose_status' AND category IN "
        f"({', '.join(quote(s) for s in (*STATUS_VALUES, ALL))}))"
    )
    cell_table(
        conn, "dc_k", "dc_src", ("protocol", "category"), ["substance", "wave", "kind"], cat_grid, "count(*) AS n", "n"
    )
    conn.execute(
        f"""INSERT INTO public.dose_categories ({", ".join(column_names(DOSE_CATEGORIES))})
            WITH t AS (SELECT substance, protocol, wave, kind, n AS total, cell_key AS total_key,
                              same_as_margin AS total_same FROM dc_k WHERE category = '{ALL}'),
            x AS (SELECT k.*, t.total, t.total_key, t.total_same,
                         k.n >= {min_cell} AND NOT t.total_same AND t.total >= {min_cell}
                         AND dc_sensitive_ok(k.n, k.cell_key, 'category:in')
                         AND dc_sensitive_ok(t.total - k.n, k.cell_key, 'category:out') AS ok
                  FROM dc_k k JOIN t USING (substance, protocol, wave, kind) WHERE k.category <> '{ALL}')
            SELECT {quote(study)}, CASE WHEN protocol = '{ALL}' THEN 'substance' ELSE 'substance_protocol' END,
                   substance, protocol, wave, kind, category,
                   CASE WHEN ok THEN dc_count(n, cell_key) END,
                   CASE WHEN ok THEN round(dc_count(n, cell_key) / dc_count(total, total_key), 3) END, NOT ok
            FROM x"""
    )
    conn.execute(
        f"""INSERT INTO dc_truth SELECT {quote(study)}, 'public.dose_categories', {min_cell}, 'dose_categories',
                   least(k.n, t.n - k.n), NOT o.suppressed, false
            FROM dc_k k JOIN dc_k t ON t.substance = k.substance AND t.protocol = k.protocol AND t.wave = k.wave
                 AND t.kind = k.kind AND t.category = '{ALL}'
            JOIN public.dose_categories o ON o.study = {quote(study)} AND o.substance = k.substance
                 AND o.protocol = k.protocol AND o.wave = k.wave AND o.kind = k.kind AND o.category = k.category"""
    )
    for t in ("dc_src", "dc_d", "dc_k", "dc_grid_doses"):
        conn.execute(f"DROP TABLE {t}")
