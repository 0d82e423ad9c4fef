"""Two jobs: ingest one landing file (a partition), and release the research and public tiers."""

import dagster as dg

from pipelines.defs.assets import (
    deidentified_responses,
    outcomes_report,
    public_tables,
    public_tier,
    research_responses,
    research_tier,
)

RELEASE_ASSETS = (research_tier.key, *public_tables.keys, public_tier.key, outcomes_report.key)

ingest_file_job = dg.define_asset_job(
    "ingest_file",
    selection=dg.AssetSelection.assets(deidentified_responses, research_responses),
    description="Stage, validate, de-identify and load one landing file (one partition).",
)
publish_job = dg.define_asset_job(
    "publish",
    selection=dg.AssetSelection.assets(*RELEASE_ASSETS),
    description="Release the k-anonymous research tier and the perturbed public tier from the restricted warehouse, "
    "then render the report from the public tier.",
)
