"""A message's text bodies go to the parser apart from its skeleton and come back as it would read them.

agent.mime.skeleton hands each inline text body over beside the skeleton (the feedparser read
it line by line: a third of a parse); every message must parse exactly as it did with its
bodies inline: the corpus, and the shapes where a body's bytes matter.
"""

from __future__ import annotations

from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import compat32

import pytest

from agent.domain import InboundMessage
from agent.mime import skeleton as skeleton_module
from agent.mime.limits import LIMITS
from agent.mime.parse import parse_message
from agent.mime.skeleton import Skeleton, skeleton
from tests.unit.test_mail_parse import AGENT, CORPUS, needs_corpus


def both(raw: bytes, monkeypatch: pytest.MonkeyPatch, **kwargs: int) -> tuple[InboundMessage, InboundMessage]:
    """(parsed with the bodies apart, parsed with them inline in the skeleton)."""
    apart = parse_message(raw, agent_addresses=(AGENT,), **kwargs)
    with monkeypatch.context() as patch:
        patch.setattr(skeleton_module, "BODIES_APART", False)
        inline = parse_message(raw, agent_addresses=(AGENT,), **kwargs)
    return apart, inline


def multipart(text: str, html: str, *, charset: str = "utf-8", cte: str = "quoted-printable") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann Client <ann@client.example>"
    msg["To"] = AGENT
    msg["Subject"] = "Re: rollout"
    msg["Message-ID"] = "<m1@client.example>"
    msg.set_content(text, charset=charset, cte=cte)
    msg.add_alternative(html, subtype="html", charset=charset, cte=cte)
    msg.add_attachment(b"%PDF-1.4 " * 500, maintype="application", subtype="pdf", filename="plan.pdf")
    return msg.as_bytes()


@needs_corpus
def test_every_corpus_message_parses_as_with_its_bodies_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    assert CORPUS is not None
    files = sorted(CORPUS.glob("*.eml"))
    assert files
    for path in files:
        apart, inline = both(path.read_bytes(), monkeypatch)
        assert apart == inline, path.name


SHAPES = {
    "quoted-printable, CRLF": multipart("Thanks — the rollout. " * 300, "<p>Thanks</p>" * 200).replace(
        b"\n", b"\r\n"
    ),
    "base64 text": multipart("Grüße aus Köln\n" * 50, "<b>Grüße</b>", cte="base64"),
    "8bit latin-1": multipart("Café crème\n" * 20, "<i>Café</i>", charset="latin-1", cte="8bit"),
    "undecodable bytes": b"From: a@client.example\nSubject: x\nContent-Type: text/plain\n\nbad \xff\xfe bytes\n",
    "plain, no MIME": b"From: a@client.example\nSubject: plain\n\nJust text,\nover two lines.\n",
    "empty body": b"From: a@client.example\nSubject: empty\nContent-Type: text/plain\n\n",
    "no blank line": b"From: a@client.example\nSubject: none",
    "a mark-like line": b"From: a@client.example\nSubject: x\n\n\x00csm-body-0123456789ab:0\x00 hi\n",
    "unclosed multipart": b"From: a@client.example\nSubject: x\nContent-Type: multipart/mixed; boundary=B\n\n"
    b"--B\nContent-Type: text/plain\n\nfirst part\n--B\nContent-Type: text/html\n\n<p>second</p>\n",
}


@pytest.mark.parametrize("name", SHAPES)
def test_a_body_parses_as_with_it_inline(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    apart, inline = both(SHAPES[name], monkeypatch)
    assert apart == inline


def test_a_text_part_over_the_limit_is_cut_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    long = multipart("A line of the rollout plan.\n" * (LIMITS.text_part // 20), "<p>x</p>")
    apart, inline = both(long, monkeypatch)
    assert apart == inline
    assert "cut" in apart.text[-300:]  # the note says so, as it did


def test_the_parser_gets_marks_and_not_the_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = multipart("Thanks for the update. " * 100, "<p>Thanks</p>")
    read = skeleton(raw)
    assert len(read.bodies) == 2 and b"Thanks for the update" not in read.data
    monkeypatch.setattr(skeleton_module, "BODIES_APART", False)
    assert read.whole() == skeleton(raw).data  # the fallback's skeleton: every body inline


def test_bodies_not_found_where_the_scan_left_them_send_the_parser_back_to_the_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = multipart("Thanks for the update. " * 100, "<p>Thanks</p>")
    read = skeleton(raw)
    parsed = BytesParser(policy=compat32).parsebytes(read.data.replace(read.mark + b"1\x00", b"lost"))
    assert not read.put_back(parsed)  # one mark was not where the scan put it: the caller parses whole()
    refused: list[Skeleton] = []

    def refuse(self: Skeleton, msg: Message) -> bool:
        refused.append(self)
        return False

    monkeypatch.setattr(Skeleton, "put_back", refuse)
    apart, inline = both(raw, monkeypatch)
    assert refused and apart == inline and "Thanks for the update" in apart.text


def test_bodies_apart_still_count_against_what_the_parser_may_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # Twenty text parts of 250 KB: 5 MB of text, over the 4 MB read in all; the parts after it are
    # left out and the message is never answered, bodies apart or inline.
    parts = [
        b"--B\nContent-Type: text/plain\n\n" + (b"%02d " % n + b"x" * 99 + b"\n") * 2500 for n in range(20)
    ]
    raw = b"From: a@client.example\nSubject: x\nContent-Type: multipart/mixed; boundary=B\n\n"
    raw += b"".join(parts) + b"--B--\n"
    apart, inline = both(raw, monkeypatch)
    assert apart == inline
    assert apart.auto_submitted and "read were left out" in apart.kind_reason
    assert "19 " + "x" * 99 not in apart.text
