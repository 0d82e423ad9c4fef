"""REDCap CSV exports (raw or label), read with the project's data dictionary.

Why the dictionary is required: it is the only place REDCap says which fields are identifiers. Fields flagged
`Identifier?` = y and text fields validated as `email` or `phone*` are withheld here — never yielded, whatever a
study mapping asks — and only their names are exposed (`.withheld_columns`) for reporting. A column the dictionary
does not explain is refused, since nothing tells us it is not an identifier.

What the reader yields:
- checkbox columns `field___code` collapse into one column `field` holding the ticked codes joined by "," in the
  dictionary's choice order (as a Qualtrics multi-select); ticked is `1` (raw) or `Checked` (labels), unticked
  `0`, `Unchecked` or blank; `.names` lists `field`, not the `___` columns;
- `redcap_event_name`, `redcap_repeat_instrument`, `redcap_repeat_instance` (and `redcap_data_access_group`,
  `redcap_survey_identifier` when exported) as they are; repeat rows stay separate rows;
- `<form>_complete` as 0/1/2 (label exports' Incomplete/Unverified/Complete are turned back into codes);
- survey timestamps `<form>_timestamp`, with `[not completed]` as "";
- other values as exported (a label export keeps choice labels; map them in the study mapping).
Label-header exports ("Record ID", "Complete?", "Gym (choice=Monday)") are matched to field names by walking
the dictionary in export order; raw headers are safer where the same label appears on two fields.
`__kind` is always "response", `__finished` True, `__recorded` the first survey timestamp column (or "").
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.readers._text import (
    ColumnInfo,
    TextLayout,
    check_unique,
    iter_text_chunks,
    positions,
    read_head,
    read_records,
    sniff_encoding,
)
from pipelines.readers.errors import ExportReadError

SPECIAL_COLUMNS = {
    "redcap_event_name": "Event Name",
    "redcap_repeat_instrument": "Repeat Instrument",
    "redcap_repeat_instance": "Repeat Instance",
    "redcap_data_access_group": "Data Access Group",
    "redcap_survey_identifier": "Survey Identifier",
}
_DICTIONARY_COLUMNS = {
    "variable / field name": "name",
    "form name": "form",
    "field type": "type",
    "field label": "label",
    "choices, calculations, or slider labels": "choices",
    "text validation type or show slider number": "validation",
    "identifier?": "identifier",
}
_REQUIRED_DICTIONARY = (
    "variable / field name",
    "form name",
    "field type",
    "identifier?",
    "text validation type or show slider number",
    "choices, calculations, or slider labels",
)
# The same dictionary as the API's metadata export (`content=metadata`, CSV) names its columns in snake_case.
_API_DICTIONARY_COLUMNS = {
    "field_name": "variable / field name",
    "form_name": "form name",
    "field_type": "field type",
    "field_label": "field label",
    "select_choices_or_calculations": "choices, calculations, or slider labels",
    "text_validation_type_or_show_slider_number": "text validation type or show slider number",
    "identifier": "identifier?",
}
_COMPLETE_LABELS = {"incomplete": "0", "unverified": "1", "complete": "2"}
_TICKED = {"1", "checked"}
_UNTICKED = {"0", "unchecked", ""}
_TAG = re.compile(r"<[^>]+>")


def _plain(label: str) -> str:
    """A label without HTML tags or runs of whitespace, for display and for matching label headers."""
    return re.sub(r"\s+", " ", _TAG.sub("", label)).strip()


def _norm(label: str) -> str:
    return _plain(label).lower()


def _code_key(code: str) -> str:
    # REDCap lower-cases checkbox codes in column names and replaces characters a name cannot hold.
    return re.sub(r"[^a-z0-9]", "_", code.strip().lower())


@dataclass(frozen=True)
class RedcapField:
    name: str
    form: str
    field_type: str
    label: str
    choices: tuple[tuple[str, str], ...]
    validation: str
    identifier: bool

    @property
    def withheld_reason(self) -> str | None:
        """Why the reader never yields this field, or None."""
        if self.identifier:
            return "REDCap identifier field"
        if self.field_type == "text" and self.validation == "email":
            return "REDCap email field"
        if self.field_type == "text" and self.validation.startswith("phone"):
            return "REDCap phone field"
        return None


@dataclass
class RedcapDictionary:
    """The parts of a REDCap data dictionary the reader needs: fields in order, their forms and choices."""

    file_name: str
    fields: dict[str, RedcapField] = field(default_factory=dict)

    @property
    def record_id(self) -> str:
        return next(iter(self.fields))

    @property
    def forms(self) -> list[str]:
        return list(dict.fromkeys(f.form for f in self.fields.values()))

    @classmethod
    def read(cls, path: Path) -> RedcapDictionary:
        path = Path(path)
        expected = (
            "a REDCap data dictionary CSV (Variable / Field Name, Form Name, Field Type, ..., Identifier?), as "
            "downloaded from the Dictionary page or exported by the API (field_name, form_name, field_type, ...)"
        )
        if not path.is_file():
            raise ExportReadError(path.name, "the REDCap data dictionary does not exist", expected=expected)
        encoding = sniff_encoding(read_head(path), path.name, expected=expected)
        try:
            with path.open(encoding=encoding, newline="") as fh:
                rows = list(csv.reader(fh, strict=True))
        except (csv.Error, UnicodeDecodeError):
            raise ExportReadError(path.name, "the data dictionary is not valid CSV", expected=expected) from None
        if not rows:
            raise ExportReadError(path.name, "is empty", expected=expected)
        header = [h.strip().lower() for h in rows[0]]
        header = [_API_DICTIONARY_COLUMNS.get(h, h) for h in header]
        missing = [h for h in _REQUIRED_DICTIONARY if h not in header]
        if missing:
            raise ExportReadError(
                path.name, f"the data dictionary lacks the columns {missing}", line=1, expected=expected
            )
        at = {key: header.index(h) for h, key in _DICTIONARY_COLUMNS.items() if h in header}
        out = cls(path.name)
        for line, row in enumerate(rows[1:], start=2):
            if not any(c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise ExportReadError(
                    path.name,
                    "a data dictionary row has a different number of fields than its header",
                    line=line,
                    expected=f"{len(header)} fields per row",
                )
            get = {key: row[i].strip() for key, i in at.items()}
            name = get["name"]
            if not name or name in out.fields:
                raise ExportReadError(
                    path.name,
                    "a data dictionary row has an empty or repeated field name",
                    line=line,
                    expected="one row per field",
                )
            choices: list[tuple[str, str]] = []
            if get["type"] in ("checkbox", "radio", "dropdown") and get["choices"]:
                for part in get["choices"].split("|"):
                    code, _, label = part.partition(",")
                    choices.append((code.strip(), label.strip()))
            out.fields[name] = RedcapField(
                name=name,
                form=get["form"],
                field_type=get["type"].lower(),
                label=_plain(get.get("label", "")),
                choices=tuple(choices),
                validation=get["validation"].lower(),
                identifier=get["identifier"].lower() in ("y", "yes", "1"),
            )
        if not out.fields:
            raise ExportReadError(path.name, "the data dictionary lists no fields", expected=expected)
        return out


@dataclass(frozen=True)
class _Out:
    """One yielded column: where it comes from and how its cells are turned into text."""

    name: str
    kind: str  # field | special | complete | timestamp | checkbox
    sources: tuple[tuple[int, str], ...]  # (source position, checkbox code or "")
    question: str


class RedcapReader:
    """Reads one REDCap CSV export with its data dictionary (see the module docstring for what is yielded)."""

    format_name = "redcap"

    def __init__(self, path: Path, *, dictionary_path: Path, chunk_rows: int = 50_000):
        self.path = Path(path)
        self.file_name = self.path.name
        self.chunk_rows = chunk_rows
        self.dictionary = RedcapDictionary.read(dictionary_path)
        expected = "a REDCap CSV export whose first column is the record ID field of its data dictionary"
        self.layout = TextLayout(sniff_encoding(read_head(self.path), self.file_name, expected=expected), ",")
        header = read_records(self.path, self.layout, 1, self.file_name, expected)
        if not header or not any(h.strip() for h in header[0]):
            raise ExportReadError(self.file_name, "has no header row", line=1, expected=expected)
        raw = [h.strip() for h in header[0]]
        self._width = len(raw)
        if raw[0] != self.dictionary.record_id:
            aligned = self._align_labels(raw)
            if aligned is None:
                raise ExportReadError(
                    self.file_name,
                    "the first column is not the record ID field of the data dictionary",
                    line=1,
                    expected=expected,
                )
            raw = aligned
        check_unique(raw, self.file_name, line=1)
        self._plan, self.withheld_columns = self._plan_columns(raw)
        self.columns = [ColumnInfo(o.name, o.question, "") for o in self._plan]
        self.names = [o.name for o in self._plan]
        self.recorded_column = next((o.name for o in self._plan if o.kind == "timestamp"), None)
        self.consumed_columns = (self.recorded_column,) if self.recorded_column else ()

    # --- header ----------------------------------------------------------------------------------------------
    def _expected_sequence(self) -> list[tuple[str, str]]:
        """(raw name, normalised label) in the order REDCap exports columns."""
        d = self.dictionary
        seq = [(d.record_id, _norm(d.fields[d.record_id].label))]
        seq += [(name, label.lower()) for name, label in SPECIAL_COLUMNS.items()]
        for form in d.forms:
            seq.append((f"{form}_timestamp", "survey timestamp"))
            for f in d.fields.values():
                if f.form != form or f.name == d.record_id or f.field_type == "descriptive":
                    continue
                if f.field_type == "checkbox":
                    seq += [
                        (f"{f.name}___{_code_key(code)}", _norm(f"{f.label} (choice={label})"))
                        for code, label in f.choices
                    ]
                else:
                    seq.append((f.name, _norm(f.label)))
            seq.append((f"{form}_complete", "complete?"))
        return seq

    def _align_labels(self, labels: list[str]) -> list[str] | None:
        """Label headers to raw names, walking the dictionary in export order; None if they do not fit."""
        seq = self._expected_sequence()
        out, at = [], 0
        for label in labels:
            want = _norm(label)
            k = next((k for k in range(at, len(seq)) if seq[k][1] == want), None)
            if k is None:
                return None
            out.append(seq[k][0])
            at = k + 1
        return out

    def _plan_columns(self, raw: list[str]) -> tuple[list[_Out], list[str]]:
        d = self.dictionary
        forms = set(d.forms)
        plan: list[_Out] = []
        checkbox_at: dict[str, int] = {}
        withheld: list[str] = []
        unknown: list[int] = []
        for i, name in enumerate(raw):
            base, sep, suffix = name.partition("___")
            if sep and base in d.fields and d.fields[base].field_type == "checkbox":
                f = d.fields[base]
                if f.withheld_reason:
                    if base not in withheld:
                        withheld.append(base)
                    continue
                code = next((c for c, _ in f.choices if _code_key(c) == suffix), None)
                if code is None:
                    unknown.append(i + 1)
                    continue
                if base not in checkbox_at:
                    checkbox_at[base] = len(plan)
                    plan.append(_Out(base, "checkbox", (), f.label))
                j = checkbox_at[base]
                plan[j] = _Out(base, "checkbox", plan[j].sources + ((i, code),), f.label)
            elif name in d.fields and d.fields[name].field_type != "checkbox":
                f = d.fields[name]
                if f.withheld_reason:
                    withheld.append(name)
                    continue
                plan.append(_Out(name, "field", ((i, ""),), f.label))
            elif name in SPECIAL_COLUMNS:
                plan.append(_Out(name, "special", ((i, ""),), SPECIAL_COLUMNS[name]))
            elif name.endswith("_complete") and name[: -len("_complete")] in forms:
                plan.append(_Out(name, "complete", ((i, ""),), "Complete?"))
            elif name.endswith("_timestamp") and name[: -len("_timestamp")] in forms:
                plan.append(_Out(name, "timestamp", ((i, ""),), "Survey Timestamp"))
            else:
                unknown.append(i + 1)
        if unknown:
            raise ExportReadError(
                self.file_name,
                f"{len(unknown)} column(s) are not in the data dictionary (columns {positions(unknown)})",
                line=1,
                expected=f"the data dictionary {d.file_name} of the same project, so identifiers can be withheld",
            )
        return plan, withheld

    def instrument_of(self, name: str) -> str | None:
        """The form (instrument) a yielded column belongs to; None for redcap_* columns; KeyError if unknown."""
        d = self.dictionary
        base = name.partition("___")[0]
        if base in d.fields:
            return d.fields[base].form
        if name in SPECIAL_COLUMNS:
            return None
        for suffix in ("_complete", "_timestamp"):
            if name.endswith(suffix) and name[: -len(suffix)] in d.forms:
                return name[: -len(suffix)]
        raise KeyError(name)

    # --- data ------------------------------------------------------------------------------------------------
    def iter_chunks(self) -> Iterator[pd.DataFrame]:
        """Yield frames of at most `chunk_rows` records; withheld columns never leave this method."""
        for chunk in iter_text_chunks(
            self.path,
            self.layout,
            skip_records=1,
            width=self._width,
            file_name=self.file_name,
            chunk_rows=self.chunk_rows,
        ):
            out: dict[str, pd.Series] = {}
            for o in self._plan:
                if o.kind == "checkbox":
                    out[o.name] = self._collapse(chunk, o)
                    continue
                s = chunk[o.sources[0][0]]
                if o.kind == "complete":
                    s = s.str.strip().str.lower().map(_COMPLETE_LABELS).fillna(s)
                elif o.kind == "timestamp":
                    s = s.mask(s.str.strip().str.lower() == "[not completed]", "")
                out[o.name] = s.astype(str)
            frame = pd.DataFrame(out, index=chunk.index)
            frame["__row"] = chunk["__row"].to_numpy()
            frame["__kind"] = pd.Series("response", index=frame.index, dtype="string")
            frame["__finished"] = True
            frame["__recorded"] = frame[self.recorded_column] if self.recorded_column else ""
            yield frame.reset_index(drop=True)

    def _collapse(self, chunk: pd.DataFrame, o: _Out) -> pd.Series:
        joined = np.full(len(chunk), "", dtype=object)
        for position, code in o.sources:
            cell = chunk[position].str.strip().str.lower()
            ticked = cell.isin(_TICKED).to_numpy()
            bad = ~(ticked | cell.isin(_UNTICKED).to_numpy())
            if bad.any():
                raise ExportReadError(
                    self.file_name,
                    f"checkbox field {o.name} has a cell that is neither ticked nor unticked",
                    line=int(chunk["__row"].to_numpy()[bad.argmax()]),
                    expected="1/0 (raw) or Checked/Unchecked (labels)",
                )
            joined = np.where(ticked, joined + code + ",", joined)
        return pd.Series(joined, index=chunk.index, dtype=object).str.rstrip(",").astype(str)
