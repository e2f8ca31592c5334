"""A survey answer's score, and a pipeline's own command word, read from the top of a reply."""

from __future__ import annotations

import re

_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
_LEAD = (
    r"\s*(?:(?:my\s+)?(?:rating|score)\s*(?:is|:)?\s*|i'?d\s+say\s+|i\s+give\s+(?:it\s+|you\s+)?(?:a\s+)?)?"
)
_OUT_OF = r"\s*(?:/|out\s+of)\s*(?:5|10|five|ten)"
_DIGITS = re.compile(_LEAD + r"(10|[0-9])(?:" + _OUT_OF + r")?(?![\d.\w])", re.IGNORECASE)
# A number in words counts only standing alone or "out of" something: "One more thing" is no score.
_WORDS = re.compile(
    _LEAD + r"(" + "|".join(_NUMBER_WORDS) + r")(?:" + _OUT_OF + r"|\s*[.!)]*\s*$|\s*[.!,)-])", re.IGNORECASE
)


def csat_score(text: str) -> int | None:
    """A rating opening a survey reply (1-5 or 0-10, digits or words): "5", "4/5", "Rating: 3", "Nine out of ten".

    Only at the start: "we have 3 more questions" is not a score.
    """
    found = _DIGITS.match(text or "") or _WORDS.match(text or "")
    if not found:
        return None
    value = found.group(1).lower()
    return int(value) if value.isdigit() else _NUMBER_WORDS.index(value)


def first_word(text: str) -> str:
    """The reply's first word, lower case: a word of the pipeline's own for `when: {command: WORD}`."""
    found = re.match(r"\s*([A-Za-z][A-Za-z-]*)", text or "")
    return found.group(1).lower() if found else ""
