from __future__ import annotations

import pytest

from agent.domain import Address, InboundMessage
from agent.handling.commands.grammar import Command, parse_commands
from agent.mime.authenticity import verify_sender


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("advance", "", [Command("advance", "", "advance")]),
        (
            "Re: whatever",
            "Advance to training.\n\nSam",
            [Command("advance", "training", "Advance to training.")],
        ),
        ("", "set stage set-up", [Command("advance", "set-up", "set stage set-up")]),
        ("", "done import-data", [Command("done", "import-data", "done import-data")]),
        ("", "Mark import-data as done", [Command("done", "import-data", "Mark import-data as done")]),
        (
            "deal Acme Radio",
            "no-show",
            [Command("deal", "Acme Radio", "deal Acme Radio"), Command("no-show", "", "no-show")],
        ),
        (
            "Fwd: attach to deal [ref:ABCD2345]",
            "",
            [Command("deal", "[ref:ABCD2345]", "attach to deal [ref:ABCD2345]")],
        ),
        ("", "ignore", [Command("ignore", "", "ignore")]),
        ("", "Approved, thanks!", [Command("approve", "", "Approved, thanks!")]),
        ("", "Rejected: not yet", [Command("reject", "", "Rejected: not yet")]),
    ],
)
def test_commands_in_the_subject_or_the_first_lines(subject: str, body: str, expected: list[Command]) -> None:
    assert parse_commands(subject, body) == expected


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Advance notice: your training next week", "Hi Jane, please find attached..."),
        ("Re: [agent] Approve: Acme Radio to leave Set-Up?", "Let me check with Alex first."),
        ("Hello", "Thanks for the call.\nLine two\nLine three\nadvance"),  # past the first lines
        ("No problem", "No problem at all, approved later"),
    ],
)
def test_ordinary_mail_is_not_taken_for_a_command(subject: str, body: str) -> None:
    assert parse_commands(subject, body) == []


def message(sender: str, *auth: str) -> InboundMessage:
    return InboundMessage.bare(
        "<m@x>", subject="advance", sender=Address(sender), authentication_results=auth
    )


INTERNAL = ("example.com",)


def test_outside_senders_are_never_trusted() -> None:
    assert not verify_sender(message("eve@evil.example"), INTERNAL, ()).trusted


def test_without_trusted_servers_the_internal_domain_is_enough_and_says_so() -> None:
    v = verify_sender(message("sam@example.com"), INTERNAL, ())
    assert v.trusted and "not verified" in v.reason


@pytest.mark.parametrize(
    "header",
    [
        "mx.example.com; dkim=pass header.d=example.com header.s=sel; spf=fail smtp.mailfrom=x@y.example",
        "mx.example.com; spf=pass smtp.mailfrom=sam@example.com",
        "mx.example.com; dmarc=pass (p=reject) header.from=example.com",
        "MX.example.com;\r\n dkim=pass header.i=@mail.example.com",
    ],
)
def test_a_pass_from_a_trusted_server_proves_the_sender(header: str) -> None:
    assert verify_sender(message("sam@example.com", header), INTERNAL, ("mx.example.com",)).trusted


@pytest.mark.parametrize(
    "headers",
    [
        (),  # nothing at all: a spoof from outside
        ("mx.example.com; dkim=fail header.d=example.com; spf=softfail smtp.mailfrom=sam@example.com",),
        ("evil.example; dkim=pass header.d=example.com",),  # a header the attacker wrote
        ("mx.example.com; dkim=pass header.d=evil.example",),  # signed, but by another domain
    ],
)
def test_spoofed_internal_senders_are_refused(headers: tuple[str, ...]) -> None:
    v = verify_sender(message("sam@example.com", *headers), INTERNAL, ("mx.example.com",))
    assert not v.trusted and "no DKIM, DMARC or SPF pass" in v.reason


def test_every_verb_of_the_grammar_is_carried_out_by_its_module_or_read_by_a_mail_step() -> None:
    from agent.handling.commands.grammar import _GRAMMAR
    from agent.handling.commands.obey import COMMANDS

    # `deal` is read by the match step, `ignore` by the matched step; every other verb has a module
    assert {verb for verb, _ in _GRAMMAR} == set(COMMANDS) | {"deal", "ignore"}
