"""The survey answer's reader: a rating at the top of a reply, placed on the survey's own scale."""

from __future__ import annotations

import pytest

from agent.handling.mail.csat import DEFAULT_SCALE, Scale, csat_score, read_score, scale_of

ONE_TO_FIVE = Scale(1, 5)
ZERO_TO_TEN = Scale(0, 10)


@pytest.mark.parametrize(
    "text",
    [
        "3 users still cannot log in",
        "2 more trainers would help",
        "10 people attended the launch",
        "3 of 5 users cannot log in",
        "4,5",
        "One more thing",
        "Thanks! 5",
    ],
)
def test_a_number_that_is_not_a_rating_is_no_score(text: str) -> None:
    assert read_score(text) is None and csat_score(text) is None


@pytest.mark.parametrize(
    ("text", "score", "original", "comment"),
    [
        ("4", 4, "4", ""),
        ("4 - good, thanks", 4, "4", "good, thanks"),
        ("4/5\n\nThe import was slow.", 4, "4/5", "The import was slow."),
        ("Rating: 3", 3, "3", ""),
        ("5 stars!", 5, "5 stars", ""),
        ("Four. The trainer was great", 4, "Four", "The trainer was great"),
        ("3 because some users cannot log in", 3, "3", "because some users cannot log in"),
    ],
)
def test_a_rating_on_the_surveys_scale_is_taken_with_the_comment_after_it(
    text: str, score: int, original: str, comment: str
) -> None:
    reading = read_score(text)
    assert reading is not None
    assert (reading.on(ONE_TO_FIVE), reading.original, reading.comment) == (score, original, comment)


@pytest.mark.parametrize(
    ("text", "scale", "score"),
    [
        ("9/10", ONE_TO_FIVE, 5),  # 4.5 rounds half up
        ("7 out of 10", ONE_TO_FIVE, 4),
        ("Nine out of ten", ONE_TO_FIVE, 5),
        ("6/10", ONE_TO_FIVE, 3),
        ("0/10", ONE_TO_FIVE, 1),  # the bottom of the survey's scale, not below it
        ("4/5", ZERO_TO_TEN, 8),
        ("10/10", ZERO_TO_TEN, 10),
    ],
)
def test_an_answer_on_a_scale_of_its_own_is_brought_to_the_surveys(
    text: str, scale: Scale, score: int
) -> None:
    reading = read_score(text)
    assert reading is not None and reading.on(scale) == score
    assert reading.original == text  # what the client wrote is kept beside it


@pytest.mark.parametrize(
    ("text", "scale"), [("9", ONE_TO_FIVE), ("0", ONE_TO_FIVE), ("6/5", ONE_TO_FIVE), ("11", ZERO_TO_TEN)]
)
def test_a_number_outside_the_scale_that_cannot_be_placed_is_none(text: str, scale: Scale) -> None:
    reading = read_score(text)
    assert reading is not None and reading.on(scale) is None  # asked back, never guessed


def test_the_scale_is_read_from_the_surveys_own_text() -> None:
    shipped = "How satisfied are you with your onboarding, on a scale from 1 (not at all) to 5 (very)?"
    assert scale_of(shipped) == Scale(1, 5)
    assert scale_of("On a scale of 0 to 10, how likely are you to recommend us?") == Scale(0, 10)
    assert scale_of("Reply with a number.") == DEFAULT_SCALE  # a survey that does not say: the shipped one's
    assert scale_of("on a scale from 5 to 1") == DEFAULT_SCALE  # backwards is no scale
