"""Opt-out (issue 18, item 5): "Unsubscribe" replies and the List-Unsubscribe mailto mark the contact;
surveys and reminders never go to them again, other emails only once the CSM confirms; the CSM is told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from agent.deals import ContactSpec
from agent.replies.opt_out_words import opt_out_words
from agent.store.repo import Repo
from tests.conftest import CLIENT, CSM, Harness

LAUNCH_AT = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # a Tuesday: the final onboarding call
SURVEYS_DUE = datetime(2026, 12, 9, 10, 1, tzinfo=UTC)
BOB = ("Bob Roe", "bob@acme-radio.example")
AGENT = "Onboarding"


def final_call(h: Harness) -> None:
    """The learner launch is held: the completion email goes, the survey waits for the next day."""
    h.meeting("launch", "Acme Radio learner launch", LAUNCH_AT, 60)
    h.run()
    h.at(LAUNCH_AT + timedelta(minutes=80))
    h.run()


def unsubscribe(h: Harness, deal_id: int, who: tuple[str, str] = CLIENT, body: str = "") -> None:
    """What a mail program sends for the List-Unsubscribe mailto of the agent's emails."""
    token = h.show(deal_id)["token"]
    h.mail(who, [(AGENT, f"onboarding+{token}@example.com")], "unsubscribe", body)
    h.run()


def emails(h: Harness, deal_id: int, template: str) -> list[dict[str, object]]:
    return [e for e in h.show(deal_id)["emails"] if e["template"] == template]


def statuses(h: Harness, deal_id: int, template: str) -> dict[tuple[str, ...], str]:
    """Each email of the template by its recipients: its status."""
    return {
        tuple(str(a) for a in e["to"]): str(e["status"])
        for e in h.show(deal_id)["emails"]
        if e["template"] == template
    }


def events(h: Harness, deal_id: int, kind: str) -> list[str]:
    return [e["reason"] for e in h.show(deal_id)["events"] if e["kind"] == kind]


def text(m: EmailMessage) -> str:
    return str(m.get_body(("plain",)).get_content()).replace("\r\n", "\n")  # type: ignore[union-attr]


def answer(h: Harness, request: EmailMessage, body: str) -> None:
    """The CSM answers a request of the agent's."""
    h.mail(
        CSM,
        [(AGENT, "onboarding@example.com")],
        f"Re: {request['Subject']}",
        f"{body}\n\nSam",
        headers={"In-Reply-To": request["Message-ID"], "References": request["Message-ID"]},
    )
    h.run()


def test_an_unsubscribe_reply_stops_the_survey_already_written_and_the_csm_is_told(harness: Harness) -> None:
    deal_id = harness.add_deal(stage="training")
    final_call(harness)
    [completion] = [m for m in harness.sent() if "complete" in m["Subject"]]
    assert [e["status"] for e in emails(harness, deal_id, "survey")] == ["queued"]
    before = len(harness.sent())
    harness.mail(
        CLIENT,
        [(AGENT, harness.reply_address(deal_id))],
        f"Re: {completion['Subject']}",
        "Unsubscribe. Please stop emailing me\n\nOn Tue, Onboarding wrote:\n> Your onboarding is complete",
        headers={"In-Reply-To": completion["Message-ID"], "References": completion["Message-ID"]},
    )
    harness.run()
    [told] = harness.sent()[before:]
    assert [a.addr_spec for a in told["To"].addresses] == [CSM[1]]
    assert [a.addr_spec for a in told["Reply-To"].addresses] == [CLIENT[1]]  # Sam can answer Jane
    body = text(told)
    assert (
        'a contact on Acme Radio, asked to get no more email from us: "Unsubscribe. Please stop emailing me"'
        in body
    )
    assert "the survey email (queued). These will not go to them." in body
    assert events(harness, deal_id, "contact_opted_out")
    harness.at(SURVEYS_DUE)
    harness.run()
    assert [e["status"] for e in emails(harness, deal_id, "survey")] == ["withdrawn"]
    assert "survey" not in harness.sent_templates()


def test_the_list_unsubscribe_mailto_opts_out_and_no_survey_is_written(harness: Harness) -> None:
    deal_id = harness.add_deal(stage="training")
    unsubscribe(harness, deal_id)  # before the final call
    final_call(harness)
    harness.at(SURVEYS_DUE)
    harness.run()
    assert emails(harness, deal_id, "survey") == []  # never even queued
    assert events(harness, deal_id, "recipient_opted_out") == [
        "survey never goes to jane@acme-radio.example: opted out"
    ]


def test_an_operational_email_waits_for_the_csms_confirmation_and_goes_on_send(harness: Harness) -> None:
    deal_id = harness.add_deal(stage="training")
    unsubscribe(harness, deal_id)
    before = len(harness.sent())
    final_call(harness)
    [completion] = emails(harness, deal_id, "completion")
    assert completion["status"] == "review"
    [request] = [m for m in harness.sent()[before:] if "Confirm before it goes" in m["Subject"]]
    assert [a.addr_spec for a in request["To"].addresses] == [CSM[1]]
    assert "jane@acme-radio.example asked on 30 November 2026 to get no more email" in text(request)
    assert "Without your answer it never goes: no deadline sends it." in text(request)
    harness.at(LAUNCH_AT + timedelta(days=3))  # past the review deadline: nothing sends it on its own
    harness.run()
    assert emails(harness, deal_id, "completion")[0]["status"] == "review"
    answer(harness, request, "send")
    [sent] = [m for m in harness.sent() if "complete" in m["Subject"] and "Confirm" not in m["Subject"]]
    assert [a.addr_spec for a in sent["To"].addresses] == [CLIENT[1]]  # confirmed: it goes to Jane


def test_an_unclear_answer_to_a_confirmation_is_asked_back_without_a_deadline(harness: Harness) -> None:
    deal_id = harness.add_deal(stage="training")
    unsubscribe(harness, deal_id)
    final_call(harness)
    [request] = [m for m in harness.sent() if "Confirm before it goes" in m["Subject"]]
    before = len(harness.sent())
    answer(harness, request, "Hmm, let me check with Jane first")
    [asked] = harness.sent()[before:]
    body = text(asked)
    assert "You answered the confirmation of the completion email" in body
    assert "Until a clear answer comes, it waits" in body
    assert "deadline" not in body  # before: "dropped by the review's deadline", untrue for a confirmation
    assert emails(harness, deal_id, "completion")[0]["status"] == "review"


def test_cancel_drops_the_email_to_a_contact_who_opted_out(harness: Harness) -> None:
    deal_id = harness.add_deal(stage="training")
    unsubscribe(harness, deal_id)
    final_call(harness)
    [request] = [m for m in harness.sent() if "Confirm before it goes" in m["Subject"]]
    answer(harness, request, "cancel")
    assert emails(harness, deal_id, "completion")[0]["status"] == "withdrawn"
    assert "completion" not in harness.sent_templates()


def test_other_contacts_are_not_kept_waiting_for_the_one_who_opted_out(harness: Harness) -> None:
    people = [ContactSpec(*CLIENT, "client_admin"), ContactSpec(*BOB, "client_admin")]
    deal_id = harness.add_deal(stage="training", contacts=people)
    unsubscribe(harness, deal_id, BOB, "Please remove me from your mailing list.")
    final_call(harness)
    assert statuses(harness, deal_id, "completion") == {(CLIENT[1],): "sent", (BOB[1],): "review"}
    harness.at(SURVEYS_DUE)
    harness.run()
    assert [e["to"] for e in emails(harness, deal_id, "survey")] == [[CLIENT[1]]]  # none for Bob, ever
    [request] = [m for m in harness.sent() if "Confirm before it goes" in m["Subject"]]
    answer(harness, request, "ok")
    assert statuses(harness, deal_id, "completion") == {(CLIENT[1],): "sent", (BOB[1],): "sent"}


def test_a_reminder_never_goes_to_a_contact_who_opted_out_on_another_deal(harness: Harness) -> None:
    radio = harness.add_deal(stage="training")
    unsubscribe(harness, radio)
    tv = harness.add_deal("Acme TV")  # Jane again, on a new deal: its intro waits for the CSM
    harness.run()
    [intro] = emails(harness, tv, "intro")
    assert intro["status"] == "review"
    [request] = [m for m in harness.sent() if "Confirm before it goes: Welcome" in m["Subject"]]
    answer(harness, request, "send")
    assert emails(harness, tv, "intro")[0]["status"] == "sent"
    harness.at(harness.clock.now() + timedelta(days=7))  # the client never answered: the nudge's time
    harness.run()
    assert emails(harness, tv, "intro-followup") == []
    assert events(harness, tv, "recipient_opted_out") == [
        "intro-followup never goes to jane@acme-radio.example: opted out"
    ]


def test_a_request_that_is_no_opt_out_is_an_ordinary_reply(harness: Harness) -> None:
    deal_id = harness.add_deal(stage="training")
    harness.mail(
        CLIENT,
        [(AGENT, harness.reply_address(deal_id))],
        "Training invite",
        "Can you remove me from the training invite and add Bob instead? Bob will unsubscribe our old users.",
    )
    harness.run()
    assert events(harness, deal_id, "contact_opted_out") == []
    final_call(harness)
    assert emails(harness, deal_id, "completion")[0]["status"] == "sent"


def test_a_stranger_who_unsubscribes_is_marked_and_kept_for_a_person(harness: Harness) -> None:
    harness.mail(("Someone", "someone@other.example"), [(AGENT, "onboarding@example.com")], "Unsubscribe")
    harness.run()
    with harness.agent.sessions.begin() as s:
        repo = Repo(s)
        assert repo.opted_out(["someone@other.example"]) == {"someone@other.example"}
        assert [m.subject for m in repo.unmatched()] == ["Unsubscribe"]  # in the daily unmatched list
    assert harness.sent() == []


@pytest.mark.parametrize(
    ("subject", "said", "asks"),
    [
        ("Re: Welcome", "Unsubscribe", True),
        ("unsubscribe", "This message was automatically generated by Gmail.", True),
        ("Re: Welcome", "Unsubscribe. Please stop emailing me", True),
        ("Re: Recap", "Hi, please remove me from your mailing list. Thanks, Jane", True),
        ("Re: Recap", "Please take me off this list.", True),
        ("Re: Survey", "I no longer wish to receive these emails.", True),
        ("Re: Survey", "Don't email me again.", True),
        ("AW: Umfrage", "Bitte keine weiteren E-Mails.", True),
        ("RE: Enquête", "Merci de ne plus m'envoyer de messages.", True),
        ("Re: Welcome", "opt out", True),
        ("Re: Training", "Can you remove me from the training invite and add Bob?", False),
        ("Re: Training", "How do our users unsubscribe from the notifications?", False),
        ("Re: Training", "Please don't unsubscribe our learners.", False),
        ("Re: Training", "Don't stop sending the weekly report, it helps us.", False),
        ("Re: Welcome", "Tuesday 10:00 works. Stop by our office after the call.", False),
    ],
)
def test_what_asks_to_opt_out_and_what_does_not(subject: str, said: str, asks: bool) -> None:
    assert (opt_out_words(subject, said) is not None) is asks
