"""agent.mime.addresses.header_message_id and header_addresses: the Message-ID and the addresses a
raw header names, for a look-ahead that asks the store about them before the message is parsed.
They must name what the parser names (an address may be missed: it is then asked about later)."""

from __future__ import annotations

import pytest

from agent.domain import InboundMessage
from agent.mime.addresses import header_addresses, header_message_id
from agent.mime.parse import parse_message
from tests.unit.test_mail_parse import AGENT, CORPUS, needs_corpus


def corpus() -> list[tuple[str, bytes, InboundMessage]]:
    """Each corpus message: its file's name, its bytes and the parser's reading of it."""
    assert CORPUS is not None
    files = sorted(CORPUS.glob("*.eml"))
    return [
        (p.name, raw, parse_message(raw, agent_addresses=(AGENT,))) for p in files if (raw := p.read_bytes())
    ]


@needs_corpus
def test_every_corpus_message_names_the_id_the_parser_finds() -> None:
    files = corpus()
    named = 0
    for name, raw, msg in files:
        found = header_message_id(raw)
        parsed = msg.message_id
        if found is not None:
            named += 1
            assert found == parsed, name
        else:  # none in its header: the parser made one up
            assert parsed.endswith("@csm-agent.invalid>"), name
    assert named > len(files) / 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"From: a@b.example\nMessage-ID: <m1@b.example>\n\nhi\n", "<m1@b.example>"),
        (b"From: a@b.example\r\nmessage-id:\r\n <m2@b.example>\r\n\r\nhi\r\n", "<m2@b.example>"),  # folded
        (b"Message-Id: m3@b.example\n\n", "<m3@b.example>"),  # no brackets
        (b"From: a@b.example\n\nMessage-ID: <in-the-body@b.example>\n", None),
        (b"From: a@b.example\nX-Message-ID: <other@b.example>\n\n", None),
        (b"", None),
    ],
)
def test_the_header_alone_is_read(raw: bytes, expected: str | None) -> None:
    assert header_message_id(raw) == expected


@needs_corpus
def test_the_addresses_of_a_corpus_messages_header_are_those_the_parser_finds() -> None:
    files = corpus()
    whole = 0
    for name, raw, msg in files:
        guess = header_addresses(raw)
        people = {a.email for a in (msg.sender, *msg.to, *msg.cc, *msg.reply_to) if a and a.email}
        assert guess == {g.lower() for g in guess}, name
        whole += people <= guess
    assert whole > 0.9 * len(files)  # an encoded or odd address may be missed: looked up in its turn


def test_header_addresses_reads_the_header_alone() -> None:
    raw = (
        b'From: "Doe, Jane" <Jane@Acme.example>\r\nTo: a@b.example,\r\n c@d.example\r\n'
        b"Cc: <e@f.example>\r\nSubject: to x@y.example\r\nX-Other: g@h.example\r\n\r\nbody z@w.example\r\n"
    )
    assert header_addresses(raw) == {"jane@acme.example", "a@b.example", "c@d.example", "e@f.example"}
    assert header_addresses(b"") == set()


def test_the_header_ends_at_the_first_blank_line_crlf_or_bare() -> None:
    # A body's blank lines, bare or CRLF, and headers of a forwarded message in it are not the header.
    crlf = b"From: a@b.example\r\n\r\nbody\n\nTo: c@d.example\r\n\r\nCc: e@f.example\r\n"
    bare = b"From: a@b.example\n\nbody\r\n\r\nTo: c@d.example\n"
    assert header_addresses(crlf) == header_addresses(bare) == {"a@b.example"}
    # a blank line of the other kind than the first line's ends the header there, as the parser reads it
    mixed = b"From: a@b.example\r\n\nTo: c@d.example\r\n\r\n"
    assert header_addresses(mixed) == {"a@b.example"}
    mixed = b"From: a@b.example\nCc: c@d.example\r\n\r\nTo: e@f.example\n\n"
    assert header_addresses(mixed) == {"a@b.example", "c@d.example"}
    assert header_addresses(b"From: a@b.example\r\nTo: c@d.example") == {"a@b.example", "c@d.example"}


class _Searches(bytes):
    """A raw message that notes each search for a line end the message does not use, and how far."""

    absent: bytes
    bounds: list[int]

    def find(self, sub: bytes, *args: int) -> int:  # type: ignore[override]
        if sub == self.absent:
            self.bounds.append(args[1] if len(args) > 1 else len(self))
        return super().find(sub, *args)


def test_a_message_is_not_searched_past_its_header_for_the_line_end_it_does_not_use() -> None:
    # Searched through, a 100 KB message cost 5 % of a backlog's ingest, twice a message.
    body = b"Thanks for the update on the rollout.\n" * 3000
    for end, absent in ((b"\r\n", b"\n\n"), (b"\n", b"\r\n\r\n")):
        head = b"From: a@b.example" + end + b"To: c@d.example" + end
        raw = _Searches(head + end + body.replace(b"\n", end))
        raw.absent, raw.bounds = absent, []
        assert header_addresses(raw) == {"a@b.example", "c@d.example"}
        assert header_message_id(raw) is None
        assert raw.bounds and max(raw.bounds) <= len(head), end
