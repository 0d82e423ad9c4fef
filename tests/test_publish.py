"""Disclosure control in the public tier, on hand-built research rows."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.warehouse import publish
from pipelines.warehouse.tables import RESPONSES, column_names, ensure_tables


def add(conn, n: int, *, wave="baseline", start=0, phq9=5, item9=0, lithium=False, protocol="fadiman"):
    for i in range(start, start + n):
        row = {c: None for c in column_names(RESPONSES)}
        row.update(study="s", participant_id=f"{i:064x}", wave=wave, substance="lsd", protocol=protocol,
                   dose_band="standard", phq9_total=phq9, gad7_total=4, flag_phq9_item9=None if item9 is None else item9 >= 1,
                   flag_lithium=lithium, flag_daily_dosing=False)
        cols = ", ".join(row)
        conn.execute(f"INSERT INTO research.responses ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values()))


@pytest.fixture
def conn():
    c = duckdb.connect()
    ensure_tables(c)
    yield c
    c.close()


def test_small_cells_and_small_complements_are_withheld(conn):
    add(conn, 12)                                   # baseline: 12 with PHQ-9
    add(conn, 3, start=12, phq9=None, item9=None)   # ... and 3 without: 15 in the cell
    add(conn, 5, wave="followup_30d")               # follow-up: 5 people
    publish.build_outcomes_by_protocol_dose(conn)
    cells = {r[0]: r[1:] for r in conn.execute(
        "SELECT wave, n_participants, phq9_n, phq9_mean, suppressed FROM public.outcomes_by_protocol_dose").fetchall()}
    assert cells["baseline"] == (15, None, 5.0, False)   # the mean of 12 is fine; "3 without" is not published
    assert cells["followup_30d"] == (None, None, None, True)

    publish.build_safety_signals(conn)
    rows = conn.execute("SELECT wave, signal, n_assessed, n_flagged, suppressed FROM public.safety_signals "
                        "WHERE signal IN ('phq9_item9', 'lithium') ORDER BY ALL").fetchall()
    assert rows == [
        ("baseline", "lithium", 15, 0, False),
        ("baseline", "phq9_item9", None, None, True),   # 12 of 15 assessed: the 3 could be recovered
        ("followup_30d", "lithium", None, None, True),
        ("followup_30d", "phq9_item9", None, None, True),
    ]


def test_counts_are_participants_per_wave_not_responses(conn):
    add(conn, 6)
    add(conn, 6, wave="followup_30d")  # the same 6 people again
    publish.build_safety_signals(conn)
    assert conn.execute("SELECT bool_and(suppressed), count(n_assessed) FROM public.safety_signals").fetchone() == (True, 0)


def test_everyone_flagged_is_withheld(conn):
    add(conn, 20, lithium=True)
    publish.build_safety_signals(conn)
    assert conn.execute("SELECT suppressed FROM public.safety_signals WHERE signal = 'lithium'").fetchone() == (True,)
