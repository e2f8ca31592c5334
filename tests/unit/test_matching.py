"""Matching strategies against an in-memory directory: which deal, and why."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import ClassVar

from agent.domain import Address, ForwardedBlock, InboundMessage, MeetingVersion
from agent.matching import Party, match_meeting, match_message

PARTY = Party(("onboarding@example.com",), ("example.com",))


class Directory:
    """Two deals of the same client (Acme Radio, Acme TV) and one other (Globex)."""

    tokens: ClassVar[dict[str, int]] = {"ACME1234": 1, "TV567890": 2, "GLOBEX99": 3}
    contacts: ClassVar[dict[str, set[int]]] = {
        "jane@acme.example": {1, 2},
        "tim@acme.example": {2},
        "gil@globex.example": {3},
    }
    domains: ClassVar[dict[str, set[int]]] = {"acme.example": {1, 2}, "globex.example": {3}}
    names: ClassVar[dict[int, str]] = {1: "Acme Radio", 2: "Acme TV", 3: "Globex"}
    threads: ClassVar[dict[str, int]] = {"<intro-1@example.com>": 1}

    def deals_by_token(self, token: str) -> set[int]:
        return {self.tokens[token]} if token in self.tokens else set()

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
        return set()  # no final stages here: tests/unit/test_matching_doubts.py has closed deals


def msg(sender: str, to: list[str], subject: str = "Hello", **kw: object) -> InboundMessage:
    return InboundMessage.bare(
        "<m@x>", subject=subject, sender=Address(sender), to=tuple(Address(a) for a in to), **kw
    )


D = Directory()


def test_reply_token_in_the_plus_address_wins() -> None:
    m = msg("jane@acme.example", ["onboarding+TV567890@example.com"])
    r = match_message(m, D, PARTY)
    assert (r.deal_id, r.strategy) == (2, "reply-token")
    assert "onboarding+tv567890@example.com" in r.reason.lower()


def test_subject_tag_survives_a_lost_reply_address() -> None:
    r = match_message(
        msg("jane@acme.example", ["onboarding@example.com"], "Re: Welcome [ref:ACME1234]"), D, PARTY
    )
    assert (r.deal_id, r.strategy) == (1, "subject-tag")


def test_thread_references() -> None:
    m = msg("jane@acme.example", ["onboarding@example.com"], references=("<intro-1@example.com>",))
    assert match_message(m, D, PARTY).deal_id == 1


def test_bcc_from_our_csm_matches_the_client_contact_not_our_own_domain() -> None:
    r = match_message(msg("sam@example.com", ["gil@globex.example"]), D, PARTY)
    assert (r.deal_id, r.strategy) == (3, "contact")
    assert r.reason == "gil@globex.example is a contact on the deal"


def test_two_deals_of_one_client_are_told_apart_by_the_name_in_the_subject() -> None:
    r = match_message(msg("jane@acme.example", ["sam@example.com"], "Acme TV rollout"), D, PARTY)
    assert r.deal_id == 2
    assert "contact" in r.reason and "deal name" in r.reason


def test_ambiguous_when_nothing_narrows_it_down() -> None:
    r = match_message(msg("jane@acme.example", ["sam@example.com"], "Quick question"), D, PARTY)
    assert r.deal_id is None and r.ambiguous
    assert r.candidates == (1, 2)


def test_unknown_colleague_at_the_clients_domain_matches_by_domain() -> None:
    r = match_message(msg("newperson@globex.example", ["onboarding@example.com"]), D, PARTY)
    assert (r.deal_id, r.strategy) == (3, "client-domain")


def test_free_mail_domains_never_match_by_domain() -> None:
    class FreeMailDirectory(Directory):
        domains: ClassVar[dict[str, set[int]]] = {"gmail.com": {3}}

    d = FreeMailDirectory()
    r = match_message(msg("someone@gmail.com", ["onboarding@example.com"]), d, PARTY)
    assert r.deal_id is None and not r.ambiguous


def test_forwarded_thread_is_matched_by_its_original_participants() -> None:
    fwd = ForwardedBlock(sender=Address("gil@globex.example"), to=(Address("sam@example.com"),))
    m = msg("sam@example.com", ["onboarding@example.com"], "Fwd: question", forwarded=(fwd,))
    assert match_message(m, D, PARTY).deal_id == 3


def test_meeting_attendees_then_title() -> None:
    from datetime import UTC, datetime

    t = datetime(2026, 12, 1, tzinfo=UTC)
    mv = MeetingVersion(
        uid="u",
        recurrence_id="",
        sequence=0,
        dtstamp=None,
        method="REQUEST",
        cancelled=False,
        title="Acme Radio kickoff",
        description="",
        location="",
        start=t,
        end=t,
        all_day=False,
        organizer=Address("sam@example.com"),
        attendees=(Address("jane@acme.example"),),
    )
    r = match_meeting(mv, D, PARTY)
    assert r.deal_id == 1 and "title" in r.reason
    internal_only = replace(mv, attendees=(), title="Team sync")
    assert match_meeting(internal_only, D, PARTY).deal_id is None


def test_each_layer_says_how_sure_it_is() -> None:
    assert (
        match_message(msg("jane@acme.example", ["onboarding+TV567890@example.com"]), D, PARTY).confidence
        == 0.99
    )
    assert match_message(msg("gil@globex.example", ["sam@example.com"]), D, PARTY).confidence == 0.9
    by_domain = match_message(msg("new@globex.example", ["onboarding@example.com"]), D, PARTY)
    assert by_domain.confidence == 0.7
    assert match_message(msg("x@gmail.com", ["y@gmail.com"], "Globex renewal"), D, PARTY).confidence == 0.6


def test_our_own_thread_comes_before_the_token() -> None:
    m = msg("jane@acme.example", ["onboarding+ACME1234@example.com"], references=("<intro-1@example.com>",))
    r = match_message(m, D, PARTY)
    assert (r.deal_id, r.strategy) == (1, "thread")


def test_a_thread_of_one_deal_sent_to_another_deals_reply_address_is_asked_about() -> None:
    # It used to go to the thread's deal; the recipients say another: a person decides.
    m = msg("jane@acme.example", ["onboarding+TV567890@example.com"], references=("<intro-1@example.com>",))
    r = match_message(m, D, PARTY)
    assert r.deal_id is None and r.ambiguous and r.candidates == (1, 2)
    assert r.reason.startswith("doubtful: replies in a thread already on the deal, but sent to")


def test_a_persons_deal_command_decides_between_two_deals_of_one_client() -> None:
    m = msg(
        "sam@example.com", ["onboarding@example.com"], "Fwd: question", cc=(Address("jane@acme.example"),)
    )
    assert match_message(m, D, PARTY).ambiguous
    for ref in ("Acme TV", "[ref:TV567890]", "TV567890", "#2", "2"):
        r = match_message(m, D, PARTY, deal_ref=ref)
        assert (r.deal_id, r.strategy, r.confidence) == (2, "command", 1.0), ref
    assert match_message(m, D, PARTY, deal_ref="No Such Deal").ambiguous
