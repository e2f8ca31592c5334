"""The wheel's copy of the shipped pipelines, templates and example config (setuptools' build_py, extended).

They live at the top of the repository (rules/, templates/emails/, agent.example.toml), where the
docs, the tests and the people editing them look for them; a wheel holds only what is inside the
package, so the build copies them to agent/shipped/, where `agent.config.paths.packaged` finds them
once installed. An editable install reads the checkout's own folders and copies nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

# setuptools ships no type information before 71 (the dev venv may hold an older one than the build's)
from setuptools.command.build_py import build_py  # type: ignore[import-untyped, unused-ignore]

ROOT = Path(__file__).resolve().parents[1]
# (source beside pyproject.toml, destination inside the package): agent.config.paths reads the same names
SHIPPED = (
    ("rules", "agent/shipped/rules"),
    ("templates/emails", "agent/shipped/templates/emails"),
    ("agent.example.toml", "agent/shipped/agent.example.toml"),
)
# what an editor, a Python run or a file manager leaves in a folder is not part of a template
LITTER = shutil.ignore_patterns("__pycache__", "*.pyc", ".*", "*~", "*.swp")


class BuildPy(build_py):  # type: ignore[misc, unused-ignore]
    """build_py, then the shipped files copied into the build's agent/shipped/."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for source, dest in SHIPPED:
            copy(ROOT / source, Path(self.build_lib) / dest)


def copy(source: Path, dest: Path) -> None:
    if not source.exists():  # a broken sdist: a wheel without its pipelines would fail only once installed
        raise FileNotFoundError(f"{source} is missing: the wheel would have no {source.name}")
    if dest.exists():  # a rebuild in the same build/ folder: a file deleted since must not linger
        shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, dest, ignore=LITTER)
    else:
        shutil.copy2(source, dest)
