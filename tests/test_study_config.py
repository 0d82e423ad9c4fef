"""Study mappings are validated when loaded, with errors that name the file, the key and the column."""

from __future__ import annotations

import pytest
import yaml

from pipelines.ingest.mapping import check_columns, unmapped_columns
from pipelines.settings import REPO_ROOT
from schemas.study_config import StudyConfigError, load_studies, load_study

STUDY_YAML = REPO_ROOT / "schemas" / "studies" / "microdose_mood.yaml"


def write_variant(tmp_path, change) -> object:
    raw = yaml.safe_load(STUDY_YAML.read_text())
    change(raw)
    path = tmp_path / "microdose_mood.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_bundled_studies_load():
    studies = load_studies(STUDY_YAML.parent)
    assert "microdose_mood" in studies
    study = studies["microdose_mood"]
    assert study.baseline_wave == "baseline"
    assert study.wave_for("Followup_2025.csv").name == "followup_30d"
    assert study.fields["gender"].codes["1"] == "woman"  # YAML int keys compared as exported text


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda r: r["fields"].__setitem__("shoe_size", {"column": "Q99"}), "fields.shoe_size"),
        (lambda r: r["fields"]["age"].__setitem__("colum", "Q3"), "fields.age.colum"),
        (lambda r: r.__setitem__("unfinished_responses", "maybe"), "unfinished_responses"),
        (lambda r: r["waves"][1].__setitem__("baseline", True), "exactly one wave"),
        (lambda r: r["fields"]["substance"]["codes"].__setitem__(4, "ketamine"), "fields.substance.codes"),
        (lambda r: r["instruments"]["phq9"].__setitem__("coding", {1: "zero"}), "instruments.phq9.coding"),
        (lambda r: r["fields"]["country"].pop("codes"), "fields.country.codes"),
        (lambda r: r["fields"]["substance"].__setitem__("multiple", True), "fields.substance.multiple"),
        (lambda r: r["instruments"]["phq9"]["items"].pop(), "instruments.phq9.items"),
        (lambda r: r["instruments"].__setitem__("bdi", {"items": ["Q1"], "coding": {1: 0}}), "instruments.bdi"),
        (lambda r: r.__setitem__("dose", {"bands": {"lsd": {"very_low": 50, "standard": 10}}}), "dose.bands"),
        (lambda r: r.__setitem__("date_format", "day month year"), "date_format"),
    ],
)
def test_bad_keys_are_named(tmp_path, change, fragment):
    path = write_variant(tmp_path, change)
    with pytest.raises(StudyConfigError) as info:
        load_study(path)
    assert str(path) in str(info.value)
    assert fragment in str(info.value)


def test_study_name_must_match_file(tmp_path):
    path = tmp_path / "other_name.yaml"
    path.write_text(STUDY_YAML.read_text())
    with pytest.raises(StudyConfigError, match="key `study`"):
        load_study(path)


def test_missing_column_names_key_and_column():
    study = load_study(STUDY_YAML)
    columns = [c for c in study.mapped_columns() if c != "Q11_4"]
    with pytest.raises(StudyConfigError) as info:
        check_columns(study, columns, study_file="microdose_mood.yaml", file_name="baseline.csv")
    message = str(info.value)
    assert "baseline.csv" in message and "microdose_mood.yaml" in message
    assert "instruments.phq9.items[3]" in message and "'Q11_4'" in message


def test_unmapped_columns_are_reported_by_name():
    study = load_study(STUDY_YAML)
    columns = list(study.mapped_columns()) + list(study.ignored_columns) + ["Status", "Q14_new_question"]
    assert unmapped_columns(study, columns, consumed=("Status",)) == ["Q14_new_question"]
    assert unmapped_columns(study, columns) == ["Status", "Q14_new_question"]


def test_unknown_wave_file_is_an_error():
    study = load_study(STUDY_YAML)
    with pytest.raises(StudyConfigError, match="no wave"):
        study.wave_for("export_2025.csv")


def test_every_cross_key_problem_is_reported_at_once(tmp_path):
    """A mapping author fixes them in one pass: each problem by its key, none hidden behind the first."""
    raw = yaml.safe_load((REPO_ROOT / "schemas" / "studies" / "microdose_mood.yaml").read_text(encoding="utf-8"))
    raw["instruments"]["phq9"]["items"] = raw["instruments"]["phq9"]["items"][:2]
    raw["fields"]["substance"]["codes"][4] = "ketamine"
    raw["waves"][1]["baseline"] = True
    path = tmp_path / "microdose_mood.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(StudyConfigError) as info:
        load_study(path)
    message = str(info.value)
    for key in ("key `waves`", "key `instruments.phq9.items`", "key `fields.substance.codes`"):
        assert key in message, message
