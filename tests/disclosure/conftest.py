"""A restricted warehouse built once from the bundled sample (no Dagster), copied into memory per test."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.ingest.process import process_file
from pipelines.settings import REPO_ROOT
from pipelines.warehouse.load import load_staged
from pipelines.warehouse.tables import ALL_TABLES, ensure_tables
from schemas.study_config import load_study
from tests.paths import SAMPLE_DIR, STUDY

KEY = bytes.fromhex("5a" * 32)


@pytest.fixture(scope="session")
def study():
    return load_study(REPO_ROOT / "schemas" / "studies" / f"{STUDY}.yaml")


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory, study) -> Path:
    """survey.duckdb with the sample's baseline and follow-up loaded, as the pipeline loads them."""
    root = tmp_path_factory.mktemp("sample_warehouse")
    path = root / "survey.duckdb"
    with duckdb.connect(str(path)) as conn:
        for name in ("baseline.csv", "followup.csv"):
            outcome = process_file(
                SAMPLE_DIR / name, study, study_file=f"{STUDY}.yaml", key=KEY, staging_root=root / "staging"
            )
            load_staged(conn, outcome, baseline_wave=study.baseline_wave)
    return path


def copy_into_memory(path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse holding the same tables, so a test can change it freely."""
    conn = duckdb.connect()
    ensure_tables(conn)
    conn.execute(f"ATTACH '{path}' AS src (READ_ONLY)")
    for table in ALL_TABLES:
        conn.execute(f"INSERT INTO {table.qualified} SELECT * FROM src.{table.qualified}")
    conn.execute("DETACH src")
    return conn


@pytest.fixture
def warehouse(sample_warehouse):
    conn = copy_into_memory(sample_warehouse)
    yield conn
    conn.close()
