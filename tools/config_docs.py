"""docs/configuration.md's tables of keys, made from the schema (agent.config), so that they cannot drift.

    python -m tools.config_docs            rewrite the tables in docs/configuration.md
    python -m tools.config_docs --check    exit 1 naming each section whose table is stale

Each table sits between `<!-- keys: SECTION -->` and `<!-- /keys -->` (SECTION as the file
names it: `mailbox`, `chat.channels`, `teams`); the prose around them is the docs' own and is
kept. A row is a key of the section's pydantic model: its name, its type (with the bounds the
schema enforces), its default and its Field description, so what a key means is written once,
beside the code that reads it. A default too long for a cell (the [severity] word lists) is
written out in TOML after the table.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from agent.backend_table import names
from agent.config import Config
from agent.config.env import array_of

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "configuration.md"
LONG = 70  # a default longer than this (in TOML) is written after the table, not in it
_REGION = re.compile(r"(<!-- keys: (?P<name>[a-z_.]+) -->\n)(?P<body>.*?)(<!-- /keys -->)", re.DOTALL)


def sections() -> dict[str, type[BaseModel]]:
    """Every table of the file by its name: the top-level ones, the arrays of tables, the arrays inside them."""
    found: dict[str, type[BaseModel]] = {}

    def visit(name: str, model: type[BaseModel]) -> None:
        found[name] = model
        for key, field in model.model_fields.items():
            inner = array_of(field.annotation)
            if inner is not None:
                visit(f"{name}.{key}" if name else key, inner)

    for key, field in Config.model_fields.items():
        if field.exclude:
            continue
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            visit(key, kind)
        elif (inner := array_of(kind)) is not None:
            visit(key, inner)
    return found


# --- one row ----------------------------------------------------------------------------------
def type_of(field: FieldInfo) -> str:
    return _kind(field.annotation, field.metadata)


def _kind(kind: Any, metadata: list[Any]) -> str:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_kind(a, metadata) for a in args if a is not type(None))
    if origin is typing.Annotated:  # Port: its bounds are a Field's metadata inside the alias
        extra = [m for a in args[1:] for m in (a.metadata if isinstance(a, FieldInfo) else [a])]
        return _kind(args[0], [*metadata, *extra])
    for item in metadata:  # a backend: a string checked against agent.backend_table
        func = getattr(item, "func", None)
        if isinstance(func, functools.partial) and func.args:
            return _choices(names(func.args[0]))
    if origin is Literal:
        return _choices(args)
    if origin is tuple:
        inner = _kind(args[0], [])
        return f"list of {inner}"
    if origin is dict:
        return f"table: {_kind(args[0], [])} → {_kind(args[1], [])}"
    if isinstance(kind, type) and issubclass(kind, BaseModel):  # [teams.mailbox]: a [mailbox] of its own
        same = next((name for name, model in sections().items() if model is kind), None)
        return f"table with the keys of `[{same}]`" if same else "table"
    words = {bool: "boolean", int: "integer", float: "number", str: "text", Path: "path"}
    word = words.get(kind, getattr(kind, "__name__", str(kind)))
    return word + _bounds(metadata)


def _choices(values: tuple[Any, ...]) -> str:
    return " \\| ".join(f"`{v}`" for v in values)


def _bounds(metadata: list[Any]) -> str:
    low = high = None
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            low = f"{item.ge}"
        elif isinstance(item, annotated_types.Gt):
            low = f"> {item.gt}"
        elif isinstance(item, annotated_types.Le):
            high = f"{item.le}"
    if low is not None and high is not None and not low.startswith(">"):
        return f" {low}–{high}"
    if low is not None:
        return f" {low}" if low.startswith(">") else f" ≥ {low}"
    return f" ≤ {high}" if high is not None else ""


def default_of(field: FieldInfo) -> str:
    if field.default is PydanticUndefined:
        return "required"
    if field.default is None:
        return "none"
    if isinstance(field.default, BaseModel):
        changed = {k: getattr(field.default, k) for k in sorted(field.default.model_fields_set)}
        return f"`{_toml(changed)}`" if changed else "its defaults"
    text = _toml(field.default)
    return f"`{text}`" if len(text) <= LONG else "below"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # a literal string reads a regular expression as written; a basic one when it holds a quote
        return f"'{value}'" if "\\" in value and "'" not in value else json.dumps(value)
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }" if value else "{}"
    return repr(value)


def _cell(text: str) -> str:
    """A description as a table cell: `|` would end the cell, and `<state>` outside code reads as HTML."""
    parts = text.replace("|", "\\|").replace("\n", " ").split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;") for i, p in enumerate(parts))


# --- one table --------------------------------------------------------------------------------
def table(name: str, model: type[BaseModel]) -> str:
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    long: list[str] = []
    for key, field in model.model_fields.items():
        if field.exclude:
            continue
        inner = array_of(field.annotation)
        kind = f"array of tables: `[[{name}.{key}]]`" if inner else type_of(field)
        default = "none" if inner else default_of(field)
        if default == "below":
            long.append(f"{key} = {_toml(field.default)}")
        rows.append(f"| `{key}` | {kind} | {default} | {_cell(field.description or '')} |")
    text = "\n".join(rows) + "\n"
    if long:
        header = f"[[{name}]]" if _is_array(name) else f"[{name}]"
        text += "\nThe defaults written out:\n\n```toml\n" + "\n".join([header, *long]) + "\n```\n"
    return text


def _is_array(name: str) -> bool:
    field = Config.model_fields.get(name)
    return field is not None and array_of(field.annotation) is not None


# --- the file ---------------------------------------------------------------------------------
def render(doc: str) -> tuple[str, list[str]]:
    """The doc with every table rewritten, and the names of the stale (or missing, or unknown) ones."""
    known = sections()
    stale: list[str] = []
    seen: set[str] = set()

    def fill(match: re.Match[str]) -> str:
        name = match.group("name")
        seen.add(name)
        if name not in known:
            stale.append(f"{name} (no such section)")
            return match.group(0)
        body = "\n" + table(name, known[name]) + "\n"
        if body != match.group("body"):
            stale.append(name)
        return match.group(1) + body + match.group(4)

    new = _REGION.sub(fill, doc)
    stale += [f"{name} (no <!-- keys: {name} --> in the docs)" for name in known if name not in seen]
    return new, stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.config_docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say which tables are stale (exit 1)")
    parser.add_argument("--doc", type=Path, default=DOC, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    doc = args.doc.read_text(encoding="utf-8")
    new, stale = render(doc)
    if args.check:
        if stale:
            print(
                f"{args.doc}: stale tables of keys: {', '.join(stale)}; run `python -m tools.config_docs`",
                file=sys.stderr,
            )
            return 1
        return 0
    if new != doc:
        args.doc.write_text(new, encoding="utf-8")
    missing = [s for s in stale if "(" in s]
    for problem in missing:  # a table to place by hand: where it goes in the prose is the writer's call
        print(f"{args.doc}: {problem}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
