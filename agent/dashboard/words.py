"""Words for counts on the dashboard's pages: "1 answer", "2 answers" (a Jinja filter, `plural`)."""

from __future__ import annotations


def plural(count: int, word: str, many: str = "") -> str:
    """The count and the word for that many: 1 answer, 2 answers, 0 deals; `many` where an s is wrong."""
    return f"{count} {word if count == 1 else many or word + 's'}"
