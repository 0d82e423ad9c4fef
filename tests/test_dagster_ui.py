"""The Dagster UI as a data manager meets it: `survey-pipeline ui` (webserver and daemon) on a temporary instance, a
file dropped into the landing folder, the sensor's run, and the per-file checks read back through GraphQL and seen in
a real browser (Playwright driving Debian's Chromium, never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from pipelines.settings import REPO_ROOT
from tests.conftest import _environment
from tests.paths import SAMPLE_DIR

pytestmark = pytest.mark.ui

CHROMIUM = Path("/usr/bin/chromium")
ARTEFACTS = REPO_ROOT / "test-artifacts"
FILE_KEY = "microdose_mood/baseline.csv"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DagsterUI:
    def __init__(self, port: int, process: subprocess.Popen, log: Path):
        self.port, self.process, self.log = port, process, log
        self.url = f"http://127.0.0.1:{port}"

    def graphql(self, query: str, **variables) -> dict:
        response = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=30)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def wait_for(self, what: str, probe, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the UI exited: {self.log.read_text()[-3000:]}"
            found = probe()
            if found:
                return found
            time.sleep(1)
        raise AssertionError(f"timed out waiting for {what}; UI log tail: {self.log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory):
    """`survey-pipeline ui --port P` with the sample's baseline already in the landing folder, stopped with SIGTERM
    (which must stop its whole process tree)."""
    root = tmp_path_factory.mktemp("ui")
    env = {**os.environ, **_environment(root)}
    (root / "landing" / "microdose_mood").mkdir()
    shutil.copy(SAMPLE_DIR / "baseline.csv", root / "landing" / "microdose_mood" / "baseline.csv")
    port = _free_port()
    log = root / "ui.log"
    exe = Path(sys.executable).with_name("survey-pipeline")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(exe), "ui", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root
        )
    ui = DagsterUI(port, process, log)
    try:

        def loaded():
            try:
                data = ui.graphql("{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }")
            except requests.RequestException:
                return None
            entries = data["workspaceOrError"]["locationEntries"]
            return entries if entries and all(e["loadStatus"] == "LOADED" for e in entries) else None

        ui.wait_for("the code location to load", loaded, timeout=120)
        yield ui
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise AssertionError("survey-pipeline ui did not stop on SIGTERM") from None
        assert code == 0, log.read_text()[-2000:]
        left = subprocess.run(["pgrep", "-f", f"--port {port}|-p {port}"], capture_output=True, text=True)
        assert left.stdout.strip() == "", "processes of the UI outlived it"


RUNS = """query ($job: String!) { runsOrError(filter: {pipelineName: $job}) {
  ... on Runs { results { runId status tags { key value } } } } }"""
CHECKS = """query ($path: [String!]!, $check: String!) {
  assetCheckExecutions(assetKey: {path: $path}, checkName: $check, limit: 10) {
    runId status partition
    evaluation { success severity metadataEntries { label ... on TextMetadataEntry { text } } } } }"""


@pytest.fixture(scope="module")
def ingested(dagster_ui):
    """The sensor's run for the dropped file, finished."""

    def finished():
        runs = dagster_ui.graphql(RUNS, job="ingest_file")["runsOrError"]["results"]
        done = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
        return done or None

    runs = dagster_ui.wait_for("the landing sensor's ingest run", finished, timeout=180)
    return runs


def test_the_sensor_picks_up_a_dropped_file_and_each_check_names_it(dagster_ui, ingested):
    (run,) = ingested
    assert run["status"] == "SUCCESS"
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags["dagster/partition"] == FILE_KEY and tags["dagster/sensor_name"] == "landing_folder_sensor"
    for path, check in (
        (["deidentified_responses"], "rows_reconcile"),
        (["deidentified_responses"], "rows_valid"),
        (["deidentified_responses"], "columns_mapped"),
        (["research", "responses"], "one_row_per_participant_wave"),
    ):
        (execution,) = dagster_ui.graphql(CHECKS, path=path, check=check)["assetCheckExecutions"]
        assert execution["partition"] == FILE_KEY, (check, execution)
        assert execution["status"] == "SUCCEEDED" and execution["evaluation"]["success"], (check, execution)
    (valid,) = dagster_ui.graphql(CHECKS, path=["deidentified_responses"], check="rows_valid")["assetCheckExecutions"]
    words = {e["label"]: e.get("text") for e in valid["evaluation"]["metadataEntries"]}
    assert words["severity"] == "OK"


def _browser():
    """Chromium through Playwright, or the reason there is none (a failure in CI, a skip elsewhere)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None, "Playwright for Python is not installed (it is in the test extras: make setup)"
    if not CHROMIUM.exists():
        return None, f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; .ci/run installs it)"
    return sync_playwright, None


def test_the_asset_page_shows_its_checks_and_the_file_they_judged(dagster_ui, ingested):
    sync_playwright, missing = _browser()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    ARTEFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{dagster_ui.url}/assets/deidentified_responses?view=checks", wait_until="networkidle")
            for check in ("rows_reconcile", "rows_valid", "columns_mapped"):
                page.get_by_text(check, exact=True).first.wait_for(timeout=30_000)
            skip = page.get_by_role("button", name="Skip")  # a first visit opens a "join the community" dialog
            if skip.count():
                skip.first.click()
            page.get_by_text("rows_valid", exact=True).first.click()
            page.get_by_text(FILE_KEY).first.wait_for(timeout=30_000)
            page.screenshot(path=str(ARTEFACTS / "dagster_ui_checks.png"), full_page=True)
            body = page.inner_text("body")
        finally:
            browser.close()
    assert "rows_valid" in body and FILE_KEY in body
