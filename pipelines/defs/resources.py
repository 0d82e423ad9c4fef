"""Resources: where things are, and the DuckDB warehouse (opened only inside `with` blocks, never at import)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.settings import Settings, load_settings
from schemas.study_config import StudyConfig, load_study


class SurveyPaths(dg.ConfigurableResource):
    """Landing, study, staging and key locations (defaults from the SURVEY_* environment variables)."""

    landing_dir: str
    studies_dir: str
    staging_dir: str
    pseudonym_key_file: str
    analytics_copy: str
    chunk_rows: int = 50_000

    @classmethod
    def from_settings(cls, settings: Settings) -> "SurveyPaths":
        return cls(
            landing_dir=str(settings.landing_dir), studies_dir=str(settings.studies_dir),
            staging_dir=str(settings.staging_dir), pseudonym_key_file=str(settings.pseudonym_key_file),
            analytics_copy=str(settings.analytics_copy), chunk_rows=settings.chunk_rows,
        )

    def landing_file(self, study: str, file_name: str) -> Path:
        return Path(self.landing_dir) / study / file_name

    def study_file(self, study: str) -> Path:
        return Path(self.studies_dir) / f"{study}.yaml"

    def study(self, study: str) -> StudyConfig:
        return load_study(self.study_file(study))


class WarehouseResource(DuckDBResource):
    """The live DuckDB warehouse; creates its folder on first use, so a fresh checkout needs no setup step."""

    @contextmanager
    def get_connection(self):
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with super().get_connection() as conn:
            yield conn


def default_resources(settings: Settings | None = None) -> dict:
    settings = settings or load_settings()
    return {
        "paths": SurveyPaths.from_settings(settings),
        "warehouse": WarehouseResource(database=str(settings.warehouse)),
    }
