"""CalDAV (the caldav library): the calendar collection at `[calendar] url`, synced incrementally.

RFC 6578 sync: the sync token is kept in the store and moved only after the
changes it covers were processed; a token the server no longer knows makes
the library fetch everything again, and the meeting keys in the store keep
that from doing anything twice. An event deleted on the server cancels the
meeting it was (DELETE is how many clients cancel).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import Any

import caldav
import requests

from agent.calendars.base import CalendarObject
from agent.clock import Clock
from agent.config import CalendarSection, Config
from agent.connect.oauth2 import access_token
from agent.cursors import CursorStore

log = logging.getLogger(__name__)
DAV_CLIENT: Any = caldav.DAVClient  # caldav exports it lazily; mypy sees an `object`


def from_config(config: Config, cursors: CursorStore, clock: Clock | None) -> CaldavCalendar:
    """The collection at [calendar] url; the server's sync token says what changed, so no clock is needed."""
    return CaldavCalendar(config.calendar, cursors)


class CaldavCalendar:
    name = "caldav"

    def __init__(self, settings: CalendarSection, cursors: CursorStore) -> None:
        self.s = settings
        self.cursors = cursors
        self.source = f"caldav:{settings.username}@{settings.url}"

    def _calendar(self) -> Any:
        s = self.s
        verify: bool | str = str(s.tls_ca_file) if s.tls_ca_file else s.tls_verify
        # xoauth2 (Google Calendar): an OAuth2 access token, sent as a Bearer token
        login: dict[str, Any] = (
            {"auth": _Bearer(access_token(s))}
            if s.auth == "xoauth2"
            else {"username": s.username or None, "password": s.password()}
        )
        client = DAV_CLIENT(
            url=s.url,
            timeout=int(s.timeout_seconds),
            ssl_verify_cert=verify,
            **login,
        )
        return client.calendar(url=s.url)

    def probe(self) -> str:
        calendar = self._calendar()
        return f"{self.source}: reachable; calendar {calendar.get_display_name() or calendar.url}"

    def poll(self) -> Iterator[CalendarObject]:
        token = self.cursors.get(self.source)
        calendar = self._calendar()
        # caldav 1.x (pyproject.toml says why) names it objects_by_sync_token
        try:
            changes = calendar.objects_by_sync_token(sync_token=token or None, load_objects=True)
        except caldav.lib.error.DAVError as exc:
            if not token:
                raise
            # A server refuses a token it no longer knows (RFC 6578 3.2: 403 valid-sync-token), and
            # caldav 1.x does not fall back itself: fetch everything again; the meeting keys in the
            # store make that repeat nothing. A real failure fails again here and is raised.
            log.info("%s: sync token refused (%s); reading the whole calendar again", self.source, exc)
            changes = calendar.objects_by_sync_token(sync_token=None, load_objects=True)
        for obj in changes:
            url = str(obj.url)
            data = obj.data
            if not data:
                yield CalendarObject(f"caldav-deleted:{url}:{token}", url, b"", deleted=True)
                continue
            raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
            yield CalendarObject(f"caldav:{url}:{hashlib.sha256(raw).hexdigest()[:32]}", url, raw)
        # Every change was handed over (and processed) before the generator got here.
        self.cursors.set(self.source, str(changes.sync_token))


class _Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request
