"""The synthetic Qualtrics generator: real layout, determinism, linkable waves, and every edge case present.

Why: the pipeline's tests, demo and benchmark all stand on these files; if the generator silently stopped
producing previews, `-99` or invalid rows, the checks that handle them would go untested.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from pipelines.sample import generator as gen

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "data" / "sample" / "microdose_mood"

METADATA = [
    "StartDate",
    "EndDate",
    "Status",
    "IPAddress",
    "Progress",
    "Duration (in seconds)",
    "Finished",
    "RecordedDate",
    "ResponseId",
    "RecipientLastName",
    "RecipientFirstName",
    "RecipientEmail",
    "ExternalReference",
    "LocationLatitude",
    "LocationLongitude",
    "DistributionChannel",
    "UserLanguage",
]
QUESTIONS = (
    ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "Q7", "Q8", "Q8_7_TEXT", "Q9", "Q10", "Q10_6_TEXT"]
    + [f"Q11_{i}" for i in range(1, 10)]
    + [f"Q12_{i}" for i in range(1, 8)]
    + ["Q13"]
)
ITEMS = [f"Q11_{i}" for i in range(1, 10)] + [f"Q12_{i}" for i in range(1, 8)]
FREE_TEXT = ["Q7", "Q8_7_TEXT", "Q10_6_TEXT", "Q13"]
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def read(path: Path) -> tuple[list[list[str]], list[dict[str, str]]]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header, data = rows[:3], rows[3:]
    return header, [dict(zip(header[0], r)) for r in data]


def norm(email: str) -> str:
    return email.strip().lower()


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("study")
    paths = gen.generate_study(out, participants=200, seed=123)
    return {("baseline" if "baseline" in p.name else "followup"): p for p in paths}


def real(rows):
    return [r for r in rows if r["Status"] == "0"]


def complete(rows):
    return [r for r in real(rows) if r["Finished"] == "1" and r["Q1"] == "1" and r["Q2"] == "1"]


# ---------------------------------------------------------------------------------------------- layout


def test_files_and_names(study):
    assert set(study) == {"baseline", "followup"}
    assert study["baseline"].name == "baseline.csv" and study["followup"].name == "followup.csv"
    for p in study.values():
        raw = p.read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf"), "no BOM in the current Qualtrics CSV"
        raw.decode("utf-8")


def test_header_layout(study):
    for p in study.values():
        header, rows = read(p)
        assert len(header) == 3
        tags, texts, import_ids = header
        assert tags[:17] == METADATA
        assert tags[17:] == QUESTIONS
        assert tags == gen.COLUMNS
        assert len(texts) == len(tags) == len(import_ids)
        assert any("\n" in t for t in texts), "at least one question text holds a line break"
        parsed = [json.loads(x) for x in import_ids]
        assert all(set(d) <= {"ImportId", "timeZone"} and d["ImportId"] for d in parsed)
        by_tag = dict(zip(tags, parsed))
        for c in ("StartDate", "EndDate", "RecordedDate"):
            assert by_tag[c]["timeZone"] == "America/Denver"
        assert "timeZone" not in by_tag["Status"]
        assert by_tag["ResponseId"] == {"ImportId": "_recordId"}
        assert by_tag["Q1"] == {"ImportId": "QID1"}
        assert by_tag["Q8_7_TEXT"] == {"ImportId": "QID8_7_TEXT"}
        assert by_tag["Q11_9"] == {"ImportId": "QID11_9"}
        assert all(len(r) == len(tags) for r in rows)
    # the raw ImportId row is written the way Qualtrics writes it (quoted, doubled quotes)
    assert '"{""ImportId"":""startDate"",""timeZone"":""America/Denver""}"' in study["baseline"].read_text("utf-8")


def test_cell_formats(study):
    for p in study.values():
        _, rows = read(p)
        ids = [r["ResponseId"] for r in rows]
        assert len(set(ids)) == len(ids)
        assert all(re.fullmatch(r"R_[A-Za-z0-9]{15}", i) for i in ids)
        for r in rows:
            for c in ("StartDate", "EndDate", "RecordedDate"):
                assert DATE_RE.match(r[c]), r[c]
            assert r["StartDate"] <= r["EndDate"]
            assert int(r["Duration (in seconds)"]) >= 0
            for c in ("LocationLatitude", "LocationLongitude"):
                assert len(r[c].split(".")[1]) >= 4
            assert re.fullmatch(r"(\d(,\d)*)?|-99", r["Q9"]) and re.fullmatch(r"(\d(,\d)*)?|-99", r["Q10"])
        for r in real(rows):
            assert r["DistributionChannel"] == "email"
            assert "@" in r["RecipientEmail"] and r["RecipientFirstName"] and r["ExternalReference"]
            assert re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", r["IPAddress"])
        # multi-select written the Qualtrics way
        assert any("," in r["Q9"] for r in rows)
        # rows are listed by recorded date, as Qualtrics does
        rec = [r["RecordedDate"] for r in rows]
        assert rec == sorted(rec)


# ---------------------------------------------------------------------------------------------- determinism


def test_deterministic_for_a_seed(tmp_path):
    a = gen.generate_study(tmp_path / "a", participants=60, seed=7)
    b = gen.generate_study(tmp_path / "b", participants=60, seed=7)
    c = gen.generate_study(tmp_path / "c", participants=60, seed=8)
    for pa, pb, pc in zip(a, b, c):
        assert pa.read_bytes() == pb.read_bytes()
        assert pa.read_bytes() != pc.read_bytes()


# ---------------------------------------------------------------------------------------------- waves


def test_waves_share_emails_and_followup_timing(study):
    _, base = read(study["baseline"])
    _, fu = read(study["followup"])
    base_by_email = {norm(r["RecipientEmail"]): r for r in real(base)}
    assert len(base_by_email) == len(real(base)), "one baseline row per participant"
    fu_emails = [norm(r["RecipientEmail"]) for r in real(fu)]
    assert len(set(fu_emails)) == len(fu_emails)
    assert set(fu_emails) <= set(base_by_email), "every follow-up participant has a baseline"
    share = len(fu_emails) / len(base_by_email)
    assert 0.65 <= share <= 0.9
    fmt = "%Y-%m-%d %H:%M:%S"
    for r in real(fu):
        if r["Finished"] != "1":
            continue
        b = base_by_email[norm(r["RecipientEmail"])]
        days = (datetime.strptime(r["RecordedDate"], fmt) - datetime.strptime(b["RecordedDate"], fmt)).days
        assert 28 <= days <= 35
    # the pipeline lower-cases: the export itself carries case variants
    raw = [r["RecipientEmail"] for r in real(base) + real(fu)]
    assert any(e != e.lower() for e in raw)


def test_scores_plausible(study):
    def mean_phq(path):
        _, rows = read(path)
        totals = []
        for r in complete(rows):
            v = [int(r[c]) for c in ITEMS[:9]]
            if all(1 <= x <= 4 for x in v):
                totals.append(sum(x - 1 for x in v))
        return sum(totals) / len(totals), totals

    base_mean, base_tot = mean_phq(study["baseline"])
    fu_mean, _ = mean_phq(study["followup"])
    assert 9 <= base_mean <= 13.5
    assert fu_mean < base_mean - 1
    assert len(set(base_tot)) > 10
    _, rows = read(study["baseline"])
    assert any(r["Q11_9"] in {"2", "3", "4"} for r in complete(rows)), "PHQ-9 item 9 safety signal present"


# ---------------------------------------------------------------------------------------------- edge cases


def test_preview_and_test_rows(study):
    for p in study.values():
        _, rows = read(p)
        previews = [r for r in rows if r["Status"] == "1"]
        tests = [r for r in rows if r["Status"] == "2"]
        assert 2 <= len(previews) <= 3 and 2 <= len(tests) <= 3
        assert all(r["DistributionChannel"] == "preview" for r in previews)
        assert all(r["DistributionChannel"] == "test" for r in tests)
        assert all(r["RecipientEmail"] == "" for r in previews + tests)
        assert all(r["Duration (in seconds)"] == "0" for r in tests)


def test_minus_99_present(study):
    for p in study.values():
        _, rows = read(p)
        cells = [r[c] for r in real(rows) for c in ITEMS]
        n99 = cells.count("-99")
        assert 0 < n99 < 0.05 * len(cells)
        assert any(r[c] == "-99" for r in real(rows) for c in ("Q3", "Q4", "Q5", "Q8", "Q7", "Q10"))


def test_invalid_rows_present(study):
    _, rows = read(study["baseline"])
    rows = real(rows)
    no_consent = [r for r in rows if r["Q1"] == "2"]
    not_eligible = [r for r in rows if r["Q2"] == "2"]
    unfinished = [r for r in rows if r["Finished"] == "0"]
    assert len(no_consent) >= 2 and len(not_eligible) >= 2 and len(unfinished) >= 3
    # survey flow: no consent / not eligible end the survey, so later answers are blank
    assert all(r["Q3"] == "" and r["Q11_1"] == "" for r in no_consent + not_eligible)
    assert all(int(r["Progress"]) < 100 and r["Q13"] == "" for r in unfinished)
    ages = [int(r["Q3"]) for r in rows if r["Q3"] not in ("", "-99")]
    assert any(a < 18 or a > 120 for a in ages)
    bad_items = [r for r in rows for c in ITEMS if r[c] not in ("", "-99", "1", "2", "3", "4")]
    assert bad_items
    assert any(r[c] == "7" for r in rows for c in ITEMS[:9]), "an out-of-range PHQ-9 item"
    _, fu = read(study["followup"])
    assert any(r["Finished"] == "0" for r in real(fu))


def test_free_text_is_messy_but_never_identifying(study):
    _, base = read(study["baseline"])
    doses = {r["Q7"] for r in complete(base)}
    assert len(doses) >= 15
    assert any(re.search(r"\d\s*(ug|µg|mcg)", d) for d in doses)
    assert any(re.search(r"\d\s*(g|mg)\b", d) for d in doses)
    assert any(r["Q8"] == "7" and r["Q8_7_TEXT"] for r in complete(base))
    assert all(r["Q8_7_TEXT"] == "" for r in base if r["Q8"] != "7")
    for p in study.values():
        _, rows = read(p)
        for r in rows:
            full = f"{r['RecipientFirstName']} {r['RecipientLastName']}".strip().lower()
            for c in FREE_TEXT:
                assert "@" not in r[c]
                if full:
                    assert full not in r[c].lower()


# ---------------------------------------------------------------------------------------------- big file


def test_write_export_exact_rows_and_deterministic(tmp_path):
    n = 2_345
    a = gen.write_export(tmp_path / "big_a.csv", n, seed=5, chunk_rows=1_000)
    b = gen.write_export(tmp_path / "big_b.csv", n, seed=5, chunk_rows=1_000)
    assert a.read_bytes() == b.read_bytes()
    header, rows = read(a)
    assert header == gen.header_rows()
    assert len(rows) == n
    assert len({r["ResponseId"] for r in rows}) == n
    emails = [norm(r["RecipientEmail"]) for r in real(rows)]
    assert len(set(emails)) == len(emails)
    assert any(r["Q1"] == "2" for r in rows) and any(r["Finished"] == "0" for r in rows)


def test_write_export_followup_and_empty(tmp_path):
    p = gen.write_export(tmp_path / "f.csv", 500, seed=1, wave="followup", chunk_rows=128)
    header, rows = read(p)
    assert len(rows) == 500 and header[0] == gen.COLUMNS
    p0 = gen.write_export(tmp_path / "e.csv", 0, seed=1)
    header, rows = read(p0)
    assert len(header) == 3 and rows == []
    with pytest.raises(ValueError):
        gen.write_export(tmp_path / "x.csv", 10, seed=1, wave="month3")


def test_cli(tmp_path, capsys):
    assert gen.main(["--rows", "300", "--file", str(tmp_path / "cli.csv"), "--seed", "3"]) == 0
    _, rows = read(tmp_path / "cli.csv")
    assert len(rows) == 300
    assert gen.main(["--out", str(tmp_path / "s"), "--participants", "40", "--seed", "3"]) == 0
    assert sorted(x.name for x in (tmp_path / "s").iterdir()) == ["baseline.csv", "followup.csv"]


# ---------------------------------------------------------------------------------------------- committed sample


def test_committed_sample_layout():
    paths = sorted(SAMPLE_DIR.glob("*.csv"))
    assert [p.name for p in paths] == ["baseline.csv", "followup.csv"]
    assert sum(p.stat().st_size for p in paths) < 500_000
    for p in paths:
        header, rows = read(p)
        assert header == gen.header_rows()
        assert 200 <= len(rows) <= 320
