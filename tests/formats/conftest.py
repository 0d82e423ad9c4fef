"""A workspace whose study mappings come from tests/formats/studies (plus the REDCap one rendered at test time).

The shared `workspace` fixture loads its settings before any test can set SURVEY_STUDIES_DIR, so this fixture
sets the variable first and then builds a second Workspace (same Dagster instance, same temporary landing
folder, warehouse, key and staging) from freshly loaded settings.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pipelines.settings import REPO_ROOT, load_settings
from tests.conftest import Workspace
from tests.paths import REAL_EXPORTS

STUDY_FILES = Path(__file__).resolve().parent / "studies"
FIXTURES = REPO_ROOT / "tests" / "readers" / "fixtures"
REDCAP_DATA = REAL_EXPORTS / "redcap_longitudinal_data.csv"
REDCAP_DICTIONARY = REAL_EXPORTS / "redcap_longitudinal_dictionary.csv"
REDCAP_TEMPLATE = STUDY_FILES / "redcap_longitudinal.yaml.template"
REDCAP_STUDY = "redcap_longitudinal"


def render_redcap_mapping(dictionary: Path = REDCAP_DICTIONARY) -> str:
    """The REDCap study mapping with the data dictionary's absolute path filled in."""
    text = REDCAP_TEMPLATE.read_text(encoding="utf-8")
    assert "@DICTIONARY_PATH@" in text
    return text.replace("@DICTIONARY_PATH@", str(Path(dictionary).resolve()))


def write_redcap_mapping(studies_dir: Path, **overrides) -> Path:
    """Write redcap_longitudinal.yaml into `studies_dir`; `overrides` are dotted keys set on the parsed YAML."""
    text = render_redcap_mapping()
    if overrides:
        raw = yaml.safe_load(text)
        for dotted, value in overrides.items():
            node = raw
            *parents, last = dotted.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value
        text = yaml.safe_dump(raw, sort_keys=False)
    target = studies_dir / f"{REDCAP_STUDY}.yaml"
    target.write_text(text, encoding="utf-8")
    return target


@pytest.fixture
def dagster_home_kept() -> bool:
    """The leak checks here read everything Dagster wrote, so runs go to a real instance under DAGSTER_HOME."""
    return True


@pytest.fixture
def studies_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "studies"
    folder.mkdir()
    for path in STUDY_FILES.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    write_redcap_mapping(folder)
    return folder


@pytest.fixture
def formats_workspace(workspace: Workspace, studies_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("SURVEY_STUDIES_DIR", str(studies_dir))
    settings = load_settings()
    assert settings.studies_dir == studies_dir
    assert settings.landing_dir == workspace.settings.landing_dir
    assert settings.warehouse == workspace.settings.warehouse
    return Workspace(settings, workspace.instance)
