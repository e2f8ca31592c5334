"""The command line: python -m agent <command>. Exit codes: 0 ok, 1 failure, 2 bad input."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from agent import logs
from agent.cli import cli_admin, cli_chat, cli_config, cli_deals, cli_init, cli_outbox, cli_unmatched
from agent.cli.app import App
from agent.cli.cli_admin import connect_check
from agent.clock import Clock
from agent.connect import oauth2
from agent.errors import InputError
from agent.store.db import STORE_FAILURES

__all__ = ["build_parser", "connect_check", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The top level's options, then each group's commands (each module owns its sub-parser)."""
    parser = argparse.ArgumentParser(prog=_prog(), description=__doc__)
    parser.add_argument("--version", action="version", version=f"csm-agent {_version()}")
    parser.add_argument(
        "--config", help="config file (default: agent.toml, else $AGENT_CONFIG, else defaults)"
    )
    parser.add_argument("--state", help="runtime data folder (overrides [paths] state)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # the order of `--help`, as it was when the commands lived in one module
    cli_init.add_parser(sub)  # the first step of an install
    cli_admin.add_parser(sub)
    cli_config.add_parser(sub)
    cli_deals.add_parser(sub)
    cli_outbox.add_parser(sub)
    cli_chat.add_parser(sub)
    cli_unmatched.add_parser(sub)
    cli_admin.add_render_parser(sub)
    return parser


def _prog() -> str:
    """The name the operator typed: the installed `csm-agent`, else `python -m agent`."""
    return "csm-agent" if Path(sys.argv[0]).name == "csm-agent" else "python -m agent"


def _version() -> str:
    try:
        return metadata.version("csm-agent")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def main(argv: Sequence[str] | None = None, clock: Clock | None = None) -> int:
    # what the agent writes (the store, mail, sent copies, tokens, notes) is its owner's alone
    umask = os.umask(0o077)
    try:
        return _main(argv, clock)
    finally:
        os.umask(umask)  # a caller in the same process (the tests) keeps its own


def _main(argv: Sequence[str] | None, clock: Clock | None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup("DEBUG" if args.verbose else "INFO", "plain")
    try:
        app = App(args, clock)
        daemon = app.config.daemon
        logs.setup(
            "DEBUG" if args.verbose else daemon.log_level, daemon.log_format, logs.secrets_of(app.config)
        )
        oauth2.keep_tokens_in(app.config.state_dir)  # a rotated refresh token must outlive the process
        code: int = args.fn(app)
        return code
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader had enough (`| head`): no traceback; what is left to print goes nowhere
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (
        STORE_FAILURES
    ) as exc:  # locked past the busy timeout, disk full, server gone: said, not a traceback
        reason = getattr(exc, "orig", exc)
        print(
            f"error: the database refused the command ({reason}); nothing was changed. Try again; if it "
            "stays busy, `status` shows what the daemon is doing ([store] busy_timeout_seconds is the wait)",
            file=sys.stderr,
        )
        return 1
