"""Where the pipeline reads and writes, from environment variables with embedded defaults.

Every path is resolved at call time (never at import) so tests and users can point the pipeline elsewhere by
setting a variable. Relative defaults are taken from the repository root, not the current directory, so a
command run from a sub-folder still finds the same landing folder and warehouse.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "SURVEY_LANDING_DIR": "data/landing",
    "SURVEY_STUDIES_DIR": "schemas/studies",
    "SURVEY_WAREHOUSE": "data/warehouse/survey.duckdb",
    "SURVEY_PSEUDONYM_KEY_FILE": "data/secrets/pseudonym.key",
    "SURVEY_STAGING_DIR": "data/staging",
    "SURVEY_SAMPLE_DIR": "data/sample",
    "DAGSTER_HOME": ".dagster",
}


def _path(variable: str) -> Path:
    raw = os.environ.get(variable) or DEFAULTS[variable]
    path = Path(raw).expanduser()
    return path if path.is_absolute() else (REPO_ROOT / path)


CATCH_UP_CRON = "0 6 * * *"  # the daily schedule: missed files, then a rebuild if the release is stale
FRESHNESS_WARN_HOURS = 7 * 24  # the public assets warn when no new release has happened for this long
FRESHNESS_FAIL_HOURS = 30 * 24  # ... and fail after this long

PUBLIC_TIER_FILE = "public_tier.duckdb"  # the public DuckDB file inside the public folder


@dataclass(frozen=True)
class Settings:
    """Resolved locations for one pipeline invocation."""

    landing_dir: Path
    studies_dir: Path
    warehouse: Path
    pseudonym_key_file: Path
    staging_dir: Path
    sample_dir: Path
    dagster_home: Path
    chunk_rows: int
    duckdb_memory_limit: str

    research_tier: Path
    public_dir: Path
    reports_dir: Path

    catch_up_cron: str
    freshness_warn_hours: int
    freshness_fail_hours: int

    @property
    def public_tier(self) -> Path:
        """The public DuckDB file; its Parquet and CSV exports sit beside it."""
        return self.public_dir / PUBLIC_TIER_FILE


def _tier_path(variable: str, warehouse: Path, default: str) -> Path:
    """A tier's location: its variable, else beside the warehouse's folder (data/warehouse -> data/research)."""
    raw = os.environ.get(variable)
    if raw:
        path = Path(raw).expanduser()
        return path if path.is_absolute() else (REPO_ROOT / path)
    return warehouse.parent.parent / default


class SettingsError(ValueError):
    """An environment variable with a value the pipeline cannot use; the message names the variable."""


def _hours(variable: str, default: int) -> int:
    raw = os.environ.get(variable)
    if raw is None or raw == "":
        return default
    if not raw.strip().isdigit() or int(raw) < 1:
        raise SettingsError(f"{variable}: expected a whole number of hours (1 or more), got {raw!r}")
    return int(raw)


def load_settings() -> Settings:
    """Read the environment now; cheap, so callers resolve settings when they run, not when they import."""
    warehouse = _path("SURVEY_WAREHOUSE")
    return Settings(
        landing_dir=_path("SURVEY_LANDING_DIR"),
        studies_dir=_path("SURVEY_STUDIES_DIR"),
        warehouse=warehouse,
        pseudonym_key_file=_path("SURVEY_PSEUDONYM_KEY_FILE"),
        staging_dir=_path("SURVEY_STAGING_DIR"),
        sample_dir=_path("SURVEY_SAMPLE_DIR"),
        dagster_home=_path("DAGSTER_HOME"),
        chunk_rows=int(os.environ.get("SURVEY_CHUNK_ROWS", "50000")),
        # DuckDB spills to disk beyond this, so the load's memory stays bounded whatever the export's size
        duckdb_memory_limit=os.environ.get("SURVEY_DUCKDB_MEMORY_LIMIT", "512MB"),
        research_tier=_tier_path("SURVEY_RESEARCH_TIER", warehouse, "research/research_tier.duckdb"),
        public_dir=_tier_path("SURVEY_PUBLIC_DIR", warehouse, "public"),
        reports_dir=_tier_path("SURVEY_REPORTS_DIR", warehouse, "reports"),
        catch_up_cron=os.environ.get("SURVEY_CATCH_UP_CRON") or CATCH_UP_CRON,
        freshness_warn_hours=_hours("SURVEY_FRESHNESS_WARN_HOURS", FRESHNESS_WARN_HOURS),
        freshness_fail_hours=_hours("SURVEY_FRESHNESS_FAIL_HOURS", FRESHNESS_FAIL_HOURS),
    )
