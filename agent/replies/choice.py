"""An answer to "which deal is this about?": the number of an option, or none of them.

Read from what the person said (agent.replies.reader: no quotes, no signature), first clause
only, the way the question asks: "2", "2.", "#2", "option 2", "Nr. 2", "la 2"; "none",
"neither", "keine", "aucun".
"""

from __future__ import annotations

import re

NONE_WORDS = frozenset({"none", "ignore", "neither", "no one", "keine", "keiner", "keins", "aucun", "aucune"})
_NUMBER = re.compile(
    r"^(?:(?:option|number|no|nr|nummer|numéro|num|n°|la|le|die|der|das)\.?\s*)?#?\s*(?P<n>\d+)\b[.):]?",
    re.IGNORECASE,
)
NONE = 0  # the answer "none of them"


def choice_of(said: str, options: int) -> int | None:
    """1..options for a valid number, NONE (0) for "none", None when the answer is neither."""
    first = next((line.strip() for line in said.split("\n") if line.strip()), "")
    number = _NUMBER.match(first)
    if number:
        n = int(number.group("n"))
        return n if 1 <= n <= options else None
    word = re.split(r"[\s.,!:;]+", first.lower().strip(), maxsplit=1)[0] if first else ""
    two = " ".join(first.lower().split()[:2]).strip(".,!")
    return NONE if word in NONE_WORDS or two in NONE_WORDS else None
