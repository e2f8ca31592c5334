"""What of a body is someone else's: quoted history, signatures, and inline-forwarded headers.

Pure text in, text out: replies quote with "> ", with "On ... wrote:" in several languages,
or with Outlook's "From: / Sent:" block; forwards carry the forwarded message's header
fields, which matching reads to find the client a colleague forwarded.
"""

from __future__ import annotations

import re

# Markers after which everything is someone else's text: forwarded or original messages.
_FORWARD_MARKER = re.compile(
    r"^\s*(?:-{2,}\s*(?:forwarded message|weitergeleitete nachricht|message transféré|mensaje reenviado)"
    r"\s*-{2,}|begin forwarded message:|anfang der weitergeleiteten nachricht:)\s*$",
    re.IGNORECASE,
)
_ORIGINAL_MARKER = re.compile(
    r"^\s*-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original)"
    r"\s*-{2,}\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(r"^\s*_{8,}\s*$")  # Outlook's rule above its "From: / Sent:" block
# "On <date>, <name> wrote:" and its translations; Gmail wraps it over up to three lines.
_ATTRIBUTION = re.compile(
    r"^\s*(?:on\s.+\swrote|am\s.+\sschrieb.*|le\s.+\sa écrit\s?|el\s.+\sescribió|op\s.+\sschreef.*)\s*:\s*$",
    re.IGNORECASE | re.DOTALL,
)
_FIELD = re.compile(r"^\s*\*{0,2}(?P<key>[^\W\d_][^\W\d_ -]*(?:[ -][^\W\d_]+)?)\s*:\*{0,2}\s*(?P<value>.*)$")
_FIELD_KEYS = {
    "from": "from", "von": "from", "de": "from", "van": "from",
    "sent": "date", "date": "date", "gesendet": "date", "datum": "date", "envoyé": "date",
    "enviado": "date", "fecha": "date", "verzonden": "date",
    "to": "to", "an": "to", "à": "to", "para": "to", "aan": "to",
    "cc": "cc", "kopie": "cc",
    "subject": "subject", "betreff": "subject", "objet": "subject", "asunto": "subject",
    "onderwerp": "subject",
    "reply-to": "reply-to",
}  # fmt: skip
_MOBILE_FOOTER = re.compile(r"^\s*(?:sent from my \w+|get outlook for \w+|sent from mail for windows)", re.I)


def strip_quoted(text: str) -> str:
    """The part of a body written in this message: no quoted history, no signature."""
    lines = text.split("\n")
    cut, attribution = _history_start(lines)
    kept = [
        line
        for i, line in enumerate(lines[:cut])
        if i not in attribution and not line.lstrip().startswith(">")
    ]
    for i, line in enumerate(kept):
        if line.rstrip() == "--":  # RFC 3676 "-- " signature separator (often trimmed to "--")
            kept = kept[:i]
            break
    while kept and (not kept[-1].strip() or _MOBILE_FOOTER.match(kept[-1])):
        kept.pop()
    new = "\n".join(kept).strip()
    return text if new == text else new  # nothing cut: the same string (pickled once, parse_ahead)


def _history_start(lines: list[str]) -> tuple[int, set[int]]:
    """Index where quoted history begins, and attribution lines to drop before it.

    An "On ... wrote:" line followed by "> " lines only labels the quote, and
    replies may be interleaved with it, so only the label goes; without "> "
    the history is unmarked and everything from the label on is cut.
    """
    attribution: set[int] = set()
    for i, line in enumerate(lines):
        if _FORWARD_MARKER.match(line) or _ORIGINAL_MARKER.match(line):
            return i, attribution
        if _is_header_block(lines, i):
            return _rule_above(lines, i), attribution
        span = _attribution_span(lines, i)
        if span:
            following = next((x for x in lines[i + span :] if x.strip()), "")
            if not following.lstrip().startswith(">"):
                return i, attribution
            attribution.update(range(i, i + span))
    return len(lines), attribution


def _attribution_span(lines: list[str], i: int) -> int:
    if not re.match(r"^\s*(?:on|am|le|el|op)\s", lines[i], re.IGNORECASE):
        return 0
    for span in (1, 2, 3):
        joined = " ".join(line.strip() for line in lines[i : i + span])
        if len(joined) < 400 and _ATTRIBUTION.match(joined):
            return span
    return 0


def _rule_above(lines: list[str], i: int) -> int:
    j = i - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j >= 0 and (_SEPARATOR.match(lines[j]) or _ORIGINAL_MARKER.match(lines[j])):
        return j
    return i


def field(line: str) -> tuple[str, str] | None:
    """("from", "Jane <j@x.com>") for a header-like line of a quoted or forwarded block."""
    match = _FIELD.match(line)
    if not match:
        return None
    key = _FIELD_KEYS.get(match.group("key").strip().lower())
    return (key, match.group("value").strip()) if key else None


def _is_header_block(lines: list[str], i: int) -> bool:
    """An Outlook/Gmail-style "From:" line followed by at least two other header fields."""
    first = field(lines[i])
    if not first or first[0] != "from":
        return False
    fields, _ = read_fields(lines, i)
    return len(fields) >= 3 and ("date" in fields or "subject" in fields)


def read_fields(lines: list[str], start: int) -> tuple[dict[str, str], int]:
    """Read "Key: value" lines from ``start``; returns the fields and the index after them."""
    fields: dict[str, str] = {}
    key = ""
    i = start
    while i < len(lines):
        line = lines[i].strip()
        parsed = field(line) if line else None
        if not line:
            # Outlook's HTML may put each field in its own paragraph: go on if one follows.
            nxt = next((j for j in range(i + 1, min(i + 3, len(lines))) if lines[j].strip()), None)
            after = field(lines[nxt]) if nxt is not None else None
            if not fields or after is None or after[0] in fields:
                break
            i = nxt if nxt is not None else i + 1
            continue
        if parsed and parsed[0] not in fields:
            key, fields[key] = parsed
        elif not parsed and key in ("to", "cc") and "@" in line:
            fields[key] += " " + line  # a long recipient list wrapped onto the next line
        else:
            break
        i += 1
    return fields, i


def forwarded_fields(text: str, *, outlook_blocks: bool) -> list[dict[str, str]]:
    """Header fields of every inline-forwarded message in ``text``.

    Gmail, Thunderbird and Apple Mail mark a forward explicitly. Outlook writes
    the same "From: / Sent: / To: / Subject:" block for replies and forwards,
    so those blocks count only when the caller knows the message is a forward.
    """
    lines = text.split("\n")
    found: list[dict[str, str]] = []
    i = 0
    while i < len(lines):
        start = -1
        if _FORWARD_MARKER.match(lines[i]) or (outlook_blocks and _ORIGINAL_MARKER.match(lines[i])):
            start = next((j for j in range(i + 1, len(lines)) if lines[j].strip()), len(lines))
        elif outlook_blocks and _is_header_block(lines, i):
            start = i
        if start < 0 or start >= len(lines):
            i += 1
            continue
        fields, end = read_fields(lines, start)
        if "from" in fields and fields not in found:
            found.append(fields)
        i = max(end, i + 1)
    return found
