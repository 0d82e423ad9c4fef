"""The research tier is k-anonymous on the study's quasi-identifiers: measured on the written file, by our own
independent SQL and by pycanon, on the sample and on a synthetic 100k-participant study."""

from __future__ import annotations

import time

import duckdb
import pytest

from pipelines.disclosure import kanonymity, release
from tests import privacy_tools
from tests.disclosure.conftest import KEY

QIS = ["age_band", "gender", "country", "substance", "response_quarter", "protocol", "dose_band"]


def research_rows(path, columns=QIS):
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(f"SELECT participant_id, wave, {', '.join(columns)} FROM research.responses").df()


def smallest_classes(path, qis=QIS) -> tuple[int, int]:
    """(smallest row class, smallest participant class over all their waves), computed here from scratch."""
    with duckdb.connect(str(path), read_only=True) as conn:
        rows = conn.execute(
            f"SELECT min(n) FROM (SELECT count(*) n FROM research.responses GROUP BY {', '.join(qis)})"
        ).fetchone()[0]
        people = conn.execute(
            f"""SELECT min(n) FROM (SELECT count(*) n FROM (
                    SELECT participant_id, string_agg(concat_ws('|', wave, {", ".join(qis)}), '#' ORDER BY wave) s
                    FROM research.responses GROUP BY participant_id) GROUP BY s)"""
        ).fetchone()[0]
    return rows, people


def test_sample_research_tier_is_k_anonymous(warehouse, study, tmp_path):
    target = tmp_path / "research_tier.duckdb"
    report = release.write_research_tier(warehouse, target, {study.study: study}, KEY)
    figures = report.studies[study.study]
    assert report.written and report.passed and target.exists()
    assert oct(target.stat().st_mode & 0o777) == "0o640"
    assert smallest_classes(target) >= (5, 5)
    # what the issue measured before: many baseline respondents unique on these identifiers
    assert figures["sample_unique_share_before"] > 0.2 and figures["classes_below_k_before"] > 0
    assert figures["sample_unique_share"] == 0 and figures["k_achieved_participants"] >= 5
    assert figures["records"] + figures["records_removed"] == figures["records_before"]
    assert figures["records_identifiers_withheld"] + figures["records_removed"] <= 0.05 * figures["records_before"]
    assert figures["max_reidentification_risk"] <= 0.2
    # columns that would single people out beside the quasi-identifiers are withheld or coarsened, bookkeeping stays
    withheld = list(release.RESEARCH_WITHHELD)
    with duckdb.connect(str(target), read_only=True) as conn:
        filled = conn.execute(f"SELECT {', '.join(f'count({c})' for c in withheld)} FROM research.responses").fetchone()
        assert dict(zip(withheld, filled)) == {c: 0 for c in withheld}
        assert (
            conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE days_since_baseline % 7 = 0) "
                "FROM research.responses WHERE days_since_baseline IS NOT NULL"
            ).fetchone()[0]
            > 100
        )
        assert conn.execute("SELECT bool_and(days_since_baseline % 7 = 0) FROM research.responses").fetchone()[0]
        assert (
            conn.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE schema_name NOT IN ('research', 'summary', 'meta')"
            ).fetchone()[0]
            == 0
        )
        if figures["generalisation"]["protocol"] != "protocol":
            assert conn.execute("SELECT count(flag_daily_dosing) FROM research.responses").fetchone()[0] == 0
    # the tier's pseudonyms are its own: they do not match the restricted warehouse's
    with duckdb.connect(str(target), read_only=True) as conn:
        ids = {r[0] for r in conn.execute("SELECT participant_id FROM research.responses").fetchall()}
        score_ids = {r[0] for r in conn.execute("SELECT participant_id FROM research.instrument_scores").fetchall()}
    restricted = {r[0] for r in warehouse.execute("SELECT participant_id FROM research.responses").fetchall()}
    assert ids and not ids & restricted and score_ids <= ids


def test_pycanon_agrees_on_k(warehouse, study, tmp_path):
    privacy_tools.require_pycanon()
    target = tmp_path / "research_tier.duckdb"
    release.write_research_tier(warehouse, target, {study.study: study}, KEY)
    assert privacy_tools.pycanon_k(research_rows(target), QIS) >= 5
    # and on the untreated rows it finds what the issue found: unique respondents
    raw = warehouse.execute(f"SELECT {', '.join(QIS)} FROM research.responses WHERE wave = 'baseline'").df()
    assert privacy_tools.pycanon_k(raw, QIS) == 1


def test_a_unique_participant_is_withheld_not_published(tmp_path, study):
    conn = duckdb.connect()
    from pipelines.warehouse.tables import ensure_tables

    ensure_tables(conn)
    rows = [(f"p{i:03d}", "35-44", "woman", "Germany", "lsd", "2025-Q2") for i in range(30)]
    rows += [("loner", "65+", "non_binary", "Australia", "lsd_analogue", "2024-Q1")]
    conn.executemany(
        "INSERT INTO research.responses (study, participant_id, wave, age_band, gender, country, substance, "
        "response_quarter) VALUES ('microdose_mood', ?, 'baseline', ?, ?, ?, ?, ?)",
        rows,
    )
    report = release.write_research_tier(conn, tmp_path / "r.duckdb", {study.study: study}, KEY)
    figures = report.studies[study.study]
    assert figures["records_removed"] + figures["records_identifiers_withheld"] == 1
    # nothing was generalised for the 30 who were safe already: the finest node meets the budget
    assert set(figures["generalisation"].values()) <= {
        "10-year band",
        "category",
        "country",
        "substance",
        "quarter",
        "protocol",
        "band",
    }
    with duckdb.connect(str(tmp_path / "r.duckdb"), read_only=True) as out:
        assert (
            out.execute(
                "SELECT count(*) FROM research.responses WHERE country = 'Australia' OR age_band = '65+'"
            ).fetchone()[0]
            == 0
        )


def test_a_file_that_fails_its_check_is_never_put_in_place(warehouse, study, tmp_path, monkeypatch):
    target = tmp_path / "research_tier.duckdb"
    target.write_bytes(b"previous release")
    original = kanonymity.generalised_rows

    def untreated(conn, study_name, settings, treatment):  # a bug that forgot to treat anyone
        finest = kanonymity.Generalisation({q: 0 for q in settings.quasi_identifiers}, 0.0, 0, 0)
        original(
            conn,
            study_name,
            settings.model_copy(update={"k": 1}),
            kanonymity.Treatment(finest, treatment.common_genders, 0, 0, 0, 0.0),
        )

    monkeypatch.setattr(kanonymity, "generalised_rows", untreated)
    report = release.write_research_tier(warehouse, target, {study.study: study}, KEY)
    assert not report.passed and not report.written
    assert target.read_bytes() == b"previous release"
    assert not target.with_name("research_tier.duckdb.tmp").exists()


def synthetic_study(conn, participants: int, seed: float = 0.42) -> None:
    """research.responses of a large study with the sample's kind of skew (few countries dominate, rare genders)."""
    from pipelines.warehouse.tables import ensure_tables

    ensure_tables(conn)
    conn.execute(f"SELECT setseed({seed})")
    conn.execute(
        f"""CREATE TEMP TABLE people AS SELECT i, random() AS a, random() AS g, random() AS c, random() AS s,
                   floor(random() * 8)::INT AS q, random() AS f, random() AS p, random() AS d
            FROM range({participants}) t(i)"""
    )
    people = """
        CASE WHEN a < 0.25 THEN '18-24' WHEN a < 0.55 THEN '25-34' WHEN a < 0.77 THEN '35-44' WHEN a < 0.90 THEN '45-54'
             WHEN a < 0.97 THEN '55-64' ELSE '65+' END,
        CASE WHEN g < 0.40 THEN 'woman' WHEN g < 0.92 THEN 'man' WHEN g < 0.98 THEN 'non_binary' ELSE 'not_disclosed' END,
        CASE WHEN c < 0.45 THEN 'United States' WHEN c < 0.60 THEN 'Canada' WHEN c < 0.75 THEN 'United Kingdom'
             WHEN c < 0.85 THEN 'Germany' WHEN c < 0.92 THEN 'Netherlands' WHEN c < 0.97 THEN 'Australia' ELSE 'other' END,
        CASE WHEN s < 0.6 THEN 'psilocybin_mushrooms' WHEN s < 0.92 THEN 'lsd' ELSE 'lsd_analogue' END,
        CASE WHEN p < 0.35 THEN 'fadiman' WHEN p < 0.55 THEN 'stamets' WHEN p < 0.75 THEN 'intuitive'
             WHEN p < 0.83 THEN 'every_other_day' WHEN p < 0.90 THEN 'twice_weekly' WHEN p < 0.95 THEN 'daily' ELSE 'other' END,
        CASE WHEN d < 0.15 THEN 'very_low' WHEN d < 0.70 THEN 'standard' WHEN d < 0.90 THEN 'high_micro'
             WHEN d < 0.95 THEN 'above_micro' ELSE 'unknown' END"""
    quarter = "(2024 + {q} // 4)::VARCHAR || '-Q' || ({q} % 4 + 1)::VARCHAR"
    conn.execute(
        f"""INSERT INTO research.responses (study, participant_id, wave, age_band, gender, country, substance, protocol,
                                              dose_band, response_quarter)
            SELECT 'microdose_mood', md5(i::VARCHAR), 'baseline', {people}, {quarter.format(q="q")} FROM people"""
    )
    conn.execute(
        f"""INSERT INTO research.responses (study, participant_id, wave, age_band, gender, country, substance, protocol,
                                              dose_band, response_quarter)
            SELECT 'microdose_mood', md5(i::VARCHAR), 'followup_30d', {people},
                   {quarter.format(q="least(q + (f < 0.3)::INT, 7)")} FROM people WHERE f < 0.7"""
    )


@pytest.fixture(scope="module")
def large_release(tmp_path_factory, study):
    conn = duckdb.connect()
    conn.execute("SET memory_limit = '1GB'")
    synthetic_study(conn, 100_000)
    target = tmp_path_factory.mktemp("large") / "research_tier.duckdb"
    started = time.perf_counter()
    report = release.write_research_tier(conn, target, {study.study: study}, KEY)
    elapsed = time.perf_counter() - started
    loaded = conn.execute("SELECT count(*) FROM research.responses").fetchone()[0]
    conn.close()
    return target, report.studies[study.study], report.written, loaded, elapsed


def test_a_100k_participant_study_is_k_anonymous_and_keeps_the_analysis_variables(large_release):
    target, figures, written, loaded, elapsed = large_release
    assert written and smallest_classes(target) >= (5, 5)
    assert figures["records"] + figures["records_removed"] == figures["records_before"] == loaded
    assert figures["records_identifiers_withheld"] + figures["records_removed"] <= 0.05 * loaded
    withheld = {qi for qi, level in figures["generalisation"].items() if level == "withheld"}
    # a large study keeps substance, protocol and dose band (weighted highest) and some demographics
    assert not withheld & {"substance", "protocol", "dose_band"} and len(withheld) <= 3, figures["generalisation"]
    print(f"100k participants: research tier in {elapsed:.1f} s, {figures['generalisation']}")


def test_pycanon_agrees_on_the_100k_study(large_release):
    privacy_tools.require_pycanon()
    assert privacy_tools.pycanon_k(research_rows(large_release[0]), QIS) >= 5


def test_anonymeter_finds_little_singling_out_or_linkage_risk(warehouse, study, tmp_path):
    """Release half the sample's participants; the other half is anonymeter's control set."""
    privacy_tools.require_anonymeter()
    released_half = "('0', '1', '2', '3', '4', '5', '6', '7')"
    control = warehouse.execute(
        f"SELECT {', '.join(QIS)} FROM research.responses WHERE wave = 'baseline' "
        f"AND left(md5(participant_id), 1) NOT IN {released_half}"
    ).df()
    warehouse.execute(f"DELETE FROM research.responses WHERE left(md5(participant_id), 1) NOT IN {released_half}")
    original = warehouse.execute(f"SELECT {', '.join(QIS)} FROM research.responses WHERE wave = 'baseline'").df()
    target = tmp_path / "research_tier.duckdb"
    release.write_research_tier(warehouse, target, {study.study: study}, KEY)
    with duckdb.connect(str(target), read_only=True) as conn:
        treated = conn.execute(f"SELECT {', '.join(QIS)} FROM research.responses WHERE wave = 'baseline'").df()
    risks = privacy_tools.anonymeter_risks_many(
        original, {"raw": original, "research_tier": treated}, control, aux_cols=(QIS[:2], QIS[2:]), n_attacks=100
    )
    raw, tier = risks["raw"], risks["research_tier"]
    print("anonymeter", {k: (v["singling_out_risk"], v["linkability_risk"]) for k, v in risks.items()})
    assert raw["singling_out_risk"] > 0.3  # releasing the rows as loaded singles people out
    assert tier["singling_out_risk"] <= 0.1
    # linkability is low for both on a sample this small, and anonymeter's random baseline cannot be seeded
    # (seen 0.0-0.14 for the tier over runs): a loose bound, not a measurement
    assert tier["linkability_risk"] <= 0.3
