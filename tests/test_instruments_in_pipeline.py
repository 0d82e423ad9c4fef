"""A study that maps DASS-21, WEMWBS and QIDS-SR16 gets every declared score, hand-checked, in the warehouse."""

from __future__ import annotations

import csv
import io

import pytest

from pipelines.readers.qualtrics import METADATA_COLUMNS

DASS = [f"D{i}" for i in range(1, 22)]
WEM = [f"W{i}" for i in range(1, 15)]
QIDS = [f"S{i}" for i in range(1, 17)]

STUDY = """
study: scales_study
title: Several instruments
format: qualtrics_csv
participant_key: {column: ExternalReference}
waves: [{name: baseline, file_pattern: "*", baseline: true}]
response_date_column: RecordedDate
fields:
  substance: {column: SUB, codes: {1: lsd}}
  dose_text: {column: DOSE}
  protocol: {column: PROT, codes: {1: fadiman, 2: daily}}
  medications: {column: MEDS, multiple: true, codes: {1: none, 2: ssri}, other_text_column: MEDS_TEXT}
instruments:
  dass21: {items: [%s], coding: {0: 0, 1: 1, 2: 2, 3: 3}}
  wemwbs: {items: [%s], coding: {"none of the time": 1, "rarely": 2, "some of the time": 3, "often": 4, "all of the time": 5}}
  qids_sr16: {items: [%s], coding: {1: 3, 2: 2, 3: 1, 4: 0}}   # reversed: the survey coded 1 = worst
ignored_columns: [StartDate, EndDate, IPAddress, Progress, "Duration (in seconds)", ResponseId, RecipientLastName,
                  RecipientFirstName, RecipientEmail, LocationLatitude, LocationLongitude, UserLanguage]
""" % (", ".join(DASS), ", ".join(WEM), ", ".join(QIDS))

WEM_LABELS = ["None of the time", "Rarely", "Some of the time", "Often", "All of the time"]


def export(rows: list[dict]) -> bytes:
    columns = list(METADATA_COLUMNS) + ["SUB", "DOSE", "PROT", "MEDS", "MEDS_TEXT"] + DASS + WEM + QIDS
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerow(columns)
    writer.writerow(['{"ImportId":"%s"}' % c for c in columns])
    for i, row in enumerate(rows):
        base = {c: "" for c in columns}
        base.update(
            {
                "Status": "0",
                "Finished": "1",
                "RecordedDate": "2025-05-0%d 10:00:00" % (i + 1),
                "ExternalReference": f"P{i}",
                "DistributionChannel": "anonymous",
                "SUB": "1",
            }
        )
        base.update(row)
        writer.writerow([base[c] for c in columns])
    return out.getvalue().encode()


@pytest.fixture
def studies_dir(tmp_path):
    folder = tmp_path / "studies"
    folder.mkdir()
    (folder / "scales_study.yaml").write_text(STUDY)
    return folder


def test_every_declared_score_lands(workspace):
    dass_depression = {3: 3, 5: 2, 10: 1, 13: 0, 16: 1, 17: 2, 21: 3}  # raw 12 -> x2 24: severe (21-27)
    first = {f"D{i}": str(dass_depression.get(i, 1)) for i in range(1, 22)}
    first.update({f"W{i}": WEM_LABELS[3] for i in range(1, 15)})  # all "Often" = 4 -> WEMWBS 56
    # QIDS source codes reversed: 4 -> 0. Sleep items 1-4 = 0,0,2,3 -> domain 3; item 12 source 3 -> 1 (signal)
    qids_source = {
        1: 4,
        2: 4,
        3: 2,
        4: 1,
        5: 3,
        6: 4,
        7: 4,
        8: 4,
        9: 3,
        10: 4,
        11: 4,
        12: 3,
        13: 4,
        14: 4,
        15: 4,
        16: 2,
    }
    first.update({f"S{i}": str(v) for i, v in qids_source.items()})
    first.update({"DOSE": "5-10ug", "PROT": "2", "MEDS": "2"})
    second = dict(first, D3="-99", W1="", DOSE="Oct-15", PROT="1", MEDS="1", MEDS_TEXT="lithium carbonate 300mg")
    result = workspace.ingest(workspace.land_bytes(export([first, second]), "scales.csv", study="scales_study"))
    assert result.success
    assert workspace.publish().success

    scores = {
        (r[0], r[1], r[2]): r[3:]
        for r in workspace.sql(
            """SELECT s.participant_id = (SELECT min(participant_id) FROM research.responses WHERE dose_status = 'range'),
                  instrument, scale, score, band, prorated
           FROM research.instrument_scores s"""
        )
    }
    assert scores[(True, "dass21", "depression_raw")] == (12.0, None, False)
    assert scores[(True, "dass21", "depression_x2")] == (24.0, "severe", False)
    assert scores[(True, "dass21", "anxiety_raw")] == (7.0, None, False)
    assert scores[(True, "wemwbs", "total")][0] == 56.0
    assert scores[(True, "swemwbs", "raw")][0] == 28.0  # derived from the WEMWBS items: 7 x 4
    assert scores[(True, "swemwbs", "metric")][0] == 25.03
    # QIDS: sleep 3 + item5 1 + appetite max(0,0,0,1)=1 + 10:0 11:0 12:1 13:0 14:0 + psychomotor max(0,2)=2 = 8
    assert scores[(True, "qids_sr16", "total")] == (8.0, "mild", False)
    # a missing item makes the score missing, never a zero
    assert scores[(False, "dass21", "depression_raw")][0] is None
    assert scores[(False, "wemwbs", "total")][0] is None
    assert scores[(False, "dass21", "stress_raw")][0] == 7.0

    rows = workspace.sql(
        """SELECT dose_status, dose_amount, dose_range_low, dose_range_high, dose_band, protocol, days_on, days_off,
                  medication_classes, flag_qids_item12, flag_lithium, flag_ssri_snri, flag_daily_dosing,
                  flag_phq9_item9
           FROM research.responses ORDER BY dose_status"""
    )
    assert rows[0] == ("range", 7.5, 5.0, 10.0, "standard", "daily", 1, 0, ["ssri"], True, False, True, True, None)
    # "10-15" that a spreadsheet showed as a date: the range, its unit inferred (dose_status says it is not exact)
    assert rows[1][:5] == ("unit_inferred", 12.5, 10.0, 15.0, "high_micro")
    assert rows[1][5:9] == ("fadiman", 1, 2, ["lithium"]) and rows[1][10] is True
    items = workspace.sql("SELECT count(*), count(value) FROM research.instrument_items WHERE instrument = 'qids_sr16'")
    assert items == [(32, 32)]
    signals = workspace.sql("SELECT count(*), bool_and(suppressed) FROM public.safety_signals")
    assert signals[0][0] > 0 and signals[0][1] is True  # two responses: every count withheld
