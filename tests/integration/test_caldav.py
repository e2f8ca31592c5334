"""Meetings from a real CalDAV server (Radicale, started by the tests), synced by sync token."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import caldav
import pytest

from agent.clock import ManualClock
from agent.config import load_config
from agent.simulation import ics_event
from agent.store.repo import Repo
from tests.conftest import CLIENT, Harness, write_config
from tests.servers import Radicale

INTRO_AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
_calendars = itertools.count(1)


@pytest.fixture
def calendar(radicale: Radicale) -> Any:
    dav_client: Any = caldav.DAVClient  # exported lazily: mypy sees an `object`
    client = dav_client(url=radicale.url, username=radicale.user, password=radicale.password)
    return client.principal().make_calendar(name=f"onboarding-{next(_calendars)}")


def event(uid: str, title: str, start: datetime, *, sequence: int = 0, minutes: int = 45) -> str:
    # a calendar server's copy has no METHOD; each new version has a later DTSTAMP
    return ics_event(
        uid,
        title,
        start,
        minutes,
        stamp=datetime(2026, 11, 30, 9, sequence, tzinfo=UTC),
        sequence=sequence,
        method="",
    )


def harness(tmp_path: Path, radicale: Radicale, calendar: Any) -> Harness:
    (tmp_path / "dav-password").write_text(radicale.password + "\n")
    (tmp_path / "dav-password").chmod(0o600)
    cfg = write_config(
        tmp_path,
        f"""
[calendar]
backend = "caldav"
url = "{calendar.url}"
username = "{radicale.user}"
password_file = "{tmp_path / "dav-password"}"
timeout_seconds = 10
""",
    )
    h = Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))
    h.add_deal()
    return h


@pytest.mark.integration
def test_a_call_on_the_caldav_calendar_is_scheduled_held_and_recapped(
    tmp_path: Path, radicale: Radicale, calendar: Any
) -> None:
    h = harness(tmp_path, radicale, calendar)
    calendar.save_event(event("dav-intro@example.com", "Acme Radio introduction call", INTRO_AT))
    assert h.run().meetings == 1
    [meeting] = h.show(1)["meetings"]
    assert (meeting["type"], meeting["status"]) == ("introduction-call", "scheduled")
    assert h.run().meetings == 0  # the sync token: nothing changed, nothing fetched again
    h.at(INTRO_AT + timedelta(hours=1))
    h.run()
    assert h.sent_templates() == ["intro", "recap"] and h.stage(1) == "set-up"


@pytest.mark.integration
def test_a_moved_call_fires_only_at_its_new_time(tmp_path: Path, radicale: Radicale, calendar: Any) -> None:
    h = harness(tmp_path, radicale, calendar)
    calendar.save_event(event("dav-move@example.com", "Acme Radio intro", INTRO_AT))
    h.run()
    later = INTRO_AT + timedelta(days=1)
    obj = calendar.event_by_uid("dav-move@example.com")
    obj.data = event("dav-move@example.com", "Acme Radio intro", later, sequence=1)
    obj.save()
    assert h.run().meetings == 1
    h.at(INTRO_AT + timedelta(hours=2))
    h.run()
    assert h.sent_templates() == ["intro"]
    h.at(later + timedelta(hours=1))
    h.run()
    assert h.sent_templates() == ["intro", "recap"]


@pytest.mark.integration
def test_an_event_deleted_on_the_server_cancels_the_call(
    tmp_path: Path, radicale: Radicale, calendar: Any
) -> None:
    h = harness(tmp_path, radicale, calendar)
    calendar.save_event(event("dav-gone@example.com", "Acme Radio intro", INTRO_AT))
    h.run()
    calendar.event_by_uid("dav-gone@example.com").delete()
    h.run()
    assert h.show(1)["meetings"][0]["status"] == "cancelled"
    h.at(INTRO_AT + timedelta(hours=2))
    h.run()
    assert h.sent_templates() == ["intro", "notice"]  # no recap; the CSM is told (rule intro-cancelled)


@pytest.mark.integration
def test_a_refused_sync_token_means_a_full_resync_that_repeats_nothing(
    tmp_path: Path, radicale: Radicale, calendar: Any
) -> None:
    h = harness(tmp_path, radicale, calendar)
    calendar.save_event(event("dav-resync@example.com", "Acme Radio intro", INTRO_AT))
    h.run()
    source = h.agent.calendar.source  # type: ignore[union-attr]
    with h.agent.sessions.begin() as s:
        Repo(s).set_cursor(source, "http://radicale.org/ns/sync/unknown-token", h.clock.now())
    h.run()  # the server refuses the token: everything is fetched again
    with h.agent.sessions.begin() as s:
        token = Repo(s).cursor(source)
    assert token and "unknown-token" not in token
    assert len(h.show(1)["meetings"]) == 1
    assert [e["kind"] for e in h.show(1)["events"]].count("meeting_scheduled") == 1


@contextmanager
def answering(status: int, seen: list[str]) -> Iterator[str]:
    """A server that answers every request with `status`, keeping each Authorization header; its URL."""

    class Handler(BaseHTTPRequestHandler):
        def handle_one_request(self) -> None:  # every method, every path
            self.raw_requestline = self.rfile.readline()
            if not self.parse_request():
                return
            seen.append(self.headers.get("Authorization", ""))
            self.send_error(status)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/c/"
    finally:
        server.shutdown()


def test_a_calendar_server_answering_500_does_not_stop_mail_or_sending(tmp_path: Path) -> None:
    with answering(500, []) as url:
        cfg = write_config(tmp_path, f'[calendar]\nbackend = "caldav"\nurl = "{url}"\n')
        h = Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))
        h.add_deal()
        h.mail(CLIENT, [("Agent", "onboarding@example.com")], "A question")
        h.run()
    # the outbox went on: the intro, and the client's message to the CSM
    assert h.sent_templates() == ["intro", "client-reply"]
    assert [m["subject"] for m in h.show(1)["messages"]] == ["A question"]  # and so did the mail
    with h.agent.sessions.begin() as s:
        health = Repo(s).cursor("health:calendar") or ""
    assert "500" in health


def test_with_xoauth2_the_access_token_goes_as_a_bearer_token(tmp_path: Path) -> None:
    """Google Calendar's CalDAV takes an OAuth2 access token (docs/gmail.md); no password is sent."""
    seen: list[str] = []
    (tmp_path / "token").write_text("ya29.test-access-token\n")
    (tmp_path / "token").chmod(0o600)
    with answering(401, seen) as url:
        cfg = write_config(
            tmp_path,
            f'[calendar]\nbackend = "caldav"\nurl = "{url}"\n'
            f'auth = "xoauth2"\nusername = "onboarding@example.com"\npassword_file = "{tmp_path / "token"}"\n',
        )
        Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))).run()
    assert seen and set(seen) == {"Bearer ya29.test-access-token"}
