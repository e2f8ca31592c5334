"""The installed environment and the declared dependencies (docs/testing.md, "Dependencies")."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from agent.errors import InputError
from agent.store.db import make_engine

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    # PEP 503 normalised, as in constraints.txt: "psycopg[binary]>=3.1" -> "psycopg"
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def test_urllib3_is_the_real_urllib3() -> None:
    # urllib3-future (under niquests, under caldav 2 and 3) copies itself over urllib3 from a .pth
    # at every start, so requests, msal and exchangelib would run on the fork: it must not be here.
    import urllib3

    with pytest.raises(metadata.PackageNotFoundError):
        metadata.distribution("urllib3-future")
    assert "urllib3_future" not in (urllib3.__file__ or "")
    # the files on disk are the distribution's own (the fork overwrites them, keeping urllib3's metadata)
    assert vars(urllib3)["__version__"] == metadata.version("urllib3")


def test_every_declared_dependency_is_in_the_tested_set() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        declared |= {_name(r) for r in extra}
    declared.discard("csm-agent")  # dev pulls in its own postgres extra
    pinned = {
        _name(line)
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line and not line.startswith((" ", "#"))
    }
    missing = sorted(declared - pinned)
    assert not missing, f"not in constraints.txt, regenerate it (docs/testing.md): {missing}"


def test_postgresql_without_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import psycopg` fail as it does where the extra is not installed
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(InputError) as failure:
        make_engine("postgresql://agent:s3cret@db.acme.example/agent")
    message = str(failure.value)
    assert "pip install 'csm-agent[postgres]'" in message
    assert "db.acme.example" in message and "s3cret" not in message


def test_sqlite_needs_no_psycopg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    engine = make_engine(f"sqlite:///{tmp_path / 'agent.db'}")
    with engine.connect():
        pass
    engine.dispose()
