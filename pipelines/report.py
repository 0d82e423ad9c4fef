"""The visual report: a static HTML page with embedded charts, and PNGs of the key charts, drawn from the public
tier file only (public_tier.duckdb), so it can show nothing the public release does not.

Charts (matplotlib, offline): mean change in PHQ-9 and GAD-7 from baseline with 95 % CIs by protocol and by dose
band; sample sizes and attrition; dose distributions. A withheld cell is drawn as a grey "withheld" label on its
row, never as a zero.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import matplotlib

matplotlib.use("Agg")  # no display, no browser: renders offline
import matplotlib.pyplot as plt  # noqa: E402

WITHHELD = "withheld (fewer than 11, or none)"
CHANGE_MEASURES = {"phq9_total": "PHQ-9", "gad7_total": "GAD-7"}
MAIN_CHART = "change_from_baseline.png"


@dataclass
class Report:
    html: Path
    images: list[Path]
    main_image: Path


def _substances(conn) -> list[str]:
    """Substances with at least one published outcome cell (the rest would be rows of withheld labels only)."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT substance FROM public.outcomes WHERE NOT suppressed ORDER BY 1"
        ).fetchall()
    ]


def _label(substance: str, value: str) -> str:
    return f"{substance.replace('_', ' ')} · {value.replace('_', ' ')}"


def _change_chart(conn, path: Path, substances: list[str]) -> None:
    waves = [r[0] for r in conn.execute("SELECT DISTINCT wave FROM public.change_from_baseline ORDER BY 1").fetchall()]
    wave = waves[0] if waves else None
    panels = [(m, dim) for m in CHANGE_MEASURES for dim in ("protocol", "dose_band")]
    rows_per_panel = []
    for measure, dim in panels:
        other = "dose_band" if dim == "protocol" else "protocol"
        rows = conn.execute(
            f"""SELECT substance, {dim}, mean_change, ci_low, ci_high, n_pairs, suppressed
                FROM public.change_from_baseline
                WHERE measure = ? AND wave = ? AND {other} = 'all' AND {dim} <> 'all'
                  AND substance IN (SELECT unnest(?)) ORDER BY substance, {dim}""",
            [measure, wave, substances],
        ).fetchall()
        rows_per_panel.append(rows)
    height = max(4.0, 0.32 * max((len(r) for r in rows_per_panel), default=1) + 1.6)
    fig, axes = plt.subplots(2, 2, figsize=(15, 2 * height), constrained_layout=True)
    for ax, (measure, dim), rows in zip(axes.flat, panels, rows_per_panel):
        labels = [_label(s, v) for s, v, *_ in rows]
        ys = list(range(len(rows)))[::-1]
        published = [(y, r) for y, r in zip(ys, rows) if not r[6]]
        if published:
            ax.errorbar(
                [r[2] for _, r in published],
                [y for y, _ in published],
                xerr=[[r[2] - r[3] for _, r in published], [r[4] - r[2] for _, r in published]],
                fmt="o",
                color="#1f5f8b",
                ecolor="#1f5f8b",
                capsize=3,
                label="mean change, 95 % CI",
            )
            for y, r in published:
                ax.annotate(f"n={r[5]}", (r[4], y), xytext=(4, -3), textcoords="offset points", fontsize=8)
        ax.axvline(0, color="#555555", linewidth=0.8)
        lo = min([r[3] for _, r in published], default=-5)
        for y, r in zip(ys, rows):
            if r[6]:
                ax.text(lo, y, WITHHELD, color="#888888", fontsize=8, va="center", style="italic")
        ax.set_yticks(ys, labels, fontsize=8)
        ax.set_ylim(-0.8, len(rows) - 0.2)
        ax.set_xlabel(f"change in {CHANGE_MEASURES[measure]} total (follow-up − baseline; negative = fewer symptoms)")
        ax.set_title(
            f"{CHANGE_MEASURES[measure]}: change from baseline by {dim.replace('_', ' ')} ({wave})", fontsize=11
        )
        ax.margins(x=0.25)
    fig.suptitle(
        "Within-participant change from baseline, public tier (perturbed; withheld cells labelled)", fontsize=12
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _attrition_chart(conn, path: Path, substances: list[str]) -> None:
    rows = conn.execute(
        """SELECT substance, protocol, n_followed_up, n_lost, suppressed, n_baseline FROM public.attrition
           WHERE measure = 'phq9_total' AND dose_band = 'all' AND protocol <> 'all'
             AND substance IN (SELECT unnest(?)) ORDER BY substance, protocol""",
        [substances],
    ).fetchall()
    fig, ax = plt.subplots(figsize=(11, max(4.0, 0.32 * len(rows) + 1.5)), constrained_layout=True)
    ys = list(range(len(rows)))[::-1]
    for y, (_substance, _protocol, followed, lost, suppressed, n_baseline) in zip(ys, rows):
        if suppressed:
            note = WITHHELD if n_baseline is None else f"baseline n={n_baseline}; follow-up split {WITHHELD}"
            ax.text(0.5, y, note, color="#888888", fontsize=8, va="center", style="italic")
            continue
        ax.barh(y, followed, color="#1f5f8b")
        ax.barh(y, lost, left=followed, color="#e39b3a")
        ax.text(followed + lost + 0.5, y, f"{followed} followed up, {lost} lost", fontsize=8, va="center")
    ax.set_yticks(ys, [_label(s, p) for s, p, *_ in rows], fontsize=8)
    ax.set_ylim(-0.8, len(rows) - 0.2)
    ax.set_xlabel("participants with a baseline PHQ-9 (perturbed counts)")
    ax.set_title("Sample sizes and attrition to follow-up, by protocol", fontsize=11)
    from matplotlib.patches import Patch

    ax.legend(
        handles=[Patch(color="#1f5f8b", label="followed up"), Patch(color="#e39b3a", label="lost to follow-up")],
        loc="lower right",
        fontsize=8,
    )
    ax.margins(x=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _dose_chart(conn, path: Path) -> None:
    units = {"g": "psilocybin mushrooms (g dried)", "ug": "LSD and analogues (µg)"}
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5), constrained_layout=True)
    for ax, (unit, title) in zip(axes, units.items()):
        rows = conn.execute(
            """SELECT substance, protocol, p10, p25, p50, p75, p90, n_with_dose, suppressed FROM public.dose_distribution
               WHERE unit = ? AND wave = (SELECT min(wave) FROM public.dose_distribution)
                 AND substance IN (SELECT DISTINCT substance FROM public.dose_distribution WHERE NOT suppressed)
               ORDER BY substance, protocol = 'all' DESC, protocol""",
            [unit],
        ).fetchall()
        ys = list(range(len(rows)))[::-1]
        top = max([r[6] for r in rows if not r[8]], default=1.0)
        for y, (_s, _p, p10, p25, p50, p75, p90, n, suppressed) in zip(ys, rows):
            if suppressed:
                ax.text(0, y, WITHHELD, color="#888888", fontsize=8, va="center", style="italic")
                continue
            ax.plot([p10, p90], [y, y], color="#555555", linewidth=1)
            ax.barh(y, p75 - p25, left=p25, height=0.5, color="#9cc3e0", edgecolor="#1f5f8b")
            ax.plot([p50, p50], [y - 0.25, y + 0.25], color="#1f5f8b", linewidth=2)
            ax.text(top * 1.02, y, f"n={n}", fontsize=8, va="center")
        ax.set_yticks(ys, [_label(s, p) for s, p, *_ in rows], fontsize=8)
        ax.set_ylim(-0.8, len(rows) - 0.2)
        ax.set_xlim(0, top * 1.15)
        ax.set_xlabel("normalised dose: box 25th–75th percentile, bar median, line 10th–90th")
        ax.set_title(f"Dose distribution, {title}", fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _table_html(conn, sql: str) -> str:
    cursor = conn.execute(sql)
    head = "".join(f"<th>{html.escape(d[0])}</th>" for d in cursor.description)
    body = "".join(
        "<tr>" + "".join(f"<td>{'–' if v is None else html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in cursor.fetchall()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_report(public_tier: Path, reports_dir: Path) -> Report:
    """Render the report from the public tier file into reports_dir (written to a new folder, then swapped in)."""
    reports_dir = Path(reports_dir)
    tmp = reports_dir.with_name(reports_dir.name + ".tmp")
    if tmp.exists():
        for p in tmp.iterdir():
            p.unlink()
    tmp.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(public_tier), read_only=True) as conn:
        substances = _substances(conn)
        charts = {
            MAIN_CHART: lambda p: _change_chart(conn, p, substances),
            "attrition.png": lambda p: _attrition_chart(conn, p, substances),
            "dose_distribution.png": lambda p: _dose_chart(conn, p),
        }
        for name, draw in charts.items():
            draw(tmp / name)
        method = _table_html(
            conn, "SELECT parameter, value, meaning FROM public.release_method ORDER BY study, parameter"
        )
        change = _table_html(
            conn,
            """SELECT substance, protocol, dose_band, wave, measure, n_pairs, mean_change,
                                             ci_low, ci_high, cohens_dz, response_rate, remission_rate
                                      FROM public.change_from_baseline
                                      WHERE grouping IN ('substance', 'substance_protocol') AND NOT suppressed
                                      ORDER BY ALL""",
        )
    images = "".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,'
        f'{base64.b64encode((tmp / name).read_bytes()).decode()}"><figcaption>{html.escape(name)}</figcaption></figure>'
        for name in charts
    )
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Microdosing outcomes: public report</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}} img{{max-width:100%}}
table{{border-collapse:collapse;font-size:0.85em}} td,th{{border:1px solid #ccc;padding:2px 6px}}</style></head><body>
<h1>Outcomes by dosing protocol and dose band</h1>
<p>Drawn from the public tier only. Every count carries cell-key noise, means and SDs keyed Laplace noise, quantiles
come from the exponential mechanism; a cell resting on fewer than 11 participants (or on none) is <em>withheld</em>
and shown as such, never as zero. Observational data: differences between protocols are not effects of protocols.</p>
{images}
<h2>Change from baseline (published cells)</h2>
<p>– : withheld, or not defined for this score (response and remission are defined for PHQ-9 and QIDS-SR16).</p>{change}
<h2>How the figures were protected</h2>{method}
</body></html>"""
    (tmp / "report.html").write_text(page, encoding="utf-8")
    for p in tmp.iterdir():
        os.chmod(p, 0o644)
    if reports_dir.exists():
        for p in reports_dir.iterdir():
            p.unlink()
        reports_dir.rmdir()
    os.replace(tmp, reports_dir)
    return Report(
        html=reports_dir / "report.html", images=[reports_dir / n for n in charts], main_image=reports_dir / MAIN_CHART
    )
