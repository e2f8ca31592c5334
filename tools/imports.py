"""The import graph of `agent/`: its cycles and its largest modules.

    python -m tools.imports            cycles, then the 10 largest modules
    python -m tools.imports --edges    every module -> module import as well

Every import counts, also those inside functions or under TYPE_CHECKING: a lazy import
hides a cycle from the interpreter, not from the person reading the code.
Exits 1 when there is a cycle or a module (migrations aside) over MAX_LINES.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "agent"
MAX_LINES = 450


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted name -> file, for every module of the package (a package is its __init__)."""
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module of ours that `name` (a module, or a name inside one) belongs to."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from agent.store import models` names a module; `from agent.x import f` a name in one
            names = [f"{base}.{a.name}" for a in node.names] or [base]
        for name in names:
            target = _resolve(name, known)
            if target and target != module:
                found.add(target)
    return found


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    known = modules(root)
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


def line_counts(root: Path = ROOT) -> list[tuple[int, str]]:
    """(lines, path) of every module but the migrations, largest first."""
    counts = [
        (len(path.read_text(encoding="utf-8").splitlines()), str(path.relative_to(root)))
        for path in modules(root).values()
        if "migrations" not in path.parts
    ]
    return sorted(counts, reverse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.imports", description=__doc__.splitlines()[0])
    parser.add_argument("--edges", action="store_true", help="print every import edge")
    parser.add_argument("--top", type=int, default=10, help="how many of the largest modules to print")
    args = parser.parse_args(argv)
    edges = graph()
    if args.edges:
        for name in sorted(edges):
            for target in sorted(edges[name]):
                print(f"{name} -> {target}")
    found = cycles(edges)
    print(f"{len(edges)} modules, {sum(len(t) for t in edges.values())} imports, {len(found)} cycles")
    for component in found:
        print("  cycle: " + ", ".join(component))
    counts = line_counts()
    print(f"largest modules (limit {MAX_LINES} lines):")
    for lines, path in counts[: args.top]:
        print(f"  {lines:>5}  {path}")
    too_big = [path for lines, path in counts if lines > MAX_LINES]
    return 1 if found or too_big else 0


if __name__ == "__main__":
    raise SystemExit(main())
