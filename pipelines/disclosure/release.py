"""The only writer of released data: the research tier (research_tier.duckdb) and the public tier (public/).

- research: research.* of the restricted warehouse, k-anonymous on each study's quasi-identifiers (kanonymity.py),
  with a tier-specific pseudonym, verified on the written file before it is renamed into place (mode 0640).
- public: aggregates only (public.outcomes, public.safety_signals, public.release_method), cell-key perturbed
  (perturbation.py) on a fixed grid of cells, written as DuckDB, Parquet and spreadsheet-safe CSV (mode 0644).
The public tables are built in the restricted warehouse first (so the check can compare them with the truth kept
there), then exported.
"""

from __future__ import annotations

import hmac
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.analysis import exact, inputs
from pipelines.analysis.cells import cell_grid
from pipelines.disclosure import kanonymity, perturbation, public_stats
from pipelines.settings import PUBLIC_TIER_FILE
from pipelines.warehouse.connect import transaction
from pipelines.warehouse.tables import (
    INSTRUMENT_ITEMS,
    INSTRUMENT_SCORES,
    PUBLIC_TIER_TABLES,
    RELEASE_METHOD,
    RESEARCH_TIER_TABLES,
    RESPONSES,
    SAFETY_SIGNALS,
    SUMMARY_TABLES,
    column_names,
    ensure_tables,
    write_data_dictionary,
)
from schemas.study_config import StudyConfig

RESEARCH_MODE, PUBLIC_MODE = 0o640, 0o644
# Columns beside the quasi-identifiers that would single people out (a red-team run matched half the sample to one
# person from dose amount, stack and follow-up timing): coarsened or withheld in the research tier.
RESEARCH_COARSENED = {"days_since_baseline": "CAST(floor(r.days_since_baseline / 7) * 7 AS INTEGER)"}
RESEARCH_WITHHELD = (
    "dose_amount",
    "dose_range_low",
    "dose_range_high",
    "days_on",
    "days_off",
    "stack_components",
    "medication_classes",
    "source_file",
    "loaded_at",
)
# Flags that restate a quasi-identifier: withheld whenever that identifier is generalised or withheld.
DERIVED_FROM_QI = {"protocol": ("flag_daily_dosing",), "dose_band": ("flag_above_micro",)}
SIGNALS = ("phq9_item9", "qids_item12", "lithium", "ssri_snri", "maoi", "above_micro", "daily_dosing")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _atomic_path(target: Path) -> Path:
    tmp = target.with_name(target.name + ".tmp")
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)
    return tmp


def research_pseudonym_salt(key: bytes) -> str:
    return hmac.digest(key, b"research-tier-pseudonym", "sha256").hex()


# --- research tier ------------------------------------------------------------------------------------------------


@dataclass
class ResearchReport:
    """Per study: the risk figures before and after treatment, and what the treatment did."""

    studies: dict[str, dict] = field(default_factory=dict)
    written: bool = False

    @property
    def passed(self) -> bool:
        return all(s["k_achieved_participants"] >= s["k"] or s["records"] == 0 for s in self.studies.values())


def write_research_tier(conn, target: Path, studies: dict[str, StudyConfig], key: bytes) -> ResearchReport:
    """Build research_tier.duckdb from the restricted warehouse, verify k on the file itself, then rename it into place.

    A study present in the warehouse but without a configuration is left out (and reported)."""
    ensure_tables(conn)
    target = Path(target)
    if not target.parent.exists():
        target.parent.mkdir(parents=True, mode=0o750)  # owner and the approved researchers' group
    tmp = _atomic_path(target)
    report = ResearchReport()
    salt = research_pseudonym_salt(key)
    conn.execute(f"ATTACH {_quote(str(tmp))} AS rt")
    try:
        ensure_tables(conn, catalog="rt", tables=RESEARCH_TIER_TABLES)
        present = [r[0] for r in conn.execute("SELECT DISTINCT study FROM research.responses ORDER BY 1").fetchall()]
        for study in present:
            if study not in studies:
                report.studies[study] = {
                    "k": 0,
                    "records": 0,
                    "k_achieved_participants": 0,
                    "left_out": "no study configuration",
                }
                continue
            report.studies[study] = _research_study(conn, study, studies[study], salt)
        with transaction(conn):  # one transaction writes one database: the warehouse's summaries, then the copy
            for table in SUMMARY_TABLES:
                conn.execute(f"DELETE FROM {table.qualified}")
            for study in present:
                if study in studies:
                    _exact_summaries(conn, study, studies[study])
        for table in SUMMARY_TABLES:
            conn.execute(f"INSERT INTO rt.{table.qualified} SELECT * FROM {table.qualified}")
        write_data_dictionary(conn, catalog="rt")
        conn.execute("DETACH rt")
    except BaseException:
        conn.execute("DETACH DATABASE IF EXISTS rt")
        tmp.unlink(missing_ok=True)
        raise
    if not report.passed:
        tmp.unlink(missing_ok=True)
        return report
    os.chmod(tmp, RESEARCH_MODE)
    os.replace(tmp, target)
    report.written = True
    return report


def _research_study(conn, study: str, config: StudyConfig, salt: str) -> dict:
    settings = config.disclosure
    qis = list(settings.quasi_identifiers)
    treatment = kanonymity.choose_generalisation(conn, study, settings)
    kanonymity.generalised_rows(conn, study, settings, treatment)
    cols = column_names(RESPONSES)
    levels = treatment.generalisation.levels
    derived = {flag: qi for qi, flags in DERIVED_FROM_QI.items() for flag in flags}
    select = []
    for c in cols:
        if c == "participant_id":
            select.append("sha256(? || r.participant_id)")
        elif c in qis:
            select.append(f"g.{c}")
        elif c in RESEARCH_WITHHELD:
            select.append("NULL")
        elif c in RESEARCH_COARSENED:
            select.append(RESEARCH_COARSENED[c])
        elif c in derived and derived[c] in qis:
            select.append("NULL" if levels[derived[c]] > 0 else f"CASE WHEN g.withheld THEN NULL ELSE r.{c} END")
        else:
            select.append(f"r.{c}")
    conn.execute(
        f"""INSERT INTO rt.research.responses ({", ".join(cols)})
            SELECT {", ".join(select)} FROM research.responses r
            JOIN dc_rows g ON g.participant_id = r.participant_id AND g.wave = r.wave
            WHERE r.study = ? AND g.kept""",
        [salt, study],
    )
    for table in (INSTRUMENT_SCORES.name, INSTRUMENT_ITEMS.name):
        tcols = column_names(INSTRUMENT_SCORES if table == INSTRUMENT_SCORES.name else INSTRUMENT_ITEMS)
        tselect = ", ".join("sha256(? || t.participant_id)" if c == "participant_id" else f"t.{c}" for c in tcols)
        conn.execute(
            f"""INSERT INTO rt.research.{table} ({", ".join(tcols)})
                SELECT {tselect} FROM research.{table} t
                JOIN dc_rows g ON g.participant_id = t.participant_id AND g.wave = t.wave
                WHERE t.study = ? AND g.kept""",
            [salt, study],
        )
    changed = " OR ".join(f"g.{qi} IS DISTINCT FROM r.{qi}" for qi in qis)
    generalised, withheld, removed = conn.execute(
        f"""SELECT count(*) FILTER (WHERE g.kept AND NOT g.withheld AND ({changed})),
                   count(*) FILTER (WHERE g.kept AND g.withheld), count(*) FILTER (WHERE NOT g.kept)
            FROM dc_rows g JOIN research.responses r ON r.participant_id = g.participant_id AND r.wave = g.wave
            WHERE r.study = ?""",
        [study],
    ).fetchone()
    after = kanonymity.risk_figures(conn, "rt.research.responses", study, qis)
    conn.execute("DROP TABLE dc_rows")
    conn.execute("DROP TABLE dc_sig0")
    return {
        "k": settings.k,
        "quasi_identifiers": qis,
        "generalisation": treatment.generalisation.describe(),
        "records_before": treatment.records_before,
        "classes_below_k_before": treatment.classes_below_k_before,
        "records_below_k_before": treatment.records_below_k_before,
        "sample_unique_share_before": treatment.sample_unique_before,
        "records_generalised": int(generalised),
        "records_identifiers_withheld": int(withheld),
        "records_removed": int(removed),
        "columns_withheld": list(RESEARCH_WITHHELD),
        "columns_coarsened": {"days_since_baseline": "whole weeks"},
        **after,
    }


def _exact_summaries(conn, study: str, config: StudyConfig) -> None:
    """summary.* of one study: exact statistics with primary and complementary suppression (pipelines/analysis)."""
    measures = inputs.build_inputs(conn, study, config)
    waves = inputs.study_waves(conn, config, study)
    followups = [w for w in waves if w != config.baseline_wave]
    exact.build_exact(conn, study, waves, [m.name for m in measures], followups, config.disclosure.min_cell)
    inputs.drop_inputs(conn)


# --- public tier --------------------------------------------------------------------------------------------------


@dataclass
class PublicReport:
    """What the public tables hold and what was withheld, per table; the truth stays in the restricted warehouse."""

    tables: dict[str, dict] = field(default_factory=dict)
    parameters: dict[str, dict] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(t["published_below_min_cell"] == 0 and t["published_all_same"] == 0 for t in self.tables.values())


def build_public_tables(conn, studies: dict[str, StudyConfig], key: bytes) -> PublicReport:
    """Rebuild public.* in the restricted warehouse from research.responses, in one transaction."""
    ensure_tables(conn)
    report = PublicReport()
    salt = perturbation.record_key_salt(key)
    present = [r[0] for r in conn.execute("SELECT DISTINCT study FROM research.responses ORDER BY 1").fetchall()]
    with transaction(conn):
        for table in PUBLIC_TIER_TABLES:
            conn.execute(f"DELETE FROM {table.qualified}")
        public_stats.create_truth_table(conn)
        conn.execute(
            "CREATE OR REPLACE TEMP TABLE dc_truth_signals (study VARCHAR, min_cell INTEGER, grouping VARCHAR, "
            "n BIGINT, flagged BIGINT, not_flagged BIGINT, published BOOLEAN)"
        )
        for study in present:
            if study in studies:
                report.parameters[study] = _public_study(conn, study, studies[study], salt)
        report.tables = _public_figures(conn)
        write_data_dictionary(conn)
        report.rows = {
            t.qualified: conn.execute(f"SELECT count(*) FROM {t.qualified}").fetchone()[0] for t in PUBLIC_TIER_TABLES
        }
    return report


def _public_study(conn, study: str, config: StudyConfig, salt: str) -> dict:
    settings = config.disclosure
    perturbation.install_macros(conn, settings)
    signal_aggs = ", ".join(
        f"count(flag_{s}) AS {s}_assessed, count(*) FILTER (WHERE flag_{s}) AS {s}_flagged" for s in SIGNALS
    )
    waves = inputs.study_waves(conn, config, study)
    measures = inputs.build_inputs(conn, study, config)
    public_stats.build_public_statistics(
        conn, study, settings, measures, waves, [w for w in waves if w != config.baseline_wave], salt
    )
    inputs.drop_inputs(conn)
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE dc_signal_rows AS
            SELECT coalesce(substance, 'unknown') AS substance, coalesce(protocol, 'unknown') AS protocol,
                   coalesce(dose_band, 'unknown') AS dose_band, wave, dc_record_key(?, participant_id) AS record_key,
                   {", ".join("flag_" + s for s in SIGNALS)}
            FROM research.responses WHERE study = ?""",
        [salt, study],
    )
    # one row per participant and wave: n counts participants
    public_stats.cell_table(
        conn,
        "dc_cells",
        "dc_signal_rows",
        ("protocol", "dose_band"),
        ["substance", "wave"],
        cell_grid(waves),
        f"count(*) AS n, {signal_aggs}",
        "n",
    )
    conn.execute("DROP TABLE dc_signal_rows")
    min_cell = settings.min_cell
    for signal in SIGNALS:
        a, f = f"{signal}_assessed", f"{signal}_flagged"
        ok = (
            f"({a} >= {min_cell} AND NOT same_as_margin AND dc_sensitive_ok({f}, cell_key, '{signal}:flagged') "
            f"AND dc_sensitive_ok({a} - {f}, cell_key, '{signal}:not_flagged'))"
        )
        conn.execute(
            f"""INSERT INTO public.safety_signals ({", ".join(column_names(SAFETY_SIGNALS))})
                SELECT ?, grouping, substance, protocol, dose_band, wave,
                       CASE WHEN NOT same_as_margin THEN dc_count(n, cell_key) END, ?,
                       CASE WHEN NOT same_as_margin THEN dc_count(coalesce({a}, 0), cell_key) END, CASE WHEN {ok} THEN dc_count({f}, cell_key) END,
                       NOT coalesce({ok}, false)
                FROM dc_cells""",
            [study, signal],
        )
        conn.execute(
            f"""INSERT INTO dc_truth_signals SELECT ?, {min_cell}, grouping, n, {f}, {a} - {f}, coalesce({ok}, false)
                FROM dc_cells""",
            [study],
        )
    conn.execute("DROP TABLE dc_cells")
    parameters = {
        "method": (
            "cell-key perturbation (ONS)",
            "every figure takes its noise from a secret key of the cell's participants",
        ),
        "min_cell": (str(min_cell), "no count, mean or flagged count rests on fewer participants"),
        "count_noise_max": (str(settings.count_noise_max), "counts move by at most this many, either way"),
        "count_noise_sd": (f"{perturbation.count_noise_sd(settings):.2f}", "standard deviation of the count noise"),
        "mean_epsilon": (
            str(settings.mean_epsilon),
            "sums get Laplace noise of scale score range / epsilon before the mean",
        ),
        "mean_rounding": ("0.1", "means and SDs are rounded to one decimal"),
        "sd_method": (
            "noisy sum and sum of squares",
            "each with Laplace noise of scale (range, or range squared) / epsilon",
        ),
        "quantile_method": (
            "exponential mechanism",
            f"medians, quartiles and dose quantiles: candidates on a fixed grid, epsilon {settings.mean_epsilon} each",
        ),
        "confidence_intervals": (
            "t-based, widened by the noise",
            "from the published figures plus the variance of the mean's noise",
        ),
        "rates": ("noisy threshold", "response, remission and improvement counts follow the sensitive-count rule"),
        "epsilon_per_cell_and_measure": (
            str(6 * settings.mean_epsilon),
            "outcomes: mean, SD (two sums), median, q1, q3 (each epsilon); see README",
        ),
        "sensitive_threshold": (
            str(min_cell + settings.count_noise_max),
            "flagged and not-flagged counts are published only when count + noise reaches this",
        ),
    }
    conn.executemany(
        f"INSERT INTO public.release_method ({', '.join(column_names(RELEASE_METHOD))}) VALUES (?, ?, ?, ?)",
        [(study, name, value, meaning) for name, (value, meaning) in parameters.items()],
    )
    return {name: value for name, (value, _) in parameters.items()}


FIGURES = (
    "cells",
    "cells_published",
    "primary_suppressions",
    "secondary_suppressions",
    "smallest_published_count",
    "published_below_min_cell",
    "published_all_same",
)


def _public_figures(conn) -> dict[str, dict]:
    """For the checks: per table, figures, suppressions and the smallest published count, measured against the
    truth (the count each published figure rests on: for a rate, the smaller of those meeting and not meeting it)."""
    out = {}
    for (table,) in conn.execute("SELECT DISTINCT split_part(table_name, ':', 1) FROM dc_truth ORDER BY 1").fetchall():
        row = conn.execute(
            """SELECT count(*), count(*) FILTER (WHERE published),
                      count(*) FILTER (WHERE n BETWEEN 1 AND min_cell - 1),
                      count(*) FILTER (WHERE NOT published AND n >= min_cell),
                      min(n) FILTER (WHERE published),
                      count(*) FILTER (WHERE published AND n < min_cell),
                      count(*) FILTER (WHERE published AND all_same)
               FROM dc_truth WHERE split_part(table_name, ':', 1) = ?""",
            [table],
        ).fetchone()
        out[table] = dict(zip(FIGURES, row))
    row = conn.execute(
        """SELECT count(*), count(*) FILTER (WHERE published),
                  count(*) FILTER (WHERE NOT published AND (flagged < min_cell OR not_flagged < min_cell)),
                  count(*) FILTER (WHERE NOT published AND flagged >= min_cell AND not_flagged >= min_cell),
                  least(min(flagged) FILTER (WHERE published), min(not_flagged) FILTER (WHERE published)),
                  count(*) FILTER (WHERE published AND (flagged < min_cell OR not_flagged < min_cell)),
                  count(*) FILTER (WHERE published AND (flagged = 0 OR not_flagged = 0))
           FROM dc_truth_signals"""
    ).fetchone()
    out["public.safety_signals"] = dict(zip(FIGURES, row))
    coverage = conn.execute(
        """SELECT grouping, sum(n) FILTER (WHERE published) / nullif(sum(n), 0) FROM dc_truth
           WHERE table_name = 'public.outcomes' GROUP BY grouping ORDER BY grouping"""
    ).fetchall()
    if "public.outcomes" in out:
        out["public.outcomes"]["responses_in_a_published_cell"] = {g: round(float(s or 0), 3) for g, s in coverage}
    return out


def write_public_tier(conn, public_dir: Path) -> list[str]:
    """Export public.* to public_dir: public_tier.duckdb, and a Parquet and a spreadsheet-safe CSV per table.

    Written to a new folder and swapped in, so a reader never sees half a release."""
    public_dir = Path(public_dir)
    public_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = public_dir.with_name(public_dir.name + ".tmp")
    old = public_dir.with_name(public_dir.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    tmp.mkdir(mode=0o755)
    database = tmp / PUBLIC_TIER_FILE
    conn.execute(f"ATTACH {_quote(str(database))} AS pub")
    written = []
    try:
        ensure_tables(conn, catalog="pub", tables=PUBLIC_TIER_TABLES)
        for table in PUBLIC_TIER_TABLES:
            cols = column_names(table)
            conn.execute(
                f"INSERT INTO pub.{table.qualified} ({', '.join(cols)}) "
                f"SELECT {', '.join(cols)} FROM {table.qualified} ORDER BY ALL"
            )
            order = "ORDER BY ALL"
            parquet = tmp / f"{table.name}.parquet"
            descriptions = {
                "table": table.qualified,
                "description": table.doc,
                **{f"column:{c.name}": c.doc for c in table.columns},
            }
            kv = ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in descriptions.items())
            conn.execute(
                f"COPY (SELECT {', '.join(cols)} FROM {table.qualified} {order}) TO {_quote(str(parquet))} "
                f"(FORMAT parquet, KV_METADATA {{{kv}}})"
            )
            safe = ", ".join(_formula_safe(c.name) if c.type == "VARCHAR" else c.name for c in table.columns)
            csv = tmp / f"{table.name}.csv"
            conn.execute(
                f"COPY (SELECT {safe} FROM {table.qualified} {order}) TO {_quote(str(csv))} (HEADER, DELIMITER ',')"
            )
            written += [parquet.name, csv.name]
        write_data_dictionary(conn, catalog="pub")
    finally:
        conn.execute("DETACH DATABASE IF EXISTS pub")
    for path in tmp.iterdir():
        os.chmod(path, PUBLIC_MODE)
    if public_dir.exists():
        os.replace(public_dir, old)
    os.replace(tmp, public_dir)
    shutil.rmtree(old, ignore_errors=True)
    return [PUBLIC_TIER_FILE, *written]


def _formula_safe(column: str) -> str:
    """A text cell a spreadsheet would run as a formula (=, +, -, @, tab, CR) gets a leading apostrophe."""
    return f"CASE WHEN regexp_matches({column}, '^[=+\\-@\\t\\r]') THEN '''' || {column} ELSE {column} END AS {column}"
