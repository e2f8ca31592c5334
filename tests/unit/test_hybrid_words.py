"""The words of the `hybrid` and `escalate` email commands (agent.handling.commands)."""

from __future__ import annotations

import pytest

from agent.handling.commands.grammar import Command, parse_commands
from agent.handling.commands.hybrid import path_of


@pytest.mark.parametrize(
    ("line", "path"),
    [
        ("hybrid learning-bought-service", "learning-bought-service"),
        ("Hybrid service-bought-learning.", "service-bought-learning"),
        ("became hybrid: bought FMC", "learning-bought-service"),
        ("Now hybrid, they bought the credentialing service", "learning-bought-service"),
        ("The account became hybrid: bought the managed service", "learning-bought-service"),
        ("became hybrid: bought learning", "service-bought-learning"),
        ("became hybrid: compliance", "service-bought-learning"),
        ("hybrid: LMS", "service-bought-learning"),
        ("hybrid: an FMC account bought learning", "service-bought-learning"),  # what was bought counts
        ("became hybrid: bought the credentialing software", ""),  # CRED SOFT is not the service
        ("hybrid foo", ""),
    ],
)
def test_which_way_an_account_became_hybrid(line: str, path: str) -> None:
    [command] = parse_commands("Re: Acme Radio", line)
    assert command.verb == "hybrid" and path_of(command.arg) == path


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        (
            "",
            "escalate the client threatens to cancel",
            [
                Command(
                    "escalate", "the client threatens to cancel", "escalate the client threatens to cancel"
                )
            ],
        ),
        (
            "",
            "Escalation: outage for 3 days",
            [Command("escalate", "outage for 3 days", "Escalation: outage for 3 days")],
        ),
        # said in the subject and again in the body: one escalation, the subject's
        ("Escalation: Acme", "escalate now\n\nSam", [Command("escalate", "Acme", "Escalation: Acme")]),
        ("", "escalated to the TL yesterday", []),
        ("Re: Hybrid account sync: Acme Radio", "", []),  # the sync invitation's subject, answered
    ],
)
def test_escalate_and_what_is_not_a_command(subject: str, body: str, expected: list[Command]) -> None:
    assert parse_commands(subject, body) == expected
