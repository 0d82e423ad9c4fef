"""Loading one staged file into the warehouse, in one transaction, and recording every file's fate.

A file is identified by its bytes (SHA-256): the same bytes load once, under any name. Within a file, a
participant who answered the same wave twice keeps the latest response; the earlier one is counted as excluded.
A later file replaces a participant's earlier row for the same wave (exports are usually cumulative). On any
error the transaction is rolled back, so the warehouse is as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.ingest.process import FileOutcome
from pipelines.warehouse.connect import transaction
from pipelines.warehouse.tables import (
    INGESTED_FILES,
    INSTRUMENT_ITEMS,
    INSTRUMENT_SCORES,
    RESPONSES,
    column_names,
    ensure_tables,
)

_RESEARCH_COLUMNS = column_names(RESPONSES)


@dataclass(frozen=True)
class LoadResult:
    status: str  # loaded | duplicate
    rows_accepted: int
    rows_excluded: int
    duplicate_of: str | None = None
    rows_withdrawn: int = 0


def already_loaded(conn, sha256: str) -> str | None:
    """The name under which these bytes were loaded, if they were."""
    ensure_tables(conn)
    row = conn.execute(
        "SELECT file_name FROM ops.ingested_files WHERE file_sha256 = ? AND status = 'loaded' LIMIT 1", [sha256]
    ).fetchone()
    return row[0] if row else None


def load_staged(conn, outcome: FileOutcome, *, baseline_wave: str) -> LoadResult:
    """Move one file's staged rows into research.responses and its record into ops.ingested_files, atomically."""
    ensure_tables(conn)
    with transaction(conn):
        previous = conn.execute(
            "SELECT file_name FROM ops.ingested_files WHERE file_sha256 = ? AND status = 'loaded' LIMIT 1",
            [outcome.sha256],
        ).fetchone()
        if previous or outcome.duplicate_of:
            first_name = previous[0] if previous else outcome.duplicate_of
            if first_name != outcome.file_name:  # the same bytes under a new name: note it, load nothing
                _record(conn, outcome, status="duplicate", accepted=0, excluded={}, quarantined=0)
            return LoadResult("duplicate", 0, 0, duplicate_of=first_name)

        withdrawn = _apply_withdrawals(conn, outcome)
        has_rows = outcome.rows_accepted > 0
        superseded = newer_elsewhere = withdrawn_rows = 0
        if has_rows:
            conn.execute(
                """CREATE OR REPLACE TEMP TABLE staged AS
                    SELECT * FROM read_parquet(?, union_by_name = true)
                    QUALIFY row_number() OVER (PARTITION BY study, participant_id, wave
                                               ORDER BY shifted_day DESC NULLS LAST, source_row DESC) = 1""",
                [outcome.parts_glob("responses")],
            )
            kept = conn.execute("SELECT count(*) FROM staged").fetchone()[0]
            superseded = outcome.rows_accepted - kept
            withdrawn_rows = _drop_withdrawn(conn)
            # a response already loaded from another file and newer than this one stays (files may arrive in any order)
            newer_elsewhere = conn.execute(
                """DELETE FROM staged s USING ops.response_days d
                   WHERE d.study = s.study AND d.participant_id = s.participant_id AND d.wave = s.wave
                     AND d.shifted_day > s.shifted_day"""
            ).fetchone()[0]
            for table in RESEARCH_ROW_TABLES[:3]:
                conn.execute(
                    f"""DELETE FROM {table} r USING staged s
                        WHERE r.study = s.study AND r.participant_id = s.participant_id AND r.wave = s.wave"""
                )
            cols = ", ".join(_RESEARCH_COLUMNS)
            select = ", ".join(
                "(now() AT TIME ZONE 'UTC')" if c == "loaded_at" else f"s.{c}" for c in _RESEARCH_COLUMNS
            )
            conn.execute(f"INSERT INTO research.responses ({cols}) SELECT {select} FROM staged s")
            for table, kind in ((INSTRUMENT_SCORES, "scores"), (INSTRUMENT_ITEMS, "items")):
                cols = column_names(table)
                conn.execute(
                    f"""INSERT INTO {table.qualified} ({", ".join(cols)})
                        SELECT {", ".join("p." + c for c in cols)}
                        FROM read_parquet(?, union_by_name = true) p
                        JOIN staged s USING (study, participant_id, wave, source_row)""",
                    [outcome.parts_glob(kind)],
                )
            conn.execute(
                """INSERT OR REPLACE INTO ops.response_days
                   SELECT study, participant_id, wave, shifted_day FROM staged"""
            )
            _refresh_days_since_baseline(conn, outcome.study, baseline_wave)
            conn.execute("DROP TABLE staged")
        if outcome.rows_quarantined:
            conn.execute(
                """INSERT INTO ops.quarantine
                   SELECT study, file_name, file_sha256, source_row, column_name, check_name, (now() AT TIME ZONE 'UTC')
                   FROM read_parquet(?)""",
                [outcome.parts_glob("quarantine")],
            )
        excluded = dict(outcome.excluded)
        if superseded:
            excluded["superseded_duplicate"] = superseded
        if newer_elsewhere:
            excluded["superseded_by_newer_response"] = newer_elsewhere
        if withdrawn_rows:
            excluded["participant_withdrawn"] = withdrawn_rows
        accepted = outcome.rows_accepted - superseded - newer_elsewhere - withdrawn_rows
        _record(
            conn,
            outcome,
            status="loaded",
            accepted=accepted,
            excluded=excluded,
            quarantined=outcome.rows_quarantined,
            withdrawn=withdrawn,
        )
        return LoadResult("loaded", accepted, sum(excluded.values()), rows_withdrawn=withdrawn)


RESEARCH_ROW_TABLES = (
    "research.responses",
    "research.instrument_scores",
    "research.instrument_items",
    "ops.response_days",
)


def holds_pseudonyms(conn) -> bool:
    """Whether the warehouse already links people by pseudonym (then only the same key may be used)."""
    exists = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'ops' AND table_name IN ('response_days', 'withdrawals')"
    ).fetchone()[0]
    if not exists:
        return False
    return bool(
        conn.execute(
            "SELECT (SELECT count(*) FROM ops.response_days) + (SELECT count(*) FROM ops.withdrawals)"
        ).fetchone()[0]
    )


def _apply_withdrawals(conn, outcome: FileOutcome) -> int:
    """Withdraw participants this file excludes by a study filter (consent withdrawn, no longer eligible) or names
    in a withdrawal list: every row of theirs, in every wave, goes, and ops.withdrawals keeps their pseudonym so
    that an older export loaded later cannot bring them back. A filter exclusion older than the participant's
    newest loaded response is not a withdrawal (the newest response wins). Returns the responses removed."""
    if not list(outcome.staging_dir.glob("withdrawn-*.parquet")):
        return 0
    conn.execute(
        """CREATE OR REPLACE TEMP TABLE withdrawing AS
           WITH w AS (SELECT study, participant_id,
                             CASE WHEN bool_or(shifted_day IS NULL) THEN NULL ELSE max(shifted_day) END AS shifted_day,
                             bool_or(shifted_day IS NULL) AS undated
                      FROM read_parquet(?) GROUP BY ALL),
           latest AS (SELECT study, participant_id, max(shifted_day) AS newest, bool_or(shifted_day IS NULL) AS undated
                      FROM ops.response_days GROUP BY ALL)
           SELECT w.study, w.participant_id, w.shifted_day
           FROM w LEFT JOIN latest l USING (study, participant_id)
           WHERE w.undated OR l.participant_id IS NULL OR l.undated OR l.newest <= w.shifted_day""",
        [outcome.parts_glob("withdrawn")],
    )
    removed = conn.execute(
        """SELECT count(*) FROM ops.response_days d JOIN withdrawing w USING (study, participant_id)"""
    ).fetchone()[0]
    conn.execute(
        """CREATE OR REPLACE TEMP TABLE withdrawn_counts AS
           SELECT w.study, w.participant_id, w.shifted_day, count(d.wave) AS rows_removed
           FROM withdrawing w LEFT JOIN ops.response_days d USING (study, participant_id) GROUP BY ALL"""
    )
    for table in RESEARCH_ROW_TABLES:
        conn.execute(
            f"""DELETE FROM {table} t USING withdrawing w
                WHERE t.study = w.study AND t.participant_id = w.participant_id"""
        )
    # recorded even with nothing to remove yet: an older export of theirs may still arrive
    conn.execute(
        """INSERT INTO ops.withdrawals
           SELECT study, participant_id, shifted_day, ?, rows_removed, (now() AT TIME ZONE 'UTC')
           FROM withdrawn_counts""",
        [outcome.file_name],
    )
    conn.execute("DROP TABLE withdrawing")
    conn.execute("DROP TABLE withdrawn_counts")
    return removed


def _drop_withdrawn(conn) -> int:
    """Take out of `staged` every response of a withdrawn participant dated up to their withdrawal."""
    return conn.execute(
        """DELETE FROM staged s USING ops.withdrawals w
           WHERE w.study = s.study AND w.participant_id = s.participant_id
             AND (w.shifted_day IS NULL OR s.shifted_day IS NULL OR s.shifted_day <= w.shifted_day)"""
    ).fetchone()[0]


def _refresh_days_since_baseline(conn, study: str, baseline_wave: str) -> None:
    """Recompute intervals for the study: a follow-up may arrive before or after its baseline."""
    conn.execute(
        """UPDATE research.responses r
           SET days_since_baseline = d.shifted_day - b.shifted_day
           FROM ops.response_days d
           JOIN ops.response_days b ON b.study = d.study AND b.participant_id = d.participant_id AND b.wave = ?
           WHERE r.study = ? AND d.study = r.study AND d.participant_id = r.participant_id AND d.wave = r.wave""",
        [baseline_wave, study],
    )


def _record(
    conn,
    outcome: FileOutcome,
    *,
    status: str,
    accepted: int,
    excluded: dict,
    quarantined: int,
    withdrawn: int = 0,
    error: str | None = None,
) -> None:
    conn.execute(
        "DELETE FROM ops.ingested_files WHERE study = ? AND file_name = ? AND file_sha256 = ?",
        [outcome.study, outcome.file_name, outcome.sha256],
    )
    conn.execute(
        f"INSERT INTO ops.ingested_files ({', '.join(column_names(INGESTED_FILES))}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, MAP(?::VARCHAR[], ?::BIGINT[]), ?, ?, (now() AT TIME ZONE 'UTC'))",
        [
            outcome.study,
            outcome.file_name,
            outcome.sha256,
            outcome.wave,
            status,
            outcome.rows_read,
            accepted,
            quarantined,
            sum(excluded.values()),
            list(excluded.keys()),
            [int(v) for v in excluded.values()],
            withdrawn,
            error,
        ],
    )


def record_failure(conn, *, study: str, file_name: str, sha256: str, wave: str | None, error: str) -> None:
    """Record a file that could not be processed; `error` must already be value-free (our own messages)."""
    ensure_tables(conn)
    with transaction(conn):
        conn.execute(
            "DELETE FROM ops.ingested_files WHERE study = ? AND file_name = ? AND file_sha256 = ?",
            [study, file_name, sha256],
        )
        conn.execute(
            f"INSERT INTO ops.ingested_files ({', '.join(column_names(INGESTED_FILES))}) "
            "VALUES (?, ?, ?, ?, 'failed', NULL, NULL, NULL, NULL, NULL, NULL, ?, (now() AT TIME ZONE 'UTC'))",
            [study, file_name, sha256, wave, error],
        )
