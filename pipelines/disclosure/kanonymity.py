"""k-anonymity for the research tier: choose the least generalisation that leaves few records breaking k, then
withhold the identifiers of those that still do.

The unit is the participant, not the row: a participant's signature is their quasi-identifiers in every wave
(one column per wave and identifier, plus whether the wave is there), so an attacker who knows someone's answers
in several waves still finds at least k participants who match, and every row-level combination is then shared
by at least k rows too.

All work is set-based in DuckDB on `research.responses` of the restricted warehouse, with fixed-size aggregate
states so that it spills beyond the memory limit. The search runs on the table of distinct signatures (bounded
by the identifiers' categories, whatever the study's size); nodes of the generalisation lattice are visited in
order of information loss, and the first loss level with a node that needs at most `max_suppressed_share` of the
records withheld wins (fewest withheld records among equals).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from pipelines.disclosure.hierarchies import HIERARCHIES
from schemas.study_config import DisclosureSettings

COMMON_GENDER_SHARE = 0.05  # gender categories below this share of participants are merged (and below k always)
BATCH_ROWS = 4_000_000  # signatures x lattice nodes evaluated in one query (bounds the search's memory)


@dataclass(frozen=True)
class Generalisation:
    """The chosen lattice node: a level per quasi-identifier, with what it costs."""

    levels: dict[str, int]
    loss: float
    participants_below_k: int
    records_below_k: int

    def describe(self) -> dict[str, str]:
        return {qi: HIERARCHIES[qi].names[level] for qi, level in self.levels.items()}


@dataclass(frozen=True)
class Treatment:
    generalisation: Generalisation
    common_genders: tuple[str, ...]
    records_before: int
    classes_below_k_before: int
    records_below_k_before: int
    sample_unique_before: float


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _pivot(qis: list[str], waves: list[str], value=lambda qi: qi) -> str:
    """A participant's signature as fixed columns (one per wave and identifier, and whether the wave is there),
    aggregated per participant: fixed-size states, so the group-by spills to disk at any size."""
    out = []
    for j, wave in enumerate(waves):
        out.append(f"bool_or(wave = {_q(wave)}) AS present__{j}")
        out += [f"any_value({value(qi)}) FILTER (WHERE wave = {_q(wave)}) AS {qi}__{j}" for qi in qis]
    return ", ".join(out)


def _columns(qis: list[str], waves: list[str], expression=lambda qi, j: f"{qi}__{j}") -> str:
    return ", ".join(
        f"present__{j}, " + ", ".join(f"{expression(qi, j)} AS {qi}__{j}" for qi in qis) for j in range(len(waves))
    )


def signature_key(qis: list[str], waves: list[str]) -> str:
    """One text value per signature (NULL-safe), for grouping and joining participants by class."""
    parts = [f"CAST(present__{j} AS VARCHAR)" for j in range(len(waves))]
    parts += [f"coalesce({qi}__{j}, chr(30))" for j in range(len(waves)) for qi in qis]
    return "concat_ws(chr(31), " + ", ".join(parts) + ")"


def study_waves(conn, study: str) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT wave FROM research.responses WHERE study = ? ORDER BY 1", [study]
        ).fetchall()
    ]


def common_genders(conn, study: str, settings: DisclosureSettings) -> tuple[str, ...]:
    """Gender categories kept at gender's middle level: held by at least k participants and 5 % of them."""
    rows = conn.execute(
        """WITH p AS (SELECT participant_id, any_value(gender) AS gender FROM research.responses WHERE study = ?
                      GROUP BY participant_id)
           SELECT gender FROM p WHERE gender IS NOT NULL GROUP BY gender
           HAVING count(*) >= greatest(?, ? * (SELECT count(*) FROM p)) ORDER BY gender""",
        [study, settings.k, COMMON_GENDER_SHARE],
    ).fetchall()
    return tuple(r[0] for r in rows)


def _signatures(conn, study: str, qis: list[str], waves: list[str]) -> None:
    """dc_sig0: distinct participant signatures at the finest level, with participants and records."""
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE dc_sig0 AS
            SELECT * EXCLUDE (participant_id, records), count(*) AS participants, sum(records) AS records
            FROM (SELECT participant_id, count(*) AS records, {_pivot(qis, waves)}
                  FROM research.responses WHERE study = ? GROUP BY participant_id)
            GROUP BY ALL""",
        [study],
    )


def _evaluate(
    conn, qis: list[str], waves: list[str], levels: dict[str, int], k: int, common: tuple[str, ...]
) -> tuple[int, int, int]:
    """(participants, records, classes) in classes of fewer than k participants, for one lattice node."""
    generalise = lambda qi, j: HIERARCHIES[qi].sql(levels[qi], f"{qi}__{j}", common=common)  # noqa: E731
    row = conn.execute(
        f"""SELECT coalesce(sum(n) FILTER (WHERE n < ?), 0), coalesce(sum(records) FILTER (WHERE n < ?), 0),
                   count(*) FILTER (WHERE n < ?)
            FROM (SELECT {_columns(qis, waves, generalise)}, sum(participants) AS n, sum(records) AS records
                  FROM dc_sig0 GROUP BY ALL)""",
        [k, k, k],
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def _evaluate_many(
    conn, qis: list[str], waves: list[str], nodes: list[dict[str, int]], k: int, common: tuple[str, ...]
) -> list[tuple[int, int]]:
    """(participants, records) in classes below k for each node, in one query over signatures x nodes."""
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE dc_nodes (node INTEGER, " + ", ".join(f"l_{qi} INTEGER" for qi in qis) + ")"
    )
    conn.executemany(
        f"INSERT INTO dc_nodes VALUES (?, {', '.join('?' * len(qis))})",
        [[i, *(node[qi] for qi in qis)] for i, node in enumerate(nodes)],
    )

    def generalise(qi: str, j: int) -> str:
        whens = " ".join(
            f"WHEN {lvl} THEN {HIERARCHIES[qi].sql(lvl, f's.{qi}__{j}', common=common)}"
            for lvl in range(len(HIERARCHIES[qi].levels))
        )
        return f"CASE n.l_{qi} {whens} END"

    columns = ", ".join(
        f"s.present__{j}, " + ", ".join(f"{generalise(qi, j)}" for qi in qis) for j in range(len(waves))
    )
    rows = conn.execute(
        f"""SELECT node, coalesce(sum(n) FILTER (WHERE n < ?), 0), coalesce(sum(records) FILTER (WHERE n < ?), 0)
            FROM (SELECT n.node, {columns}, sum(s.participants) AS n, sum(s.records) AS records
                  FROM dc_sig0 s CROSS JOIN dc_nodes n GROUP BY ALL)
            GROUP BY node""",
        [k, k],
    ).fetchall()
    conn.execute("DROP TABLE dc_nodes")
    found = {node: (int(p), int(r)) for node, p, r in rows}
    return [found[i] for i in range(len(nodes))]


def choose_generalisation(conn, study: str, settings: DisclosureSettings) -> Treatment:
    """Search the lattice of generalisation levels for the study's quasi-identifiers, one loss level at a time."""
    qis = list(settings.quasi_identifiers)
    waves = study_waves(conn, study)
    common = common_genders(conn, study, settings)
    _signatures(conn, study, qis, waves)
    records = conn.execute("SELECT coalesce(sum(records), 0) FROM dc_sig0").fetchone()[0]
    budget = int(settings.max_suppressed_share * records)
    finest = {qi: 0 for qi in qis}
    _, records_small0, classes_small0 = _evaluate(conn, qis, waves, finest, settings.k, common)
    unique = _evaluate(conn, qis, waves, finest, 2, common)[1]

    nodes = [dict(zip(qis, combo)) for combo in itertools.product(*(range(HIERARCHIES[q].height + 1) for q in qis))]
    by_loss: dict[float, list[dict[str, int]]] = {}
    for node in nodes:
        by_loss.setdefault(round(_loss(node), 9), []).append(node)
    signatures = conn.execute("SELECT count(*) FROM dc_sig0").fetchone()[0]
    per_query = max(1, BATCH_ROWS // max(signatures, 1))  # signatures x nodes per query stays bounded
    fallback: Generalisation | None = None
    for loss in sorted(by_loss):
        level = sorted(by_loss[loss], key=lambda node: tuple(node.values()))
        counts = [
            c
            for i in range(0, len(level), per_query)
            for c in _evaluate_many(conn, qis, waves, level[i : i + per_query], settings.k, common)
        ]
        candidates = [Generalisation(node, loss, p, r) for node, (p, r) in zip(level, counts)]
        feasible = [c for c in candidates if c.records_below_k <= budget]
        if feasible:
            chosen = min(feasible, key=lambda c: c.records_below_k)
            break
        best_here = min(candidates, key=lambda c: c.records_below_k)
        if fallback is None or best_here.records_below_k < fallback.records_below_k:
            fallback = best_here  # no node meets the budget (tiny study): fewest withheld records
    else:
        chosen = fallback
    return Treatment(chosen, common, records, classes_small0, records_small0, unique / records if records else 0.0)


# Analysis variables lose more when generalised than demographics do, so the search climbs them last.
WEIGHTS = {"substance": 2.0, "protocol": 2.0, "dose_band": 2.0}


def _loss(node: dict[str, int]) -> float:
    """Information loss of a node: the weighted mean share of each hierarchy climbed (0 finest, 1 all withheld)."""
    total = sum(WEIGHTS.get(qi, 1.0) for qi in node)
    return sum(WEIGHTS.get(qi, 1.0) * level / HIERARCHIES[qi].height for qi, level in node.items()) / total


def generalised_rows(conn, study: str, settings: DisclosureSettings, treatment: Treatment) -> None:
    """dc_rows: each response's generalised quasi-identifiers, `withheld` where its participant still breaks k
    (identifiers withheld), and `kept` false where even withholding cannot reach k (the participant is left out)."""
    qis = list(settings.quasi_identifiers)
    waves = study_waves(conn, study)
    levels = treatment.generalisation.levels
    exprs = ", ".join(f"{HIERARCHIES[qi].sql(levels[qi], qi, common=treatment.common_genders)} AS {qi}" for qi in qis)
    key = signature_key(qis, waves)
    k = settings.k
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE dc_g AS SELECT participant_id, wave, {exprs} "
        "FROM research.responses WHERE study = ?",
        [study],
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE dc_p AS
            SELECT participant_id, {key} AS sig FROM (SELECT participant_id, {_pivot(qis, waves)} FROM dc_g
                                                    GROUP BY participant_id)"""
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE dc_w AS
            SELECT participant_id, {key} AS wsig
            FROM (SELECT participant_id, {_pivot(qis, waves, value=lambda qi: "CAST(NULL AS VARCHAR)")} FROM dc_g
                  GROUP BY participant_id)"""
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE dc_p1 AS
            SELECT p.participant_id, c.n < {k} AS withheld,
                   CASE WHEN c.n < {k} THEN w.wsig ELSE p.sig END AS shown
            FROM dc_p p JOIN (SELECT sig, count(*) AS n FROM dc_p GROUP BY sig) c USING (sig)
            JOIN dc_w w USING (participant_id)"""
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE dc_rows AS
            SELECT g.participant_id, g.wave, p.withheld, c.n >= {k} AS kept,
                   {", ".join(f"CASE WHEN p.withheld THEN NULL ELSE g.{qi} END AS {qi}" for qi in qis)}
            FROM dc_g g JOIN dc_p1 p USING (participant_id)
            JOIN (SELECT shown, count(*) AS n FROM dc_p1 GROUP BY shown) c USING (shown)"""
    )
    for table in ("dc_g", "dc_p", "dc_w", "dc_p1"):
        conn.execute(f"DROP TABLE {table}")


def risk_figures(conn, table: str, study: str, qis: list[str], id_column: str = "participant_id") -> dict:
    """Smallest class (k achieved) in rows and in participants (all their waves), classes, sample-unique share,
    and prosecutor risks, measured on a released table."""
    cols = ", ".join(qis)
    waves = [
        r[0] for r in conn.execute(f"SELECT DISTINCT wave FROM {table} WHERE study = ? ORDER BY 1", [study]).fetchall()
    ]
    rows = conn.execute(
        f"""SELECT count(*), coalesce(sum(n), 0), min(n), coalesce(sum(n) FILTER (WHERE n = 1), 0)
            FROM (SELECT count(*) AS n FROM {table} WHERE study = ? GROUP BY {cols})""",
        [study],
    ).fetchone()
    people = (
        conn.execute(
            f"""SELECT min(n), count(*) FROM (SELECT count(*) AS n FROM (
                SELECT {signature_key(qis, waves)} AS sig FROM (
                    SELECT {_pivot(qis, waves)} FROM {table} WHERE study = ? GROUP BY {id_column}))
                GROUP BY sig)""",
            [study],
        ).fetchone()
        if waves
        else (0, 0)
    )
    classes, records, smallest, unique = rows
    return {
        "records": int(records),
        "classes": int(classes),
        "k_achieved_rows": int(smallest or 0),
        "k_achieved_participants": int(people[0] or 0),
        "sample_unique_share": unique / records if records else 0.0,
        "max_reidentification_risk": 1 / smallest if smallest else 0.0,
        "avg_reidentification_risk": classes / records if records else 0.0,
    }
