"""Dosing protocols: a coded answer plus optional free text to a canonical protocol with explicit days.

Why explicit days and components: sources disagree on labels ("Stamets" is 4/3 or 5/2), so the result keeps
`days_on`, `days_off` and `stack_components` beside the label. The phrase table is configuration
(`protocols.yaml`), not code branches. Unrecognised text is `other`, never a guess; no answer at all is `unknown`.

How free text is read: the schedule's structure first, labels second, spelling last. Numbers are read, never
fuzzy-matched ("4 days per week" is 4 a week, so `other`, not `twice_weekly`); a negated label is dropped ("not
daily"); an exception changes the count ("daily except Saturdays" is 6 a week: `other`; "every day apart from
weekends" is 5 on 2 off); intervals in any words are intervals ("a dose every 72h", "dose, then two days off",
"on, off, off" are 1 on 2 off); where the answer tells a change ("used to do daily, now Fadiman"), only the
current schedule is read. Typo tolerance applies to protocol names and to phrases without a number, weekday or
negation. A wrong protocol is worse than `other`: anything left unclear is `other`.

`matched_by` says how the label was found: ``code``, ``schedule_pattern`` ("1 on 2 off", "every 3rd day",
"every 72h", "on, off, off", "M-F"), ``weekly_pattern`` ("twice a week", "Mon and Thu", "4 days per week"),
``exception`` ("daily except Sundays"), ``phrase``, ``fuzzy_name``, ``fuzzy_phrase``, ``negated`` (a label named
only to say it is not followed: `other`), ``conflict`` (several protocols named: `other`), ``unmatched_text``
(`other`), ``missing`` (`unknown`: no answer, or a refusal such as "prefer not to say").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml
from rapidfuzz import fuzz

from pipelines.domain.vocabulary import PROTOCOLS as CANONICAL_PROTOCOLS

UNKNOWN = "unknown"


@dataclass(frozen=True)
class ProtocolResult:
    """Canonical protocol with explicit schedule; `days_*` are None when the schedule has no fixed cycle."""

    protocol: str
    days_on: int | None
    days_off: int | None
    stack_components: tuple[str, ...]
    matched_by: str
    per_week: int | None = None  # doses per week, when the answer gives a weekly count rather than a cycle


class ProtocolTableError(ValueError):
    """The protocol table is malformed; the message names the key."""


@dataclass(frozen=True)
class _Protocol:
    name: str
    days_on: int | None
    days_off: int | None
    names: tuple[str, ...]
    phrases: tuple[str, ...]
    stack_implies: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class ProtocolTable:
    """The parsed `protocols.yaml`; load a custom one with `ProtocolTable.load(path)`."""

    protocols: Mapping[str, _Protocol]
    schedules: Mapping[tuple[int, int], str]
    weekly: Mapping[int, str]
    components: Mapping[str, tuple[str, ...]]
    ignored_codes: frozenset[str]
    fuzzy_threshold: float
    fuzzy_min_length: int

    @classmethod
    def from_dict(cls, raw: Mapping) -> ProtocolTable:
        if not isinstance(raw, Mapping):
            raise ProtocolTableError("protocol table: expected a mapping at the top level")
        try:
            protos: dict[str, _Protocol] = {}
            for name, spec in (raw.get("protocols") or {}).items():
                if name not in CANONICAL_PROTOCOLS:
                    raise ProtocolTableError(f"protocol table: protocols.{name}: not a canonical protocol")
                spec = spec or {}
                unknown = set(spec) - {"days_on", "days_off", "names", "phrases", "stack_implies"}
                if unknown:
                    raise ProtocolTableError(f"protocol table: protocols.{name}.{sorted(unknown)[0]}: unknown key")
                protos[name] = _Protocol(
                    name,
                    _opt_int(spec.get("days_on"), f"protocols.{name}.days_on"),
                    _opt_int(spec.get("days_off"), f"protocols.{name}.days_off"),
                    tuple(_norm(x) for x in spec.get("names") or ()),
                    tuple(_norm(x) for x in spec.get("phrases") or ()),
                    tuple(spec.get("stack_implies") or ()),
                )
            for p in CANONICAL_PROTOCOLS:
                protos.setdefault(p, _Protocol(p, None, None, (), (), ()))
            schedules: dict[tuple[int, int], str] = {}
            for i, row in enumerate(raw.get("schedules") or ()):
                proto = row["protocol"]
                if proto not in CANONICAL_PROTOCOLS:
                    raise ProtocolTableError(f"protocol table: schedules[{i}].protocol: not a canonical protocol")
                schedules[(int(row["days_on"]), int(row["days_off"]))] = proto
            weekly: dict[int, str] = {}
            for i, row in enumerate(raw.get("weekly") or ()):
                proto = row["protocol"]
                if proto not in CANONICAL_PROTOCOLS:
                    raise ProtocolTableError(f"protocol table: weekly[{i}].protocol: not a canonical protocol")
                weekly[int(row["per_week"])] = proto
            components = {
                str(k): tuple(_norm(x) for x in v or ()) for k, v in (raw.get("stack_components") or {}).items()
            }
            for name, proto in protos.items():
                for comp in proto.stack_implies:
                    if comp not in components:
                        raise ProtocolTableError(
                            f"protocol table: protocols.{name}.stack_implies: unknown component {comp!r}"
                        )
            return cls(
                protos,
                schedules,
                weekly,
                components,
                frozenset(_norm(str(x)) for x in raw.get("ignored_codes") or ()),
                float(raw.get("fuzzy_threshold", 85)),
                int(raw.get("fuzzy_min_length", 6)),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ProtocolTableError(f"protocol table: malformed entry ({type(exc).__name__}: {exc})") from None

    @classmethod
    def load(cls, path: str | Path | None = None) -> ProtocolTable:
        if path is None:
            text = resources.files("pipelines.domain").joinpath("protocols.yaml").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        return cls.from_dict(yaml.safe_load(text))


def _opt_int(value: object, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolTableError(f"protocol table: {key}: must be a non-negative integer or null")
    return value


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", str(text)).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("&", " and ")
    for d in "\u2010\u2011\u2012\u2013\u2014\u2212":
        text = text.replace(d, "-")
    return re.sub(r"\s+", " ", text).strip()


@lru_cache(maxsize=1)
def default_table() -> ProtocolTable:
    """The packaged table, parsed once."""
    return ProtocolTable.load()


# --------------------------------------------------------------------------------------------------------------
# Schedule patterns (these read numbers; the mapping from numbers to labels is in the table)
# --------------------------------------------------------------------------------------------------------------

_WORD_NUM = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "once": 1,
    "twice": 2,
    "a": 1,
    "single": 1,
}
_ORDINAL = {
    "other": 2,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "sixth": 6,
    "6th": 6,
    "seventh": 7,
    "7th": 7,
}
_N = r"(\d+|one|two|three|four|five|six|seven)"
_ON_OFF = re.compile(rf"\b{_N}\s*(?:days?\s*)?on\s*[,/&;+-]?\s*(?:and\s+)?{_N}\s*(?:days?\s*)?off\b")
_OFF_ON = re.compile(rf"\bon\s*{_N}\s*(?:days?)?\s*[,/&;]?\s*off\s*{_N}\b")
_EVERY_NTH = re.compile(
    r"\b(?:once\s+)?every\s+(other|second|third|fourth|fifth|sixth|seventh|\d+(?:st|nd|rd|th)?"
    r"|two|three|four|five|six|seven)\s+days?\b"
)
_WEEKDAY_SPAN = re.compile(
    r"\b(?:m\s*-\s*f|mon(?:day)?s?\s*(?:-|to|through|thru|till|until)\s*fri(?:day)?s?|week\s*days?|workdays?"
    r"|work\s+days?|working\s+days?|during\s+the\s+week)\b"
)
_PER_WEEK = re.compile(
    r"(?<![\d-])\b(\d+|once|twice|one|two|three|four|five|six|seven)\s*(?:x|times?)?\s*"
    r"(?:(?:days?|doses?|mornings?|evenings?|nights?|sessions?)\s*)?(?:a|per|/|each|every|in\s+a)\s*(?:week|wk)s?\b"
    r"|\b(once|twice|\d+\s*(?:x|times)|two\s+times|three\s+times|four\s+times)[\s-]+weekly\b"
    r"|(?<![\d-])\b(\d+)\s*x\s*(?:a\s+)?(?:week|wk)s?\b"
)
# "once a day", "1 cap a day" (the dose already taken out): every day
_PER_DAY = re.compile(r"\b(?:dose|once)\s+(?:a|per|each)\s+day\b(?!\s*(?:off|on|or|break|rest|between))")
# a weekly count that is a bound or one of several: names no protocol
_COUNT_HEDGE = re.compile(
    r"\b(?:up\s+to|at\s+most|at\s+least|max(?:imum)?|no\s+more\s+than|less\s+than|more\s+than)\s+"
    r"(?:\d+|once|twice|one|two|three|four|five|six)\b"
    r"|\bor\s+(?:\d+|once|twice|one|two|three|four|five|six|seven)\s*(?:x|times)\b"
    r"|\b(?:once|twice|\d+)\s+or\s+(?:once|twice|\d+|three\s+times|two\s+times)\s*(?:a\s+week|weekly|per\s+week)\b"
)
_COUNT_RANGE_PER_WEEK = re.compile(
    r"\b(?:\d+|one|two|three|four|five|six|once)\s*(?:-|to|or)\s*(?:\d+|two|three|four|five|six|seven|twice)\s*"
    r"(?:x|times?)?\s*(?:(?:days?|doses?)\s*)?(?:a|per|/|each|every|in\s+a)\s*(?:week|wk)s?\b"
)
_WEEKLY_WORD = re.compile(r"(?<!twice )(?<!twice-)\b(?:once\s+a\s+week|weekly|once\s+weekly|every\s+week)\b")
_ONE_WEEKDAY = re.compile(
    r"\b(?:every|each|on)\s+(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?s?\b"
    r"|\b(?:mon|tues|wednes|thurs|fri|satur|sun)days\b"
)
_WEEKENDS_ONLY = re.compile(
    r"\b(?:weekends?\s+only|only\s+(?:on\s+)?weekends?|sat(?:urday)?s?\s+and\s+sun(?:day)?s?)\b"
)
_DAY_NAMES = {
    "mon": "mon",
    "monday": "mon",
    "tue": "tue",
    "tues": "tue",
    "tuesday": "tue",
    "wed": "wed",
    "weds": "wed",
    "wednesday": "wed",
    "thu": "thu",
    "thur": "thu",
    "thurs": "thu",
    "thursday": "thu",
    "fri": "fri",
    "friday": "fri",
    "sat": "sat",
    "saturday": "sat",
    "sun": "sun",
    "sunday": "sun",
}
_DAY_RE = re.compile(r"\b(" + "|".join(sorted(_DAY_NAMES, key=len, reverse=True)) + r")s?\b")


_HOURS = re.compile(r"\b(?:every|each|once\s+every|q)\s*(\d+)\s*(?:h|hrs?|hours?)\b")
_EVERY_N_DAYS = re.compile(
    r"\b(?:once\s+)?(?:every|each|once\s+per|once\s+in|one\s+in)\s+(other|second|third|fourth|fifth|sixth|seventh"
    r"|\d+(?:st|nd|rd|th)?|two|three|four|five|six|seven)\s+(?:days?|mornings?|evenings?|nights?)\b"
    r"|\bevery\s+(third|fourth|fifth|\d(?:st|nd|rd|th))\s*(?:$|[,.;)])"
)
_ON_WORDS = r"(?:on(?:\s+day)?|dose(?:\s+day)?|dosing\s+day|yes|take|micro(?:dose)?(?:\s+day)?)"
_OFF_WORDS = r"(?:off(?:\s+day)?|skip|rest(?:\s+day)?|no|transition\s+day|normal\s+day|break|none)"
_TOKEN_SPLIT = re.compile(r"\s*(?:,|;|/|->|>|\bthen\b|\band\b)\s*")
# "dose, then two days off", "take it one day, skip the next two", "one day yes, two days no"
_DOSE_THEN_OFF = re.compile(
    r"\b(?:dose|take\s+it|take|on|microdose)\s*(?:(?:one|a|1)\s+day)?\s*,?\s*(?:then\s+)?(?:take\s+|have\s+)?"
    r"(?:the\s+next\s+)?(?P<n>\d|one|two|three|four|five|six)\s*(?:days?)?\s*(?:off|no|of\s+rest)\b"
    r"|\b(?:dose|take\s+it|take|on|microdose)\s*(?:(?:one|a|1)\s+day)?\s*,?\s*(?:then\s+)?skip\s+(?:the\s+next\s+)?"
    r"(?P<n3>\d|one|two|three|four|five|six)\b(?!\s*(?:weeks?|months?))"
    r"|\b(?:one|a|1)\s+day\s+(?:yes|on)\s*,?\s*(?P<n2>\d|one|two|three|four|five|six)\s+days?\s+(?:no|off)\b"
)
# "take 1, skip 2", "dose 1 day, rest 2 days", "daily for 4 days then 3 off"
_TAKE_SKIP = re.compile(
    r"\b(?:take|dose|on|daily\s+for|every\s*day\s+for)\s+(?P<a>\d|one|two|three|four|five|six|seven)(?:\s+days?)?\s*,?\s*"
    r"(?:then\s+)?(?:skip|rest|off)?\s*(?P<b>\d|one|two|three|four|five|six|seven)(?:\s+days?)?\s*(?:off|rest)?\b"
    r"(?!\s*(?:weeks?|months?))"
)
# cycles counted in weeks or months: "4 weeks on, 2 weeks off"; months have no fixed number of days
_LONG_CYCLE = re.compile(
    r"\b(?P<a>\d+|a|one|two|three|four|five|six)\s+(?P<ua>weeks?|months?)\s+(?:on|daily)\s*,?\s*(?:then\s+)?(?:and\s+)?"
    r"(?P<b>\d+|a|one|two|three|four|five|six)\s+(?P<ub>weeks?|months?)\s+(?:off|break)\b"
    r"|\b(?:daily|every\s*day)\s+for\s+(?:a|one|\d+|two|three)\s+months?\b|\bmonths?\s+(?:on|off)\b"
)
_SKIP_BETWEEN = re.compile(r"\bskip\s+(?P<n>a|one|two|\d)\s+days?\s+(?:in\s+)?between\b")
_N_ON_WEEKENDS_OFF = re.compile(rf"\b{_N}\s+days?\s+on\s*,?\s*(?:and\s+)?weekends?\s+off\b")
_WEEKS_CYCLE = re.compile(
    rf"\b(?:daily|every\s+day)\s+for\s+{_N}\s+weeks?\s*,?\s*(?:then\s+)?(?P<off>a|{_N[1:-1]})\s+weeks?\s+off\b"
)
_DAY_SPAN = re.compile(
    r"\b(mon|tue|wed|thu|fri|sat|sun)[a-z]*\s*(?:-|to|through|thru|till|until)\s*(mon|tue|wed|thu|fri|sat|sun)[a-z]*\b"
)
_WEEK_ORDER = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


_NO_FIXED_DAYS = (0, 0)  # a cycle in months: `other`, with no days to keep


def _cycle_of(tokens: list[bool]) -> tuple[int, int] | None:
    """(days on, days off) of a written-out sequence such as on, off, off (repeated or not)."""
    if len(tokens) < 2 or not tokens[0]:
        return None
    for period in range(2, len(tokens) + 1):
        unit = tokens[:period]
        if all(tokens[i] == unit[i % period] for i in range(len(tokens))):
            on = next((i for i, t in enumerate(unit) if not t), period)
            if on < period and all(not t for t in unit[on:]):
                return on, period - on
            return None
    return None


def _sequence(text: str) -> tuple[int, int] | None:
    if re.fullmatch(r"\W*on\s+and\s+off\W*", text):  # the idiom: now and then
        return None
    parts = [
        t for t in _TOKEN_SPLIT.split(re.sub(r"\b(?:repeat|and\s+repeat|etc|rinse\s+and\s+repeat)\b", "", text)) if t
    ]
    tokens = []
    for part in parts:
        part = part.strip(" .!")
        if not part:
            continue
        if re.fullmatch(_ON_WORDS, part):
            tokens.append(True)
        elif re.fullmatch(_OFF_WORDS, part):
            tokens.append(False)
        elif re.fullmatch(rf"(?:day\s+)?{_ON_WORDS}(?:\s+day)?", part):
            tokens.append(True)
        elif re.fullmatch(rf"(?:day\s+)?{_OFF_WORDS}(?:\s+day)?", part):
            tokens.append(False)
        else:
            return None
    return _cycle_of(tokens)


def _num(token: str) -> int:
    token = re.sub(r"(?:st|nd|rd|th)$", "", token)
    return int(token) if token.isdigit() else _WORD_NUM.get(token) or _ORDINAL[token]


_ORDINAL_WORDS = ("second", "third", "fourth", "fifth", "sixth", "seventh")


def _ordinal_spelling(text: str) -> str:
    """ "every thrid day" is every third day: a misspelt ordinal is corrected before any number is read, so that
    a fuzzy match never has to span a number."""

    def fix(m: re.Match) -> str:
        word = m.group(0)
        if word in _ORDINAL_WORDS or word in _ORDINAL:
            return word
        best = max(_ORDINAL_WORDS, key=lambda o: fuzz.ratio(word, o))
        return best if fuzz.ratio(word, best) >= 80 else word

    return re.sub(r"(?<=every )[a-z]{5,8}(?= (?:day|morning|evening|night))", fix, text)


def _cycle_from_text(text: str) -> tuple[int, int] | None:
    """An explicit (days_on, days_off) cycle, however it is written."""
    m = _ON_OFF.search(text) or _OFF_ON.search(text)
    if m:
        return _num(m.group(1)), _num(m.group(2))
    m = _WEEKS_CYCLE.search(text)
    if m:
        return 7 * _num(m.group(1)), 7 * (1 if m.group("off") == "a" else _num(m.group("off")))
    m = _LONG_CYCLE.search(text)
    if m:
        if m.group("ua") and m.group("ua").startswith("week") and m.group("ub").startswith("week"):
            a, b = (1 if x in ("a", "one") else _num(x) for x in (m.group("a"), m.group("b")))
            return 7 * a, 7 * b
        return _NO_FIXED_DAYS
    m = _TAKE_SKIP.search(text)
    if m:
        return _num(m.group("a")), _num(m.group("b"))
    m = _N_ON_WEEKENDS_OFF.search(text)
    if m and _num(m.group(1)) == 5:
        return 5, 2
    m = _HOURS.search(text)
    if m:
        hours = int(m.group(1))
        return (1, hours // 24 - 1) if hours >= 24 and hours % 24 == 0 else None
    m = _EVERY_N_DAYS.search(text) or _EVERY_NTH.search(text)
    if m:
        token = next(g for g in m.groups() if g)
        n = _ORDINAL[token] if token in _ORDINAL else _num(token)
        return (1, n - 1) if n >= 1 else None
    m = _SKIP_BETWEEN.search(text)
    if m:
        return 1, 1 if m.group("n") in ("a", "one", "1") else _num(m.group("n"))
    m = _DOSE_THEN_OFF.search(text)
    if m and (m.group("n") or m.group("n2") or m.group("n3")):
        return 1, _num(m.group("n") or m.group("n2") or m.group("n3"))
    m = _DAY_SPAN.search(text)
    if m:
        first, last = _WEEK_ORDER.index(m.group(1)), _WEEK_ORDER.index(m.group(2))
        if first == 0 and last > first:
            return last + 1, 6 - last
    if _WEEKDAY_SPAN.search(text):
        return 5, 2
    return _sequence(text)


def _schedule_from_text(text: str) -> tuple[tuple[int, int] | None, int | None]:
    """Explicit (days_on, days_off) and/or doses per week read from the text (0 per week: a count that is a
    range, such as "2-3 times a week", which names no protocol)."""
    pair = _cycle_from_text(text)
    per_week: int | None = None
    m = _PER_WEEK.search(text)
    if _COUNT_RANGE_PER_WEEK.search(text) or _COUNT_HEDGE.search(text):
        per_week = 0
    elif m:
        per_week = _num(re.match(r"\d+|[a-z]+", next(g for g in m.groups() if g)).group(0))
    elif _PER_DAY.search(text):
        per_week = 7
    elif _WEEKLY_WORD.search(text):
        per_week = 1
    elif _WEEKENDS_ONLY.search(text):
        per_week = 2
    elif pair is None and not _WEEKDAY_SPAN.search(text):
        days = {_DAY_NAMES[d] for d in _DAY_RE.findall(text)}
        if re.search(rf"{_DAY_RE.pattern}\s+or\s+{_DAY_RE.pattern}", text):
            per_week = 0  # "Monday or Thursday": one day or the other
        elif len(days) >= 2 and not re.search(r"\b(?:-|to|through|thru|till|until)\b", text):
            per_week = len(days)
        elif len(days) == 1 and _ONE_WEEKDAY.search(text):
            per_week = 1
    if pair is not None and per_week is not None and pair[0] + pair[1] == 7 and pair[0] != per_week:
        per_week = None  # "5 on 2 off" read as a week: the cycle says it
    return pair, per_week


def _contains(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![a-z0-9']){re.escape(phrase)}(?![a-z0-9'])", text) is not None


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z']+", text)


def _components_in(text: str, table: ProtocolTable) -> set[str]:
    found: set[str] = set()
    words = _words(text)
    grams = words + [" ".join(p) for p in zip(words, words[1:])]
    for comp, spellings in table.components.items():
        if any(_contains(text, s) for s in spellings):
            found.add(comp)
            continue
        long_spellings = [s for s in spellings if len(s) >= table.fuzzy_min_length]
        if any(
            fuzz.ratio(g, s) >= table.fuzzy_threshold
            for g in grams
            if len(g) >= table.fuzzy_min_length
            for s in long_spellings
        ):
            found.add(comp)
    return found


_NO_ANSWER = re.compile(
    r"^(?:n/?a|n\.a\.?|na|none|-+|\?+|\.+|not applicable|no answer|pass|skip(?:ped)?|not sure|unsure|don'?t know"
    r"|(?:i'?d\s+)?(?:prefer|rather)\s+not\s+(?:to\s+)?(?:say|answer|disclose|share(?:\s+that)?)"
    r"|n/?a\s*-\s*prefer not to say)\W*$"
)
# where an answer tells a change, the current part: after "now", "currently", "switched to", "in reality"
_NOW = re.compile(
    r"\b(?:now(?:adays)?|currently|these\s+days|at\s+the\s+moment|right\s+now|at\s+present|in\s+reality"
    r"|in\s+practice|actually|switched\s+to|moved\s+to|changed\s+to|went\s+to|i\s+do\s+the|i\s+do|i\s+just)\b"
)
_PAST_OR_PLAN = re.compile(
    r"\b(?:used\s+to|was|were|did|tried|started(?:\s+with)?|at\s+first|initially|planning|plan\s+to|going\s+to"
    r"|will\s+try|want\s+to|next\s+month|soon|last\s+year|before)\b"
)
_CLAUSE = re.compile(r"\s*(?:[,.;()]|\bbut\b|\bthen\b|\band\s+then\b|\bso\b)\s*")
_NEGATION = re.compile(
    r"\b(?:not|no\s+longer|never|don'?t\s+(?:do|follow|use)|do\s+not\s+(?:do|follow|use)|isn'?t|wasn'?t|definitely\s+not)"
    r"\s+(?:on\s+)?(?:a\s+|the\s+)?(?P<what>[a-z0-9']+(?:[ -][a-z0-9']+){0,3})"
)
_EVERY_DAY_WORDS = r"(?:daily|every\s*day|everyday|each\s+day)"
_EVERY_DAY = (  # an exception's base: every day, or every other day
    rf"(?:{_EVERY_DAY_WORDS}|every\s+single\s+day|every\s+(?:morning|night|evening)|each\s+(?:morning|night)"
    r"|every\s+other\s+day)"
)
_EXCEPT = re.compile(
    rf"\b{_EVERY_DAY}\s*,?\s*(?:\(\s*)?"
    r"(?:except(?:ing)?(?:\s+(?:for|on))?|apart\s+from|other\s+than|but\s+not(?:\s+on)?|but\s+never\s+on|besides"
    r"|excluding|excl\.?|minus|bar|but\s+i\s+take|but\s+off|but\s+skip|but(?=\s+(?:on\s+)?(?:mon|tue|wed|thu|fri|sat"
    r"|sun|weekend))|with|,)\s+(?P<rest>.+)"
    rf"|\b{_EVERY_DAY}\s*,?\s*(?P<rest2>weekends?|(?:mon|tue|wed|thu|fri|sat|sun)\w*(?:\s+(?:and|&)\s+\w+)?)\s+off\b"
)
_INTUITIVE = re.compile(
    r"\b(?:when(?:ever)?\s+(?:i|i'm|im|i\s+am|i've|it)|only\s+when|on\s+days\s+(?:i|when)|depends\s+on|it\s+depends"
    r"|(?:it\s+)?varies|by\s+feel|go\s+by\s+feel|random(?:ly)?|no\s+(?:real|set|fixed|particular|regular)?\s*"
    r"(?:schedule|protocol|pattern|routine|plan)|as[\s-]+needed|as\s+and\s+when|on\s+and\s+off|irregular(?:ly)?)\b"
)


# a dose written into the schedule answer ("I take 0.1 g on Mondays"): its numbers are no schedule
_DOSE_AMOUNT = re.compile(
    r"(?<![\w.])(?:\d+(?:[.,]\d+)?|[.,]\d+|\d+\s*/\s*\d+(?:th)?)\s*(?:g|gr|grams?|mg|ug|mcg|µg|micrograms?|caps?|capsules?"
    r"|tabs?|pills?|drops?|ml|tabs?|squares?)(?![a-z])(?:\s+(?:of\s+)?(?:a\s+)?tab)?"
)
_NOT_QUITE = re.compile(
    r"\b(?:almost|nearly|semi|close\s+to|less\s+than|not\s+quite|non|no|hardly|don'?t\s+\w+|do\s+not\s+\w+|never)"
    r"[\s-]*(?:daily|every\s*day|everyday)\b"
)
_NOT_EVERY_DAY = re.compile(
    rf"\b{_EVERY_DAY_WORDS}\s+(?:or\s+(?:two|2|so|three)|(?:that\s+|when\s+)?i(?:'m|\s+am)?\s+(?!take|dose|do\b)\w+|off\b)"
)
_NO_SCHEDULE = re.compile(
    r"\bnot\s+(?:on|following|with|to)\s+(?:any|a)\s+(?:set\s+|fixed\s+|real\s+|particular\s+)?"
    r"(?:schedule|protocol|routine|plan)\b"
)


_FROM_TO = re.compile(
    r"\b(?:went|gone|going|moved|switched|changed|dropped|reduced|cut|increased|upped|came|stepped)\s+(?:down\s+|up\s+|back\s+)?"
    r"from\s+.+?\s+to\s+(?P<now>.+)"
)
_STRONG_PAST = re.compile(
    r"\b(?:used\s+to|stopped|quit|tried|planning|plan\s+to|going\s+to|want\s+to|will\s+try|thinking\s+(?:of|about)"
    r"|considering|hope\s+to)\b"
)


def _current(text: str) -> str:
    """The part of the answer that tells the schedule followed now: after "went from ... to", the clauses saying
    "now", "currently", "switched to"..., or else every clause that does not tell the past or a plan ("" when
    every clause does: "I stopped doing daily" states no current schedule)."""
    m = _FROM_TO.search(text)
    if m:
        return m.group("now")
    clauses = [c for c in _CLAUSE.split(text) if c.strip()]
    now = [c for c in clauses if _NOW.search(c) and _NOW.sub("", c).strip(" ,.;:-")]
    if now:
        return " , ".join(now)
    kept = [c for c in clauses if not (_PAST_OR_PLAN.search(c) or _STRONG_PAST.search(c))]
    if not kept and any(_STRONG_PAST.search(c) for c in clauses):
        return ""
    return " , ".join(kept) if kept and len(kept) < len(clauses) else text


def _excluded_days(rest: str) -> int | None:
    """Days a week an exception leaves out ("Saturdays" 1, "weekends" 2, "Sat and Sun" 2), or None if unclear."""
    days = {_DAY_NAMES[d] for d in _DAY_RE.findall(rest)}
    if re.search(r"\bweekends?\b", rest):
        days |= {"sat", "sun"}
    return len(days) or None


def _labels(text: str, table: ProtocolTable) -> dict[str, str]:
    """Protocols named in `text` by phrase or name (exact), each with how it was found."""
    found: dict[str, str] = {}
    for proto in table.protocols.values():
        if any(_contains(text, p) for p in proto.phrases + proto.names):
            found.setdefault(proto.name, "phrase")
    return found


def _fuzzy(text: str, table: ProtocolTable) -> dict[str, str]:
    """Typo tolerance for spelling only: names per word, and phrases only where the answer has no number,
    weekday or negation that the fuzzy score would ignore."""
    found: dict[str, str] = {}
    words = [w for w in _words(text) if len(w) >= table.fuzzy_min_length]
    for proto in table.protocols.values():
        names = [n for n in proto.names if len(n) >= table.fuzzy_min_length]
        if any(fuzz.ratio(w, n) >= table.fuzzy_threshold for w in words for n in names):
            found.setdefault(proto.name, "fuzzy_name")
    if found or re.search(r"\d|\b(?:one|two|three|four|five|six|seven|once|twice|not|no|never|except)\b", text):
        return found
    if _DAY_RE.search(text):
        return found
    for proto in table.protocols.values():
        if any(fuzz.ratio(text, p) >= table.fuzzy_threshold for p in proto.phrases if len(p) >= 6):
            found.setdefault(proto.name, "fuzzy_phrase")
    return found


def _match_text(text: str, table: ProtocolTable) -> tuple[str, int | None, int | None, int | None, set[str], str]:
    """(protocol, days_on, days_off, per_week, implied stack components, matched_by) for one free-text answer."""
    if _NO_ANSWER.match(text):
        return UNKNOWN, None, None, None, set(), "missing"
    implied: set[str] = set()
    text = _current(_ordinal_spelling(_DOSE_AMOUNT.sub(" dose ", text)))
    if not text.strip(" ,.;"):
        return "other", None, None, None, implied, "unmatched_text"
    if _NO_SCHEDULE.search(text):
        return "intuitive", None, None, None, implied, "phrase"
    if _NOT_QUITE.search(text):  # "almost every day", "non-daily", "I don't dose daily": not daily, nor anything else
        return "other", None, None, None, implied, "negated"
    if _NOT_EVERY_DAY.search(text):  # "every day or two", "every day I work", "every day off"
        if _INTUITIVE.search(text):
            return "intuitive", None, None, None, implied, "phrase"
        return "other", None, None, None, implied, "unmatched_text"
    text = re.sub(r"\bdaily\s+(?:dose|amount|intake)\b", " ", text)
    negated: set[str] = set()
    for m in _NEGATION.finditer(text):
        what = m.group("what")
        negated |= set(_labels(what, table)) | set(_fuzzy(what.split(",")[0], table))
        pair, per_week = _schedule_from_text(what)
        if pair is not None:
            negated.add(table.schedules.get(pair, "other"))
        if per_week:
            negated.add(table.weekly.get(per_week, "other"))
    exception = _EXCEPT.search(text)
    rest = (exception.group("rest") or exception.group("rest2")) if exception else ""
    excluded = _excluded_days(rest) if exception else None
    m = re.match(r"(\d|one|two|three)\s+days?\s+off\b", rest) if exception else None
    if m:  # "daily with 1 day off a week"
        excluded = _num(m.group(1))
    if exception and excluded is not None:  # "except when I travel" names no day: no change to the schedule
        base_daily = not re.match(r"every\s+other", exception.group(0))
        if not base_daily:
            return "other", None, None, None, implied, "exception"
        if excluded == 2 and re.search(r"\bweekends?\b|\bsat\w*\s+(?:and|&)\s+sun", rest):
            return table.schedules.get((5, 2), "other"), 5, 2, None, implied, "exception"
        per_week = 7 - excluded
        return table.weekly.get(per_week, "other"), None, None, per_week, implied, "exception"

    if re.search(r"\bor\s+every\b", text):  # "every other or every third day": two schedules, either
        return "other", None, None, None, implied, "conflict"
    pair, per_week = _schedule_from_text(text)
    if pair == _NO_FIXED_DAYS:
        return "other", None, None, None, implied, "schedule_pattern"
    found: dict[str, str] = {}
    if pair is not None:
        found.setdefault(table.schedules.get(pair, "other"), "schedule_pattern")
    if per_week:
        found.setdefault(table.weekly.get(per_week, "other"), "weekly_pattern")
    elif per_week == 0:
        found.setdefault("other", "weekly_pattern")
    if not found:
        found = _labels(text, table) or _fuzzy(text, table)
        if _INTUITIVE.search(text) and (not found or set(found) == {"daily"}):
            found = {"intuitive": "phrase"}  # "every day I feel like it": the feeling decides, not the calendar
    else:  # a label beside the schedule must agree with it ("daily (weekdays only)" is every weekday)
        weekdays = pair == (5, 2) and _WEEKDAY_SPAN.search(text)
        for name, how in _labels(text, table).items():
            if name != "intuitive" and not (weekdays and name == "daily"):
                found.setdefault(name, how)
    for name in negated:
        found.pop(name, None) if name != "other" or len(found) > 1 else None
    if negated and not found:
        return "other", None, None, None, implied, "negated"
    if not found:
        return "other", None, None, None, implied, "unmatched_text"
    if len(found) > 1:
        days = pair if pair is not None else (None, None)
        return "other", days[0], days[1], None, implied, "conflict"
    ((proto_name, how),) = found.items()
    proto = table.protocols[proto_name]
    if re.search(r"\bstack(?:ed|ing)?\b", text):
        implied.update(proto.stack_implies)
    if pair is not None:
        return proto_name, pair[0], pair[1], None, implied, how
    if per_week:
        if per_week == 7:
            return proto_name, 1, 0, None, implied, how
        if per_week == 1 and proto_name == "other":
            return proto_name, None, None, 1, implied, how
        return proto_name, proto.days_on, proto.days_off, per_week, implied, how
    return proto_name, proto.days_on, proto.days_off, None, implied, how


def normalise_protocol(coded: str | None, other_text: str | None, table: ProtocolTable | None = None) -> ProtocolResult:
    """Canonical protocol from a coded answer (a canonical name) and/or its free-text "other" answer.

    A canonical code wins over the text (the text then only contributes stack components); `other`/missing codes
    fall back to reading the text. The text is never echoed into the result or any error.
    """
    table = table or default_table()
    code = _norm(coded) if isinstance(coded, str) else None
    text = _norm(other_text) if isinstance(other_text, str) else None
    if code in ("", "-99"):
        code = None
    if text in ("", "-99"):
        text = None
    components = _components_in(text, table) if text else set()
    if code is not None:
        key = code.replace(" ", "_").replace("-", "_")
        if key in table.protocols and key != "other":
            proto = table.protocols[key]
            if text and re.search(r"\bstack(?:ed|ing)?\b", text):
                components.update(proto.stack_implies)
            return ProtocolResult(key, proto.days_on, proto.days_off, tuple(sorted(components)), "code")
    if text is None and code is not None and code != "other":
        text = code  # an uncoded label such as "Fadiman" or "1 on 2 off" in the coded column
        components = _components_in(text, table)
    if text is None:
        if code == "other":
            return ProtocolResult("other", None, None, (), "code")
        return ProtocolResult(UNKNOWN, None, None, (), "missing")
    proto_name, on, off, per_week, implied, how = _match_text(text, table)
    return ProtocolResult(proto_name, on, off, tuple(sorted(components | implied)), how, per_week)


def stack_components_from_codes(
    codes: Iterable[str] | str | None, table: ProtocolTable | None = None
) -> tuple[str, ...]:
    """Canonical stack components from a coded multi-select (names or spellings; "a,b" strings are split).

    Codes naming no component (`none`, `other`, unknown spellings) contribute nothing.
    """
    table = table or default_table()
    if codes is None:
        return ()
    if isinstance(codes, str):
        codes = re.split(r"[,;|]", codes)
    found: set[str] = set()
    for code in codes:
        if not isinstance(code, str):
            continue
        c = _norm(code)
        if c in table.ignored_codes:
            continue
        key = c.replace(" ", "_").replace("-", "_")
        if key in table.components:
            found.add(key)
            continue
        found |= _components_in(c.replace("_", " "), table)
    return tuple(sorted(found))
