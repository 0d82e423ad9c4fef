"""Protocol normalisation: canonical labels, explicit days, stack components, never a guess."""

from __future__ import annotations

import pytest

from pipelines.domain.protocol import (
    CANONICAL_PROTOCOLS,
    ProtocolTable,
    ProtocolTableError,
    default_table,
    normalise_protocol,
    stack_components_from_codes,
)


@pytest.mark.parametrize(
    "text,protocol,on,off",
    [
        ("fadiman", "fadiman", 1, 2),
        ("Fadiman protocol", "fadiman", 1, 2),
        ("1 on 2 off", "fadiman", 1, 2),
        ("1 day on, 2 days off", "fadiman", 1, 2),
        ("every 3rd day", "fadiman", 1, 2),
        ("every third day", "fadiman", 1, 2),
        ("once every 3 days", "fadiman", 1, 2),
        ("Stamets stack", "stamets", 4, 3),
        ("stamets", "stamets", 4, 3),
        ("4 on 3 off", "stamets", 4, 3),
        ("5 on 2 off", "stamets", 5, 2),
        ("Stamets, 5 on / 2 off", "stamets", 5, 2),
        ("M-F", "stamets", 5, 2),
        ("mon-fri", "stamets", 5, 2),
        ("weekdays only", "stamets", 5, 2),
        ("every other day", "every_other_day", 1, 1),
        ("alternate days", "every_other_day", 1, 1),
        ("every 2 days", "every_other_day", 1, 1),
        ("twice a week", "twice_weekly", None, None),
        ("2x/week", "twice_weekly", None, None),
        ("Mon and Thu", "twice_weekly", None, None),
        ("mondays & thursdays", "twice_weekly", None, None),
        ("daily", "daily", 1, 0),
        ("every day", "daily", 1, 0),
        ("when I feel like it", "intuitive", None, None),
        ("as needed", "intuitive", None, None),
        ("Intuitively, no set schedule", "intuitive", None, None),
    ],
)
def test_free_text_to_canonical(text, protocol, on, off):
    r = normalise_protocol(None, text)
    assert (r.protocol, r.days_on, r.days_off) == (protocol, on, off), r


@pytest.mark.parametrize("text", ["fadimen", "Fadman", "stammets", "Stametts"])
def test_typos_in_names_match_with_a_high_threshold(text):
    r = normalise_protocol("other", text)
    assert r.protocol in ("fadiman", "stamets") and r.matched_by == "fuzzy_name"


@pytest.mark.parametrize(
    "text", ["my own thing", "3 times a week", "dairy", "states", "whatever my friend does", "3 on 4 off"]
)
def test_unknown_text_is_other_never_a_guess(text):
    assert normalise_protocol("other", text).protocol == "other"


def test_unmatched_schedule_keeps_its_days():
    r = normalise_protocol(None, "3 on 4 off")
    assert (r.protocol, r.days_on, r.days_off) == ("other", 3, 4)
    r = normalise_protocol(None, "once a week")  # a weekly count, not a cycle: the count is kept
    assert (r.protocol, r.days_on, r.days_off, r.per_week) == ("other", None, None, 1)
    r = normalise_protocol(None, "4 days per week")  # never twice_weekly: numbers are read, not fuzzy-matched
    assert (r.protocol, r.per_week, r.matched_by) == ("other", 4, "weekly_pattern")


def test_conflicting_labels_give_other():
    r = normalise_protocol(None, "fadiman but sometimes stamets")
    assert r.protocol == "other" and r.matched_by == "conflict"


def test_code_wins_and_text_adds_components():
    r = normalise_protocol("stamets", "stack with lion's mane and niacin")
    assert r == normalise_protocol("stamets", "stacked")
    assert r.protocol == "stamets" and r.matched_by == "code"
    assert r.stack_components == ("lions_mane", "niacin")
    assert normalise_protocol("fadiman", "1 on 3 off").protocol == "fadiman"


def test_stamets_stack_implies_its_components_only_when_stacked():
    assert normalise_protocol(None, "Stamets stack").stack_components == ("lions_mane", "niacin")
    assert normalise_protocol(None, "stamets").stack_components == ()
    assert normalise_protocol(None, "fadiman with lions mane").stack_components == ("lions_mane",)
    assert normalise_protocol(None, "daily + vitamin B3 + reishi").stack_components == ("niacin", "reishi")
    assert normalise_protocol(None, "every other day, lions main").stack_components == ("lions_mane",)


def test_missing_answers():
    r = normalise_protocol(None, None)
    assert (r.protocol, r.matched_by) == ("unknown", "missing")
    assert normalise_protocol("", "  ").protocol == "unknown"
    assert normalise_protocol("other", None).protocol == "other"
    assert normalise_protocol("Fadiman", None).protocol == "fadiman"  # an uncoded label in the coded column


def test_every_canonical_code_round_trips():
    table = default_table()
    for name in CANONICAL_PROTOCOLS:
        r = normalise_protocol(name, None)
        assert r.protocol == name
        if name != "other":
            assert (r.days_on, r.days_off) == (table.protocols[name].days_on, table.protocols[name].days_off)


def test_stack_components_from_codes():
    assert stack_components_from_codes(["lions_mane", "niacin", "other"]) == ("lions_mane", "niacin")
    assert stack_components_from_codes("niacin,lions_mane") == ("lions_mane", "niacin")
    assert stack_components_from_codes(["Lion's Mane", "Vitamin B3"]) == ("lions_mane", "niacin")
    assert stack_components_from_codes(["none"]) == ()
    assert stack_components_from_codes(None) == ()
    assert stack_components_from_codes([]) == ()


def test_the_table_is_configuration():
    raw = {
        "protocols": {"fadiman": {"days_on": 1, "days_off": 2, "names": ["fadiman"], "phrases": ["the james way"]}},
        "schedules": [{"days_on": 1, "days_off": 2, "protocol": "fadiman"}],
        "stack_components": {"lions_mane": ["lion's mane"]},
    }
    table = ProtocolTable.from_dict(raw)
    assert normalise_protocol(None, "The James way", table).protocol == "fadiman"
    assert normalise_protocol(None, "every other day", table).protocol == "other"


@pytest.mark.parametrize(
    "raw,named",
    [
        ({"protocols": {"fadimann": {}}}, "protocols.fadimann"),
        ({"protocols": {"fadiman": {"days_on": -1}}}, "protocols.fadiman.days_on"),
        ({"protocols": {"fadiman": {"colour": "red"}}}, "protocols.fadiman.colour"),
        ({"schedules": [{"days_on": 1, "days_off": 2, "protocol": "weekly"}]}, "schedules[0].protocol"),
        ({"protocols": {"stamets": {"stack_implies": ["kale"]}}}, "protocols.stamets.stack_implies"),
    ],
)
def test_table_errors_name_the_key(raw, named):
    with pytest.raises(ProtocolTableError) as err:
        ProtocolTable.from_dict(raw)
    assert named in str(err.value)


def test_free_text_never_appears_in_the_result():
    secret = "jane.doe@example.org told me fadiman"
    r = normalise_protocol(None, secret)
    assert "jane" not in repr(r)
