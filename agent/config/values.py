"""Checks of single values that several sections share: addresses, time zones, ports, weekdays, backends.

Each raises ValueError with what was expected; load_config adds the file, line, key and value.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from functools import partial
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field

from agent.backend_table import CALENDAR, MAILBOX, TRANSPORT, names

Port = Annotated[int, Field(ge=1, le=65535)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def check_address(value: str) -> str:
    """An addr-spec as email headers need it; raises ValueError naming what is wrong."""
    from email.errors import HeaderParseError
    from email.headerregistry import Address

    value = value.strip()
    try:
        parsed = Address(addr_spec=value)
    except (HeaderParseError, ValueError, IndexError) as exc:
        raise ValueError("expected an email address like name@example.com") from exc
    if not parsed.domain or "." not in parsed.domain or parsed.addr_spec != value:
        raise ValueError("expected an email address like name@example.com")
    return value.lower()


def check_ip(value: str) -> str:
    """An IP address a server listens on, written the standard way."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("not an IP address; expected one like 127.0.0.1, 0.0.0.0 or ::1") from None


BindAddress = Annotated[str, AfterValidator(check_ip)]


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("expected an IANA time zone name such as Europe/London") from exc
    return name


def check_backend(kind: str, value: object) -> object:
    """A backend name of agent.backend_table for `kind` ("mailbox", "calendar", "transport")."""
    choices = names(kind)
    if value not in choices:
        # The words pydantic uses for a choice of literals: what people (and tests) already read.
        quoted = [repr(name) for name in choices]
        listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
        raise ValueError(f"Input should be {listed}")
    return value


# A section's `backend`: a plain string checked against agent.backend_table (not a Literal, so
# that a new backend is one line in the table and nothing here).
MailboxBackend = Annotated[str, BeforeValidator(partial(check_backend, MAILBOX))]
CalendarBackend = Annotated[str, BeforeValidator(partial(check_backend, CALENDAR))]
TransportBackend = Annotated[str, BeforeValidator(partial(check_backend, TRANSPORT))]


_NAMED = re.compile(r'\s*(?:"(?P<quoted>[^"]*)"|(?P<name>[^"<>]*?))\s*<\s*(?P<email>[^<>\s]+)\s*>\s*')


def parse_person(text: str, what: str) -> tuple[str, str]:
    """(name, email) from 'email', 'Name <email>' or '"Doe, Jane" <email>'; the address is checked later."""
    found = _NAMED.fullmatch(text)
    if found:
        return (found.group("quoted") or found.group("name") or "").strip(), found.group("email")
    if "<" in text or ">" in text or len(text.split()) > 1:
        raise ValueError(f"{what}: {text!r}: expected 'email' or 'Name <email>'")
    return "", text.strip()


def check_patterns(patterns: Iterable[str]) -> None:
    """Regular expressions a person wrote (meeting titles, severity words): each must compile."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from exc
