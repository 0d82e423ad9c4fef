"""The Dagster code location: `dagster dev -w workspace.yaml` and `survey-pipeline` both load `defs` from here."""

import dagster as dg

from pipelines.defs import assets
from pipelines.defs.jobs import ingest_file_job, publish_job
from pipelines.defs.resources import default_resources
from pipelines.defs.sensors import landing_folder_sensor, publish_after_ingest
from pipelines.settings import Settings


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Definitions bound to `settings` (default: the environment now), so callers never reuse stale paths."""
    return dg.Definitions(
        assets=dg.load_assets_from_modules([assets]),
        asset_checks=dg.load_asset_checks_from_modules([assets]),
        jobs=[ingest_file_job, publish_job],
        sensors=[landing_folder_sensor, publish_after_ingest],
        resources=default_resources(settings),
    )


defs = build_definitions()
