"""agent.outbox.meeting_text: no join link, meeting ID, passcode or dial-in survives; people's words do."""

from __future__ import annotations

import re

import pytest

from agent.outbox.meeting_text import clean
from tests.invitations import AGENDA, PROVIDERS, corpus_teams_description, invitation

# what lets a stranger into the call: links, IDs, passcodes, numbers, video addresses
SECRETS = re.compile(
    r"https?://|zoom\.us|teams\.microsoft|meet\.google|webex\.com|tel:|\d{3}[ -]?\d{3,4}[ -]?\d{3,4}|"
    r"passcode|password|pin\b|meeting id|conference id|access code|@\S+\.webex|\d+\.\d+\.\d+\.\d+",
    re.IGNORECASE,
)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_invitation_body_leaves_only_what_people_wrote(provider: str) -> None:
    body = invitation(provider)
    assert SECRETS.search(body)  # the fixture does hold what must go
    assert clean(body) == AGENDA


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_line_a_provider_writes_goes_even_on_its_own(provider: str) -> None:
    """Without the rule lines around it (a client that drops them, a CSM pasting a part)."""
    lines = invitation(provider).splitlines()[1:]
    left = [clean(line) for line in lines]
    assert not [line for line in left if SECRETS.search(line)]


def test_a_teams_block_in_a_language_we_do_not_read_goes_whole() -> None:
    description = corpus_teams_description()
    assert "teams.microsoft.com" in description and "Liity tietokoneella" in description
    assert clean(description) == ""
    assert clean("Tavoitteet ja aikataulu.\n" + description) == "Tavoitteet ja aikataulu."


def test_a_link_in_prose_goes_and_the_prose_stays() -> None:
    text = "We join the kickoff at https://us02web.zoom.us/j/857?pwd=abc with everyone from the data team"
    assert clean(text) == "We join the kickoff at with everyone from the data team"


def test_other_links_and_ordinary_words_stay() -> None:
    text = (
        "Slides: https://docs.example.com/deck\n"
        "+1 for the new plan\n"
        "Go-live on 2026-01-15, 200 seats.\n"
        "Learn more about reporting in the training, with the whole team present there"
    )
    assert clean(text) == text


def test_a_meet_block_in_html_goes() -> None:
    html = (
        "Agenda: goals<br><br>-::~:~::~:~:~:~:~:~:~:~:~:~:~:~::-<br>"
        'Join with Google Meet: <a href="https://meet.google.com/abc-defg-hij">meet.google.com/abc-defg-hij</a>'
        "<br>Or dial: (US) +1 408-555-0199 PIN: 123456789#<br>-::~:~::~:~:~:~:~:~:~:~:~:~:~:~::-"
    )
    assert clean(html) == "Agenda: goals"


def test_nothing_but_boilerplate_leaves_nothing() -> None:
    assert clean(invitation("zoom").split("\n", 2)[2]) == ""
    assert clean("") == ""
