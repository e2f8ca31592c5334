"""The shape of the code, held: no import cycle, no module over the limit, one owner of the outbox's statuses."""

from __future__ import annotations

import ast
from pathlib import Path

from tools import imports

ROOT = Path(__file__).resolve().parents[2]
OUTBOX_STATUSES = {"queued", "review", "sending", "sent", "failed", "withdrawn"}


def test_the_package_has_no_import_cycle() -> None:
    assert imports.cycles(imports.graph()) == []


def test_a_cycle_is_found_where_there_is_one(tmp_path: Path) -> None:
    package = tmp_path / "agent"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f() -> None:\n    from agent import b  # hidden in a function\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from agent.a import f\n"
    )
    (package / "c.py").write_text("import agent.a\n")
    assert imports.cycles(imports.graph(tmp_path)) == [["agent.a", "agent.b"]]


def test_no_module_is_over_the_limit() -> None:
    too_big = [(lines, path) for lines, path in imports.line_counts() if lines > imports.MAX_LINES]
    assert too_big == []


def _status_assignments(path: Path) -> list[int]:
    """Lines that set a `status` to one of the outbox's status strings (attribute or keyword)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        pairs: list[tuple[ast.expr, ast.expr]] = []
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    pairs += zip(target.elts, node.value.elts, strict=False)
                else:
                    pairs.append((target, node.value))
            values = [v for t, v in pairs if isinstance(t, ast.Attribute) and t.attr == "status"]
        elif isinstance(node, ast.Call):
            values = [k.value for k in node.keywords if k.arg == "status"]
        else:
            continue
        found += [node.lineno for v in values if isinstance(v, ast.Constant) and v.value in OUTBOX_STATUSES]
    return found


def test_only_the_outbox_state_machine_assigns_an_email_status() -> None:
    owner = ROOT / "agent" / "outbox" / "status.py"
    offenders = {
        str(p.relative_to(ROOT)): lines
        for p in (ROOT / "agent").rglob("*.py")
        if p != owner and "migrations" not in p.parts and (lines := _status_assignments(p))
    }
    assert offenders == {}


def test_the_status_check_sees_an_assignment(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text(
        'email.status, email.due_at = "queued", now\nrow = Row(status="sent")\nmeeting.status = "done"\n'
    )
    assert _status_assignments(sample) == [1, 2]
