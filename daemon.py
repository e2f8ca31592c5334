"""Thin entry point: python daemon.py [--config FILE] [--once] [--dry-run]."""

from __future__ import annotations

import argparse
import sys

from agent.cli import main


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Run the csm-agent daemon.")
    parser.add_argument(
        "--config", help="config file (default: agent.toml, else $AGENT_CONFIG, else defaults)"
    )
    parser.add_argument("--once", action="store_true", help="do one full pass and exit")
    parser.add_argument("--dry-run", action="store_true", help="queue and render, send nothing")
    args = parser.parse_args(argv)
    forwarded = (["--config", args.config] if args.config else []) + ["run"]
    forwarded += ["--once"] if args.once else []
    forwarded += ["--dry-run"] if args.dry_run else []
    return main(forwarded)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
