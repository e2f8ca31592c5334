"""Exchange Server on-premises through EWS: the real exchangelib over real HTTP.

The server is tests/ews_server.py: recorded SOAP responses, no Exchange. The assertions
are those of the IMAP, SMTP and CalDAV tests: each message processed once across passes,
restarts, pages, a refused sync state and ErrorServerBusy; each email sent once, into
Sent Items; meetings scheduled, held, cancelled (IsCancelled) and deleted; a recurring
series' occurrences each with the series' UID.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import pytest

from agent.clock import ManualClock
from agent.config import load_config
from agent.connect import oauth2
from agent.mailboxes.base import MailboxUnavailable
from agent.store.repo import Repo
from tests.conftest import CLIENT, CSM, MONDAY, Harness, ingest_until, subjects, write_config
from tests.conftest import client_email as email
from tests.ews_server import ACCESS_TOKEN, PASSWORD, USER, Appointment, FakeExchange
from tests.first_watch import check_history_by_time
from tests.token_endpoint import RotatingTokenEndpoint

INTRO_AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def ews_server(certs: dict[str, Path]) -> Iterator[FakeExchange]:
    server = FakeExchange(
        certs["cert"], certs["key"], certs["ca"]
    )  # HTTPS, a private CA: tls_ca_file is used
    yield server
    server.close()


@pytest.fixture
def ews(ews_server: FakeExchange) -> FakeExchange:
    s = ews_server
    s.changes.clear()
    s.mime.clear()
    s.calendar.clear()
    s.sent.clear()
    s.busy.clear()
    s.calls.clear()
    s.authorizations.clear()
    s.bearer_tokens = {ACCESS_TOKEN}
    s.expire_sync_states()
    return s


def ews_config(
    tmp_path: Path, ews: FakeExchange, password: str = PASSWORD, auth: str = "basic", more: str = ""
) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "ews-password").write_text(password + "\n")
    (tmp_path / "ews-password").chmod(0o600)
    return write_config(
        tmp_path,
        f"""
[mailbox]
backend = "exchange"
poll_seconds = 1
reconnect_max_seconds = 2

[transport]
backend = "exchange"
retry_base_seconds = 60

[calendar]
backend = "exchange"

[exchange]
url = "{ews.url}"
username = '{USER}'
auth = "{auth}"
version = "15.1"
tls_ca_file = "{ews.ca_file}"
password_file = "{tmp_path / "ews-password"}"
{more}
""",
    )


def harness(cfg: Path) -> Harness:
    return Harness(load_config(cfg), ManualClock(MONDAY))


def health(h: Harness, part: str) -> str:
    with h.agent.sessions.begin() as s:
        return Repo(s).cursor(f"health:{part}") or ""


# --- mail in ---------------------------------------------------------------------------------------
@pytest.mark.integration
def test_mail_is_read_once_across_passes_and_restarts(tmp_path: Path, ews: FakeExchange) -> None:
    cfg = ews_config(tmp_path, ews)
    h = harness(cfg)
    h.add_deal()
    ews.deliver(email("First question"))
    ews.deliver(email("Second question"))
    assert h.run().messages == 2
    assert h.run().messages == 0
    assert harness(cfg).run().messages == 0  # a restart goes on from the stored SyncState
    ews.deliver(email("Third question"))
    assert harness(cfg).run().messages == 1
    assert subjects(h) == ["First question", "Second question", "Third question"]
    assert "SyncFolderItems" in ews.calls and "GetItem" in ews.calls


@pytest.mark.integration
def test_a_backlog_in_pages_and_a_stop_half_way_lose_and_repeat_nothing(
    tmp_path: Path, ews: FakeExchange
) -> None:
    cfg = ews_config(tmp_path, ews)
    h = harness(cfg)
    for n in range(130):
        ews.deliver(email("Backlog", n=n))
    ingest_until(h, 75)  # then stopped, as SIGTERM would
    assert len(subjects(h)) == 75
    report = harness(cfg).run()  # a new process: from the SyncState after the last whole page
    assert report.messages == 55 and len(subjects(h)) == 130
    assert ews.calls.count("SyncFolderItems") >= 3  # pages of 50


@pytest.mark.integration
def test_mail_received_before_the_first_watch_is_history_and_mail_after_it_is_not(
    tmp_path: Path, ews: FakeExchange
) -> None:
    cfg = ews_config(tmp_path, ews)
    check_history_by_time(harness(cfg), lambda: harness(cfg), ews.deliver)


@pytest.mark.integration
def test_server_busy_backs_off_as_long_as_exchange_asks(tmp_path: Path, ews: FakeExchange) -> None:
    h = harness(ews_config(tmp_path, ews))
    h.add_deal()
    h.run()  # the intro goes out
    ews.deliver(email("While busy"))
    ews.busy_next("SyncFolderItems", 297749)  # BackOffMilliseconds, as Exchange words it
    assert h.run().messages == 0
    assert "ErrorServerBusy" in health(h, "mailbox")
    with pytest.raises(MailboxUnavailable, match=r"trying again in (29[7-9]|3[0-5][0-9]) s"):
        list(h.agent.mailbox.fetch())
    h.agent.mailbox.retry_at = 0.0  # type: ignore[attr-defined]  # five minutes later
    assert h.run().messages == 1 and subjects(h) == ["While busy"]


@pytest.mark.integration
def test_a_refused_sync_state_syncs_again_without_processing_anything_twice(
    tmp_path: Path, ews: FakeExchange
) -> None:
    h = harness(ews_config(tmp_path, ews))
    for n in range(3):
        ews.deliver(email("Before", n=n))
    assert h.run().messages == 3
    ews.expire_sync_states()  # ErrorInvalidSyncStateData from now on for the old state
    ews.deliver(email("After"))
    assert h.run().messages == 1
    assert subjects(h) == ["Before", "Before", "Before", "After"]
    assert h.run().messages == 0


@pytest.mark.integration
def test_a_wrong_password_is_a_clear_error(tmp_path: Path, ews: FakeExchange) -> None:
    h = harness(ews_config(tmp_path / "wrong", ews, password="not-it"))
    ews.deliver(email("Waiting"))
    h.run()
    assert "UnauthorizedError" in health(h, "mailbox")
    assert harness(ews_config(tmp_path / "right", ews)).run().messages == 1


# --- mail out --------------------------------------------------------------------------------------
@pytest.mark.integration
def test_the_intro_is_sent_and_saved_once_and_a_busy_server_only_delays_it(
    tmp_path: Path, ews: FakeExchange
) -> None:
    h = harness(ews_config(tmp_path, ews))
    deal = h.add_deal()
    ews.busy_next("CreateItem", 600000)  # ten minutes, longer than the outbox's own first back-off
    h.run()
    [row] = h.show(deal)["emails"]
    assert row["status"] == "queued" and ews.sent == []
    h.at(MONDAY + timedelta(minutes=5))
    h.run()
    assert ews.sent == []  # not before the ten minutes Exchange asked for
    h.at(MONDAY + timedelta(minutes=13))
    h.run()
    h.run()
    [raw] = ews.sent  # CreateItem with SendAndSaveCopy: sent, and kept in Sent Items
    message = BytesParser(policy=default).parsebytes(raw)
    assert message["Message-ID"] == h.show(deal)["emails"][0]["message_id"]
    assert [a.addr_spec for a in message["To"].addresses] == [CLIENT[1]]
    assert [a.addr_spec for a in message["Cc"].addresses] == [CSM[1]]
    assert message["Auto-Submitted"] == "auto-generated"


# --- meetings --------------------------------------------------------------------------------------
def appointment(item_id: str, subject: str, start: datetime, **kw: object) -> Appointment:
    return Appointment(item_id, subject, start, start + timedelta(minutes=45), [CLIENT], **kw)  # type: ignore[arg-type]


@pytest.mark.integration
def test_a_call_is_held_and_recapped_a_cancelled_one_is_not_and_a_deleted_one_is_cancelled(
    tmp_path: Path, ews: FakeExchange
) -> None:
    h = harness(ews_config(tmp_path, ews))
    deal = h.add_deal()
    ews.put_appointment(appointment("AAMkCal1", "Acme Radio introduction call", INTRO_AT, sequence=1))
    h.run()
    [meeting] = h.show(deal)["meetings"]
    assert (meeting["type"], meeting["start"], meeting["status"]) == (
        "introduction-call",
        INTRO_AT.isoformat(),
        "scheduled",
    )
    ews.put_appointment(appointment("AAMkCal2", "Acme Radio training", INTRO_AT + timedelta(days=7)))
    h.run()
    ews.put_appointment(
        appointment(
            "AAMkCal2", "Acme Radio training", INTRO_AT + timedelta(days=7), cancelled=True, sequence=1
        )
    )
    h.run()
    h.at(INTRO_AT + timedelta(hours=1))
    h.run()
    assert h.stage(deal) == "set-up" and h.sent_templates().count("recap") == 1
    statuses = {m["title"]: m["status"] for m in h.show(deal)["meetings"]}
    assert statuses == {"Acme Radio introduction call": "completed", "Acme Radio training": "cancelled"}

    ews.put_appointment(appointment("AAMkCal3", "Acme Radio training session", INTRO_AT + timedelta(days=8)))
    h.run()
    ews.remove_appointment("AAMkCal3")  # deleted in Outlook
    h.run()
    assert {m["title"]: m["status"] for m in h.show(deal)["meetings"]}[
        "Acme Radio training session"
    ] == "cancelled"


@pytest.mark.integration
def test_occurrences_of_a_series_keep_the_series_uid_with_their_recurrence_id(
    tmp_path: Path, ews: FakeExchange
) -> None:
    h = harness(ews_config(tmp_path, ews))
    deal = h.add_deal()
    uid = "040000008200E00074C5B7101A82E00800000000SERIES"
    for week in range(3):
        start = INTRO_AT + timedelta(days=7 * week)
        ews.put_appointment(
            appointment(f"AAMkOcc{week}", "Acme Radio weekly check-in", start, uid=uid, recurrence_id=start)
        )
    h.run()
    meetings = h.show(deal)["meetings"]
    assert {m["uid"] for m in meetings} == {uid} and len({m["recurrence_id"] for m in meetings}) == 3


@pytest.mark.integration
def test_check_connect_signs_in_and_looks_without_reading_or_sending(
    tmp_path: Path, ews: FakeExchange, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.cli import main

    cfg = ews_config(tmp_path, ews)
    assert main(["--config", str(cfg), "check", "--connect"]) == 0
    out = capsys.readouterr().out
    assert "ok: mailbox: ews:onboarding@example.com/INBOX: signed in; 0 messages in Inbox" in out
    assert "ok: calendar: ews-calendar:onboarding@example.com: signed in; calendar Calendar" in out
    assert "ok: transport: ews: signed in; copies go to Sent Items; nothing sent" in out
    assert ews.sent == [] and set(ews.calls) == {"GetFolder"}  # looked, read nothing, sent nothing

    wrong = ews_config(tmp_path / "wrong", ews, password="not-it")
    assert main(["--config", str(wrong), "check", "--connect"]) == 1
    err = capsys.readouterr().err
    assert "error: mailbox: UnauthorizedError" in err and "error: transport: UnauthorizedError" in err


@pytest.mark.integration
def test_oauth2_sends_the_access_token_as_a_bearer_token(tmp_path: Path, ews: FakeExchange) -> None:
    h = harness(ews_config(tmp_path, ews, password=ACCESS_TOKEN, auth="oauth2"))
    ews.deliver(email("Over OAuth2"))
    assert h.run().messages == 1  # the server took nothing but "Bearer <token>"
    wrong = harness(ews_config(tmp_path / "wrong", ews, password="eyJ.expired.sig", auth="oauth2"))
    wrong.run()
    assert "UnauthorizedError" in health(wrong, "mailbox")


@pytest.mark.integration
def test_oauth2_with_a_token_endpoint_renews_the_access_token_and_keeps_each_rotated_refresh_token(
    tmp_path: Path, ews: FakeExchange
) -> None:
    endpoint = RotatingTokenEndpoint()
    endpoint.valid.add("1//configured")
    endpoint.expires_in = int(oauth2.EARLY) + 1  # renewed one second after it is issued
    ews.bearer_tokens |= {f"ya29.access-{n}" for n in range(1, 10)}
    oauth2.forget()
    try:
        more = f'oauth2_token_url = "{endpoint.url}"\noauth2_client_id = "ews-client"'
        h = harness(ews_config(tmp_path, ews, password="1//configured", auth="oauth2", more=more))
        oauth2.keep_tokens_in(h.agent.config.state_dir)
        ews.deliver(email("Before the token expires"))
        assert h.run().messages == 1
        assert set(ews.authorizations) == {"Bearer ya29.access-1"}
        time.sleep(1.2)  # the access token is now due: exchangelib asks for a new one, not the server
        ews.authorizations.clear()
        ews.deliver(email("After it expired"))
        assert h.run().messages == 1
        assert ews.authorizations and set(ews.authorizations) <= {
            "Bearer ya29.access-2",
            "Bearer ya29.access-3",
        }
        assert endpoint.used[:2] == ["1//configured", "1//rotated-1"]  # the rotated one was used next
        (kept,) = (h.agent.config.state_dir / "oauth2").glob("*.json")
        assert json.loads(kept.read_text())["refresh_token"] == f"1//rotated-{len(endpoint.used)}"
    finally:
        endpoint.close()
        oauth2.keep_tokens_in(None)
        oauth2.forget()
