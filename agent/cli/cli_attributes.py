"""`deals attributes`: what a hand-over of each pipeline needs, and the CSV header that gives it."""

from __future__ import annotations

from typing import Any

from agent.cli.app import App, SubParsers, command, out
from agent.errors import InputError
from agent.handover import REQUIRED


def cmd_attributes(app: App) -> int:
    """What a hand-over of each pipeline needs: its required attributes, and the CSV header that gives them."""
    pipelines = app.runtime.rules.pipelines
    if app.args.pipeline and app.args.pipeline not in pipelines:
        raise InputError(f"pipeline {app.args.pipeline!r}: expected one of {sorted(pipelines)}")
    chosen = [p for pid, p in pipelines.items() if app.args.pipeline in (None, pid)]
    data: list[dict[str, Any]] = [
        {
            "pipeline": p.id,
            "requires": [r.as_dict() for r in p.required],
            "csv_header": _header([r.column for r in p.required]),
        }
        for p in chosen
    ]
    if app.args.csv:  # one header for every pipeline chosen: a row leaves the others' columns empty
        print(",".join(_header([c for d in data for c in d["csv_header"]])))  # plain words: nothing to quote
        return 0
    out(data, app.args.json, lambda ds: "\n".join(_attributes_text(d) for d in ds))
    return 0


def _header(columns: list[str]) -> list[str]:
    return list(dict.fromkeys([*REQUIRED, *(c for c in columns if c)]))


def _attributes_text(d: dict[str, Any]) -> str:
    lines = [
        f"{d['pipeline']}: " + ("a deal needs" if d["requires"] else "requires nothing beyond the hand-over")
    ]
    for r in d["requires"]:
        given = f"CSV {r['column']}, {r['option']}" if r["column"] else "by email"
        lines.append(f"  {r['name']:<20} {given:<42} {r['description']}")
    lines.append(f"  CSV header: {','.join(d['csv_header'])}")
    return "\n".join(lines)


def add_command(actions: SubParsers) -> None:
    p = command(
        actions,
        "attributes",
        cmd_attributes,
        "the attributes a pipeline requires, and the hand-over's CSV header",
        reads_only=True,
    )
    p.add_argument("--pipeline", help="only this pipeline (default: every one)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true", help="the CSV header a hand-over file needs")
