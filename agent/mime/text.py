"""Text out of MIME: charsets, header values, the walk over parts, and the readable body.

Everything here takes what the ``email`` package parsed and turns it into
plain ``str`` without ever raising on bad input: real mail carries undeclared
8-bit headers and wrong charset labels. HTML bodies are turned into text by
agent.mime.html_text; what of a body is quoted history is agent.mime.quoting's.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Iterator
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from typing import TypeVar

from agent.mime.html_text import html_to_text
from agent.mime.limits import LIMITS

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
_MAX_PARTS = LIMITS.parts + 1  # the skeleton keeps no more (agent.mime.limits); a net for other callers


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
