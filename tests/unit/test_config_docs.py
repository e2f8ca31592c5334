"""docs/configuration.md's tables of keys are the schema's: CI fails when they are stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.config_docs import DOC, main, render, sections, table


def test_the_docs_tables_are_fresh(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--check"])
    assert code == 0, f"{capsys.readouterr().err}\n(run `python -m tools.config_docs` and commit the result)"


def test_every_key_has_a_description() -> None:
    missing = [
        f"[{name}] {key}"
        for name, model in sections().items()
        for key, field in model.model_fields.items()
        if not field.exclude and not field.description
    ]
    assert not missing, f"keys without a Field description (the docs' meaning column): {missing}"


def test_every_table_of_the_file_is_documented_including_exchange() -> None:
    names = set(sections())
    assert {"agent", "mailbox", "graph", "exchange", "chat.channels", "teams", "picks"} <= names
    doc = DOC.read_text(encoding="utf-8")
    assert all(f"<!-- keys: {name} -->" in doc for name in names)


def test_backends_are_all_listed_as_available() -> None:
    doc = DOC.read_text(encoding="utf-8")
    assert "not available in this version" not in doc and "is rejected with a clear message" not in doc
    mailbox = table("mailbox", sections()["mailbox"])
    assert "`maildir` \\| `imap` \\| `exchange` \\| `graph`" in mailbox


def test_a_stale_table_is_named_and_rewritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = DOC.read_text(encoding="utf-8")
    stale = doc.replace("| `poll_seconds` | integer ≥ 1 | `30` |", "| `poll_seconds` | integer ≥ 1 | `60` |")
    assert stale != doc
    path = tmp_path / "configuration.md"
    path.write_text(stale, encoding="utf-8")
    assert main(["--check", "--doc", str(path)]) == 1
    err = capsys.readouterr().err
    assert "stale tables of keys: daemon;" in err
    assert main(["--doc", str(path)]) == 0  # rewritten: the prose around is kept as it was
    assert path.read_text(encoding="utf-8") == doc


def test_missing_and_unknown_markers_are_reported() -> None:
    doc = DOC.read_text(encoding="utf-8").replace("<!-- keys: exchange -->", "<!-- keys: exchnage -->")
    _, stale = render(doc)
    assert "exchnage (no such section)" in stale
    assert "exchange (no <!-- keys: exchange --> in the docs)" in stale
