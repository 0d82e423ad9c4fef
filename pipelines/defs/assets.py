"""The pipeline's assets: one landing file staged and loaded per partition, then the public tier rebuilt.

Validation results are reported as asset checks yielded from the asset bodies, so each check sees exactly the
frame its asset produced. Their metadata holds counts, column names and check names only.
"""


import shutil

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.partitions import landing_files, split_key
from pipelines.defs.resources import SurveyPaths
from pipelines.ingest.fingerprint import file_sha256
from pipelines.ingest.process import DeidentifiedFrameError, FileOutcome, process_file
from pipelines.privacy.pseudonym import PseudonymKeyError, load_or_create_key
from pipelines.privacy.safe_report import value_free_message
from pipelines.readers import ExportReadError
from pipelines.warehouse import publish
from pipelines.warehouse.load import already_loaded, load_staged, record_failure
from schemas.study_config import StudyConfigError

SAFE_ERRORS = (ExportReadError, StudyConfigError, PseudonymKeyError, DeidentifiedFrameError, FileNotFoundError)
STAGED = "deidentified_responses"
ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN


def _fail(warehouse: DuckDBResource, *, study: str, file_name: str, sha256: str, wave: str | None, exc: BaseException,
          stage: str) -> dg.Failure:
    """The value-free failure to raise (`from None`), after recording the file as failed where possible."""
    message = value_free_message(exc, file_name=file_name, stage=stage, safe_types=SAFE_ERRORS)
    try:
        with warehouse.get_connection() as conn:
            record_failure(conn, study=study, file_name=file_name, sha256=sha256, wave=wave, error=message)
    except Exception as record_exc:  # noqa: BLE001 - never let this error carry the original one along
        message += f" (and it could not be recorded in ops.ingested_files: {type(record_exc).__name__})"
    return dg.Failure(description=message, metadata={"file": file_name, "study": study, "stage": stage})


@dg.asset(
    partitions_def=landing_files,
    group_name="ingest",
    kinds={"python", "parquet"},
    pool="duckdb",
    check_specs=[
        dg.AssetCheckSpec("rows_reconcile", asset=STAGED, blocking=True,
                          description="rows read = accepted + quarantined + excluded"),
        dg.AssetCheckSpec("rows_valid", asset=STAGED,
                          description="no row failed validation; counts per column and check"),
        dg.AssetCheckSpec("columns_mapped", asset=STAGED,
                          description="every source column is mapped or deliberately ignored by the study"),
    ],
)
def deidentified_responses(context: dg.AssetExecutionContext, paths: SurveyPaths, warehouse: DuckDBResource):
    """One landing export read in bounded chunks, previews/tests/ineligible rows excluded, the study's mapped
    columns validated with pandera (failing rows quarantined, value-free), then pseudonymised, generalised and
    scored into staging Parquet. Identifiers and free text never leave this step. A file whose bytes were already
    loaded is not read again."""
    study_name, file_name = split_key(context.partition_key)
    path = paths.landing_file(study_name, file_name)
    sha256 = file_sha256(path) if path.exists() else ""
    wave = None
    try:
        study = paths.study(study_name)
        file_wave = study.wave_for(file_name)
        wave = file_wave.name if file_wave else "(per row)"
        with warehouse.get_connection() as conn:
            previous = already_loaded(conn, sha256)
        if previous:
            outcome = FileOutcome(study_name, file_name, sha256, wave, staging_dir=paths.staging_dir, duplicate_of=previous)
        else:
            key = load_or_create_key(paths.pseudonym_key_file, notify=context.log.info)
            outcome = process_file(path, study, study_file=paths.study_file(study_name).name, key=key,
                                   staging_root=paths.staging_dir, chunk_rows=paths.chunk_rows, sha256=sha256)
    except Exception as exc:  # every failure leaves through the value-free path
        raise _fail(warehouse, study=study_name, file_name=file_name, sha256=sha256, wave=wave, exc=exc,
                    stage="reading and validating") from None

    yield dg.Output(outcome, metadata={
        "file": file_name, "file_sha256": sha256, "wave": outcome.wave,
        "duplicate_of": outcome.duplicate_of or "",
        "rows_read": outcome.rows_read, "rows_accepted": outcome.rows_accepted,
        "rows_quarantined": outcome.rows_quarantined, "rows_excluded": outcome.rows_excluded,
        **{f"excluded · {reason}": n for reason, n in sorted(outcome.excluded.items())},
    })
    yield dg.AssetCheckResult(
        check_name="rows_reconcile", passed=outcome.reconciles, severity=ERROR,
        metadata={"rows_read": outcome.rows_read, "rows_accepted": outcome.rows_accepted,
                  "rows_quarantined": outcome.rows_quarantined, "rows_excluded": outcome.rows_excluded},
    )
    yield dg.AssetCheckResult(
        check_name="rows_valid", passed=outcome.rows_quarantined == 0, severity=WARN,
        metadata={"rows_quarantined": outcome.rows_quarantined, **outcome.failures.as_metadata(),
                  **{f"seen but unanswered (-99) · {c}": n for c, n in sorted(outcome.seen_unanswered.items())},
                  **{f"not shown (blank) · {c}": n for c, n in sorted(outcome.not_shown.items())}},
    )
    yield dg.AssetCheckResult(
        check_name="columns_mapped", passed=not outcome.unmapped_columns, severity=WARN,
        metadata={"unmapped_columns": dg.MetadataValue.json(outcome.unmapped_columns),
                  "n_unmapped": len(outcome.unmapped_columns)},
    )


@dg.asset(
    partitions_def=landing_files,
    group_name="ingest",
    kinds={"duckdb"},
    pool="duckdb",
    key_prefix=["research"],
    name="responses",
    ins={"staged": dg.AssetIn(key=STAGED)},
    check_specs=[dg.AssetCheckSpec("one_row_per_participant_wave", asset=["research", "responses"], blocking=True,
                                   description="research.responses has one row per study, participant and wave")],
)
def research_responses(context: dg.AssetExecutionContext, staged: FileOutcome, paths: SurveyPaths,
                       warehouse: DuckDBResource):
    """research.responses: the file's de-identified rows loaded in one transaction (a participant's later
    response replaces an earlier one for the same wave), its quarantine entries into ops.quarantine, and its
    row accounting into ops.ingested_files. On any error the transaction rolls back and the file is recorded
    as failed, so the warehouse is as it was."""
    study = paths.study(staged.study)
    try:
        with warehouse.get_connection() as conn:
            result = load_staged(conn, staged, baseline_wave=study.baseline_wave)
            duplicates, total = conn.execute(
                """SELECT count(*) - count(DISTINCT (study, participant_id, wave)), count(*)
                   FROM research.responses"""
            ).fetchone()
    except Exception as exc:
        raise _fail(warehouse, study=staged.study, file_name=staged.file_name, sha256=staged.sha256,
                    wave=staged.wave, exc=exc, stage="loading") from None
    shutil.rmtree(staged.staging_dir, ignore_errors=True) if not staged.duplicate_of else None
    yield dg.MaterializeResult(metadata={
        "status": result.status, "file_sha256": staged.sha256, "rows_loaded": result.rows_accepted,
        "rows_excluded": result.rows_excluded, "duplicate_of": result.duplicate_of or "",
        "rows_withdrawn": result.rows_withdrawn,
        "table_rows": total, "dagster/row_count": total,
    })
    yield dg.AssetCheckResult(check_name="one_row_per_participant_wave", passed=duplicates == 0, severity=ERROR,
                              metadata={"duplicate_rows": duplicates, "table_rows": total})


@dg.asset(
    key=["public", "outcomes_by_protocol_dose"],
    deps=[research_responses],
    group_name="publish",
    kinds={"duckdb"},
    pool="duckdb",
    check_specs=[dg.AssetCheckSpec("small_cells_suppressed", asset=["public", "outcomes_by_protocol_dose"],
                                   blocking=True, description=f"no published cell has fewer than {publish.MIN_CELL} participants")],
)
def outcomes_by_protocol_dose(warehouse: DuckDBResource):
    """public.outcomes_by_protocol_dose: n and mean PHQ-9 / GAD-7 by study, substance, protocol, dose band and
    wave, rebuilt from research.responses. Every cell of fewer than 11 participants is suppressed (figures NULL,
    `suppressed` true); a blocking check stops publication if any small cell slipped through."""
    with warehouse.get_connection() as conn:
        counts = publish.build_outcomes_by_protocol_dose(conn)
        smallest = publish.smallest_unsuppressed_cell(conn)
    yield dg.MaterializeResult(metadata={**counts, "dagster/row_count": counts["cells"]})
    yield dg.AssetCheckResult(
        check_name="small_cells_suppressed", severity=ERROR,
        passed=smallest is None or smallest >= publish.MIN_CELL,
        metadata={"smallest_published_cell": smallest if smallest is not None else 0,
                  "suppressed_cells": counts["suppressed_cells"], "threshold": publish.MIN_CELL},
    )


@dg.asset(
    key=["public", "safety_signals"],
    deps=[research_responses],
    group_name="publish",
    kinds={"duckdb"},
    pool="duckdb",
    check_specs=[dg.AssetCheckSpec("small_counts_suppressed", asset=["public", "safety_signals"], blocking=True,
                                   description=f"no published count is below {publish.MIN_CELL} unless zero")],
)
def safety_signals(warehouse: DuckDBResource):
    """public.safety_signals: PHQ-9 item 9, QIDS item 12, lithium, SSRI/SNRI and MAOI co-medication, doses above
    the microdose range and daily dosing, counted by study, substance, protocol and dose band. Small counts are
    withheld as in every public table; a blocking check stops publication if one slipped through."""
    with warehouse.get_connection() as conn:
        counts = publish.build_safety_signals(conn)
        leaks = conn.execute(
            f"""SELECT count(*) FROM public.safety_signals WHERE NOT suppressed
                AND (n_assessed < {publish.MIN_CELL} OR (n_flagged > 0 AND n_flagged < {publish.MIN_CELL}))"""
        ).fetchone()[0]
    yield dg.MaterializeResult(metadata={**counts, "dagster/row_count": counts["cells"]})
    yield dg.AssetCheckResult(check_name="small_counts_suppressed", passed=leaks == 0, severity=ERROR,
                              metadata={"small_published_counts": leaks, "suppressed_cells": counts["suppressed_cells"],
                                        "threshold": publish.MIN_CELL})


@dg.asset(deps=[outcomes_by_protocol_dose, safety_signals], group_name="publish", kinds={"duckdb"}, pool="duckdb")
def analytics_copy(paths: SurveyPaths, warehouse: DuckDBResource):
    """analytics.duckdb: the research, public and ops tables analysts may read, written to a new file and renamed
    into place, so that queries never hold a lock an ingestion waits on and restricted tables stay behind."""
    with warehouse.get_connection() as conn:
        tables = publish.publish_copy(conn, paths.analytics_copy)
    return dg.MaterializeResult(metadata={"path": paths.analytics_copy, "tables": dg.MetadataValue.json(tables)})
