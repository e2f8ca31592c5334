"""The scorecard as people read it (a table) and as spreadsheets take it (CSV)."""

from __future__ import annotations

import csv
import io
from typing import Any

COLUMNS = (
    ("scope", "scope"),
    ("deals", "deals"),
    ("onboarding", "in_onboarding"),
    ("live", "went_live"),
    ("to live med/p90 d", "time_to_live"),
    ("stuck", "stuck"),
    ("overdue", "overdue"),
    ("emails", "emails_sent"),
    ("replies", "replies_received"),
    ("held", "meetings_held"),
    ("no-shows", "no_shows"),
    ("CSAT avg (n)", "csat"),
)


def flat(row: dict[str, Any]) -> dict[str, Any]:
    """One row's figures as single values."""
    live, csat = row["time_to_live_days"], row["csat"]
    return {
        **{
            k: row[k]
            for k in ("scope", "deals", "in_onboarding", "went_live", "emails_sent", "replies_received")
        },
        "time_to_live": f"{_d(live['median'])} / {_d(live['p90'])}",
        "time_to_live_median_days": live["median"],
        "time_to_live_p90_days": live["p90"],
        "stuck": len(row["stuck"]),
        "overdue": sum(row["overdue_tasks_by_responsible"].values()),
        "meetings_held": row["meetings_held"],
        "no_shows": row["no_shows"],
        "csat": f"{csat['average']} ({csat['answers']})" if csat["answers"] else "-",
        "csat_average": csat["average"],
        "csat_answers": csat["answers"],
        "csat_deals": row["csat_by_deal"]["deals"],
        "csat_deal_average": row["csat_by_deal"]["average"],
    }


def table(card: dict[str, Any]) -> str:
    period = card["period"]
    rows = [flat(r) for r in card["rows"]]
    cells = [[h for h, _ in COLUMNS]] + [[str(r[k]) for _, k in COLUMNS] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    lines = [f"Onboarding scorecard, {period['since'][:10]} to {period['until'][:10]}", ""]
    if card.get("kpis"):
        lines += ["Key results (the pipelines' KPI cards):", *kpi_lines(card["kpis"]), ""]
    lines += [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cell, widths, strict=True))
        )
        for cell in cells
    ]
    everything = card["rows"][0]
    stages = everything["time_in_stage_days"]
    if stages:
        lines += ["", "Time in stage, days (median / p90, deals):"]
        lines += [f"  {s:<24} {_d(v['median'])} / {_d(v['p90'])}  ({v['deals']})" for s, v in stages.items()]
    if everything["stuck"]:
        lines += ["", "Stuck past the stage's target:"]
        lines += [
            f"  {x['deal']}: {x['stage']} for {x['days']} days (target {x['target_days']})"
            for x in everything["stuck"]
        ]
    if everything["overdue_tasks_by_responsible"]:
        lines += ["", "Overdue tasks by Responsible:"]
        lines += [f"  {who:<32} {n}" for who, n in everything["overdue_tasks_by_responsible"].items()]
    if everything["csat"]["answers"]:
        dist = ", ".join(f"{k}: {v}" for k, v in everything["csat"]["distribution"].items())
        lines += ["", f"CSAT answers by score: {dist}"]
    if card.get("csat_answers"):
        lines += ["", "CSAT by deal (each contact's answer):"]
        for deal in card["csat_answers"]:
            lines.append(f"  {deal['deal']}: {deal['average']}")
            lines += [f"    {_answer(a)}" for a in deal["answers"]]
    return "\n".join(lines)


def kpi_lines(kpis: list[dict[str, Any]]) -> list[str]:
    """A line per card: its figure, its target met or not, and the deals it counts; a time per stage below."""
    width = max(len(k["name"]) for k in kpis)
    lines = []
    for k in kpis:
        figure = "" if k.get("breakdown") else k["display"]
        lines.append(f"  {k['name']:<{width}}  {figure:>14}  {_goal(k)}{k['segment']} ({k['pipeline']})")
        for b in k.get("breakdown", []):
            lines.append(f"    {b['stage_name']:<{width - 2}}  {b['display']:>14}  {_goal(b)}".rstrip("; "))
    return lines


def _goal(figure: dict[str, Any]) -> str:
    target = figure["target"]
    if not target:
        return ""
    verdict = {True: "met", False: "NOT MET", None: "no figure"}[target["met"]]
    return f"target {target['text']}: {verdict}; "


def kpi_table(card: dict[str, Any]) -> str:
    """`report --kpis`: the cards alone."""
    period = card["period"]
    if not card.get("kpis"):
        return "no KPI cards: a pipeline file defines them under scorecard: {cards: [...]} (docs/rules.md)"
    head = f"Key results, {period['since'][:10]} to {period['until'][:10]}"
    return "\n".join([head, "", *kpi_lines(card["kpis"])])


KPI_KEYS = (
    "pipeline", "name", "stage", "metric", "segment", "format", "value", "unit", "previous", "change",
    "target", "met",
)  # fmt: skip


def kpi_csv(card: dict[str, Any]) -> str:
    """A row per card (and per stage of a card of time in each stage), for a spreadsheet."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=KPI_KEYS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for k in card.get("kpis", []):
        for row in k.get("breakdown") or [k]:
            target = row["target"]
            writer.writerow(
                {
                    **k,
                    **row,
                    "unit": k["unit"],
                    "target": f"{target['op']} {target['value']:g}" if target else "",
                    "met": "" if row["met"] is None else "yes" if row["met"] else "no",
                }
            )
    return out.getvalue()


def _answer(a: dict[str, Any]) -> str:
    """One contact's answer: the score on its scale, the words it was read from when they differ, the comment."""
    said = f"{a['contact']}: {a['score']} of {a['scale']}"
    said += f" (wrote {a['original']!r})" if a["normalised"] else ""
    comment = " ".join(a["comment"].split())
    return said + (f" - {comment[:120]}{'...' if len(comment) > 120 else ''}" if comment else "")


def csv_text(card: dict[str, Any]) -> str:
    keys = [
        "scope", "deals", "in_onboarding", "went_live", "time_to_live_median_days", "time_to_live_p90_days",
        "stuck", "overdue", "emails_sent", "replies_received", "meetings_held", "no_shows", "csat_average",
        "csat_answers", "csat_deals", "csat_deal_average",
    ]  # fmt: skip
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in card["rows"]:
        writer.writerow(flat(row))
    return out.getvalue()


def _d(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
