"""Attacks on the public tier, written as an attacker would run them, on the bundled sample.

Each attack is also run on exact aggregates (what the public tier published before disclosure control), where it
must succeed: that shows the attack has teeth, so its failure on the release means something.
"""

from __future__ import annotations

import statistics

import pytest

from pipelines.disclosure import release
from tests.disclosure.conftest import KEY, copy_into_memory

CELLS = ("grouping", "substance", "protocol", "dose_band", "wave")
N_TARGETS = 8


def published(conn, studies, key=KEY):
    release.build_public_tables(conn, studies, key)
    outcomes = {
        r[:6]: r[6:]
        for r in conn.execute(
            f"SELECT {', '.join(CELLS)}, measure, n_participants, n, mean, suppressed FROM public.outcomes"
        ).fetchall()
    }
    signals = {
        r[:6]: r[6:]
        for r in conn.execute(
            f"SELECT {', '.join(CELLS)}, signal, n_participants, n_assessed, n_flagged, suppressed "
            "FROM public.safety_signals"
        ).fetchall()
    }
    return outcomes, signals


def exact(conn):
    """The unprotected aggregates: exact n, mean and flagged counts for the same cells."""
    rows = conn.execute(
        """WITH b AS (SELECT coalesce(substance, 'unknown') AS substance, coalesce(protocol, 'unknown') AS protocol,
                             coalesce(dose_band, 'unknown') AS dose_band, wave, phq9_total, flag_phq9_item9
                      FROM research.responses)
           SELECT substance, coalesce(protocol, 'all'), coalesce(dose_band, 'all'), wave,
                  count(phq9_total), avg(phq9_total), count(*) FILTER (WHERE flag_phq9_item9)
           FROM b GROUP BY GROUPING SETS ((substance, protocol, dose_band, wave), (substance, protocol, wave),
                                          (substance, dose_band, wave), (substance, wave))"""
    ).fetchall()
    return {r[:4]: r[4:] for r in rows}


def target_cells(sub, prot, band, wave):
    yield ("substance_protocol_dose_band", sub, prot, band, wave), (sub, prot, band, wave)
    yield ("substance_protocol", sub, prot, "all", wave), (sub, prot, "all", wave)
    yield ("substance_dose_band", sub, "all", band, wave), (sub, "all", band, wave)
    yield ("substance", sub, "all", "all", wave), (sub, "all", "all", wave)


@pytest.fixture(scope="module")
def differencing(sample_warehouse, study):
    """Release with and without each of N_TARGETS participants (the 'one more participant in a new export')."""
    studies = {study.study: study}
    full = copy_into_memory(sample_warehouse)
    with_all = published(full, studies)
    exact_all = exact(full)
    targets = full.execute(
        """SELECT participant_id, wave, coalesce(substance, 'unknown'), coalesce(protocol, 'unknown'),
                  coalesce(dose_band, 'unknown'), phq9_total, flag_phq9_item9
           FROM research.responses WHERE phq9_total IS NOT NULL AND flag_phq9_item9 IS NOT NULL
           ORDER BY md5(participant_id || wave) LIMIT ?""",
        [N_TARGETS],
    ).fetchall()
    full.close()
    runs = []
    for pid, wave, *cell, phq9, flag in targets:
        conn = copy_into_memory(sample_warehouse)
        conn.execute("DELETE FROM research.responses WHERE participant_id = ? AND wave = ?", [pid, wave])
        runs.append(((*cell, wave), phq9, flag, published(conn, studies), exact(conn)))
        conn.close()
    return with_all, exact_all, runs


def test_differencing_two_releases_does_not_give_a_participants_score(differencing):
    (outcomes, _), exact_all, runs = differencing
    errors, exact_errors = [], []
    for cell, phq9, _, (without, _), exact_without in runs:
        for key, exact_key in target_cells(*cell):
            before, after = without[key + ("phq9_total",)], outcomes[key + ("phq9_total",)]
            if before[1] is not None and after[1] is not None:
                errors.append(after[1] * after[2] - before[1] * before[2] - phq9)
            n1, m1, _ = exact_without[exact_key]
            n2, m2, _ = exact_all[exact_key]
            exact_errors.append(n2 * m2 - n1 * m1 - phq9)
    assert max(abs(e) for e in exact_errors) < 1e-6  # unprotected: n x mean gives the score exactly
    assert len(errors) >= 20, "too few published cells to judge"
    within_one = sum(abs(e) <= 1 for e in errors) / len(errors)
    assert within_one <= 0.2, within_one  # PHQ-9 spans 0-27: a guess is within 1 point about 10 % of the time
    assert statistics.median(abs(e) for e in errors) >= 5


def test_differencing_safety_signals_does_not_reveal_a_flag(differencing):
    (_, signals), exact_all, runs = differencing
    guesses, exact_guesses = [], []
    for cell, _, flag, (_, without), exact_without in runs:
        for key, exact_key in target_cells(*cell):
            before, after = without[key + ("phq9_item9",)], signals[key + ("phq9_item9",)]
            if before[2] is not None and after[2] is not None:  # both releases publish the flagged count
                guesses.append((after[2] - before[2] >= 1) == flag)
            if before[3] != after[3]:  # it flipped between suppressed and published: the attacker's other clue
                guesses.append(after[3] is False and before[3] is True and flag)
            exact_guesses.append((exact_all[exact_key][2] - exact_without[exact_key][2] == 1) == flag)
    assert all(exact_guesses)  # unprotected: the flagged count moves by exactly the participant's flag
    base_rate = sum(flag for _, _, flag, _, _ in runs) / len(runs)
    accuracy = sum(guesses) / len(guesses)
    assert accuracy <= max(base_rate, 1 - base_rate) + 0.1, (accuracy, base_rate)


def test_which_figures_change_does_not_depend_on_the_answers(differencing):
    """One more participant re-draws every figure of their cells, flagged or not (whole-cell keys)."""
    (_, signals), _, runs = differencing
    changed = {True: [], False: []}
    for cell, _, flag, (_, without), _ in runs:
        for key, _ in target_cells(*cell):
            before, after = without[key + ("phq9_item9",)], signals[key + ("phq9_item9",)]
            if before[2] is not None and after[2] is not None:
                changed[flag].append(before[2] != after[2])
    not_flagged = changed[False]
    assert not_flagged and sum(not_flagged) / len(not_flagged) >= 0.5  # noise moved although the flag did not


def _truth(conn):
    return {
        r[:5]: r[5:]
        for r in conn.execute(
            """WITH b AS (SELECT coalesce(substance, 'unknown') AS substance, coalesce(protocol, 'unknown') AS protocol,
                             coalesce(dose_band, 'unknown') AS dose_band, wave, * EXCLUDE (substance, protocol, dose_band, wave)
                      FROM research.responses)
           SELECT substance, coalesce(protocol, 'all'), coalesce(dose_band, 'all'), wave, 'x',
                  count(*), count(phq9_total), min(phq9_total), max(phq9_total),
                  count(flag_lithium) FILTER (WHERE flag_lithium), count(flag_lithium) FILTER (WHERE NOT flag_lithium),
                  count(*) FILTER (WHERE flag_phq9_item9), count(*) FILTER (WHERE NOT flag_phq9_item9)
           FROM b GROUP BY GROUPING SETS ((substance, protocol, dose_band, wave), (substance, protocol, wave),
                                          (substance, dose_band, wave), (substance, wave))"""
        ).fetchall()
    }


def test_no_published_figure_rests_on_a_small_or_all_alike_cell(warehouse, study):
    """Judged against the truth computed here, independently of the release code's own bookkeeping."""
    published(warehouse, {study.study: study})
    truth = _truth(warehouse)
    rows = warehouse.execute(
        "SELECT substance, protocol, dose_band, wave, n_participants, n, mean FROM public.outcomes "
        "WHERE measure = 'phq9_total'"
    ).fetchall()
    checked = 0
    for sub, prot, band, wave, n_cell, _n, mean in rows:
        true = truth.get((sub, prot, band, wave, "x"))
        if n_cell is not None:
            assert true and true[0] >= 11
        if mean is not None:
            checked += 1
            assert true[1] >= 11 and true[2] < true[3]  # enough scores, and not all the same score
    assert checked >= 10
    flagged = warehouse.execute(
        "SELECT substance, protocol, dose_band, wave, signal, n_flagged FROM public.safety_signals "
        "WHERE n_flagged IS NOT NULL AND signal IN ('lithium', 'phq9_item9')"
    ).fetchall()
    for sub, prot, band, wave, signal, _ in flagged:
        true = truth[(sub, prot, band, wave, "x")]
        yes, no = (true[4], true[5]) if signal == "lithium" else (true[6], true[7])
        assert yes >= 11 and no >= 11


def test_zero_flagged_looks_like_few_flagged(warehouse, study):
    """The lithium attack: a cell flipping from '0 flagged' to suppressed. Zero is withheld like 1-10."""
    published(warehouse, {study.study: study})
    truth = _truth(warehouse)
    rows = warehouse.execute(
        "SELECT substance, protocol, dose_band, wave, n_flagged, suppressed FROM public.safety_signals "
        "WHERE signal = 'lithium'"
    ).fetchall()
    zero = [r for r in rows if (t := truth.get(tuple(r[:4]) + ("x",))) and t[0] >= 11 and t[4] == 0]
    assert zero, "the sample should have populated cells where nobody reports lithium"
    assert all(r[4] is None and r[5] for r in zero)


def test_a_withheld_count_does_not_follow_from_margins(warehouse, study):
    """Margin minus its published finer cells would give the withheld cells' total exactly, were counts exact."""
    published(warehouse, {study.study: study})
    truth = _truth(warehouse)
    cells = {
        tuple(r[:4]): r[4]
        for r in warehouse.execute(
            "SELECT substance, protocol, dose_band, wave, n_participants FROM public.outcomes WHERE measure = 'phq9_total'"
        ).fetchall()
    }
    exact_hits = attempts = 0
    for (sub, prot, band, wave), n in cells.items():
        if prot == "all" or band != "all" or n is None:
            continue
        finer = {k: v for k, v in cells.items() if k[0] == sub and k[1] == prot and k[3] == wave and k[2] != "all"}
        hidden = [k for k, v in finer.items() if v is None and truth.get(k + ("x",), (0,))[0] > 0]
        if not hidden:
            continue
        attempts += 1
        implied = n - sum(v for v in finer.values() if v is not None)
        exact_hits += implied == sum(truth[k + ("x",)][0] for k in hidden)
    assert attempts >= 5
    assert exact_hits / attempts <= 0.34, (exact_hits, attempts)


def test_equal_counts_of_a_cell_get_equal_noise(warehouse, study):
    """Publishing the same count many times (n_assessed of 7 signals) must not let noise be averaged away."""
    published(warehouse, {study.study: study})
    spread = warehouse.execute(
        """SELECT count(*) FROM (SELECT grouping, substance, protocol, dose_band, wave
                                 FROM public.safety_signals
                                 WHERE signal IN ('lithium', 'ssri_snri', 'maoi') AND n_assessed IS NOT NULL
                                 GROUP BY ALL HAVING count(DISTINCT n_assessed) > 1)"""
    ).fetchone()[0]
    assert spread == 0  # medication signals share one assessed count per cell, so they share its noise


def test_the_same_data_gives_the_same_release_and_another_key_another(sample_warehouse, study):
    studies = {study.study: study}
    releases = []
    for key in (KEY, KEY, bytes.fromhex("77" * 32)):
        conn = copy_into_memory(sample_warehouse)
        releases.append(published(conn, studies, key))
        conn.close()
    assert releases[0] == releases[1]
    assert releases[0] != releases[2]


def test_a_cell_with_exactly_its_margins_people_is_withheld_whole(study):
    """If all 15 LSD-analogue users are on Fadiman at the standard band, the finer cells would repeat the
    substance margin and show that every other protocol and band of LSD analogues is empty."""
    import duckdb

    from pipelines.warehouse.tables import ensure_tables

    conn = duckdb.connect()
    ensure_tables(conn)
    rows = [(f"a{i:03d}", "lsd_analogue", "fadiman", "standard", 5 + i % 7) for i in range(15)]
    rows += [
        (f"p{i:03d}", "psilocybin_mushrooms", ("fadiman", "stamets")[i % 2], "standard", i % 20) for i in range(40)
    ]
    conn.executemany(
        "INSERT INTO research.responses (study, participant_id, wave, substance, protocol, dose_band, "
        "phq9_total) VALUES ('microdose_mood', ?, 'baseline', ?, ?, ?, ?)",
        rows,
    )
    conn.execute("""INSERT INTO research.instrument_scores (study, participant_id, wave, instrument, scale, score)
                    SELECT study, participant_id, wave, 'phq9', 'total', phq9_total FROM research.responses""")
    release.build_public_tables(conn, {study.study: study}, KEY)
    got = {
        r[0]: r[1:]
        for r in conn.execute(
            """SELECT grouping, n_participants, n, suppressed FROM public.outcomes
           WHERE substance = 'lsd_analogue' AND wave = 'baseline' AND measure = 'phq9_total'
             AND protocol IN ('fadiman', 'all') AND dose_band IN ('standard', 'all')"""
        ).fetchall()
    }
    assert got["substance"][0] is not None and got["substance"][2] is False  # the margin is published
    for finer in ("substance_protocol", "substance_dose_band", "substance_protocol_dose_band"):
        assert got[finer] == (None, None, True), finer
    # psilocybin's cells hold different people from their margin: published as usual
    assert (
        conn.execute("""SELECT count(*) FROM public.outcomes WHERE substance = 'psilocybin_mushrooms'
                           AND grouping = 'substance_protocol' AND NOT suppressed""").fetchone()[0]
        == 2
    )
