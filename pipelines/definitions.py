"""The Dagster code location: `dagster dev -w workspace.yaml` and `survey-pipeline` both load `defs` from here."""

from datetime import timedelta

import dagster as dg

from pipelines.defs import assets
from pipelines.defs.jobs import ingest_file_job, publish_job
from pipelines.defs.resources import default_resources
from pipelines.defs.sensors import catch_up_schedule, landing_folder_sensor, publish_when_loaded
from pipelines.settings import Settings, SettingsError, load_settings


def _freshness(settings: Settings) -> dg.FreshnessPolicy:
    """The public assets warn, then fail, when no release has happened for the configured time."""
    if settings.freshness_warn_hours >= settings.freshness_fail_hours:
        raise SettingsError("SURVEY_FRESHNESS_WARN_HOURS must be less than SURVEY_FRESHNESS_FAIL_HOURS")
    return dg.FreshnessPolicy.time_window(
        fail_window=timedelta(hours=settings.freshness_fail_hours),
        warn_window=timedelta(hours=settings.freshness_warn_hours),
    )


def _schedule(settings: Settings) -> dg.ScheduleDefinition:
    try:
        return catch_up_schedule(settings.catch_up_cron)
    except dg.DagsterInvalidDefinitionError:
        raise SettingsError(
            f"SURVEY_CATCH_UP_CRON: {settings.catch_up_cron!r} is not a cron schedule (expected e.g. '0 6 * * *')"
        ) from None


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """Definitions bound to `settings` (default: the environment now), so callers never reuse stale paths."""
    settings = settings or load_settings()
    freshness = _freshness(settings)

    def public_freshness(spec: dg.AssetSpec) -> dg.AssetSpec:
        public = spec.key.path[0] == "public" or spec.key == dg.AssetKey(["tiers", "public"])
        return spec.replace_attributes(freshness_policy=freshness) if public else spec

    return dg.Definitions(
        assets=dg.map_asset_specs(public_freshness, dg.load_assets_from_modules([assets])),
        asset_checks=dg.load_asset_checks_from_modules([assets]),
        jobs=[ingest_file_job, publish_job],
        sensors=[landing_folder_sensor, publish_when_loaded],
        schedules=[_schedule(settings)],
        resources=default_resources(settings),
    )


defs = build_definitions()
