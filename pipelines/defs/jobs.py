"""Two jobs: ingest one landing file (a partition), and rebuild the public tier and the analysts' copy."""

import dagster as dg

from pipelines.defs.assets import (
    analytics_copy, deidentified_responses, outcomes_by_protocol_dose, research_responses, safety_signals,
)

ingest_file_job = dg.define_asset_job(
    "ingest_file", selection=dg.AssetSelection.assets(deidentified_responses, research_responses),
    description="Stage, validate, de-identify and load one landing file (one partition).",
)
publish_job = dg.define_asset_job(
    "publish", selection=dg.AssetSelection.assets(outcomes_by_protocol_dose, safety_signals, analytics_copy),
    description="Rebuild the suppressed public tables and the analysts' copy from research.responses.",
)
