"""Per-participant inputs of the outcome statistics, as temp tables of one study (from the restricted warehouse).

- an_measures: every configured score (instrument_scale, e.g. phq9_total, dass21_depression_x2), its possible range
  and, where the instrument declares them, its change criteria (response, remission, improvement);
- an_scores: one row per response and measure with a score, in the cell of that response's answers;
- an_pairs: one row per participant, follow-up wave and measure with a baseline and a follow-up score, in the
  cell of the *baseline* answers (protocol and dose band as reported at baseline);
- an_attrition: one row per participant, measure with a baseline score, and follow-up wave: followed up or not;
- an_doses: one row per response: substance, protocol, wave, normalised dose, dose band and parse status.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.domain.instruments import get_instrument, score_ranges
from pipelines.domain.vocabulary import CANONICAL_UNIT
from schemas.study_config import StudyConfig


@dataclass(frozen=True)
class Measure:
    name: str
    instrument: str
    scale: str
    low: float
    high: float
    response_drop: float | None = None
    remission_max: float | None = None
    improvement_points: float | None = None

    @property
    def span(self) -> float:
        return float(self.high - self.low)


def study_measures(config: StudyConfig) -> list[Measure]:
    """The study's configured instruments' scores, in declaration order."""
    out = []
    for instrument in config.instruments:
        inst = get_instrument(instrument)
        for scale, (lo, hi) in score_ranges(instrument).items():
            criteria = inst.change_criteria if scale == "total" else None
            out.append(
                Measure(
                    f"{instrument}_{scale}",
                    instrument,
                    scale,
                    float(lo),
                    float(hi),
                    *(
                        (criteria.response_drop, criteria.remission_max, criteria.improvement_points)
                        if criteria
                        else ()
                    ),
                )
            )
    return out


def study_waves(conn, config: StudyConfig, study: str) -> list[str]:
    return sorted(
        {w.name for w in config.waves}
        | {
            r[0]
            for r in conn.execute("SELECT DISTINCT wave FROM research.responses WHERE study = ?", [study]).fetchall()
        }
    )


def build_inputs(conn, study: str, config: StudyConfig) -> list[Measure]:
    """Create the an_* temp tables for one study; returns its measures."""
    measures = study_measures(config)
    conn.execute("""CREATE OR REPLACE TEMP TABLE an_measures (measure VARCHAR, instrument VARCHAR, scale VARCHAR,
                    low DOUBLE, high DOUBLE, response_drop DOUBLE, remission_max DOUBLE, improvement_points DOUBLE)""")
    if measures:
        conn.executemany(
            "INSERT INTO an_measures VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (m.name, m.instrument, m.scale, m.low, m.high, m.response_drop, m.remission_max, m.improvement_points)
                for m in measures
            ],
        )
    cell = (
        "coalesce(r.substance, 'unknown') AS substance, coalesce(r.protocol, 'unknown') AS protocol, "
        "coalesce(r.dose_band, 'unknown') AS dose_band"
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE an_scores AS
            SELECT r.participant_id, r.wave, {cell}, r.protocol AS protocol_reported, m.measure,
                   least(greatest(s.score, m.low), m.high) AS score
            FROM research.responses r
            JOIN research.instrument_scores s
              ON s.study = r.study AND s.participant_id = r.participant_id AND s.wave = r.wave
            JOIN an_measures m ON m.instrument = s.instrument AND m.scale = s.scale
            WHERE r.study = ? AND s.score IS NOT NULL""",
        [study],
    )
    baseline = config.baseline_wave
    conn.execute(
        """CREATE OR REPLACE TEMP TABLE an_pairs AS
           SELECT b.participant_id, f.wave, b.substance, b.protocol, b.dose_band, b.measure,
                  b.score AS baseline, f.score AS followup, f.score - b.score AS change,
                  f.protocol_reported IS DISTINCT FROM b.protocol_reported AS changed_protocol,
                  CASE WHEN m.response_drop IS NOT NULL
                       THEN b.score > 0 AND f.score <= b.score * (1 - m.response_drop) END AS response,
                  CASE WHEN m.remission_max IS NOT NULL THEN f.score <= m.remission_max END AS remission,
                  CASE WHEN m.improvement_points IS NOT NULL
                       THEN b.score - f.score >= m.improvement_points END AS improved
           FROM an_scores b
           JOIN an_scores f ON f.participant_id = b.participant_id AND f.measure = b.measure AND f.wave <> b.wave
           JOIN an_measures m ON m.measure = b.measure
           WHERE b.wave = ?""",
        [baseline],
    )
    followups = [w for w in study_waves(conn, config, study) if w != baseline]
    conn.execute("CREATE OR REPLACE TEMP TABLE an_followup_waves (wave VARCHAR)")
    if followups:
        conn.executemany("INSERT INTO an_followup_waves VALUES (?)", [(w,) for w in followups])
    conn.execute(
        """CREATE OR REPLACE TEMP TABLE an_attrition AS
           SELECT b.participant_id, w.wave, b.substance, b.protocol, b.dose_band, b.measure, b.score AS baseline,
                  EXISTS (SELECT 1 FROM an_scores f WHERE f.participant_id = b.participant_id
                          AND f.measure = b.measure AND f.wave = w.wave) AS followed_up
           FROM an_scores b CROSS JOIN an_followup_waves w
           WHERE b.wave = ?""",
        [baseline],
    )
    units = " ".join(f"WHEN '{s}' THEN '{u}'" for s, u in CANONICAL_UNIT.items())
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE an_doses AS
            SELECT r.participant_id, r.wave, {cell}, coalesce(r.dose_status, 'missing') AS dose_status,
                   CASE r.substance {units} END AS unit, r.dose_amount
            FROM research.responses r WHERE r.study = ?""",
        [study],
    )
    return measures


def drop_inputs(conn) -> None:
    for table in ("an_measures", "an_scores", "an_pairs", "an_followup_waves", "an_attrition", "an_doses"):
        conn.execute(f"DROP TABLE IF EXISTS {table}")
