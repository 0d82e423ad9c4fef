"""The README stays true: its table reference is the one generated from the table declarations, and its two
commands are the Makefile's and CI's."""

from pipelines.settings import REPO_ROOT
from pipelines.warehouse.docs import table_reference

README = (REPO_ROOT / "README.md").read_text()


def test_table_reference_is_current():
    assert table_reference() in README, "regenerate with: python -m pipelines.warehouse.docs"


def test_ci_runs_the_readme_test_command():
    assert "make test" in README and "make run" in README
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
