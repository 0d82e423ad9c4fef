"""Shared fixtures: every test gets its own landing folder, warehouse, key, staging and Dagster instance."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.defs.assets import (
    deidentified_responses, public_tables, public_tier, research_responses, research_tier,
)
from pipelines.defs.partitions import landing_files, partition_key
from pipelines.defs.resources import default_resources
from pipelines.settings import REPO_ROOT, Settings, load_settings
from tests.paths import REAL_EXPORTS, REAL_EXPORTS_ABSENT, STUDY


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `real_exports` read ../shared/samples/real-exports: skip them, with the reason, where it is absent."""
    if REAL_EXPORTS.is_dir():
        return
    if os.environ.get("CI"):  # CI has the folder: its absence there is a broken checkout, not a newcomer's clone
        raise pytest.UsageError(REAL_EXPORTS_ABSENT)
    skip = pytest.mark.skip(reason=REAL_EXPORTS_ABSENT)
    for item in items:
        if item.get_closest_marker("real_exports") is not None:
            item.add_marker(skip)


@dataclass
class Workspace:
    """A pipeline pointed at temporary folders, with helpers to run it the way Dagster does."""

    settings: Settings
    instance: dg.DagsterInstance

    @property
    def resources(self) -> dict:
        return default_resources(self.settings)

    def land(self, source: Path, name: str | None = None, study: str = STUDY) -> str:
        target = self.settings.landing_dir / study / (name or source.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        return partition_key(study, target.name)

    def land_bytes(self, data: bytes, name: str, study: str = STUDY) -> str:
        target = self.settings.landing_dir / study / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return partition_key(study, name)

    def ingest(self, key: str) -> dg.ExecuteInProcessResult:
        self.instance.add_dynamic_partitions(landing_files.name, [key])
        return dg.materialize([deidentified_responses, research_responses], partition_key=key,
                              instance=self.instance, resources=self.resources, raise_on_error=False)

    def publish(self) -> dg.ExecuteInProcessResult:
        return dg.materialize([research_tier, public_tables, public_tier], instance=self.instance,
                              resources=self.resources, raise_on_error=False)

    def sql(self, query: str, params=None) -> list[tuple]:
        with duckdb.connect(str(self.settings.warehouse), read_only=True) as conn:
            return conn.execute(query, params or []).fetchall()


@pytest.fixture
def studies_dir() -> Path | None:
    """Override in a test module to use other study mappings than schemas/studies."""
    return None


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, studies_dir: Path | None):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / ".dagster" / "dagster.yaml", home / "dagster.yaml")
    env = {
        "SURVEY_LANDING_DIR": tmp_path / "landing",
        "SURVEY_WAREHOUSE": tmp_path / "warehouse" / "survey.duckdb",
        "SURVEY_PSEUDONYM_KEY_FILE": tmp_path / "secrets" / "pseudonym.key",
        "SURVEY_STAGING_DIR": tmp_path / "staging",
        "DAGSTER_HOME": home,
    }
    if studies_dir is not None:
        env["SURVEY_STUDIES_DIR"] = studies_dir
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    (tmp_path / "landing").mkdir()
    with dg.DagsterInstance.get() as instance:
        yield Workspace(load_settings(), instance)
