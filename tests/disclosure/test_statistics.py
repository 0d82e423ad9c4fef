"""The exact statistics (summary.*) against scipy / statsmodels on the same data, and the public ones' properties.

Expected values are recomputed here from research.responses with scipy and statsmodels, independently of the SQL."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from pipelines.analysis import exact, inputs
from pipelines.disclosure import release
from tests.disclosure.conftest import KEY


@pytest.fixture(scope="module")
def built(sample_warehouse, study):
    from tests.disclosure.conftest import copy_into_memory

    conn = copy_into_memory(sample_warehouse)
    measures = inputs.build_inputs(conn, study.study, study)
    waves = inputs.study_waves(conn, study, study.study)
    exact.build_exact(
        conn,
        study.study,
        waves,
        [m.name for m in measures],
        [w for w in waves if w != study.baseline_wave],
        study.disclosure.min_cell,
    )
    inputs.drop_inputs(conn)
    release.build_public_tables(conn, {study.study: study}, KEY)
    yield conn
    conn.close()


def _scores(conn, where: str, params=()) -> dict[str, float]:
    return dict(
        conn.execute(
            f"""SELECT r.participant_id, s.score FROM research.responses r JOIN research.instrument_scores s
            USING (study, participant_id, wave) WHERE s.score IS NOT NULL AND {where}""",
            params,
        ).fetchall()
    )


def test_outcomes_match_scipy(built):
    rows = built.execute(
        """SELECT substance, protocol, dose_band, wave, measure, n, mean, sd, median, q1, q3, ci_low, ci_high
           FROM summary.outcomes WHERE NOT suppressed AND n > 0"""
    ).fetchall()
    assert len(rows) > 20
    checked = 0
    for substance, protocol, band, wave, measure, n, mean, sd, median, q1, q3, lo, hi in rows:
        instrument, scale = measure.split("_", 1)
        where = ["coalesce(r.substance, 'unknown') = ?", "r.wave = ?", "s.instrument = ?", "s.scale = ?"]
        params = [substance, wave, instrument, scale]
        if protocol != "all":
            where.append("coalesce(r.protocol, 'unknown') = ?")
            params.append(protocol)
        if band != "all":
            where.append("coalesce(r.dose_band, 'unknown') = ?")
            params.append(band)
        x = np.array(list(_scores(built, " AND ".join(where), params).values()), dtype=float)
        assert n == len(x)
        assert mean == pytest.approx(x.mean(), abs=1e-9)
        assert sd == pytest.approx(x.std(ddof=1), abs=1e-9)
        assert (q1, median, q3) == pytest.approx(tuple(np.percentile(x, [25, 50, 75])), abs=1e-9)
        want = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
        assert (lo, hi) == pytest.approx(want, abs=1e-9)
        checked += 1
    assert checked == len(rows)


def _pairs(conn, measure: str, followup: str, protocol: str | None):
    instrument, scale = measure.split("_", 1)
    base = conn.execute(
        """SELECT r.participant_id, s.score, r.protocol, r.substance FROM research.responses r
           JOIN research.instrument_scores s USING (study, participant_id, wave)
           WHERE r.wave = 'baseline' AND s.instrument = ? AND s.scale = ? AND s.score IS NOT NULL""",
        [instrument, scale],
    ).fetchall()
    follow = dict(_scores(conn, "r.wave = ? AND s.instrument = ? AND s.scale = ?", [followup, instrument, scale]))
    return [
        (b, follow[pid], p, sub)
        for pid, b, p, sub in base
        if pid in follow and (protocol is None or (p or "unknown") == protocol)
    ]


def test_change_from_baseline_matches_scipy_and_statsmodels(built):
    rows = built.execute(
        """SELECT substance, protocol, wave, measure, n_pairs, mean_change, sd_change, ci_low, ci_high, cohens_dz,
                  change_in_baseline_sd, n_response, response_ci_low, response_ci_high, n_remission, n_improved,
                  improved_ci_low, improved_ci_high
           FROM summary.change_from_baseline WHERE NOT suppressed AND n_pairs > 0 AND dose_band = 'all'"""
    ).fetchall()
    assert any(r[3] == "phq9_total" for r in rows) and any(r[1] != "all" for r in rows)
    for (
        substance,
        protocol,
        wave,
        measure,
        n,
        mean,
        sd,
        lo,
        hi,
        dz,
        base_units,
        n_resp,
        r_lo,
        r_hi,
        n_rem,
        n_imp,
        i_lo,
        i_hi,
    ) in rows:
        pairs = [
            (b, f)
            for b, f, _, sub in _pairs(built, measure, wave, None if protocol == "all" else protocol)
            if (sub or "unknown") == substance
        ]
        base = np.array([b for b, _ in pairs], dtype=float)
        d = np.array([f - b for b, f in pairs], dtype=float)
        assert n == len(d)
        assert mean == pytest.approx(d.mean(), abs=1e-9) and sd == pytest.approx(d.std(ddof=1), abs=1e-9)
        assert (lo, hi) == pytest.approx(stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d)), abs=1e-9)
        # the paired t-test's statistic is d_z * sqrt(n): the effect size is the paired one
        t = stats.ttest_rel(base + d, base).statistic
        assert dz == pytest.approx(t / math.sqrt(len(d)), abs=1e-9)
        assert base_units == pytest.approx(d.mean() / base.std(ddof=1), abs=1e-9)
        if measure == "phq9_total":
            responders = int(sum(1 for b, f in pairs if b > 0 and f <= 0.5 * b))
            improved = int(sum(1 for b, f in pairs if b - f >= 5))
            remitted = int(sum(1 for _, f in pairs if f < 5))
            assert n_resp in (responders, None) and n_imp in (improved, None) and n_rem in (remitted, None)
            if n_resp is not None:
                assert (r_lo, r_hi) == pytest.approx(proportion_confint(responders, len(d), method="wilson"), abs=1e-9)
            if n_imp is not None:
                assert (i_lo, i_hi) == pytest.approx(proportion_confint(improved, len(d), method="wilson"), abs=1e-9)
        else:
            assert n_resp is None and n_rem is None and n_imp is None  # GAD-7 declares no change criteria


def test_attrition_shows_who_was_lost(built):
    rows = built.execute(
        """SELECT substance, n_baseline, n_followed_up, n_lost, baseline_mean_followed_up, baseline_mean_lost
           FROM summary.attrition WHERE grouping = 'substance' AND measure = 'phq9_total' AND NOT suppressed
             AND n_baseline > 0"""
    ).fetchall()
    assert rows
    for substance, n_b, n_f, n_l, m_f, m_l in rows:
        base = _scores(
            built, "r.wave = 'baseline' AND s.instrument = 'phq9' AND coalesce(r.substance, 'unknown') = ?", [substance]
        )
        follow = _scores(built, "r.wave = 'followup_30d' AND s.instrument = 'phq9'")
        kept = [v for p, v in base.items() if p in follow]
        lost = [v for p, v in base.items() if p not in follow]
        assert (n_b, n_f, n_l) == (len(base), len(kept), len(lost))
        assert (m_f, m_l) == pytest.approx((np.mean(kept), np.mean(lost)), abs=1e-9)


def test_exact_tables_withhold_small_cells_and_what_margins_would_reveal(built, study):
    min_cell = study.disclosure.min_cell
    assert (
        built.execute(f"""SELECT count(*) FROM summary.outcomes
                             WHERE NOT suppressed AND n BETWEEN 1 AND {min_cell - 1}""").fetchone()[0]
        == 0
    )
    assert (
        built.execute(
            "SELECT count(*) FROM summary.outcomes WHERE suppressed AND (n IS NOT NULL OR mean IS NOT NULL)"
        ).fetchone()[0]
        == 0
    )
    # no withheld cell can be recovered as a published margin minus its published parts
    leaks = built.execute(
        f"""WITH truth AS (
                SELECT o.*, count(s.score) AS true_n FROM summary.outcomes o
                LEFT JOIN (SELECT r.*, s.score, s.instrument || '_' || s.scale AS measure FROM research.responses r
                           JOIN research.instrument_scores s USING (study, participant_id, wave)) s
                  ON coalesce(s.substance, 'unknown') = o.substance AND s.wave = o.wave AND s.measure = o.measure
                 AND (o.protocol = 'all' OR coalesce(s.protocol, 'unknown') = o.protocol)
                 AND (o.dose_band = 'all' OR coalesce(s.dose_band, 'unknown') = o.dose_band)
                GROUP BY ALL)
            SELECT count(*) FROM truth p JOIN truth c ON c.substance = p.substance AND c.wave = p.wave
                 AND c.measure = p.measure AND p.dose_band = c.dose_band AND p.protocol = 'all' AND c.protocol <> 'all'
            WHERE NOT p.suppressed
            GROUP BY p.substance, p.wave, p.measure, p.dose_band, p.n
            HAVING p.n - sum(c.n) FILTER (WHERE NOT c.suppressed) BETWEEN 1 AND {min_cell - 1}"""
    ).fetchall()
    assert leaks == []


def test_public_statistics_are_consistent_and_never_zero_for_withheld(built):
    rows = built.execute(
        """SELECT n, mean, sd, median, q1, q3, ci_low, ci_high, suppressed FROM public.outcomes"""
    ).fetchall()
    published = [r for r in rows if not r[-1]]
    assert published and all(r[0] >= 11 for r in published)
    assert all(r[1] is None and r[2] is None and r[3] is None for r in rows if r[-1])
    for _n, mean, sd, median, q1, q3, lo, hi, _ in published:
        assert q1 <= median <= q3 and lo < mean < hi and sd >= 0
    # public change figures: withheld ones are NULL, published rates come with an interval around them
    for n_resp, rate, lo, hi in built.execute(
        "SELECT n_response, response_rate, response_ci_low, response_ci_high FROM public.change_from_baseline "
        "WHERE NOT suppressed AND n_response IS NOT NULL"
    ).fetchall():
        assert n_resp >= 11 and lo <= rate <= hi
    assert (
        built.execute(
            "SELECT count(*) FROM public.change_from_baseline WHERE suppressed AND n_pairs IS NOT NULL"
        ).fetchone()[0]
        == 0
    )


def test_public_figures_are_close_to_the_exact_ones(built):
    """Noise that protects must still leave figures an analyst can use: the public means of the large cells lie
    near the exact ones (Laplace scale 27 / 2 on a sum of over 100 scores moves a mean by well under a point)."""
    pairs = built.execute(
        """SELECT p.mean, s.mean, p.median, s.median FROM public.outcomes p JOIN summary.outcomes s
           USING (study, substance, protocol, dose_band, wave, measure)
           WHERE NOT p.suppressed AND NOT s.suppressed AND s.n >= 100"""
    ).fetchall()
    assert pairs
    assert all(abs(pm - sm) < 1.0 and abs(pmed - smed) <= 2 for pm, sm, pmed, smed in pairs)


def test_public_intervals_use_only_published_figures(built, study):
    """An interval computed from the true n would give the true n away through its width (a red-team run pinned
    the exact n of 33 of 53 cells that way): the width must follow from the published n, mean and SD alone."""
    scale = 27 / study.disclosure.mean_epsilon  # PHQ-9 range / epsilon: the Laplace scale on the sum
    rows = built.execute("""SELECT n, mean, sd, ci_low, ci_high FROM public.outcomes
                            WHERE measure = 'phq9_total' AND NOT suppressed""").fetchall()
    assert rows
    for n, mean, sd, lo, hi in rows:
        half = stats.t.ppf(0.975, n - 1) * math.sqrt(sd * sd / n + 2 * (scale / n) ** 2)
        assert (lo, hi) == pytest.approx((mean - half, mean + half), abs=0.006)


def test_exact_tables_do_not_combine_into_a_small_group_total(built, study):
    """The red-team attack across tables: summary.outcomes at follow-up (n x mean) minus the pairs' follow-up sum
    (change n_pairs x mean_change + attrition n_followed_up x baseline_mean_followed_up) is the score total of the
    follow-up respondents of the cell outside its pairs. Wherever all three rows are published, that total must
    rest on no one or on at least min_cell participants (counted here from research.responses)."""
    min_cell = study.disclosure.min_cell
    rows = built.execute(
        """SELECT o.substance, o.protocol, o.dose_band, o.wave, o.measure
           FROM summary.outcomes o
           JOIN summary.change_from_baseline c USING (substance, protocol, dose_band, wave, measure)
           JOIN summary.attrition a USING (substance, protocol, dose_band, wave, measure)
           WHERE NOT o.suppressed AND NOT c.suppressed AND NOT a.suppressed AND o.n > 0"""
    ).fetchall()
    assert rows
    answers = {}
    for pid, wave, substance, protocol, band in built.execute(
        "SELECT participant_id, wave, coalesce(substance, 'unknown'), coalesce(protocol, 'unknown'), "
        "coalesce(dose_band, 'unknown') FROM research.responses"
    ).fetchall():
        answers[(pid, wave)] = (substance, protocol, band)

    def in_cell(cell, substance, protocol, band):
        return cell[0] == substance and cell[1] in ("all", protocol) and cell[2] in ("all", band)

    for substance, protocol, band, wave, measure in rows:
        instrument, scale = measure.split("_", 1)
        cell = (substance, protocol, band)
        scored = {
            w: set(_scores(built, "r.wave = ? AND s.instrument = ? AND s.scale = ?", [w, instrument, scale]))
            for w in ("baseline", wave)
        }
        at_followup = {p for p in scored[wave] if in_cell(cell, *answers[(p, wave)])}
        pairs = {p for p in scored[wave] & scored["baseline"] if in_cell(cell, *answers[(p, "baseline")])}
        outside = len(at_followup ^ pairs)
        assert outside == 0 or outside >= min_cell, (cell, wave, measure, outside)


@pytest.mark.parametrize("order", [("b", "c"), ("c", "b")])
def test_complementary_suppression_does_not_depend_on_row_order(order):
    """Two published parts tie as the smallest: the one withheld is the first by name, whatever order the rows
    arrived in (a parallel join's order differs between runs; two releases of the same data must withhold alike)."""
    import duckdb

    conn = duckdb.connect()
    conn.execute(
        "CREATE TABLE t (substance TEXT, wave TEXT, measure TEXT, protocol TEXT, dose_band TEXT, n INT, suppressed BOOL)"
    )
    rows = {"all": 19, "a": 3, "b": 8, "c": 8}  # a is withheld (3 < 5): all - b - c = 3 would give it back
    for protocol in ("all", "a", *order):
        conn.execute(
            "INSERT INTO t VALUES ('lsd', 'baseline', 'phq9_total', ?, 'micro', ?, ?)",
            [protocol, rows[protocol], protocol == "a"],
        )
    added = exact.complementary_suppression(
        conn, "t", ["substance", "wave", "measure"], ["protocol", "dose_band"], "n", 5
    )
    withheld = {p for (p,) in conn.execute("SELECT protocol FROM t WHERE suppressed").fetchall()}
    assert (added, withheld) == (1, {"a", "b"})
