"""The inbound mail steps, each alone, and the pipeline that records why each took or passed a message."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.config import AgentSection
from agent.domain import Address, InboundMessage, MessageKind
from agent.handling.cause import begin
from agent.handling.mail.guards import AutoReply, Duplicate, OwnMail
from agent.handling.mail.history import History
from agent.handling.mail.pipeline import MailItem, MailPipeline, Passed, Took
from agent.handling.mail.senders import Commands
from agent.matching import Match, Party
from agent.store import audit_lines
from agent.store import models as m
from agent.store.db import open_store
from agent.store.repo import Repo

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
AGENT = "onboarding@example.com"
PARTY = Party((AGENT,), ("example.com",))


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    session: Session
    with open_store(f"sqlite:///{tmp_path / 'a.db'}").begin() as session:
        yield Repo(session)


def item(repo: Repo, sender: str, n: int = 1, **fields: object) -> MailItem:
    cause = begin(repo, f"mail:{n}", "mail", NOW)
    assert cause is not None
    msg = InboundMessage.bare(
        f"<m{n}@acme.example>",
        subject="Hello",
        sender=Address(sender),
        to=(Address(AGENT),),
        new_text="Hello there",
        **fields,
    )
    return MailItem(repo, msg, cause, NOW, b"raw bytes")


class Last:
    """A step that takes whatever reaches it."""

    name = "last"

    def __call__(self, item: MailItem) -> Took | Passed:
        return Took("reached the end", "done")


def messages(repo: Repo) -> list[tuple[str, str, str]]:
    return [(r.direction, r.status, r.match_reason) for r in repo.s.scalars(select(m.Message))]


def test_the_pipeline_records_every_step_that_passed_and_the_one_that_took(repo: Repo) -> None:
    mail = item(repo, "jane@acme.example")
    label = MailPipeline([OwnMail(PARTY), Duplicate(), Last()]).process(mail)
    assert label == "done"
    assert mail.trace == [
        ("own mail", False, "not from the agent's address"),
        ("duplicate", False, "a new Message-ID"),
        ("last", True, "reached the end"),
    ]


def test_steps_after_the_one_that_took_do_not_run(repo: Repo) -> None:
    mail = item(repo, AGENT)
    assert MailPipeline([OwnMail(PARTY), Last()]).process(mail) is None
    assert [name for name, _, _ in mail.trace] == ["own mail"]
    assert messages(repo) == [("outbound", "ignored", "the agent's own email")]


def test_a_pipeline_where_no_step_takes_the_message_is_an_error_not_a_silent_drop(repo: Repo) -> None:
    with pytest.raises(RuntimeError, match="no step took the message"):
        MailPipeline([OwnMail(PARTY)]).process(item(repo, "jane@acme.example"))


def test_a_message_id_seen_before_is_taken_as_a_duplicate_and_audited(repo: Repo) -> None:
    first = item(repo, "jane@acme.example", 1)
    first.log_message(None, "inbound", "unmatched", "no deal")
    again = item(repo, "jane@acme.example", 2)
    again.msg = first.msg
    assert isinstance(Duplicate()(again), Took)
    audit_lines.write(repo.s)  # the lines the transaction holds until it commits
    assert [a.kind for a in repo.s.scalars(select(m.AuditEntry))] == ["duplicate"]


def test_the_commands_step_sets_the_direction_and_obeys_nobody_from_outside(repo: Repo) -> None:
    step = Commands(PARTY, AgentSection())
    client = item(repo, "jane@acme.example")
    assert step(client) == Passed("from outside: no commands")
    assert (client.direction, client.commands) == ("inbound", None)


def test_an_auto_reply_is_logged_on_its_deal_and_never_acted_on(repo: Repo) -> None:
    mail = item(
        repo,
        "jane@acme.example",
        kind=MessageKind.AUTO_REPLY,
        kind_reason="out of office",
        auto_submitted=True,
    )
    mail.match = Match(None, "", "no deal")
    verdict = AutoReply()(mail)
    assert isinstance(verdict, Took) and "out of office" in verdict.reason
    assert messages(repo) == [("inbound", "ignored", "out of office; no deal")]
    assert AutoReply()(item(repo, "jane@acme.example", 3)) == Passed("written by a person")


def test_history_is_logged_with_its_match_and_taken_before_anything_acts_on_it(repo: Repo) -> None:
    new = item(repo, "jane@acme.example", 1)
    assert History()(new) == Passed("arrived after the agent first watched the mailbox")
    old = item(repo, "jane@acme.example", 2)
    old.history = True
    old.match = Match(None, "", "two deals fit", candidates=(1, 2))
    verdict = History()(old)
    # filed with the mail no deal matched (an IMAP folder), not queued for a person
    assert verdict == Took("history: the mailbox held it before the agent first watched it", "unmatched")
    assert messages(repo) == [("inbound", "history", "two deals fit")]
    [row] = repo.s.scalars(select(m.Message))
    assert (row.deal_id, row.candidates, row.raw) == (None, [1, 2], None)  # not kept for a person to assign
    assert repo.unmatched() == []  # no unmatched entry, no question


def test_a_bounce_from_the_history_marks_nothing_bounced(repo: Repo) -> None:
    from agent.handling.mail.guards import Bounce

    class NoQueue:  # a history bounce must not reach the enqueuer
        def notify_responsible(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("a person was told of an old bounce")

    fields = {"kind": MessageKind.BOUNCE, "bounced_recipients": ("jane@acme.example",)}
    old = item(repo, "mailer-daemon@mx.example", 1, **fields)
    old.history = True
    assert Bounce(NoQueue())(old) == Passed("a delivery report from the mailbox's history")  # type: ignore[arg-type]
    assert repo.flag("jane@acme.example").bounced_at is None
    new = item(repo, "mailer-daemon@mx.example", 2, **fields)
    assert isinstance(Bounce(NoQueue())(new), Took)  # type: ignore[arg-type]
    assert repo.flag("jane@acme.example").bounced_at == NOW
