"""The pipeline's assets: one landing file staged and loaded per partition, then the public tier rebuilt.

Validation results are reported as asset checks yielded from the asset bodies, so each check sees exactly the
frame its asset produced. Their metadata holds counts, column names and check names only.
"""

import base64
import shutil
import warnings
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.partitions import landing_files, split_key
from pipelines.defs.resources import SurveyPaths
from pipelines.disclosure import release
from pipelines.ingest.faults import changed_while_read, environment_fault, file_signature
from pipelines.ingest.fingerprint import file_sha256
from pipelines.ingest.process import (
    WITHDRAWAL_LIST_WAVE,
    DeidentifiedFrameError,
    FileOutcome,
    process_file,
    staging_dir_for,
)
from pipelines.privacy.pseudonym import PseudonymKeyError, load_key, load_or_create_key
from pipelines.privacy.safe_report import quarantine_verdict, value_free_message
from pipelines.progress import FileProgress
from pipelines.readers import ExportReadError
from pipelines.settings import PUBLIC_TIER_FILE
from pipelines.warehouse.load import already_loaded, holds_pseudonyms, load_staged, record_failure
from pipelines.warehouse.tables import PUBLIC_TIER_TABLES, RESPONSES, Table
from schemas.study_config import StudyConfigError

# Per-file (partitioned) check results are a Dagster preview; they are what shows which file a check judged.
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)

SAFE_ERRORS = (ExportReadError, StudyConfigError, PseudonymKeyError, DeidentifiedFrameError, FileNotFoundError)
STAGED = "deidentified_responses"
ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN


def column_schema(table: Table) -> dg.TableSchema:
    """The asset's column schema, from the one place every column is documented (pipelines/warehouse/tables.py)."""
    return dg.TableSchema(columns=[dg.TableColumn(c.name, c.type, description=c.doc) for c in table.columns])


def _fail(
    warehouse: DuckDBResource,
    *,
    study: str,
    file_name: str,
    sha256: str,
    wave: str | None,
    exc: BaseException,
    stage: str,
    staging_root: str,
    landing_file: Path,
    signature: tuple[int, int] | None = None,
) -> dg.Failure:
    """The value-free failure to raise (`from None`), after recording the file as failed where possible. A fault of
    the machine (a folder not writable, a full disk, a locked warehouse) is named as such and not recorded against
    the file, so the file is taken again once it is fixed."""
    if sha256:  # a failed file leaves no de-identified data behind
        shutil.rmtree(staging_dir_for(Path(staging_root), study, sha256), ignore_errors=True)
    fault = changed_while_read(landing_file, signature) or environment_fault(
        exc, landing_file=landing_file, staging_dir=Path(staging_root), warehouse=Path(warehouse.database)
    )
    if fault is not None:
        return dg.Failure(description=str(fault), metadata={"file": file_name, "study": study, "fault": "environment"})
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
        dg.AssetCheckSpec(
            "rows_reconcile",
            asset=STAGED,
            blocking=True,
            partitions_def=landing_files,
            description="rows read = accepted + quarantined + excluded",
        ),
        dg.AssetCheckSpec(
            "rows_valid",
            asset=STAGED,
            blocking=True,
            partitions_def=landing_files,
            description="share of validated rows quarantined: WARN above the study's quality.quarantine_warn_share, "
            "ERROR (the file is not loaded) above quality.quarantine_error_share; counts per column and check",
        ),
        dg.AssetCheckSpec(
            "columns_mapped",
            asset=STAGED,
            partitions_def=landing_files,
            description="every source column is mapped or deliberately ignored by the study",
        ),
    ],
)
def deidentified_responses(context: dg.AssetExecutionContext, paths: SurveyPaths, warehouse: DuckDBResource):
    """One landing export read in bounded chunks, previews/tests/ineligible rows excluded, the study's mapped
    columns validated with pandera (failing rows quarantined, value-free), then pseudonymised, generalised and
    scored into staging Parquet. Identifiers and free text never leave this step. A file whose bytes were already
    loaded is not read again."""
    study_name, file_name = split_key(context.partition_key)
    path = paths.landing_file(study_name, file_name)
    signature = file_signature(path)
    sha256 = file_sha256(path) if path.exists() else ""
    wave = None
    try:
        study = paths.study(study_name)
        if study.is_withdrawal_list(file_name):
            wave = WITHDRAWAL_LIST_WAVE
        else:
            file_wave = study.wave_for(file_name)
            wave = file_wave.name if file_wave else "(per row)"
        with warehouse.get_connection() as conn:
            previous = already_loaded(conn, sha256)
            linked = holds_pseudonyms(conn)
        if previous:
            outcome = FileOutcome(
                study_name, file_name, sha256, wave, staging_dir=paths.staging_dir, duplicate_of=previous
            )
        else:
            key = load_or_create_key(paths.pseudonym_key_file, warehouse_has_pseudonyms=linked, notify=context.log.info)
            outcome = process_file(
                path,
                study,
                study_file=paths.study_file(study_name).name,
                key=key,
                staging_root=paths.staging_dir,
                chunk_rows=paths.chunk_rows,
                sha256=sha256,
                on_chunk=FileProgress(file_name, context.log.info),
            )
    except Exception as exc:  # every failure leaves through the value-free path
        raise _fail(
            warehouse,
            study=study_name,
            file_name=file_name,
            sha256=sha256,
            wave=wave,
            exc=exc,
            stage="reading and validating",
            staging_root=paths.staging_dir,
            landing_file=path,
            signature=signature,
        ) from None
    changed = changed_while_read(path, signature)
    if changed is not None:  # what was staged is not the file that is there now
        shutil.rmtree(outcome.staging_dir, ignore_errors=True) if not outcome.duplicate_of else None
        raise dg.Failure(description=str(changed), metadata={"file": file_name, "fault": "changed while read"})

    verdict = quarantine_verdict(
        outcome.rows_quarantined, outcome.rows_accepted + outcome.rows_quarantined, study.quality
    )
    if not outcome.duplicate_of and (not outcome.reconciles or verdict.level == "ERROR"):
        # blocked below: nothing will load what was staged, and the file is recorded as failed, so that the runner
        # and `status` say why and --retry-failed takes it again once the mapping or the export is fixed
        shutil.rmtree(outcome.staging_dir, ignore_errors=True)
        reason = (
            verdict.message(file_name)
            if outcome.reconciles
            else (
                f"{file_name}: rows read ({outcome.rows_read}) differ from accepted + quarantined + excluded "
                f"({outcome.rows_accepted + outcome.rows_quarantined + outcome.rows_excluded}); nothing was loaded"
            )
        )
        with warehouse.get_connection() as conn:
            record_failure(conn, study=study_name, file_name=file_name, sha256=sha256, wave=wave, error=reason)
    yield dg.Output(
        outcome,
        metadata={
            "file": file_name,
            "file_sha256": sha256,
            "wave": outcome.wave,
            "duplicate_of": outcome.duplicate_of or "",
            "rows_read": outcome.rows_read,
            "rows_accepted": outcome.rows_accepted,
            "rows_quarantined": outcome.rows_quarantined,
            "rows_excluded": outcome.rows_excluded,
            "dagster/row_count": outcome.rows_accepted,
            **{f"excluded · {reason}": n for reason, n in sorted(outcome.excluded.items())},
        },
    )
    yield dg.AssetCheckResult(
        check_name="rows_reconcile",
        passed=outcome.reconciles,
        severity=ERROR,
        metadata={
            "rows_read": outcome.rows_read,
            "rows_accepted": outcome.rows_accepted,
            "rows_quarantined": outcome.rows_quarantined,
            "rows_excluded": outcome.rows_excluded,
        },
    )
    yield dg.AssetCheckResult(
        check_name="rows_valid",
        passed=verdict.level == "OK",
        severity=ERROR if verdict.level == "ERROR" else WARN,
        metadata={
            **verdict.as_metadata(),
            "rows_quarantined": outcome.rows_quarantined,
            **outcome.failures.as_metadata(),
            **{f"seen but unanswered (-99) · {c}": n for c, n in sorted(outcome.seen_unanswered.items())},
            **{f"not shown (blank) · {c}": n for c, n in sorted(outcome.not_shown.items())},
        },
    )
    yield dg.AssetCheckResult(
        check_name="columns_mapped",
        passed=not outcome.unmapped_columns,
        severity=WARN,
        metadata={
            "unmapped_columns": dg.MetadataValue.json(outcome.unmapped_columns),
            "n_unmapped": len(outcome.unmapped_columns),
        },
    )


@dg.asset(
    partitions_def=landing_files,
    group_name="ingest",
    kinds={"duckdb"},
    pool="duckdb",
    key_prefix=["research"],
    name="responses",
    metadata={"dagster/column_schema": column_schema(RESPONSES), "dagster/table_name": RESPONSES.qualified},
    ins={"staged": dg.AssetIn(key=STAGED)},
    check_specs=[
        dg.AssetCheckSpec(
            "one_row_per_participant_wave",
            asset=["research", "responses"],
            blocking=True,
            partitions_def=landing_files,
            description="research.responses has one row per study, participant and wave",
        )
    ],
)
def research_responses(
    context: dg.AssetExecutionContext, staged: FileOutcome, paths: SurveyPaths, warehouse: DuckDBResource
):
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
        raise _fail(
            warehouse,
            study=staged.study,
            file_name=staged.file_name,
            sha256=staged.sha256,
            wave=staged.wave,
            exc=exc,
            stage="loading",
            staging_root=paths.staging_dir,
            landing_file=paths.landing_file(staged.study, staged.file_name),
        ) from None
    shutil.rmtree(staged.staging_dir, ignore_errors=True) if not staged.duplicate_of else None
    yield dg.MaterializeResult(
        metadata={
            "status": result.status,
            "file_sha256": staged.sha256,
            "rows_loaded": result.rows_accepted,
            "rows_excluded": result.rows_excluded,
            "duplicate_of": result.duplicate_of or "",
            "rows_withdrawn": result.rows_withdrawn,
            "table_rows": total,
            "dagster/row_count": result.rows_accepted,  # this file's rows; table_rows is the whole table
        }
    )
    yield dg.AssetCheckResult(
        check_name="one_row_per_participant_wave",
        passed=duplicates == 0,
        severity=ERROR,
        metadata={"duplicate_rows": duplicates, "table_rows": total},
    )


def _release_inputs(paths: SurveyPaths) -> tuple[dict, bytes]:
    """Every study's configuration and the key: releasing needs the key that made the pseudonyms, never a new one."""
    return paths.studies(), load_key(paths.pseudonym_key_file)


def _flat(prefix: str, figures: dict) -> dict:
    out = {}
    for name, value in figures.items():
        label = f"{prefix}{name}"
        if isinstance(value, (dict, list)):
            out[label] = dg.MetadataValue.json(value)
        elif isinstance(value, float):
            out[label] = dg.MetadataValue.float(round(value, 4))
        else:
            out[label] = value if value is not None else "none"
    return out


# Declarative automation (the `publish_when_loaded` sensor): the release runs once per burst of new files, when
# research.responses has changed and no file is still loading. Not eager(): a file that failed leaves its partition
# of research.responses missing for good, and eager() would then never release again.
RELEASE_WHEN_LOADED = (
    (dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated()).since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("new files loaded, none still loading")
AFTER_RELEASE = dg.AutomationCondition.eager()  # the rest of the release follows in the same run


@dg.asset(
    key=["tiers", "research"],
    deps=[research_responses],
    automation_condition=RELEASE_WHEN_LOADED,
    group_name="release",
    kinds={"duckdb"},
    pool="duckdb",
    check_specs=[
        dg.AssetCheckSpec(
            "k_anonymity",
            asset=["tiers", "research"],
            blocking=True,
            description="every combination of the study's quasi-identifiers is shared by at "
            "least k participants (all their waves together) in research_tier.duckdb",
        )
    ],
)
def research_tier(paths: SurveyPaths, warehouse: DuckDBResource):
    """research_tier.duckdb, for approved researchers: research.* generalised (wider age bands, world regions, half-years,
    rare genders merged) until every quasi-identifier combination holds at least k participants, identifiers
    withheld for the few that still do not, and a pseudonym of its own. The file is verified before it is renamed
    into place; a failing check leaves the previous file and blocks the public release."""
    studies, key = _release_inputs(paths)
    with warehouse.get_connection() as conn:
        report = release.write_research_tier(conn, Path(paths.research_tier), studies, key)
    single = len(report.studies) == 1
    metadata = {"path": str(Path(paths.research_tier)), "written": report.written}
    for study, figures in report.studies.items():
        metadata.update(_flat("" if single else f"{study} · ", figures))
    records = sum(f.get("records", 0) for f in report.studies.values())
    yield dg.MaterializeResult(metadata={**metadata, "dagster/row_count": records})
    yield dg.AssetCheckResult(check_name="k_anonymity", passed=report.passed, severity=ERROR, metadata=metadata)


CHECKED_PUBLIC = (
    "outcomes",
    "change_from_baseline",
    "attrition",
    "dose_distribution",
    "dose_categories",
    "safety_signals",
)
PUBLIC_SPECS = [
    dg.AssetSpec(
        ["public", t.name],
        deps=[research_tier],
        group_name="release",
        kinds={"duckdb"},
        description=t.doc,
        automation_condition=AFTER_RELEASE,
        metadata={"dagster/column_schema": column_schema(t), "dagster/table_name": t.qualified},
    )
    for t in PUBLIC_TIER_TABLES
]


@dg.multi_asset(
    specs=PUBLIC_SPECS,
    pool="duckdb",
    check_specs=[
        dg.AssetCheckSpec(
            "disclosure_control",
            asset=["public", name],
            blocking=True,
            description="no published figure rests on fewer than min_cell participants or on a cell "
            "where all share one value; perturbation parameters and suppressions",
        )
        for name in CHECKED_PUBLIC
    ],
)
def public_tables(paths: SurveyPaths, warehouse: DuckDBResource):
    """The public tables, rebuilt in the restricted warehouse from research.* by the disclosure-control module: a
    fixed grid of cells (finest and margins), cell-key perturbed counts, keyed noise on sums, the exponential
    mechanism for quantiles, small and all-alike cells withheld."""
    studies, key = _release_inputs(paths)
    with warehouse.get_connection() as conn:
        report = release.build_public_tables(conn, studies, key)
    parameters = {
        f"parameter · {name}": value for values in report.parameters.values() for name, value in values.items()
    }
    for name in CHECKED_PUBLIC:
        figures = report.tables.get(f"public.{name}", dict.fromkeys(release.FIGURES, 0))
        yield dg.MaterializeResult(
            asset_key=["public", name],
            metadata={"dagster/row_count": report.rows[f"public.{name}"], **_flat("", figures)},
        )
        yield dg.AssetCheckResult(
            asset_key=["public", name],
            check_name="disclosure_control",
            severity=ERROR,
            passed=figures["published_below_min_cell"] == 0 and figures["published_all_same"] == 0,
            metadata={**_flat("", figures), **parameters},
        )
    yield dg.MaterializeResult(asset_key=["public", "release_method"], metadata=parameters)


@dg.asset(
    key=["tiers", "public"],
    deps=PUBLIC_SPECS,
    automation_condition=AFTER_RELEASE,
    group_name="release",
    kinds={"duckdb", "parquet", "csv"},
    pool="duckdb",
)
def public_tier(paths: SurveyPaths, warehouse: DuckDBResource):
    """public/: the public tables as public_tier.duckdb, Parquet and spreadsheet-safe CSV (aggregates only, never a row
    of data), written to a new folder and swapped into place."""
    with warehouse.get_connection() as conn:
        files = release.write_public_tier(conn, Path(paths.public_dir))
    return dg.MaterializeResult(metadata={"path": str(Path(paths.public_dir)), "files": dg.MetadataValue.json(files)})


@dg.asset(
    key=["reports", "outcomes"],
    deps=[public_tier],
    automation_condition=AFTER_RELEASE,
    group_name="release",
    kinds={"html", "png"},
)
def outcomes_report(paths: SurveyPaths):
    """The visual report (report.html with embedded charts, and PNGs) under data/reports/, drawn from the public tier
    file only: change from baseline with 95 % CIs by protocol and dose band, attrition, dose distributions; withheld
    cells labelled as withheld, never drawn as zero."""
    from pipelines.report import render_report

    report = render_report(Path(paths.public_dir) / PUBLIC_TIER_FILE, Path(paths.reports_dir))
    image = base64.b64encode(report.main_image.read_bytes()).decode()
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.path(str(report.html)),
            "images": dg.MetadataValue.json([p.name for p in report.images]),
            "change_from_baseline": dg.MetadataValue.md(f"![change from baseline](data:image/png;base64,{image})"),
        }
    )
