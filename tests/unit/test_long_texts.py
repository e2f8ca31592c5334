"""What is found in a short reply is found in a long one: the cheap looks that spare a long text the
dear searches (opt-out requests, proposed call times) never hide what those searches would find."""

from __future__ import annotations

import pytest

from agent.replies.opt_out_words import opt_out_words
from agent.replies.proposed_times import proposed_times

FILLER = "Thanks for the update on the rollout. " * 800  # about 30 KB, as in bench/ingest.py

ASKS = [  # one for each of opt_out_words._ASKS, in its order
    "Please unsubscribe me from these.",
    "Please stop emailing me about this.",
    "Do not contact me again.",
    "Remove me from your mailing list.",
    "I no longer want to receive these emails.",
    "No more emails please.",
    "Opt me out.",
    "Bitte keine weiteren E-Mails.",
    "Bitte vom Verteiler nehmen.",
    "Merci de me désinscrire.",
    "Je ne veux plus recevoir ces messages, retirez-moi.",
]


@pytest.mark.parametrize("ask", ASKS)
def test_an_opt_out_request_at_the_end_of_a_long_message_is_found(ask: str) -> None:
    assert opt_out_words("Re: rollout", ask) is not None
    found = opt_out_words("Re: rollout", FILLER + ask)
    assert found is not None and found.strip() in ask


def test_a_long_message_without_a_request_asks_nothing() -> None:
    assert opt_out_words("Re: rollout", FILLER) is None


def test_a_time_without_a_digit_is_still_proposed_in_a_long_message() -> None:
    assert proposed_times(FILLER + " Could we talk on Tuesday at noon?") == ["Tuesday at noon"]
    assert proposed_times(FILLER + " Friday at 10:30 works.") == ["Friday at 10:30"]
    assert proposed_times(FILLER) == []


@pytest.mark.parametrize(
    "alone", ["Abmelden", "Austragen", "Désabonner", "désinscrire", "Opt-out", "STOP", "Remove me please"]
)
def test_a_word_that_asks_alone_is_found_however_it_is_spaced(alone: str) -> None:
    # the cheap look runs before the text is normalised: it must know every word _ALONE asks with
    assert opt_out_words("Re: rollout", f"\n  {alone}\n\n") == alone


def test_a_short_unsubscribe_counts_its_words_not_its_spaces() -> None:
    assert opt_out_words("Re: rollout", "Unsubscribe,\n\n   thanks   a lot") == "Unsubscribe, thanks a lot"
    many = " ".join(["word"] * 12) + " unsubscribe"  # 13 words: more than a short message holds
    assert opt_out_words("Re: rollout", many) is None


def test_a_time_written_in_another_scripts_digits_is_proposed() -> None:
    # ١٠:٣٠ is 10:30 in Arabic-Indic digits: no ASCII digit, so the pattern's \d must still be asked
    assert proposed_times(FILLER + " Friday at ١٠:٣٠ works.") == ["Friday at ١٠:٣٠"]
