"""Short forms (PHQ-8, PHQ-2, GAD-2) mapped from a survey's own columns, scored with their published cut-offs."""

from __future__ import annotations

import csv

import pytest


@pytest.fixture
def short_form_studies(tmp_path):
    """The bundled study mapped as if its survey had asked the short forms: PHQ-8 and PHQ-2 from the PHQ-9 columns,
    GAD-2 from the GAD-7 ones (the other item columns ignored)."""
    import yaml

    from tests.paths import REPO_ROOT

    config = yaml.safe_load((REPO_ROOT / "schemas" / "studies" / "microdose_mood.yaml").read_text(encoding="utf-8"))
    coding = config["instruments"]["phq9"]["coding"]
    phq, gad = config["instruments"]["phq9"]["items"], config["instruments"]["gad7"]["items"]
    config["instruments"] = {
        "phq8": {"items": phq[:8], "coding": coding},
        "phq2": {"items": phq[:2], "coding": coding},
        "gad2": {"items": gad[:2], "coding": coding},
    }
    config["ignored_columns"] += [phq[8], *gad[2:]]
    folder = tmp_path / "studies"
    folder.mkdir()
    (folder / "microdose_mood.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return folder, phq, gad, {str(k): v for k, v in coding.items()}


@pytest.fixture
def studies_dir(short_form_studies):
    return short_form_studies[0]


def test_short_forms_are_scored_with_their_published_cut_offs(workspace, short_form_studies):
    """PHQ-2 and GAD-2 totals 0-6 with the positive screen at 3; PHQ-8 0-24 with the PHQ-9 bands: recomputed here
    from the export itself for every loaded response."""
    from tests.paths import SAMPLE_DIR

    _, phq, gad, coding = short_form_studies
    assert workspace.ingest(workspace.land(SAMPLE_DIR / "baseline.csv")).success
    with (SAMPLE_DIR / "baseline.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))[2:]
    sums = {"phq8": [], "phq2": [], "gad2": []}
    for row in rows:
        for name, columns in (("phq8", phq[:8]), ("phq2", phq[:2]), ("gad2", gad[:2])):
            values = [coding.get(row[c].strip()) for c in columns]
            if all(v is not None for v in values):
                sums[name].append(sum(values))
    loaded = workspace.sql(
        "SELECT instrument, score, band FROM research.instrument_scores WHERE instrument IN ('phq8', 'phq2', 'gad2') "
        "AND score IS NOT NULL"
    )
    assert {i for i, _, _ in loaded} == {"phq8", "phq2", "gad2"}
    for name, cut in (("phq2", 3), ("gad2", 3)):
        scores = [(s, b) for i, s, b in loaded if i == name]
        assert all(0 <= s <= 6 and b == ("positive_screen" if s >= cut else "negative_screen") for s, b in scores)
        # loaded responses are a subset of the export's (exclusions, quarantine), never a score it cannot give
        assert set(s for s, _ in scores) <= set(sums[name])
    phq8 = [(s, b) for i, s, b in loaded if i == "phq8"]
    bands = ["none_minimal", "mild", "moderate", "moderately_severe", "severe"]
    assert all(0 <= s <= 24 and b == bands[min(int(s) // 5, 4)] for s, b in phq8)
    assert set(s for s, _ in phq8) <= set(sums["phq8"])
    # and they are outcomes like any other: in the exact and the public tables
    assert workspace.publish().success
    measures = {m for (m,) in workspace.sql("SELECT DISTINCT measure FROM summary.outcomes")}
    assert {"phq8_total", "phq2_total", "gad2_total"} <= measures
