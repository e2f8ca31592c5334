"""Counts in the dashboard's words (agent.dashboard.words): the `plural` filter the pages use."""

from __future__ import annotations

import pytest

from agent.dashboard.words import plural


@pytest.mark.parametrize(
    ("count", "word", "many", "said"),
    [
        (1, "answer", "", "1 answer"),
        (2, "answer", "", "2 answers"),
        (0, "deal", "", "0 deals"),
        (1, "reply", "replies", "1 reply"),
        (3, "reply", "replies", "3 replies"),
    ],
)
def test_a_count_takes_the_word_for_that_many(count: int, word: str, many: str, said: str) -> None:
    assert plural(count, word, many) == said
