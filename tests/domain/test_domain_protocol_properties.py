"""Properties of the protocol reader that hold for any numbers and any wording, not just the corpus's."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.domain.protocol import CANONICAL_PROTOCOLS, UNKNOWN, default_table, normalise_protocol

SETTINGS = settings(max_examples=80, deadline=None)
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}


def _spelled(n: int, words: bool) -> str:
    return NUMBER_WORDS[n] if words and n in NUMBER_WORDS else str(n)


@SETTINGS
@given(
    st.integers(1, 7),
    st.integers(0, 7),
    st.booleans(),
    st.sampled_from(["{a} on {b} off", "{a} days on, {b} days off", "{a} on / {b} off"]),
)
def test_a_written_cycle_keeps_its_days_and_maps_only_through_the_table(on, off, words, template):
    r = normalise_protocol(None, template.format(a=_spelled(on, words), b=_spelled(off, words)))
    assert (r.days_on, r.days_off) == (on, off), r
    assert r.protocol == default_table().schedules.get((on, off), "other"), r


@SETTINGS
@given(
    st.integers(1, 7),
    st.booleans(),
    st.sampled_from(["{n} days per week", "{n} times a week", "{n}x/week", "{n} days a wk"]),
)
def test_a_weekly_count_is_read_never_fuzzy_matched(n, words, template):
    r = normalise_protocol(None, template.format(n=_spelled(n, words)))
    assert r.protocol == {2: "twice_weekly", 7: "daily"}.get(n, "other"), r
    if n not in (2, 7):
        assert r.per_week == n and r.matched_by == "weekly_pattern", r


@SETTINGS
@given(
    st.integers(2, 7),
    st.sampled_from(["every {n} days", "a dose every {h}h", "every {h} hours", "once every {n} days"]),
)
def test_an_interval_is_one_dose_then_the_days_between(n, template):
    r = normalise_protocol(None, template.format(n=n, h=24 * n))
    assert (r.days_on, r.days_off) == (1, n - 1), r
    assert r.protocol == default_table().schedules.get((1, n - 1), "other"), r


@SETTINGS
@given(
    st.sampled_from(["daily", "every day", "fadiman", "stamets", "every other day", "twice a week"]),
    st.sampled_from(["not {p}", "I don't follow {p}", "no longer {p}", "definitely not {p}"]),
)
def test_a_negated_label_is_never_the_answer(label, template):
    r = normalise_protocol(None, template.format(p=label))
    assert r.protocol == "other" and r.matched_by == "negated", r


@SETTINGS
@given(
    st.lists(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), min_size=1, max_size=3, unique=True),
    st.sampled_from(["daily except {d}", "every day apart from {d}", "daily but not on {d}"]),
)
def test_an_exception_of_named_days_is_never_daily(days, template):
    names = {
        "mon": "Mondays",
        "tue": "Tuesdays",
        "wed": "Wednesdays",
        "thu": "Thursdays",
        "fri": "Fridays",
        "sat": "Saturdays",
        "sun": "Sundays",
    }
    r = normalise_protocol(None, template.format(d=" and ".join(names[d] for d in days)))
    assert r.protocol != "daily", r
    if set(days) != {"sat", "sun"}:
        assert (r.protocol, r.per_week) == (default_table().weekly.get(7 - len(days), "other"), 7 - len(days)), r


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_arbitrary_text_never_raises_and_gives_a_canonical_label(text):
    r = normalise_protocol(None, text)
    assert r.protocol in (*CANONICAL_PROTOCOLS, UNKNOWN)
    assert (r.days_on is None) == (r.days_off is None)
