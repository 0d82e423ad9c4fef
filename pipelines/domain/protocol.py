"""Dosing protocols: a coded answer plus optional free text to a canonical protocol with explicit days.

Why explicit days and components: sources disagree on labels ("Stamets" is 4/3 or 5/2), so the result keeps
`days_on`, `days_off` and `stack_components` beside the label. The phrase table is configuration
(`protocols.yaml`), not code branches. Unrecognised text is `other`, never a guess; no answer at all is `unknown`.

`matched_by` says how the label was found: ``code``, ``schedule_pattern`` ("1 on 2 off", "every 3rd day",
"M-F"), ``weekly_pattern`` ("twice a week", "Mon and Thu"), ``phrase``, ``fuzzy_name``, ``fuzzy_phrase``,
``conflict`` (several protocols named: `other`), ``unmatched_text`` (`other`), ``missing`` (`unknown`).
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

CANONICAL_PROTOCOLS: tuple[str, ...] = (
    "fadiman",
    "stamets",
    "every_other_day",
    "twice_weekly",
    "daily",
    "intuitive",
    "other",
)
UNKNOWN = "unknown"


@dataclass(frozen=True)
class ProtocolResult:
    """Canonical protocol with explicit schedule; `days_*` are None when the schedule has no fixed cycle."""

    protocol: str
    days_on: int | None
    days_off: int | None
    stack_components: tuple[str, ...]
    matched_by: str


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
    r"|work\s+days?|working\s+days?)\b"
)
_PER_WEEK = re.compile(
    r"\b(\d+|once|twice|one|two|three|four|five|six|seven)\s*(?:x|times?)?\s*(?:a|per|/|each|every)"
    r"\s*(?:week|wk)\b"
)
_WEEKLY_WORD = re.compile(r"\b(?:once\s+a\s+week|weekly|once\s+weekly|every\s+week)\b")
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


def _num(token: str) -> int:
    token = re.sub(r"(?:st|nd|rd|th)$", "", token)
    return int(token) if token.isdigit() else _WORD_NUM.get(token) or _ORDINAL[token]


def _schedule_from_text(text: str) -> tuple[tuple[int, int] | None, int | None]:
    """Explicit (days_on, days_off) and/or doses per week read from the text."""
    pair: tuple[int, int] | None = None
    m = _ON_OFF.search(text)
    if m:
        pair = (_num(m.group(1)), _num(m.group(2)))
    else:
        m = _OFF_ON.search(text)
        if m:
            pair = (_num(m.group(1)), _num(m.group(2)))
        else:
            m = _EVERY_NTH.search(text)
            if m:
                token = m.group(1)
                n = _ORDINAL[token] if token in _ORDINAL else _num(token)
                if n >= 1:
                    pair = (1, n - 1)
            elif _WEEKDAY_SPAN.search(text):
                pair = (5, 2)
    per_week: int | None = None
    m = _PER_WEEK.search(text)
    if m:
        per_week = _num(m.group(1))
    elif _WEEKLY_WORD.search(text):
        per_week = 1
    elif pair is None and not _WEEKDAY_SPAN.search(text):
        days = {_DAY_NAMES[d] for d in _DAY_RE.findall(text)}
        if len(days) >= 2 and not re.search(r"\b(?:-|to|through|thru|till|until)\b", text):
            per_week = len(days)
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


def _match_text(text: str, table: ProtocolTable) -> tuple[str, int | None, int | None, set[str], str]:
    """(protocol, days_on, days_off, implied stack components, matched_by) for one free-text answer."""
    pair, per_week = _schedule_from_text(text)
    found: dict[str, str] = {}
    if pair is not None:
        found.setdefault(table.schedules.get(pair, "other"), "schedule_pattern")
    if per_week is not None:
        found.setdefault(table.weekly.get(per_week, "other"), "weekly_pattern")
    for proto in table.protocols.values():
        if any(_contains(text, p) for p in proto.phrases + proto.names):
            found.setdefault(proto.name, "phrase")
    if not found:
        words = [w for w in _words(text) if len(w) >= table.fuzzy_min_length]
        for proto in table.protocols.values():
            names = [n for n in proto.names if len(n) >= table.fuzzy_min_length]
            if any(fuzz.ratio(w, n) >= table.fuzzy_threshold for w in words for n in names):
                found.setdefault(proto.name, "fuzzy_name")
    if not found:
        for proto in table.protocols.values():
            if any(fuzz.ratio(text, p) >= table.fuzzy_threshold for p in proto.phrases if len(p) >= 6):
                found.setdefault(proto.name, "fuzzy_phrase")
    implied: set[str] = set()
    if not found:
        return "other", None, None, implied, "unmatched_text"
    if len(found) > 1:
        days = pair if pair is not None else (None, None)
        return "other", days[0], days[1], implied, "conflict"
    ((proto_name, how),) = found.items()
    proto = table.protocols[proto_name]
    if re.search(r"\bstack(?:ed|ing)?\b", text):
        implied.update(proto.stack_implies)
    if pair is not None:
        return proto_name, pair[0], pair[1], implied, how
    if per_week == 1 and proto_name == "other":
        return proto_name, 1, 6, implied, how
    return proto_name, proto.days_on, proto.days_off, implied, how


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
    proto_name, on, off, implied, how = _match_text(text, table)
    return ProtocolResult(proto_name, on, off, tuple(sorted(components | implied)), how)


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
