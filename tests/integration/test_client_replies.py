"""Client replies reach the CSM (issue 18, item 2): by the Reply-To of the agent's emails, and when
the CSM was not among a client message's recipients, forwarded in the pass that read it, threaded
on the client's message, with the client's words, the times they propose, and the client in
Reply-To so that the CSM's answer goes to them."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient

from agent.clock import ManualClock
from agent.config import load_config
from agent.deals import ContactSpec
from tests.conftest import CLIENT, CSM, MANAGER, MONDAY, Harness, write_config
from tests.integration.conftest import PASSWORD, imap_config, smtp_config
from tests.servers import Dovecot, SmtpRelay

AGENT = "Onboarding"
ANSWER = "Tuesday 10:00 or Thursday 14:00 work for us; can we add our IT lead?\n\nJane"
QUOTED = "\n\nOn Mon, 30 Nov 2026 at 09:00, Onboarding wrote:\n> Welcome aboard! Please reply with two or three times."


def intro_of(h: Harness) -> EmailMessage:
    [intro] = [m for m in h.sent() if m["Subject"].startswith("Welcome")]
    return intro


def reply(
    h: Harness, to_email: EmailMessage, recipients: list[tuple[str, str]], body: str = ANSWER + QUOTED
) -> str:
    """The client's reply in the thread of one of the agent's emails."""
    return h.mail(
        CLIENT,
        recipients,
        f"Re: {to_email['Subject']}",
        body,
        headers={"In-Reply-To": to_email["Message-ID"], "References": to_email["Message-ID"]},
    )


def text(m: EmailMessage) -> str:
    return str(m.get_body(("plain",)).get_content()).replace("\r\n", "\n")  # type: ignore[union-attr]


def addresses(m: EmailMessage, header: str) -> list[str]:
    return [a.addr_spec for a in m[header].addresses] if m[header] else []


def test_the_agents_email_to_a_client_names_the_csm_in_reply_to_and_offers_unsubscribe(
    harness: Harness,
) -> None:
    deal_id = harness.add_deal()
    harness.run()
    intro = intro_of(harness)
    token = harness.show(deal_id)["token"]
    # "Reply" reaches the CSM directly, in the client's thread; the agent reads it through the token
    assert addresses(intro, "Reply-To") == [f"onboarding+{token}@example.com", CSM[1]]
    assert intro["List-Unsubscribe"] == f"<mailto:onboarding+{token}@example.com?subject=unsubscribe>"
    assert intro["List-Unsubscribe-Post"] is None  # no HTTPS endpoint to name (docs/outbox.md)


def test_a_reply_to_the_intro_sent_to_the_agent_alone_reaches_the_csm_in_the_same_pass(
    harness: Harness,
) -> None:
    deal_id = harness.add_deal()
    harness.run()
    intro = intro_of(harness)
    before = len(harness.sent())
    client_mid = reply(harness, intro, [(AGENT, harness.reply_address(deal_id))])
    harness.run()
    [forward] = harness.sent()[before:]
    assert addresses(forward, "To") == [CSM[1]]
    body = text(forward)
    assert "Tuesday 10:00 or Thursday 14:00 work for us; can we add our IT lead?" in body
    assert "Times proposed for a call:\n  - Tuesday 10:00\n  - Thursday 14:00" in body
    assert "Welcome aboard" not in body  # the client's words, not the quoted intro
    assert "in reply to the intro email" in body and "Acme Radio" in body
    # threaded on the client's message, and "Reply" answers the client
    assert forward["In-Reply-To"] == client_mid
    assert forward["References"].split() == [intro["Message-ID"], client_mid]
    assert addresses(forward, "Reply-To") == [CLIENT[1]]
    assert forward["Subject"] == f"Re: {intro['Subject']}"  # the client's subject, its tag once
    [logged] = [m for m in harness.show(deal_id)["messages"] if m["subject"].startswith("Re: Welcome")]
    assert logged["direction"] == "inbound"  # still logged on the deal, its rules run


def test_a_reply_that_went_to_the_csm_as_reply_to_says_is_not_sent_twice(harness: Harness) -> None:
    deal_id = harness.add_deal()
    harness.run()
    intro = intro_of(harness)
    before = len(harness.sent())
    reply(harness, intro, [(AGENT, harness.reply_address(deal_id)), CSM])
    harness.run()
    assert harness.sent()[before:] == []
    assert any(m["subject"].startswith("Re: Welcome") for m in harness.show(deal_id)["messages"])


def test_a_new_email_from_the_client_to_the_agent_reaches_the_csm_too(harness: Harness) -> None:
    deal_id = harness.add_deal()
    harness.run()
    before = len(harness.sent())
    harness.mail(CLIENT, [(AGENT, "onboarding@example.com")], "Acme Radio: our IT lead", "Please add Tom.")
    harness.run()
    [forward] = harness.sent()[before:]
    assert addresses(forward, "To") == [CSM[1]] and "Please add Tom." in text(forward)
    assert "in reply to" not in text(forward)  # it answered none of the agent's emails
    assert harness.show(deal_id)["messages"][-1]["subject"] == "Acme Radio: our IT lead"


def test_without_a_csm_the_responsible_person_is_told(harness: Harness) -> None:
    harness.add_deal(roles={"onboarding_manager": MANAGER})
    harness.run()
    before = len(harness.sent())
    harness.mail(CLIENT, [(AGENT, "onboarding@example.com")], "Acme Radio: our IT lead", "Please add Tom.")
    harness.run()
    [forward] = harness.sent()[before:]
    assert addresses(forward, "To") == [MANAGER[1]]


def test_an_out_of_office_or_a_bounce_is_not_forwarded(harness: Harness) -> None:
    deal_id = harness.add_deal()
    harness.run()
    intro = intro_of(harness)
    before = len(harness.sent())
    harness.mail(
        CLIENT,
        [(AGENT, harness.reply_address(deal_id))],
        f"Automatic reply: {intro['Subject']}",
        "I am out of the office until Monday.",
        headers={"Auto-Submitted": "auto-replied", "In-Reply-To": intro["Message-ID"]},
    )
    harness.run()
    assert harness.sent()[before:] == []


def test_forwards_are_not_held_back_by_the_per_recipient_cap(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    cfg.write_text(
        cfg.read_text().replace(
            'timezone = "Europe/London"',
            'timezone = "Europe/London"\nmax_emails_per_recipient_per_day = 1',
            1,
        )
    )
    h = Harness(load_config(cfg), ManualClock(MONDAY))
    deal_id = h.add_deal()
    h.run()
    before = len(h.sent())
    for n in range(3):
        h.mail(CLIENT, [(AGENT, h.reply_address(deal_id))], f"Question {n}", f"Question number {n}?")
        h.run()  # each in the pass that read it, though Sam already had one today
        assert len(h.sent()) == before + n + 1


def test_the_times_a_client_proposes_are_listed_as_written() -> None:
    from agent.replies.proposed_times import proposed_times

    assert proposed_times("How about Thu 3pm-4pm CET, or next Monday at 9am?") == [
        "Thu 3pm-4pm CET",
        "next Monday at 9am",
    ]
    assert proposed_times("3 December at 14:00 or Dec 4th, 10:30; otherwise Mittwoch um 14 Uhr") == [
        "3 December at 14:00",
        "Dec 4th, 10:30",
        "Mittwoch um 14 Uhr",
    ]
    # numbers that are no times for a call
    assert (
        proposed_times("We have 3 users; the invoice of 3.50 is due on 12/11. Call 555-1234 on Tuesday.")
        == []
    )


@pytest.mark.integration
def test_over_imap_and_smtp_a_reply_to_the_agent_alone_lands_in_the_csms_mailbox_answerable_to_the_client(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpRelay, certs: dict[str, Path], user: str
) -> None:
    smtp_part = smtp_config(tmp_path, smtp, certs).read_text()  # then the same folder's config, with IMAP
    cfg = imap_config(tmp_path, dovecot, user, smtp_part[smtp_part.index("[transport]") :])
    h = Harness(load_config(cfg), ManualClock(MONDAY))
    deal_id = h.add_deal(f"Acme Radio {tmp_path.name}", contacts=[ContactSpec(*CLIENT, "client_admin")])
    h.run()
    token = h.show(deal_id)["token"]
    [intro] = [m for m in mailbox(dovecot, "jane") if f"[ref:{token}]" in m["Subject"]]
    assert addresses(intro, "Reply-To") == [f"onboarding+{token}@example.com", CSM[1]]
    # Jane's mail program ignores Reply-To and answers the From: only the agent gets it
    msg = EmailMessage()
    msg["From"] = f"{CLIENT[0]} <{CLIENT[1]}>"
    msg["To"] = f"{AGENT} <onboarding@example.com>"
    msg["Subject"] = f"Re: {intro['Subject']}"
    msg["Message-ID"] = f"<reply-{token}@acme-radio.example>"
    msg["In-Reply-To"] = intro["Message-ID"]
    msg["References"] = intro["Message-ID"]
    msg.set_content(ANSWER + QUOTED)
    dovecot.deliver(user, msg.as_bytes())
    h.at(MONDAY + timedelta(minutes=1))
    h.run()
    [forward] = [m for m in mailbox(dovecot, "sam") if m["In-Reply-To"] == msg["Message-ID"]]
    assert "Thursday 14:00" in text(forward) and "Welcome aboard" not in text(forward)
    assert addresses(forward, "Reply-To") == [CLIENT[1]]  # Sam's "Reply" goes to Jane, in her thread
    assert msg["Message-ID"] in forward["References"]


def mailbox(dovecot: Dovecot, person: str) -> list[EmailMessage]:
    from email.parser import BytesParser
    from email.policy import default

    with IMAPClient("127.0.0.1", dovecot.imap_port, ssl=False) as client:
        client.login(person, PASSWORD)
        client.select_folder("INBOX", readonly=True)
        fetched = client.fetch(client.search(["ALL"]), ["BODY.PEEK[]"])
    return [BytesParser(policy=default).parsebytes(v[b"BODY[]"]) for v in fetched.values()]
