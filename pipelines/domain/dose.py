"""Free-text dose answers to a normalised amount in the substance's canonical unit.

Why this module is careful rather than clever: a dose read with the wrong unit is off by 1000, and such an error
is invisible downstream. So the parser never changes a unit the participant wrote. When the literal reading is
implausible for the substance (`.25mg` of mushrooms, `10mg` of LSD) the result is `ambiguous` with no amount,
and a human reviews the raw text (kept in the restricted tier only).

Canonical units: `g` of dried mushroom for `psilocybin_mushrooms`; `ug` for `lsd` and `lsd_analogue`.

A result is `exact` only when the text leaves no doubt. Amounts built from several numbers are the day's total,
with a reason that says how: "three 50mg caps" and "2 x 0.1g" (`count_times_amount`), "0.05g + 0.05g"
(`sum_of_amounts`), "1/8 of 80ug" and "a quarter of a 40 ug tab" (`fraction_of_stated_amount`). Decimals and
fractions as people write them are one notation (". 2 g", "point two grams", ".2 of a gram", "1/4 of a gram").
A range that a spreadsheet turned into a date ("Oct-15", "1-Oct") is recovered as the range with its unit
inferred (`spreadsheet_date_range`) when it fits the microdose window. Two doses offered as alternatives ("0.1g or
0.2g") are not a range. LSD in milligrams above 20 ug (".25mg") is implausible: nobody microdosing means it.

Statuses and what `amount` means for each:

========================  =================================================================================
``exact``                 explicit unit (or explicit tab strength / solution concentration); amount is exact
``range``                 explicit unit, a range (a range may start at 0); amount = midpoint,
                          ``range_low``/``range_high`` set
``unit_inferred``         no unit written (bare number inside the substance's plausible microdose window),
                          an LSD tab fraction using the *assumed* tab strength, or a spreadsheet-date range;
                          amount set; for a range ``range_low``/``range_high`` are set too
``ambiguous``             a number was read but its meaning is uncertain: amount and unit are ``None``;
                          ``likely_amount`` holds the reading a reviewer would most likely settle on, where one
                          is clear ("02g": 0.2; "200g" of mushrooms or "10mg" of LSD: a unit slipped by 1000)
``unparseable``           no amount can be derived (vague, a full spreadsheet date, volume without concentration)
``missing``               empty, ``None``/NA, Qualtrics ``-99``, ``n/a``, "prefer not to say", "skip"
========================  =================================================================================

Reasons (value-free codes): ``explicit_unit``, ``explicit_unit_range``, ``count_times_amount``,
``sum_of_amounts``, ``fraction_of_stated_amount``, ``volumetric_solution``, ``tab_fraction_explicit_strength``,
``no_unit_assumed_grams``, ``no_unit_assumed_micrograms``, ``tab_fraction_assumed_strength``,
``volumetric_tab_assumed_strength``, ``spreadsheet_date_range``, ``implausible_for_unit``,
``no_unit_implausible``, ``missing_decimal_point``, ``fraction_without_unit``,
``thousands_or_decimal_separator``, ``multiple_amounts``, ``fresh_weight``, ``compound_mass``, ``inequality``,
``reversed_range``, ``tab_without_fraction``, ``spreadsheet_date``, ``vague_amount``, ``count_without_strength``,
``volume_without_concentration``, ``concentration_without_volume``, ``not_known``, ``negative_amount``,
``no_amount``, ``too_long``, ``unknown_substance``, ``empty``, ``unanswered_code``, ``no_answer``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from pipelines.domain.vocabulary import CANONICAL_UNIT

DOSE_STATUSES: tuple[str, ...] = ("exact", "range", "unit_inferred", "ambiguous", "unparseable", "missing")

_SUBSTANCE_ALIASES: dict[str, str] = {
    "psilocybin_mushrooms": "psilocybin_mushrooms",
    "psilocybin mushrooms": "psilocybin_mushrooms",
    "psilocybin": "psilocybin_mushrooms",
    "mushrooms": "psilocybin_mushrooms",
    "magic mushrooms": "psilocybin_mushrooms",
    "shrooms": "psilocybin_mushrooms",
    "lsd": "lsd",
    "lsd_analogue": "lsd_analogue",
    "lsd analogue": "lsd_analogue",
    "1p-lsd": "lsd_analogue",
    "1p lsd": "lsd_analogue",
    "ald-52": "lsd_analogue",
    "al-lad": "lsd_analogue",
    "1cp-lsd": "lsd_analogue",
    "1v-lsd": "lsd_analogue",
}

MAX_TEXT_LENGTH = 200  # a longer answer is a narrative for a human to read, and bounds the regex work

_MICROGRAMS_PER: dict[str, int] = {"kg": 1_000_000_000, "g": 1_000_000, "mg": 1_000, "ug": 1}


@dataclass(frozen=True)
class DoseResult:
    """One parsed dose; see the module docstring for what each status promises."""

    amount: float | None
    unit: str | None
    status: str
    reason: str
    range_low: float | None = None
    range_high: float | None = None
    likely_amount: float | None = None  # ambiguous only: the reading a reviewer would most likely settle on


@dataclass(frozen=True)
class Plausibility:
    """Amounts (canonical unit) a literal reading may take before it is called implausible.

    ``low``/``high`` bound any reading with an explicit unit (full doses are plausible; unit slips are not).
    ``infer_low``/``infer_high`` bound a bare number before its unit may be inferred: narrower, because with no
    unit a small integer may just as well count capsules, caps or drops.
    """

    low: Fraction
    high: Fraction
    infer_low: Fraction
    infer_high: Fraction
    infer_high_inclusive: bool


PLAUSIBILITY: dict[str, Plausibility] = {
    # 10 mg .. 10 g dried mushroom; a bare number is taken as grams only in [0.02, 1).
    "g": Plausibility(Fraction(1, 100), Fraction(10), Fraction(2, 100), Fraction(1), False),
    # 1 .. 500 ug LSD; a bare number is taken as micrograms only in [2, 300].
    "ug": Plausibility(Fraction(1), Fraction(500), Fraction(2), Fraction(300), True),
}


def canonical_substance(name: object) -> str | None:
    """The canonical substance name for a coded or spelled substance, or None if unknown."""
    if not isinstance(name, str):
        return None
    key = re.sub(r"\s+", " ", name.strip().lower().replace("_", " ")).replace(" ", "_")
    if key in CANONICAL_UNIT:
        return key
    return _SUBSTANCE_ALIASES.get(key.replace("_", " ")) or _SUBSTANCE_ALIASES.get(key)


# --------------------------------------------------------------------------------------------------------------
# Text normalisation and vocabularies
# --------------------------------------------------------------------------------------------------------------

_VULGAR = {
    "½": " 1/2",
    "¼": " 1/4",
    "¾": " 3/4",
    "⅓": " 1/3",
    "⅔": " 2/3",
    "⅕": " 1/5",
    "⅛": " 1/8",
    "⅒": " 1/10",
    "⅙": " 1/6",
}
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"


def _normalise(text: str) -> str:
    for k, v in _VULGAR.items():
        text = text.replace(k, v)
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u2044", "/").replace("\u03bc", "u").replace("\u00b5", "u")
    for d in _DASHES:
        text = text.replace(d, "-")
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'").replace("\u00d7", "x")
    text = text.lower().strip()
    if text.startswith("'"):  # a formula-escape quote added by a spreadsheet or by our own CSV writer
        text = text[1:]
    text = text.strip().strip('"').strip()
    return re.sub(r"\s+", " ", text)


_UNIT_WORDS: dict[str, tuple[str, ...]] = {
    "kg": ("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms"),
    "g": ("g", "gr", "grs", "grm", "grms", "gm", "gms", "gram", "grams", "gramm", "gramme", "grammes"),
    "mg": ("mg", "mgs", "milligram", "milligrams", "milligramme", "milligrammes"),
    "ug": (
        "ug",
        "ugs",
        "mcg",
        "mcgs",
        "mcgr",
        "microgram",
        "micrograms",
        "microgramme",
        "microgrammes",
        "mic",
        "mics",
        "mikes",
        "u",
    ),
}
_UNIT_OF: dict[str, str] = {w: u for u, words in _UNIT_WORDS.items() for w in words}
_SPACED_UNITS = {
    "micro grams": "ug",
    "micro gram": "ug",
    "micro-grams": "ug",
    "micro-gram": "ug",
    "micro g": "ug",
    "milli grams": "mg",
    "milli gram": "mg",
    "milli-grams": "mg",
    "milli-gram": "mg",
}
_UNIT_OF.update(_SPACED_UNITS)
_UNIT = r"(?:" + "|".join(sorted((re.escape(w) for w in _UNIT_OF), key=len, reverse=True)) + r")(?![a-z])"
_VOL = r"(?:ml|cc|milliliters?|millilitres?|mls)(?![a-z])"
_TAB = r"(?:tabs?|blotters?|hits?|squares?|tab's)(?![a-z])"

# A number as written: mixed number, fraction (1/10, 1/10th), or decimal with optional separators.
_NUM = r"(?:\d+\s+\d+\s*/\s*\d+|\d+\s*/\s*\d+(?:(?:st|nd|rd|th|ths)(?![a-z]))?|\d+(?:[.,]\d+)*|[.,]\d+)"
_NUM_START = r"(?<![\d.])(?<!\d,)"

_NUMBER_WORDS: dict[str, int] = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "fifty": 50,
}
_FRACTION_WORDS: dict[str, int] = {
    "half": 2,
    "halves": 2,
    "third": 3,
    "thirds": 3,
    "quarter": 4,
    "quarters": 4,
    "fourth": 4,
    "fourths": 4,
    "fifth": 5,
    "fifths": 5,
    "sixth": 6,
    "sixths": 6,
    "eighth": 8,
    "eighths": 8,
    "tenth": 10,
    "tenths": 10,
    "twelfth": 12,
    "twelfths": 12,
    "sixteenth": 16,
    "sixteenths": 16,
    "twentieth": 20,
    "twentieths": 20,
}
_NW = r"(?:" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
_FW = r"(?:" + "|".join(sorted(_FRACTION_WORDS, key=len, reverse=True)) + r")"
# "a tenth", "one quarter", "three quarters", "half", "1 tenth"
_WORD_FRACTION = rf"(?:(?:{_NW}|\d+)\s+)?{_FW}(?![a-z])"
# A tab amount: fraction, percentage, decimal, word fraction or a word count ("a", "one", "two").
_TAB_AMOUNT = rf"(?:{_WORD_FRACTION}|{_NUM_START}\d+(?:[.,]\d+)?\s*%|{_NUM_START}{_NUM}|\b{_NW}(?![a-z]))"

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE_PATTERNS = [
    re.compile(rf"^\d{{1,2}}[-/ .]{_MONTH}\.?(?:[-/ .]\d{{2,4}})?$"),
    re.compile(rf"^{_MONTH}\.?[-/ .]\d{{1,4}}$"),
    re.compile(r"^\d{4}-\d{1,2}-\d{1,2}(?:[ t]\d{1,2}:\d{2}(?::\d{2})?)?$"),
    re.compile(r"^\d{1,2}/\d{1,2}/\d{2,4}(?: \d{1,2}:\d{2}(?::\d{2})?(?: ?[ap]m)?)?$"),
    re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4}$"),
]
_EXCEL_SERIAL = (36526, 47848)  # 2000-01-01 .. 2030-12-31 as Excel day numbers

_MISSING = {
    "": "empty",
    "-99": "unanswered_code",
    "-99.0": "unanswered_code",
    "n/a": "no_answer",
    "na": "no_answer",
    "n.a.": "no_answer",
    "nan": "no_answer",
    "none": "no_answer",
    "null": "no_answer",
    "nil": "no_answer",
    "-": "no_answer",
    "--": "no_answer",
    ".": "no_answer",
    "not applicable": "no_answer",
    "<na>": "no_answer",
    "skip": "no_answer",
    "skipped": "no_answer",
    "prefer not to say": "no_answer",
    "prefer not to answer": "no_answer",
    "rather not say": "no_answer",
}
_NOT_KNOWN = re.compile(
    r"^(?:\?+|idk|i ?don'?t know|dont know|don't know|not sure|unsure|unknown|no idea"
    r"|varies|it varies|depends|it depends|not known|can'?t remember|forgot)\W*$"
)

_STACK_WORDS = (
    r"(?:lion'?s?\s*-?\s*mane|hericium(?:\s+erinaceus)?|niacin(?:amide)?|nicotinic\s+acid"
    r"|vitamin\s*b-?3|\bb-?3\b|chaga|reishi|cordyceps|cacao|l-?\s?theanine|theanine|caffeine"
    r"|magnesium|omega\s*-?3|vitamin\s*d3?|vit\s*d3?)"
)
_NAME_PATTERNS = [  # substance names carrying digits: removed without leaving a separator
    re.compile(r"\b(?:1p|1cp|1v|1b|1d|1s|1t|1a|eth|al)?\s?-?\s?(?:lsd|lad)(?:\s?-?\s?25)?(?![a-z])"),
    re.compile(r"\bald\s?-?\s?52\b"),
    re.compile(r"\b(?:1p|1cp|1v|1b|1d|1s|1t)(?![a-z\d])"),
    re.compile(r"\b4\s?-?\s?ac?o\s?-?\s?dmt\b|\b5\s?-?\s?meo\s?-?\s?[a-z]+\b"),
    re.compile(r"\bpe\s?-?\s?\d\b"),
]
_CONTEXT_PATTERNS = [
    # amounts of stack components (Stamets stack etc.) are not the psychedelic dose
    re.compile(rf"{_NUM_START}{_NUM}\s*{_UNIT}\s*(?:of\s+)?{_STACK_WORDS}"),
    re.compile(rf"{_NUM_START}{_NUM}\s*(?:x\s*)?{_STACK_WORDS}(?:\s+(?:caps?|capsules?|pills?|tablets?))?"),
    re.compile(rf"{_STACK_WORDS}\s*(?:\(|:|-|at|of|with)?\s*(?:~|approx\.?|about)?\s*{_NUM}\s*{_UNIT}"),
    re.compile(_STACK_WORDS),
    # schedules, durations, times of day, years
    re.compile(
        r"(?:(?<![\w.,])\d+|\b(?:one|two|three|four|five|six|seven|once|twice))\s*(?:x|times?)?\s*"
        r"(?:a|per|/|each|every|in\s+a)?\s*(?:days?|weeks?|wks?|months?|fortnights?)\b"
    ),
    re.compile(r"\bx\s*\d+\s*(?:a|per|/|each|every|in\s+a)?\s*(?:days?|weeks?|wks?|months?)\b"),
    re.compile(
        r"\b(?:every|each|once\s+every|for|per|after|last|past|since)\s+(?:\d+|other)(?:st|nd|rd|th)?"
        r"\s*(?:days?|weeks?|wks?|months?|years?|yrs?|hours?|hrs?)\b"
    ),
    re.compile(r"(?<![\w.,])\d+\s*(?:days?\s*)?on\s*[,/&-]?\s*\d+\s*(?:days?\s*)?off\b"),
    re.compile(
        r"(?<![\w.,])\d+(?:st|nd|rd|th)?\s*(?:days?|weeks?|wks?|months?|years?|yrs?|hours?|hrs?|mins?"
        r"|minutes?)\b"
    ),
    re.compile(r"\b(?:day|week|wave|month)\s*\d+\b"),
    re.compile(r"(?<![\w.,])\d{1,2}(?::\d{2})?\s*(?:am|pm)\b|(?<![\w.,])\d{1,2}:\d{2}\b"),
    re.compile(rf"(?<![\w.,])(?:19|20)\d{{2}}\b(?!\s*{_UNIT})(?![.,]\d)"),
    re.compile(r"\bsize\s*0+\b|\b0{2,}\s*(?=caps|capsule)"),
    # the scale a dose was weighed on: "a milligram scale", "a scale accurate to 0.001g"
    re.compile(
        rf"\b(?:(?:{_NUM}\s*)?(?:milli)?gram|mg|g|jewell?ers?|digital|precision)\s+scales?\b"
        rf"|\bscales?\s+(?:\w+\s+){{0,3}}?(?:to|of)\s+(?:{_NUM}\s*{_UNIT}|a\s+(?:milli)?gram)"
        rf"|\ban?\s+{_NUM}\s*(?:{_UNIT})?\s+scales?\b|\bb4\b"
    ),
]

_FRESH = re.compile(r"\b(?:fresh|wet|truffles?|sclerotia|philosopher'?s\s+stones?)\b")
_NOT_DRIED = re.compile(r"\b(?:extract|tincture|concentrate|resin)\b")  # the weight is not of dried mushroom
_COMPOUND = re.compile(r"\bpsilocybin\b")
_MUSHROOM_WORDS = re.compile(r"\b(?:mushrooms?|shrooms?|cubensis|cubes|caps|dried|dry|fungi|psilocybe|truffles?)\b")
_INEQUALITY = re.compile(
    rf"(?:<|>|≤|≥|\bup\s+to|\bless\s+than|\bmore\s+than|\bat\s+least|\bat\s+most|\bunder|\bbelow|\babove"
    rf"|\bover|\bmax(?:imum)?|\bmin(?:imum)?|\bno\s+more\s+than)\s*(?:of\s+)?(?:{_NUM}|{_WORD_FRACTION}|\b{_NW}(?![a-z]))"
    rf"|{_NUM}\s*{_UNIT}?\s*(?:\+\s*$|\bor\s+(?:less|more|fewer|under|over|lower|higher|below|above)\b"
    rf"|\band\s+(?:up|down|under|over|above|below)\b|\bmax(?:imum)?\b|\btops\b)"
    r"|\bor\s+(?:slightly\s+|a\s+bit\s+|a\s+little\s+|even\s+)?(?:less|more|under|over|lower|higher|below|above|fewer)\b"
)
_VAGUE_NOUN = (
    r"(?:caps?|stems?|pieces?|pinch(?:es)?|bits?|chunks?|crumbs?|nibbles?|buttons?|flakes?"
    r"|mushrooms?|shrooms?|spoons?|teaspoons?|tsp|handfuls?|slivers?|shavings?|fragments?)"
)
_VAGUE_WITH_NUMBER = re.compile(
    rf"(?:{_NUM}|\b{_NW}|{_WORD_FRACTION})\s*(?:(?:small|tiny|little|medium|large|big|whole|of|a|an)\s+){{0,4}}"
    rf"{_VAGUE_NOUN}(?![a-z])"
)
_VAGUE_ANY = re.compile(
    rf"\b(?:{_VAGUE_NOUN}|small|tiny|little|bit|some|few|microdose|micro\s*dose|low\s+dose"
    r"|sub\s*-?\s*perceptual|threshold|handful|amount)\b"
)
_COUNT = re.compile(
    r"\b(?:capsules?|pills?|gummies|gummy|gummys|chocolates?|tablets?|edibles?"
    r"|pieces\s+of\s+chocolate)\b"
)
_DROPS = re.compile(r"\bdrops?\b|\bdroppers?(?:ful)?\b")
_VOLUME = re.compile(rf"{_NUM_START}{_NUM}\s*{_VOL}")


class _Stop(Exception):
    """Ends parsing with a non-numeric verdict."""

    def __init__(self, status: str, reason: str, likely: Fraction | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.likely = likely


@dataclass(frozen=True)
class _Reading:
    low: Fraction
    high: Fraction
    unit: str  # source unit: g / mg / ug
    alt_low: Fraction | None = None  # the other reading of a "1.500"-style number, if any
    alt_high: Fraction | None = None
    comma_group: bool = False  # "1,000": thousands or decimal comma, undecidable
    reason: str | None = None  # how an amount built from several numbers was built (a count, a sum, a fraction)


# --------------------------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------------------------


def _read_number(s: str) -> tuple[Fraction, Fraction | None, bool]:
    """Value, the alternative thousands reading if the notation allows one, and whether it is a comma group."""
    s = re.sub(r"\s+", " ", s.strip())
    if re.fullmatch(r"0\d+", s):  # "02g": a decimal point left out ("0.2g"), or a stray zero ("2g")?
        raise _Stop("ambiguous", "missing_decimal_point", Fraction(f"0.{s[1:]}"))
    if "/" in s:
        s = re.sub(r"(?:st|nd|rd|th|ths)$", "", s).strip()
        whole = Fraction(0)
        m = re.fullmatch(r"(\d+) (\d+) ?/ ?(\d+)", s)
        if m:
            whole, num, den = Fraction(int(m.group(1))), int(m.group(2)), int(m.group(3))
        else:
            num_s, den_s = s.split("/")
            num, den = int(num_s), int(den_s)
        if den == 0:
            raise _Stop("unparseable", "no_amount")
        return whole + Fraction(num, den), None, False
    has_c, has_p = "," in s, "." in s
    if has_c and has_p:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
        grp = "." if dec == "," else ","
        int_part, _, frac_part = s.rpartition(dec)
        if not re.fullmatch(rf"\d{{1,3}}(?:{re.escape(grp)}\d{{3}})*", int_part):
            raise _Stop("ambiguous", "thousands_or_decimal_separator")
        return Fraction(int_part.replace(grp, "") + "." + frac_part), None, False
    if has_c:
        if re.fullmatch(r"\d{1,3}(?:,\d{3}){2,}", s):
            return Fraction(s.replace(",", "")), None, False
        if re.fullmatch(r"[1-9]\d{0,2},\d{3}", s):
            return Fraction(s.replace(",", ".")), Fraction(s.replace(",", "")), True
        if s.count(",") == 1:
            return Fraction(s.replace(",", ".")), None, False
        raise _Stop("ambiguous", "multiple_amounts")
    if s.count(".") > 1:
        if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", s):
            return Fraction(s.replace(".", "")), None, False
        raise _Stop("ambiguous", "multiple_amounts")
    if re.fullmatch(r"[1-9]\d{0,2}\.\d{3}", s):
        return Fraction(s), Fraction(s.replace(".", "")), False
    return Fraction(s), None, False


def _read_words(s: str) -> Fraction:
    """'half', 'a tenth', 'three quarters', 'two', '1 tenth' → value."""
    tokens = [t for t in re.split(r"[\s-]+", s.strip()) if t and t not in ("of", "and")]
    while tokens and tokens[-1] in ("a", "an"):
        tokens.pop()
    if not tokens:
        return Fraction(1)
    count = Fraction(1)
    value: Fraction | None = None
    counted = False
    for t in tokens:
        if t in _FRACTION_WORDS:
            value = count / _FRACTION_WORDS[t]
        elif t in _NUMBER_WORDS:
            if counted and t not in ("a", "an"):  # "one fifty mg": 150? 1 x 50? not for us to guess
                raise _Stop("ambiguous", "multiple_amounts")
            counted = t not in ("a", "an")
            count = Fraction(_NUMBER_WORDS[t])
        elif re.fullmatch(r"\d+", t):
            count = Fraction(int(t))
        else:
            raise _Stop("unparseable", "no_amount")
    return value if value is not None else count


def _read_tab_amount(s: str) -> Fraction:
    s = s.strip()
    m = re.fullmatch(r"(\d+(?:[.,]\d+)?)\s*%", s)
    if m:
        return Fraction(m.group(1).replace(",", ".")) / 100
    if re.search(r"[a-z]", re.sub(r"(?:st|nd|rd|th|ths)$", "", s)):
        return _read_words(s)
    value, alt, comma = _read_number(s)
    if alt is not None or comma:
        raise _Stop("ambiguous", "thousands_or_decimal_separator")
    return value


# --------------------------------------------------------------------------------------------------------------
# Conversions and verdicts
# --------------------------------------------------------------------------------------------------------------


def _to_canonical(value: Fraction, unit: str, canon: str) -> Fraction:
    return value * _MICROGRAMS_PER[unit] / _MICROGRAMS_PER[canon]


def _plausible(value: Fraction, canon: str) -> bool:
    p = PLAUSIBILITY[canon]
    return p.low <= value <= p.high


def _inferable(value: Fraction, canon: str) -> bool:
    p = PLAUSIBILITY[canon]
    upper_ok = value <= p.infer_high if p.infer_high_inclusive else value < p.infer_high
    return p.infer_low <= value and upper_ok


def _result(
    low: Fraction, high: Fraction, canon: str, status_single: str, reason: str, status_range: str | None = None
) -> DoseResult:
    if low > high:
        return DoseResult(None, None, "ambiguous", "reversed_range")
    if low == high:
        return DoseResult(float(low), canon, status_single, reason)
    mid = (low + high) / 2
    return DoseResult(float(mid), canon, status_range or status_single, reason, float(low), float(high))


def _unit_slip(value: Fraction, canon: str) -> Fraction | None:
    """The reading a reviewer would most likely settle on when a unit slipped by a factor of 1000 ("200g" of
    mushrooms meant as mg, "10mg" of LSD meant as ug): only when that reading is a plausible microdose."""
    for alt in (value / 1000, value * 1000):
        if _inferable(alt, canon):
            return alt
    return None


# LSD written in milligrams above this many micrograms: nobody microdosing means ".25mg" (250 ug, a full dose);
# a decimal or unit slip is far likelier. "0.01mg" (10 ug) reads as written. The above_micro band starts here too.
LSD_MILLIGRAM_CEILING_UG = Fraction(20)


def _check_plausible(reading: _Reading, canon: str) -> None:
    low = _to_canonical(reading.low, reading.unit, canon)
    high = _to_canonical(reading.high, reading.unit, canon)
    if canon == "ug" and reading.unit in ("mg", "g", "kg") and high > LSD_MILLIGRAM_CEILING_UG:
        raise _Stop("ambiguous", "implausible_for_unit", _unit_slip(high, canon) if low == high else None)
    if reading.comma_group:
        raise _Stop("ambiguous", "thousands_or_decimal_separator")
    if reading.alt_low is not None or reading.alt_high is not None:
        alt_lo = _to_canonical(reading.alt_low if reading.alt_low is not None else reading.low, reading.unit, canon)
        alt_hi = _to_canonical(reading.alt_high if reading.alt_high is not None else reading.high, reading.unit, canon)
        if _plausible(alt_lo, canon) and _plausible(alt_hi, canon):
            raise _Stop("ambiguous", "thousands_or_decimal_separator")
    if not ((_plausible(low, canon) or (low == 0 and low < high)) and _plausible(high, canon)):
        raise _Stop("ambiguous", "implausible_for_unit", _unit_slip(high, canon) if low == high else None)


# --------------------------------------------------------------------------------------------------------------
# Pattern readers
# --------------------------------------------------------------------------------------------------------------

_RANGE_SEP = r"\s*(?:-|\bto\b)\s*"  # not "or": "0.1g or 0.2g" names two doses, either of which it may be
_MASS_RANGE = re.compile(rf"{_NUM_START}(?P<a>{_NUM})\s*(?P<ua>{_UNIT})?{_RANGE_SEP}(?P<b>{_NUM})\s*(?P<ub>{_UNIT})")
_MASS_SINGLE = re.compile(rf"{_NUM_START}(?P<a>{_NUM})\s*(?:\(\s*)?(?P<ua>{_UNIT})")
_LEFTOVER_AMOUNT = re.compile(rf"\d\s*{_UNIT}")
_ALTERNATIVE = re.compile(rf"{_NUM_START}{_NUM}\s*(?:\bor\b|/)\s*§")  # "10 or 15 mcg": two doses
_HEDGED_NUMBER = re.compile(rf"\b(?:sometimes|occasionally|or|rarely|other\s+times|up\s+to)\s+{_NUM}")
_MASS_WORDS = re.compile(  # bounded repetition: no catastrophic backtracking on "a a a a ..."
    rf"\b(?P<w>(?:(?:{_NW}|{_FW})(?![a-z])[\s-]+(?:of\s+)?){{1,4}})(?P<ua>{_UNIT})"
)
_PER_VOLUME = re.compile(
    rf"{_NUM_START}(?P<c>{_NUM})\s*(?P<cu>{_UNIT})\s*(?:/|per|a|an|in\s+each|in\s+every|each|every)"
    rf"\s*(?P<per>{_NUM})?\s*{_VOL}"
)
# "1 ml (10ug)" / "10ug (1ml)": the mass stated beside the volume is the dose
_VOLUME_PAREN = re.compile(
    rf"{_NUM_START}{_NUM}\s*{_VOL}\s*(?:[(\[]\s*(?:=|~|approx\.?|about|ca\.?)?|=|:|contains|containing|has|with)\s*"
    rf"(?P<a>{_NUM})\s*(?P<u>{_UNIT})\s*[)\]]?"
    rf"|{_NUM_START}(?P<a2>{_NUM})\s*(?P<u2>{_UNIT})\s*[(\[]\s*(?:=|~|approx\.?|about|ca\.?|in)?\s*{_NUM}\s*{_VOL}"
    rf"\s*[)\]]"
)
_COUNT_NOUN = r"(?:capsules?|caps?|pills?|tablets?|gummies|gummy)"
_N_COUNT = r"(?P<n>\d+|two|three|four|five|six)"
_MULT_COUNT = [
    re.compile(rf"(?<![\d.,]){_N_COUNT}\s*x\s*(?P<a>{_NUM})\s*(?P<u>{_UNIT})\s*{_COUNT_NOUN}(?![a-z])"),
    re.compile(
        rf"(?<![\d.,]){_N_COUNT}\s*{_COUNT_NOUN}\s*(?:of|x|@|at|each\s+of|each)\s*(?P<a>{_NUM})"
        rf"\s*(?P<u>{_UNIT})"
    ),
    re.compile(rf"(?<![\d.,]){_N_COUNT}\s*{_COUNT_NOUN}\s*[,(\[]?\s*(?P<a>{_NUM})\s*(?P<u>{_UNIT})\s*each\b"),
]
_EACH_COUNT = re.compile(
    rf"(?<![\d.,])(?P<n>\d+|two|three|four|five|six)\s*(?P<noun>{_COUNT_NOUN}|drops?|doses?)\s*(?:[,(\[]\s*)?"
    rf"(?:of|at|@)?\s*(?P<a>{_NUM})\s*(?P<u>{_UNIT})\s*(?:each|per\s+(?:drop|dose|cap|capsule|pill)|a\s+(?:drop|dose))\b"
)
_COUNT_PAREN = re.compile(rf"(?<![\d.,])(?:[2-9]|two|three|four|five|six)\s*{_COUNT_NOUN}\s*[(\[]\s*{_NUM}\s*{_UNIT}")

_STRENGTH_BEFORE = re.compile(
    rf"{_NUM_START}(?P<s>{_NUM})\s*(?P<su>{_UNIT})\s*(?:(?:lsd|acid|blotter|paper)\s+)?{_TAB}"
)
_STRENGTH_AFTER = re.compile(
    rf"{_TAB}\s*(?:of|is|are|@|at|=|:|was|were|being|dosed\s+at)\s*(?:a|an|about|approx\.?|around|~)?\s*"
    rf"(?P<s>{_NUM})\s*(?P<su>{_UNIT})"
)
_TAB_FRACTION = re.compile(
    rf"(?P<f>{_TAB_AMOUNT})(?:\s*(?:-|to)\s*(?P<f2>{_TAB_AMOUNT}))?\s*(?:of\s+)?(?:(?:a|an|one|the|my|each|1)\s+)?"
    rf"(?:§\s*)?(?:(?:lsd|acid|blotter|paper)\s+)?{_TAB}"
)
_TAB_SPLIT = re.compile(
    rf"(?:(?P<n>\d+|{_NW})\s+)?{_TAB}\s*(?:§\s*)?[,;]?\s*(?:\w+\s+)?(?:cut|split|divided|chopped|broken)\s+(?:up\s+)?(?:in|into)\s+"
    rf"(?:(?P<parts>\d+|{_NW})(?:\s*(?:pieces|parts|bits|portions|doses|squares|segments))?|(?P<pw>{_FW}))"
)


_TAB_SPLIT_VERB = re.compile(
    rf"(?:cut|split|divided?|chopped?|broke|break|quartered)\s+(?:up\s+)?(?:(?P<n>\d+|{_NW})\s+)?"
    rf"(?:§\s*)?(?:(?:lsd|acid)\s+)?{_TAB}"
    rf"\s+(?:up\s+)?(?:in|into)\s+(?:(?P<parts>\d+|{_NW})(?:\s*(?:pieces|parts|bits|portions|doses|squares))?"
    rf"|(?P<pw>{_FW}))"
)
_TAB_PAREN = re.compile(
    rf"(?P<f>{_TAB_AMOUNT})\s*(?:of\s+)?(?:(?:a|an|one|the|my|each|1)\s+)?{_TAB}\s*[(\[]\s*"
    rf"(?:=|~|approx\.?|about|around|roughly|ca\.?|c\.)?\s*(?P<m>{_NUM})\s*(?P<mu>{_UNIT})\s*[)\]]"
)


# Amounts built from several numbers. Each is the day's total, exact, with a reason that says how it was built;
# left unread, each would leave one of its numbers looking like the whole dose.
_FRACTION_EXPR = (
    rf"(?:{_NUM_START}\d+\s*/\s*\d+(?:st|nd|rd|th|ths)?(?![a-z])|{_NUM_START}\d+(?:[.,]\d+)?\s*%|{_WORD_FRACTION})"
)
# "1/8 of 80ug", "a quarter of a 40 ug", "half of 20ug", "50% of 0.2g"
_FRACTION_OF = re.compile(
    rf"(?P<f>{_FRACTION_EXPR})(?![\d.,/])(?:\s*\bof\s+|\s+)(?:(?:a|an|one|the|my|each|that)\s+)?(?P<a>{_NUM})"
    rf"\s*(?P<u>{_UNIT})"
)
_DOSE_NOUN = rf"(?:{_COUNT_NOUN}|doses?|drops?|servings?|portions?|scoops?|pieces?|squares?)"
# "three 50mg caps", "2 100mg capsules"
_COUNT_OF_AMOUNT = re.compile(
    rf"(?<![\d.,/])(?P<n>[2-9]|two|three|four|five|six)\s+(?P<a>{_NUM})\s*(?P<u>{_UNIT})\s*{_DOSE_NOUN}(?![a-z])"
    rf"|\b(?P<n2>two|three|four|five|six)\s+(?P<a2>{_NUM})\s*(?P<u2>{_UNIT})"
)
# "2 x 0.1g", "2x0.1g", "0.1g x 2" (not "x 2 a week": schedules are stripped before)
_TIMES_AMOUNT = re.compile(
    rf"(?<![\d.,/])(?P<n>[2-9])\s*(?:x|times)\s*(?P<a>{_NUM})\s*(?P<u>{_UNIT})"
    rf"|{_NUM_START}(?P<a2>{_NUM})\s*(?P<u2>{_UNIT})\s*x\s*(?P<n2>[2-9])(?![\d.,])"
)
_SUM_SEP = r"\s*(?:(?:\+|\bplus\b)(?:\s+another\b)?|&\s*another\b|\band\s+(?:then\s+)?another\b|\bthen\s+another\b|\bfollowed\s+by(?:\s+another)?\b)\s*"
_TERM = rf"{_NUM_START}{_NUM}\s*{_UNIT}"
# "0.05g + 0.05g", "5ug plus another 5ug"
_SUM = re.compile(rf"{_TERM}(?:(?:\s+[a-z]+){{0,3}}?{_SUM_SEP}{_TERM})+")
_SUM_TERM = re.compile(rf"{_NUM_START}(?P<a>{_NUM})\s*(?P<u>{_UNIT})")


def _fraction_value(text: str) -> Fraction:
    text = text.strip()
    if "/" in text:
        value, _, _ = _read_number(re.sub(r"(?:st|nd|rd|th|ths)$", "", text))
        return value
    return _read_tab_amount(text)


def _exact_number(text: str) -> Fraction:
    value, alt, comma = _read_number(text)
    if alt is not None or comma:
        raise _Stop("ambiguous", "thousands_or_decimal_separator")
    return value


def _built_readings(work: str) -> tuple[list[_Reading], str]:
    """Sums, counts, multiples and fractions of a stated amount, each one reading; `work` with them taken out."""
    readings: list[_Reading] = []

    def take(pattern: re.Pattern, build) -> None:
        nonlocal work
        for m in pattern.finditer(work):
            readings.append(build(m))
        work = pattern.sub(" § ", work)

    def total(m: re.Match) -> _Reading:
        terms = [(_exact_number(t.group("a")), _UNIT_OF[t.group("u")]) for t in _SUM_TERM.finditer(m.group(0))]
        unit = terms[-1][1]
        amount = sum((_to_canonical(v, u, unit) for v, u in terms), Fraction(0))
        return _Reading(amount, amount, unit, reason="sum_of_amounts")

    def count(m: re.Match) -> _Reading:
        word = m.group("n") or m.group("n2")
        n = Fraction(_NUMBER_WORDS.get(word) or int(word))
        amount = n * _exact_number(m.group("a") or m.group("a2"))
        return _Reading(amount, amount, _UNIT_OF[m.group("u") or m.group("u2")], reason="count_times_amount")

    def times(m: re.Match) -> _Reading:
        n = Fraction(int(m.group("n") or m.group("n2")))
        amount = n * _exact_number(m.group("a") or m.group("a2"))
        return _Reading(amount, amount, _UNIT_OF[m.group("u") or m.group("u2")], reason="count_times_amount")

    def fraction(m: re.Match) -> _Reading:
        f = _fraction_value(m.group("f"))
        if not 0 < f < 1:
            raise _Stop("ambiguous", "multiple_amounts")
        amount = f * _exact_number(m.group("a"))
        return _Reading(amount, amount, _UNIT_OF[m.group("u")], reason="fraction_of_stated_amount")

    take(_SUM, total)
    take(_COUNT_OF_AMOUNT, count)
    take(_TIMES_AMOUNT, times)
    take(_FRACTION_OF, fraction)
    return readings, work


_COUNTED_ASIDE = re.compile(
    rf"(?<![\d.,/])(?:1|one|a|single)\s*(?:{_DOSE_NOUN}|{_TAB})(?![a-z])|[(\[]\s*\d+\s*{_DOSE_NOUN}\s*[)\]]"
)
_WORD_COUNT_LEFT = re.compile(
    rf"{_WORD_FRACTION}|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twenty)\b\s*(?:or|-|to|and|,)?\s*(?:§|[a-z]+\s+§)"
    r"|\b(?:sometimes|occasionally|or|other\s+times)\s+(?:two|three|four|five|six|seven|eight|nine|ten)\b"
)


def _mass_readings(work: str, *, strict: bool = False) -> list[_Reading]:
    """Every amount with a mass unit; with `strict`, an amount left unread (an unforeseen notation) is ambiguity."""
    return _mass_readings_and_rest(work, strict=strict)[0]


def _mass_readings_and_rest(work: str, *, strict: bool = False) -> tuple[list[_Reading], str]:
    """The mass readings and the text with each of them replaced by a marker."""
    readings: list[_Reading] = []
    spans: list[tuple[int, int]] = []

    def free(m: re.Match) -> bool:
        return not any(m.start() < e and s < m.end() for s, e in spans)

    for m in _MASS_RANGE.finditer(work):
        ub = _UNIT_OF[m.group("ub")]
        ua = _UNIT_OF[m.group("ua")] if m.group("ua") else ub
        a, a_alt, a_c = _read_number(m.group("a"))
        b, b_alt, b_c = _read_number(m.group("b"))
        if ua != ub:  # "100mg-0.2g": express both ends in the upper unit
            a, a_alt = _to_canonical(a, ua, ub), (None if a_alt is None else _to_canonical(a_alt, ua, ub))
        readings.append(_Reading(a, b, ub, a_alt, b_alt, a_c or b_c))
        spans.append(m.span())
    for m in _MASS_SINGLE.finditer(work):
        if not free(m):
            continue
        if re.fullmatch(r"0\d+", m.group("a")):  # "02g": 0.2 g with its point left out, most likely
            raise _Stop("ambiguous", "missing_decimal_point", Fraction(f"0.{m.group('a')[1:]}"))
        v, alt, c = _read_number(m.group("a"))
        readings.append(_Reading(v, v, _UNIT_OF[m.group("ua")], alt, alt, c))
        spans.append(m.span())
    for m in _MASS_WORDS.finditer(work):
        if not free(m):
            continue
        v = _read_words(m.group("w"))
        readings.append(_Reading(v, v, _UNIT_OF[m.group("ua")]))
        spans.append(m.span())
    if strict and readings:
        rest = work
        for s, e in sorted(spans, reverse=True):
            rest = rest[:s] + " § " + rest[e:]
        if _LEFTOVER_AMOUNT.search(rest) or _HEDGED_NUMBER.search(rest) or _ALTERNATIVE.search(rest):
            raise _Stop("ambiguous", "multiple_amounts")
        return readings, rest
    return readings, work


def _every_number_accounted_for(
    rest: str, reading: _Reading, canon: str, strengths: list[Fraction], tab_ug: Fraction
) -> None:
    """Exact only when every number in the answer has its part: "1g split into 10 doses", "0.1, 0.15, 0.2 g",
    "1P-LSD 100ug, 1/10" each leave a number whose part in the dose is unknown. What may stay: one capsule or tab,
    a count of capsules in brackets ("0.2g (2 caps)": how it was taken, not how much), and a restatement that
    agrees with the amount ("10ug (1/10 tab)", "0.25 (quarter gram)"); one that disagrees is ambiguity."""
    value = _to_canonical(reading.high, reading.unit, canon)
    strength = strengths[0] if len(set(strengths)) == 1 else tab_ug
    for m in _TAB_FRACTION.finditer(rest):
        fraction = _read_tab_amount(m.group("f"))
        if canon != "ug" or m.group("f2") or fraction * strength != value:
            raise _Stop("ambiguous", "multiple_amounts")
    rest = _TAB_FRACTION.sub(" ", rest)
    rest = _COUNTED_ASIDE.sub(" ", rest)
    for m in re.finditer(rf"{_NUM_START}{_NUM}", rest):
        if "/" in m.group(0) or _read_number(m.group(0))[0] != value:
            raise _Stop("ambiguous", "multiple_amounts")
    if _WORD_COUNT_LEFT.search(rest):
        raise _Stop("ambiguous", "multiple_amounts")


def _combine(readings: list[_Reading], canon: str) -> _Reading:
    """One reading, or ambiguity when the text states different amounts ("100mg (0.1g)" is one amount)."""
    for r in readings:
        _check_plausible(r, canon)
    values = {(_to_canonical(r.low, r.unit, canon), _to_canonical(r.high, r.unit, canon)) for r in readings}
    if len(values) > 1:
        raise _Stop("ambiguous", "multiple_amounts")
    return readings[0]


def _volumetric(work: str, canon: str, tab_ug: Fraction) -> DoseResult | None:
    """'1 ml of a 10 ug/ml solution', '2ml (10ug/ml)', '100ug in 10ml, 1ml', '1 tab in 10 ml water, took 1 ml'."""
    conc: Fraction | None = None  # canonical unit per ml
    assumed = False
    rest = work
    m = _PER_VOLUME.search(rest)
    if m:
        c, alt, comma = _read_number(m.group("c"))
        per, palt, pcomma = _read_number(m.group("per")) if m.group("per") else (Fraction(1), None, False)
        if alt is not None or comma or palt is not None or pcomma or per == 0:
            raise _Stop("ambiguous", "thousands_or_decimal_separator")
        conc = _to_canonical(c, _UNIT_OF[m.group("cu")], canon) / per
        rest = rest[: m.start()] + " § " + rest[m.end() :]
    else:
        m = re.search(
            rf"{_NUM_START}(?P<a>{_NUM})\s*(?P<au>{_UNIT})\s*(?:[a-z0-9'-]+\s+){{0,3}}?"
            rf"(?:in|into|with|to|per)\s+(?P<w>{_NUM})\s*{_VOL}",
            rest,
        )
        if m:
            a, alt, comma = _read_number(m.group("a"))
            w, walt, wcomma = _read_number(m.group("w"))
            if alt is not None or comma or walt is not None or wcomma or w == 0:
                raise _Stop("ambiguous", "thousands_or_decimal_separator")
            conc = _to_canonical(a, _UNIT_OF[m.group("au")], canon) / w
            rest = rest[: m.start()] + " § " + rest[m.end() :]
            if w == 1 and not _VOLUME.search(rest):  # "10ug in 1ml": the 1 ml is the dose
                rest += " 1 ml"
        else:
            m = re.search(
                rf"(?:(?P<n>{_TAB_AMOUNT})\s+)?(?:(?:lsd|acid|blotter|paper)\s+)?{_TAB}\s*"
                rf"(?:[a-z'-]+\s+){{0,3}}?(?:in|into|with|to)\s+(?P<w>{_NUM})\s*{_VOL}",
                rest,
            )
            if m and canon == "ug":
                n = _read_tab_amount(m.group("n")) if m.group("n") else Fraction(1)
                w, walt, wcomma = _read_number(m.group("w"))
                if walt is not None or wcomma or w == 0:
                    raise _Stop("ambiguous", "thousands_or_decimal_separator")
                conc = n * tab_ug / w
                assumed = True
                rest = rest[: m.start()] + " § " + rest[m.end() :]
    volumes = []
    for vm in re.finditer(rf"{_NUM_START}(?P<v>{_NUM})\s*{_VOL}", rest):
        v, alt, comma = _read_number(vm.group("v"))
        if alt is not None or comma:
            raise _Stop("ambiguous", "thousands_or_decimal_separator")
        volumes.append(v)
    if conc is None:
        m = _VOLUME_PAREN.search(work)
        if m:
            a, alt, comma = _read_number(m.group("a") or m.group("a2"))
            unit = _UNIT_OF[m.group("u") or m.group("u2")]
            reading = _Reading(a, a, unit, alt, alt, comma)
            _check_plausible(reading, canon)
            return DoseResult(float(_to_canonical(a, unit, canon)), canon, "exact", "explicit_unit")
        if _mass_readings(work):
            raise _Stop("ambiguous", "volume_without_concentration")
        return None
    if not volumes:
        stated = _mass_readings(rest)  # "10ug (100ug tab in 10ml)": the dose is stated beside how it was made
        if stated:
            reading = _combine(stated, canon)
            if reading.low == reading.high:
                return DoseResult(
                    float(_to_canonical(reading.low, reading.unit, canon)), canon, "exact", "explicit_unit"
                )
        raise _Stop("unparseable", "concentration_without_volume")
    if len(set(volumes)) > 1:
        raise _Stop("ambiguous", "multiple_amounts")
    amount = volumes[0] * conc
    if not _plausible(amount, canon):
        raise _Stop("ambiguous", "implausible_for_unit")
    if assumed:
        return DoseResult(float(amount), canon, "unit_inferred", "volumetric_tab_assumed_strength")
    return DoseResult(float(amount), canon, "exact", "volumetric_solution")


def _tab(work: str, strengths: list[Fraction], tab_ug: Fraction) -> DoseResult:
    """LSD tab fractions, with the tab strength written in the text or assumed."""
    if len(set(strengths)) > 1:
        raise _Stop("ambiguous", "multiple_amounts")
    explicit = strengths[0] if strengths else None
    strength = explicit if explicit is not None else tab_ug
    if re.search(rf"(?:{_TAB_AMOUNT})\s*\bor\b\s*(?:{_TAB_AMOUNT})", work):  # "1/10 or 1/8 tab": two doses
        raise _Stop("ambiguous", "multiple_amounts")
    ranges: set[tuple[Fraction, Fraction]] = set()
    spans: list[tuple[int, int]] = []
    for m in (*_TAB_SPLIT.finditer(work), *_TAB_SPLIT_VERB.finditer(work)):
        spans.append(m.span())
        n = _read_tab_amount(m.group("n")) if m.group("n") else Fraction(1)
        if m.group("pw"):
            parts = Fraction(_FRACTION_WORDS[m.group("pw")])
        else:
            parts = _read_tab_amount(m.group("parts"))
        if parts == 0:
            raise _Stop("unparseable", "no_amount")
        ranges.add((n / parts, n / parts))
    if not ranges:
        for m in _TAB_FRACTION.finditer(work):
            spans.append(m.span())
            f = _read_tab_amount(m.group("f"))
            f2 = _read_tab_amount(m.group("f2")) if m.group("f2") else f
            ranges.add((f, f2))
    if not ranges:
        raise _Stop("ambiguous" if explicit is not None else "unparseable", "tab_without_fraction")
    if len(ranges) > 1:
        raise _Stop("ambiguous", "multiple_amounts")
    rest = work
    for start, end in sorted(spans, reverse=True):
        rest = rest[:start] + " " + rest[end:]
    if re.search(r"\d", rest):  # "a 100ug tab for 10 doses": a number whose part in the dose is unknown
        raise _Stop("ambiguous", "multiple_amounts")
    ((lo, hi),) = ranges
    low, high = lo * strength, hi * strength
    if not (_plausible(low, "ug") and _plausible(high, "ug")):
        raise _Stop("ambiguous", "implausible_for_unit")
    if explicit is not None:
        return _result(low, high, "ug", "exact", "tab_fraction_explicit_strength", "range")
    if lo >= 1:  # "a tab", "one tab": a full dose, or one microdose tab of a strength not given
        raise _Stop("ambiguous", "tab_without_fraction")
    return _result(low, high, "ug", "unit_inferred", "tab_fraction_assumed_strength")


def _bare(work: str, canon: str) -> DoseResult:
    """No unit anywhere: infer the canonical unit only inside the substance's microdose window."""
    m = re.search(rf"{_NUM_START}(?P<a>{_NUM}){_RANGE_SEP}(?P<b>{_NUM})(?![\d.,])", work)
    numbers = [x.group(0) for x in re.finditer(rf"{_NUM_START}{_NUM}", work)]
    if m and len(numbers) == 2:
        if "/" in m.group("a") or "/" in m.group("b"):
            raise _Stop("ambiguous", "fraction_without_unit")
        a, a_alt, a_c = _read_number(m.group("a"))
        b, b_alt, b_c = _read_number(m.group("b"))
        reading = _Reading(a, b, canon, a_alt, b_alt, a_c or b_c)
    elif len(numbers) == 1:
        s = numbers[0]
        if "/" in s:
            raise _Stop("ambiguous", "fraction_without_unit")
        if re.fullmatch(r"\d{5}", s) and _EXCEL_SERIAL[0] <= int(s) <= _EXCEL_SERIAL[1]:
            raise _Stop("unparseable", "spreadsheet_date")
        v, alt, comma = _read_number(s)
        reading = _Reading(v, v, canon, alt, alt, comma)
    elif not numbers:
        raise _Stop("unparseable", "vague_amount" if _VAGUE_ANY.search(work) else "no_amount")
    else:
        raise _Stop("ambiguous", "multiple_amounts")
    if reading.comma_group:
        raise _Stop("ambiguous", "thousands_or_decimal_separator")
    if reading.alt_low is not None or reading.alt_high is not None:
        alt_lo = reading.alt_low if reading.alt_low is not None else reading.low
        alt_hi = reading.alt_high if reading.alt_high is not None else reading.high
        if _inferable(alt_lo, canon) and _inferable(alt_hi, canon):
            raise _Stop("ambiguous", "thousands_or_decimal_separator")
    zero_start = reading.low == 0 and reading.low < reading.high
    if not ((_inferable(reading.low, canon) or zero_start) and _inferable(reading.high, canon)):
        raise _Stop("ambiguous", "no_unit_implausible")
    reason = "no_unit_assumed_grams" if canon == "g" else "no_unit_assumed_micrograms"
    return _result(reading.low, reading.high, canon, "unit_inferred", reason)


def _strip_context(work: str) -> str:
    for pattern in _NAME_PATTERNS:
        work = pattern.sub(" ", work)
    for pattern in _CONTEXT_PATTERNS:
        work = pattern.sub(" ; ", work)
    return re.sub(r"\s+", " ", work).strip()


_MONTH_NUMBER = {
    m: i
    for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)
}
# "10-15" typed into a spreadsheet becomes "Oct-15", "1-10" becomes "1-Oct"
_DATE_RANGE = re.compile(rf"^(?:(?P<m1>{_MONTH})-(?P<d1>\d{{1,2}})|(?P<d2>\d{{1,2}})-(?P<m2>{_MONTH}))$")


def _spreadsheet_range(text: str, canon: str) -> DoseResult | None:
    """A range that a spreadsheet turned into a date ("10-15" shown as "Oct-15" or "15-Oct"), recovered as the two
    numbers in order with the unit inferred (the reason says so) when it fits the substance's microdose window;
    otherwise ambiguous."""
    m = _DATE_RANGE.match(text)
    if not m:
        return None
    month = _MONTH_NUMBER[(m.group("m1") or m.group("m2"))[:3]]
    # which of the two was the month depends on the spreadsheet's locale ("1-10" shows as "1-Oct" or "10-Jan")
    low, high = sorted((Fraction(month), Fraction(int(m.group("d1") or m.group("d2")))))
    if low < high and _inferable(high, canon) and (_inferable(low, canon) or low >= 1):
        return _result(low, high, canon, "unit_inferred", "spreadsheet_date_range")
    raise _Stop("ambiguous", "spreadsheet_date_range")


_POINT_DIGITS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "nought": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_POINT_WORD = "(?:" + "|".join(_POINT_DIGITS) + ")"
_SPOKEN_DECIMAL = re.compile(
    rf"\b(?:(?P<w>{_POINT_WORD})\s+)?point\s+(?:(?P<d>{_POINT_WORD}(?:\s+{_POINT_WORD})?)\b|(?P<n>\d+)(?![\d.,]))"
)
_ORDINAL_FRACTION = re.compile(r"\b(?:a|one|1)\s+(\d+)(?:st|nd|rd|th)\b")  # "a 10th" is 1/10
_UNITS_WORDS = {w: v for w, v in _NUMBER_WORDS.items() if w not in ("a", "an")}
_HUNDREDS = re.compile(
    r"\b(?P<h>a|one|two|three|four|five)\s+hundred(?:\s+(?:and\s+)?(?P<rest>"
    + "|".join(sorted(_UNITS_WORDS, key=len, reverse=True))
    + r"))?\b"
)
_AND_A_HALF = re.compile(rf"\b(?P<n>\d+|{'|'.join(sorted(_UNITS_WORDS, key=len, reverse=True))})\s+and\s+a\s+half\b")


_WORD_VALUE = {**{w: str(v) for w, v in _UNITS_WORDS.items()}, "half": "0.5"}
_RANGE_WORD = "(?:" + "|".join(sorted(_WORD_VALUE, key=len, reverse=True)) + ")"
_WORD_RANGE = re.compile(
    rf"\b(?P<a>{_RANGE_WORD})\s+(?P<sep>to|or|-)\s+(?:a\s+)?(?P<b>{_RANGE_WORD})\b"
)  # "one to two grams"


def _number_words(work: str) -> str:
    """'a hundred and fifty' is 150, 'seven and a half' 7.5: counts words cannot express in one token."""

    def hundreds(m: re.Match) -> str:
        h = 1 if m.group("h") == "a" else _NUMBER_WORDS[m.group("h")]
        return str(100 * h + (_UNITS_WORDS[m.group("rest")] if m.group("rest") else 0))

    def and_a_half(m: re.Match) -> str:
        n = m.group("n")
        return f"{int(n) if n.isdigit() else _UNITS_WORDS[n]}.5"

    def word_range(m: re.Match) -> str:
        a, b = (_WORD_VALUE[m.group(g)] for g in ("a", "b"))
        return f"{a} {m.group('sep')} {b}"

    return _WORD_RANGE.sub(word_range, _AND_A_HALF.sub(and_a_half, _HUNDREDS.sub(hundreds, work)))


def _written_out(work: str) -> str:
    """Decimals and fractions as people write them, in one notation: ". 2 g" and "point two grams" are ".2 g",
    ".2 of a gram" and "1/4 of a gram" are ".2 g" and "1/4 g"; "a full/single/whole tab" is "a tab"."""
    work = _SPOKEN_DECIMAL.sub(
        lambda m: (
            (_POINT_DIGITS[m.group("w")] if m.group("w") else "")
            + "."
            + (m.group("n") or "".join(_POINT_DIGITS[w] for w in m.group("d").split()))
        ),
        work,
    )
    work = _number_words(_ORDINAL_FRACTION.sub(r"1/\1", work))
    work = re.sub(r"(\d)\s*(?:percent|per\s+cent|pct)\b", r"\1%", work)
    work = re.sub(rf"\s*(?:±|\+/-|\+-)\s*{_NUM}\s*(?:{_UNIT})?", " ", work)  # "0.1 ± 0.02 g": the tolerance goes
    work = re.sub(rf"(^|[\s(~])\.\s+(?=\d+\s*(?:{_UNIT}|$))", r"\1.", work)
    work = re.sub(rf"(?<![\d.])(\d+)\s*\.\s+(?=\d+\s*{_UNIT})", r"\1.", work)
    work = re.sub(rf"{_NUM_START}({_NUM})\s+of\s+(?:a|an|one)\s+({_UNIT})", r"\1 \2", work)
    return re.sub(
        rf"\b(?:full|single|whole|entire|standard|regular|normal)\s+(?={_TAB}|(?:lsd|acid)\s+{_TAB})", "", work
    )


_WEEKLY = re.compile(r"\b(?:a|per|each|every|/)\s*(?:week|wk)\b|\bweekly\b")
_TIMES_WORDS = {"twice": 2, "two times": 2, "thrice": 3, "three times": 3}
_TIMES_A_DAY = re.compile(
    r"\b(?P<n>twice|two\s+times|thrice|three\s+times|[23]\s*x|[23]\s+times)\s*(?:a|per|/|each)\s*day\b"
)


def _parse(substance: str, text: str, tab_ug: Fraction) -> DoseResult:
    canon = CANONICAL_UNIT[substance]
    if text in _MISSING:
        return DoseResult(None, None, "missing", _MISSING[text])
    recovered = _spreadsheet_range(text, canon)
    if recovered is not None:
        return recovered
    if any(p.match(text) for p in _DATE_PATTERNS):
        raise _Stop("unparseable", "spreadsheet_date")
    if _NOT_KNOWN.match(text):
        raise _Stop("unparseable", "not_known")
    work = re.sub(r"^[-*•]\s+", "", text)
    if re.match(r"^-\s*[.\d]", work):
        raise _Stop("unparseable", "negative_amount")
    work = re.sub(r"(?<=\d)\s*~\s*(?=[.\d])", "-", work).replace("~", " ")
    work = _strip_context(_written_out(work))
    work = re.sub(rf"\bbetween\s+({_NUM})\s*({_UNIT})?\s+and\s+", lambda m: f"{m.group(1)}{m.group(2) or ''}-", work)
    if _INEQUALITY.search(work):
        raise _Stop("ambiguous", "inequality")
    is_lsd = canon == "ug"

    if _VOLUME.search(work):
        r = _volumetric(work, canon, tab_ug)
        if r is not None:
            return r
    elif _PER_VOLUME.search(work):
        raise _Stop("unparseable", "concentration_without_volume")

    strengths: list[Fraction] = []
    mass_work = work
    if is_lsd:
        for pat in (_STRENGTH_BEFORE, _STRENGTH_AFTER):
            for m in pat.finditer(mass_work):
                s, alt, comma = _read_number(m.group("s"))
                if alt is not None or comma:
                    raise _Stop("ambiguous", "thousands_or_decimal_separator")
                strengths.append(_to_canonical(s, _UNIT_OF[m.group("su")], "ug"))
            mass_work = pat.sub(" § tab " if pat is _STRENGTH_BEFORE else " tab § ", mass_work)

    if is_lsd:
        for m in _TAB_PAREN.finditer(mass_work):
            # "1/10 tab (10ug)" restates the dose; "1/10 tab (100ug)" may give the tab's strength instead.
            f = _read_tab_amount(m.group("f"))
            mv, alt, comma = _read_number(m.group("m"))
            if alt is not None or comma:
                raise _Stop("ambiguous", "thousands_or_decimal_separator")
            if f != 1 and _to_canonical(mv, _UNIT_OF[m.group("mu")], "ug") != f * tab_ug:
                raise _Stop("ambiguous", "multiple_amounts")
    counted: list[_Reading] = []
    for m in _EACH_COUNT.finditer(mass_work):
        n = Fraction(_NUMBER_WORDS.get(m.group("n")) or int(m.group("n")))
        a = _exact_number(m.group("a"))
        counted.append(_Reading(n * a, n * a, _UNIT_OF[m.group("u")], reason="count_times_amount"))
    mass_work = _EACH_COUNT.sub(" § ", mass_work)
    if _COUNT_PAREN.search(mass_work):
        raise _Stop("ambiguous", "multiple_amounts")  # "2 capsules (0.2g)": per capsule or in total?
    for pat in _MULT_COUNT:
        for m in pat.finditer(mass_work):
            n = Fraction(_NUMBER_WORDS.get(m.group("n")) or int(m.group("n")))
            a, alt, comma = _read_number(m.group("a"))
            if alt is not None or comma:
                raise _Stop("ambiguous", "thousands_or_decimal_separator")
            counted.append(_Reading(n * a, n * a, _UNIT_OF[m.group("u")], reason="count_times_amount"))
        mass_work = pat.sub(" § ", mass_work)
    built, mass_work = _built_readings(mass_work)
    mass, rest = _mass_readings_and_rest(mass_work, strict=True)
    readings = counted + built + mass
    if readings:
        if _WEEKLY.search(text) and (
            any(r.reason == "count_times_amount" for r in readings) or re.search(r"\b\d+\s*doses?\b", text)
        ):
            raise _Stop("ambiguous", "multiple_amounts")  # "3 x 0.1g a week": three doses a week, or 0.3 g?
        if len(readings) > 1 and not re.search(r"[(\[=]|\bi\.?e\.?\b", text):
            raise _Stop("ambiguous", "multiple_amounts")  # "0.1g and 0.1g": twice, or one amount said twice?
        reading = _combine(readings, canon)
        _every_number_accounted_for(rest, reading, canon, strengths, tab_ug)
        times = _TIMES_A_DAY.search(text)
        if times and reading.reason is None:  # "0.05g twice a day": the day's total
            n = Fraction(_TIMES_WORDS.get(times.group("n")) or int(re.sub(r"\D", "", times.group("n"))))
            reading = _Reading(reading.low * n, reading.high * n, reading.unit, reason="count_times_amount")
            _check_plausible(reading, canon)
        if canon == "g" and _FRESH.search(work):
            raise _Stop("ambiguous", "fresh_weight")
        if canon == "g" and _NOT_DRIED.search(text):
            raise _Stop("ambiguous", "compound_mass")
        if (
            canon == "g"
            and reading.unit in ("mg", "ug")
            and _COMPOUND.search(text)
            and not _MUSHROOM_WORDS.search(text)
        ):
            raise _Stop("ambiguous", "compound_mass")
        low = _to_canonical(reading.low, reading.unit, canon)
        high = _to_canonical(reading.high, reading.unit, canon)
        reason = reading.reason or ("explicit_unit" if low == high else "explicit_unit_range")
        return _result(low, high, canon, "exact", reason, "range")

    if re.search(
        rf"\b(?:{_VAGUE_NOUN}|corners?|edges?|slivers?|nibbles?)\s+(?:off\s+)?of\s+(?:an?\s+|the\s+|my\s+)?{_TAB}", work
    ):
        raise _Stop("unparseable", "vague_amount")
    if re.search(_TAB, work):
        if not is_lsd:
            raise _Stop("unparseable", "count_without_strength")
        return _tab(mass_work, strengths, tab_ug)
    if strengths:
        raise _Stop("ambiguous", "tab_without_fraction")
    if _VOLUME.search(work) or _DROPS.search(work):
        raise _Stop("unparseable", "volume_without_concentration")
    if _VAGUE_WITH_NUMBER.search(work):
        raise _Stop("unparseable", "vague_amount")
    if _COUNT.search(work):
        raise _Stop("unparseable", "count_without_strength")
    if canon == "g" and _FRESH.search(work) and re.search(r"\d", work):
        raise _Stop("ambiguous", "fresh_weight")
    return _bare(work, canon)


@lru_cache(maxsize=65536)
def _parse_cached(substance: str, text: str, tab_ug: Fraction) -> DoseResult:
    try:
        return _parse(substance, text, tab_ug)
    except _Stop as stop:
        likely = float(stop.likely) if stop.likely is not None and stop.status == "ambiguous" else None
        return DoseResult(None, None, stop.status, stop.reason, likely_amount=likely)
    except (ValueError, ZeroDivisionError, ArithmeticError):
        # Any number this module's patterns admit converts; this is a last guard that never echoes the text.
        return DoseResult(None, None, "unparseable", "no_amount")


def _as_text(text: object) -> str | None:
    if text is None:
        return None
    if isinstance(text, str):
        return text
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        if isinstance(text, float) and not math.isfinite(text):
            return None
        return repr(text) if isinstance(text, float) else str(text)
    try:
        import pandas as pd

        if pd.isna(text):
            return None
    except (TypeError, ValueError, ImportError):
        pass
    return str(text)


def parse_dose(substance: str, text: str | None, *, tab_strength_ug: float = 100.0) -> DoseResult:
    """Parse one free-text dose for one substance (see the module docstring for statuses and reasons).

    `tab_strength_ug` is the assumed strength of one LSD tab when the text gives none ("1/10 tab").
    An unknown substance gives `unparseable`/`unknown_substance`: the canonical unit cannot be known.
    """
    if not (isinstance(tab_strength_ug, (int, float)) and math.isfinite(tab_strength_ug) and tab_strength_ug > 0):
        raise ValueError("tab_strength_ug must be a positive finite number")
    raw = _as_text(text)
    if raw is None:
        return DoseResult(None, None, "missing", "empty")
    norm = _normalise(raw)
    if len(norm) > MAX_TEXT_LENGTH:
        return DoseResult(None, None, "unparseable", "too_long")
    bare = norm.strip(" .!()[]")  # "N/A.", "(prefer not to say)"
    if norm in _MISSING or (bare != norm and bare in _MISSING and bare):
        return DoseResult(None, None, "missing", _MISSING[norm if norm in _MISSING else bare])
    canon_sub = canonical_substance(substance)
    if canon_sub is None:
        return DoseResult(None, None, "unparseable", "unknown_substance")
    return _parse_cached(canon_sub, norm, Fraction(str(tab_strength_ug)))
