"""A meeting's text as a client may read it: the conferencing boilerplate taken out.

Teams, Zoom, Google Meet and Webex write the join link, the meeting ID, the passcode and the
dial-in numbers into the event's description. The client has them in their own invitation
already; repeated in a recap they only make it longer, and anyone the recap is forwarded to
could walk into the client's next call (a series keeps its link). So none of it reaches a
client email: what is left is what people wrote (an agenda, a goal, a question).

Two passes, because the providers write two shapes:
- a block fenced by rule lines (Teams' underscores, Google's `-::~:~::-`, Webex's dashes) that
  holds any conferencing line is dropped whole, even lines in a language we do not read;
- every other line is dropped when it is conferencing (a known phrase, a credential, a phone
  number, a SIP or IP address), and a conferencing link is cut out of prose that stays.
"""

from __future__ import annotations

import html
import re

# A rule line: Teams' 80 underscores, Google's -::~:~::~ band, Webex's dashes.
_RULE = re.compile(r"^\s*[_\-=~:*.]{10,}\s*$")

# The hosts of join links, dial-in pages and the providers' help pages.
_HOSTS = (
    r"zoom\.us",
    r"zoomgov\.com",
    r"teams\.microsoft\.com",
    r"teams\.microsoft\.us",
    r"teams\.live\.com",
    r"microsoft\.com/(?:[\w-]+/)?microsoft-teams",
    r"aka\.ms/JoinTeamsMeeting",
    r"lync\.com",
    r"pexip\.me",
    r"meet\.google\.com",
    r"tel\.meet",
    r"support\.google\.com/a/users/answer/9282720",
    r"webex\.com",
    r"collaborationhelp\.cisco\.com",
    r"gotomeeting\.com",
    r"meet\.goto\.com",
    r"bluejeans\.com",
    r"whereby\.com",
    r"chime\.aws",
)
_LINK = re.compile(
    r"<?(?:(?:https?|zoommtg|msteams)://)?(?:[\w-]+\.)*(?:" + "|".join(_HOSTS) + r")(?:[/?#:][^\s<>]*)?>?",
    re.IGNORECASE,
)
_TEL = re.compile(r"<?tel:[^\s>]*>?", re.IGNORECASE)

# Lines the providers write, as they begin (lower case; bullets and spaces stripped first).
_PHRASES = (
    # Teams
    "microsoft teams meeting",
    "join on your computer",
    "join on the web",
    "join with a video conferencing device",
    "click here to join",
    "join the meeting now",
    "download teams",
    "or call in",
    "call in (audio only)",
    "dial in by phone",
    "find a local number",
    "reset pin",
    "reset dial-in pin",
    "alternate vtc",
    "system reference",
    # Zoom
    "join zoom meeting",
    "one tap mobile",
    "dial by your location",
    "find your local number",
    "join by sip",
    "join by h.323",
    # Google Meet
    "join with google meet",
    "join by phone",
    "more phone numbers",
    "please do not edit this section",
    "invitation from google calendar",
    # Webex
    "join from the meeting link",
    "join by meeting number",
    "tap to join from a mobile device",
    "some mobile devices may ask",
    "global call-in numbers",
    "toll-free calling restrictions",
    "join from a video system",
    "you can also dial",
    "join using microsoft lync",
    "join using microsoft skype",
    "can't join the meeting",
    "more ways to join",
    "join webex meeting",
    "to join the online meeting",
    "to join the audio conference",
    "to join the teleconference",
)
# Words people use too: such a line is the provider's only when it is short, as theirs are.
_SHORT_PHRASES = (
    "microsoft teams",
    "learn more",
    "need help",
    "meeting options",
    "for organizers",
    "join instructions",
    "join meeting",
    "join:",
    "meeting link",
    "dial-in",
    "or dial",
    "view your event",
)
_ANYWHERE = re.compile(
    r"inviting you to a scheduled zoom meeting|this webex service allows audio|"
    r"\(utc[+\-−]\d\d:\d\d\)",  # Webex's "... | 45 minutes | (UTC+00:00) London" line
    re.IGNORECASE,
)
_CREDENTIAL = re.compile(
    r"\b(?:pass\s?code|password|pwd|pin|access\s+code|meeting\s+(?:id|number|key)|conference\s+id|"
    r"video\s+id|tenant\s+key|host\s+key|attendee\s+id|participant\s+(?:id|code))\b[^:\n]{0,40}:"
    r"|\bpin\b\s*#?\s*\d",
    re.IGNORECASE,
)
_PHONE = re.compile(
    r"^(?:\(?[a-z]{2,3}\)?:?\s+)?\+\s?\d[\d\s().-]{6,}"  # "+1 253 205 0468 US", "(US) +1 408-555-0199"
    r"|\d,,+\*?\d"  # a one-tap dial string: "+12532050468,,85775884256#"
    r"|\btoll(?:[\s-]free)?\b.*\d{3}|\d{3}.*\btoll\b",  # "1-844-531-0958 United States Toll Free"
    re.IGNORECASE,
)
_ADDRESS = re.compile(
    r"\bsip:|\b\d{1,3}(?:\.\d{1,3}){3}\b"  # a SIP URI, an IP address to dial
    r"|\S+@(?:[\w-]+\.)*(?:webex|zoom|zoomcrc|lync|pexip|plcm|teams)\.\w+",  # a video system's address
    re.IGNORECASE,
)
_ZOOM_HEADER = re.compile(r"^(?:topic|time):", re.IGNORECASE)  # Zoom's invitation paragraph
_BULLET = re.compile(r"^[\s\-*•·>|]+")
_HTML = re.compile(r"<(?:br|p|div|a|span|b|i|strong|em|ul|ol|li|table|tr|td)\b[^>]*>", re.IGNORECASE)


def clean(text: str) -> str:
    """The text without any join link, meeting ID, passcode or dial-in; "" when nothing else was there."""
    lines = _as_text(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    zoom = bool(re.search(r"zoom\.us|scheduled zoom meeting", text, re.IGNORECASE))
    kept = [
        cut for line in _without_fenced_blocks(lines, zoom) if (cut := _clean_line(line, zoom)) is not None
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _as_text(text: str) -> str:
    """Some calendars put HTML in the description: its line breaks kept, its tags dropped."""
    if not _HTML.search(text):
        return text
    text = re.sub(r"<br\s*/?>|</(?:p|div|li|tr)>", "\n", text, flags=re.IGNORECASE)
    text = re.sub(r'<a\b[^>]*href="([^"]*)"[^>]*>', r"<\1> ", text, flags=re.IGNORECASE)
    return html.unescape(re.sub(r"<(?!https?:)[^<>]*>", "", text))


def _without_fenced_blocks(lines: list[str], zoom: bool) -> list[str]:
    """Each stretch between two rule lines (or after the last) that holds conferencing is dropped whole."""
    rules = [i for i, line in enumerate(lines) if _RULE.match(line)]
    if not rules:
        return lines
    drop: set[int] = set(rules)  # the rule lines themselves are decoration
    for start, end in zip(rules, [*rules[1:], len(lines)], strict=True):
        block = range(start + 1, end)
        if any(_clean_line(lines[i], zoom) != lines[i].rstrip() for i in block):
            drop.update(block)
    return [line for i, line in enumerate(lines) if i not in drop]


def _clean_line(line: str, zoom: bool) -> str | None:
    """The line as it may stay (a link cut out of prose), or None when it is conferencing."""
    stripped = line.strip()
    if not stripped:
        return ""
    bare = _BULLET.sub("", stripped).lower()
    if (
        bare.startswith(_PHRASES)
        or (bare.startswith(_SHORT_PHRASES) and len(bare.split()) <= 8)
        or _ANYWHERE.search(stripped)
        or _CREDENTIAL.search(stripped)
        or _PHONE.search(bare)
        or _ADDRESS.search(stripped)
        or (zoom and _ZOOM_HEADER.match(bare))
    ):
        return None
    without = _TEL.sub("", _LINK.sub("", stripped))
    if without == stripped:
        return line.rstrip()
    # "Click here to join<https://teams...>", "Lisätietoja<https://aka.ms/...> | Kokousasetukset<...>":
    # the label of a link goes with it, in whatever language it is written
    if len(re.findall(r"\w+", without)) <= 6:
        return None
    return re.sub(r"\s{2,}", " ", without).strip()
