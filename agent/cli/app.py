"""What every command of the command line is given: the config, the runtime and the store, and a printer."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from agent.clock import Clock, SystemClock
from agent.config import Config, find_config, load_config
from agent.errors import InputError, NotFound
from agent.handling.cause import Cause, begin
from agent.runtime import Runtime, load_runtime
from agent.store import models as m
from agent.store.db import STORE_FAILURES, make_engine, open_store
from agent.store.repo import Repo

Command = Callable[["App"], int]  # a command's exit code: 0 ok, 1 failure, 2 bad input
# what `add_subparsers()` returns: where a group adds its commands (a string: not subscriptable at run time)
T = TypeVar("T")
BUSY_TRIES = 3  # each after [store] busy_timeout_seconds of waiting: 90 s by default, over an item's budget
SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class App:
    """What every command needs, opened lazily: config first (before any I/O), then the store."""

    def __init__(self, args: argparse.Namespace, clock: Clock | None = None) -> None:
        self.args = args
        self.clock = clock or SystemClock()
        self.config: Config = self.load()
        self._runtime: Runtime | None = None
        self._sessions: sessionmaker[Session] | None = None

    def load(self) -> Config:
        """The config as the command line names it (again on SIGHUP)."""
        state = Path(self.args.state) if self.args.state else None
        if self.args.command == "demo" and state is None:
            state = Path("state/demo")  # the demo never touches the real state folder
        return load_config(find_config(self.args.config), state_override=state)

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = load_runtime(self.config)
        return self._runtime

    @property
    def sessions(self) -> sessionmaker[Session]:
        if self._sessions is None:
            if getattr(self.args, "reads_only", False) and self._nothing_stored():
                engine = make_engine("sqlite://")  # nothing stored yet: an empty store in memory, no file
                m.Base.metadata.create_all(engine)
                self._sessions = sessionmaker(engine, expire_on_commit=False)
            else:
                self._sessions = open_store(self.config.store_url, self.config.store.busy_timeout_seconds)
        return self._sessions

    def _nothing_stored(self) -> bool:
        """A command that only reads never makes a state folder or a database: with none yet, it reads
        an empty one (`deals list` says []); a --state folder that does not exist is a typo, named."""
        url = make_url(self.config.store_url)
        if url.get_backend_name() != "sqlite" or not url.database or Path(url.database).exists():
            return False
        state = self.config.state_dir
        if getattr(self.args, "state", None) and not state.is_dir():
            raise InputError(
                f"--state {state}: no such folder, so nothing to read. The agent makes it on its first "
                "run (`run --once`) or with the first `deals add`"
            )
        return True

    def write(self, work: Callable[[Repo], T]) -> T:
        """`work` in one transaction; a database busy past its wait is waited for again, and said.

        The daemon holds the store's write lock for one item at a time (at most the item's budget),
        so a command that meets it waits `[store] busy_timeout_seconds` and then tries again, up
        to BUSY_TRIES times; the transaction rolled back, so trying again repeats nothing. What a
        command prints comes after the commit (its `work` returns it), never for a rolled-back try.
        """
        for attempt in range(1, BUSY_TRIES + 1):
            try:
                with self.sessions.begin() as s:
                    return work(Repo(s))
            except STORE_FAILURES as exc:
                reason = str(getattr(exc, "orig", exc))
                if attempt == BUSY_TRIES or not _busy(reason):
                    raise
                print(
                    f"the database is busy ({reason}): another program, most likely the daemon, is "
                    f"writing; nothing was changed, trying again ({attempt + 1} of {BUSY_TRIES})",
                    file=sys.stderr,
                )
        raise AssertionError("unreachable")

    def change(self, what: str, work: Callable[[Repo, Cause], T]) -> T:
        """`write` for a command that changes deals: the change is recorded as an event."""

        def recorded(repo: Repo) -> T:
            cause = begin(repo, f"cli:{what}:{uuid.uuid4()}", "cli", self.clock.now())
            assert cause is not None
            return work(repo, cause)

        return self.write(recorded)

    def deal(self, repo: Repo, ref: str) -> m.Deal:
        found = repo.deal(int(ref)) if ref.isdigit() else repo.deal_by_name(ref)
        if found is None:
            raise NotFound(f"no deal {ref!r} (give its id or its exact name; see `deals list`)")
        return found


def _busy(reason: str) -> bool:
    """A lock held by another writer (SQLite's busy wait ran out, PostgreSQL's lock wait), not a broken store."""
    return any(
        word in reason.lower() for word in ("locked", "lock timeout", "deadlock", "could not serialize")
    )


def out(data: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    print(json.dumps(data, indent=2, default=str) if as_json else text(data))


def said(app: App, message: str, facts: dict[str, Any] | None = None, **more: Any) -> None:
    """What a command did: its sentence; with --json, an object of the sentence and the facts."""
    data = {"message": message, **(facts or {}), **more}
    out(data, bool(getattr(app.args, "json", False)), lambda d: str(d["message"]))


def group(sub: SubParsers, name: str, help_: str) -> SubParsers:
    """A command group of the top level (`deals`, `outbox`, ...): where its actions are added."""
    actions: SubParsers = sub.add_parser(name, help=help_).add_subparsers(
        dest=f"{name}_command", required=True, metavar="ACTION"
    )
    return actions


def command(
    parent: SubParsers, name: str, fn: Command, help_: str, *, reads_only: bool = False, reports: bool = False
) -> argparse.ArgumentParser:
    """A command under `parent` (the sub-parsers of the top level or of a group), run by `fn`;
    `reads_only`: it never makes a state folder or a database where there is none; `reports`: it
    says what it did with `said`, as JSON with --json."""
    p = parent.add_parser(name, help=help_, description=help_)
    p.set_defaults(fn=fn, reads_only=reads_only)
    if reports:
        p.add_argument("--json", action="store_true", help="say it as a JSON object")
    return p
