"""Free-text dose answers to a normalised amount in the substance's canonical unit.

Why this module is careful rather than clever: a dose read with the wrong unit is off by 1000, and such an error
is invisible downstream. So the parser never changes a unit the participant wrote. When the literal reading is
implausible for the substance (`.25mg` of mushrooms, `10mg` of LSD) the result is `ambiguous` with no amount,
and a human reviews the raw text (kept in the restricted tier only).

Canonical units: `g` of dried mushroom for `psilocybin_mushrooms`; `ug` for `lsd` and `lsd_analogue`.

Statuses and what `amount` means for each:

========================  =================================================================================
``exact``                 explicit unit (or explicit tab strength / solution concentration); amount is exact
``range``                 explicit unit, a range; amount = midpoint, ``range_low``/``range_high`` set
``unit_inferred``         no unit written (bare number inside the substance's plausible microdose window),
                          or an LSD tab fraction using the *assumed* tab strength; amount set; for a bare or tab
                          range ``range_low``/``range_high`` are set too
``ambiguous``             a number was read but its meaning is uncertain: amount and unit are ``None``
``unparseable``           no amount can be derived (vague, spreadsheet date, volume without concentration)
``missing``               empty, ``None``/NA, Qualtrics ``-99``, ``n/a``
========================  =================================================================================

Reasons (value-free codes): ``explicit_unit``, ``explicit_unit_range``, ``volumetric_solution``,
``tab_fraction_explicit_strength``, ``no_unit_assumed_grams``, ``no_unit_assumed_micrograms``,
``tab_fraction_assumed_strength``, ``volumetric_tab_assumed_strength``, ``implausible_for_unit``,
``no_unit_implausible``, ``fraction_without_unit``, ``thousands_or_decimal_separator``, ``multiple_amounts``,
``multiplied_amount``, ``fresh_weight``, ``compound_mass``, ``inequality``, ``reversed_range``,
``tab_without_fraction``, ``spreadsheet_date``, ``vague_amount``, ``count_without_strength``,
``volume_without_concentration``, ``concentration_without_volume``, ``not_known``,
``negative_amount``, ``no_amount``, ``too_long``, ``unknown_substance``, ``empty``, ``unanswered_code``,
``no_answer``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

SUBSTANCES: tuple[str, ...] = ("psilocybin_mushrooms", "lsd", "lsd_analogue")
DOSE_STATUSES: tuple[str, ...] = ("exact", "range", "unit_inferred", "ambiguous", "unparseable", "missing")
CANONICAL_UNIT: dict[str, str] = {"psilocybin_mushrooms": "g", "lsd": "ug", "lsd_analogue": "ug"}

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

_MICROGRAMS_PER: dict[str, int] = {"g": 1_000_000, "mg": 1_000, "ug": 1}


@dataclass(frozen=True)
class DoseResult:
    """One parsed dose; see the module docstring for what each status promises."""

    amount: float | None
    unit: str | None
    status: str
    reason: str
    range_low: float | None = None
    range_high: float | None = None


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
    "g": ("g", "gr", "grs", "gm", "gms", "gram", "grams", "gramm", "gramme", "grammes"),
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
    re.compile(r"\b4\s?-?\s?ac?o\s?-?\s?dmt\b|\b5\s?-?\s?meo\s?-?\s?[a-z]+\b"),
    re.compile(r"\bpe\s?-?\s?\d\b"),
]
_CONTEXT_PATTERNS = [
    # amounts of stack components (Stamets stack etc.) are not the psychedelic dose
    re.compile(rf"{_NUM_START}{_NUM}\s*{_UNIT}\s*(?:of\s+)?{_STACK_WORDS}"),
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
]

_FRESH = re.compile(r"\b(?:fresh|wet|truffles?|sclerotia)\b")
_COMPOUND = re.compile(r"\bpsilocybin\b")
_MUSHROOM_WORDS = re.compile(r"\b(?:mushrooms?|shrooms?|cubensis|cubes|caps|dried|dry|fungi|psilocybe|truffles?)\b")
_INEQUALITY = re.compile(
    rf"(?:<|>|≤|≥|\bup\s+to|\bless\s+than|\bmore\s+than|\bat\s+least|\bat\s+most|\bunder"
    rf"|\bover|\bmax(?:imum)?|\bmin(?:imum)?)\s*(?:of\s+)?{_NUM}"
)
_MULTIPLIED = re.compile(rf"\b\d+\s*x\s*{_NUM}\s*{_UNIT}|{_NUM}\s*{_UNIT}\s*x\s*\d+\b")
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

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class _Reading:
    low: Fraction
    high: Fraction
    unit: str  # source unit: g / mg / ug
    alt_low: Fraction | None = None  # the other reading of a "1.500"-style number, if any
    alt_high: Fraction | None = None
    comma_group: bool = False  # "1,000": thousands or decimal comma, undecidable


# --------------------------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------------------------


def _read_number(s: str) -> tuple[Fraction, Fraction | None, bool]:
    """Value, the alternative thousands reading if the notation allows one, and whether it is a comma group."""
    s = re.sub(r"\s+", " ", s.strip())
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
    for t in tokens:
        if t in _FRACTION_WORDS:
            value = count / _FRACTION_WORDS[t]
        elif t in _NUMBER_WORDS:
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


def _check_plausible(reading: _Reading, canon: str) -> None:
    low = _to_canonical(reading.low, reading.unit, canon)
    high = _to_canonical(reading.high, reading.unit, canon)
    if reading.comma_group:
        raise _Stop("ambiguous", "thousands_or_decimal_separator")
    if reading.alt_low is not None or reading.alt_high is not None:
        alt_lo = _to_canonical(reading.alt_low if reading.alt_low is not None else reading.low, reading.unit, canon)
        alt_hi = _to_canonical(reading.alt_high if reading.alt_high is not None else reading.high, reading.unit, canon)
        if _plausible(alt_lo, canon) and _plausible(alt_hi, canon):
            raise _Stop("ambiguous", "thousands_or_decimal_separator")
    if not (_plausible(low, canon) and _plausible(high, canon)):
        raise _Stop("ambiguous", "implausible_for_unit")


# --------------------------------------------------------------------------------------------------------------
# Pattern readers
# --------------------------------------------------------------------------------------------------------------

_RANGE_SEP = r"\s*(?:-|\bto\b|\bor\b)\s*"
_MASS_RANGE = re.compile(rf"{_NUM_START}(?P<a>{_NUM})\s*(?P<ua>{_UNIT})?{_RANGE_SEP}(?P<b>{_NUM})\s*(?P<ub>{_UNIT})")
_MASS_SINGLE = re.compile(rf"{_NUM_START}(?P<a>{_NUM})\s*(?:\(\s*)?(?P<ua>{_UNIT})")
_LEFTOVER_AMOUNT = re.compile(rf"\d\s*{_UNIT}")
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
_COUNT_NOUN = r"(?:capsules?|caps|pills?|tablets?|gummies|gummy)"
_N_COUNT = r"(?P<n>\d+|two|three|four|five|six)"
_MULT_COUNT = [
    re.compile(rf"(?<![\d.,]){_N_COUNT}\s*x\s*(?P<a>{_NUM})\s*(?P<u>{_UNIT})\s*{_COUNT_NOUN}(?![a-z])"),
    re.compile(
        rf"(?<![\d.,]){_N_COUNT}\s*{_COUNT_NOUN}\s*(?:of|x|@|at|each\s+of|each)\s*(?P<a>{_NUM})"
        rf"\s*(?P<u>{_UNIT})"
    ),
    re.compile(rf"(?<![\d.,]){_N_COUNT}\s*{_COUNT_NOUN}\s*[,(\[]?\s*(?P<a>{_NUM})\s*(?P<u>{_UNIT})\s*each\b"),
]
_COUNT_PAREN = re.compile(rf"(?<![\d.,])(?:[2-9]|two|three|four|five|six)\s*{_COUNT_NOUN}\s*[(\[]\s*{_NUM}\s*{_UNIT}")

_STRENGTH_BEFORE = re.compile(
    rf"{_NUM_START}(?P<s>{_NUM})\s*(?P<su>{_UNIT})\s*(?:(?:lsd|acid|blotter|paper)\s+)?{_TAB}"
)
_STRENGTH_AFTER = re.compile(
    rf"{_TAB}\s*(?:of|is|are|@|at|=|:|was|were|being|dosed\s+at)\s*(?:a|an|about|approx\.?|around|~)?\s*"
    rf"(?P<s>{_NUM})\s*(?P<su>{_UNIT})"
)
_TAB_FRACTION = re.compile(
    rf"(?P<f>{_TAB_AMOUNT})(?:\s*(?:-|to|or)\s*(?P<f2>{_TAB_AMOUNT}))?\s*(?:of\s+)?(?:(?:a|an|one|the|my|each|1)\s+)?"
    rf"(?:§\s*)?(?:(?:lsd|acid|blotter|paper)\s+)?{_TAB}"
)
_TAB_SPLIT = re.compile(
    rf"(?:(?P<n>\d+|{_NW})\s+)?{_TAB}\s*(?:\w+\s+)?(?:cut|split|divided|chopped|broken)\s+(?:up\s+)?(?:in|into)\s+"
    rf"(?:(?P<parts>\d+|{_NW})(?:\s*(?:pieces|parts|bits|portions|doses|squares|segments))?|(?P<pw>{_FW}))"
)


_TAB_SPLIT_VERB = re.compile(
    rf"(?:cut|split|divided?|chopped?|broke|break|quartered)\s+(?:up\s+)?(?:(?P<n>\d+|{_NW})\s+)?"
    rf"(?:(?:lsd|acid)\s+)?{_TAB}"
    rf"\s+(?:up\s+)?(?:in|into)\s+(?:(?P<parts>\d+|{_NW})(?:\s*(?:pieces|parts|bits|portions|doses|squares))?"
    rf"|(?P<pw>{_FW}))"
)
_TAB_PAREN = re.compile(
    rf"(?P<f>{_TAB_AMOUNT})\s*(?:of\s+)?(?:(?:a|an|one|the|my|each|1)\s+)?{_TAB}\s*[(\[]\s*"
    rf"(?:=|~|approx\.?|about|around|roughly|ca\.?|c\.)?\s*(?P<m>{_NUM})\s*(?P<mu>{_UNIT})\s*[)\]]"
)


def _mass_readings(work: str, *, strict: bool = False) -> list[_Reading]:
    """Every amount with a mass unit; with `strict`, an amount left unread (an unforeseen notation) is ambiguity."""
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
        if _LEFTOVER_AMOUNT.search(rest) or _HEDGED_NUMBER.search(rest):
            raise _Stop("ambiguous", "multiple_amounts")
    return readings


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
    ranges: set[tuple[Fraction, Fraction]] = set()
    for m in (*_TAB_SPLIT.finditer(work), *_TAB_SPLIT_VERB.finditer(work)):
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
            f = _read_tab_amount(m.group("f"))
            f2 = _read_tab_amount(m.group("f2")) if m.group("f2") else f
            ranges.add((f, f2))
    if not ranges:
        raise _Stop("ambiguous" if explicit is not None else "unparseable", "tab_without_fraction")
    if len(ranges) > 1:
        raise _Stop("ambiguous", "multiple_amounts")
    ((lo, hi),) = ranges
    low, high = lo * strength, hi * strength
    if not (_plausible(low, "ug") and _plausible(high, "ug")):
        raise _Stop("ambiguous", "implausible_for_unit")
    if explicit is not None:
        return _result(low, high, "ug", "exact", "tab_fraction_explicit_strength", "range")
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
    if not (_inferable(reading.low, canon) and _inferable(reading.high, canon)):
        raise _Stop("ambiguous", "no_unit_implausible")
    reason = "no_unit_assumed_grams" if canon == "g" else "no_unit_assumed_micrograms"
    return _result(reading.low, reading.high, canon, "unit_inferred", reason)


def _strip_context(work: str) -> str:
    for pattern in _NAME_PATTERNS:
        work = pattern.sub(" ", work)
    for pattern in _CONTEXT_PATTERNS:
        work = pattern.sub(" ; ", work)
    return re.sub(r"\s+", " ", work).strip()


def _parse(substance: str, text: str, tab_ug: Fraction) -> DoseResult:
    canon = CANONICAL_UNIT[substance]
    if text in _MISSING:
        return DoseResult(None, None, "missing", _MISSING[text])
    if any(p.match(text) for p in _DATE_PATTERNS):
        raise _Stop("unparseable", "spreadsheet_date")
    if _NOT_KNOWN.match(text):
        raise _Stop("unparseable", "not_known")
    work = re.sub(r"^[-*•]\s+", "", text)
    if re.match(r"^-\s*[.\d]", work):
        raise _Stop("unparseable", "negative_amount")
    work = re.sub(r"(?<=\d)\s*~\s*(?=[.\d])", "-", work).replace("~", " ")
    work = _strip_context(work)
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
    if _COUNT_PAREN.search(mass_work):
        raise _Stop("ambiguous", "multiple_amounts")  # "2 capsules (0.2g)": per capsule or in total?
    for pat in _MULT_COUNT:
        for m in pat.finditer(mass_work):
            n = Fraction(_NUMBER_WORDS.get(m.group("n")) or int(m.group("n")))
            a, alt, comma = _read_number(m.group("a"))
            if alt is not None or comma:
                raise _Stop("ambiguous", "thousands_or_decimal_separator")
            counted.append(_Reading(n * a, n * a, _UNIT_OF[m.group("u")]))
        mass_work = pat.sub(" § ", mass_work)
    if _MULTIPLIED.search(mass_work):
        raise _Stop("ambiguous", "multiplied_amount")
    readings = counted + _mass_readings(mass_work, strict=True)
    if readings:
        reading = _combine(readings, canon)
        if canon == "g" and _FRESH.search(work):
            raise _Stop("ambiguous", "fresh_weight")
        if (
            canon == "g"
            and reading.unit in ("mg", "ug")
            and _COMPOUND.search(text)
            and not _MUSHROOM_WORDS.search(text)
        ):
            raise _Stop("ambiguous", "compound_mass")
        low = _to_canonical(reading.low, reading.unit, canon)
        high = _to_canonical(reading.high, reading.unit, canon)
        return _result(low, high, canon, "exact", "explicit_unit" if low == high else "explicit_unit_range", "range")

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
        return DoseResult(None, None, stop.status, stop.reason)
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
    if norm in _MISSING:
        return DoseResult(None, None, "missing", _MISSING[norm])
    canon_sub = canonical_substance(substance)
    if canon_sub is None:
        return DoseResult(None, None, "unparseable", "unknown_substance")
    return _parse_cached(canon_sub, norm, Fraction(str(tab_strength_ug)))
