"""`run --once` in a child process that SIGKILLs itself just before the n-th statement matching a text.

    python -m tests.integration.killed_run CONFIG TEXT N

Where the kill lands is chosen by the statement, not by time: "INSERT INTO messages" 75 dies with
the second group of a backlog half done, 25 of its messages run and none committed.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from agent.config import load_config
from agent.daemon.runner import Runner


def main() -> int:
    config_path, text, kill_at = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    seen = 0

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        nonlocal seen
        if text in statement:
            seen += 1
            if seen == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    event.listen(Engine, "before_cursor_execute", count)
    Runner(load_config(config_path)).run_once()
    return 0


if __name__ == "__main__":
    sys.exit(main())
