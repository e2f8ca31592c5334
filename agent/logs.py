"""Logging for operators: plain or JSON lines, and never a password or token in them."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from agent.config import Config
from agent.errors import ConfigError


class Redact(logging.Filter):
    """Replace every known secret (and any a library prints) with *** before a line is written."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for secret in self.secrets:
            message = message.replace(secret, "***")
        record.msg, record.args = message, None
        return True


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def secrets_of(config: Config) -> list[str]:
    found = []
    for section in (config.mailbox, config.transport, config.calendar, *config.chat.channels):
        try:
            secret = section.password() or ""
        except ConfigError:
            continue  # an unreadable secret is reported where it is used
        found.append(secret)
        if "://" in secret:  # a webhook URL: its path and query are the secret, and are logged alone
            found.append(
                urlsplit(secret).path + ("?" + urlsplit(secret).query if urlsplit(secret).query else "")
            )
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
    handler.setFormatter(
        JsonLines() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(Redact(secrets))
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _Stderr)] + [handler]
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
