"""Matching that doubts, layer by layer: closed deals, a thread that the people contradict, who
really wrote a message (a list's rewrite, a plus-address, a subdomain), and calendar labels.

The labelled set at the end is the matcher's evaluation: every case says which deal a person
would tie the message to, or that a person must be asked; a message on a wrong deal fails it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest

from agent.domain import Address, InboundMessage, MeetingVersion, MessageKind
from agent.matching import Match, Party, match_meeting, match_message
from agent.matching.people import domain_and_parents, relayed_for, without_plus
from agent.mime.classify import via_list
from agent.mime.parse import parse_message
from agent.pipeline.loader import load_pipelines
from agent.store import models as m
from agent.store.db import open_store
from agent.store.queries.people_ahead import READ_WHOLE
from agent.store.repo import Repo

ROOT = Path(__file__).resolve().parents[2]
AGENT = "onboarding@example.com"
FINAL = frozenset({("standard-onboarding", "won"), ("standard-onboarding", "lost")})
PARTY = Party((AGENT,), ("example.com",), final_stages=FINAL)
OPEN_ONLY = Party((AGENT,), ("example.com",))  # pipelines without final stages: nothing is closed

WON, PODCASTS, GLOBEX, INITECH, SOLO, UMBRELLA, UMBRELLA_IT, ACME_TV = 1, 2, 3, 4, 5, 6, 7, 8


class Directory:
    """Acme: Radio (won), Podcasts and TV (open), Jane on all three, Ann on Radio and Podcasts;
    Globex; Initech (lost); Solo, a free-mail client; Umbrella and Umbrella IT, whose IT department
    has a domain of its own."""

    stages: ClassVar[dict[int, str]] = {WON: "won", INITECH: "lost"}
    tokens: ClassVar[dict[str, int]] = {
        "ACMEWON1": WON,
        "PODCAST2": PODCASTS,
        "GLOBEX33": GLOBEX,
        "INITECH4": INITECH,
        "ACMETV88": ACME_TV,
    }
    contacts: ClassVar[dict[str, set[int]]] = {
        "jane@acme.example": {WON, PODCASTS, ACME_TV},
        "ann@acme.example": {WON, PODCASTS},
        "tim@acme.example": {PODCASTS},
        "gil@globex.example": {GLOBEX},
        "pat@initech.example": {INITECH},
        "pat.solo@gmail.com": {SOLO},
        "una@umbrella.example": {UMBRELLA},
    }
    domains: ClassVar[dict[str, set[int]]] = {
        "acme.example": {WON, PODCASTS, ACME_TV},
        "globex.example": {GLOBEX},
        "initech.example": {INITECH},
        "umbrella.example": {UMBRELLA},
        "it.umbrella.example": {UMBRELLA_IT},
    }
    names: ClassVar[dict[int, str]] = {
        WON: "Acme Radio",
        PODCASTS: "Acme Podcasts",
        GLOBEX: "Globex",
        INITECH: "Initech",
        SOLO: "Solo Consulting",
        UMBRELLA: "Umbrella",
        UMBRELLA_IT: "Umbrella IT",
        ACME_TV: "Acme TV",
    }
    threads: ClassVar[dict[str, int]] = {
        "<radio@example.com>": WON,
        "<podcasts@example.com>": PODCASTS,
        "<globex@example.com>": GLOBEX,
        "<initech@example.com>": INITECH,
    }

    def __init__(self) -> None:
        self.stage_lookups = 0

    def deals_by_token(self, token: str) -> set[int]:
        return {self.tokens[token.upper()]} if token.upper() in self.tokens else set()

    def deals_by_message_ids(self, message_ids: Iterable[str]) -> set[int]:
        return {self.threads[i] for i in message_ids if i in self.threads}

    def deals_by_email(self, email: str) -> set[int]:
        return set(self.contacts.get(email, set()))

    def deals_by_domain(self, domain: str) -> set[int]:
        return set(self.domains.get(domain, set()))

    def deals_named_in(self, text: str) -> set[int]:
        return {i for i, n in self.names.items() if n.lower() in text.lower()}

    def deals_by_id(self, deal_id: int) -> set[int]:
        return {deal_id} if deal_id in self.names else set()

    def deals_in_stages(self, deal_ids: Iterable[int], stages: Iterable[tuple[str, str]]) -> set[int]:
        self.stage_lookups += 1
        wanted = set(stages)
        return {i for i in deal_ids if ("standard-onboarding", self.stages.get(i, "set-up")) in wanted}


D = Directory()


def mail(sender: str, to: Iterable[str] = (AGENT,), subject: str = "Hello", **kw: object) -> InboundMessage:
    return InboundMessage.bare(
        "<m@x>", subject=subject, sender=Address(sender), to=tuple(Address(a) for a in to), **kw
    )


def reply(
    thread: str, sender: str, to: Iterable[str] = (AGENT,), subject: str = "Re: Hello", **kw: object
) -> InboundMessage:
    return mail(sender, to, subject, in_reply_to=thread, references=(thread,), **kw)


# --- closed deals ---------------------------------------------------------------------------


def test_a_closed_deal_does_not_compete_for_its_contacts_new_mail() -> None:
    r = match_message(mail("ann@acme.example"), D, PARTY)
    assert (r.deal_id, r.strategy) == (PODCASTS, "contact")
    assert "deal 1 is closed" in r.reason


def test_the_same_deals_are_rivals_when_no_stage_is_final() -> None:
    r = match_message(mail("jane@acme.example"), D, OPEN_ONLY)
    assert r.ambiguous and r.candidates == (WON, PODCASTS, ACME_TV)


def test_with_the_closed_deal_aside_two_open_ones_are_still_asked_about() -> None:
    r = match_message(mail("jane@acme.example", subject="Quick question"), D, PARTY)
    assert r.ambiguous and r.candidates == (PODCASTS, ACME_TV)


def test_a_closed_deal_takes_mail_its_thread_names() -> None:
    r = match_message(reply("<radio@example.com>", "jane@acme.example"), D, PARTY)
    assert (r.deal_id, r.strategy) == (WON, "thread")
    r = match_message(
        reply("<globex@example.com>", "gil@globex.example", cc=(Address("pat@initech.example"),)), D, PARTY
    )
    assert r.reason == "replies in a thread already on the deal"  # Initech's being closed is beside the point


def test_every_closed_deal_set_aside_is_named() -> None:
    r = match_message(mail("ann@acme.example", cc=(Address("pat@initech.example"),)), D, PARTY)
    assert r.deal_id == PODCASTS
    assert r.reason.endswith("; deals 1, 4 are closed and take new mail only through their thread or token")


@pytest.mark.parametrize(
    ("message", "layer"),
    [
        (mail("jane@acme.example", to=("onboarding+acmewon1@example.com",)), "reply-token"),
        (mail("jane@acme.example", subject="Re: Survey [ref:ACMEWON1]"), "subject-tag"),
        (mail("jane@acme.example", new_text="About [ref:ACMEWON1] again"), "body-tag"),
    ],
)
def test_a_closed_deal_takes_mail_its_token_or_tag_names(message: InboundMessage, layer: str) -> None:
    r = match_message(message, D, PARTY)
    assert (r.deal_id, r.strategy) == (WON, layer)


def test_a_persons_command_may_name_a_closed_deal() -> None:
    r = match_message(mail("sam@example.com", cc=(Address("jane@acme.example"),)), D, PARTY, deal_ref="#1")
    assert (r.deal_id, r.strategy) == (WON, "command")


def test_mail_that_fits_only_a_closed_deal_is_not_taken_and_names_it_for_a_person() -> None:
    r = match_message(mail("pat@initech.example"), D, PARTY)
    assert r.deal_id is None and not r.ambiguous
    assert r.candidates == (INITECH,)
    assert r.reason.startswith("only closed deals fit (pat@initech.example is a contact on the deal")


def test_a_closed_deals_domain_does_not_take_a_strangers_mail() -> None:
    r = match_message(mail("new@initech.example"), D, PARTY)
    assert (r.deal_id, r.candidates) == (None, (INITECH,))


def test_closed_deals_by_name_are_set_aside_too() -> None:
    r = match_message(mail("someone@gmail.com", subject="Acme Radio renewal"), D, PARTY)
    assert (r.deal_id, r.candidates) == (None, (WON,))


def test_the_closed_check_is_one_look_up_per_layer_that_found_deals() -> None:
    d = Directory()
    match_message(reply("<globex@example.com>", "gil@globex.example"), d, PARTY)
    # the thread names its deal (no check); the contact agrees with it, so the domain is not looked up
    assert d.stage_lookups == 1
    d = Directory()
    match_message(mail("x@gmail.com", subject="Nothing here"), d, PARTY)
    assert d.stage_lookups == 0


def test_a_new_meeting_with_the_client_goes_to_the_open_deal() -> None:
    t = datetime(2026, 12, 1, tzinfo=UTC)
    mv = MeetingVersion(
        uid="u",
        recurrence_id="",
        sequence=0,
        dtstamp=None,
        method="REQUEST",
        cancelled=False,
        title="Podcast kick-off",
        description="",
        location="",
        start=t,
        end=t,
        all_day=False,
        organizer=Address("sam@example.com"),
        attendees=(Address("ann@acme.example"),),
    )
    assert match_meeting(mv, D, PARTY).deal_id == PODCASTS
    tagged = replace(mv, description="[ref:ACMEWON1]", attendees=(Address("gil@globex.example"),))
    doubtful = match_meeting(tagged, D, PARTY)  # the tag says Acme Radio, the attendee Globex
    assert doubtful.ambiguous and doubtful.candidates == (WON, GLOBEX)


# --- a thread that says one deal, people who say another ------------------------------------


def test_a_thread_of_one_deal_written_by_another_deals_contact_is_doubted() -> None:
    r = match_message(reply("<podcasts@example.com>", "gil@globex.example"), D, PARTY)
    assert r.deal_id is None and r.ambiguous and r.candidates == (PODCASTS, GLOBEX)
    assert r.reason == (
        "doubtful: replies in a thread already on the deal, but gil@globex.example is a contact on the deal; "
        "globex.example is the client's domain"
    )


def test_a_thread_is_not_doubted_when_someone_on_it_belongs_to_its_deal() -> None:
    r = match_message(
        reply("<podcasts@example.com>", "gil@globex.example", cc=(Address("tim@acme.example"),)), D, PARTY
    )
    assert (r.deal_id, r.strategy) == (PODCASTS, "thread")


def test_a_stranger_at_the_deals_domain_speaks_for_it_even_when_a_contact_is_elsewhere() -> None:
    # gil is Globex's, but the new colleague at acme.example is one of the thread's own client
    m = reply("<podcasts@example.com>", "gil@globex.example", cc=(Address("new@acme.example"),))
    assert match_message(m, D, PARTY).deal_id == PODCASTS


def test_a_thread_is_doubted_by_a_stranger_from_another_clients_domain() -> None:
    r = match_message(reply("<podcasts@example.com>", "newcomer@globex.example"), D, PARTY)
    assert r.ambiguous and r.candidates == (PODCASTS, GLOBEX)


def test_a_thread_with_only_our_people_or_unknown_free_mail_is_not_doubted() -> None:
    assert match_message(reply("<globex@example.com>", "sam@example.com"), D, PARTY).deal_id == GLOBEX
    assert match_message(reply("<globex@example.com>", "who@gmail.com"), D, PARTY).deal_id == GLOBEX


def test_a_thread_is_not_doubted_by_the_contact_of_a_closed_deal() -> None:
    r = match_message(reply("<globex@example.com>", "pat@initech.example"), D, PARTY)
    assert (r.deal_id, r.strategy) == (GLOBEX, "thread")


def test_a_tag_in_the_text_that_names_another_deal_doubts_the_thread() -> None:
    m = reply("<globex@example.com>", "sam@example.com", new_text="Moving this to [ref:PODCAST2].")
    r = match_message(m, D, PARTY)
    assert r.ambiguous and r.candidates == (PODCASTS, GLOBEX)
    assert "its text carries the deal tag [ref:PODCAST2]" in r.reason


def test_a_persons_command_settles_a_doubtful_thread() -> None:
    m = reply("<podcasts@example.com>", "sam@example.com", cc=(Address("gil@globex.example"),))
    assert match_message(m, D, PARTY).ambiguous
    r = match_message(m, D, PARTY, deal_ref="Globex")
    assert (r.deal_id, r.strategy, r.confidence) == (GLOBEX, "command", 1.0)


def test_a_deal_name_in_the_subject_does_not_doubt_a_thread() -> None:
    # names are the weakest evidence: "as we did for Globex" in a subject is not another deal
    r = match_message(
        reply("<podcasts@example.com>", "tim@acme.example", subject="Re: like Globex"), D, PARTY
    )
    assert (r.deal_id, r.strategy) == (PODCASTS, "thread")


# --- who really wrote it --------------------------------------------------------------------


def test_a_plus_address_is_its_contact() -> None:
    assert without_plus("pat.solo+vendors@gmail.com") == "pat.solo@gmail.com"
    assert without_plus("pat.solo@gmail.com") == "" and without_plus("+x@gmail.com") == ""
    r = match_message(mail("pat.solo+vendors@gmail.com"), D, PARTY)
    assert (r.deal_id, r.strategy) == (SOLO, "contact")
    assert r.reason == "pat.solo+vendors@gmail.com is pat.solo@gmail.com, a contact on the deal"


def test_an_unknown_plus_address_matches_nothing() -> None:
    r = match_message(mail("someone+x@gmail.com"), D, PARTY)
    assert r.deal_id is None and r.candidates == ()


def test_domains_and_parents() -> None:
    assert domain_and_parents("it.acme.example") == ["it.acme.example", "acme.example"]
    assert domain_and_parents("acme.example") == ["acme.example"]
    assert domain_and_parents("gmail.com") == [] and domain_and_parents("mail.gmail.com") == [
        "mail.gmail.com"
    ]
    deep = domain_and_parents("a.b.c.d.e.acme.example")
    assert deep == ["a.b.c.d.e.acme.example", "d.e.acme.example", "e.acme.example", "acme.example"]


def test_a_subdomain_of_a_client_domain_finds_the_client() -> None:
    r = match_message(mail("ivan@eu.it.acme.example"), D, PARTY)
    assert r.ambiguous and r.candidates == (PODCASTS, ACME_TV)  # Acme's two open deals, Radio is closed
    r = match_message(mail("ivan@eu.globex.example"), D, PARTY)
    assert (r.deal_id, r.strategy, r.confidence) == (GLOBEX, "client-domain", 0.7)
    assert r.reason == "eu.globex.example is a subdomain of the client's domain globex.example"


def test_the_most_specific_client_domain_wins() -> None:
    assert match_message(mail("ivan@it.umbrella.example"), D, PARTY).deal_id == UMBRELLA_IT
    assert match_message(mail("ivan@hr.umbrella.example"), D, PARTY).deal_id == UMBRELLA


def test_a_lookalike_domain_is_not_a_subdomain() -> None:
    for sender in ("m@notglobex.example", "m@globex.example.evil.example", "m@example"):
        r = match_message(mail(sender), D, PARTY)
        assert r.deal_id is None and r.candidates == (), sender


GROUP = Address("acme-team@googlegroups.com", "Jane Doe' via Acme Team")


def test_a_list_rewrite_is_read_from_the_name() -> None:
    assert via_list(GROUP) == "Jane Doe"
    assert via_list(Address("list@lists.example", "Jane Doe via Acme-list")) == "Jane Doe"
    assert via_list(Address("jane@acme.example", "Jane Doe")) == ""
    assert via_list(Address("drive@google.com", "Jane Doe (via Google Drive)")) == ""
    assert via_list(None) == ""


def test_a_list_rewrite_is_tied_to_the_person_in_reply_to() -> None:
    m = mail(GROUP.email, to=(GROUP.email,), cc=(Address(AGENT),), reply_to=(Address("tim@acme.example"),))
    m = replace(m, sender=GROUP)
    assert relayed_for(m) == [Address("tim@acme.example")]
    r = match_message(m, D, PARTY)
    assert (r.deal_id, r.strategy) == (PODCASTS, "contact")
    assert r.reason == (
        "tim@acme.example is a contact on the deal "
        "(From was rewritten by the list acme-team@googlegroups.com: 'Jane Doe' via Acme Team')"
    )


def test_reply_to_is_not_the_sender_without_a_rewrite() -> None:
    m = mail("news@vendor.example", reply_to=(Address("tim@acme.example"),))
    assert relayed_for(m) == []
    assert match_message(m, D, PARTY).deal_id is None
    own = replace(m, sender=GROUP, reply_to=(Address(GROUP.email),))  # the list answers for itself
    assert relayed_for(own) == []


# --- the rewrite and the calendar labels, as parsed -----------------------------------------


def group_post(extra: str, sender: str = "'Jane Doe' via Acme Team <acme-team@googlegroups.com>") -> bytes:
    return (
        f"From: {sender}\nTo: acme-team@googlegroups.com\nCc: {AGENT}\nSubject: Training\n"
        "Message-ID: <g1@mail.gmail.com>\nPrecedence: list\nList-ID: <acme-team.googlegroups.com>\n"
        f"List-Unsubscribe: <mailto:googlegroups-manage+1+unsubscribe@googlegroups.com>\n{extra}\n"
        "Could we do Thursday?\n"
    ).encode()


def test_a_group_post_for_a_person_is_their_normal_mail() -> None:
    m = parse_message(group_post("Reply-To: Jane Doe <jane@acme.example>\n"), agent_addresses=(AGENT,))
    assert (m.kind, m.auto_submitted) == (MessageKind.NORMAL, False)
    assert m.kind_reason == (
        "a person's message relayed by a list: jane@acme.example wrote it, acme-team@googlegroups.com "
        "rewrote From (header Precedence: list)"
    )
    m = parse_message(group_post("X-Original-From: Jane Doe <jane@acme.example>\n"), agent_addresses=(AGENT,))
    assert m.kind is MessageKind.NORMAL and "jane@acme.example wrote it" in m.kind_reason


def test_list_mail_that_is_no_rewrite_stays_bulk() -> None:
    plain = parse_message(group_post("", sender="Acme News <news@acme.example>"), agent_addresses=(AGENT,))
    assert (plain.kind, plain.auto_submitted) == (MessageKind.BULK, True)
    # a name with "via" but nobody in Reply-To or X-Original-From: a newsletter, not a person
    via = parse_message(group_post(""), agent_addresses=(AGENT,))
    assert via.kind is MessageKind.BULK
    # X-Original-From that is the From itself: nothing was rewritten
    same = group_post("X-Original-From: news@acme.example\n", sender="news@acme.example")
    assert parse_message(same, agent_addresses=(AGENT,)).kind is MessageKind.BULK


def test_a_group_post_relayed_for_the_agent_is_never_answered() -> None:
    m = parse_message(group_post(f"X-Original-From: Onboarding <{AGENT}>\n"), agent_addresses=(AGENT,))
    assert (m.kind, m.auto_submitted) == (MessageKind.BULK, True)
    assert f"relayed for the agent's own address {AGENT}" in m.kind_reason


def test_a_relayed_auto_reply_is_still_an_auto_reply() -> None:
    raw = group_post("X-Original-From: jane@acme.example\nAuto-Submitted: auto-replied\n")
    assert parse_message(raw, agent_addresses=(AGENT,)).kind is MessageKind.AUTO_REPLY


ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"


@pytest.mark.parametrize(
    "label", ["text/calendar", "application/ics", "text/x-vCalendar", "application/x-ics"]
)
def test_every_calendar_label_is_read_as_an_invitation(label: str) -> None:
    raw = (
        b'From: sam@example.com\nSubject: Fwd: call\nContent-Type: multipart/mixed; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nForwarded.\n--b\nContent-Type: "
        + label.encode()
        + b"\n\n"
        + ICS
        + b"--b--\n"
    )
    m = parse_message(raw, agent_addresses=(AGENT,))
    assert m.kind is MessageKind.INVITATION and m.kind_reason.startswith(f"{label.lower()} part present")
    assert [p.strip() for p in m.calendar_parts] == [ICS.strip()]


def test_a_text_attachment_is_no_invitation() -> None:
    raw = (
        b'From: sam@example.com\nSubject: notes\nContent-Type: multipart/mixed; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nNotes.\n--b\nContent-Type: text/x-vcard\n\n"
        b"BEGIN:VCARD\r\nEND:VCARD\r\n--b--\n"
    )
    m = parse_message(raw, agent_addresses=(AGENT,))
    assert m.kind is MessageKind.NORMAL and m.calendar_parts == ()


# --- the store and the pipelines -------------------------------------------------------------


def test_the_shipped_pipelines_final_stages() -> None:
    pipelines = load_pipelines(ROOT / "rules").pipelines
    assert {p: sorted(x.final_stages) for p, x in pipelines.items()} == {
        "standard-onboarding": ["won"],
        "project-onboarding": ["live"],
        "hybrid-onboarding": ["onboarded"],
        "learning-platform-onboarding": ["onboarded"],
    }


def test_deals_in_stages_reads_only_the_candidates(tmp_path: Path) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with open_store(f"sqlite:///{tmp_path / 'a.db'}").begin() as session:
        repo = Repo(session)
        for i, (pipeline, stage) in enumerate(
            [
                ("standard-onboarding", "won"),
                ("standard-onboarding", "set-up"),
                ("project-onboarding", "won"),
            ],
            1,
        ):
            repo.add(
                m.Deal(
                    id=i,
                    name=f"D{i}",
                    pipeline=pipeline,
                    stage=stage,
                    token=f"T{i}",
                    timezone="UTC",
                    created_at=now,
                )
            )
        final = [("standard-onboarding", "won"), ("project-onboarding", "live")]
        assert repo.deals_in_stages([1, 2, 3], final) == {1}
        assert repo.deals_in_stages([2, 3], final) == set()
        assert repo.deals_in_stages([], final) == set() and repo.deals_in_stages([1], []) == set()
        # More candidates than READ_WHOLE: their stages alone are read, with the same answer.
        for i in range(4, 4 + READ_WHOLE):
            repo.add(
                m.Deal(
                    id=i, name=f"D{i}", pipeline="project-onboarding", stage="live", token=f"T{i}",
                    timezone="UTC", created_at=now,
                )
            )  # fmt: skip
        many = list(range(1, 4 + READ_WHOLE))
        assert len(many) > READ_WHOLE
        assert repo.deals_in_stages(many, final) == {1, *range(4, 4 + READ_WHOLE)}


# --- the labelled evaluation ----------------------------------------------------------------

ASK = None  # a person must decide: tying it to any deal is an error


@dataclass(frozen=True)
class Case:
    what: str
    message: InboundMessage
    deal: int | None  # the deal a person would choose, or ASK
    deal_ref: str = ""


CASES = [
    Case("contact of one open deal", mail("gil@globex.example"), GLOBEX),
    Case(
        "contact of a won and an open deal",
        mail("ann@acme.example"),
        PODCASTS,
    ),
    # A person would see that only Tim's deal has both; the matcher takes every participant's
    # deals and asks: a miss of recall, never a wrong deal.
    Case(
        "contacts of one deal and of three",
        mail("tim@acme.example", cc=(Address("jane@acme.example"),)),
        PODCASTS,
    ),
    Case("contact of two open deals", mail("jane@acme.example"), ASK),
    Case("contact of a lost deal only", mail("pat@initech.example"), ASK),
    Case("reply in a won deal's thread", reply("<radio@example.com>", "jane@acme.example"), WON),
    Case("reply in an open deal's thread", reply("<podcasts@example.com>", "jane@acme.example"), PODCASTS),
    Case("another client in a deal's thread", reply("<podcasts@example.com>", "gil@globex.example"), ASK),
    Case(
        "another client cc'd beside the deal's contact",
        reply("<globex@example.com>", "gil@globex.example", cc=(Address("tim@acme.example"),)),
        GLOBEX,
    ),
    Case(
        "another deal's token in a thread",
        reply("<globex@example.com>", "jane@acme.example", to=("onboarding+podcast2@example.com",)),
        ASK,
    ),
    Case("token alone", mail("jane@acme.example", to=("onboarding+podcast2@example.com",)), PODCASTS),
    Case("tag alone", mail("jane@acme.example", subject="Re: x [ref:ACMETV88]"), ACME_TV),
    Case("tag in the text", mail("sam@example.com", new_text="For [ref:GLOBEX33]"), GLOBEX),
    Case("name narrows two open deals", mail("jane@acme.example", subject="Acme TV rollout"), ACME_TV),
    Case("a subdomain", mail("ivan@it.globex.example"), GLOBEX),
    Case("a lookalike domain", mail("ivan@notglobex.example"), ASK),
    Case("a plus-address", mail("pat.solo+x@gmail.com"), SOLO),
    Case(
        "a list rewrite",
        replace(mail(GROUP.email, reply_to=(Address("gil@globex.example"),)), sender=GROUP),
        GLOBEX,
    ),
    Case("free mail stranger", mail("who@gmail.com"), ASK),
    Case(
        "a person's command", mail("sam@example.com", cc=(Address("jane@acme.example"),)), ACME_TV, "Acme TV"
    ),
    Case("a command against the thread", reply("<globex@example.com>", "sam@example.com"), PODCASTS, "#2"),
]


def evaluate(match: Callable[[InboundMessage, str], Match]) -> tuple[float, float, list[str]]:
    """(precision, recall, the cases tied to a wrong deal): precision over the deals decided,
    recall over the cases that have a deal."""
    decided = right = 0
    wrong = []
    for case in CASES:
        found = match(case.message, case.deal_ref).deal_id
        if found is None:
            continue
        decided += 1
        if found == case.deal:
            right += 1
        else:
            wrong.append(case.what)
    has_deal = sum(c.deal is not None for c in CASES)
    return (right / decided if decided else 1.0), right / has_deal, wrong


def test_the_labelled_set_has_no_message_on_a_wrong_deal() -> None:
    # Before the doubts: precision 0.67 (4 messages on a wrong deal), recall 0.53.
    precision, recall, wrong = evaluate(lambda msg, ref: match_message(msg, D, PARTY, ref))
    assert wrong == [] and precision == 1.0
    assert recall == 14 / 15  # all but "contacts of one deal and of three"
