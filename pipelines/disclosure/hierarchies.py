"""Generalisation hierarchies of the quasi-identifiers, declared once.

Each hierarchy lists, from finest to coarsest, SQL expressions over `{x}` (the column). The last level is always
NULL: the value withheld. Gender's middle level depends on the data (rare categories merged), so its expression
takes the list of common categories as `{common}`.
"""

from __future__ import annotations

from dataclasses import dataclass

# Countries as studies label them (case-insensitive) -> world region (UN M49 regions, Americas split in two).
WORLD_REGIONS: dict[str, tuple[str, ...]] = {
    "northern_america": ("united states", "usa", "us", "united states of america", "canada"),
    "latin_america": (
        "mexico",
        "brazil",
        "argentina",
        "chile",
        "colombia",
        "peru",
        "uruguay",
        "costa rica",
        "ecuador",
        "venezuela",
        "guatemala",
        "puerto rico",
    ),
    "europe": (
        "united kingdom",
        "uk",
        "great britain",
        "ireland",
        "germany",
        "netherlands",
        "france",
        "spain",
        "portugal",
        "italy",
        "belgium",
        "luxembourg",
        "switzerland",
        "austria",
        "denmark",
        "sweden",
        "norway",
        "finland",
        "iceland",
        "poland",
        "czech republic",
        "czechia",
        "slovakia",
        "hungary",
        "slovenia",
        "croatia",
        "romania",
        "bulgaria",
        "greece",
        "estonia",
        "latvia",
        "lithuania",
        "ukraine",
        "serbia",
        "russia",
    ),
    "asia": (
        "japan",
        "china",
        "south korea",
        "korea",
        "taiwan",
        "hong kong",
        "singapore",
        "india",
        "thailand",
        "vietnam",
        "malaysia",
        "indonesia",
        "philippines",
        "israel",
        "turkey",
        "united arab emirates",
    ),
    "oceania": ("australia", "new zealand"),
    "africa": ("south africa", "nigeria", "kenya", "egypt", "morocco", "ghana"),
}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in(values) -> str:
    return "(" + ", ".join(_quote(v) for v in values) + ")"


def _region_expression() -> str:
    whens = " ".join(
        f"WHEN lower(trim({{x}})) IN {_in(names)} THEN {_quote(region)}" for region, names in WORLD_REGIONS.items()
    )
    return f"CASE WHEN {{x}} IS NULL THEN NULL {whens} ELSE 'other_region' END"


@dataclass(frozen=True)
class Hierarchy:
    """Levels of one quasi-identifier: SQL over {x}, and a name for each level (for the check's metadata)."""

    levels: tuple[str, ...]
    names: tuple[str, ...]

    @property
    def height(self) -> int:
        return len(self.levels) - 1

    def sql(self, level: int, column: str, *, common: tuple[str, ...] = ()) -> str:
        template = self.levels[level]
        return "(" + template.replace("{common}", _in(common or ("",))).replace("{x}", column) + ")"


WITHHELD = "NULL::VARCHAR"

HIERARCHIES: dict[str, Hierarchy] = {
    "age_band": Hierarchy(
        (
            "{x}",
            "CASE WHEN {x} IN ('18-24', '25-34') THEN '18-34' WHEN {x} IN ('35-44', '45-54') THEN '35-54' "
            "WHEN {x} IN ('55-64', '65+') THEN '55+' END",
            WITHHELD,
        ),
        ("10-year band", "20-year band", "withheld"),
    ),
    "gender": Hierarchy(
        ("{x}", "CASE WHEN {x} IS NULL THEN NULL WHEN {x} IN {common} THEN {x} ELSE 'another_category' END", WITHHELD),
        ("category", "rare categories merged", "withheld"),
    ),
    "country": Hierarchy(("{x}", _region_expression(), WITHHELD), ("country", "world region", "withheld")),
    "substance": Hierarchy(
        ("{x}", "CASE WHEN {x} IN ('lsd', 'lsd_analogue') THEN 'lsd_or_analogue' ELSE {x} END", WITHHELD),
        ("substance", "LSD and analogues merged", "withheld"),
    ),
    "response_quarter": Hierarchy(
        (
            "{x}",
            "CASE WHEN {x} IS NULL THEN NULL ELSE left({x}, 4) || '-H' || "
            "CAST(ceil(CAST(right({x}, 1) AS INTEGER) / 2) AS INTEGER) END",
            "left({x}, 4)",
            WITHHELD,
        ),
        ("quarter", "half-year", "year", "withheld"),
    ),
    "protocol": Hierarchy(
        (
            "{x}",
            "CASE WHEN {x} IN ('fadiman', 'stamets', 'every_other_day', 'twice_weekly', 'daily') THEN 'fixed_schedule' "
            "ELSE {x} END",
            WITHHELD,
        ),
        ("protocol", "fixed schedules merged", "withheld"),
    ),
    "dose_band": Hierarchy(
        ("{x}", "CASE WHEN {x} IN ('very_low', 'standard', 'high_micro') THEN 'microdose' ELSE {x} END", WITHHELD),
        ("band", "microdose bands merged", "withheld"),
    ),
}
