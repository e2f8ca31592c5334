"""Every real-world message of the corpus goes through the whole agent, over Maildir and over IMAP."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from agent.clock import ManualClock
from agent.config import load_config
from agent.deals import ContactSpec
from agent.mime.parse import parse_message
from agent.store import models as m
from agent.store.repo import Repo
from tests.conftest import CSM, Harness, write_config
from tests.integration.conftest import imap_config
from tests.servers import Dovecot

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "eml"
EXPECTED_KIND = {
    "flanker_bounce_gmail-invalid-address.eml": "bounce",
    "flanker_bounce_mailbox-full.eml": "bounce",
    "flanker_bounce_delayed.eml": "bounce",
    "flanker_disposition-notification.eml": "receipt",
    "flanker_charset-gb2312.eml": "normal",
    "flanker_bilingual-simple.eml": "normal",
    "flanker_dashed-boundaries.eml": "normal",
    "flanker_8bitmime.eml": "normal",
    "calmailproc_test-01-2.eml": "invitation",
    "calmailproc_test-10.eml": "invitation",
    "calmailproc_test-05-1.eml": "invitation",
    "calmailproc_test-04-1.eml": "invitation",
    "thunderbird_teams-meeting-invite.eml": "invitation",
    "james_yahooInvitation.eml": "invitation",
    "sisimai_rfc3834-01.eml": "auto_reply",
    "sisimai_rfc3834-02.eml": "auto_reply",
    "sisimai_rfc3834-06.eml": "auto_reply",
}


def test_the_expectations_cover_the_whole_corpus() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(EXPECTED_KIND)


def add_senders_as_a_deal(h: Harness) -> None:
    """Every corpus sender is a contact of one deal: each message matches, so each could be answered."""
    senders = sorted(
        {sender for sender, _ in (identity(p.read_bytes()) for p in CORPUS.glob("*.eml")) if sender}
    )
    h.add_deal("Corpus Ltd", contacts=[ContactSpec(e.split("@")[0], e, "contact") for e in senders])
    h.run()
    assert h.sent_templates() == ["intro"]


def identity(raw: bytes) -> tuple[str, str]:
    """(sender, subject): how a corpus message is recognised after LMTP added its own headers."""
    msg = parse_message(raw)
    return (msg.sender.email if msg.sender else "", msg.subject)


def check(h: Harness) -> None:
    report = h.run()
    assert report.quarantined == 0
    with h.agent.sessions.begin() as s:
        kinds = {
            (sender, subject): kind
            for sender, subject, kind in s.execute(
                select(m.Message.sender, m.Message.subject, m.Message.kind)
            ).all()
        }
        quarantined = s.scalars(select(m.InboundEvent).where(m.InboundEvent.status == "quarantined")).all()
    assert quarantined == []
    names = {p.name: identity(p.read_bytes()) for p in CORPUS.glob("*.eml")}
    assert len(set(names.values())) == len(names)  # each file is told apart
    assert {name: kinds.get(who) for name, who in names.items()} == EXPECTED_KIND  # file by file
    # not one of them is answered; a client's ordinary message the CSM did not get is forwarded to them
    assert [t for t in h.sent_templates() if t != "client-reply"] == ["intro"]
    with h.agent.sessions.begin() as s:
        forwards = [e for e in Repo(s).outbox_all() if e.template == "client-reply"]
        assert forwards and all([a["email"] for a in e.to] == [CSM[1]] for e in forwards)


def test_corpus_through_the_maildir(tmp_path: Path) -> None:
    h = Harness(load_config(write_config(tmp_path)), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))
    add_senders_as_a_deal(h)
    for path in sorted(CORPUS.glob("*.eml")):
        h.deliver(path.read_bytes())
    check(h)


@pytest.mark.integration
def test_corpus_through_imap(tmp_path: Path, dovecot: Dovecot, user: str) -> None:
    h = Harness(
        load_config(imap_config(tmp_path, dovecot, user)), ManualClock(datetime(2026, 11, 30, 9, tzinfo=UTC))
    )
    add_senders_as_a_deal(h)
    dovecot.deliver_many(user, [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))])
    check(h)
