"""The built wheel, installed in a fresh venv as docs/deployment.md says, run from an empty folder.

A checkout hides what a wheel lacks (rules/, templates/ and the example config sit beside the code),
so this builds the wheel, installs it with pip into a new venv and runs the installed `csm-agent`
where no checkout is: `--version`, `check`, `init`, `check` of the team's copy, `demo`, `run --once`.
No network: the build's setuptools comes from pip's configured indexes as for any build, and the
agent's dependencies are the test venv's own, lent to the new venv by a .pth line (a venv's
--system-site-packages would lend the base interpreter's, which lack them). A path line does not run
the test venv's own .pth files, so its editable install of the checkout stays out of the new venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration
BUILD_SECONDS = 300  # a cold build fetches setuptools into pip's cache; later ones take seconds


@dataclass(frozen=True)
class Installed:
    venv: Path
    wheel: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def run(self, cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """The installed console script, as an operator runs it: no PYTHONPATH, no config around."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AGENT_CONFIG")}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return subprocess.run(
            [str(self.bin / "csm-agent"), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _step(*cmd: str, timeout: float) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)}:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    started = time.monotonic()
    work = tmp_path_factory.mktemp("wheel")
    dist, venv = work / "dist", work / "venv"
    _step(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-q",
        "-w",
        str(dist),
        str(ROOT),
        timeout=BUILD_SECONDS,
    )
    [wheel] = dist.glob("csm_agent-*.whl")
    _step(sys.executable, "-m", "venv", "--without-pip", str(venv), timeout=60)
    # the test venv's pip installs into the new venv (--python): no ensurepip, no download
    _step(
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(venv / "bin/python"),
        "install",
        "--no-deps",
        "-q",
        str(wheel),
        timeout=120,
    )
    purelib = subprocess.run(
        [str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    print(f"wheel built and installed in {time.monotonic() - started:.1f} s")
    yield Installed(venv, wheel)


def test_the_wheel_holds_the_shipped_files(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert {
        "agent/shipped/rules/standard-onboarding.yaml",
        "agent/shipped/templates/emails/intro/subject.txt",
        "agent/shipped/templates/emails/_layout.html",
        "agent/shipped/agent.example.toml",
    } <= names
    assert not [n for n in names if "__pycache__" in n or n.startswith(("rules/", "templates/", "tools/"))]


def test_installed_agent_runs_from_an_empty_folder(installed: Installed, tmp_path: Path) -> None:
    here = tmp_path / "empty"
    here.mkdir()
    python = installed.bin / "python"
    found = subprocess.run(
        [str(python), "-c", "import agent, agent.cli; print(agent.__file__)"],
        cwd=here,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
    )
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()).is_relative_to(installed.venv), found.stdout  # not the checkout

    done = installed.run(here, "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"csm-agent {metadata.version('csm-agent')}"
    done = installed.run(here, "--help")
    assert done.stdout.startswith("usage: csm-agent")

    # the embedded defaults, with the pipelines and templates inside the package
    done = installed.run(here, "check")
    assert done.returncode == 0, done.stderr
    assert "4 pipelines" in done.stdout and "27 templates" in done.stdout

    done = installed.run(here, "init", "team")
    assert done.returncode == 0, done.stderr
    assert (here / "team/rules/standard-onboarding.yaml").is_file()
    assert (here / "team/templates/emails/intro/body.txt").is_file()
    done = installed.run(here, "--config", "team/agent.toml", "check")
    assert done.returncode == 0, done.stderr
    assert "config team/agent.toml" in done.stdout and "4 pipelines" in done.stdout
    done = installed.run(here, "init", "team")
    assert done.returncode == 2 and "already exist" in done.stderr

    done = installed.run(here, "demo", timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (here / "state/demo/agent.db").is_file()
    assert list((here / "state/demo/sent").rglob("*.eml"))  # the emails it wrote

    done = installed.run(here, "run", "--once")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "pass done" in done.stdout + done.stderr
    assert (here / "state/agent.db").is_file()


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_the_documented_unit_verifies_against_the_installed_console_script(
    installed: Installed, tmp_path: Path
) -> None:
    """systemd's own checker on docs/deploy/csm-agent.service with its paths pointed at this install:
    every directive known and well-formed, the command there and executable. No systemd runs here
    (it is not PID 1 in a container): READY and WATCHDOG are tested in tests/unit/test_sd_notify.py."""
    unit = (ROOT / "docs/deploy/csm-agent.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/csm-agent/bin/csm-agent " in unit and "Type=notify" in unit
    here = tmp_path / "etc"
    assert installed.run(tmp_path, "init", str(here)).returncode == 0
    unit = unit.replace("/opt/csm-agent/bin/csm-agent", str(installed.bin / "csm-agent"))
    unit = unit.replace("/etc/csm-agent", str(here))
    (tmp_path / "csm-agent.service").write_text(unit, encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "csm-agent.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr

    broken = unit.replace("Type=notify", "Type=notifying")  # the checker does refuse a wrong unit
    (tmp_path / "broken.service").write_text(broken, encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "broken.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Failed to parse service type" in done.stderr
