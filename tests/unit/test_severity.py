"""agent.severity: whether a message reports an issue, its kind (seeds/004's), and how severe its words say
it is; and agent.handling.issues' reading of a person's answer ("confirm", "it's only medium")."""

from __future__ import annotations

import pytest

from agent.config import SeveritySection
from agent.handling.issues import CONFIRM, _severity_in
from agent.severity import at_least, parse_severity, read_issue

DEFAULT = SeveritySection()


@pytest.mark.parametrize(
    ("subject", "text", "kind", "severity", "evidence"),
    [
        (
            "Users duplicated",
            "Since the ADP sync users are appearing duplicated.",
            "integration",
            "medium",
            "",
        ),
        ("URGENT", "Employees are disappearing from the Employee Center", "integration", "high", "URGENT"),
        ("Help", "This is critical: nobody can log in, the portal is down", "bug", "critical", "critical"),
        ("P1 outage", "the system is down", "bug", "critical", "P1"),
        ("sev 2", "the export throws an error", "bug", "high", "sev 2"),
        ("Question", "Minor, no rush: one location name is wrong", "integration", "low", "Minor"),
        ("Heads-up", "Scheduled maintenance on Saturday night", "maintenance", "medium", ""),
        ("Ticket 48213", "Any news?", "ticket", "medium", ""),
        ("Terminated employees", "still show as active", "integration", "medium", ""),
    ],
)
def test_an_issue_is_read_with_its_kind_and_severity(
    subject: str, text: str, kind: str, severity: str, evidence: str
) -> None:
    reading = read_issue(subject, text, DEFAULT)
    assert reading is not None
    assert (reading.kind, reading.severity, reading.evidence) == (kind, severity, evidence)


def test_critical_words_win_over_high_ones() -> None:
    reading = read_issue("Urgent", "it is critical, we are blocked", DEFAULT)
    assert reading is not None and (reading.severity, reading.evidence) == ("critical", "critical")


@pytest.mark.parametrize(
    "text",
    ["Thanks for the call yesterday, see you Tuesday.", "Could you send the slides?", "Looks good to me."],
)
def test_ordinary_mail_is_no_issue(text: str) -> None:
    assert read_issue("Re: Onboarding", text, DEFAULT) is None


def test_a_ticket_number_is_kept() -> None:
    reading = read_issue("Re: Support ticket #48213", "The integration team is on it.", DEFAULT)
    assert reading is not None and reading.ticket == "48213"


def test_the_words_per_level_and_the_default_come_from_the_config() -> None:
    mine = SeveritySection(critical=(r"\bcode red\b",), high=(), medium=(), low=(), default="low")
    assert read_issue("x", "code red: the import is broken", mine).severity == "critical"  # type: ignore[union-attr]
    assert read_issue("x", "critical: the import is broken", mine).severity == "low"  # type: ignore[union-attr]
    # a marker alone makes an issue (an inquiry), even with no issue words
    assert read_issue("x", "code red, call me", mine).kind == "inquiry"  # type: ignore[union-attr]


def test_a_bad_pattern_in_the_config_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"'\(oops' is not a valid regular expression"):
        SeveritySection(high=("(oops",))


@pytest.mark.parametrize(
    ("said", "severity"),
    [
        ("It's only medium, no meeting needed", "medium"),
        ("P1 - call them today", "critical"),
        ("Severity 2", "high"),
        ("low", "low"),
        ("I'd say high or critical, not sure", None),  # two named: unclear, asked back
        ("Not critical.", None),  # said not to be: no level named
        ("It isn't really high. Low.", "low"),
        ("no, it is high", "high"),
        ("Let me look into it", None),
    ],
)
def test_a_persons_answer_names_one_severity_or_none(said: str, severity: str | None) -> None:
    assert _severity_in(said) == severity


@pytest.mark.parametrize(("said", "confirms"), [("Confirm", True), ("yes", True), ("Confirmed.", True),
                                               ("confirm not", False), ("No idea", False)])  # fmt: skip
def test_a_confirmation_is_read(said: str, confirms: bool) -> None:
    assert bool(CONFIRM.match(said)) is confirms


def test_severities_order() -> None:
    assert at_least("critical", "high") and not at_least("medium", "high")
    assert parse_severity("Crit") == "critical" and parse_severity("sev 4") == "low"
    assert parse_severity("whatever") is None
