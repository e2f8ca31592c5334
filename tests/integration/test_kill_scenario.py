"""SIGKILL at random points of a full onboarding, restart, and end exactly where an undisturbed run ends.

Two state folders play the same scenario (tests/integration/scenario.py): one undisturbed,
one whose agent process is killed at random SQL statements and started again until each
step completes. Their end states (deals, stages and their times, tasks, messages and how
they matched, meetings, audit trail, outbox, the .eml files written) must be identical:
no message lost, no email twice. The seed is printed; CSM_KILL_SEED replays a run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import load_config
from tests.conftest import ROOT, agent_env
from tests.integration.scenario import STEPS, end_state, step_config

KILLS_PER_STEP = 3  # then the step runs to its end


def run_step(cfg: Path, index: int, kill_at: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.integration.scenario_step", str(cfg), str(index), str(kill_at)],
        cwd=ROOT,
        env=agent_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.integration
def test_random_sigkills_during_a_full_onboarding_change_nothing_in_the_end(tmp_path: Path) -> None:
    seed = int(os.environ.get("CSM_KILL_SEED") or random.randrange(1 << 30))
    print(f"CSM_KILL_SEED={seed}")
    rng = random.Random(seed)
    calm_cfg, killed_cfg = step_config(tmp_path / "calm"), step_config(tmp_path / "killed")
    calm, killed = load_config(calm_cfg), load_config(killed_cfg)
    kills = 0
    for index, step in enumerate(STEPS):
        step.world(calm, index)
        done = run_step(calm_cfg, index, 0)
        assert done.returncode == 0, done.stderr
        statements = int(done.stdout.split()[-1])

        step.world(killed, index)
        for _ in range(KILLS_PER_STEP):
            kill_at = rng.randint(1, statements)
            done = run_step(killed_cfg, index, kill_at)
            if done.returncode == 0:
                break  # this try had less left to do than the kill point: the step is complete
            assert done.returncode == -signal.SIGKILL, done.stderr
            kills += 1
        else:
            done = run_step(killed_cfg, index, 0)
            assert done.returncode == 0, done.stderr

    assert kills >= len(STEPS), f"too few kills landed ({kills}) to mean anything"
    expected, got = end_state(calm), end_state(killed)
    resent = got.pop("resent")
    assert expected.pop("resent") == 0
    # the scenario did what it is about: every deal reached the end, every email went, none failed
    assert [d["stage"] for d in expected["deals"]] == ["won"] * 3
    assert {e[5] for e in expected["outbox"]} == {"sent"}
    assert len(expected["files"]) == len(expected["outbox"]) and expected["counts"]["quarantined"] == 0
    assert got == expected, (
        f"seed {seed}: the killed run ended elsewhere ({kills} kills, {resent} resent): "
        + "; ".join(differences(expected, got))
    )


def differences(a: object, b: object, path: str = "") -> list[str]:
    """Where two JSON-like values differ, as `path: expected != got` (the first few)."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return [d for k in keys for d in differences(a.get(k), b.get(k), f"{path}.{k}")][:5]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}[{i}]")
        ][:5]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]
