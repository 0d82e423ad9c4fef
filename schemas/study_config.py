"""The study mapping: which source columns and codes become which canonical fields.

It is the pipeline's one allow-list: only what a study configuration maps is ever loaded. It is validated when
loaded, and every error names the YAML file and the key (and the column where one is involved), never a value
from an export.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines.domain.vocabulary import FORMATS, PROTOCOLS, SUBSTANCES

CanonicalField = Literal[
    "age",
    "gender",
    "country",
    "substance",
    "dose_text",
    "dose_amount",
    "dose_unit",
    "protocol",
    "stack_components",
    "medications",
]
# Fields stored as categories must be coded: an un-coded column could carry free text into the warehouse.
CODED_FIELDS = {"gender", "country", "substance", "protocol", "stack_components", "medications"}
MULTI_VALUED_FIELDS = {"stack_components", "medications"}


class StudyConfigError(ValueError):
    """A study configuration that cannot be used; the message names the file, the key and the column.
    `problems` lists them one by one (`check` prints one per line), when there are several."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


def _codes(value: dict | None) -> dict[str, str] | None:
    # YAML reads `1: woman` with an int key; exports are read as text, so compare as text.
    return None if value is None else {str(k).strip(): str(v) for k, v in value.items()}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParticipantKey(_Strict):
    column: str
    normalise: Literal["email", "trim"] = "trim"


class Wave(_Strict):
    """A wave is chosen per file (`file_pattern`) or per row (`values` of the study's `wave_column`)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    file_pattern: str | None = None
    values: list[str] | None = None
    baseline: bool = False

    _norm = field_validator("values", mode="before")(lambda v: None if v is None else [str(x) for x in v])


class RowFilter(_Strict):
    column: str
    keep_codes: list[str]
    reason: str = Field(pattern=r"^[a-z][a-z0-9_]*$")

    _norm = field_validator("keep_codes", mode="before")(lambda v: [str(x) for x in v])


class FieldMapping(_Strict):
    column: str
    codes: dict[str, str] | None = None
    multiple: bool = False
    other_text_column: str | None = None

    _norm = field_validator("codes", mode="before")(_codes)


class InstrumentMapping(_Strict):
    """Source columns of an instrument's items, in questionnaire order, and how their codes map to item values
    (e.g. Qualtrics 1-4 -> PHQ-9 0-3, reversed codings, or text labels, compared case-insensitively)."""

    items: list[str] = Field(min_length=1)
    coding: dict[str, int]

    _norm = field_validator("coding", mode="before")(
        lambda v: {str(k).strip().lower(): int(x) for k, x in v.items()} if isinstance(v, dict) else v
    )


class DoseSettings(_Strict):
    tab_strength_ug: float = Field(default=100.0, gt=0)
    bands: dict[str, dict[str, float]] | None = None


class WithdrawalList(_Strict):
    """A CSV the study's team drops into the landing folder naming participants who withdrew consent: its
    `column` holds the participant key as in the exports (e.g. the email), pseudonymised and never loaded."""

    file_pattern: str
    column: str


QuasiIdentifier = Literal["age_band", "gender", "country", "substance", "response_quarter", "protocol", "dose_band"]


class QualitySettings(_Strict):
    """How much quarantine a file may have: the share of its validated rows (accepted + quarantined; excluded rows
    are not validated) that failed validation. Above `quarantine_warn_share` the rows_valid check warns; above
    `quarantine_error_share` it fails as an error and the file is not loaded (a broken mapping, not a few typos)."""

    quarantine_warn_share: float = Field(default=0.05, ge=0, le=1)
    quarantine_error_share: float = Field(default=0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> QualitySettings:
        if self.quarantine_warn_share > self.quarantine_error_share:
            raise ValueError("quarantine_warn_share must not exceed quarantine_error_share")
        return self


class DisclosureSettings(_Strict):
    """Disclosure control for the research and public tiers (README, "Privacy model"); defaults are the policy."""

    k: int = Field(default=5, ge=2)  # every quasi-identifier combination is shared by >= k participants
    quasi_identifiers: list[QuasiIdentifier] = Field(
        default=["age_band", "gender", "country", "substance", "response_quarter", "protocol", "dose_band"],
        min_length=1,
    )
    max_suppressed_share: float = Field(default=0.05, ge=0, le=1)  # records whose identifiers may be withheld
    min_cell: int = Field(default=11, ge=2)  # no public figure rests on fewer participants
    count_noise_max: int = Field(default=3, ge=1, le=10)  # cell-key noise on counts lies in [-max, +max]
    count_noise_sd: float = Field(default=1.5, gt=0)
    mean_epsilon: float = Field(default=2.0, gt=0)  # Laplace noise on sums: scale = score range / epsilon

    @field_validator("quasi_identifiers")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("each quasi-identifier may be listed once")
        return v


class StudyConfig(_Strict):
    study: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    format: Literal[FORMATS] | None = None  # None: detected from each file's signature
    reader: dict[str, Any] = {}  # reader options (REDCap dictionary_path, generic CSV/XLSX layout)
    participant_key: ParticipantKey
    wave_column: str | None = None
    waves: list[Wave] = Field(min_length=1)
    response_date_column: str | None = None
    study_start: date | None = None  # responses dated earlier are quarantined (date_not_before_study_start)
    date_order: Literal["day_first", "month_first"] | None = None  # for dates like 7/8/2016; else ambiguous = error
    date_format: str | None = None  # one strftime layout for the date column, e.g. "%d.%m.%Y %H:%M"
    unfinished_responses: Literal["exclude", "keep"] = "exclude"
    filters: list[RowFilter] = []
    fields: dict[CanonicalField, FieldMapping]
    instruments: dict[str, InstrumentMapping] = {}
    dose: DoseSettings = DoseSettings()
    disclosure: DisclosureSettings = DisclosureSettings()
    quality: QualitySettings = QualitySettings()
    withdrawal_list: WithdrawalList | None = None
    ignored_columns: list[str] = []

    @field_validator("date_format")
    @classmethod
    def _a_layout(cls, value: str | None) -> str | None:
        if value is not None and not re.search(r"%[dmYyHIMSbBp]", value):
            raise ValueError(
                "a strftime layout of the export's dates, such as '%d.%m.%Y %H:%M' or '%b %d, %Y %I:%M:%S %p'"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> StudyConfig:
        """Every cross-key problem at once, so that a mapping author fixes them in one pass."""
        problems: list[str] = []
        if sum(w.baseline for w in self.waves) != 1:
            problems.append("waves: exactly one wave must be marked `baseline: true`")
        for i, wave in enumerate(self.waves):
            if self.wave_column and not wave.values:
                problems.append(f"waves[{i}]: with `wave_column`, every wave needs `values`")
            if not self.wave_column and not wave.file_pattern:
                problems.append(f"waves[{i}]: needs a `file_pattern` (or set `wave_column` and give `values`)")
        for name, mapping in self.fields.items():
            if name in CODED_FIELDS and not mapping.codes:
                problems.append(
                    f"fields.{name}.codes: required, so that only known categories are loaded, never free text"
                )
            if mapping.multiple and name not in MULTI_VALUED_FIELDS:
                problems.append(f"fields.{name}.multiple: only {sorted(MULTI_VALUED_FIELDS)} hold several answers")
        if "dose_amount" in self.fields and "dose_text" in self.fields:
            problems.append("fields: map either dose_text or dose_amount (+ dose_unit), not both")
        problems += self._instrument_problems()
        problems += self._band_problems()
        if "substance" in self.fields and self.fields["substance"].codes:
            bad = sorted(set(self.fields["substance"].codes.values()) - set(SUBSTANCES))
            if bad:
                problems.append(f"fields.substance.codes: unknown substance {bad}; expected one of {list(SUBSTANCES)}")
        if "protocol" in self.fields and self.fields["protocol"].codes:
            bad = sorted(set(self.fields["protocol"].codes.values()) - set(PROTOCOLS))
            if bad:
                problems.append(f"fields.protocol.codes: unknown protocol {bad}; expected one of {list(PROTOCOLS)}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _instrument_problems(self) -> list[str]:
        from pipelines.domain.instruments import InstrumentError, get_instrument

        problems = []
        for name, mapping in self.instruments.items():
            try:
                declared = get_instrument(name)
            except (InstrumentError, KeyError):
                problems.append(
                    f"instruments.{name}: unknown instrument; declare it in pipelines/domain/instruments.yaml"
                )
                continue
            if len(mapping.items) != declared.items:
                problems.append(
                    f"instruments.{name}.items: {len(mapping.items)} columns given, {declared.label} has "
                    f"{declared.items} items"
                )
            lo, hi = declared.item_range
            bad = sorted({v for v in mapping.coding.values() if not lo <= v <= hi})
            if bad:
                problems.append(f"instruments.{name}.coding: maps to {bad}, outside the item range {lo}-{hi}")
        return problems

    def _band_problems(self) -> list[str]:
        from pipelines.domain.dose_bands import DoseBandsError, coerce_bands

        try:
            coerce_bands(self.dose.bands)
        except DoseBandsError as exc:
            return [f"dose.bands: {exc}"]
        return []

    # --- what the mapping reads -------------------------------------------------------------------------------
    def mapped_columns(self) -> dict[str, str]:
        """Every source column the mapping reads, with the YAML key that reads it (for error messages)."""
        used = {self.participant_key.column: "participant_key.column"}
        if self.response_date_column:
            used[self.response_date_column] = "response_date_column"
        if self.wave_column:
            used.setdefault(self.wave_column, "wave_column")
        for i, f in enumerate(self.filters):
            used.setdefault(f.column, f"filters[{i}].column")
        for name, m in self.fields.items():
            used.setdefault(m.column, f"fields.{name}.column")
            if m.other_text_column:
                used.setdefault(m.other_text_column, f"fields.{name}.other_text_column")
        for name, inst in self.instruments.items():
            for j, item in enumerate(inst.items):
                used.setdefault(item, f"instruments.{name}.items[{j}]")
        return used

    def is_withdrawal_list(self, file_name: str) -> bool:
        return bool(self.withdrawal_list) and fnmatch.fnmatch(
            file_name.lower(), self.withdrawal_list.file_pattern.lower()
        )

    def wave_for(self, file_name: str) -> Wave | None:
        """The wave a landing file belongs to, from the first matching `file_pattern`; None when waves are per row."""
        if self.wave_column:
            return None
        for wave in self.waves:
            if fnmatch.fnmatch(file_name.lower(), wave.file_pattern.lower()):
                return wave
        patterns = ", ".join(w.file_pattern for w in self.waves)
        raise StudyConfigError(
            f"{file_name}: no wave of study {self.study!r} matches this file name; expected one of: {patterns}"
        )

    @property
    def baseline_wave(self) -> str:
        return next(w.name for w in self.waves if w.baseline)

    def wave_by_value(self) -> dict[str, str]:
        """Per-row waves: source value (e.g. a REDCap event name) -> wave name."""
        return {v: w.name for w in self.waves for v in (w.values or [])}


def _location(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validation_problems(exc: ValidationError) -> list[str]:
    """One "key `K`: what is wrong" per problem; the cross-key checks' messages already start with their key."""
    out = []
    for e in exc.errors(include_input=False, include_url=False):
        if e["loc"] == () and e["msg"].startswith("Value error, "):
            for problem in e["msg"].removeprefix("Value error, ").split("\n"):
                key, _, what = problem.partition(": ")
                out.append(f"key `{key}`: {what}")
        else:
            out.append(f"key `{_location(e['loc'])}`: {e['msg']}")
    return out


def load_study(path: Path) -> StudyConfig:
    """Parse and validate one study YAML; errors name the file and the offending key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StudyConfigError(f"{path}: study configuration not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise StudyConfigError(f"{path}: not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise StudyConfigError(f"{path}: expected a mapping of keys at the top level")
    try:
        config = StudyConfig.model_validate(raw)
    except ValidationError as exc:
        problems = tuple(validation_problems(exc))
        raise StudyConfigError(f"{path}: " + "; ".join(problems), problems) from None
    if config.reader.get("dictionary_path"):  # a data dictionary is project metadata, kept beside the YAML
        dictionary = Path(config.reader["dictionary_path"])
        resolved = dictionary if dictionary.is_absolute() else (path.parent / dictionary)
        config = config.model_copy(update={"reader": {**config.reader, "dictionary_path": str(resolved)}})
    if config.study != path.stem:
        raise StudyConfigError(
            f"{path}: key `study` is {config.study!r} but the file is named {path.stem!r}; they must match"
        )
    return config


def load_studies(studies_dir: Path) -> dict[str, StudyConfig]:
    """All study configurations in a folder, keyed by study name."""
    return {p.stem: load_study(p) for p in sorted(studies_dir.glob("*.yaml"))}
