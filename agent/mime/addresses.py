"""Addresses out of header values: the strict header's, and the loose ones of quoted and forwarded text.

A header value goes through the email package's parsers (with a fast path for the plain
common case); text that people's clients printed in a forwarded block is read leniently,
the way those clients write it. Addresses come out lower-cased, names decoded and repaired.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email import policy
from email.utils import getaddresses

from agent.domain import Address
from agent.mime.text import decode_words, repair_mojibake, scrub

_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_MAILTO = re.compile(r"[\[<(]\s*mailto:\s*([^\]>)\s]+)\s*[\]>)]", re.IGNORECASE)


# The default policy's address parser takes some four hundred bytes of memory per byte of the
# value (and recurses on nested comments): a long list is parsed address by address, and one
# "address" longer than any real one is read leniently (agent.mime.limits allows 64 KB lines).
_WHOLE = 8 * 1024
_ONE = 2 * 1024


def address_list(value: str) -> list[Address]:
    """Addresses of one header value, with decoded display names and lower-cased addr-specs."""
    simple = _simple_list(value)
    if simple is not None:
        return simple
    if len(value) <= _WHOLE:
        return parsed_list(value)
    found: dict[str, Address] = {}
    for piece, _ in _split_list(value):
        for address in parsed_list(piece) if len(piece) <= _ONE else loose_addresses(piece):
            found.setdefault(address.email, address)
    return list(found.values())


def parsed_list(value: str) -> list[Address]:
    """address_list() through the email package's parsers, whatever the header holds."""
    strict: list[tuple[str, str]] = []
    defects = True
    try:
        header = policy.default.header_factory("to", value)
        strict = [(a.display_name, a.addr_spec) for a in getattr(header, "addresses", ())]
        defects = bool(header.defects)
    except Exception:  # the default policy raises IndexError on e.g. "a@b.c, <"
        pass
    pairs = _valid(strict)
    if defects:
        # compat32 splits on ";" and keeps "(comment)" names; take it when it finds more.
        try:
            loose = _valid((decode_words(name), addr) for name, addr in getaddresses([value]))
        except RecursionError:  # comments nested a few hundred deep
            loose = []
        if sum("@" in a for _, a in loose) > sum("@" in a for _, a in pairs):
            pairs = loose
    return [Address(email=addr.lower(), name=_clean_name(name, addr)) for name, addr in pairs]


# `Name <a@b.c>` or `a@b.c` with a plain ASCII name: nothing there for a parser to decode or repair.
_ADDR_SPEC = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_SIMPLE = re.compile(rf"\s*(?:([A-Za-z0-9 .'_-]*?)\s*<({_ADDR_SPEC})>|({_ADDR_SPEC}))\s*")


def _simple_list(value: str) -> list[Address] | None:
    """The common case without the default policy's header parser (a fifth of parsing a message).

    None when any item is not that simple: quotes, comments, encoded words, groups, 8-bit text.
    """
    found = []
    for item in value.split(","):
        match = _SIMPLE.fullmatch(item)
        if match is None:
            return None
        name, bracketed, bare = match.groups()
        addr = bracketed or bare
        found.append(Address(email=addr.lower(), name=_clean_name(name or "", addr)))
    return found


def _valid(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(n, a.strip()) for n, a in pairs if a.strip() and a.strip() != "<>" and not re.search(r"\s", a)]


def _clean_name(name: str, email: str) -> str:
    name = re.sub(r"[ \t]+", " ", repair_mojibake(scrub(name))).strip("'\" ")
    return "" if name.lower() == email.lower() else name


def loose_addresses(value: str) -> tuple[Address, ...]:
    """Addresses as mail clients print them in quoted or forwarded headers.

    Handles ``Jane Doe <jane@x.com>``, ``"Doe, Jane" <jane@x.com>``, bare
    addresses, Outlook's ``Jane Doe [mailto:jane@x.com]`` and ";" separators.
    """
    found: dict[str, Address] = {}
    carry = ""
    for piece, separator in _split_list(_MAILTO.sub(r"<\1>", value)):
        piece = carry + piece
        match = _EMAIL.search(piece)
        if not match:
            # "Doe, Jane <j@x.com>" unquoted: the comma was part of the name.
            carry = piece + separator if separator == "," else ""
            continue
        carry = ""
        email = match.group(0).lower()
        name = piece[: piece.index("<")] if "<" in piece[: match.start()] else ""
        found.setdefault(email, Address(email=email, name=_clean_name(name, email)))
    return tuple(found.values())


def _split_list(value: str) -> list[tuple[str, str]]:
    """Split on "," and ";" outside quotes and angle brackets; pairs of (piece, separator)."""
    pieces: list[tuple[str, str]] = []
    current: list[str] = []
    quoted, depth = False, 0
    for char in value:
        if char == '"':
            quoted = not quoted
        elif char == "<" and not quoted:
            depth += 1
        elif char == ">" and not quoted:
            depth = max(0, depth - 1)
        elif char in ",;" and not quoted and depth == 0:
            pieces.append(("".join(current), char))
            current = []
            continue
        current.append(char)
    pieces.append(("".join(current), ""))
    return pieces


def message_ids(value: str) -> tuple[str, ...]:
    """Message-IDs in a header, with angle brackets, in order and without repeats."""
    ids = re.findall(r"<[^<>\s]+>", value)
    if not ids:  # some clients drop the brackets
        ids = [f"<{token.strip('<>')}>" for token in re.split(r"[\s,]+", value) if "@" in token]
    return tuple(dict.fromkeys(ids))


_MESSAGE_ID_HEADER = re.compile(rb"^message-id[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
_PEOPLE_HEADERS = re.compile(
    rb"^(?:from|to|cc|reply-to|sender)[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE
)


def header_message_id(raw: bytes) -> str | None:
    """The Message-ID a raw message's header names, found without parsing it (None: none found).

    A guess, for a look-ahead (agent.daemon.group): it asks the store about this id before the
    message is parsed, and what the parser makes of the header is only ever compared with it.
    """
    found = _MESSAGE_ID_HEADER.search(_head(raw))
    ids = message_ids(found.group(1).decode("ascii", "replace")) if found else ()
    return ids[0] if ids else None


def header_addresses(raw: bytes) -> set[str]:
    """The addresses (lower case) a raw message's From, To, Cc, Reply-To and Sender name, found
    without parsing it: a guess for a look-ahead, as `header_message_id` (an encoded or odd one
    may be missing; the store is then asked about it when the message's turn comes)."""
    found: set[str] = set()
    for value in _PEOPLE_HEADERS.findall(_head(raw)):
        found.update(e.lower() for e in _EMAIL.findall(value.decode("ascii", "replace")))
    return found


def _head(raw: bytes) -> bytes:
    """The header: up to the first blank line, CRLF or bare LF.

    The kind of line end the first line has is looked for first, and the other only as far as that
    one was found: searching a message through for the kind it does not use cost 5 % of a backlog's
    ingest (a 100 KB message searched twice)."""
    first = raw.find(b"\n")
    kinds = (
        (b"\r\n\r\n", b"\n\n") if first > 0 and raw[first - 1 : first] == b"\r" else (b"\n\n", b"\r\n\r\n")
    )
    found = raw.find(kinds[0])
    other = raw.find(kinds[1], 0, found if found >= 0 else len(raw))
    return raw[: min(i for i in (found, other, len(raw)) if i >= 0)]
