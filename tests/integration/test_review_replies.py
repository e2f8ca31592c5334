"""A person's reply, read as a person would: what a reviewer or a CSM answering the agent meant.

Through the public flow: a recap is held for the CSM's review, the CSM replies, and what the
client receives (or does not) is read back from the sent mail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from agent.clock import ManualClock
from agent.config import load_config
from tests.conftest import CLIENT, CSM, MANAGER, Harness, write_config
from tests.integration.sign_off import with_sign_off

INTRO_AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
TRAINING_AT = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
AGENT = ("Agent", "onboarding@example.com")
RECAP_LINE = "Agreed: go-live 15 January."
SIGNATURE = "Sam Carter\nCustomer Success Manager\nExample Ltd\n+44 20 7946 0000"


def reviewing(tmp_path: Path, review: str = 'templates = ["recap"]') -> Harness:
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace("[review]\ntemplates = []", f"[review]\n{review}"))
    h = Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))
    h.add_deal()
    h.meeting("intro", "Acme Radio introduction call", INTRO_AT, description=RECAP_LINE)
    h.run()
    h.at(INTRO_AT + timedelta(hours=1))
    h.run()
    return h


def requests(h: Harness) -> list[EmailMessage]:
    return [m for m in h.sent() if "Review before it goes" in m["Subject"]]


def reply(
    h: Harness,
    to: EmailMessage,
    text: str,
    *,
    references: str | None = None,
    who: tuple[str, str] = CSM,
    in_reply_to: bool = True,
) -> None:
    headers = {"References": references or to["Message-ID"]}
    if in_reply_to:
        headers["In-Reply-To"] = to["Message-ID"]
    h.mail(who, [AGENT], f"Re: {to['Subject']}", text, headers=headers)
    h.run()


def plain(msg: EmailMessage) -> str:
    return str(msg.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def to_client(h: Harness) -> list[EmailMessage]:
    return [m for m in h.sent() if any(a.addr_spec == CLIENT[1] for a in m["To"].addresses)]


def recaps(h: Harness) -> list[str]:
    return [str(e["status"]) for e in h.show(1)["emails"] if e["template"] == "recap"]


def asked_back(h: Harness) -> list[EmailMessage]:
    return [m for m in h.sent() if "could not tell" in m["Subject"]]


# --- bug (a): the CSM's own words reached the client as the recap ----------------------------------


def test_looks_good_send_it_please_sends_the_recap_as_it_is(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    [request] = requests(h)
    reply(h, request, "Looks good, send it please")
    assert recaps(h) == ["sent"]
    recap = to_client(h)[-1]
    assert RECAP_LINE in plain(recap)
    assert not any("Looks good" in plain(m) for m in to_client(h))


def test_send_above_a_four_line_signature_sends_the_recap_as_it_is(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    [request] = requests(h)
    reply(h, request, f"send\n\n{SIGNATURE}\n")
    assert recaps(h) == ["sent"]
    text = plain(to_client(h)[-1])
    assert RECAP_LINE in text and "+44 20 7946 0000" not in text and "Example Ltd" not in text


def test_an_answer_in_german_under_an_iphone_footer_and_a_german_quote_is_read(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    [request] = requests(h)
    reply(
        h,
        request,
        "Passt, bitte senden\n\nVon meinem iPhone gesendet\n\n"
        "Am 01.12.2026 um 15:00 schrieb Agent <onboarding@example.com>:\n\n"
        "> This email for Acme Radio is ready to go\n",
    )
    assert recaps(h) == ["sent"]
    assert RECAP_LINE in plain(to_client(h)[-1])


def test_nicht_senden_drops_the_draft(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    [request] = requests(h)
    reply(h, request, "Nicht senden.\n\nViele Grüße\nSam")
    assert recaps(h) == ["withdrawn"]
    assert not any(m["Subject"].startswith("Recap") for m in h.sent())


# --- unclear: asked back, nothing sent -------------------------------------------------------------


def test_an_unclear_answer_sends_nothing_and_asks_the_reviewer_back(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    [request] = requests(h)
    before = len(to_client(h))
    reply(h, request, "Hmm, can we wait until Jane confirms the date?\n\nSam")
    assert recaps(h) == ["review"] and len(to_client(h)) == before
    [question] = asked_back(h)
    assert question["To"].addresses[0].addr_spec == CSM[1]
    body = plain(question)
    assert "can we wait until Jane confirms the date?" in body  # what they wrote, quoted to them
    assert '"send"' in body and '"cancel"' in body and "Edit:" in body  # the forms understood
    assert any(e["kind"] == "review_unclear" for e in h.show(1)["events"])


def test_an_answer_to_the_question_back_decides_the_same_draft(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    [request] = requests(h)
    reply(h, request, "Not sure about the date")
    [question] = asked_back(h)
    reply(h, question, "OK, send it.")
    assert recaps(h) == ["sent"]
    assert RECAP_LINE in plain(to_client(h)[-1])


def test_after_an_unclear_answer_the_deadline_drops_the_draft_instead_of_sending_it(tmp_path: Path) -> None:
    h = reviewing(tmp_path, 'templates = ["recap"]\nanswer_within_hours = 4\non_timeout = "send"')
    [request] = requests(h)
    reply(h, request, "Wait, I need to check something first")
    h.at(INTRO_AT + timedelta(hours=6))
    h.run()
    assert recaps(h) == ["withdrawn"]
    assert not any(m["Subject"].startswith("Recap") for m in h.sent())


def test_thanks_alone_is_no_approval(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    [request] = requests(h)
    reply(h, request, "Thanks!\n\nSent from my iPhone")
    assert recaps(h) == ["review"] and len(asked_back(h)) == 1


# --- edits: only the documented forms --------------------------------------------------------------


def test_an_edit_marker_line_sends_the_text_below_it(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    [request] = requests(h)
    reply(
        h,
        request,
        "Edit:\nHi Jane,\n\nThanks for the call! We agreed on <go-live> on 20 January.\n\nSam\n\n"
        "-- \nSam Carter | Customer Success Manager\n\n"
        "On Tue, 1 Dec 2026 at 15:00, Agent <onboarding@example.com> wrote:\n> This email for Acme Radio",
    )
    recap = to_client(h)[-1]
    text = plain(recap)
    assert text.startswith("Hi Jane,") and "20 January" in text and "15 January" not in text
    assert "Edit:" not in text and "Customer Success Manager" not in text and "This email for" not in text
    assert "&lt;go-live&gt; on 20 January" in recap.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_the_draft_quoted_back_with_a_change_is_what_goes_out(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    [request] = requests(h)
    quoted = "\n".join(f"> {line}".rstrip() for line in plain(request).splitlines())
    edited = quoted.replace("go-live 15 January", "go-live 20 January")
    assert edited != quoted
    reply(h, request, f"Changed the date, send it.\n\nOn Tue, 1 Dec 2026, Agent wrote:\n{edited}")
    text = plain(to_client(h)[-1])
    assert "Agreed: go-live 20 January." in text and "15 January" not in text
    assert "Changed the date" not in text and "This email for" not in text and "Subject:" not in text


def test_the_draft_quoted_back_unchanged_under_send_goes_as_it_is(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    [request] = requests(h)
    outlook_quote = (
        "-----Original Message-----\nFrom: Agent <onboarding@example.com>\n"
        "Sent: Tuesday, December 1, 2026 3:00 PM\nTo: Sam Carter <sam@example.com>\n"
        f"Subject: {request['Subject']}\n\n{plain(request)}"
    )
    reply(h, request, f"Send\n\n{SIGNATURE}\n\n{outlook_quote}")
    assert recaps(h) == ["sent"]
    text = plain(to_client(h)[-1])
    assert RECAP_LINE in text and "Original Message" not in text


def test_free_text_without_an_edit_form_is_not_sent_to_the_client(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    [request] = requests(h)
    reply(h, request, "Hi Jane,\n\nThanks for the call! We agreed on 20 January.\n\nSam")
    assert recaps(h) == ["review"]
    assert not any("20 January" in plain(m) for m in to_client(h))
    assert len(asked_back(h)) == 1


# --- bug (b): a reply answers the exact request it replies to --------------------------------------


def two_drafts(tmp_path: Path) -> Harness:
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace("[review]\ntemplates = []", '[review]\ntemplates = ["recap"]'))
    h = Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))
    h.add_deal(stage="training")
    h.meeting("t1", "Acme Radio training 1", TRAINING_AT, description="Session one: admins.")
    h.meeting(
        "t2", "Acme Radio training 2", TRAINING_AT + timedelta(hours=3), description="Session two: users."
    )
    h.run()
    h.at(TRAINING_AT + timedelta(hours=1))
    h.run()
    h.at(TRAINING_AT + timedelta(hours=4))
    h.run()
    return h


def test_send_to_the_second_review_request_sends_the_second_draft(tmp_path: Path) -> None:
    h = two_drafts(tmp_path)
    first, second = requests(h)
    assert "Session two" in plain(second)
    assert first["Message-ID"] in second["References"]  # both on the deal's conversation
    reply(h, second, "send", references=second["References"] + " " + second["Message-ID"])
    sent = to_client(h)
    assert [m for m in sent if "Session two: users." in plain(m)]
    assert not [m for m in sent if "Session one: admins." in plain(m)]
    assert recaps(h) == ["review", "sent"]


def test_without_in_reply_to_the_nearest_request_in_references_is_answered(tmp_path: Path) -> None:
    h = two_drafts(tmp_path)
    first, second = requests(h)
    reply(h, second, "cancel", references=f"{first['Message-ID']} {second['Message-ID']}", in_reply_to=False)
    assert recaps(h) == ["review", "withdrawn"]


def test_a_reply_to_the_agents_recap_is_no_review_answer(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    [request] = requests(h)
    reply(h, request, "send")
    [recap] = [m for m in to_client(h) if m["Subject"].startswith("Recap")]
    # the CSM answers the recap itself, with the review request in its References
    reply(h, recap, "ok", references=f"{request['Message-ID']} {recap['Message-ID']}")
    assert not any(e["kind"] == "review_late" for e in h.show(1)["events"])


def test_mail_to_the_client_with_the_agent_in_cc_never_answers_a_review(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    [request] = requests(h)
    h.mail(
        CSM,
        [CLIENT],
        "Re: our call",
        "Hi Jane, a quick note before the recap.",
        cc=[AGENT],
        headers={"In-Reply-To": request["Message-ID"], "References": request["Message-ID"]},
    )
    h.run()
    assert recaps(h) == ["review"] and asked_back(h) == []


def test_a_which_deal_answer_goes_to_the_question_it_replies_to(harness: Harness) -> None:
    radio = harness.add_deal("Acme Radio")
    tv = harness.add_deal("Acme TV")  # the same client contact on both deals
    harness.run()
    harness.mail(CLIENT, [CSM], "First question", "Can we move the training?")
    harness.run()
    harness.mail(CLIENT, [CSM], "Second question", "Who runs the import?")
    harness.run()
    first, second = [q for q in harness.sent() if "Which deal" in q["Subject"]]
    assert "Second question" in second["Subject"]
    # a mail client that threads both questions together names both in References
    reply(harness, second, "2\n\nSam", references=f"{first['Message-ID']} {second['Message-ID']}")
    assert [m["subject"] for m in harness.show(tv)["messages"]] == ["Second question"]
    assert not [m for m in harness.show(radio)["messages"] if m["subject"] == "First question"]


def test_an_approval_answered_in_a_thread_with_a_review_request_decides_the_approval(tmp_path: Path) -> None:
    h = with_sign_off(tmp_path, review='"recap"')  # its stage needs the Onboarding Manager's approval
    deal_id = h.add_deal(pipeline="sign-off")
    h.meeting("t9", "Acme Radio training follow-up", TRAINING_AT, description="Extra session.")
    h.run()
    h.at(TRAINING_AT + timedelta(hours=1))
    h.run()
    [review] = requests(h)  # the recap of the extra session waits for review
    h.task_done(deal_id, "sales-handover")
    h.run()
    [approval] = [m for m in h.sent() if "Approve:" in m["Subject"]]
    assert review["Message-ID"] in approval["References"]  # one conversation per deal
    reply(h, approval, "Approved.\n\nOlivia", who=MANAGER, references=approval["References"])
    assert h.stage(deal_id) == "won"
    assert recaps(h) == ["review"]  # the approver's word did not decide the draft
    assert not any(e["kind"] == "review_refused" for e in h.show(deal_id)["events"])


def test_an_html_reply_with_the_quoted_draft_changed_sends_the_change(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    [request] = requests(h)
    html = request.get_body(("html",)).get_content()  # type: ignore[union-attr]
    edited = html.replace("go-live 15 January", "go-live 20 January")
    assert edited != html
    msg = EmailMessage()
    msg["From"] = f"{CSM[0]} <{CSM[1]}>"
    msg["To"] = f"{AGENT[0]} <{AGENT[1]}>"
    msg["Subject"] = f"Re: {request['Subject']}"
    msg["Message-ID"] = "<html-reply-1@example.com>"
    msg["In-Reply-To"] = request["Message-ID"]
    msg["References"] = request["Message-ID"]
    msg.set_content(  # an HTML-only reply, as Outlook on the web sends it, the request quoted in a blockquote
        f"<html><body><div>Updated the date, please send.</div><blockquote>{edited}</blockquote></body></html>",
        subtype="html",
    )
    h.deliver(msg.as_bytes())
    h.run()
    assert recaps(h) == ["sent"]
    text = plain(to_client(h)[-1])
    assert "go-live 20 January" in text and "15 January" not in text
    assert "Updated the date" not in text and "ready to go" not in text


def test_send_quoting_the_request_sends_the_draft_as_rewritten_with_a_later_note(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    [request] = requests(h)
    # the CSM's note on the call, to the agent alone, while the recap waits: the draft is written again
    h.mail(
        CSM, [(AGENT[0], h.reply_address(1))], "Acme Radio notes", "Jane will send the user list by Friday."
    )
    h.run()
    assert any(e["kind"] == "email_redrafted" for e in h.show(1)["events"])
    reply(
        h,
        request,
        "send"
        + "\n\nOn Tue, 1 Dec 2026, Agent wrote:\n"
        + "\n".join(f"> {x}" for x in plain(request).splitlines()),
    )
    assert recaps(h) == ["sent"]
    text = plain(to_client(h)[-1])
    assert "Jane will send the user list by Friday." in text and RECAP_LINE in text
