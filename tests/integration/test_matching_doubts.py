"""Matching that doubts, through the whole agent: raw mail delivered into its Maildir.

Closed deals take no new mail unless its thread or token names them; a thread that says one deal
while the people on the message belong to another is asked about, not logged; a client's
subdomain, a contact's plus-address and a Google Group's rewrite of From still find the contact's
deal; an invitation labelled text/x-vCalendar is read as one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from agent.deals import ContactSpec
from agent.simulation import ics_event
from agent.store import models as m
from agent.store.repo import Repo
from tests.conftest import CLIENT, CSM, Harness

AGENT = ("Onboarding", "onboarding@example.com")
GLOBEX = ("Gil Bates", "gil@globex.example")


def questions(h: Harness) -> list[str]:
    """The subjects of the 'which deal' questions the agent sent."""
    return [q["Subject"] for q in h.sent() if "Which deal" in q["Subject"]]


def messages(h: Harness, deal_id: int) -> list[tuple[str, str]]:
    return [(x["subject"], x["match_reason"]) for x in h.show(deal_id)["messages"]]


def unmatched(h: Harness) -> list[tuple[str, str, list[int], str]]:
    """(subject, status, candidates, reason) of each message waiting for a person."""
    with h.agent.sessions.begin() as s:
        return [(x.subject, x.status, list(x.candidates), x.match_reason) for x in Repo(s).unmatched()]


def intro_id(h: Harness, email: str) -> str:
    """The Message-ID of the intro the agent sent to `email`."""
    return next(str(x["Message-ID"]) for x in h.sent() if email in str(x["To"]) and "Welcome" in x["Subject"])


def won_and_new_deal(h: Harness) -> tuple[int, int]:
    """Acme Radio's first onboarding, won, and the same client's second deal with the same contact."""
    won = h.add_deal("Acme Radio")
    h.advance(won, "won")
    new = h.add_deal("Acme Radio Podcasts", account="Acme Radio")
    h.run()
    return won, new


# --- closed deals ---------------------------------------------------------------------------


def test_a_won_deal_does_not_compete_with_the_clients_new_deal_for_new_mail(harness: Harness) -> None:
    won, new = won_and_new_deal(harness)
    harness.mail(CLIENT, [AGENT], "Quick question", "Can we add two more users?")
    harness.run()
    assert questions(harness) == []
    [(subject, reason)] = messages(harness, new)
    assert subject == "Quick question" and "jane@acme-radio.example is a contact" in reason
    assert "closed" in reason  # says why the other deal was left out
    assert all(x["subject"] != "Quick question" for x in harness.show(won)["messages"])


def test_a_reply_in_the_won_deals_own_thread_still_goes_to_it(harness: Harness) -> None:
    won = harness.add_deal("Acme Radio")
    harness.run()
    intro = intro_id(harness, CLIENT[1])
    harness.advance(won, "won")
    new = harness.add_deal("Acme Radio Podcasts", account="Acme Radio")
    harness.run()
    harness.mail(CLIENT, [AGENT], "Re: Welcome", "Thanks again!", headers={"In-Reply-To": intro})
    harness.run()
    assert questions(harness) == []
    assert ("Re: Welcome", "replies in a thread already on the deal") in messages(harness, won)
    assert all(s != "Re: Welcome" for s, _ in messages(harness, new))


def test_mail_that_fits_only_a_won_deal_waits_for_a_person_with_that_deal_as_candidate(
    harness: Harness,
) -> None:
    won = harness.add_deal("Acme Radio")
    harness.advance(won, "won")
    harness.run()
    harness.mail(CLIENT, [AGENT], "Another project", "We would like to talk about a new project.")
    harness.run()
    [(subject, status, candidates, reason)] = unmatched(harness)
    assert (subject, status, candidates) == ("Another project", "unmatched", [won])
    assert "closed" in reason
    assert questions(harness) == []


def test_a_new_meeting_with_the_client_goes_to_the_open_deal(harness: Harness) -> None:
    _, new = won_and_new_deal(harness)
    harness.meeting("kick", "Introduction call", datetime(2026, 12, 1, 14, 0, tzinfo=UTC))
    harness.run()
    assert questions(harness) == []
    assert [mt["title"] for mt in harness.show(new)["meetings"]] == ["Introduction call"]


# --- a thread that says one deal, people who say another ------------------------------------


def globex_and_acme(h: Harness) -> tuple[int, int]:
    acme = h.add_deal("Acme Radio")
    globex = h.add_deal("Globex", contacts=[ContactSpec(GLOBEX[0], GLOBEX[1], "client_admin")])
    h.run()
    return acme, globex


def test_a_thread_of_one_deal_written_by_another_deals_contact_is_asked_about(harness: Harness) -> None:
    acme, globex = globex_and_acme(harness)
    intro = intro_id(harness, CLIENT[1])
    harness.mail(
        GLOBEX,
        [AGENT],
        "Re: Welcome",
        "Our invoices go to finance@globex.example.",
        headers={"In-Reply-To": intro, "References": intro},
    )
    harness.run()
    [(_, status, candidates, reason)] = unmatched(harness)
    assert (status, candidates) == ("held", [acme, globex])
    assert "thread" in reason and "gil@globex.example" in reason
    assert len(questions(harness)) == 1
    assert all(s != "Re: Welcome" for s, _ in messages(harness, acme))


def test_the_thread_decides_when_someone_on_the_message_belongs_to_its_deal(harness: Harness) -> None:
    acme, _ = globex_and_acme(harness)
    intro = intro_id(harness, CLIENT[1])
    harness.mail(
        CLIENT,
        [AGENT],
        "Re: Welcome",
        "Gil from Globex is helping us.",
        cc=[GLOBEX],
        headers={"In-Reply-To": intro, "References": intro},
    )
    harness.run()
    assert questions(harness) == [] and unmatched(harness) == []
    assert ("Re: Welcome", "replies in a thread already on the deal") in messages(harness, acme)


# --- who really wrote it --------------------------------------------------------------------


def test_mail_from_a_subdomain_of_the_clients_domain_finds_the_deal(harness: Harness) -> None:
    acme = harness.add_deal("Acme Radio")
    harness.run()
    harness.mail(
        ("Ivan IT", "ivan@it.acme-radio.example"), [AGENT], "SSO settings", "Which IdP do you support?"
    )
    harness.run()
    [(subject, reason)] = messages(harness, acme)
    assert subject == "SSO settings"
    assert reason == "it.acme-radio.example is a subdomain of the client's domain acme-radio.example"


def test_a_lookalike_domain_is_not_a_subdomain(harness: Harness) -> None:
    harness.add_deal("Acme Radio")
    harness.run()
    harness.mail(("Mallory", "m@notacme-radio.example"), [AGENT], "SSO settings", "Hello")
    harness.run()
    [(subject, _, candidates, _)] = unmatched(harness)
    assert (subject, candidates) == ("SSO settings", [])


def test_a_contacts_plus_address_finds_their_deal(harness: Harness) -> None:
    deal = harness.add_deal(
        "Solo Consulting", contacts=[ContactSpec("Pat Solo", "pat.solo@gmail.com", "client_admin")]
    )
    harness.run()
    harness.mail(
        ("Pat Solo", "pat.solo+vendors@gmail.com"), [AGENT], "Invoice address", "Please use this one."
    )
    harness.run()
    [(subject, reason)] = messages(harness, deal)
    assert subject == "Invoice address"
    assert reason == "pat.solo+vendors@gmail.com is pat.solo@gmail.com, a contact on the deal"


def group_post(sender_name: str, person: str, *, reply_to: bool = True) -> bytes:
    """A post as Google Groups relays it for a sender whose domain asks for DMARC: From rewritten."""
    msg = EmailMessage()
    msg["From"] = f"'{sender_name}' via Acme Onboarding <acme-onboarding@googlegroups.com>"
    msg["To"] = "Acme Onboarding <acme-onboarding@googlegroups.com>"
    msg["Cc"] = "Onboarding <onboarding@example.com>"
    if reply_to:
        msg["Reply-To"] = f"{sender_name} <{person}>"
    msg["X-Original-From"] = f"{sender_name} <{person}>"
    msg["X-Original-Sender"] = person
    msg["Subject"] = "Training dates"
    msg["Message-ID"] = "<CAF-group-1@mail.gmail.com>"
    msg["Date"] = format_datetime(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    msg["Precedence"] = "list"
    msg["Mailing-list"] = (
        "list acme-onboarding@googlegroups.com; contact acme-onboarding+owners@googlegroups.com"
    )
    msg["List-ID"] = "<acme-onboarding.googlegroups.com>"
    msg["List-Post"] = (
        "<https://groups.google.com/group/acme-onboarding/post>, <mailto:acme-onboarding@googlegroups.com>"
    )
    msg["List-Unsubscribe"] = "<mailto:googlegroups-manage+1+unsubscribe@googlegroups.com>"
    msg.set_content("Could we do the training on Thursday?\n\nJane")
    return msg.as_bytes()


def test_a_google_group_post_is_the_persons_mail_on_their_deal(harness: Harness) -> None:
    acme = harness.add_deal("Acme Radio")
    harness.run()
    harness.deliver(group_post(CLIENT[0], CLIENT[1]))
    harness.run()
    [row] = [x for x in harness.show(acme)["messages"] if x["subject"] == "Training dates"]
    assert "jane@acme-radio.example" in row["match_reason"]
    with harness.agent.sessions.begin() as s:
        [stored] = [x for x in Repo(s).messages_for(acme) if x.subject == "Training dates"]
        assert (stored.kind, stored.status) == ("normal", "matched")  # read and acted on, not ignored bulk


def test_a_group_post_that_names_the_person_only_in_x_original_from_is_on_their_deal(
    harness: Harness,
) -> None:
    acme = harness.add_deal("Acme Radio")
    harness.run()
    harness.deliver(group_post(CLIENT[0], CLIENT[1], reply_to=False))  # Reply-To left to the group
    harness.run()
    assert unmatched(harness) == []  # before: kept for a person, the matcher did not read the header
    [row] = [x for x in harness.show(acme)["messages"] if x["subject"] == "Training dates"]
    assert "jane@acme-radio.example" in row["match_reason"]


def test_x_original_from_on_a_direct_message_is_not_believed(harness: Harness) -> None:
    harness.add_deal("Acme Radio")
    harness.run()
    forged = group_post("Mallory", "mallory@strangers.example", reply_to=False).replace(
        b"List-ID: <acme-onboarding.googlegroups.com>\n", b""
    )
    forged = forged.replace(
        b"X-Original-From: Mallory <mallory@strangers.example>", b"X-Original-From: " + CLIENT[1].encode()
    )
    assert b"List-ID" not in forged
    harness.deliver(forged)
    harness.run()
    assert [(s, st) for s, st, _, _ in unmatched(harness)] == [("Training dates", "unmatched")]


def test_a_google_group_post_relayed_for_the_agent_itself_is_never_acted_on(harness: Harness) -> None:
    acme = harness.add_deal("Acme Radio")
    harness.run()
    harness.deliver(group_post("Onboarding", "onboarding@example.com", reply_to=False))
    harness.run()
    with harness.agent.sessions.begin() as s:
        rows = [x for x in s.query(m.Message).all() if x.subject == "Training dates"]
        assert [(x.status, x.kind) for x in rows] == [("ignored", "bulk")]
    assert all(x["subject"] != "Training dates" for x in harness.show(acme)["messages"])


# --- calendar labels ------------------------------------------------------------------------


def test_a_forwarded_invitation_labelled_text_x_vcalendar_is_read(harness: Harness) -> None:
    acme = harness.add_deal("Acme Radio")
    harness.run()
    start = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    ics = ics_event("fwd-vcal@acme-radio.example", "Introduction call", start, stamp=harness.clock.now())
    msg = EmailMessage()
    msg["From"] = f"{CSM[0]} <{CSM[1]}>"
    msg["To"] = f"{AGENT[0]} <{AGENT[1]}>"
    msg["Subject"] = "Fwd: Introduction call"
    msg["Message-ID"] = "<fwd-vcal@example.com>"
    msg["Date"] = format_datetime(harness.clock.now())
    msg.set_content(
        "---------- Forwarded message ---------\n"
        f"From: {CLIENT[0]} <{CLIENT[1]}>\nSubject: Introduction call\nTo: {CSM[1]}\n\nSee you then."
    )
    msg.add_attachment(ics.encode(), maintype="text", subtype="x-vCalendar", filename="invite.vcs")
    harness.deliver(msg.as_bytes())
    harness.run()
    assert [mt["title"] for mt in harness.show(acme)["meetings"]] == ["Introduction call"]
    with harness.agent.sessions.begin() as s:
        [stored] = [x for x in Repo(s).messages_for(acme) if x.subject == "Fwd: Introduction call"]
        assert stored.kind == "invitation"
