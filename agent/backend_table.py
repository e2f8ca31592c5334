"""Every backend the agent has, by kind and name: the one table the loader and config validation read.

kind -> the name given as `backend = ...` in that section -> the module that builds it. A
new backend is its module plus one line here: agent.backends finds and calls the module's
`from_config`, and agent.config accepts the name. Each kind's `from_config` has one shape:

    mailbox    from_config(config, cursors) -> Mailbox
    calendar   from_config(config, cursors, clock) -> CalendarSource   (clock: None for the system's)
    transport  from_config(config) -> Transport

A name mapped to None is a choice without a backend: calendar "invites" reads no calendar,
because invitations come with the mail. The modules are named, not imported, so that this
table imports nothing: config can read it without depending on any backend. The order of
the names is the order error messages list them in.
"""

from __future__ import annotations

from typing import Final

MAILBOX: Final = "mailbox"
CALENDAR: Final = "calendar"
TRANSPORT: Final = "transport"

BACKENDS: Final[dict[str, dict[str, str | None]]] = {
    MAILBOX: {
        "maildir": "agent.mailboxes.maildir",
        "imap": "agent.mailboxes.imap",
        "exchange": "agent.mailboxes.exchange",
        "graph": "agent.mailboxes.graph",
    },
    TRANSPORT: {
        "file": "agent.outbox.transports.file",
        "smtp": "agent.outbox.transports.smtp",
        "exchange": "agent.outbox.transports.exchange",
        "graph": "agent.outbox.transports.graph",
    },
    CALENDAR: {
        "ics": "agent.calendars.ics_folder",
        "invites": None,
        "caldav": "agent.calendars.caldav_source",
        "exchange": "agent.calendars.exchange",
        "graph": "agent.calendars.graph",
    },
}


def names(kind: str) -> tuple[str, ...]:
    """The backend names of one kind, in the table's order."""
    return tuple(BACKENDS[kind])
