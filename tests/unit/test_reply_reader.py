"""The reply reader, against replies as mail clients write them: what was said, and what it decides.

One table of real-looking answers to a review request (Gmail, Outlook, Apple Mail, phones; in
English, German and French; with quotes, footers and signatures), each with the intent the
reader must find, and for edits the text that would go to the client.
"""

from __future__ import annotations

import pytest

from agent.mime.parse import parse_message
from agent.replies.choice import NONE, choice_of
from agent.replies.intent import Intent, intent_of
from agent.replies.reader import read_reply
from agent.replies.reading import read_text
from agent.replies.review import read_review
from tests.unit.test_mail_parse import AGENT, CORPUS, needs_corpus

SAM = "Sam Carter"
DRAFT = (
    "Hello Jane,\n\nThank you for your time on 1 December. Here is a short recap of our call.\n\n"
    "What we agreed:\nGo-live 15 January.\n\nKind regards,\nSam Carter\n"
)
REQUEST = (
    "This email for Acme Radio is ready to go to jane@acme-radio.example.\n\n"
    'Reply "send" (or "ok", "looks good") to send it as it is, or "cancel" to drop it.\n\n'
    "---------- draft ----------\nSubject: Recap: Acme Radio introduction call\n\n"
    f"{DRAFT}---------------------------\n\n— Agent (automatic message)"
)
EDITED = REQUEST.replace("Go-live 15 January.", "Go-live 20 January.")
EDITED_DRAFT = DRAFT.replace("15 January", "20 January")


def quoted(text: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in text.split("\n"))


def gmail(text: str = REQUEST) -> str:
    return f"\n\nOn Tue, Dec 1, 2026 at 3:00 PM Agent <onboarding@example.com> wrote:\n\n{quoted(text)}\n"


def gmail_wrapped(text: str = REQUEST) -> str:  # Gmail wraps a long attribution line
    return f"\n\nOn Tue, Dec 1, 2026 at 3:00 PM Agent <\nonboarding@example.com> wrote:\n\n{quoted(text)}\n"


def apple(text: str = REQUEST) -> str:
    return f"\n\n> On 1 Dec 2026, at 15:00, Agent <onboarding@example.com> wrote:\n>\n{quoted(text)}\n"


def apple_de(text: str = REQUEST) -> str:
    return f"\n\n> Am 01.12.2026 um 15:00 schrieb Agent <onboarding@example.com>:\n>\n{quoted(text)}\n"


def gmail_de(text: str = REQUEST) -> str:
    return (
        f"\n\nAm Di., 1. Dez. 2026 um 15:00 Uhr schrieb Agent <onboarding@example.com>:\n\n{quoted(text)}\n"
    )


def gmail_fr(text: str = REQUEST) -> str:
    return f"\n\nLe mar. 1 déc. 2026 à 15:00, Agent <onboarding@example.com> a écrit :\n\n{quoted(text)}\n"


def apple_fr(text: str = REQUEST) -> str:
    return f"\n\n> Le 1 déc. 2026 à 15:00, Agent <onboarding@example.com> a écrit :\n>\n{quoted(text)}\n"


def outlook(text: str = REQUEST) -> str:
    return (
        "\n\n________________________________\nFrom: Agent <onboarding@example.com>\n"
        "Sent: Tuesday, December 1, 2026 3:00 PM\nTo: Sam Carter <sam@example.com>\n"
        f"Subject: [agent] Review before it goes: Recap\n\n{text}\n"
    )


def outlook_original(text: str = REQUEST) -> str:
    return (
        "\n\n-----Original Message-----\nFrom: Agent <onboarding@example.com>\n"
        "Sent: Tuesday, December 1, 2026 3:00 PM\nTo: Sam Carter\n"
        f"Subject: [agent] Review before it goes: Recap\n\n{text}\n"
    )


def outlook_de(text: str = REQUEST) -> str:
    return (
        "\n\nVon: Agent <onboarding@example.com>\nGesendet: Dienstag, 1. Dezember 2026 15:00\n"
        f"An: Sam Carter <sam@example.com>\nBetreff: [agent] Review before it goes: Recap\n\n{text}\n"
    )


def outlook_fr(text: str = REQUEST) -> str:
    return (
        "\n\nDe : Agent <onboarding@example.com>\nEnvoyé : mardi 1 décembre 2026 15:00\n"
        f"À : Sam Carter <sam@example.com>\nObjet : [agent] Review before it goes: Recap\n\n{text}\n"
    )


def outlook_mac(text: str = REQUEST) -> str:
    return (
        "\n\nFrom: Agent <onboarding@example.com>\nDate: Tuesday, 1 December 2026 at 15:00\n"
        f"To: Sam Carter <sam@example.com>\nSubject: [agent] Review before it goes: Recap\n\n{text}\n"
    )


SIGNATURE = "Sam Carter\nCustomer Success Manager\nExample Ltd\n+44 20 7946 0000"
SIGNATURE_DE = "Sam Carter\nKundenbetreuer\nExample GmbH\nTel. +49 30 1234567"
A, C, U, E = Intent.APPROVE, Intent.CANCEL, Intent.UNCLEAR, Intent.EDIT

# (what the reviewer's mail client sent, the sender's display name, the intent it must decide)
REPLIES: list[tuple[str, str, Intent]] = [
    # approve: English
    ("send" + gmail(), SAM, A),
    ("Send\n\nSent from my iPhone" + apple(), SAM, A),
    ("Looks good, send it please" + outlook(), SAM, A),
    (f"send\n\n{SIGNATURE}" + outlook_original(), SAM, A),
    ("Go ahead" + gmail_wrapped(), SAM, A),
    ("Yes please!" + outlook_mac(), SAM, A),
    ("yes please, go ahead :)" + gmail(), SAM, A),
    ("👍\n\nSent from my iPhone" + apple(), SAM, A),
    ("LGTM" + gmail(), SAM, A),
    ("Looks great - ship it.\n\n-- \nSam Carter | CSM | Example Ltd" + gmail(), SAM, A),
    ("Hi,\n\nLooks good to me. Please send.\n\nThanks,\nSam" + outlook(), SAM, A),
    ("ok send" + gmail(), SAM, A),
    ("Okay, go for it.\nCheers, Sam" + apple(), SAM, A),
    ("Sure, send it out." + outlook(), SAM, A),
    ("Approved." + outlook_original(), SAM, A),
    ("All good, thanks!" + gmail(), SAM, A),
    (
        "Send as is.\n\nBest regards,\nSam Carter\nHead of Customer Success\n"
        "Example Ltd | www.example.com\nM: +44 7700 900123" + outlook(),
        SAM,
        A,
    ),
    ("Send it, thanks.\n\nGet Outlook for iOS" + outlook(), SAM, A),
    ("send\nSam" + gmail(), SAM, A),
    ("Send.\n\nS." + gmail(), SAM, A),
    ("send\n\nJordan Blake\nCustomer Success Manager\nExample Ltd" + gmail(), "", A),
    ("ok, thanks Sam" + gmail(), SAM, A),
    ("Hello Agent,\n\nplease send.\n\nKind regards\nSam" + outlook(), SAM, A),
    ("k thx" + apple(), SAM, A),
    ("No problem, send it." + gmail(), SAM, A),
    ("Send now please" + gmail(), SAM, A),
    ("Yep 👍" + apple(), SAM, A),
    ("Go.\n\n__\nSam Carter\nExample Ltd" + outlook(), SAM, A),
    ("Send it. Cheers, Sam" + gmail(), "", A),
    ("Yes, send it (looks fine)." + gmail(), SAM, A),
    ("send\n\nCarter, Sam\nCustomer Success | Example Ltd" + outlook(), "Carter, Sam", A),
    # approve: German
    ("OK\n\nVon meinem iPhone gesendet" + apple_de(), SAM, A),
    ("Passt, bitte senden" + gmail_de(), SAM, A),
    ("Passt so.\n\nViele Grüße\nSam" + outlook_de(), SAM, A),
    ("Ja, abschicken." + gmail_de(), SAM, A),
    ("Sieht gut aus, kann raus.\nLG Sam" + apple_de(), SAM, A),
    (f"Freigegeben\n\nMit freundlichen Grüßen\n{SIGNATURE_DE}" + outlook_de(), SAM, A),
    ("Alles klar, schick es raus!\n\nGesendet von Outlook für iOS" + outlook_de(), SAM, A),
    # approve: French
    ("OK pour moi, tu peux envoyer\n\nEnvoyé de mon iPhone" + apple_fr(), SAM, A),
    ("C'est bon, envoie-le.\n\nCordialement,\nSam Carter" + outlook_fr(), SAM, A),
    ("Oui, vas-y !" + gmail_fr(), SAM, A),
    ("D’accord, c’est parfait. Merci !" + gmail_fr(), SAM, A),
    ("Parfait, tu peux l'envoyer.\n\nBien à vous,\nSam" + outlook_fr(), SAM, A),
    # cancel
    ("cancel" + gmail(), SAM, C),
    ("Don't send" + apple(), SAM, C),
    ("Please don’t send this.\n\nThanks,\nSam" + outlook(), SAM, C),
    ("Stop!" + outlook_original(), SAM, C),
    ("No, cancel it." + gmail(), SAM, C),
    (f"Do not send.\n\n{SIGNATURE}" + outlook(), SAM, C),
    ("nope\n\nSent from my iPhone" + apple(), SAM, C),
    ("Nicht senden" + gmail_de(), SAM, C),
    ("Bitte nicht senden.\n\nVon meinem iPhone gesendet" + apple_de(), SAM, C),
    ("Abbrechen\n\nGruß\nSam" + outlook_de(), SAM, C),
    ("Ne pas envoyer" + gmail_fr(), SAM, C),
    ("Non, annule.\n\nEnvoyé de mon iPhone" + apple_fr(), SAM, C),
    ("N'envoie pas stp" + outlook_fr(), SAM, C),
    ("cancel" + gmail(EDITED), SAM, C),  # cancel wins over changes in the quoted draft
    # unclear: asked back, nothing sent
    ("Hmm, can we wait until Jane confirms the date?" + gmail(), SAM, U),
    ("ok but change the date to 20 January" + outlook(), SAM, U),
    ("Send, but fix the typo first" + gmail(), SAM, U),
    ("Don't send yet\n\nSent from my iPhone" + apple(), SAM, U),
    ("Thanks!" + gmail(), SAM, U),
    (gmail().lstrip(), SAM, U),  # nothing written above the quote
    ("Looks good\nNot Yet" + gmail(), SAM, U),
    ("Send\nMonday Morning" + gmail(), SAM, U),
    ("Ok, cancel" + gmail(), SAM, U),
    ("Hi Jane,\n\nThanks for the call! We agreed on 20 January.\n\nSam" + outlook(), SAM, U),
    ("Who is Jane?" + gmail(), SAM, U),
    ("Passt nicht" + gmail_de(), SAM, U),
    ("Pas encore" + gmail_fr(), SAM, U),
    ("send it to Mike instead" + gmail(), SAM, U),
    ("Warte bitte noch" + apple_de(), SAM, U),
    ("Yes and no" + gmail(), SAM, U),
    ("Looks good but hold on" + outlook(), SAM, U),
    ("Drop it, the call was cancelled." + gmail(), SAM, U),
    ("Send\nThe team lead agrees" + gmail(), SAM, U),
    ("Send\nOnly Jane" + gmail(), SAM, U),
    ("Send\n\nThanks!\nAlso, can you CC Mike next time?" + gmail(), SAM, U),
    ("Edit:" + gmail(), SAM, U),  # a marker with nothing under it
    ("Edit:\nHi Jane, new text." + gmail(EDITED), SAM, U),  # two texts at once
    # edits: only the documented forms
    ("Edit:\nHi Jane,\n\nThe new text.\n\nSam" + gmail(), SAM, E),
    ("Edit: Hi Jane, short version." + outlook(), SAM, E),
    ("Geändert:\nHallo Jane,\nneuer Text." + gmail_de(), SAM, E),
    ("Modifié :\nBonjour Jane,\nnouveau texte.\n\nEnvoyé de mon iPhone" + apple_fr(), SAM, E),
    ("Changed the date, send it." + gmail(EDITED), SAM, E),
    ("See the new date below." + outlook(EDITED), SAM, E),
    ("Hi,\nReplace with:\nHello Jane, see you on Monday." + gmail(), SAM, E),
    ("Edit:\nHi Jane,\nText.\n\n-- \nSam Carter | CSM" + gmail(), SAM, E),
    # the draft quoted back unchanged is no edit
    ("send" + gmail(REQUEST), SAM, A),
    ("Looks fine." + outlook(REQUEST), SAM, A),
    ("Passt." + outlook_de(REQUEST), SAM, A),
]


def test_the_table_is_long_enough_and_covers_every_intent() -> None:
    assert len(REPLIES) >= 60
    assert {intent for _, _, intent in REPLIES} == {A, C, U, E}


@pytest.mark.parametrize(("text", "sender", "expected"), REPLIES, ids=[r[0][:40] for r in REPLIES])
def test_a_reply_decides_what_a_person_would_read_in_it(text: str, sender: str, expected: Intent) -> None:
    verdict = read_review(text, [DRAFT], sender)
    assert verdict.intent is expected, verdict.reason
    if expected is not E:
        assert verdict.edit == ""  # only an edit carries text to a client
    assert "Review before it goes" not in verdict.said and "ready to go" not in verdict.said


@pytest.mark.parametrize(
    ("text", "edit"),
    [
        ("Edit:\nHi Jane,\n\nThe new text.\n\nSam" + gmail(), "Hi Jane,\n\nThe new text.\n\nSam\n"),
        ("Edit: Hi Jane, short version." + outlook(), "Hi Jane, short version.\n"),
        (
            "Modifié :\nBonjour Jane,\nnouveau texte.\n\nEnvoyé de mon iPhone" + apple_fr(),
            "Bonjour Jane,\nnouveau texte.\n",
        ),
        ("Edit:\nHi Jane,\nText.\n\n-- \nSam Carter | CSM" + gmail(), "Hi Jane,\nText.\n"),
        ("Changed the date, send it." + gmail(EDITED), EDITED_DRAFT),
        ("See the new date below." + outlook(EDITED), EDITED_DRAFT),
    ],
)
def test_an_edit_is_the_text_to_send_and_nothing_of_the_reply_around_it(text: str, edit: str) -> None:
    verdict = read_review(text, [DRAFT], SAM)
    assert verdict.intent is E
    assert verdict.edit == edit


@pytest.mark.parametrize(
    ("text", "said", "signature"),
    [
        (f"send\n\n{SIGNATURE}" + outlook(), "send", SIGNATURE),
        ("Passt so.\n\nViele Grüße\nSam" + outlook_de(), "Passt so.", "Viele Grüße\nSam"),
        ("Thursday works.\n\nSent from my iPhone" + apple(), "Thursday works.", ""),
        ("Ok\n\nVon meinem iPhone gesendet" + apple_de(), "Ok", ""),
        ("Oui\n\nEnvoyé depuis mon iPad" + apple_fr(), "Oui", ""),
        (
            "Can we talk first?\nWe need to change the\nagenda." + gmail(),
            "Can we talk first?\nWe need to change the\nagenda.",
            "",
        ),
        ("Send\nBut not before Monday" + gmail(), "Send\nBut not before Monday", ""),
        (
            "Go ahead\n\nBest,\nSam\n\nExample Ltd\n10 Main Street, London SW1A 2AA\nwww.example.com"
            + outlook(),
            "Go ahead",
            "Best,\nSam\n\nExample Ltd\n10 Main Street, London SW1A 2AA\nwww.example.com",
        ),
    ],
)
def test_the_reader_keeps_what_was_said_and_sets_the_signature_aside(
    text: str, said: str, signature: str
) -> None:
    reading = read_reply(text, SAM)
    assert (reading.said, reading.signature) == (said, signature)


def test_an_unclear_reason_names_what_was_not_understood() -> None:
    said = intent_of("Looks good, but wait for Jane", SAM)
    assert said.intent is U and '"but wait for jane"' in said.reason
    assert intent_of("ok. cancel.", SAM).reason.startswith('both "send" and "cancel"')
    assert intent_of("", SAM).reason == "an empty reply"


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("2", 2), ("2.", 2), ("#2", 2), ("Option 2", 2), ("Nr. 1 bitte", 1), ("la 2", 2),
        ("2 - Acme TV", 2), ("none", NONE), ("None of them", NONE), ("keine", NONE), ("Aucun.", NONE),
        ("neither", NONE), ("3", None), ("0", None), ("the second one", None), ("", None),
    ],
)  # fmt: skip
def test_an_answer_to_which_deal_is_a_number_or_none(said: str, expected: int | None) -> None:
    assert choice_of(said, 2) == expected


def test_the_draft_quoted_as_the_request_showed_it_is_no_edit_after_a_note_rewrote_it() -> None:
    rewritten = DRAFT.replace(
        "Kind regards", "Notes from the call:\nJane sends the user list.\n\nKind regards"
    )
    assert read_review("send" + gmail(REQUEST), [rewritten, DRAFT], SAM).intent is A
    assert read_review("send" + gmail(REQUEST), [rewritten], SAM).intent is E  # unknown version: a change
    assert read_review("send" + gmail(EDITED), [rewritten, DRAFT], SAM).edit == EDITED_DRAFT


@needs_corpus
def test_a_parsed_message_read_from_its_new_text_reads_as_its_whole_text() -> None:
    # read_text starts from the parse's new_text (its quoted history cut once): the same reading as
    # cutting the whole text again, for every message of the corpus.
    assert CORPUS is not None
    for path in sorted(CORPUS.glob("*.eml")):
        msg = parse_message(path.read_bytes(), agent_addresses=(AGENT,))
        name = msg.sender.name if msg.sender else ""
        assert read_text(msg).reply == read_reply(msg.text, name), path.name
