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
    deidentified_responses,
    public_tables,
    public_tier,
    research_responses,
    research_tier,
)
from pipelines.defs.partitions import landing_files, partition_key
from pipelines.defs.resources import default_resources
from pipelines.settings import REPO_ROOT, Settings, load_settings
from tests.paths import REAL_EXPORTS, REAL_EXPORTS_ABSENT, SAMPLE_DIR, STUDY


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `ui` go first: they mostly wait on a Dagster webserver, so the other workers' tests overlap them
    instead of waiting for them at the end. Tests marked `real_exports` read ../shared/samples/real-exports: skip
    them, with the reason, where it is absent."""
    items.sort(key=lambda item: item.get_closest_marker("ui") is None)  # stable: otherwise collection order
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
        return dg.materialize(
            [deidentified_responses, research_responses],
            partition_key=key,
            instance=self.instance,
            resources=self.resources,
            raise_on_error=False,
        )

    def publish(self) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [research_tier, public_tables, public_tier],
            instance=self.instance,
            resources=self.resources,
            raise_on_error=False,
        )

    def sql(self, query: str, params=None) -> list[tuple]:
        with duckdb.connect(str(self.settings.warehouse), read_only=True) as conn:
            return conn.execute(query, params or []).fetchall()


@pytest.fixture
def studies_dir() -> Path | None:
    """Override in a test module to use other study mappings than schemas/studies."""
    return None


def _environment(root: Path, studies_dir: Path | None = None) -> dict[str, str]:
    """The variables that point a pipeline at `root`, with a Dagster home holding the repository's dagster.yaml."""
    home = root / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(REPO_ROOT / ".dagster" / "dagster.yaml", home / "dagster.yaml")
    (root / "landing").mkdir()
    env = {
        "SURVEY_LANDING_DIR": root / "landing",
        "SURVEY_WAREHOUSE": root / "warehouse" / "survey.duckdb",
        "SURVEY_PSEUDONYM_KEY_FILE": root / "secrets" / "pseudonym.key",
        "SURVEY_STAGING_DIR": root / "staging",
        "DAGSTER_HOME": home,
    }
    if studies_dir is not None:
        env["SURVEY_STUDIES_DIR"] = studies_dir
    return {name: str(value) for name, value in env.items()}


@pytest.fixture
def dagster_home_kept() -> bool:
    """Override to True in a test module that reads what Dagster wrote under DAGSTER_HOME (run and event storage,
    compute logs). Elsewhere the workspace's runs use an in-memory instance: the same assets, checks and results,
    without a second of SQLite set-up and log capture per run."""
    return False


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, studies_dir: Path | None, dagster_home_kept: bool):
    for name, value in _environment(tmp_path, studies_dir).items():
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.get() if dagster_home_kept else dg.DagsterInstance.ephemeral() as instance:
        yield Workspace(load_settings(), instance)


SAMPLE_KEY = "3c" * 32  # a fixed key, so tests can compute a participant's pseudonym


@dataclass
class ReleasedSample:
    """The bundled sample ingested and published once, through Dagster, with the run results kept."""

    workspace: Workspace
    ingest_results: list[dg.ExecuteInProcessResult]
    publish_result: dg.ExecuteInProcessResult


@pytest.fixture(scope="session")
def released_sample(tmp_path_factory) -> ReleasedSample:
    """Shared by every test that only reads what a run of the sample leaves behind: the tests must not change it.
    Tests that go on from there take `sample_workspace`, a copy of its files in a workspace of their own."""
    root = tmp_path_factory.mktemp("released_sample")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in _environment(root).items():
            mp.setenv(name, value)
        settings = load_settings()
        settings.pseudonym_key_file.parent.mkdir(parents=True)
        settings.pseudonym_key_file.write_text(SAMPLE_KEY + "\n")
        instance = dg.DagsterInstance.get()
    ws = Workspace(settings, instance)
    with pytest.MonkeyPatch.context() as mp:  # Dagster reads DAGSTER_HOME while it runs
        mp.setenv("DAGSTER_HOME", str(settings.dagster_home))
        ingests = [ws.ingest(ws.land(path)) for path in (SAMPLE_DIR / "baseline.csv", SAMPLE_DIR / "followup.csv")]
        published = ws.publish()
    assert all(r.success for r in ingests) and published.success
    yield ReleasedSample(ws, ingests, published)
    instance.dispose()


@pytest.fixture
def sample_workspace(workspace: Workspace, released_sample: ReleasedSample) -> Workspace:
    """A workspace of its own holding what the released sample left (landing files, key, warehouse, tiers), as if
    the sample had just been run in it; its Dagster instance is fresh."""
    source, target = released_sample.workspace.settings, workspace.settings
    shutil.copytree(source.landing_dir, target.landing_dir, dirs_exist_ok=True)
    for name in ("pseudonym_key_file", "warehouse", "research_tier"):
        src, dst = getattr(source, name), getattr(target, name)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    assert not Path(f"{source.warehouse}.wal").exists()  # every connection closed: the file is the whole warehouse
    shutil.copytree(source.public_dir, target.public_dir)
    return workspace
