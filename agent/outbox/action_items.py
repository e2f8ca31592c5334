"""Action items in the notes our people write about a call: what is to be done, by whom, by when.

Note-takers mark them the same few ways: "Action: Jane to send the user list by Friday",
"TODO @Sam share the training plan", "- [ ] Confirm SSO (owner: Olivia, due 2026-12-08)",
"Next step: ...", or a heading ("Action items:", "Next steps:") over a list. Each becomes a
next step of the recap and an open task on the deal; the rest of the note stays a note.
The owner and the date are taken out of the words so that the recap can say them once, in
its own way, and a date is read as the note's writer meant it: "Friday" is the Friday after
the call, not some Friday.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from agent.domain import Address


@dataclass(frozen=True)
class ActionItem:
    text: str  # what is to be done, without its owner and date
    owner: str = ""  # who does it: a person of the deal by their full name, else as the note says
    owner_email: str = ""  # their address, when they are one of the deal's people
    due: date | None = None


@dataclass(frozen=True)
class Note:
    text: str  # the note without its action items
    items: tuple[ActionItem, ...] = ()


_LIST = r"(?:[-*•]|\d{1,2}[.)])"
_KINDS = r"(?:action(?:\s+items?)?|actions|todos?|to-?dos?|next\s+steps?|follow[\s-]?ups?)"
# "Action: ...", "Next step - ..." (a dash with a space before it: "actions-based" is a word)
_INLINE = re.compile(rf"^\s*(?:{_LIST}\s*)?{_KINDS}(?:\s*:|\s+[–-])\s*(?P<item>\S.*)$", re.IGNORECASE)
_TODO = re.compile(rf"^\s*(?:{_LIST}\s*)?TODO\b\s*(?P<item>\S.*)$")  # upper case only: "todo" is a word
_BOX = re.compile(rf"^\s*(?:{_LIST}\s*)?\[\s\]\s*(?P<item>\S.*)$")
_HEADING = re.compile(rf"^\s*{_KINDS}\s*:?\s*$", re.IGNORECASE)
_LISTED = re.compile(rf"^\s*{_LIST}\s+(?:\[\s\]\s*)?(?P<item>\S.*)$")

_NAME = r"[A-Z][\w'.-]*(?:\s+[A-Z][\w'.-]*){0,2}"
_OWNER_SAID = re.compile(r"[(\[,;]?\s*\b(?:owner|who)\s*:\s*(?P<who>[^,;)\]]+)[)\]]?", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w.])@(?P<who>[A-Za-z][\w'.-]*(?:\s+[A-Z][\w'-]*)?)")
_LABEL = re.compile(rf"^\[?(?P<who>{_NAME})\]?\s*:\s+(?P<rest>\S.*)$")
_BRACKET = re.compile(rf"^\[(?P<who>{_NAME})\]\s+(?P<rest>\S.*)$")
# any case: it counts only when the words name someone of the deal ("olivia will", not "plan to")
_SUBJECT = re.compile(
    r"^(?P<who>[\w'.-]+(?:\s+[\w'.-]+){0,2}?)\s+(?:to|will|should|must|needs\s+to|is\s+to)\s+(?P<rest>\S.*)$",
    re.IGNORECASE,
)

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = tuple(m.lower() for m in calendar.month_name[1:])
_WD = r"(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:rs(?:day)?)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)"
_MON = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DAY = (
    r"(?P<iso>\d{4}-\d{2}-\d{2})"
    rf"|(?:{_WD},?\s+)?(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m1>{_MON})\.?(?:,?\s+(?P<y1>\d{{4}}))?"
    rf"|(?:{_WD},?\s+)?(?P<m2>{_MON})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y2>\d{{4}}))?"
    rf"|(?P<next>next\s+)?(?P<wd>{_WD})\b"
    r"|(?P<rel>tomorrow|today|end\s+of\s+(?:the\s+)?(?:day|week|month)|eod|eow|cob)"
)
_DUE = re.compile(
    rf"[(,;]?\s*\b(?:by|due(?:\s+(?:by|on))?|before|until|deadline)\s*:?\s+(?:{_DAY})\b\.?[)]?",
    re.IGNORECASE,
)


def read_note(text: str, people: Sequence[Address], written: date) -> Note:
    """The note's action items and what else it says; `written` is the day a relative date counts from."""
    items: list[ActionItem] = []
    rest: list[str] = []
    under_heading = False
    for line in text.splitlines():
        if _HEADING.match(line):
            under_heading = True
            continue
        listed = _LISTED.match(line) if under_heading else None
        if line.strip() and not listed:
            under_heading = False  # the list under the heading ended
        found = _INLINE.match(line) or _TODO.match(line) or _BOX.match(line) or listed
        if found:
            items.append(_item(found.group("item"), people, written))
        else:
            rest.append(line)
    return Note(re.sub(r"\n{3,}", "\n\n", "\n".join(rest)).strip(), tuple(items))


def _item(words: str, people: Sequence[Address], written: date) -> ActionItem:
    due, words = _due(words, written)
    owner, words = _owner(words, people)
    words = re.sub(r"\s{2,}", " ", words).strip(" \t-–:;,.").strip()
    who = _resolve(owner, people) if owner else None
    return ActionItem(
        text=words[:1].upper() + words[1:],
        owner=(who.name or who.email) if who else owner,
        owner_email=who.email if who else "",
        due=due,
    )


def _owner(words: str, people: Sequence[Address]) -> tuple[str, str]:
    """(who, the words without them): said as 'owner: X', '@X', 'X: ...', '[X] ...' or 'X to/will ...'."""
    for pattern in (_OWNER_SAID, _MENTION):
        found = pattern.search(words)
        if found:
            return found.group("who").strip(), (words[: found.start()] + " " + words[found.end() :]).strip()
    for pattern in (_BRACKET, _LABEL):
        found = pattern.match(words)
        if found:
            return found.group("who"), found.group("rest")
    found = _SUBJECT.match(words)
    if found and _resolve(found.group("who"), people):  # "Jane to send": Jane only if she is someone here
        return found.group("who"), found.group("rest")
    return "", words


def _resolve(said: str, people: Sequence[Address]) -> Address | None:
    """The deal's person meant by a name as written: full name, first name (if one only) or address."""
    key = said.strip().lower()
    for p in people:
        if key in (p.name.lower(), p.email, p.email.split("@")[0]):
            return p
    first = [p for p in people if p.name and p.name.split()[0].lower() == key]
    return first[0] if len(first) == 1 else None


def _due(words: str, written: date) -> tuple[date | None, str]:
    """(the date, the words without it) for 'by Friday', 'due 2026-12-08', 'before 4 December' ..."""
    for found in _DUE.finditer(words):
        day = _day(found, written)
        if day is not None:
            return day, (words[: found.start()] + " " + words[found.end() :]).strip()
    return None, words


def _day(found: re.Match[str], written: date) -> date | None:
    g = {k: (v or "").lower() for k, v in found.groupdict().items()}
    try:
        if g["iso"]:
            return date.fromisoformat(g["iso"])
        if g["m1"] or g["m2"]:
            month = next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(g["m1"][:3] or g["m2"][:3]))
            day, year = int(g["d1"] or g["d2"]), g["y1"] or g["y2"]
            if year:
                return date(int(year), month, day)
            this_year = date(written.year, month, day)
            return this_year if this_year >= written else date(written.year + 1, month, day)
    except (ValueError, StopIteration):
        return None  # "31 February": not a day, the words stay as they are
    if g["wd"]:
        weekday = next(i for i, w in enumerate(_WEEKDAYS) if w.startswith(g["wd"][:3]))
        coming = written + timedelta(days=(weekday - written.weekday() - 1) % 7 + 1)
        same_week = coming.isocalendar()[:2] == written.isocalendar()[:2]
        return coming + timedelta(days=7) if g["next"] and same_week else coming
    rel = g["rel"]
    if rel in ("today", "eod", "cob") or rel.endswith("day"):
        return written
    if rel == "tomorrow":
        return written + timedelta(days=1)
    if rel == "eow" or rel.endswith("week"):
        return written + timedelta(days=(4 - written.weekday()) % 7)  # the Friday of the week
    if rel.endswith("month"):
        return date(written.year, written.month, calendar.monthrange(written.year, written.month)[1])
    return None
