"""The one loader of backends: a config's mailbox, calendar source and transport, from agent.backend_table.

In the manner of Radicale's plugin loading: the name a section gives as `backend` is looked
up in the table, the module it names is imported, and that module's `from_config` builds
the backend. Nothing else lists the backends, so there is no chain of ifs to extend, and
only the chosen module is imported: exchangelib, msal or caldav load only when used.
"""

from __future__ import annotations

from importlib import import_module
from typing import cast

from agent.backend_table import BACKENDS, CALENDAR, MAILBOX, TRANSPORT
from agent.calendars.base import CalendarSource
from agent.clock import Clock
from agent.config import Config
from agent.cursors import CursorStore
from agent.errors import ConfigError
from agent.mailboxes.base import Mailbox
from agent.outbox.transports.base import Transport
from agent.outbox.transports.sent_copy import SentCopy


def load(kind: str, name: str, *args: object) -> object | None:
    """Backend `name` of `kind`, built by its module's from_config(*args); None for a choice without one.

    A name the table does not have is a ConfigError naming the kind, the name and the choices
    (load_config refuses it first; this is for configs built in code).
    """
    choices = BACKENDS[kind]
    if name not in choices:
        raise ConfigError(f"[{kind}] backend = {name!r}: not available; expected one of {', '.join(choices)}")
    module = choices[name]
    if module is None:
        return None
    built: object = import_module(module).from_config(*args)
    return built


def load_mailbox(config: Config, cursors: CursorStore) -> Mailbox:
    return cast(Mailbox, load(MAILBOX, config.mailbox.backend, config, cursors))


def load_calendar(config: Config, cursors: CursorStore, clock: Clock | None = None) -> CalendarSource | None:
    """The calendar source, or None when invitations are read from the mailbox ("invites")."""
    return cast("CalendarSource | None", load(CALENDAR, config.calendar.backend, config, cursors, clock))


def load_transport(config: Config) -> Transport:
    """The transport; with `[transport] sent_folder`, wrapped to keep a copy in that IMAP folder."""
    transport = cast(Transport, load(TRANSPORT, config.transport.backend, config))
    folder = config.transport.sent_folder
    if not folder:
        return transport
    # Here, not at the top: only a config with a Sent folder needs imapclient loaded.
    from agent.mailboxes.imap import append_sent

    mailbox = config.mailbox  # load_config made sure it is the imap backend
    return SentCopy(transport, lambda data: append_sent(mailbox, folder, data), folder)
