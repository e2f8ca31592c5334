"""The times for a call a person's text proposes, as written: "Tuesday 10:00", "Thu 3pm-4pm CET".

Quoted as written (the CSM reads the client's words), in the languages our people write in.
"""

from __future__ import annotations

import re

_DAY = (
    r"(?:(?:next|this|coming)\s+)?"
    r"(?:mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun)(?:day)?\.?|today|tomorrow"
    r"|montag|dienstag|mittwoch|donnerstag|freitag|heute|morgen|lundi|mardi|mercredi|jeudi|vendredi|demain"
)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = (
    rf"\d{{1,2}}(?:st|nd|rd|th)?\.?\s+(?:of\s+)?{_MONTH}"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?|\d{{1,2}}[./]\d{{1,2}}\.?"
)
_CLOCK = (
    r"\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)"
    r"|\d{1,2}[:.h]\d{2}(?:\s*(?:uhr|h)\b)?|\d{1,2}\s*(?:uhr|h)\b|noon|midday"
)
_ZONE = (
    r"(?:\s*(?:(?:utc|gmt|bst|cet|cest|eet|eest|wet|west|est|edt|cst|cdt|mst|mdt|pst|pdt|ist|aest|jst|sgt)"
    r"(?:[+-]\d{1,2})?|uk time|our time|your time)\b)?"
)
_WHEN = rf"(?:{_DAY})(?:,?\s+(?:the\s+)?(?:{_DATE}))?|(?:{_DATE})"
_CONNECT = r",?\s*(?:at|from|um|ab|à|@|-)?\s*"
_SPAN = rf"(?:\s*(?:-|–|to|until|till|bis)\s*(?:{_CLOCK}))?"
# A day or a date with a time of day, either way round: "Tuesday 10:00", "Thu 3pm-4pm CET",
# "3 December at 14:00", "10:30 on Friday". Quoted as written: the CSM reads the client's words.
PROPOSED = re.compile(
    rf"\b(?:(?:{_WHEN}){_CONNECT}(?:{_CLOCK}){_SPAN}{_ZONE}|(?:{_CLOCK}){_SPAN}{_ZONE},?\s+(?:on\s+)?(?:{_WHEN}))",
    re.IGNORECASE,
)


# Every proposal holds a time of day, so a digit, "noon" or "midday": a text without one is not
# searched (PROPOSED's alternatives, tried at every word of a long message, cost milliseconds).
DIGIT = re.compile(r"\d")


def has_digit(text: str) -> bool:
    """Whether `text` holds a digit (\\d: any script's). The ten ASCII ones are looked for at memory
    speed; only a text with other characters than ASCII is searched with the pattern (ten times slower)."""
    return any(d in text for d in "0123456789") or (not text.isascii() and DIGIT.search(text) is not None)


def proposed_times(text: str) -> list[str]:
    """The times for a call a client's text proposes, as written, in order, each once."""
    folded = (text or "").casefold()
    if not (has_digit(folded) or "noon" in folded or "midday" in folded):
        return []
    found = (" ".join(t.group(0).split()).strip(" ,-") for t in PROPOSED.finditer(text))
    return list(dict.fromkeys(found))
