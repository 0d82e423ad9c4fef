"""Disclosure control through the real Dagster assets: checks in the run, withdrawal across tiers, a lost key,
leftovers of a failed file, and the differencing attack on two releases of the pipeline itself."""

from __future__ import annotations

import csv
import hashlib

import dagster as dg
import duckdb
import pandas as pd
from click.testing import CliRunner

from pipelines.cli import main
from pipelines.disclosure.release import research_pseudonym_salt
from pipelines.privacy.pseudonym import normalise_key_values, pseudonymise
from tests.conftest import SAMPLE_KEY
from tests.paths import SAMPLE_DIR, STUDY
from tests.test_end_to_end import _records

BASELINE, FOLLOWUP = SAMPLE_DIR / "baseline.csv", SAMPLE_DIR / "followup.csv"


def rows_of(path):
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[:3], rows[3:], {name: i for i, name in enumerate(rows[0])}


def consenting(rows, col):
    return [
        r
        for r in rows
        if r[col["Status"]] == "0"
        and r[col["Finished"]] == "1"
        and r[col["Q1"]] == r[col["Q2"]] == "1"
        and r[col["Q3"]].isdigit()
        and 18 <= int(r[col["Q3"]]) <= 100
    ]


def fixed_key(workspace) -> bytes:
    path = workspace.settings.pseudonym_key_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SAMPLE_KEY + "\n")
    return bytes.fromhex(SAMPLE_KEY)


def pseudonym(email: str, key: bytes) -> str:
    return pseudonymise(normalise_key_values(pd.Series([email], dtype="string"), "email"), key, study=STUDY)[0]


def test_release_checks_report_their_figures(released_sample):
    result = released_sample.publish_result
    checks = {(tuple(e.asset_key.path), e.check_name): e for e in result.get_asset_check_evaluations()}
    k = checks[(("tiers", "research"), "k_anonymity")]
    assert k.passed and k.severity == dg.AssetCheckSeverity.ERROR
    for label in (
        "records",
        "quasi_identifiers",
        "k_achieved_participants",
        "classes_below_k_before",
        "records_below_k_before",
        "sample_unique_share_before",
        "sample_unique_share",
        "records_generalised",
        "records_identifiers_withheld",
        "records_removed",
        "max_reidentification_risk",
        "avg_reidentification_risk",
    ):
        assert label in k.metadata, label
    assert k.metadata["k_achieved_participants"].value >= 5
    for table in ("outcomes", "safety_signals"):
        check = checks[(("public", table), "disclosure_control")]
        assert check.passed and check.severity == dg.AssetCheckSeverity.ERROR
        for label in (
            "cells",
            "primary_suppressions",
            "secondary_suppressions",
            "smallest_published_count",
            "parameter · count_noise_max",
            "parameter · mean_epsilon",
            "parameter · min_cell",
        ):
            assert label in check.metadata, label
        assert check.metadata["smallest_published_count"].value >= 11
    # the margins make most responses count in some published figure
    coverage = checks[(("public", "outcomes"), "disclosure_control")].metadata["responses_in_a_published_cell"].value
    assert coverage["substance"] >= 0.95 and coverage["substance_protocol"] >= 0.5


def test_a_withdrawal_list_empties_every_tier_of_that_person(sample_workspace):
    workspace, key = sample_workspace, bytes.fromhex(SAMPLE_KEY)
    head, rows, col = rows_of(FOLLOWUP)
    email = consenting(rows, col)[0][col["RecipientEmail"]]
    pid = pseudonym(email, key)
    assert workspace.sql("SELECT count(*) FROM research.responses WHERE participant_id = ?", [pid]) == [(2,)]

    listed = workspace.land_bytes(f"RecipientEmail\n{email.upper()}\n".encode(), "withdrawals_2026-12.csv")
    assert workspace.ingest(listed).success
    assert workspace.publish().success
    for table in ("research.responses", "research.instrument_scores", "research.instrument_items", "ops.response_days"):
        assert workspace.sql(f"SELECT count(*) FROM {table} WHERE participant_id = ?", [pid]) == [(0,)], table
    research_id = hashlib.sha256((research_pseudonym_salt(key) + pid).encode()).hexdigest()
    with duckdb.connect(str(workspace.settings.research_tier), read_only=True) as conn:
        assert conn.execute(
            "SELECT count(*) FROM research.responses WHERE participant_id = ?", [research_id]
        ).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM research.responses").fetchone()[0] > 400
    record = workspace.sql(
        "SELECT status, rows_read, rows_withdrawn, excluded_by_reason FROM ops.ingested_files "
        "WHERE file_name = 'withdrawals_2026-12.csv'"
    )
    assert record == [("loaded", 1, 2, {"withdrawal_request": 1})]
    assert workspace.sql("SELECT rows_removed FROM ops.withdrawals WHERE participant_id = ?", [pid]) == [(2,)]

    # an older export of theirs, loaded again later (other bytes), cannot bring them back
    again = workspace.land_bytes(BASELINE.read_bytes() + b"\n", "baseline_reexport.csv")
    assert workspace.ingest(again).success
    assert workspace.sql("SELECT count(*) FROM research.responses WHERE participant_id = ?", [pid]) == [(0,)]
    reasons = workspace.sql(
        "SELECT excluded_by_reason FROM ops.ingested_files WHERE file_name = 'baseline_reexport.csv'"
    )
    assert reasons[0][0]["participant_withdrawn"] >= 1  # them, and anyone a filter withdrew at follow-up


def test_consent_withdrawn_at_follow_up_removes_the_baseline_too(workspace):
    key = fixed_key(workspace)
    assert workspace.ingest(workspace.land(BASELINE)).success
    head, rows, col = rows_of(FOLLOWUP)
    person = consenting(rows, col)[0]
    pid = pseudonym(person[col["RecipientEmail"]], key)
    assert workspace.sql("SELECT wave FROM research.responses WHERE participant_id = ?", [pid]) == [("baseline",)]
    person[col["Q1"]] = "2"  # no longer consents
    assert workspace.ingest(workspace.land_bytes(_records(head + [person]), "followup_one.csv")).success
    assert workspace.sql("SELECT count(*) FROM research.responses WHERE participant_id = ?", [pid]) == [(0,)]
    assert workspace.sql("SELECT rows_withdrawn FROM ops.ingested_files WHERE file_name = 'followup_one.csv'") == [(1,)]


def test_a_lost_key_stops_the_run_and_changes_nothing(sample_workspace):
    workspace = sample_workspace
    key_file = workspace.settings.pseudonym_key_file
    key_file.unlink()
    before = workspace.settings.warehouse.read_bytes()
    workspace.land_bytes(FOLLOWUP.read_bytes() + b"\n", "followup_reexport.csv")
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code != 0
    assert "pseudonymisation key is missing" in result.output and "Restore the key file" in result.output
    assert "Traceback" not in result.output
    assert not key_file.exists()  # no new key was made
    assert workspace.settings.warehouse.read_bytes() == before
    assert workspace.sql("SELECT file_name FROM ops.ingested_files ORDER BY 1") == [
        ("baseline.csv",),
        ("followup.csv",),
    ]


def test_a_file_failing_midway_leaves_no_staging_data(workspace, monkeypatch):
    monkeypatch.setenv("SURVEY_CHUNK_ROWS", "40")
    head, rows, col = rows_of(BASELINE)
    from pipelines.settings import load_settings

    workspace.settings = load_settings()
    broken = _records(head + rows) + b'"a quoted field that is never closed,1,2\n'  # the last chunk fails
    result = workspace.ingest(workspace.land_bytes(broken, "baseline_late_error.csv"))
    assert not result.success
    staging = workspace.settings.staging_dir
    left = [p for p in staging.rglob("*") if p.is_file()] if staging.exists() else []
    assert left == []
    assert workspace.sql("SELECT status FROM ops.ingested_files") == [("failed",)]


def public_release(workspace) -> dict[str, list[tuple]]:
    with duckdb.connect(str(workspace.settings.public_tier), read_only=True) as conn:
        return {
            t: conn.execute(f"SELECT * FROM public.{t} ORDER BY ALL").fetchall() for t in ("outcomes", "safety_signals")
        }


def test_differencing_two_pipeline_releases_learns_nothing(sample_workspace):
    """The issue's attack: one more participant with known answers in a new export, rerun, diff every table."""
    workspace = sample_workspace
    before = public_release(workspace)

    head, rows, col = rows_of(BASELINE)
    target = list(consenting(rows, col)[0])
    target[col["RecipientEmail"]] = "new.participant@example.org"
    for i in range(1, 10):
        target[col[f"Q11_{i}"]] = "4"  # PHQ-9 27: every item 3, item 9 included (thoughts of self-harm)
    sub = target[col["Q6"]]
    assert workspace.ingest(workspace.land_bytes(_records(head + [target]), "baseline_late.csv")).success
    assert workspace.publish().success
    after = public_release(workspace)
    assert after != before

    substance = {"1": "psilocybin_mushrooms", "2": "lsd", "3": "lsd_analogue"}[sub]
    cols = [
        "study",
        "grouping",
        "substance",
        "protocol",
        "dose_band",
        "wave",
        "n_participants",
        "measure",
        "n",
        "mean",
        "suppressed",
    ]
    old = {r[:6] + (r[7],): dict(zip(cols, r)) for r in before["outcomes"]}
    estimates = []
    for row in after["outcomes"]:
        cell = dict(zip(cols, row))
        prev = old[row[:6] + (row[7],)]
        if (
            (cell["substance"], cell["wave"], cell["measure"]) == (substance, "baseline", "phq9_total")
            and cell["grouping"] in ("substance", "substance_dose_band")
            and cell["n"]
            and prev["n"]
        ):
            if cell["n"] != prev["n"] or cell["mean"] != prev["mean"]:
                estimates.append(cell["n"] * cell["mean"] - prev["n"] * prev["mean"])
    assert estimates, "the target's cells should be published in both releases"
    assert all(abs(e - 27) > 1 for e in estimates), estimates  # n x mean no longer gives their score
    # their flag: the attacker's rule (flagged +1 and assessed +1) does not hold in the target's cells
    sig_cols = [
        "study",
        "grouping",
        "substance",
        "protocol",
        "dose_band",
        "wave",
        "n_participants",
        "signal",
        "n_assessed",
        "n_flagged",
        "suppressed",
    ]
    old_sig = {r[:6] + (r[7],): dict(zip(sig_cols, r)) for r in before["safety_signals"]}
    exact_steps = 0
    for row in after["safety_signals"]:
        cell, prev = dict(zip(sig_cols, row)), old_sig[row[:6] + (row[7],)]
        if (
            (cell["substance"], cell["wave"], cell["signal"]) == (substance, "baseline", "phq9_item9")
            and cell["n_flagged"] is not None
            and prev["n_flagged"] is not None
        ):
            exact_steps += (cell["n_flagged"] - prev["n_flagged"], cell["n_assessed"] - prev["n_assessed"]) == (1, 1)
    assert exact_steps <= 1
