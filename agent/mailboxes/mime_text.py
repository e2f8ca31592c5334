"""Text out of MIME: charsets, headers, bodies, HTML, quoted history.

Everything here takes what the ``email`` package parsed and turns it into
plain ``str`` without ever raising on bad input: real mail carries undeclared
8-bit headers, wrong charset labels, broken HTML and every quoting style.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Iterator
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from html.parser import HTMLParser
from typing import TypeVar

T = TypeVar("T")
D = TypeVar("D")

# Labels that mail clients use for charsets that Python knows under a wider
# (superset) codec; decoding with the superset recovers characters that the
# strict codec rejects. iso-8859-1 is nearly always really windows-1252 (WHATWG).
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "ascii",
    "utf8": "utf-8",
}

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_MAX_PARTS = 500  # a message with more parts than this is hostile or broken; stop walking


def decode_bytes(data: bytes, charsets: Iterable[str]) -> str:
    """Decode with the first charset that fits; latin-1 at the end always fits."""
    for label in charsets:
        name = _CHARSET_ALIASES.get(label.strip().lower(), label.strip().lower())
        try:
            codecs.lookup(name)
            return data.decode(name)
        except (LookupError, UnicodeDecodeError, ValueError, TypeError):
            continue  # unknown label, binary codec (e.g. "base64") or wrong guess
    return data.decode("latin-1")


def scrub(text: str) -> str:
    """Remove lone surrogates (left by surrogateescape) so the text can be stored as UTF-8."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return decode_bytes(text.encode("utf-8", "surrogateescape"), ["utf-8"])
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 that was decoded as latin-1/cp1252 and re-encoded ("kÃ¶nnen" -> "können").

    Only applies when the whole string round-trips strictly, which ordinary
    latin-1 text practically never does, so correct text is left alone.
    """
    if text.isascii():
        return text
    for codec in ("latin-1", "cp1252"):
        try:
            fixed = text.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        return fixed
    return text


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded-words (``=?utf-8?B?...?=``) in an unstructured value."""
    if "=?" not in value:
        return value
    try:
        return scrub(str(policy.default.header_factory("x-csm-text", value)))
    except Exception:  # the default policy still raises on a few malformed words
        pass
    try:
        return scrub(str(make_header(decode_header(value))))
    except Exception:
        return value


class HeaderReader:
    """Header values of one message as text, whatever the policy or the bytes.

    Values come from ``raw_items()`` so that reading a malformed header never
    triggers the default policy's parser. Raw 8-bit bytes (no RFC 2047) are
    decoded as UTF-8 first (RFC 6532), then with the charsets the body declares.
    """

    def __init__(self, msg: Message) -> None:
        self._items = [(str(k).lower(), str(v)) for k, v in msg.raw_items()]
        self._charsets = ["utf-8", *declared_charsets(msg)]

    def raw_values(self, name: str) -> list[str]:
        """All values of a header: unfolded and 8-bit decoded, encoded-words left as they are."""
        key = name.lower()
        return [self._unicode(v) for k, v in self._items if k == key]

    def raw(self, name: str) -> str:
        values = self.raw_values(name)
        return values[0] if values else ""

    def text(self, name: str) -> str:
        """The first value, fully decoded for display (encoded-words, mojibake)."""
        # Repair before collapsing whitespace: mojibake can hide in a no-break space (U+00A0).
        return re.sub(r"[ \t]+", " ", repair_mojibake(decode_words(self.raw(name)))).strip()

    def _unicode(self, value: str) -> str:
        value = _FOLD.sub("", value).replace("\r", " ").replace("\n", " ").strip()
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return decode_bytes(value.encode("utf-8", "surrogateescape"), self._charsets)


def declared_charsets(msg: Message) -> list[str]:
    found: list[str] = []
    for part in iter_parts(msg):
        charset = _safe(part.get_content_charset, None)
        if charset and charset not in found:
            found.append(charset)
    return found


def iter_parts(msg: Message) -> Iterator[Message]:
    """Every part, depth first, without entering attached messages (message/*)."""
    stack, seen = [msg], 0
    while stack and seen < _MAX_PARTS:
        part = stack.pop()
        seen += 1
        yield part
        if part.get_content_maintype() != "message" and part.is_multipart():
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend(reversed([c for c in children if isinstance(c, Message)]))


def iter_leaves(msg: Message) -> Iterator[Message]:
    """Parts that carry content; an attached message/rfc822 counts as one leaf."""
    for part in iter_parts(msg):
        if part.get_content_maintype() == "message" or not part.is_multipart():
            yield part


def filename(part: Message) -> str:
    name = _safe(part.get_filename, None)
    return scrub(decode_words(" ".join(str(name).split()))) if name else ""


def is_attachment(part: Message) -> bool:
    disposition = _safe(part.get_content_disposition, None)
    return disposition == "attachment" or bool(filename(part))


def payload_bytes(part: Message) -> bytes:
    """The decoded (base64 / quoted-printable) content of a leaf part; b"" if there is none."""
    data = _safe(lambda: part.get_payload(decode=True), None)
    return data if isinstance(data, bytes) else b""


def part_text(part: Message) -> str:
    data = payload_bytes(part)
    declared = _safe(part.get_content_charset, None)
    charsets = [declared] if declared else []
    meta = _META_CHARSET.search(data[:4096]) if part.get_content_subtype() == "html" else None
    if meta:
        charsets.append(meta.group(1).decode("ascii", "replace"))
    # A declared charset wins for bodies (unlike headers); utf-8 covers the
    # common case of 8-bit text with no label or a wrong "us-ascii" label.
    text = decode_bytes(data, [*charsets, "utf-8"])
    return repair_mojibake(text.replace("\r\n", "\n").replace("\r", "\n"))


def body_text(msg: Message) -> str:
    """The readable body: text/plain parts, or HTML converted where a branch has no plain text."""
    chunks = _collect(msg, is_root=True)
    return "\n\n".join(c.strip("\n") for c in chunks if c.strip())


def _collect(part: Message, *, is_root: bool = False) -> list[str]:
    ctype = part.get_content_type()
    if part.get_content_maintype() == "message":
        return []  # attached or returned messages are not what this one says
    if part.is_multipart():
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        if ctype == "multipart/alternative":
            return _best_alternative(children)
        return [text for child in children for text in _collect(child)]
    if ctype.startswith("multipart/") or (not is_root and is_attachment(part)):
        return []
    if ctype == "text/plain":
        return [part_text(part)]
    if ctype == "text/html":
        return [html_to_text(part_text(part))]
    return []


def _best_alternative(children: list[Message]) -> list[str]:
    # Prefer the plain-text alternative, but Exchange and Yahoo send an empty
    # text/plain next to a full HTML body, so an empty one does not count.
    rendered = [(child, _collect(child)) for child in children]
    for child, texts in rendered:
        if child.get_content_type() == "text/plain" and any(t.strip() for t in texts):
            return texts
    for _, texts in rendered:
        if any(t.strip() for t in texts):
            return texts
    return []


def _safe(call: Callable[[], T], default: D) -> T | D:
    try:
        return call()
    except Exception:  # header parsing inside email.* on broken input
        return default


# --------------------------------------------------------------------- HTML


class _HTMLToText(HTMLParser):
    """HTML to readable text; <blockquote> becomes "> " lines so quote stripping sees it."""

    _SKIP = frozenset({"script", "style", "title", "template"})
    _BREAK = frozenset({"br", "div", "tr", "li", "ul", "ol", "dd", "dt", "hr", "pre", "section", "article"})
    _PARAGRAPH = frozenset({"p", "table", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6"})
    _CELL = frozenset({"td", "th"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str]] = []
        self._buf: list[str] = []
        self._skip = 0
        self._pre = 0
        self._quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, opening=True)
        if tag == "li":
            self._buf.append("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, opening=True)

    def handle_endtag(self, tag: str) -> None:
        self._tag(tag, opening=False)

    def _tag(self, tag: str, *, opening: bool) -> None:
        step = 1 if opening else -1
        if tag in self._SKIP:
            self._skip = max(0, self._skip + step)
        elif tag in self._CELL and opening and self._buf:
            self._buf.append(" ")
        elif tag in self._BREAK or tag in self._PARAGRAPH:
            self.flush(blank=tag in self._PARAGRAPH)
        if tag == "pre":
            self._pre = max(0, self._pre + step)
        elif tag == "blockquote":
            self._quote = max(0, self._quote + step)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            first, *rest = data.split("\n")
            self._buf.append(first)
            for line in rest:
                self.flush()
                self._buf.append(line)
            return
        text = re.sub(r"\s+", " ", data.replace("\xa0", " "))
        if not self._buf or self._buf[-1].endswith(" "):
            text = text.lstrip()
        if text:
            self._buf.append(text)

    def flush(self, *, blank: bool = False) -> None:
        line = "".join(self._buf)
        # Table cells and inline tags leave runs of spaces; <pre> keeps its layout.
        line = line.rstrip() if self._pre else re.sub(r" {2,}", " ", line).strip()
        self._buf = []
        if line:
            self.lines.append((self._quote, line))
        if blank:
            self.lines.append((self._quote, ""))


def html_to_text(html: str) -> str:
    converter = _HTMLToText()
    try:
        converter.feed(html)
        converter.close()
    except Exception:  # HTMLParser gives up on a few broken constructs: strip tags instead
        return " ".join(re.sub(r"<[^>]*>", " ", html).split())
    converter.flush()
    out: list[str] = []
    for depth, line in converter.lines:
        rendered = ("> " * depth + line).rstrip() if depth else line
        if rendered or (out and out[-1]):
            out.append(rendered)
    return "\n".join(out).strip()


# ------------------------------------------------- quoted history, forwards

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
    return "\n".join(kept).strip()


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
