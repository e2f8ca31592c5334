"""A reader that stops early (`csm-agent demo | head -1`) ends the command quietly: no traceback."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

from tests.conftest import agent_env

F_SETPIPE_SZ = 1031  # Linux: the pipe's buffer, made one page so the demo's output overflows it


def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent", "demo"],
        cwd=tmp_path,
        env=agent_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    fcntl.fcntl(proc.stdout.fileno(), F_SETPIPE_SZ, 4096)
    first = proc.stdout.readline()
    proc.stdout.close()  # as `head -1` does
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=60)
    assert first.startswith(b"csm-agent demo")
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert code == 0
