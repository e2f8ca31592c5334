"""python -m agent ...: the command line."""

import sys

from agent.cli import main

sys.exit(main())
