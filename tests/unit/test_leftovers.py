"""tests/leftovers.py: the session's check that no process a test started outlives it, shown to work."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from tests import leftovers


def test_a_process_carrying_the_mark_is_found_also_once_orphaned_and_stopped() -> None:
    mark = f"check-{uuid.uuid4().hex}"
    env = {**os.environ, leftovers.MARK: mark}
    # a child that starts a grandchild and exits: the grandchild is re-parented, as a killed daemon's helper is
    code = "import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])"
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    found = leftovers.left_behind(mark, wait=0.2)
    assert len(found) == 1 and "time.sleep(60)" in found[0][1]
    leftovers.stop([pid for pid, _ in found])
    assert leftovers.left_behind(mark, wait=5.0) == []


def test_nothing_is_found_for_a_mark_nobody_carries() -> None:
    assert leftovers.left_behind(f"nobody-{uuid.uuid4().hex}", wait=0) == []
