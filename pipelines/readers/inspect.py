"""Profile an unfamiliar export and draft its study mapping, without ever showing a value.

`inspect_export` streams the file through its reader and keeps only aggregates per column: fill counts, how many
values have each shape (integer, decimal, date, email, IP, phone, coordinate, long/multi-word text) and a capped
count of distinct values (hashed in memory, then dropped). From names, question text and those shape counts it
infers a type and flags likely identifiers with the reason. `render_profile` and `draft_mapping_yaml` print only
names, question text (truncated), types, fill rates and reasons: there is no code path from a cell to the output.

A header row is only assumed for a generic file: a headerless export's first record is a respondent's answers,
which the reader takes for names. So header text reaches the profile only through `vet_header_cell` ("header text"
below). A cell that looks like a value (an email, web or IP address, a date or time, a phone or other long number;
in an assumed header also a cell without letters) is shown as its position, `column_<n>`. An assumed header is taken
for data when any cell looks like a value or equals (ignoring case) a value of its own column, or when most cells
are sentences or long text: then every name is `column_<n>`, no header text is kept, and the profile warns that the
file may have no header row. Qualtrics (V1..V10 / ImportId rows) and REDCap (names checked against the data
dictionary) prove their header, so their question text is only checked for value shapes. `ExportProfile` re-checks
its header text when built: a profile holding a value-shaped header cell cannot exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipelines.readers._text import (
    ColumnInfo,
    TextLayout,
    first_line,
    positions,
    read_head,
    read_records,
    sniff_delimiter,
    sniff_encoding,
)
from pipelines.readers.detect import UnknownFormatError, detect_format, lookalike

TYPES = ("empty", "integer codes", "decimal", "date", "text labels", "free text", "withheld")
_DISTINCT_CAP = 1000
_SHAPES = {
    "int": r"-?\d+",
    "num": r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?",
    "date": r"\d{4}[-/]\d{1,2}[-/]\d{1,2}(?:[T ].*)?|\d{1,2}[/.]\d{1,2}[/.](?:\d{4}|\d{2})(?: .*)?",
    "email": r"[^@\s]+(?:@|＠)[^@\s]+\.[A-Za-z]{2,}",
    "ip": r"(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}",
    "phone": r"\+?[\d\s().\-/]*\d{3}[\s().\-/]+[\d\s().\-/]*\d{3,}[\d\s().\-/]*",
    "coord": r"-?\d{1,3}\.\d{5,}",
    # ODK geopoint/geotrace/geoshape: "lat lon alt accuracy", several joined by ";"
    "geo": r"-?\d{1,3}\.\d+ -?\d{1,3}\.\d+(?: -?[\d.]+){0,2}(?:\s*;\s*-?\d{1,3}\.\d+ -?\d{1,3}\.\d+(?: -?[\d.]+){0,2})*;?",
    # a captured photo, audio, video or signature, as ODK and Kobo export them: a file name or its URL
    "media": r"\S*\.(?:jpe?g|png|gif|heic|webp|mp4|mov|3gp|m4a|amr|aac|ogg|wav|mp3)",
}
# (reason, pattern over the normalised name "first_name"), in priority order.
_NAME_RULES = (
    ("email address (name)", r"e_?mail"),
    ("phone number (name)", r"phone|mobile|(?:^|_)fax(?:_|$)|(?:^|_)cell(?:_|$)"),
    ("IP address (name)", r"(?:^|_)ip(?:_|$)|ipaddr|(?:^|_)ip_?address"),
    (
        "coordinates/location (name)",
        r"latitude|longitude|(?:^|_)(?:lat|lng|lon)(?:_|$)|geo_?location|geopoint"
        r"|(?:^|_)gps(?:_|$)|coordinates|altitude|location_(?:accuracy|precision)",
    ),
    (
        "person's name (name)",
        r"(?:first|last|full|given|family|middle|maiden|sur|user|nick|contact|kin|recipient"
        r"|respondent|participant|patient|your)_?name|^name$",
    ),
    ("address/place (name)", r"(?:^|_)(?:address|street|zip|zipcode|postcode|postal|city|town)(?:_|$)"),
    ("date of birth (name)", r"(?:^|_)dob(?:_|$)|birth_?date|date_of_birth|birthday|(?:^|_)born(?:_|$)"),
    (
        "platform response or device ID (name)",
        r"response_?id|respondent_?id|collector_?id|external_?(?:data_?)?reference"
        r"|(?:^|_)token(?:_|$)|uuid|device_?id|imei|sim_?serial|subscriber_?id"
        r"|instance_?id|(?:^|_)id(?:_|$)",
    ),
    (
        "photo, audio, video, signature, barcode or traced shape (name)",
        r"barcode|qr_?code|(?:^|_)(?:image|photo|picture|selfie|audio|video|signature|geotrace|geoshape)(?:_|$)",
    ),
    ("SurveyMonkey custom data: often an email or name passed in the link (name)", r"custom_?data(?:_\d+)?"),
    (
        "browser/device fingerprint or URL (name)",
        r"user_?agent|browser|operating_system|screen_?resolution|refurl"
        r"|referr?er|(?:^|_)url(?:_|$)",
    ),
)
_QUESTION_RULES = (
    ("email address (question)", r"\be-?mail\b"),
    ("phone number (question)", r"\b(?:tele)?phone\b|\bmobile number\b|\bcell number\b"),
    ("IP address (question)", r"\bip[- ]address\b"),
    ("coordinates/location (question)", r"\b(?:latitude|longitude|gps|geolocation|coordinates)\b"),
    ("person's name (question)", r"\b(?:your|first|last|full|given|family|middle|contact)\s+name\b|\bsurname\b"),
    ("address/place (question)", r"\b(?:street|postal|home|mailing)\s+address\b|\bzip\b|\bpost ?code\b"),
    ("date of birth (question)", r"\bdate of birth\b|\bbirth ?date\b|\bbirthday\b"),
    (
        "free text: an 'other, please specify' answer can name a person (question)",
        r"please specify|\bother\b.*\bspecify\b|\bif other\b|\(other\)",
    ),
)
_FREE_TEXT_HINT = re.compile(
    r"(?:^|_)text$|topics|open-ended|please specify|comment|describe|explain|in your own words", re.I
)


def _normal_name(name: str) -> str:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", name))
    return "_".join(t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t)


@dataclass
class _Tally:
    non_blank: int = 0
    shapes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_SHAPES, 0))
    many_words: int = 0
    sentences: int = 0
    max_len: int = 0
    total_len: int = 0
    distinct: set = field(default_factory=set)
    folded: set = field(default_factory=set)  # hashes of casefolded values: is a header cell one of its values?

    def add(self, cells: pd.Series) -> None:
        v = cells.astype(str).str.strip()
        v = v[v != ""]
        if v.empty:
            return
        self.non_blank += len(v)
        date = v.str.fullmatch(_SHAPES["date"])
        for shape, pattern in _SHAPES.items():
            hit = v.str.fullmatch(pattern)
            if shape == "phone":
                hit &= ~date & (v.str.count(r"\d") >= 7)
            self.shapes[shape] += int(hit.sum())
        lengths = v.str.len()
        self.many_words += int((v.str.count(r"\s+") >= 3).sum())
        self.sentences += int((v.str.contains(r"\s") & v.str.contains(r"[.!?]\s*$")).sum())
        self.max_len = max(self.max_len, int(lengths.max()))
        self.total_len += int(lengths.sum())
        if len(self.distinct) < _DISTINCT_CAP:
            self.distinct.update(hash(x) for x in v.unique()[:_DISTINCT_CAP])
        if len(self.folded) < _DISTINCT_CAP:
            self.folded.update(hash(x) for x in v.str.casefold().unique()[:_DISTINCT_CAP])


# --- header text: the only way a header cell reaches the profile -----------------------------------------------
# Formats whose header is proven by the file itself: Qualtrics by its V1..V10 or ImportId rows, REDCap by its data
# dictionary (every name must be a dictionary field). A generic file's header row is only assumed.
PROVEN_HEADER_FORMATS = frozenset({"qualtrics_csv", "qualtrics_tsv", "qualtrics_legacy", "qualtrics_2016", "redcap"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.\[\]/\-]{0,63}")
_PLACEHOLDER = re.compile(r"column_\d+(?:_hidden)*")
_LONGEST_HEADER = 200
# (what the cell looks like, pattern searched anywhere in it); the wording is printed, the cell never is.
_VALUE_LOOKS = (
    ("an email address", re.compile(r"[@＠]")),
    (
        "a web address",
        re.compile(
            r"://|\bwww\.|\w\.(?:com|org|net|edu|gov|info|io|co|uk|de|fr|nl|ch|at|au|ca"
            r"|invalid)\b",
            re.I,
        ),
    ),
    ("a date or time", re.compile(r"(?<![\w.])\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?![\w.])|(?<!\d)\d{1,2}:\d{2}(?!\d)")),
    (
        "an IP address",
        re.compile(
            r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])"
            r"|(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{1,4}(?![\w:])"
        ),
    ),
)
_NUMBER_RUN = re.compile(r"(?<!\w)\+?\d[\d\s().\-/]{5,}\d(?!\w)")
_LETTER = re.compile(r"[^\W\d_]")
_SENTENCE_END = re.compile(r"[.!…]['\"”’)\]]*$")


def _value_look(text: str, *, assumed: bool, role: str) -> str | None:
    """What a header cell looks like if it looks like a respondent's value, else None (constant wording only).

    Any header text: an email, web or IP address, a date or time, a phone or other number of 7+ digits. A cell of a
    header the format does not prove (`assumed`): also one without letters (a number or code)."""
    t = " ".join(text.split())
    if not t:
        return None
    for look, pattern in _VALUE_LOOKS:
        if pattern.search(t):
            return look
    if any(sum(ch.isdigit() for ch in m.group()) >= 7 for m in _NUMBER_RUN.finditer(t)):
        return "a phone number or long number"
    if assumed and not _LETTER.search(t):
        return "a number or code (no letters)"
    return None


def _free_text_look(text: str) -> str | None:
    """A sentence or long text: weak evidence only (question text is often a sentence), never hidden on its own."""
    t = " ".join(text.split())
    if len(t) > _LONGEST_HEADER:
        return "long text"
    if not _IDENTIFIER.fullmatch(t) and len(t.split()) >= 3 and _SENTENCE_END.search(t):
        return "a sentence (free text)"
    return None


def vet_header_cell(
    text: str, position: int, *, role: str = "name", assumed: bool = True, header_is_data: bool = False
) -> tuple[str, str | None]:
    """(what may be shown for a header cell, why it is hidden or None): the one gate for header text.

    When the whole header was taken for data (`header_is_data`) every name is `column_<position>` and every question
    "". Otherwise a cell that looks like a value (`_value_look`) is replaced the same way, and any other text is
    kept: identifier-like names (`Q1`, `RecipientEmail`, `protocol[SQ001]`) and question text ('Duration (in
    seconds)', 'How old are you?') alike, since the header as a whole did not look like data."""
    hidden = "the header row looks like data" if header_is_data else _value_look(text, assumed=assumed, role=role)
    if hidden is None:
        return " ".join(text.split()) if role == "question" else text, None
    return (f"column_{position}" if role == "name" else ""), hidden


def _header_safe(text: str, *, role: str, assumed: bool) -> bool:
    return bool(_PLACEHOLDER.fullmatch(text)) or _value_look(text, assumed=assumed, role=role) is None


@dataclass(frozen=True)
class ColumnProfile:
    """What is known about one column: never a value, only its shape. `name` and `question` are vetted header text."""

    name: str
    question: str
    inferred_type: str
    fill_rate: float | None
    distinct: int | None  # capped at 1000; None for withheld columns
    identifier_reason: str | None
    free_text: bool
    header_hidden: str | None = None  # why the file's header cell is not shown (then `name` is column_<n>)

    @property
    def likely_identifier(self) -> bool:
        return self.identifier_reason is not None


_COLUMN_OPTIONS = ("id_column", "recorded_column", "finished_column")


@dataclass(frozen=True)
class ExportProfile:
    file_name: str
    format_name: str
    rows: int
    kinds: dict[str, int]
    columns: tuple[ColumnProfile, ...]
    withheld: tuple[str, ...]
    reader_options: dict = field(default_factory=dict)
    consumed: tuple[str, ...] = ()  # columns the reader itself reads for __kind/__finished/__recorded
    header_looks_like_data: bool = False
    header_notes: tuple[str, ...] = ()  # constant wording with positions: never a cell

    def __post_init__(self) -> None:
        """Refuse header text that fails the gate: a profile holding a value-shaped header cell cannot be built."""
        assumed = self.format_name not in PROVEN_HEADER_FORMATS
        names = [c.name for c in self.columns] + list(self.withheld) + list(self.consumed)
        names += [str(self.reader_options[k]) for k in _COLUMN_OPTIONS if k in self.reader_options]
        bad = [i for i, n in enumerate(names, start=1) if not _header_safe(n, role="name", assumed=assumed)]
        bad += [
            i
            for i, c in enumerate(self.columns, start=1)
            if not _header_safe(c.question, role="question", assumed=assumed)
        ]
        if self.header_looks_like_data and any(not _PLACEHOLDER.fullmatch(c.name) or c.question for c in self.columns):
            bad.append(0)
        if bad:
            raise ValueError(f"ExportProfile for {self.file_name}: header text that looks like a value (entries {bad})")

    def column(self, name: str) -> ColumnProfile:
        return next(c for c in self.columns if c.name == name)

    @property
    def identifiers(self) -> dict[str, str]:
        return {c.name: c.identifier_reason for c in self.columns if c.identifier_reason}


def suggest_generic_options(path: Path) -> dict:
    """Reader options for a file that looks like LimeSurvey, SurveyMonkey, Google Forms or Kobo (for drafts only)."""
    path = Path(path)
    encoding = sniff_encoding(read_head(path), path.name)
    delimiter = sniff_delimiter(first_line(path, encoding))
    records = read_records(path, TextLayout(encoding, delimiter), 2, path.name, "a delimited export")
    names = [c.strip() for c in records[0]] if records else []
    like = lookalike(names) or ""
    options: dict = {} if delimiter == "," else {"delimiter": delimiter}
    lowered = {n.lower(): n for n in names}
    if "SurveyMonkey" in like:
        options.update(header_rows_to_skip=1, label_row=2)
        for key in ("respondent id", "end date"):
            if key in lowered:
                options["id_column" if key == "respondent id" else "recorded_column"] = lowered[key]
    elif "LimeSurvey" in like:
        options.update(
            id_column=lowered["id"], recorded_column=lowered["submitdate"], finished_column=lowered["submitdate"]
        )
    elif "Google Forms" in like:
        options.update(recorded_column=lowered["timestamp"])
    elif "Kobo" in like:
        for key, option in (("_uuid", "id_column"), ("_submission_time", "recorded_column")):
            if key in lowered:
                options[option] = lowered[key]
    return options


def _open(path: Path, dictionary_path: Path | None, options: Mapping | None, format: str | None):  # noqa: A002
    from pipelines.readers import open_export

    opts = dict(options or {})
    if dictionary_path is not None:
        opts["dictionary_path"] = str(Path(dictionary_path).resolve())
    fmt = format
    if fmt is None:
        try:
            fmt = detect_format(path, options=opts)
        except UnknownFormatError as exc:
            if exc.lookalike is None:
                raise
            opts.update(suggest_generic_options(path))
            fmt = "generic"
    return open_export(path, format=fmt, options=opts), opts


def inspect_export(
    path: Path, *, dictionary_path: Path | None = None, options: Mapping | None = None, format: str | None = None
) -> ExportProfile:  # noqa: A002 - the mapping's key
    """Profile an export through its reader (REDCap needs `dictionary_path`); values are counted, never kept."""
    path = Path(path)
    reader, opts = _open(path, dictionary_path, options, format)
    tallies = {name: _Tally() for name in reader.names}
    kinds = {"response": 0, "preview": 0, "test": 0}
    rows = 0
    for chunk in reader.iter_chunks():
        rows += len(chunk)
        for kind, n in chunk["__kind"].value_counts().items():
            kind = str(kind) if str(kind) in kinds else "other"  # the reader's vocabulary only, never a cell
            kinds[kind] = kinds.get(kind, 0) + int(n)
        for name in reader.names:
            tallies[name].add(chunk[name])
        del chunk
    header = _vet_header(reader, tallies)
    fields = getattr(reader, "dictionary", None)
    columns = [
        _profile_column(info, i, tallies[info.name], rows, fields, header)
        for i, info in enumerate(reader.columns, start=1)
    ]
    withheld = []
    for name in getattr(reader, "withheld_columns", ()):
        shown, hidden = header.vet(name, len(columns) + 1)
        reason = fields.fields[name].withheld_reason if fields else "withheld by the reader"
        question = header.vet(fields.fields[name].label if fields else "", len(columns) + 1, role="question")[0]
        columns.append(
            ColumnProfile(shown, question, "withheld", None, None, f"{reason} (withheld by the reader)", False, hidden)
        )
        withheld.append(shown)
    if "dictionary_path" in opts:
        opts["dictionary_path"] = Path(opts["dictionary_path"]).name
    for option in _COLUMN_OPTIONS:
        if option in opts:
            opts[option] = header.shown.get(opts[option], "column_hidden")
    consumed = tuple(header.shown[n] for n in getattr(reader, "consumed_columns", ()) if n in header.shown)
    return ExportProfile(
        path.name,
        reader.format_name,
        rows,
        kinds,
        tuple(columns),
        tuple(withheld),
        opts,
        consumed,
        header.is_data,
        header.notes,
    )


@dataclass
class _Header:
    """The vetted header: what may be shown for each reader name, and whether the header row looks like data."""

    assumed: bool
    is_data: bool
    shown: dict[str, str]  # reader name -> vetted name
    hidden: dict[str, str]  # reader name -> why its header cell is hidden
    notes: tuple[str, ...]

    def vet(self, text: str, position: int, *, role: str = "name") -> tuple[str, str | None]:
        return vet_header_cell(text, position, role=role, assumed=self.assumed, header_is_data=self.is_data)


def _vet_header(reader, tallies: dict[str, _Tally]) -> _Header:
    """Decide whether an assumed header row looks like data, then vet every name through `vet_header_cell`.

    Evidence, for a header the format does not prove: a cell that looks like a value (`_value_look`), or a cell
    equal (ignoring case) to a value of its own column: the first record is then one more respondent."""
    assumed = reader.format_name not in PROVEN_HEADER_FORMATS
    evidence: dict[str, list[int]] = {}
    weak: dict[str, list[int]] = {}
    if assumed:
        for i, info in enumerate(reader.columns, start=1):
            look = _value_look(info.name, assumed=True, role="name")
            if look is None and hash(info.name.strip().casefold()) in tallies[info.name].folded:
                look = "one of the values below it"
            if look is not None:
                evidence.setdefault(look, []).append(i)
            elif (free := _free_text_look(info.name)) is not None:
                weak.setdefault(free, []).append(i)
    filled = sum(bool(c.name.strip()) for c in reader.columns)
    n_weak = sum(len(v) for v in weak.values())
    if n_weak >= 2 and 2 * n_weak >= filled:  # sentences in most cells: answers, not questions
        evidence.update(weak)
    is_data = bool(evidence)
    shown: dict[str, str] = {}
    hidden: dict[str, str] = {}
    taken = set() if is_data else {c.name for c in reader.columns}
    for i, info in enumerate(reader.columns, start=1):
        name, why = vet_header_cell(info.name, i, assumed=assumed, header_is_data=is_data)
        if why is not None:
            while name in taken:
                name += "_hidden"
            hidden[info.name] = why
        taken.add(name)
        shown[info.name] = name
    notes: list[str] = []
    if is_data:
        found = "; ".join(f"{look} at column(s) {positions(cols)}" for look, cols in evidence.items())
        notes += [
            f"WARNING: the header row looks like data ({found}).",
            "This file may have no header row: its first record would be a respondent's answers, read as",
            "names and left out of the counts. Every column is shown by position (column_<n>), no header text.",
            "The generic reader always takes names from a record (reader options names_row, for preamble",
            "records above the names, and header_rows_to_skip, for header records below them); it has no",
            "option for a file without names: export it again with its header row, or add one, before mapping.",
        ]
    elif hidden:
        cols = [i for i, info in enumerate(reader.columns, start=1) if info.name in hidden]
        notes.append(f"Header cell(s) at column(s) {positions(cols)} look like a value and are shown by position.")
    return _Header(assumed, is_data, shown, hidden, tuple(notes))


def _profile_column(info, position: int, t: _Tally, rows: int, dictionary, header: _Header) -> ColumnProfile:
    name, hidden = header.shown[info.name], header.hidden.get(info.name)
    question = header.vet(info.question or "", position, role="question")[0]
    if header.is_data:  # the "names" are a respondent's answers: infer from the values alone
        info = ColumnInfo(name, "", "")
    nb = t.non_blank
    distinct = len(t.distinct)
    if nb == 0:
        kind = "empty"
    elif t.shapes["int"] == nb:
        kind = "integer codes"
    elif t.shapes["num"] == nb:
        kind = "decimal"
    elif t.shapes["date"] == nb:
        kind = "date"
    else:
        wordy = t.many_words / nb >= 0.2 or t.max_len >= 60 or t.sentences / nb >= 0.5
        varied = distinct > 20 and distinct / nb > 0.5 and t.total_len / nb > 10
        kind = "free text" if wordy or varied else "text labels"
    hinted = bool(
        _FREE_TEXT_HINT.search(info.name)
        or _FREE_TEXT_HINT.search(info.import_id or "")
        or (info.question and _FREE_TEXT_HINT.search(info.question))
    )
    rc = dictionary.fields.get(info.name) if dictionary is not None else None
    if rc is not None and rc.field_type == "notes":
        hinted = True
    free_text = kind == "free text" or (hinted and kind in ("free text", "text labels", "empty"))
    reason = _identifier_reason(info, t, kind)
    if rc is not None and rc.field_type == "file":  # the dictionary knows better than the values' shape
        reason = "file upload (REDCap): may be a photo or document"
    if reason is None and free_text:
        reason = "free text" + (" (values)" if kind == "free text" else " (name or question)")
    fill = nb / rows if rows else 0.0
    return ColumnProfile(name, question, kind, fill, distinct, reason, free_text, hidden)


def _identifier_reason(info, t: _Tally, kind: str) -> str | None:
    name = _normal_name(info.name)
    if name == "redcap_survey_identifier":
        return "REDCap survey identifier: the name or email given when the survey was sent (name)"
    if re.search(r"(?:^|_)other_?text$|_other$|_\d+_text$", name):
        return "free text: an 'other, please specify' answer can name a person (name)"
    if not name.startswith("redcap_"):
        for reason, pattern in _NAME_RULES:
            if re.search(pattern, name):
                return reason
    question = (info.question or "").lower()
    if question and question != info.name.lower():
        for reason, pattern in _QUESTION_RULES:
            if re.search(pattern, question):
                return reason
    nb = t.non_blank
    if nb:
        if t.shapes["email"] / nb >= 0.3:
            return "email address (values shaped like one)"
        if t.shapes["ip"] / nb >= 0.5 and kind != "decimal":
            return "IP address (values shaped like one)"
        if t.shapes["phone"] / nb >= 0.5:
            return "phone number (values shaped like one)"
        if t.shapes["coord"] / nb >= 0.8:
            return "coordinates (decimals with 5+ places)"
        if t.shapes["geo"] / nb >= 0.5:
            return "coordinates (a GPS point, trace or shape)"
        if t.shapes["media"] / nb >= 0.5:
            return "a captured photo, audio, video or signature (file names)"
    if kind == "date":
        return "exact date/time (keep only as an interval)"
    return None


# --- output --------------------------------------------------------------------------------------------------
def _short(text: str, width: int = 60) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def render_profile(profile: ExportProfile) -> str:
    """A terminal table: names, types, fill rates, identifier reasons and truncated question text. No values."""
    kinds = ", ".join(f"{k} {n}" for k, n in profile.kinds.items())
    lines = [
        f"{profile.file_name}: format {profile.format_name}, {profile.rows} row(s) ({kinds}), "
        f"{len(profile.columns)} column(s), {len(profile.identifiers)} likely identifier(s)"
    ]
    lines += list(profile.header_notes)
    if profile.reader_options:
        lines.append("reader options: " + ", ".join(f"{k}={v!r}" for k, v in profile.reader_options.items()))
    wname = min(40, max([len("column")] + [len(c.name) for c in profile.columns]))
    header = f"{'column':<{wname}}  {'type':<13}  {'fill':>5}  {'identifier?':<46}  question"
    lines += [header, "-" * len(header)]
    for c in profile.columns:
        fill = "  -  " if c.fill_rate is None else f"{c.fill_rate:>5.0%}"
        lines.append(
            f"{_short(c.name, wname):<{wname}}  {c.inferred_type:<13}  {fill}  "
            f"{_short(c.identifier_reason or '', 46):<46}  {_question_cell(profile, c)}"
        )
    return "\n".join(lines) + "\n"


def _question_cell(profile: ExportProfile, c: ColumnProfile) -> str:
    if profile.header_looks_like_data:
        return "(header row looks like data: hidden)"
    if c.header_hidden:
        return _short(f"(header hidden: looks like {c.header_hidden})", 50)
    return _short(c.question, 50)


_YAML_WORDS = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"}


def _yaml_str(text: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


def _comment(text: str) -> str:
    return _short(text, 70).replace("\n", " ")


_CANONICAL_HINTS = (
    ("age", r"\bage\b|how old"),
    ("gender", r"gender|\bsex\b"),
    ("country", r"country|where do you live"),
    ("substance", r"substance|psilocybin|\blsd\b|mushroom"),
    ("dose_text", r"\bdose\b|\bdosage\b|how much"),
    ("protocol", r"protocol|schedule|fadiman|stamets"),
    ("stack_components", r"\bstack|lion.?s mane|niacin"),
    ("medications", r"medication|\bmeds\b|antidepressant|ssri"),
)


def _participant_key(profile: ExportProfile) -> tuple[str | None, str, str]:
    """(column, normalise, why) for the draft; a guess to review, never authoritative."""
    cols = {c.name: c for c in profile.columns if c.inferred_type != "withheld"}
    filled = lambda n: n in cols and (cols[n].fill_rate or 0) > 0  # noqa: E731
    if profile.format_name == "redcap":
        first = profile.columns[0].name
        return first, "trim", "the REDCap record ID (first column)"
    for name in ("RecipientEmail", "EmailAddress"):
        if filled(name):
            return name, "email", "the contact-list email links waves (pseudonymised, never loaded)"
    for name in ("ExternalReference", "ExternalDataReference"):
        if filled(name):
            return name, "trim", "the external reference set by the panel or contact list"
    if profile.reader_options.get("id_column"):
        name = profile.reader_options["id_column"]
        return name, "trim", "the reader's id_column: one key per response, so waves will not link"
    emails = [
        c.name
        for c in cols.values()
        if c.identifier_reason and c.identifier_reason.startswith("email") and filled(c.name)
    ]
    if emails:
        return emails[0], "email", "an email column: links waves (pseudonymised, never loaded)"
    for name in ("ResponseId", "ResponseID"):
        if name in cols:
            return name, "trim", "one key per response: waves will NOT link; prefer a contact-list field"
    return (
        None,
        "trim",
        "TODO: no column here is the same person in every wave. Name one that is (an email or a study ID the "
        "survey asks for, a panel's external reference); with none, add such a question to the survey, or map a "
        "per-response ID knowing that waves will not link. `check` refuses this draft until a column is named",
    )


def _response_date(profile: ExportProfile) -> tuple[str | None, str]:
    names = [c.name for c in profile.columns]
    for name in ("RecordedDate", "EndDate"):
        if name in names:
            return name, "Qualtrics' recorded date"
    if profile.reader_options.get("recorded_column"):
        return profile.reader_options["recorded_column"], "the reader's recorded_column"
    stamp = next((n for n in names if n.endswith("_timestamp")), None)
    if stamp:
        return stamp, "the first REDCap survey timestamp"
    date = next((c.name for c in profile.columns if c.inferred_type == "date"), None)
    return date, (
        "the first date column: check it is the response date" if date else "no date column found: choose one"
    )


_METADATA = re.compile(
    r"^(?:Progress|Duration \(in seconds\)|UserLanguage|ResponseSet|DistributionChannel|Status|Finished"
    r"|redcap_repeat_instrument|redcap_repeat_instance|redcap_data_access_group|redcap_survey_identifier"
    r"|\w+_complete|\w+_timestamp)$"
)


def _is_metadata(name: str) -> bool:
    return bool(_METADATA.match(name))


def _hidden_note(profile: ExportProfile, c: ColumnProfile) -> str:
    if profile.header_looks_like_data or not c.header_hidden:
        return ""
    return f" (header hidden: looks like {c.header_hidden}; write the file's name here)"


def draft_mapping_yaml(profile: ExportProfile, study_name: str) -> str:
    """A draft study mapping to review: format, reader options, a guessed key, ignored identifiers, field hints."""
    key, normalise, key_why = _participant_key(profile)
    date, date_why = _response_date(profile)
    out = [
        f"# DRAFT study mapping for {_comment(profile.file_name)} (format {profile.format_name}), made by inspect_export.",
        "# Every line is a guess from column names, question text and value shapes: review all of it.",
        f"study: {_yaml_str(study_name)}",
        f"title: {json.dumps(study_name.replace('_', ' ').capitalize())}   # TODO: the study's title",
        f"format: {profile.format_name}",
    ]
    out[2:2] = [f"# {note}" for note in profile.header_notes]
    if profile.reader_options:
        out.append("reader:")
        for k, v in profile.reader_options.items():
            out.append(f"  {k}: {json.dumps(v, ensure_ascii=False) if isinstance(v, str) else v}")
    out += [
        "",
        "participant_key:",
        f"  column: {_yaml_str(key) if key else 'null'}   # {key_why}",
        f"  normalise: {normalise}",
        "",
        "waves:",
        "  - name: baseline",
        '    file_pattern: "*"   # TODO: one entry per wave',
        "    baseline: true",
        "",
        f"response_date_column: {_yaml_str(date) if date else 'null'}   # {date_why}",
        "unfinished_responses: exclude",
        "",
    ]
    if "redcap_event_name" in {c.name for c in profile.columns}:
        out.append("# redcap_event_name holds the REDCap event: one wave per event (see waves above).")
    if profile.withheld:
        out.append("# Withheld by the reader and never loaded whatever this file says: " + ", ".join(profile.withheld))
    out.append("ignored_columns:")
    used = {key, date} | set(profile.consumed)
    ignored = [
        c for c in profile.columns if c.identifier_reason and c.name not in used and c.inferred_type != "withheld"
    ]
    for c in ignored:
        out.append(f"  - {_yaml_str(c.name)}   # likely identifier: {c.identifier_reason}{_hidden_note(profile, c)}")
    metadata = [c for c in profile.columns if not c.identifier_reason and c.name not in used and _is_metadata(c.name)]
    for c in metadata:
        out.append(f"  - {_yaml_str(c.name)}   # platform metadata")
    if not ignored and not metadata:
        out[-1] = "ignored_columns: []"
    coded = [
        c
        for c in profile.columns
        if c.identifier_reason is None
        and c.name not in used
        and c not in metadata
        and c.inferred_type in ("integer codes", "text labels", "decimal")
    ]
    out += [
        "",
        "# fields: suggested from coded columns; uncomment, pick the canonical name and add `codes:`.",
        "# fields:",
    ]
    for c in coded:
        canonical = next((n for n, p in _CANONICAL_HINTS if re.search(p, f"{c.name} {c.question}", re.I)), "FIELD")
        out.append(f"#   {canonical}:")
        question = f": {_comment(c.question)}" if c.question else ""
        out.append(
            f"#     column: {_yaml_str(c.name)}   # {c.inferred_type}, {c.fill_rate:.0%} filled{question}"
            f"{_hidden_note(profile, c)}"
        )
    return "\n".join(out) + "\n"
