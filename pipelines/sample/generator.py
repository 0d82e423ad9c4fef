"""Seeded generator of synthetic Qualtrics CSV exports of the template study `microdose_mood`.

Why: the pipeline must be developed, tested and benchmarked without real participants' data, yet against
the real export layout (3 header rows, ImportId JSON, `-99`, previews/tests, messy free-text doses).
Everything here is fake; names and emails are built from small word lists.

The layout copies the current Qualtrics numeric-values CSV export (see domain.md section 5 and
`../shared/samples/real-exports/`): UTF-8 without BOM, LF records, question text with embedded line
breaks, `{"ImportId":...}` JSON with a `timeZone` on date columns.

Pure numpy/csv: no pandas or dagster import, so it is cheap to import from tests and benchmarks.
Rows are built column-wise with numpy per chunk and written with `csv.writer.writerows`, so
`write_export` streams millions of rows in bounded memory.
"""

from __future__ import annotations

import argparse
import csv
import json
import unicodedata
from pathlib import Path

import numpy as np

__all__ = [
    "METADATA_COLUMNS",
    "QUESTION_COLUMNS",
    "COLUMNS",
    "header_rows",
    "generate_study",
    "write_export",
    "main",
]

TIME_ZONE = "America/Denver"
LAUNCH = {"baseline": np.datetime64("2025-03-03T08:00:00", "s"), "followup": np.datetime64("2025-04-01T08:00:00", "s")}
EMPTY = -1  # sentinel for an empty cell in integer-coded columns (never a real code)
UNANSWERED = -99  # Qualtrics: seen but unanswered

# --------------------------------------------------------------------------------------------------
# Layout: export tag, question text, ImportId (the 3 header rows)
# --------------------------------------------------------------------------------------------------

_METADATA = [
    # (export tag, label, ImportId, has timeZone)
    ("StartDate", "Start Date", "startDate", True),
    ("EndDate", "End Date", "endDate", True),
    ("Status", "Response Type", "status", False),
    ("IPAddress", "IP Address", "ipAddress", False),
    ("Progress", "Progress", "progress", False),
    ("Duration (in seconds)", "Duration (in seconds)", "duration", False),
    ("Finished", "Finished", "finished", False),
    ("RecordedDate", "Recorded Date", "recordedDate", True),
    ("ResponseId", "Response ID", "_recordId", False),
    ("RecipientLastName", "Recipient Last Name", "recipientLastName", False),
    ("RecipientFirstName", "Recipient First Name", "recipientFirstName", False),
    ("RecipientEmail", "Recipient Email", "recipientEmail", False),
    ("ExternalReference", "External Data Reference", "externalDataReference", False),
    ("LocationLatitude", "Location Latitude", "locationLatitude", False),
    ("LocationLongitude", "Location Longitude", "locationLongitude", False),
    ("DistributionChannel", "Distribution Channel", "distributionChannel", False),
    ("UserLanguage", "User Language", "userLanguage", False),
]

_PHQ_STEM = "Over the last 2 weeks, how often have you been bothered\nby any of the following problems?"
_PHQ_ITEMS = [
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself - or that you are a failure or have let yourself or your family down",
    "Trouble concentrating on things, such as reading the newspaper or watching television",
    "Moving or speaking so slowly that other people could have noticed? Or the opposite - being so fidgety "
    "or restless that you have been moving around a lot more than usual",
    "Thoughts that you would be better off dead or of hurting yourself in some way",
]
_GAD_STEM = "Over the last 2 weeks, how often have you been bothered by the following problems?"
_GAD_ITEMS = [
    "Feeling nervous, anxious or on edge",
    "Not being able to stop or control worrying",
    "Worrying too much about different things",
    "Trouble relaxing",
    "Being so restless that it is hard to sit still",
    "Becoming easily annoyed or irritable",
    "Feeling afraid as if something awful might happen",
]
_QUESTIONS = [
    ("Q1", "Consent\nI have read the participant information sheet and agree to take part in this study.", "QID1"),
    ("Q2", "Are you 18 or older and currently microdosing (or starting within the next 7 days)?", "QID2"),
    ("Q3", "How old are you? (years)", "QID3_TEXT"),
    ("Q4", "What is your gender?", "QID4"),
    ("Q5", "In which country do you currently live?", "QID5"),
    ("Q6", "Which substance do you microdose with?", "QID6"),
    ("Q7", "What is your usual dose?\nPlease include the unit (e.g. g, mg, µg, tab).", "QID7_TEXT"),
    ("Q8", "Which dosing schedule do you follow? - Selected Choice", "QID8"),
    ("Q8_7_TEXT", "Which dosing schedule do you follow? - Other (please describe) - Text", "QID8_7_TEXT"),
    ("Q9", 'Do you combine your microdose with any of the following (a "stack")? Select all that apply.', "QID9"),
    ("Q10", "Are you currently taking any of these medications? Select all that apply. - Selected Choice", "QID10"),
    (
        "Q10_6_TEXT",
        "Are you currently taking any of these medications? Select all that apply. - Other (please specify) - Text",
        "QID10_6_TEXT",
    ),
    *[(f"Q11_{i}", f"{_PHQ_STEM} - {t}", f"QID11_{i}") for i, t in enumerate(_PHQ_ITEMS, 1)],
    *[(f"Q12_{i}", f"{_GAD_STEM} - {t}", f"QID12_{i}") for i, t in enumerate(_GAD_ITEMS, 1)],
    ("Q13", "Is there anything else you would like to tell us?\n(optional)", "QID13_TEXT"),
]

METADATA_COLUMNS: list[str] = [m[0] for m in _METADATA]
QUESTION_COLUMNS: list[str] = [q[0] for q in _QUESTIONS]
COLUMNS: list[str] = METADATA_COLUMNS + QUESTION_COLUMNS
PHQ_COLUMNS = [f"Q11_{i}" for i in range(1, 10)]
GAD_COLUMNS = [f"Q12_{i}" for i in range(1, 8)]


def header_rows() -> list[list[str]]:
    """The 3 Qualtrics header rows: export tags, question texts, ImportId JSON."""
    import_ids = []
    for _, _, iid, tz in _METADATA:
        obj = {"ImportId": iid, "timeZone": TIME_ZONE} if tz else {"ImportId": iid}
        import_ids.append(json.dumps(obj, separators=(",", ":")))
    import_ids += [json.dumps({"ImportId": q[2]}, separators=(",", ":")) for q in _QUESTIONS]
    return [COLUMNS[:], [m[1] for m in _METADATA] + [q[1] for q in _QUESTIONS], import_ids]


# --------------------------------------------------------------------------------------------------
# Vocabularies (weights are relative)
# --------------------------------------------------------------------------------------------------

_FIRST = """James Mary Michael Patricia Robert Jennifer David Linda William Elizabeth Richard Barbara Joseph Susan
Thomas Jessica Christopher Sarah Daniel Karen Matthew Lisa Anthony Nancy Mark Betty Steven Sandra Andrew Ashley
Joshua Emily Kevin Michelle Brian Amanda Ryan Melissa Jacob Stephanie Nicholas Rebecca Tyler Laura Jonathan Megan
Justin Rachel Brandon Hannah Samuel Olivia Benjamin Chloe Nathan Emma Lukas Lena Jonas Anna Felix Leonie Maximilian
Jürgen Sophie Tobias Sven Daan Sanne Bram Fleur Thijs Noor Liam Zoë Noah Aoife Oliver Siobhan Harry Isla Jack Niamh
Mateo Lucía Søren Freya Aarav Priya Wei Mei Hiroshi Yuki Kwame Amara Tomás Inês Chidi Ngozi Jamal Aaliyah Mohammed
Fatima Dmitri Katya Luca Giulia Connor Maeve Ethan Ava Caleb Madison Dylan Brooke Marcus Tanya""".split()
_LAST = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Wilson Anderson
Thomas Taylor Moore Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright
Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Campbell Mitchell Carter Roberts Müller Schmidt
Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch Richter Klein Wolf Schröder de_Vries van_Dijk Bakker
Janssen Visser Smit Meijer de_Boer Mulder Bos O'Brien Murphy Kelly Walsh Byrne Ryan O'Connor McCarthy Evans Hughes
Edwards Patel Shah Singh Khan Chen Wang Li Zhang Tanaka Sato Kowalski Nowak Novak Rossi Russo Ferrari Dubois Moreau
Lefebvre Andersson Johansson Larsen Nielsen Hansen Olsen Silva Santos Costa Oliveira Ivanova Petrov MacDonald Stewart
Fraser Morrison Okafor Mensah Wilson-Hart Fitzgerald""".split()
_LAST = [s.replace("_", " ") for s in _LAST]

_DOMAINS = ["gmail.com"] * 8 + [
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "protonmail.com",
    "proton.me",
    "aol.com",
    "live.com",
]
_COUNTRY_DOMAINS = {
    1: ["comcast.net", "att.net"],
    2: ["shaw.ca", "rogers.com"],
    3: ["btinternet.com", "hotmail.co.uk"],
    4: ["web.de", "gmx.de", "t-online.de"],
    5: ["ziggo.nl", "kpnmail.nl"],
    6: ["bigpond.com", "outlook.com.au"],
    7: ["mail.com"],
}

# country code -> (weight, [(lat, lon), ...] city centres, UserLanguage choices)
_COUNTRIES = {
    1: (
        38,
        [
            (39.7392, -104.9903),
            (45.5152, -122.6784),
            (37.7749, -122.4194),
            (40.7128, -74.0060),
            (30.2672, -97.7431),
            (47.6062, -122.3321),
            (42.3601, -71.0589),
            (41.8781, -87.6298),
            (34.0522, -118.2437),
            (35.5951, -82.5515),
        ],
        ["EN"],
    ),
    2: (
        10,
        [(43.6532, -79.3832), (49.2827, -123.1207), (45.5017, -73.5673), (51.0447, -114.0719)],
        ["EN"] * 4 + ["FR-CA"],
    ),
    3: (
        14,
        [(51.5074, -0.1278), (53.4808, -2.2426), (51.4545, -2.5879), (55.9533, -3.1883), (53.8008, -1.5491)],
        ["EN"],
    ),
    4: (
        10,
        [(52.5200, 13.4050), (53.5511, 9.9937), (48.1351, 11.5820), (50.9375, 6.9603), (50.1109, 8.6821)],
        ["DE", "DE", "EN"],
    ),
    5: (8, [(52.3676, 4.9041), (51.9244, 4.4777), (52.0907, 5.1214), (52.0705, 4.3007)], ["NL", "EN", "EN"]),
    6: (8, [(-33.8688, 151.2093), (-37.8136, 144.9631), (-27.4698, 153.0251), (-31.9523, 115.8613)], ["EN"]),
    7: (
        12,
        [
            (59.3293, 18.0686),
            (-23.5505, -46.6333),
            (53.3498, -6.2603),
            (47.3769, 8.5417),
            (59.9139, 10.7522),
            (19.4326, -99.1332),
            (-36.8485, 174.7633),
            (-33.9249, 18.4241),
            (41.3874, 2.1686),
        ],
        ["EN", "EN", "ES", "PT-BR"],
    ),
}
_IP_FIRST_OCTETS = [
    23,
    24,
    31,
    37,
    45,
    50,
    62,
    66,
    67,
    68,
    69,
    71,
    72,
    73,
    74,
    75,
    76,
    77,
    78,
    79,
    80,
    81,
    82,
    83,
    84,
    85,
    86,
    87,
    88,
    89,
    90,
    91,
    92,
    93,
    94,
    95,
    96,
    97,
    98,
    99,
    104,
    107,
    108,
    109,
    130,
    136,
    142,
    147,
    151,
    174,
    176,
    178,
    185,
    188,
    193,
    195,
    203,
    212,
    217,
]

# protocol code -> weight, baseline PHQ-9 offset (points), mean PHQ-9 improvement at 30 days (points)
_PROTOCOLS = {
    1: (34, 0.0, 3.0),
    2: (22, 0.5, 3.5),
    3: (10, -0.5, 2.5),
    4: (9, -1.0, 2.0),
    5: (6, 2.0, 1.0),
    6: (11, -1.5, 1.5),
    7: (8, 0.0, 2.0),
}
# dose band -> extra improvement (points): standard-range doses improve most
_BAND_EFFECT = {"very_low": -2.0, "standard": 2.5, "high_micro": -0.5, "above_micro": -2.0, "unknown": -0.5}
_PROTOCOL_OTHER = [
    ("1 on 2 off", 5),
    ("every 3rd day", 5),
    ("M-F", 4),
    ("when I feel like it", 4),
    ("Mon/Thu", 3),
    ("2 on 2 off", 2),
    ("5 on 2 off", 3),
    ("weekdays only, weekends off", 2),
    ("1 day on 3 days off", 2),
    ("every 4 days", 2),
    ("fadiman but I skip when busy", 2),
    ("3x a week", 3),
    ("only on big work days", 2),
    ("Mo, Mi, Fr", 1),
    ("4 days on 3 off but sometimes 5/2", 1),
    ("started daily, now every other day", 1),
    ("every 2-3 days", 2),
]
_STACKS_BY_PROTOCOL = {2: [("1,2", 70), ("1", 12), ("1,2,3", 6), ("", 12)]}
_STACKS_DEFAULT = [("", 90), ("1", 7), ("1,2", 2), ("3", 1)]
_MEDS = [
    ("1", 70),
    ("2", 12),
    ("3", 4),
    ("4", 0.8),
    ("5", 0.4),
    ("6", 7),
    ("2,6", 2.5),
    ("3,6", 1),
    ("2,4", 0.3),
    ("4,6", 0.3),
]
_MEDS_OTHER = [
    ("bupropion", 4),
    ("Wellbutrin 150mg", 3),
    ("lamotrigine", 2),
    ("adderall", 3),
    ("Vyvanse", 2),
    ("birth control", 3),
    ("propranolol as needed", 2),
    ("melatonin", 2),
    ("trazodone for sleep", 2),
    ("levothyroxine", 2),
    ("ritalin", 1),
    ("quetiapine 25mg", 1),
    ("buspirone", 1),
    ("gabapentin", 1),
]

# (substance codes, text, true band, weight). Texts copy real free-text doses: ranges, date-mangled ranges,
# unit slips (".25mg" meaning 0.25 g), vague amounts, volumetric solutions and a few full doses.
_PSI, _LSD, _ANA = 1, 2, 3
_DOSES = [
    *[
        ((_PSI,), t, "standard", w)
        for t, w in [
            ("0.1g", 8),
            ("0.1 g", 4),
            (".1", 3),
            ("0.15g", 4),
            ("0.2g", 8),
            ("0.2 g", 4),
            (".2g", 3),
            ("0,2 g", 3),
            (".25", 4),
            ("0.25g", 5),
            ("0,25g", 1),
            ("0.3g", 4),
            ("100mg", 4),
            ("150 mg", 3),
            ("200mg", 4),
            ("250mg", 2),
            ("0.1-0.2g", 3),
            ("0.2-0.3 g", 2),
            ("0.2 grams", 2),
            ("200 milligrams", 1),
            (".25mg", 1),
            ("0.16 mg", 0.7),
            ("100000 ug", 0.3),
            ("0.2g dried", 1),
            ("0.15 g cubensis", 1),
            ("about 0.2g", 1),
            ("0.1 - 0.15g", 1),
        ]
    ],
    *[((_PSI,), t, "very_low", w) for t, w in [("0.05g", 2), ("50mg", 2), ("0.075 g", 1), ("75mg", 1), (".05", 0.5)]],
    *[
        ((_PSI,), t, "high_micro", w)
        for t, w in [("0.35g", 2), ("0.4g", 2), ("0.5 g", 2), ("400mg", 1), ("0.3-0.5g", 1), (".4", 0.5)]
    ],
    *[
        ((_PSI,), t, "above_micro", w)
        for t, w in [("1g", 1), ("2 g", 0.5), ("3.5g", 0.4), ("5g", 0.3), ("1.5 grams", 0.3)]
    ],
    *[
        ((_PSI,), t, "unknown", w)
        for t, w in [
            ("1 small cap", 2),
            ("1 small shroom", 1),
            ("one capsule", 1.5),
            ("2 caps", 1),
            ("a small piece", 1),
            ("half a stem", 0.5),
            ("depends on the day", 0.5),
            ("not sure", 0.5),
            ("1 cap", 1),
        ]
    ],
    *[
        ((_LSD, _ANA), t, "standard", w)
        for t, w in [
            ("10ug", 8),
            ("10 ug", 4),
            ("10µg", 3),
            ("10 µg", 3),
            ("5ug", 3),
            ("7.5 mcg", 3),
            ("8mcg", 2),
            ("10mcg", 4),
            ("5 micrograms", 2),
            ("10 micrograms", 2),
            ("1/10 tab", 5),
            ("a tenth of a tab", 2),
            ("1/12 tab", 1),
            ("1/15 tab", 1),
            ("1/20 tab", 2),
            ("5-10ug", 2),
            ("5-Oct", 0.7),
            ("6 ug", 1),
            ("7ug", 1),
            ("10 mikrogramm", 0.3),
        ]
    ],
    *[((_LSD, _ANA), t, "very_low", w) for t, w in [("2.5ug", 1), ("3ug", 1), ("1/40 tab", 0.5), ("4 mcg", 0.5)]],
    *[
        ((_LSD, _ANA), t, "high_micro", w)
        for t, w in [
            ("12ug", 1.5),
            ("15ug", 2),
            ("15 mcg", 1),
            ("20ug", 1),
            ("Oct-15", 1.5),
            ("1/8 tab", 1),
            ("12.5 micrograms", 1),
            ("10-15ug", 1),
        ]
    ],
    *[
        ((_LSD, _ANA), t, "above_micro", w)
        for t, w in [
            ("25ug", 0.5),
            ("1/4 tab", 0.5),
            ("50ug", 0.3),
            ("100ug", 0.2),
            ("150ug", 0.3),
            ("half a tab", 0.3),
        ]
    ],
    *[
        ((_LSD, _ANA), t, "unknown", w)
        for t, w in [
            ("0.5ml", 1.5),
            ("1ml of solution", 1),
            ("a drop", 0.5),
            ("1 drop", 0.5),
            ("not sure, a sliver", 0.5),
            ("1/10", 1),
        ]
    ],
    *[
        ((_ANA,), t, b, w)
        for t, b, w in [
            ("15ug 1P-LSD", "high_micro", 3),
            ("1P-LSD 10ug", "standard", 4),
            ("10ug ALD-52", "standard", 2),
            ("1/10 tab 1P", "standard", 2),
            ("10 mcg 1p-lsd", "standard", 2),
            ("1cP-LSD 8ug", "standard", 1),
        ]
    ],
]
_DOSE_TEXT = np.array([d[1] for d in _DOSES], dtype=object)
_DOSE_BAND = np.array([d[2] for d in _DOSES], dtype=object)

_COMMENTS = {
    "baseline": [
        ("Hoping this helps with my low mood, nothing else has worked so far.", 4),
        ("Started about three weeks ago.", 3),
        ("I find it hard to tell if it's placebo honestly", 3),
        ("Mostly doing this for focus at work, mood is a bonus.", 3),
        ("Some mild anxiety on dose days, otherwise fine.", 3),
        ("My therapist knows I'm doing this.", 2),
        ("First time microdosing, did a lot of reading beforehand.", 2),
        ("I weigh my doses with a 0.001g scale.", 2),
        ('Dose days feel "brighter", off days are normal.', 2),
        ("Tapering off sertraline with my doctor, started microdosing after.", 1),
        ("Sleep has been rough lately.\nNot sure if related.", 1),
        ("n/a", 2),
        ("no", 2),
        ("-", 1),
        ("Mehr Energie, weniger Grübeln bisher.", 1),
        ("Would be nice to get a summary of the results.", 2),
        ("Question about dose was confusing, I use a volumetric solution.", 1),
    ],
    "followup": [
        ("Mood has been noticeably better the last two weeks.", 4),
        ("Honestly not much difference.", 3),
        ("I stopped for a week because of headaches, then restarted.", 2),
        ("Better focus, but more anxious on dose days.", 3),
        ("Switched from Fadiman to every other day halfway through.", 2),
        ("My partner says I'm calmer.", 2),
        ("I think tolerance built up, effect faded after week 2.", 2),
        ("Felt more emotional in the first week, then it settled.", 2),
        ("Ran out halfway through the month.", 1),
        ("Good experience overall.\nWill keep going.", 2),
        ("Sleeping better, less rumination.", 2),
        ("n/a", 2),
        ("nope", 1),
        ("thanks!", 2),
        ("Weniger Angst im Alltag, schwer zu sagen ob es daran liegt.", 1),
        ("Would like to know how my scores compare to others.", 1),
    ],
}
_LOREM = [
    "Venenatis mattis, donec praesent risus sed porttitor accumsan lacus odio.",
    "Faucibus vestibulum, laoreet pharetra volutpat? Est eget odio luctus dolorem ab! Mauris nulla.",
    "Sagittis natoque? Sagittis sollicitudin. Sed vehicula. Consequat sit temporibus!",
    "Purus lectus massa ab consectetuer dui cras dictumst est sem commodo in! Egestas.",
    "Risus tellus gravida maecenas enim. Vehicula orci vitae tellus vel.",
]

# Row kinds: how far the respondent got through the survey flow.
NORMAL, NO_CONSENT, NOT_ELIGIBLE, UNFINISHED = 0, 1, 2, 3
_BAD_AGES = np.array([7, 212, 3, 170])
_BAD_ITEM_VALUES = np.array([7, 5, 0, 9])

_INT_STR = np.array([str(i) for i in range(-99, 1000)], dtype=object)
_INT_STR[EMPTY + 99] = ""
_ALNUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
_RID_MULT, _RID_MASK = np.uint64(0x9E3779B97F4A7C15), np.uint64(2**47 - 1)


def _ascii(s: str) -> str:
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    return s.replace("'", "").replace(" ", "").replace("-", "").lower()


_FIRST_ARR = np.array(_FIRST, dtype=object)
_LAST_ARR = np.array(_LAST, dtype=object)
_FIRST_ASCII = np.array([_ascii(s) for s in _FIRST], dtype=object)
_LAST_ASCII = np.array([_ascii(s) for s in _LAST], dtype=object)


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, pairs, n: int) -> np.ndarray:
    """Draw n values from (value, weight) pairs, as an object array."""
    vals = np.empty(len(pairs), dtype=object)
    vals[:] = [p[0] for p in pairs]
    w = np.array([p[1] for p in pairs], dtype=float)
    return vals[rng.choice(len(pairs), size=n, p=w / w.sum())]


def _int_str(a: np.ndarray) -> np.ndarray:
    """Integer codes to cell strings; EMPTY becomes an empty cell. Table lookup: far faster than str()."""
    a = np.asarray(a, dtype=np.int64)
    if a.size and (a.min() < -99 or a.max() > 999):
        out = a.astype(str).astype(object)
        out[a == EMPTY] = ""
        return out
    return _INT_STR[a + 99]


def _fmt_dates(sec: np.ndarray) -> np.ndarray:
    """Seconds since epoch (naive local time) to `2025-03-04 10:22:31`."""
    s = np.datetime_as_string(np.asarray(sec, dtype="datetime64[s]"), unit="s").astype("<U19")
    s.view("<U1").reshape(-1, 19)[:, 10] = " "
    return s.astype(object)


def _response_ids(rng: np.random.Generator, index: np.ndarray) -> np.ndarray:
    """`R_` + 15 alphanumerics; 8 of them encode the row index bijectively, so ids never collide in a file."""
    n = len(index)
    digits = np.empty((n, 15), dtype=np.int64)
    digits[:, :7] = rng.integers(0, 62, size=(n, 7))
    # odd multiplier, wrapping uint64 arithmetic, low 47 bits: a bijection on [0, 2**47), and 2**47 < 62**8
    x = np.asarray(index, dtype=np.uint64) * _RID_MULT + np.uint64(int(rng.integers(0, 2**47)))
    x = (x & _RID_MASK).astype(np.int64)
    for k in range(8):
        digits[:, 7 + k] = x % 62
        x //= 62
    raw = np.empty((n, 17), dtype=np.uint8)
    raw[:, 0], raw[:, 1] = ord("R"), ord("_")
    raw[:, 2:] = _ALNUM[digits]
    return raw.view("S17").ravel().astype("U17").astype(object)


def _coords(values: np.ndarray) -> np.ndarray:
    """Qualtrics stores coordinates as float32: `47.1151008605957`."""
    return values.astype(np.float32).astype(np.float64).astype(str).astype(object)


def _items(rng, totals: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Item responses coded 1-4 (Qualtrics recode of 0-3) whose sum tracks the latent total."""
    theta = totals[:, None] / len(offsets) + offsets[None, :]
    scores = np.clip(np.rint(theta + rng.normal(0.0, 0.55, size=theta.shape)), 0, 3).astype(np.int64)
    return scores + 1


_PHQ_OFFSETS = np.array([0.12, 0.17, 0.38, 0.48, 0.12, 0.12, 0.17, -0.21, -1.35])
_GAD_OFFSETS = np.array([0.3, 0.1, 0.3, 0.1, -0.4, 0.2, -0.6])


# --------------------------------------------------------------------------------------------------
# Participants
# --------------------------------------------------------------------------------------------------


def _draw_people(rng: np.random.Generator, n: int, index0: int, *, always_number: bool) -> dict[str, np.ndarray]:
    """Per-participant attributes (identity, profile, latent baseline severity), vectorised."""
    p: dict[str, np.ndarray] = {}
    fi = rng.integers(0, len(_FIRST), n)
    li = rng.integers(0, len(_LAST), n)
    p["first"], p["last"] = _FIRST_ARR[fi], _LAST_ARR[li]

    codes = np.array(list(_COUNTRIES))
    cw = np.array([_COUNTRIES[c][0] for c in codes], dtype=float)
    country = codes[rng.choice(len(codes), size=n, p=cw / cw.sum())]
    lat = np.empty(n)
    lon = np.empty(n)
    lang = np.empty(n, dtype=object)
    for c in codes:
        m = country == c
        k = int(m.sum())
        if not k:
            continue
        cities = np.array(_COUNTRIES[c][1])
        ci = rng.integers(0, len(cities), k)
        lat[m] = cities[ci, 0] + rng.normal(0, 0.12, k)
        lon[m] = cities[ci, 1] + rng.normal(0, 0.15, k)
        langs = np.array(_COUNTRIES[c][2], dtype=object)
        lang[m] = langs[rng.integers(0, len(langs), k)]
    p["country"], p["lat"], p["lon"], p["lang"] = country, lat, lon, lang

    # Emails: the contact list's address, so the same person links across waves.
    pattern = rng.integers(0, 6, n)
    number = rng.integers(1, 100, n)
    if always_number:  # unique by construction: a bijection of the global index
        number = (np.arange(index0, index0 + n, dtype=np.int64) * 7_919 + 12_345) % 10_000_000
    dom = rng.integers(0, len(_DOMAINS), n)
    local_dom = rng.random(n) < 0.3
    emails = np.empty(n, dtype=object)
    fa, la = _FIRST_ASCII[fi], _LAST_ASCII[li]
    for i in range(n):
        f, l_, num = fa[i], la[i], number[i]
        pat = pattern[i]
        if always_number:
            local = (
                f"{f}.{l_}{num}",
                f"{f[0]}{l_}{num}",
                f"{f}_{l_}{num}",
                f"{f}{num}",
                f"{l_}.{f}{num}",
                f"{f}{l_}{num}",
            )[pat]
        else:
            local = (f"{f}.{l_}", f"{f}{l_}{num}", f"{f[0]}{l_}", f"{f}_{l_}{num}", f"{f}{num}", f"{l_}.{f}")[pat]
        d = _COUNTRY_DOMAINS[country[i]] if local_dom[i] else _DOMAINS
        emails[i] = f"{local}@{d[dom[i] % len(d)]}"
    p["email"] = emails
    width = 5 if index0 + n < 100_000 else 8
    p["extref"] = np.array([f"MDM-{i:0{width}d}" for i in range(index0 + 1, index0 + n + 1)], dtype=object)
    ip = np.array(_IP_FIRST_OCTETS)[rng.integers(0, len(_IP_FIRST_OCTETS), n)]
    octets = rng.integers(0, 256, size=(n, 3))
    octets[:, 2] = np.maximum(octets[:, 2], 1)
    s = _INT_STR[99 : 99 + 256]
    p["ip"] = s[ip] + "." + s[octets[:, 0]] + "." + s[octets[:, 1]] + "." + s[octets[:, 2]]

    p["age"] = np.clip(np.rint(19 + rng.gamma(2.2, 7.0, n)), 18, 78).astype(np.int64)
    p["gender"] = np.array([1, 2, 3, 4])[rng.choice(4, size=n, p=[0.40, 0.52, 0.06, 0.02])]

    pcodes = np.array(list(_PROTOCOLS))
    pw = np.array([_PROTOCOLS[c][0] for c in pcodes], dtype=float)
    protocol = pcodes[rng.choice(len(pcodes), size=n, p=pw / pw.sum())]
    substance = np.array([_PSI, _LSD, _ANA])[rng.choice(3, size=n, p=[0.62, 0.28, 0.10])]
    substance[(protocol == 2) & (rng.random(n) < 0.9)] = _PSI  # the Stamets stack is a mushroom protocol
    p["protocol"], p["substance"] = protocol, substance
    p["protocol_text"] = np.where(protocol == 7, _pick(rng, _PROTOCOL_OTHER, n), "").astype(object)
    p["dose"] = _draw_doses(rng, substance)
    stack = _pick(rng, _STACKS_DEFAULT, n)
    m = protocol == 2
    stack[m] = _pick(rng, _STACKS_BY_PROTOCOL[2], int(m.sum()))
    p["stack"] = stack
    meds = _pick(rng, _MEDS, n)
    p["meds"] = meds
    has_other = np.array(["6" in m_ for m_ in meds], dtype=bool)
    p["meds_text"] = np.where(has_other, _pick(rng, _MEDS_OTHER, n), "").astype(object)

    prot_offset = np.array([_PROTOCOLS[c][1] for c in protocol])
    p["phq0"] = np.clip(rng.normal(11.0, 5.0, n) + prot_offset, 0, 27)
    p["gad0"] = np.clip(0.55 * p["phq0"] + 3.2 + rng.normal(0, 3.0, n), 0, 21)
    return p


def _draw_doses(rng, substance: np.ndarray, band: np.ndarray | None = None) -> np.ndarray:
    """Indices into the dose vocabulary for each substance (optionally within a given band)."""
    out = np.zeros(len(substance), dtype=np.int64)
    groups = (
        [(s, None) for s in (_PSI, _LSD, _ANA)]
        if band is None
        else [(s, b) for s in (_PSI, _LSD, _ANA) for b in _BAND_EFFECT]
    )
    for s, b in groups:
        m = substance == s if b is None else (substance == s) & (band == b)
        k = int(m.sum())
        if not k:
            continue
        idx = np.array([i for i, d in enumerate(_DOSES) if s in d[0] and (b is None or d[2] == b)])
        w = np.array([_DOSES[i][3] for i in idx], dtype=float)
        out[m] = idx[rng.choice(len(idx), size=k, p=w / w.sum())]
    return out


def _followup_people(rng, p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same people 30 days on: a few change protocol, many retype their dose differently."""
    q = dict(p)
    n = len(p["email"])
    change = rng.random(n) < 0.08
    protocol = p["protocol"].copy()
    protocol[change] = np.array([1, 3, 4, 6])[rng.integers(0, 4, int(change.sum()))]
    q["protocol"] = protocol
    q["protocol_text"] = np.where(protocol == 7, p["protocol_text"], "").astype(object)
    retype = rng.random(n) < 0.35
    redraw = _draw_doses(rng, p["substance"], _DOSE_BAND[p["dose"]])
    q["dose"] = np.where(retype, redraw, p["dose"])
    return q


def _scores(rng, p: dict[str, np.ndarray], wave: str) -> tuple[np.ndarray, np.ndarray]:
    """PHQ-9 and GAD-7 item responses; at follow-up, improvement depends on protocol and dose band."""
    phq, gad = p["phq0"], p["gad0"]
    if wave == "followup":
        gain = np.array([_PROTOCOLS[c][2] for c in p["protocol"]]) + np.array(
            [_BAND_EFFECT[b] for b in _DOSE_BAND[p["dose"]]]
        )
        delta = gain + rng.normal(0, 2.5, len(phq))
        phq = np.clip(phq - delta, 0, 27)
        gad = np.clip(gad - 0.6 * delta + rng.normal(0, 2.0, len(gad)), 0, 21)
    return _items(rng, phq, _PHQ_OFFSETS), _items(rng, gad, _GAD_OFFSETS)


# --------------------------------------------------------------------------------------------------
# Rendering one block of rows
# --------------------------------------------------------------------------------------------------


def _render(
    rng,
    p,
    *,
    wave: str,
    recorded: np.ndarray,
    status: np.ndarray,
    kind: np.ndarray,
    bad_age: np.ndarray,
    bad_item: np.ndarray,
    row_index: np.ndarray,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Build the block's columns (object arrays of cell strings) in COLUMNS order, and the rows' sort order.

    Qualtrics lists responses by recorded date; an abandoned response is recorded a week after it started.
    """
    n = len(recorded)
    real, preview, test = status == 0, status == 1, status == 2

    # ---- timing
    dur = np.clip(np.exp(rng.normal(np.log(420), 0.5, n)), 75, 4000).astype(np.int64)
    long_ = rng.random(n) < 0.02
    dur[long_] += rng.integers(3_000, 80_000, int(long_.sum()))
    short = (kind == NO_CONSENT) | (kind == NOT_ELIGIBLE)
    dur[short] = rng.integers(8, 60, int(short.sum()))
    start = recorded - dur
    unfinished = kind == UNFINISHED
    # Qualtrics closes an abandoned response after a week: recorded then, duration spans the week.
    recorded = recorded.copy()
    recorded[unfinished] = start[unfinished] + 604_800 + rng.integers(0, 3_600, int(unfinished.sum()))
    dur[unfinished] = recorded[unfinished] - start[unfinished]
    dur[test] = 0
    start[test] = recorded[test]
    progress = np.full(n, 100, dtype=np.int64)
    progress[unfinished] = rng.integers(4, 96, int(unfinished.sum()))
    finished = np.where(unfinished, 0, 1)

    # ---- answers (integer codes; EMPTY = blank cell)
    phq, gad = _scores(rng, p, wave)
    q: dict[str, np.ndarray] = {
        "Q1": np.where(kind == NO_CONSENT, 2, 1),
        "Q2": np.where(kind == NOT_ELIGIBLE, 2, 1),
        "Q3": p["age"].copy(),
        "Q4": p["gender"].copy(),
        "Q5": p["country"].copy(),
        "Q6": p["substance"].copy(),
        "Q8": p["protocol"].copy(),
    }
    for j, c in enumerate(PHQ_COLUMNS):
        q[c] = phq[:, j].copy()
    for j, c in enumerate(GAD_COLUMNS):
        q[c] = gad[:, j].copy()
    t: dict[str, np.ndarray] = {
        "Q7": _DOSE_TEXT[p["dose"]].copy(),
        "Q8_7_TEXT": p["protocol_text"].copy(),
        "Q9": p["stack"].copy(),
        "Q10": p["meds"].copy(),
        "Q10_6_TEXT": p["meds_text"].copy(),
        "Q13": np.where(
            rng.random(n) < (0.3 if wave == "baseline" else 0.45), _pick(rng, _COMMENTS[wave], n), ""
        ).astype(object),
    }

    # Generated test responses: uniform random answers and lorem-ipsum text, as Qualtrics makes them.
    k = int(test.sum())
    if k:
        for c, hi in [("Q4", 4), ("Q5", 7), ("Q6", 3), ("Q8", 7)] + [(c, 4) for c in PHQ_COLUMNS + GAD_COLUMNS]:
            q[c][test] = rng.integers(1, hi + 1, k)
        q["Q3"][test] = rng.integers(18, 100, k)
        lorem = np.array(_LOREM, dtype=object)
        for c in ("Q7", "Q13"):
            t[c][test] = lorem[rng.integers(0, len(lorem), k)]
        t["Q8_7_TEXT"][test] = np.where(q["Q8"][test] == 7, lorem[rng.integers(0, len(lorem), k)], "")
        t["Q9"][test] = np.array(["1", "2", "1,2", "1,3", "2,3"], dtype=object)[rng.integers(0, 5, k)]
        t["Q10"][test] = np.array(["1", "2", "3,6", "6", "4"], dtype=object)[rng.integers(0, 5, k)]
        t["Q10_6_TEXT"][test] = np.where(
            np.array(["6" in v for v in t["Q10"][test]]), lorem[rng.integers(0, len(lorem), k)], ""
        )

    # -99: seen but unanswered (not for generated tests, which answer everything).
    answerable = ~test
    for cols, rate in [(PHQ_COLUMNS + GAD_COLUMNS, 0.012), (["Q3", "Q4", "Q5", "Q8"], 0.008)]:
        for c in cols:
            m = answerable & (rng.random(n) < rate)
            q[c][m] = UNANSWERED
    for c, rate in [("Q7", 0.006), ("Q10", 0.004)]:
        m = answerable & (rng.random(n) < rate)
        t[c][m] = "-99"

    # Deliberate errors, after -99 so they survive: impossible ages, out-of-range item values
    # (cycled so a small file holds each kind; odd-numbered ones hit PHQ-9, even-numbered GAD-7).
    rows = np.flatnonzero(bad_age)
    q["Q3"][rows] = _BAD_AGES[np.arange(len(rows)) % len(_BAD_AGES)]
    rows = np.flatnonzero(bad_item)
    for r_, row in enumerate(rows):
        cols = PHQ_COLUMNS if r_ % 2 == 0 else GAD_COLUMNS
        q[cols[int(rng.integers(0, len(cols)))]][row] = _BAD_ITEM_VALUES[r_ % len(_BAD_ITEM_VALUES)]

    # "Other" text boxes exist only when "other" is ticked.
    t["Q8_7_TEXT"][q["Q8"] != 7] = ""
    t["Q10_6_TEXT"][np.array(["6" not in v.split(",") for v in t["Q10"]], dtype=bool)] = ""

    # ---- survey flow: no consent / not eligible end the survey; unfinished stop part-way.
    cutoff = np.full(n, len(QUESTION_COLUMNS), dtype=np.int64)
    cutoff[kind == NO_CONSENT] = 1
    cutoff[kind == NOT_ELIGIBLE] = 2
    cutoff[unfinished] = np.maximum(1, progress[unfinished] * len(QUESTION_COLUMNS) // 100)

    out_q: list[np.ndarray] = []
    for j, c in enumerate(QUESTION_COLUMNS):
        blank = cutoff <= j
        if c in q:
            v = q[c]
            v[blank] = EMPTY
            out_q.append(_int_str(v))
        else:
            v = t[c]
            v[blank] = ""
            out_q.append(v)

    # ---- metadata
    email = p["email"].copy()
    shout = rng.random(n)
    caps = shout < 0.06  # contact lists are not normalised: the pipeline lower-cases
    if caps.any():
        email[caps] = [_capitalise_email(e) for e in email[caps]]
    upper = shout > 0.99
    if upper.any():
        email[upper] = [e.upper() for e in email[upper]]
    pad = (shout > 0.5) & (shout < 0.505)
    if pad.any():
        email[pad] = [e + " " for e in email[pad]]
    first, last, extref = p["first"].copy(), p["last"].copy(), p["extref"].copy()
    ip = p["ip"].copy()
    lat, lon = p["lat"].copy(), p["lon"].copy()
    lang = p["lang"].copy()
    channel = np.full(n, "email", dtype=object)
    nonreal = ~real
    for arr in (email, first, last, extref):
        arr[nonreal] = ""
    channel[preview], channel[test] = "preview", "test"
    ip[test] = ""
    lang[preview], lang[test] = "EN", ""
    lat[nonreal], lon[nonreal] = 39.7392, -104.9903  # researcher's office (Denver)
    lat[preview] += 0.0127
    cols = [
        _fmt_dates(start),
        _fmt_dates(recorded),
        _int_str(status),
        ip,
        _int_str(progress),
        _int_str(dur),
        _int_str(finished),
        _fmt_dates(recorded),
        _response_ids(rng, row_index),
        last,
        first,
        email,
        extref,
        _coords(lat),
        _coords(lon),
        channel,
        lang,
        *out_q,
    ]
    return cols, np.argsort(recorded, kind="stable")


def _capitalise_email(e: str) -> str:
    """`jane.doe@gmail.com` -> `Jane.Doe@Gmail.com`, as people type into contact lists."""
    local, dom = e.split("@", 1)
    return ".".join(part[:1].upper() + part[1:] for part in local.split(".")) + "@" + dom.capitalize()


def _rows(columns: list[np.ndarray], order: np.ndarray):
    """Column arrays to row tuples for csv.writer (tolist + zip: the fast path from numpy to csv)."""
    return zip(*[c[order].tolist() for c in columns])


def _open_writer(path: Path):
    fh = open(path, "w", encoding="utf-8", newline="")
    w = csv.writer(fh, lineterminator="\n")
    w.writerows(header_rows())
    return fh, w


def _record_times(rng, n: int, launch: np.datetime64, span_days: float) -> np.ndarray:
    """Response times: most arrive in the first days after the invitation, during waking hours."""
    return _day_times(rng, np.minimum(np.floor(rng.exponential(span_days / 4, n)), span_days - 1), launch)


def _day_times(rng, day: np.ndarray, launch: np.datetime64) -> np.ndarray:
    """Seconds since epoch on the given day numbers after launch, at waking hours, never before launch."""
    midnight = launch.astype("datetime64[D]").astype("datetime64[s]").astype(np.int64)
    tod = np.clip(rng.normal(15.5, 3.8, len(day)) * 3600, 6.5 * 3600, 23.9 * 3600)
    first = int(launch.astype(np.int64) - midnight) + 60
    tod = np.where(day == 0, np.maximum(tod, first + rng.uniform(0, 3600, len(day))), tod)
    return midnight + (day * 86400 + tod).astype(np.int64)


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def generate_study(out_dir, participants: int = 300, seed: int = 42) -> list[Path]:
    """Write `baseline.csv` and `followup.csv` for `participants` people; returns both paths.

    Why these ingredients: every case the pipeline must handle appears at least once — previews and
    test responses (2-3 each per file), no consent, not eligible, unfinished, impossible ages,
    out-of-range item values, `-99`, messy dose text, e-mail case variants. About 80 % of the people
    who completed baseline answer the follow-up 28-35 days later, under the same e-mail.
    """
    if participants < 30:
        raise ValueError("participants must be at least 30 so every edge case fits")
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = participants
    people = _draw_people(rng, n, 0, always_number=False)
    _dedupe_emails(people["email"])

    # Baseline: assign the edge cases to distinct people.
    n_cons, n_elig, n_unf = max(2, round(0.01 * n)), max(2, round(0.01 * n)), max(3, round(0.015 * n))
    perm = rng.permutation(n)
    kind = np.zeros(n, dtype=np.int64)
    pos = 0
    for k_, cnt in ((NO_CONSENT, n_cons), (NOT_ELIGIBLE, n_elig), (UNFINISHED, n_unf)):
        kind[perm[pos : pos + cnt]] = k_
        pos += cnt
    bad_age = np.zeros(n, dtype=bool)
    bad_age[perm[pos : pos + 2]] = True
    bad_item = np.zeros(n, dtype=bool)
    bad_item[perm[pos + 2 : pos + 4]] = True
    recorded = _record_times(rng, n, LAUNCH["baseline"], 21)
    baseline_path = out / "baseline.csv"
    _write_wave(rng, baseline_path, people, "baseline", recorded, kind, bad_age, bad_item, 0)

    # Follow-up: ~80 % of those who completed baseline, 28-35 days after their own baseline.
    eligible = np.flatnonzero(kind == NORMAL)
    chosen = np.sort(eligible[rng.random(len(eligible)) < 0.8])
    fu = {k: v[chosen] for k, v in people.items()}
    fu = _followup_people(rng, fu)
    m = len(chosen)
    days = rng.integers(29, 35, m)
    fu_rec = recorded[chosen] + days * 86400 + rng.integers(-3 * 3600, 6 * 3600, m)
    fu_kind = np.zeros(m, dtype=np.int64)
    fperm = rng.permutation(m)
    fu_kind[fperm[:1]] = NO_CONSENT
    fu_kind[fperm[1:2]] = NOT_ELIGIBLE
    fu_kind[fperm[2 : 2 + max(2, round(0.01 * m))]] = UNFINISHED
    p0 = 2 + max(2, round(0.01 * m))
    fu_bad_age = np.zeros(m, dtype=bool)
    fu_bad_age[fperm[p0 : p0 + 1]] = True
    fu_bad_item = np.zeros(m, dtype=bool)
    fu_bad_item[fperm[p0 + 1 : p0 + 3]] = True
    followup_path = out / "followup.csv"
    _write_wave(rng, followup_path, fu, "followup", fu_rec, fu_kind, fu_bad_age, fu_bad_item, 1_000_000)
    return [baseline_path, followup_path]


def _dedupe_emails(emails: np.ndarray) -> None:
    """Two people drawn with the same name and pattern must not share a participant key."""
    seen: set[str] = set()
    for i, e in enumerate(emails):
        local, dom = e.split("@")
        k = 2
        while e in seen:
            e = f"{local}{k}@{dom}"
            k += 1
        emails[i] = e
        seen.add(e)


def _write_wave(rng, path: Path, people, wave, recorded, kind, bad_age, bad_item, index0) -> None:
    """One study file: the people's responses plus 2-3 previews and 2-3 tests dated before launch."""
    n = len(recorded)
    n_prev, n_test = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    extra = n_prev + n_test
    filler = _draw_people(rng, extra, 900_000, always_number=False)
    p = {k: np.concatenate([people[k], filler[k]]) for k in people}
    first_day = int(recorded.min())
    extra_rec = first_day - rng.integers(3600, 4 * 86400, extra)
    rec = np.concatenate([recorded, extra_rec])
    status = np.concatenate([np.zeros(n, np.int64), np.ones(n_prev, np.int64), np.full(n_test, 2, np.int64)])
    z = np.zeros(extra, dtype=bool)
    cols, order = _render(
        rng,
        p,
        wave=wave,
        recorded=rec,
        status=status,
        kind=np.concatenate([kind, np.zeros(extra, np.int64)]),
        bad_age=np.concatenate([bad_age, z]),
        bad_item=np.concatenate([bad_item, z]),
        row_index=np.arange(index0, index0 + n + extra),
    )
    fh, w = _open_writer(path)
    with fh:
        w.writerows(_rows(cols, order))


def write_export(path, n_responses: int, seed: int, wave: str = "baseline", chunk_rows: int = 50_000) -> Path:
    """Stream one large single-wave export of `n_responses` data rows in bounded memory (benchmarks).

    Each chunk draws from its own generator seeded by (seed, chunk number), so the output is
    deterministic for given arguments. Respondents are all distinct (unique e-mails and ResponseIds);
    edge cases appear at small rates: preview/test 0.05 % each, no consent 1 %, not eligible 1.5 %,
    unfinished 4 %, impossible age and out-of-range item 0.1 % each, `-99` about 1 % per item.
    """
    if wave not in LAUNCH:
        raise ValueError(f"wave must be one of {sorted(LAUNCH)}")
    if n_responses < 0 or chunk_rows <= 0:
        raise ValueError("n_responses must be >= 0 and chunk_rows > 0")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    span_days = max(28.0, n_responses / 5_000)  # the fielding period grows with the sample
    fh, w = _open_writer(path)
    with fh:
        for c, lo in enumerate(range(0, n_responses, chunk_rows)):
            m = min(chunk_rows, n_responses - lo)
            rng = np.random.default_rng([seed, c])
            p = _draw_people(rng, m, lo, always_number=True)
            # chunks cover consecutive slices of the fielding period, so dates rise through the file
            d0, d1 = span_days * lo / n_responses, span_days * (lo + m) / n_responses
            rec = _day_times(rng, np.floor(rng.uniform(d0, d1, m)), LAUNCH[wave])
            u = rng.random(m)
            status = np.where(u < 0.0005, 1, np.where(u < 0.001, 2, 0))
            v = rng.random(m)
            kind = np.select([v < 0.01, v < 0.025, v < 0.065], [NO_CONSENT, NOT_ELIGIBLE, UNFINISHED], NORMAL)
            kind[status != 0] = NORMAL
            bad_age = (rng.random(m) < 0.001) & (kind == NORMAL) & (status == 0)
            bad_item = (rng.random(m) < 0.001) & (kind == NORMAL) & (status == 0)
            cols, order = _render(
                rng,
                p,
                wave=wave,
                recorded=rec,
                status=status,
                kind=kind,
                bad_age=bad_age,
                bad_item=bad_item,
                row_index=np.arange(lo, lo + m),
            )
            w.writerows(_rows(cols, order))
    return path


def main(argv: list[str] | None = None) -> int:
    """CLI: `--out DIR --participants N --seed S` (study) or `--rows N --file PATH` (one big export)."""
    ap = argparse.ArgumentParser(prog="python -m pipelines.sample.generator", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="directory for baseline.csv and followup.csv")
    ap.add_argument("--participants", type=int, default=300)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--rows", type=int, help="write one large export of this many responses (needs --file)")
    ap.add_argument("--file", type=Path, help="path of the large export")
    ap.add_argument("--wave", choices=sorted(LAUNCH), default="baseline")
    ap.add_argument("--chunk-rows", type=int, default=50_000)
    a = ap.parse_args(argv)
    if a.rows is not None:
        if a.file is None:
            ap.error("--rows needs --file")
        print(write_export(a.file, a.rows, a.seed, wave=a.wave, chunk_rows=a.chunk_rows))
    elif a.out is not None:
        for path in generate_study(a.out, participants=a.participants, seed=a.seed):
            print(path)
    else:
        ap.error("give --out DIR (study) or --rows N --file PATH (large export)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
