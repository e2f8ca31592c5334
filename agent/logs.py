"""Logging for operators: plain or JSON lines, and never a password or token in them.

Secrets come from two places: the config (`secrets_of`, every section that has a secret)
and the run (`add_secret`: access and refresh tokens the agent obtains). Both go into one
process-wide set, so a token learnt after `setup` is redacted from the next line on.

Redaction happens twice. The filter rewrites a record's message and its traceback text
before any handler sees it (so pytest's caplog or a handler a library adds get the
redacted record too); the formatter redacts the whole formatted line again, because
`exc_info` and `stack_info` are formatted after filters run and an exception's text (a URL
with credentials, a library echoing a request) is exactly where secrets hide.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from agent.config import Config, OAuth2Grant, Secret
from agent.errors import ConfigError

MIN_LENGTH = 4  # shorter "secrets" (a PIN, "test") would blank out ordinary words
# What a library may print of a credential the agent never saw: a password in a URL, a bearer token.
_PATTERNS = (
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1***@"),
    (re.compile(r"(\bBearer\s+)[A-Za-z0-9\-._~+/]{8,}=*"), r"\1***"),
)
# The config's secrets are replaced by each setup (a new config, new secrets); those learnt at
# run time stay for the life of the process.
_configured: set[str] = set()
_learned: set[str] = set()
_all: tuple[str, ...] = ()  # both, longest first: a secret containing another is replaced whole
_lock = threading.Lock()


def add_secret(value: str | None) -> None:
    """Redact `value` from every later line (tokens obtained at run time, secrets read late)."""
    if value and len(value) >= MIN_LENGTH and value not in _learned:
        with _lock:
            _learned.add(value)
            _rebuild()


def _configure(secrets: Iterable[str]) -> None:
    with _lock:
        _configured.clear()
        _configured.update(s for s in secrets if s and len(s) >= MIN_LENGTH)
        _rebuild()


def _rebuild() -> None:
    global _all
    _all = tuple(sorted(_configured | _learned, key=len, reverse=True))


def redact(text: str) -> str:
    for secret in _all:  # a tuple, swapped whole: another thread may add a secret meanwhile
        if secret in text:
            text = text.replace(secret, "***")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class Redact(logging.Filter):
    """Replace every known secret (and any a library prints) with *** before a line is written."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        _configure(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            # formatted once here, redacted: standard formatters reuse exc_text instead of formatting again
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class Plain(logging.Formatter):
    """The plain line, redacted as a whole: message, traceback and stack alike."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei))


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info or record.exc_text:
            entry["error"] = redact(record.exc_text or self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        # each field is redacted before encoding: a secret with a quote or backslash in it is
        # escaped in the JSON text and would no longer match there
        return json.dumps(entry, ensure_ascii=False)

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei))


def _sections(node: object) -> Iterator[Secret]:
    """Every section holding a secret, however deep: [[teams]] mailboxes, [[chat.channels]], ..."""
    if isinstance(node, Secret):
        yield node
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _sections(getattr(node, name))
    elif isinstance(node, tuple | list):
        for item in node:
            yield from _sections(item)
    elif isinstance(node, dict):
        for item in node.values():
            yield from _sections(item)


def secrets_of(config: Config) -> list[str]:
    """Every secret the config names, read now (a section added later is covered without a change here)."""
    found = []
    for section in _sections(config):
        readers = [section.password]
        if isinstance(section, OAuth2Grant):
            readers.append(section.oauth2_client_secret)
        for read in readers:
            try:
                secret = read() or ""
            except ConfigError:
                continue  # an unreadable secret is reported where it is used
            found.append(secret)
            if "://" in secret:  # a webhook URL: its path and query are the secret, and are logged alone
                parts = urlsplit(secret)
                found.append(parts.path + ("?" + parts.query if parts.query else ""))
    return [s for s in found if s]


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is now (tests and embedding callers replace it)."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def setup(level: str, fmt: str, secrets: Iterable[str] = ()) -> None:
    """One handler of ours on the root logger (set again, not added twice, when called again)."""
    handler = _Stderr()
    handler.setFormatter(JsonLines() if fmt == "json" else Plain())
    handler.addFilter(Redact(secrets))
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _Stderr)] + [handler]
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
