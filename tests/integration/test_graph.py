"""Microsoft 365 through Microsoft Graph: the real msal and Graph client code over real HTTPS.

The server is tests/graph_server.py: recorded response shapes, no tenant. The scenario
assertions are those of the IMAP, SMTP and CalDAV tests: each message processed once,
across restarts, paging, throttling and an expired delta link; each email sent once;
meetings scheduled, held, cancelled and deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import pytest

from agent.clock import ManualClock
from agent.config import load_config
from agent.deals import ContactSpec
from agent.mailboxes.base import MailboxUnavailable
from agent.store.repo import Repo
from tests.conftest import CLIENT, CSM, MONDAY, Harness, ingest_until, subjects, write_config
from tests.conftest import client_email as email
from tests.first_watch import check_history_by_time
from tests.graph_server import CLIENT_ID, SECRET, TENANT, FakeGraph

INTRO_AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def graph(certs: dict[str, Path]) -> Iterator[FakeGraph]:
    server = FakeGraph(certs["cert"], certs["key"])
    yield server
    server.close()


@pytest.fixture
def fresh(graph: FakeGraph) -> FakeGraph:
    """The shared server, emptied (one mailbox, one calendar per test)."""
    graph.mail_changes.clear()
    graph.event_changes.clear()
    graph.sent.clear()
    graph.senders.clear()
    graph.faults.clear()
    graph.requests.clear()
    graph.expire_deltas()
    return graph


def graph_config(tmp_path: Path, graph: FakeGraph, certs: dict[str, Path], secret: str = SECRET) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "client-secret").write_text(secret + "\n")
    (tmp_path / "client-secret").chmod(0o600)
    return write_config(
        tmp_path,
        f"""
[mailbox]
backend = "graph"
poll_seconds = 1
reconnect_max_seconds = 2

[transport]
backend = "graph"
retry_base_seconds = 60

[calendar]
backend = "graph"

[graph]
tenant_id = "{TENANT}"
client_id = "{CLIENT_ID}"
password_file = "{tmp_path / "client-secret"}"
graph_url = "{graph.base}/v1.0"
authority_url = "{graph.base}"
tls_ca_file = "{certs["ca"]}"
""",
    )


def harness(cfg: Path) -> Harness:
    return Harness(load_config(cfg), ManualClock(MONDAY))


def sent(graph: FakeGraph) -> list[EmailMessage]:
    return [BytesParser(policy=default).parsebytes(raw) for raw in graph.sent_messages()]


# --- mail in ---------------------------------------------------------------------------------------
@pytest.mark.integration
def test_mail_is_read_once_across_passes_and_restarts(
    tmp_path: Path, fresh: FakeGraph, certs: dict[str, Path]
) -> None:
    cfg = graph_config(tmp_path, fresh, certs)
    h = harness(cfg)
    h.add_deal()
    fresh.deliver(email("First question"))
    fresh.deliver(email("Second question"))
    assert h.run().messages == 2
    assert h.run().messages == 0
    assert harness(cfg).run().messages == 0  # a restart goes on from the stored delta link
    fresh.deliver(email("Third question"))
    assert harness(cfg).run().messages == 1
    assert subjects(h) == ["First question", "Second question", "Third question"]
    with h.agent.sessions.begin() as s:
        cursor = Repo(s).cursor("graph:onboarding@example.com/inbox") or ""
    assert "$deltatoken=" in cursor  # the round's end is stored like an IMAP cursor


@pytest.mark.integration
def test_pages_of_a_long_backlog_and_a_stop_half_way_lose_and_repeat_nothing(
    tmp_path: Path, fresh: FakeGraph, certs: dict[str, Path]
) -> None:
    cfg = graph_config(tmp_path, fresh, certs)
    h = harness(cfg)
    for n in range(120):
        fresh.deliver(email("Backlog", n=n))
    ingest_until(h, 75)  # then stopped, as SIGTERM would
    assert len(subjects(h)) == 75
    report = harness(cfg).run()  # a new process: the stored link is the end of the last whole page
    assert report.messages == 45 and len(subjects(h)) == 120
    pages = [p for m, p in fresh.requests if "messages/delta" in p]
    assert any("$skiptoken" in p for p in pages)  # it really went through pages


@pytest.mark.integration
def test_mail_received_before_the_first_watch_is_history_and_mail_after_it_is_not(
    tmp_path: Path, fresh: FakeGraph, certs: dict[str, Path]
) -> None:
    cfg = graph_config(tmp_path, fresh, certs)
    check_history_by_time(harness(cfg), lambda: harness(cfg), fresh.deliver)


@pytest.mark.integration
def test_throttling_is_waited_out_when_short_and_backed_off_when_long(
    tmp_path: Path, fresh: FakeGraph, certs: dict[str, Path]
) -> None:
    h = harness(graph_config(tmp_path, fresh, certs))
    h.add_deal()
    fresh.deliver(email("Throttled once"))
    fresh.fail_next("messages/delta", 429, "throttled", {"Retry-After": "1"})
    assert h.run().messages == 1  # waited one second, then read it
    fresh.deliver(email("Throttled for long"))
    fresh.fail_next("messages/delta", 429, "throttled", {"Retry-After": "120"})
    report = h.run()
    assert report.messages == 0 and "recap" not in h.sent_templates()
    with pytest.raises(MailboxUnavailable, match=r"trying again in 1[0-9][0-9] s"):
        list(h.agent.mailbox.fetch())  # not hammered: it waits what the server asked
    with h.agent.sessions.begin() as s:
        assert "ApplicationThrottled" in (Repo(s).cursor("health:mailbox") or "")
    h.agent.mailbox.retry_at = 0.0  # type: ignore[attr-defined]  # two minutes later
    assert h.run().messages == 1


@pytest.mark.integration
def test_an_expired_delta_link_starts_over_without_processing_anything_twice(
    tmp_path: Path, fresh: FakeGraph, certs: dict[str, Path]
) -> None:
    h = harness(graph_config(tmp_path, fresh, certs))
    h.add_deal()
    for n in range(3):
        fresh.deliver(email("Before the expiry", n=n))
    assert h.run().messages == 3
    fresh.expire_deltas()  # the mailbox was moved, or the sync state aged out
    fresh.deliver(email("After the expiry"))
    assert h.run().messages == 1
    assert subjects(h).count("Before the expiry") == 3 and subjects(h)[-1] == "After the expiry"
    assert h.run().messages == 0


@pytest.mark.integration
def test_a_wrong_client_secret_is_a_clear_error_and_nothing_is_lost(
    tmp_path: Path, fresh: FakeGraph, certs: dict[str, Path]
) -> None:
    cfg = graph_config(tmp_path / "wrong", fresh, certs, secret="not-the-secret")
    h = harness(cfg)
    fresh.deliver(email("Waiting for the right secret"))
    h.run()
    with h.agent.sessions.begin() as s:
        health = Repo(s).cursor("health:mailbox") or ""
    assert "invalid_client" in health and "AADSTS7000215" in health
    assert harness(graph_config(tmp_path / "right", fresh, certs)).run().messages == 1


# --- mail out --------------------------------------------------------------------------------------
@pytest.mark.integration
def test_the_intro_is_sent_through_sendmail_once_with_its_headers(
    tmp_path: Path, fresh: FakeGraph, certs: dict[str, Path]
) -> None:
    h = harness(graph_config(tmp_path, fresh, certs))
    deal = h.add_deal()
    fresh.fail_next("sendMail", 503, "service-unavailable", {"Retry-After": "300"})
    h.run()
    [email_row] = h.show(deal)["emails"]
    assert email_row["status"] == "queued" and fresh.sent_messages() == []  # a 503 is retried later
    h.at(MONDAY + timedelta(minutes=3))
    h.run()
    assert fresh.sent_messages() == []  # not before the Retry-After of five minutes
    h.at(MONDAY + timedelta(minutes=7))
    h.run()
    h.run()
    [message] = sent(fresh)
    token = h.show(deal)["token"]
    assert message["Message-ID"] == h.show(deal)["emails"][0]["message_id"]
    assert [a.addr_spec for a in message["To"].addresses] == [CLIENT[1]]
    assert [a.addr_spec for a in message["Cc"].addresses] == [CSM[1]]
    assert message["Reply-To"].addresses[0].addr_spec == f"onboarding+{token}@example.com"
    assert message["Auto-Submitted"] == "auto-generated"


@pytest.mark.integration
def test_a_teams_email_is_sent_from_the_teams_own_mailbox(
    tmp_path: Path, fresh: FakeGraph, certs: dict[str, Path]
) -> None:
    cfg = graph_config(tmp_path, fresh, certs)
    cfg.write_text(cfg.read_text() + '\n[[teams]]\nname = "emea"\naddress = "emea@example.com"\n')
    h = harness(cfg)
    h.add_deal("Zeta Labs", team="emea")
    h.add_deal("Acme Radio")
    h.run()
    # Graph sends as the mailbox in the URL: the team's email must go through the team's
    assert sorted(fresh.senders) == ["emea@example.com", "onboarding@example.com"]
    by_sender = dict(zip(fresh.senders, sent(fresh), strict=True))
    assert by_sender["emea@example.com"]["From"].addresses[0].addr_spec == "emea@example.com"


@pytest.mark.integration
def test_a_permission_missing_on_sendmail_is_told_to_the_csm_once(
    tmp_path: Path, fresh: FakeGraph, certs: dict[str, Path]
) -> None:
    h = harness(graph_config(tmp_path, fresh, certs))
    deal = h.add_deal()
    fresh.fail_next("sendMail", 403, "error-access-denied")
    h.run()
    [row] = [e for e in h.show(deal)["emails"] if e["template"] == "intro"]
    assert row["status"] == "queued"  # an administrator can grant Mail.Send: it keeps trying
    with h.agent.sessions.begin() as s:
        notices = [e for e in Repo(s).outbox_all() if e.template == "notice"]
    assert len(notices) == 1 and "ErrorAccessDenied" in notices[0].body_text


# --- meetings --------------------------------------------------------------------------------------
def event(subject: str, start: datetime, minutes: int = 45, **fields: object) -> dict[str, object]:
    fmt = "%Y-%m-%dT%H:%M:%S.0000000"
    return {
        "subject": subject,
        "start": {"dateTime": f"{start:{fmt}}", "timeZone": "UTC"},
        "end": {"dateTime": f"{start + timedelta(minutes=minutes):{fmt}}", "timeZone": "UTC"},
        "attendees": [
            {
                "type": "required",
                "status": {"response": "accepted", "time": "2026-11-30T09:05:00Z"},
                "emailAddress": {"name": CLIENT[0], "address": CLIENT[1]},
            }
        ],
        **fields,
    }


@pytest.mark.integration
def test_a_call_in_the_calendar_is_held_and_recapped_a_cancelled_one_is_not(
    tmp_path: Path, fresh: FakeGraph, certs: dict[str, Path]
) -> None:
    h = harness(graph_config(tmp_path, fresh, certs))
    deal = h.add_deal()
    fresh.put_event("AAMkEvent1", **event("Acme Radio introduction call", INTRO_AT))
    h.run()
    [meeting] = h.show(deal)["meetings"]
    assert (meeting["type"], meeting["start"]) == ("introduction-call", INTRO_AT.isoformat())
    h.at(INTRO_AT + timedelta(hours=1))
    h.run()
    assert h.stage(deal) == "set-up" and "recap" in h.sent_templates()
    [recap] = [e for e in h.show(deal)["emails"] if e["template"] == "recap"]
    assert recap["message_id"] in [m["Message-ID"] for m in sent(fresh)]  # it went out through Graph

    bravo = ("Bo Brown", "bo@bravo-books.example")
    other = h.add_deal("Bravo Books", contacts=[ContactSpec(bravo[0], bravo[1], "client_admin")])
    call = event("Bravo Books introduction call", INTRO_AT + timedelta(days=2))
    call["attendees"] = [{"type": "required", "emailAddress": {"name": bravo[0], "address": bravo[1]}}]
    fresh.put_event("AAMkEvent2", **call)
    h.run()
    assert [m["status"] for m in h.show(other)["meetings"]] == ["scheduled"]
    fresh.put_event("AAMkEvent2", **call, isCancelled=True)  # the organizer cancels it in Outlook
    h.run()
    h.at(INTRO_AT + timedelta(days=3))
    h.run()
    assert [m["status"] for m in h.show(other)["meetings"]] == ["cancelled"]
    assert h.stage(other) == "introduction-call"
    assert [e["template"] for e in h.show(other)["emails"]].count("recap") == 0


@pytest.mark.integration
def test_a_deleted_event_cancels_the_meeting_and_an_expired_calendar_delta_reads_again(
    tmp_path: Path, fresh: FakeGraph, certs: dict[str, Path]
) -> None:
    h = harness(graph_config(tmp_path, fresh, certs))
    deal = h.add_deal()
    fresh.put_event("AAMkEvent3", **event("Acme Radio introduction call", INTRO_AT))
    h.run()
    fresh.expire_deltas()
    h.run()  # a new round over the window: the same event again, already known
    assert [m["status"] for m in h.show(deal)["meetings"]] == ["scheduled"]
    fresh.remove_event("AAMkEvent3")
    h.run()
    assert [m["status"] for m in h.show(deal)["meetings"]] == ["cancelled"]
    h.at(INTRO_AT + timedelta(hours=1))
    h.run()
    assert "recap" not in h.sent_templates() and h.stage(deal) == "introduction-call"


@pytest.mark.integration
def test_check_connect_signs_in_and_looks_without_reading_or_sending(
    tmp_path: Path, fresh: FakeGraph, certs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.cli import main

    fresh.deliver(email("Left unread"))
    cfg = graph_config(tmp_path, fresh, certs)
    assert main(["--config", str(cfg), "check", "--connect"]) == 0
    out = capsys.readouterr().out
    assert "ok: mailbox: graph:onboarding@example.com/inbox: signed in; 1 messages in Inbox" in out
    assert "ok: calendar: graph-calendar:onboarding@example.com: signed in; calendar Calendar" in out
    assert "ok: transport: graph: signed in; sending as onboarding@example.com" in out
    assert fresh.sent_messages() == [] and not any("/$value" in p or "delta" in p for _, p in fresh.requests)
