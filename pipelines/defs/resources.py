"""Resources: where things are, and the DuckDB warehouse (opened only inside `with` blocks, never at import)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster._utils.backoff import backoff
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
    """The live DuckDB warehouse.

    It creates its folder on first use (a fresh checkout needs no setup step), waits a while for a lock held by
    another process, and always closes its connection, also when the block raises: a connection left open would
    keep the file locked for the rest of the process.
    """

    @contextmanager
    def get_connection(self):
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        conn = backoff(fn=duckdb.connect, retry_on=(duckdb.IOException,), max_retries=10,
                       kwargs={"database": self.database, "read_only": False, "config": dict(self.connection_config)})
        try:
            yield conn
        finally:
            conn.close()


def default_resources(settings: Settings | None = None) -> dict:
    settings = settings or load_settings()
    return {
        "paths": SurveyPaths.from_settings(settings),
        "warehouse": WarehouseResource(database=str(settings.warehouse),
                                       connection_config={"memory_limit": settings.duckdb_memory_limit}),
    }
