"""Resources: where things are, and the DuckDB warehouse (opened only inside `with` blocks, never at import)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster._utils.backoff import backoff
from dagster_duckdb import DuckDBResource

from pipelines.settings import Settings, load_settings
from schemas.study_config import StudyConfig, load_studies, load_study


class SurveyPaths(dg.ConfigurableResource):
    """Landing, study, staging and key locations (defaults from the SURVEY_* environment variables)."""

    landing_dir: str
    studies_dir: str
    staging_dir: str
    pseudonym_key_file: str
    research_tier: str
    public_dir: str
    reports_dir: str
    chunk_rows: int = 50_000

    @classmethod
    def from_settings(cls, settings: Settings) -> SurveyPaths:
        return cls(
            landing_dir=str(settings.landing_dir),
            studies_dir=str(settings.studies_dir),
            staging_dir=str(settings.staging_dir),
            pseudonym_key_file=str(settings.pseudonym_key_file),
            research_tier=str(settings.research_tier),
            public_dir=str(settings.public_dir),
            reports_dir=str(settings.reports_dir),
            chunk_rows=settings.chunk_rows,
        )

    def landing_file(self, study: str, file_name: str) -> Path:
        return Path(self.landing_dir) / study / file_name

    def study_file(self, study: str) -> Path:
        return Path(self.studies_dir) / f"{study}.yaml"

    def study(self, study: str) -> StudyConfig:
        return load_study(self.study_file(study))

    def studies(self) -> dict[str, StudyConfig]:
        return load_studies(Path(self.studies_dir))


class WarehouseResource(DuckDBResource):
    """The live DuckDB warehouse.

    It creates its folder on first use (a fresh checkout needs no setup step), waits a while for a lock held by
    another process, and always closes its connection, also when the block raises: a connection left open would
    keep the file locked for the rest of the process. The warehouse is the restricted tier: its folder is 0700 and
    the file (and its WAL) 0600, owner only.
    """

    @contextmanager
    def get_connection(self):
        folder = Path(self.database).parent
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        conn = backoff(  # a lock held by another process: retry for about 10 s, then name it (ingest.faults)
            fn=duckdb.connect,
            retry_on=(duckdb.IOException,),
            max_retries=10,
            delay_generator=(1.0 for _ in range(10)),
            kwargs={"database": self.database, "read_only": False, "config": dict(self.connection_config)},
        )
        try:
            _owner_only(self.database)
            yield conn
        finally:
            conn.close()
            _owner_only(self.database)


def _owner_only(database: str) -> None:
    for path in (Path(database), Path(database + ".wal")):
        if path.exists():
            os.chmod(path, 0o600)


def default_resources(settings: Settings | None = None) -> dict:
    settings = settings or load_settings()
    return {
        "paths": SurveyPaths.from_settings(settings),
        "warehouse": WarehouseResource(
            database=str(settings.warehouse), connection_config={"memory_limit": settings.duckdb_memory_limit}
        ),
    }
