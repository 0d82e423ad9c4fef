"""Every warehouse table, its columns and what they mean, declared once.

The DDL, the DuckDB column comments an analyst sees with `DESCRIBE`/`duckdb_columns()`, and the README's table
reference all come from these declarations, so the documentation cannot drift from the tables.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    doc: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    released_in: str | None = "research"  # the tier file it is released in (research, public); None = restricted only

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def _items(instrument: str, n: int, label: str) -> tuple[Column, ...]:
    return tuple(
        Column(f"{instrument}_item{i}", "TINYINT", f"{label} item {i}, recoded to 0-3; NULL if not answered")
        for i in range(1, n + 1)
    )


RESPONSES = Table(
    "research",
    "responses",
    "One row per participant and wave: pseudonymised, generalised, scored. No identifier, date or free text.",
    (
        Column("study", "VARCHAR", "study name (the study configuration's file name)"),
        Column(
            "participant_id",
            "VARCHAR",
            "HMAC-SHA256 pseudonym of the participant key, keyed by a secret outside the data (research_tier.duckdb has a second, tier-specific pseudonym)",
        ),
        Column("wave", "VARCHAR", "survey wave, e.g. baseline or followup_30d"),
        Column(
            "days_since_baseline",
            "INTEGER",
            "days from the participant's baseline response (research_tier.duckdb: rounded down to whole weeks, in days); NULL until the baseline is loaded",
        ),
        Column(
            "response_quarter",
            "VARCHAR",
            "calendar quarter of the response, e.g. 2025-Q2 (no finer date is kept); in research_tier.duckdb possibly a half-year (2025-H1) or year, see Privacy model",
        ),
        Column(
            "age_band",
            "VARCHAR",
            "age in bands 18-24 ... 65+ (top-coded); in research_tier.duckdb possibly 18-34/35-54/55+; NULL if not answered or withheld",
        ),
        Column(
            "gender",
            "VARCHAR",
            "gender category as mapped by the study; in research_tier.duckdb rare categories may read another_category; NULL if not answered or withheld",
        ),
        Column(
            "country",
            "VARCHAR",
            "country (nothing finer is loaded); in research_tier.duckdb possibly a world region; NULL if withheld",
        ),
        Column(
            "substance",
            "VARCHAR",
            "psilocybin_mushrooms, lsd or lsd_analogue (in research_tier.duckdb possibly lsd_or_analogue)",
        ),
        Column(
            "dose_amount",
            "DOUBLE",
            "normalised dose: grams of dried mushroom, or micrograms for LSD and analogues; withheld (NULL) in research_tier.duckdb",
        ),
        Column("dose_unit", "VARCHAR", "g or ug"),
        Column(
            "dose_status",
            "VARCHAR",
            "how the free-text dose was read: exact, range, unit_inferred, ambiguous, unparseable, missing",
        ),
        Column(
            "dose_range_low",
            "DOUBLE",
            "lower end when the dose was given as a range (dose_amount is the midpoint); withheld (NULL) in research_tier.duckdb",
        ),
        Column(
            "dose_range_high",
            "DOUBLE",
            "upper end when the dose was given as a range; withheld (NULL) in research_tier.duckdb",
        ),
        Column("dose_band", "VARCHAR", "very_low, standard, high_micro, above_micro (not a microdose) or unknown"),
        Column(
            "protocol",
            "VARCHAR",
            "canonical dosing protocol: fadiman, stamets, every_other_day, twice_weekly, daily, intuitive, other; unknown if not answered",
        ),
        Column(
            "days_on",
            "TINYINT",
            "dosing days per cycle, where the protocol has a fixed schedule; withheld (NULL) in research_tier.duckdb",
        ),
        Column(
            "days_off",
            "TINYINT",
            "days off per cycle, where the protocol has a fixed schedule; withheld (NULL) in research_tier.duckdb",
        ),
        Column(
            "stack_components",
            "VARCHAR[]",
            "stack components taken with the microdose, e.g. lions_mane, niacin; withheld (NULL) in research_tier.duckdb",
        ),
        Column(
            "medication_classes",
            "VARCHAR[]",
            "interacting medication classes reported: lithium, ssri, snri, maoi; empty = none of them; NULL = not answered; withheld (NULL) in research_tier.duckdb",
        ),
        *_items("phq9", 9, "PHQ-9"),
        Column("phq9_total", "TINYINT", "PHQ-9 total 0-27; NULL if any item is missing"),
        Column("phq9_band", "VARCHAR", "PHQ-9 severity: none_minimal, mild, moderate, moderately_severe, severe"),
        *_items("gad7", 7, "GAD-7"),
        Column("gad7_total", "TINYINT", "GAD-7 total 0-21; NULL if any item is missing"),
        Column("gad7_band", "VARCHAR", "GAD-7 severity: minimal, mild, moderate, severe"),
        Column(
            "flag_phq9_item9",
            "BOOLEAN",
            "safety signal: PHQ-9 item 9 (thoughts of self-harm) >= 1; NULL if not asked or answered",
        ),
        Column(
            "flag_qids_item12",
            "BOOLEAN",
            "safety signal: QIDS-SR16 item 12 (suicidal ideation) >= 1; NULL if not asked or answered",
        ),
        Column("flag_lithium", "BOOLEAN", "safety signal: lithium reported (seizure reports with psychedelics)"),
        Column("flag_ssri_snri", "BOOLEAN", "safety signal: an SSRI or SNRI reported"),
        Column("flag_maoi", "BOOLEAN", "safety signal: an MAOI reported"),
        Column(
            "flag_above_micro",
            "BOOLEAN",
            "safety signal: the dose is above the microdose range; NULL if unknown; in research_tier.duckdb withheld where its quasi-identifier is generalised",
        ),
        Column(
            "flag_daily_dosing",
            "BOOLEAN",
            "safety signal: daily dosing (tolerance builds fast); NULL if unknown; in research_tier.duckdb withheld where its quasi-identifier is generalised",
        ),
        Column(
            "source_file",
            "VARCHAR",
            "landing file the row was loaded from (see ops.ingested_files); withheld (NULL) in research_tier.duckdb",
        ),
        Column("loaded_at", "TIMESTAMP", "when the row was loaded (UTC); withheld (NULL) in research_tier.duckdb"),
    ),
    primary_key=("study", "participant_id", "wave"),
)

_KEY = (
    Column("study", "VARCHAR", "study name"),
    Column("participant_id", "VARCHAR", "pseudonym (see research.responses)"),
    Column("wave", "VARCHAR", "wave"),
)

INSTRUMENT_SCORES = Table(
    "research",
    "instrument_scores",
    "Every configured instrument's scores, one row per response and scale (e.g. dass21 depression_raw and depression_x2).",
    (
        *_KEY,
        Column(
            "instrument",
            "VARCHAR",
            "instrument as declared in pipelines/domain/instruments.yaml, e.g. phq9, dass21, swemwbs",
        ),
        Column(
            "scale",
            "VARCHAR",
            "total, or a subscale and its scale: depression_raw (plain sum), depression_x2 (x2, comparable with DASS-42 norms), raw, metric",
        ),
        Column("score", "DOUBLE", "the score; NULL if an item is missing and the instrument does not allow proration"),
        Column("band", "VARCHAR", "severity band for this scale, where the instrument defines bands on it"),
        Column("prorated", "BOOLEAN", "true when missing items were prorated as the declaration allows"),
    ),
)  # unique by construction (loaded with its response row); no index: bulk loads stay fast

INSTRUMENT_ITEMS = Table(
    "research",
    "instrument_items",
    "Item responses of every configured instrument except PHQ-9 and GAD-7 (whose items are columns of research.responses), recoded to the instrument's canonical range.",
    (
        *_KEY,
        Column("instrument", "VARCHAR", "instrument"),
        Column("item", "SMALLINT", "item number in questionnaire order (1-based)"),
        Column("value", "SMALLINT", "recoded item value; NULL if not answered (including Qualtrics -99)"),
    ),
)  # unique by construction, like instrument_scores

RESPONSE_DAYS = Table(
    "ops",
    "response_days",
    "Keyed, shifted day numbers per response, from which days_since_baseline is derived. Restricted: never published.",
    (
        Column("study", "VARCHAR", "study name"),
        Column("participant_id", "VARCHAR", "pseudonym"),
        Column("wave", "VARCHAR", "wave"),
        Column(
            "shifted_day",
            "INTEGER",
            "response day plus a keyed per-participant offset: intervals are exact, dates are not recoverable",
        ),
    ),
    primary_key=("study", "participant_id", "wave"),
    released_in=None,
)

QUARANTINE = Table(
    "ops",
    "quarantine",
    "Rows that failed validation: where and which check, never the value. Restricted (row positions in landing files).",
    (
        Column("study", "VARCHAR", "study name"),
        Column("file_name", "VARCHAR", "landing file"),
        Column("file_sha256", "VARCHAR", "SHA-256 of the landing file"),
        Column(
            "source_row",
            "BIGINT",
            "CSV record number in the file, header records included (the row a spreadsheet shows)",
        ),
        Column("column_name", "VARCHAR", "canonical field that failed (e.g. age, phq9_item3)"),
        Column("check_name", "VARCHAR", "name of the failed check"),
        Column("quarantined_at", "TIMESTAMP", "when the row was quarantined (UTC)"),
    ),
    released_in=None,
)

INGESTED_FILES = Table(
    "ops",
    "ingested_files",
    "Every landing file the pipeline has processed, once per content (SHA-256), with its row accounting.",
    (
        Column("study", "VARCHAR", "study name"),
        Column("file_name", "VARCHAR", "landing file name"),
        Column("file_sha256", "VARCHAR", "SHA-256 of the file's bytes"),
        Column("wave", "VARCHAR", "wave the file belongs to"),
        Column("status", "VARCHAR", "loaded, duplicate (same bytes already loaded) or failed"),
        Column("rows_read", "BIGINT", "responses read (header rows not counted)"),
        Column("rows_accepted", "BIGINT", "rows loaded into research.responses"),
        Column("rows_quarantined", "BIGINT", "rows that failed validation (see ops.quarantine)"),
        Column(
            "rows_excluded",
            "BIGINT",
            "rows that are not data: previews, tests, unfinished, no consent, not eligible, superseded duplicates",
        ),
        Column("excluded_by_reason", "MAP(VARCHAR, BIGINT)", "rows_excluded by reason"),
        Column(
            "rows_withdrawn",
            "BIGINT",
            "earlier-loaded responses this file removed: the participant is now excluded by a study filter (consent withdrawn, no longer eligible)",
        ),
        Column("error", "VARCHAR", "why a failed file failed (names the file, line and expectation; never a value)"),
        Column("processed_at", "TIMESTAMP", "when the file was processed (UTC)"),
    ),
    released_in=None,  # file names and times would date responses more finely than the research tier does
)

_CELL = (
    Column("study", "VARCHAR", "study name"),
    Column(
        "grouping",
        "VARCHAR",
        "which cells: substance_protocol_dose_band (finest), substance_protocol, substance_dose_band or substance; the dimensions a grouping leaves out read `all`",
    ),
    Column("substance", "VARCHAR", "substance (unknown if not answered)"),
    Column("protocol", "VARCHAR", "canonical dosing protocol, or `all`"),
    Column("dose_band", "VARCHAR", "dose band, or `all`"),
    Column("wave", "VARCHAR", "wave"),
    Column(
        "n_participants",
        "BIGINT",
        "participants in the cell, perturbed (cell-key noise); NULL when fewer than the minimum cell size",
    ),
)

_STAT_KEY = (
    Column("study", "VARCHAR", "study name"),
    Column(
        "grouping",
        "VARCHAR",
        "which cells: substance_protocol_dose_band (finest), substance_protocol, substance_dose_band or substance; the dimensions a grouping leaves out read `all`",
    ),
    Column("substance", "VARCHAR", "substance (unknown if not answered)"),
    Column("protocol", "VARCHAR", "canonical dosing protocol, or `all`"),
    Column("dose_band", "VARCHAR", "dose band, or `all`"),
)
_MEASURE = Column(
    "measure",
    "VARCHAR",
    "score summarised: instrument_scale, e.g. phq9_total, gad7_total, dass21_depression_x2, qids_sr16_total, wemwbs_total, swemwbs_metric (scales: research.instrument_scores)",
)
_PUBLIC_NOTE = (
    "Public: counts carry cell-key noise (within +-3), sums and sums of squares keyed Laplace noise, quantiles "
    "come from a keyed exponential mechanism; figures resting on fewer than 11 participants are withheld "
    "(NULL, suppressed = true), never shown as zero. See public.release_method."
)
_EXACT_NOTE = (
    "Exact figures (no noise) of every participant in the restricted warehouse; a cell resting on fewer than "
    "11 participants is withheld (NULL, suppressed = true), and so is the smallest other cell wherever a "
    "withheld cell could be worked out from a margin (complementary suppression)."
)


def _t_ci(what: str) -> tuple[Column, ...]:
    return (
        Column(
            "ci_low",
            "DOUBLE",
            f"95 % confidence interval of the {what}, lower end: t-based, mean - t(0.975, n-1) * sd / sqrt(n); public: widened by the noise's own variance",
        ),
        Column("ci_high", "DOUBLE", f"95 % confidence interval of the {what}, upper end"),
    )


def _rate(name: str, meaning: str) -> tuple[Column, ...]:
    return (
        Column(
            f"n_{name}", "BIGINT", f"pairs meeting {meaning}; NULL for scores without the criterion, or when withheld"
        ),
        Column(f"{name}_rate", "DOUBLE", f"n_{name} / n_pairs"),
        Column(f"{name}_ci_low", "DOUBLE", f"Wilson 95 % interval of {name}_rate, lower end"),
        Column(f"{name}_ci_high", "DOUBLE", f"Wilson 95 % interval of {name}_rate, upper end"),
    )


def _outcome_columns(public: bool) -> tuple[Column, ...]:
    first = _CELL if public else (*_STAT_KEY, Column("wave", "VARCHAR", "wave"))
    return (
        *first,
        _MEASURE,
        Column(
            "n", "BIGINT", "participants with this score" + (", perturbed" if public else "") + "; NULL when withheld"
        ),
        Column("mean", "DOUBLE", "mean score" + (" (noisy sum / published n, rounded to 0.1)" if public else "")),
        Column(
            "sd",
            "DOUBLE",
            "standard deviation (n - 1 denominator)" + (", from noisy sums, rounded to 0.1" if public else ""),
        ),
        Column(
            "median",
            "DOUBLE",
            "median"
            + (
                " (exponential mechanism on the score's whole points)"
                if public
                else " (linear interpolation, numpy's default)"
            ),
        ),
        Column("q1", "DOUBLE", "25th percentile (lower end of the IQR)"),
        Column("q3", "DOUBLE", "75th percentile (upper end of the IQR)"),
        *_t_ci("mean"),
        Column("suppressed", "BOOLEAN", "true when the cell's figures are withheld"),
    )


def _change_columns(public: bool) -> tuple[Column, ...]:
    return (
        *_STAT_KEY[:2],
        Column("substance", "VARCHAR", "substance reported at baseline"),
        Column("protocol", "VARCHAR", "protocol reported at baseline, or `all`"),
        Column("dose_band", "VARCHAR", "dose band reported at baseline, or `all`"),
        Column("wave", "VARCHAR", "follow-up wave compared with baseline"),
        _MEASURE,
        Column(
            "n_pairs",
            "BIGINT",
            "participants with the score at baseline and at this wave" + (", perturbed" if public else ""),
        ),
        Column(
            "mean_change",
            "DOUBLE",
            "mean of (follow-up - baseline) within participant; negative = lower score (for PHQ-9, GAD-7, QIDS, DASS: fewer symptoms)",
        ),
        Column("sd_change", "DOUBLE", "standard deviation of the within-participant change"),
        *_t_ci("mean change"),
        Column("cohens_dz", "DOUBLE", "Cohen's d_z: mean_change / sd_change (paired standardised effect size)"),
        Column(
            "change_in_baseline_sd",
            "DOUBLE",
            "mean_change / SD of the same participants' baseline scores (change in baseline-SD units)",
        ),
        Column("n_changed_protocol", "BIGINT", "pairs whose protocol at this wave differs from the one at baseline"),
        *_rate("response", "the response criterion (score drops by >= 50 % of a baseline above 0)"),
        *_rate("remission", "remission at follow-up (PHQ-9 < 5, QIDS-SR16 <= 5)"),
        *_rate("improved", "an improvement of >= 5 points"),
        Column("suppressed", "BOOLEAN", "true when the cell's figures are withheld"),
    )


def _attrition_columns(public: bool) -> tuple[Column, ...]:
    return (
        *_change_columns(public)[:7],
        Column("n_baseline", "BIGINT", "participants with the score at baseline"),
        Column("n_followed_up", "BIGINT", "of them, with the score at this wave"),
        Column("n_lost", "BIGINT", "of them, without the score at this wave (lost to follow-up)"),
        Column("baseline_mean_followed_up", "DOUBLE", "baseline mean of those followed up"),
        Column(
            "baseline_mean_lost",
            "DOUBLE",
            "baseline mean of those lost: a difference from the followed-up mean is selective drop-out",
        ),
        Column(
            "suppressed",
            "BOOLEAN",
            "true when the cell's figures are withheld (also when either group is below the minimum)",
        ),
    )


def _dose_key() -> tuple[Column, ...]:
    return (
        Column("study", "VARCHAR", "study name"),
        Column("grouping", "VARCHAR", "substance_protocol, or substance (protocol reads `all`)"),
        Column("substance", "VARCHAR", "substance (unknown if not answered)"),
        Column("protocol", "VARCHAR", "canonical dosing protocol, or `all`"),
        Column("wave", "VARCHAR", "wave"),
    )


def _dose_distribution_columns(public: bool) -> tuple[Column, ...]:
    q = (
        "(exponential mechanism on a fixed grid of candidate doses, dense in the microdose range; top-coded at 1 g / 50 ug)"
        if public
        else "(linear interpolation)"
    )
    return (
        *_dose_key(),
        Column("unit", "VARCHAR", "g (dried mushroom) or ug (LSD and analogues); NULL for unknown substance"),
        Column("n_responses", "BIGINT", "responses in the cell"),
        Column("n_with_dose", "BIGINT", "responses with a normalised dose (status exact, range or unit_inferred)"),
        *(Column(f"p{p}", "DOUBLE", f"{p}th percentile of the normalised dose {q}") for p in (10, 25, 50, 75, 90)),
        Column("suppressed", "BOOLEAN", "true when the quantiles are withheld"),
    )


def _dose_category_columns(public: bool) -> tuple[Column, ...]:
    return (
        *_dose_key(),
        Column("kind", "VARCHAR", "dose_band or dose_status"),
        Column(
            "category",
            "VARCHAR",
            "the band (very_low ... unknown) or the parse status (exact, range, unit_inferred, ambiguous, unparseable, missing)",
        ),
        Column("n", "BIGINT", "responses in the category" + (", perturbed" if public else "") + "; NULL when withheld"),
        Column(
            "share", "DOUBLE", "n / responses in the cell" + (" (both published, perturbed figures)" if public else "")
        ),
        Column("suppressed", "BOOLEAN", "true when n is withheld"),
    )


_OUTCOME_DOC = "Score summaries per cell and measure: n, mean, SD, median, IQR and the t-based 95 % CI of the mean, on every cell of the grid (substance x protocol x dose band x wave, and its margins)."
_CHANGE_DOC = "Change from baseline within participant, per follow-up wave, measure and baseline cell: n of pairs, mean and SD of the change, 95 % CI, Cohen's d_z, the change in baseline-SD units, and for PHQ-9 and QIDS-SR16 response, remission and >= 5-point improvement rates with Wilson 95 % intervals."
_ATTRITION_DOC = "Attrition per baseline cell, follow-up wave and measure: who was followed up, who was lost, and their baseline means, so selective drop-out shows."
_DOSE_DOC = "Normalised dose quantiles by substance, protocol and wave (on the substance's canonical unit)."
_DOSE_CAT_DOC = "Share of each dose band and dose parse status by substance, protocol and wave."


def _pair(name: str, doc: str, columns) -> tuple[Table, Table]:
    exact = Table("summary", name, f"{doc} {_EXACT_NOTE}", columns(False), released_in="research")
    public = Table("public", name, f"{doc} {_PUBLIC_NOTE}", columns(True), released_in="public")
    return exact, public


SUMMARY_OUTCOMES, OUTCOMES = _pair("outcomes", _OUTCOME_DOC, _outcome_columns)
SUMMARY_CHANGE, CHANGE = _pair("change_from_baseline", _CHANGE_DOC, _change_columns)
SUMMARY_ATTRITION, ATTRITION = _pair("attrition", _ATTRITION_DOC, _attrition_columns)
SUMMARY_DOSES, DOSES = _pair("dose_distribution", _DOSE_DOC, _dose_distribution_columns)
SUMMARY_DOSE_CATEGORIES, DOSE_CATEGORIES = _pair("dose_categories", _DOSE_CAT_DOC, _dose_category_columns)
SUMMARY_TABLES = (SUMMARY_OUTCOMES, SUMMARY_CHANGE, SUMMARY_ATTRITION, SUMMARY_DOSES, SUMMARY_DOSE_CATEGORIES)

SAFETY_SIGNALS = Table(
    "public",
    "safety_signals",
    "Safety signals per cell (participants, one response each per wave). Counts carry cell-key noise; the flagged count is withheld unless both the flagged and the not flagged clear a noisy threshold at or above 11.",
    (
        *_CELL,
        Column("signal", "VARCHAR", "phq9_item9, qids_item12, lithium, ssri_snri, maoi, above_micro or daily_dosing"),
        Column(
            "n_assessed",
            "BIGINT",
            "participants for whom the signal could be assessed (flag not NULL), perturbed; NULL when fewer than 11",
        ),
        Column("n_flagged", "BIGINT", "participants with the signal, perturbed; NULL when suppressed"),
        Column(
            "suppressed",
            "BOOLEAN",
            "true when n_flagged is withheld (too few flagged or too few not flagged, zero included)",
        ),
    ),
    released_in="public",
)

RELEASE_METHOD = Table(
    "public",
    "release_method",
    "How the public tables were protected, per study: the method and its parameters (the README's Privacy model).",
    (
        Column("study", "VARCHAR", "study name"),
        Column("parameter", "VARCHAR", "parameter name"),
        Column("value", "VARCHAR", "its value"),
        Column("meaning", "VARCHAR", "what it does"),
    ),
    released_in="public",
)

WITHDRAWALS = Table(
    "ops",
    "withdrawals",
    "Participants excluded by a study filter (no consent, consent withdrawn, not eligible) or named in a withdrawal list: every row of theirs up to that response was removed, in every wave and tier, and is never loaded again. Restricted: never released.",
    (
        Column("study", "VARCHAR", "study name"),
        Column(
            "participant_id",
            "VARCHAR",
            "pseudonym of the withdrawn participant, so that an older export loaded later cannot bring them back",
        ),
        Column(
            "shifted_day",
            "INTEGER",
            "keyed shifted day of the excluding response; responses up to this day are never loaded again (NULL: none are)",
        ),
        Column("source_file", "VARCHAR", "landing file that withdrew them"),
        Column("rows_removed", "BIGINT", "responses removed (all waves)"),
        Column("withdrawn_at", "TIMESTAMP", "when (UTC)"),
    ),
    released_in=None,
)

DATA_DICTIONARY = Table(
    "meta",
    "data_dictionary",
    "Every table and column of this file: schema, table, column, type and its documentation (units, coding, how derived). Written into each tier's file, listing that file's own tables.",
    (
        Column("schema_name", "VARCHAR", "schema (research, summary, public, ops, meta)"),
        Column("table_name", "VARCHAR", "table"),
        Column("table_description", "VARCHAR", "what the table holds"),
        Column("column_index", "INTEGER", "position of the column in the table (1-based)"),
        Column("column_name", "VARCHAR", "column"),
        Column("data_type", "VARCHAR", "DuckDB type"),
        Column("description", "VARCHAR", "what the column means: units, coding, how it is derived"),
    ),
    released_in=None,  # not a released table itself: each tier's file gets a dictionary of its own tables
)

ALL_TABLES = (
    RESPONSES,
    INSTRUMENT_SCORES,
    INSTRUMENT_ITEMS,
    RESPONSE_DAYS,
    QUARANTINE,
    INGESTED_FILES,
    WITHDRAWALS,
    *SUMMARY_TABLES,
    OUTCOMES,
    CHANGE,
    ATTRITION,
    DOSES,
    DOSE_CATEGORIES,
    SAFETY_SIGNALS,
    RELEASE_METHOD,
    DATA_DICTIONARY,
)
RESEARCH_TIER_TABLES = tuple(t for t in ALL_TABLES if t.released_in == "research")
PUBLIC_TIER_TABLES = tuple(t for t in ALL_TABLES if t.released_in == "public")
SCHEMAS = {
    "research": "Row-level, de-identified data",
    "summary": "Exact aggregates with suppression (research tier)",
    "ops": "Pipeline bookkeeping",
    "public": "Perturbed, suppressed aggregates",
}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_statements(table: Table, *, catalog: str | None = None) -> list[str]:
    """CREATE TABLE IF NOT EXISTS plus COMMENT statements for one table."""
    name = f"{catalog}.{table.qualified}" if catalog else table.qualified
    cols = ",\n  ".join(f"{c.name} {c.type}" for c in table.columns)
    pk = f",\n  PRIMARY KEY ({', '.join(table.primary_key)})" if table.primary_key else ""
    out = [f"CREATE TABLE IF NOT EXISTS {name} (\n  {cols}{pk}\n)", f"COMMENT ON TABLE {name} IS {_quote(table.doc)}"]
    out += [f"COMMENT ON COLUMN {name}.{c.name} IS {_quote(c.doc)}" for c in table.columns]
    return out


REBUILT_SCHEMAS = ("summary", "public", "meta")  # derived tables, rebuilt whole by every release


def ensure_tables(conn, *, catalog: str | None = None, tables=ALL_TABLES) -> None:
    """Create every schema and table that does not exist yet (idempotent). A derived table (summary.*, public.*)
    whose columns differ from its declaration, as after an upgrade, is dropped and recreated: the next release
    rebuilds it anyway."""
    prefix = f"{catalog}." if catalog else ""
    database = catalog or conn.execute("SELECT current_database()").fetchone()[0]
    for schema in {t.schema for t in tables}:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {prefix}{schema}")
    for table in tables:
        if table.schema in REBUILT_SCHEMAS:
            existing = [
                r[0]
                for r in conn.execute(
                    """SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = ?
                   AND table_name = ? ORDER BY column_index""",
                    [database, table.schema, table.name],
                ).fetchall()
            ]
            if existing and existing != column_names(table):
                conn.execute(f"DROP TABLE {prefix}{table.qualified}")
        for statement in create_statements(table, catalog=catalog):
            conn.execute(statement)


def write_data_dictionary(conn, *, catalog: str | None = None) -> None:
    """(Re)fill meta.data_dictionary of a database from its own catalog, so it lists exactly what the file holds."""
    prefix = f"{catalog}." if catalog else ""
    database = catalog or conn.execute("SELECT current_database()").fetchone()[0]
    ensure_tables(conn, catalog=catalog, tables=(DATA_DICTIONARY,))
    conn.execute(f"DELETE FROM {prefix}{DATA_DICTIONARY.qualified}")
    conn.execute(
        f"""INSERT INTO {prefix}{DATA_DICTIONARY.qualified}
            SELECT c.schema_name, c.table_name, t.comment, CAST(c.column_index AS INTEGER), c.column_name,
                   c.data_type, c.comment
            FROM duckdb_columns() c JOIN duckdb_tables() t USING (database_name, schema_name, table_name)
            WHERE c.database_name = ? ORDER BY c.schema_name, c.table_name, c.column_index""",
        [database],
    )


def column_names(table: Table) -> list[str]:
    return [c.name for c in table.columns]
