"""One step of tests/integration/scenario.py in a child process, which may SIGKILL itself.

    python -m tests.integration.scenario_step CONFIG STEP KILL_AT

KILL_AT = n > 0: die by SIGKILL just before the n-th SQL statement (the database is where
every commit, cursor move and send record happens, so these are the points that matter);
0: run to the end. Prints how many statements the step ran, for the test to pick from.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from agent.clock import ManualClock
from agent.config import load_config
from agent.simulation import Simulation
from tests.integration.scenario import STEPS, act


def main() -> int:
    config_path, index, kill_at = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1
        if statements == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(Engine, "before_cursor_execute", count)
    step = STEPS[index]
    sim = Simulation(load_config(config_path), ManualClock(step.at))
    for action in step.agent:
        act(sim, action)
    sim.run()
    print(statements)
    return 0


if __name__ == "__main__":
    sys.exit(main())
