"""python -m agent ...: the command line."""

import sys

from agent.cli import main

if __name__ == "__main__":  # not when a helper process (agent.mime.parse_ahead) imports it
    sys.exit(main())
