"""k-anonymity for the research tier: choose the least generalisation that leaves few records breaking k, then
withhold the identifiers of those that still do.

The unit is the participant, not the row: a participant's signature is the list of their rows' (wave,
quasi-identifiers), so an attacker who knows someone's answers in several waves still finds at least k
participants who match, and every row-level combination is then shared by at least k rows too.

All work is set-based in DuckDB on `research.responses` of the restricted warehouse. The search runs on the table
of distinct signatures (small whatever the study's size); nodes of the generalisation lattice are visited in
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


def _struct(qis: list[str], expressions: dict[str, str]) -> str:
    return "struct_pack(wave := s.wave, " + ", ".join(f"{qi} := {expressions[qi]}" for qi in qis) + ")"


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


def _signatures(conn, study: str, qis: list[str]) -> None:
    """dc_sig0: distinct participant signatures at the finest level, with participants and records."""
    fields = ", ".join(f"{qi} := {qi}" for qi in qis)
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE dc_sig0 AS
            SELECT sig, count(*) AS participants, sum(len(sig)) AS records
            FROM (SELECT participant_id, list(struct_pack(wave := wave, {fields}) ORDER BY wave) AS sig
                  FROM research.responses WHERE study = ? GROUP BY participant_id)
            GROUP BY sig""",
        [study],
    )


def _evaluate(conn, qis: list[str], levels: dict[str, int], k: int, common: tuple[str, ...]) -> tuple[int, int, int]:
    """(participants, records, classes) in classes of fewer than k participants, for one lattice node."""
    exprs = {qi: HIERARCHIES[qi].sql(levels[qi], f"s.{qi}", common=common) for qi in qis}
    row = conn.execute(
        f"""SELECT coalesce(sum(n) FILTER (WHERE n < ?), 0), coalesce(sum(records) FILTER (WHERE n < ?), 0),
                   count(*) FILTER (WHERE n < ?)
            FROM (SELECT list_transform(sig, lambda s: {_struct(qis, exprs)}) AS g,
                         sum(participants) AS n, sum(records) AS records
                  FROM dc_sig0 GROUP BY g)""",
        [k, k, k],
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def _evaluate_many(conn, qis: list[str], nodes: list[dict[str, int]], k: int,
                   common: tuple[str, ...]) -> list[tuple[int, int]]:
    """(participants, records) in classes below k for each node, in one query over signatures x nodes."""
    conn.execute("CREATE OR REPLACE TEMP TABLE dc_nodes (node INTEGER, "
                 + ", ".join(f"l_{qi} INTEGER" for qi in qis) + ")")
    conn.executemany(f"INSERT INTO dc_nodes VALUES (?, {', '.join('?' * len(qis))})",
                     [[i, *(node[qi] for qi in qis)] for i, node in enumerate(nodes)])
    exprs = {}
    for qi in qis:
        levels = HIERARCHIES[qi].levels
        whens = " ".join(f"WHEN {lvl} THEN {HIERARCHIES[qi].sql(lvl, f's.{qi}', common=common)}"
                         for lvl in range(len(levels)))
        exprs[qi] = f"CASE n.l_{qi} {whens} END"
    rows = conn.execute(
        f"""SELECT node, coalesce(sum(n) FILTER (WHERE n < ?), 0), coalesce(sum(records) FILTER (WHERE n < ?), 0)
            FROM (SELECT n.node, list_transform(sig, lambda s: {_struct(qis, exprs)}) AS g,
                         sum(participants) AS n, sum(records) AS records
                  FROM dc_sig0 CROSS JOIN dc_nodes n GROUP BY n.node, g)
            GROUP BY node""",
        [k, k],
    ).fetchall()
    conn.execute("DROP TABLE dc_nodes")
    found = {node: (int(p), int(r)) for node, p, r in rows}
    return [found[i] for i in range(len(nodes))]


def choose_generalisation(conn, study: str, settings: DisclosureSettings) -> Treatment:
    """Search the lattice of generalisation levels for the study's quasi-identifiers, one loss level at a time."""
    qis = list(settings.quasi_identifiers)
    common = common_genders(conn, study, settings)
    _signatures(conn, study, qis)
    records = conn.execute("SELECT coalesce(sum(records), 0) FROM dc_sig0").fetchone()[0]
    budget = int(settings.max_suppressed_share * records)
    finest = {qi: 0 for qi in qis}
    _, records_small0, classes_small0 = _evaluate(conn, qis, finest, settings.k, common)
    unique = _evaluate(conn, qis, finest, 2, common)[1]

    nodes = [dict(zip(qis, combo)) for combo in itertools.product(*(range(HIERARCHIES[q].height + 1) for q in qis))]
    by_loss: dict[float, list[dict[str, int]]] = {}
    for node in nodes:
        by_loss.setdefault(round(_loss(node), 9), []).append(node)
    signatures = conn.execute("SELECT count(*) FROM dc_sig0").fetchone()[0]
    per_query = max(1, BATCH_ROWS // max(signatures, 1))  # signatures x nodes per query stays bounded
    fallback: Generalisation | None = None
    for loss in sorted(by_loss):
        level = sorted(by_loss[loss], key=lambda node: tuple(node.values()))
        counts = [c for i in range(0, len(level), per_query)
                  for c in _evaluate_many(conn, qis, level[i:i + per_query], settings.k, common)]
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
    return Treatment(chosen, common, records, classes_small0, records_small0,
                     unique / records if records else 0.0)


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
    levels = treatment.generalisation.levels
    exprs = ", ".join(f"{HIERARCHIES[qi].sql(levels[qi], qi, common=treatment.common_genders)} AS {qi}" for qi in qis)
    sig = "list(struct_pack(wave := wave, " + ", ".join(f"{qi} := {qi}" for qi in qis) + ") ORDER BY wave)"
    withheld_sig = "list(struct_pack(wave := wave, " + ", ".join(f"{qi} := NULL::VARCHAR" for qi in qis) + ") ORDER BY wave)"
    k = settings.k
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE dc_rows AS
            WITH g AS (SELECT participant_id, wave, {exprs} FROM research.responses WHERE study = ?),
            p AS (SELECT participant_id, {sig} AS sig, {withheld_sig} AS wsig FROM g GROUP BY participant_id),
            p1 AS (SELECT *, count(*) OVER (PARTITION BY sig) < {k} AS withheld FROM p),
            p2 AS (SELECT *, count(*) OVER (PARTITION BY CASE WHEN withheld THEN wsig ELSE sig END) >= {k} AS kept
                   FROM p1)
            SELECT g.participant_id, g.wave, p2.withheld, p2.kept,
                   {', '.join(f'CASE WHEN p2.withheld THEN NULL ELSE g.{qi} END AS {qi}' for qi in qis)}
            FROM g JOIN p2 USING (participant_id)""",
        [study],
    )


def risk_figures(conn, table: str, study: str, qis: list[str], id_column: str = "participant_id") -> dict:
    """Smallest class (k achieved) in rows and in participants (all their waves), classes, sample-unique share,
    and prosecutor risks, measured on a released table."""
    cols = ", ".join(qis)
    fields = ", ".join(f"{qi} := {qi}" for qi in qis)
    rows = conn.execute(
        f"""SELECT count(*), coalesce(sum(n), 0), min(n), coalesce(sum(n) FILTER (WHERE n = 1), 0)
            FROM (SELECT count(*) AS n FROM {table} WHERE study = ? GROUP BY {cols})""",
        [study],
    ).fetchone()
    people = conn.execute(
        f"""SELECT min(n), count(*) FROM (SELECT count(*) AS n FROM (
                SELECT {id_column}, list(struct_pack(wave := wave, {fields}) ORDER BY wave) AS sig
                FROM {table} WHERE study = ? GROUP BY {id_column}) GROUP BY sig)""",
        [study],
    ).fetchone()
    classes, records, smallest, unique = rows
    return {
        "records": int(records), "classes": int(classes),
        "k_achieved_rows": int(smallest or 0), "k_achieved_participants": int(people[0] or 0),
        "sample_unique_share": unique / records if records else 0.0,
        "max_reidentification_risk": 1 / smallest if smallest else 0.0,
        "avg_reidentification_risk": classes / records if records else 0.0,
    }
