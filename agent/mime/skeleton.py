"""A message's skeleton: the bytes the email parser is given, within agent.mime.limits.

The scan walks the raw bytes with find() and count(), never copying a body it does not
keep, and writes out the message's structure again: each part's header block (fields over
the limits left out), and the body only where the agent reads it (inline text, calendar
parts, delivery reports). Every other body is left out, and the part's decoded size is
written into its header as SIZE_HEADER for agent.mime.parse to report. Attached messages
(message/rfc822) keep their headers, which is all that is read of them (forwards).

An inline text body is handed over beside the skeleton, not in it (Skeleton.bodies): the
feedparser reads a body line by line (a third of a message's parse, for text it keeps as it
is), and it gets back what the parser would have made of it (`put_back`).

The walk follows the standard library's feedparser (header lines, boundaries on their own
line, the line break before a boundary belonging to it), so that the parser sees in the
skeleton what it would have seen in the whole message, less the bodies.
"""

from __future__ import annotations

import binascii
import re
import secrets
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

from agent.mime.limits import LIMITS, Limits, size

SIZE_HEADER = "X-CSM-Unread-Size"  # on a part whose body was left out: its decoded size in bytes
_SIZE_FIELD = SIZE_HEADER.lower().encode()
_FIELD = re.compile(rb"From |[\x21-\x39\x3b-\x7e]*:|[\t ]")  # the feedparser's header line
_FIELD_END = re.compile(rb"\n(?![ \t])")  # a line break not followed by a folded line
_BLANK = re.compile(rb"\n\r?\n")
CALENDAR_TYPES = ("text/calendar", "application/ics", "text/x-vcalendar", "application/x-ics")
_TEXT = ("text/plain", "text/html")
# Reports are read line by line for bounces and receipts; other message/* hold a message.
_REPORTS = (
    "message/delivery-status",
    "message/global-delivery-status",
    "message/disposition-notification",
    "message/global-disposition-notification",
)


BODIES_APART = True  # False: every body inline in `data` (tests compare the two)


@dataclass
class Skeleton:
    data: bytes  # what the parser is given
    has_headers: bool  # False: not one header line was left to read
    cut: list[str] = field(default_factory=list)  # left out, the message still says what it said
    degraded: list[str] = field(default_factory=list)  # left out, what is left may not
    bodies: list[bytes] = field(default_factory=list)  # text bodies, each in `data` as its mark
    mark: bytes = b""  # a body's mark is mark + its index + NUL; random: no message can hold one

    def whole(self) -> bytes:
        """The skeleton with its bodies in place of their marks: what a parser that cannot put them
        back (a fallback, agent.mime.parse) is given."""
        if not self.bodies:
            return self.data
        return re.sub(
            re.escape(self.mark) + rb"(\d+)\x00", lambda found: self.bodies[int(found[1])], self.data
        )

    def put_back(self, msg: Message) -> bool:
        """Give each part of the parsed skeleton whose payload is a mark its body, as the parser
        would have read it. False if a body was not found where it was left (the parser saw the
        structure otherwise than the scan did): parse `whole()` then."""
        if not self.bodies:
            return True
        found, mark = 0, self.mark.decode("ascii")
        for part in msg.walk():
            payload = None if part.is_multipart() else part.get_payload()
            if isinstance(payload, str) and payload.startswith(mark):
                index = payload[len(mark) : -1]
                if not index.isdigit() or int(index) >= len(self.bodies):
                    return False
                # What the bytes parser does with a body: bytes to str, undecodable ones escaped.
                part.set_payload(self.bodies[int(index)].decode("ascii", "surrogateescape"))
                found += 1
        return found == len(self.bodies)


def skeleton(raw: bytes, start: int = 0, *, headers_only: bool = False, limits: Limits = LIMITS) -> Skeleton:
    """The skeleton of the message in raw[start:]; with `headers_only`, of its header block alone."""
    scan = _Scan(raw, limits)
    head, body = scan.headers(start, len(raw))
    scan.out.append(head)
    if headers_only:
        scan.out.append(scan.eol)
    else:
        scan.body(head, body, len(raw), depth=0, root=True)
    if scan.dropped:
        scan.degraded.insert(0, _dropped(scan.dropped, limits.header_line))
    return Skeleton(b"".join(scan.out), bool(head.strip()), scan.cut, scan.degraded, scan.bodies, scan.mark)


def _dropped(fields: list[tuple[str, int]], limit: int) -> str:
    if len(fields) == 1:
        ((name, length),) = fields
        return f"a header line of {length:,} bytes ({name}) over the {size(limit)} limit was left out"
    named = ", ".join(f"{name} of {length:,} bytes" for name, length in fields[:3])
    more = f" and {len(fields) - 3} more" if len(fields) > 3 else ""
    return f"{len(fields)} header lines over the {size(limit)} limit were left out ({named}{more})"


@dataclass(frozen=True)
class _Part:
    ctype: str
    boundary: bytes | None
    attachment: bool
    filename: str
    encoding: str

    @classmethod
    def of(cls, header: bytes, default: str) -> _Part:
        try:
            msg = BytesHeaderParser(policy=compat32).parsebytes(header)
            if default != "text/plain":
                msg.set_default_type(default)
            filename = str(msg.get_filename() or "")
            return cls(
                msg.get_content_type(),
                _boundary(msg),
                msg.get_content_disposition() == "attachment" or bool(filename),
                filename,
                str(msg.get("content-transfer-encoding", "")).strip().lower(),
            )
        except Exception:  # a header compat32 cannot take: read as the parser's default type
            return cls(default, None, False, "", "")

    @property
    def calendar(self) -> bool:
        # Some clients label an .ics file application/octet-stream (agent.mime.parse reads those too).
        octet = self.ctype == "application/octet-stream"
        return self.ctype in CALENDAR_TYPES or (octet and self.filename.strip().lower().endswith(".ics"))


def _boundary(msg: Message) -> bytes | None:
    boundary = msg.get_boundary()
    return boundary.encode("ascii", "surrogateescape") if boundary else None


class _Scan:
    def __init__(self, raw: bytes, limits: Limits) -> None:
        self.raw = raw
        self.limits = limits
        self.out: list[bytes] = []
        self.kept = 0  # bytes of bodies and headers written out
        self.parts = 0
        self.cut: list[str] = []
        self.degraded: list[str] = []
        self.dropped: list[tuple[str, int]] = []  # header fields over the limit: (name, bytes)
        self.bodies: list[bytes] = []  # inline text bodies, handed over apart (Skeleton.bodies)
        self.mark = b"\x00csm-body-" + secrets.token_hex(6).encode() + b":"
        first = raw.find(b"\n")
        self.eol = b"\r\n" if first > 0 and raw[first - 1] == 13 else b"\n"

    # --- headers ---------------------------------------------------------------------------------
    def headers(self, start: int, end: int) -> tuple[bytes, int]:
        """(the header block as it is kept, where the body begins) of the entity at raw[start:end]."""
        raw, limits = self.raw, self.limits
        kept: list[bytes] = []
        total, pos = 0, start
        while pos < end:
            if raw.startswith((b"\r\n", b"\n"), pos, end):  # the blank line: the body follows it
                return self._joined(kept), pos + (1 if raw[pos] == 10 else 2)
            if not _FIELD.match(raw, pos, end):  # not a header line: the body begins here
                break
            stop = self._field_end(pos, end)
            length = stop - pos
            colon = raw.find(b":", pos, min(stop, pos + 80))
            name = raw[pos : colon if colon > 0 else pos].strip()
            if length > limits.header_line:
                self.dropped.append((_printable(name), length))
            elif total + length > limits.header_block:
                self._degrade(f"the header lines after the first {size(limits.header_block)} were left out")
                pos = self._blank_line(stop, end)
                break
            elif name.lower() != _SIZE_FIELD:  # only the scan writes that one
                kept.append(raw[pos:stop])
                total += length
            pos = stop
        return self._joined(kept), pos

    def _field_end(self, pos: int, end: int) -> int:
        """The end of the header field at pos: its line and the folded lines after it."""
        # One search, not a loop over lines: a hostile field may be folded into millions of them.
        found = _FIELD_END.search(self.raw, pos, end)
        return end if found is None else found.end()

    def _blank_line(self, pos: int, end: int) -> int:
        """Past the rest of a header block that is not read: the body after its blank line."""
        found = _BLANK.search(self.raw, max(0, pos - 1), end)
        return end if found is None else found.end()

    def _joined(self, fields: list[bytes]) -> bytes:
        if fields and not fields[-1].endswith(b"\n"):
            fields[-1] += self.eol
        head = b"".join(fields)
        self.kept += len(head)
        return head

    # --- bodies ----------------------------------------------------------------------------------
    def body(
        self, head: bytes, start: int, end: int, *, depth: int, root: bool = False, default: str = ""
    ) -> None:
        """Write the blank line and the body of the entity whose kept headers are `head`."""
        part = _Part.of(head, default or "text/plain")
        raw, limits = self.raw, self.limits
        length = end - start
        if part.ctype.startswith("multipart/") and part.boundary:
            if depth >= limits.depth:
                self._degrade(f"parts nested deeper than the {limits.depth}-level limit were left out")
            elif self._multipart(part, part.boundary, start, end, depth):
                return
            self._leave_out(part, start, end)
        elif part.ctype in _TEXT and (root or not part.attachment):
            cut = length if length <= limits.text_part else _cut(raw, start, limits.text_part)
            if cut < length:
                self.cut.append(
                    f"a text part of {length:,} bytes was cut at the {size(limits.text_part)} limit"
                )
                self._size_header(part, start, end)
            self._text(raw[start : start + cut])
        elif part.calendar:
            if length > limits.calendar_part:
                self.cut.append(
                    f"a calendar part of {length:,} bytes over the {size(limits.calendar_part)} limit was not read"
                )
                self._leave_out(part, start, end)
            else:
                self._write(self.eol, raw[start:end])
        elif part.ctype in _REPORTS and length <= limits.text_part:
            self._write(self.eol, raw[start:end])
        elif part.ctype.startswith("message/") and part.ctype not in _REPORTS:
            # An attached message: its headers are read (forwards), its body never is.
            self._size_header(part, start, end)
            inner, _ = self.headers(start, end)
            self._write(self.eol, inner)
        else:
            self._leave_out(part, start, end)

    def _multipart(self, part: _Part, boundary: bytes, start: int, end: int, depth: int) -> bool:
        """Write the multipart's parts; False when it has no boundary line (the parser keeps it as text)."""
        segments = _segments(self.raw, boundary, start, end)
        if not segments:
            return False
        self._write(self.eol)
        default = "message/rfc822" if part.ctype == "multipart/digest" else "text/plain"
        delimiter = b"--" + boundary
        for first, last in segments:
            if self.parts >= self.limits.parts:
                self._degrade(f"the parts after the {self.limits.parts}th (the limit) were left out")
                break
            if self.kept >= self.limits.read_bytes:
                self._degrade(f"the parts after the first {size(self.limits.read_bytes)} read were left out")
                break
            self.parts += 1
            self._write(delimiter, self.eol)
            head, body = self.headers(first, last)
            self.out.append(head)
            self.body(head, body, last, depth=depth + 1, default=default)
            self._write(self.eol)
        self._write(delimiter, b"--", self.eol)
        return True

    def _text(self, body: bytes) -> None:
        if not BODIES_APART:
            self._write(self.eol, body)
            return
        self._write(self.eol)
        self.out.append(self.mark + str(len(self.bodies)).encode() + b"\x00")
        self.bodies.append(body)
        self.kept += len(body)  # read all the same: it counts against the limits

    def _leave_out(self, part: _Part, start: int, end: int) -> None:
        self._size_header(part, start, end)
        self._write(self.eol)

    def _size_header(self, part: _Part, start: int, end: int) -> None:
        # Written before the blank line that follows the headers: it is one of them.
        self._write(f"{SIZE_HEADER}: {_decoded_size(self.raw, start, end, part.encoding)}".encode(), self.eol)

    def _write(self, *chunks: bytes) -> None:
        for chunk in chunks:
            self.out.append(chunk)
            self.kept += len(chunk)

    def _degrade(self, reason: str) -> None:
        if reason not in self.degraded:
            self.degraded.append(reason)


def _segments(raw: bytes, boundary: bytes, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each part between the boundary lines in raw[start:end]: preamble and epilogue left out.

    A boundary line is `--boundary`, maybe `--`, maybe blanks, at the start of a line; the line
    break before it belongs to it (RFC 2046). Boundary lines in a row make no empty parts.
    """
    delimiter = b"--" + boundary
    lines: list[tuple[int, int, bool]] = []  # (line start, after its line break, closing)
    at = start
    while True:
        at = raw.find(delimiter, at, end)
        if at < 0:
            break
        if at == start or raw[at - 1] == 10:
            tail = at + len(delimiter)
            closing = raw.startswith(b"--", tail, end)
            stop = tail + 2 * closing
            while stop < end and raw[stop] in (32, 9):
                stop += 1
            if stop >= end or raw[stop] in (10, 13):
                after = min(end, stop + (2 if raw.startswith(b"\r\n", stop, end) else 1))
                lines.append((at, after, closing))
                if closing:
                    break
        at += len(delimiter)
    if not lines:
        return []
    segments = []
    for (_, after, closing), following in zip(lines, [*lines[1:], None], strict=True):
        if closing:
            break
        stop = end if following is None else following[0]
        if following is not None:  # the line break before the next boundary is the boundary's
            stop -= 2 if raw.startswith(b"\r\n", stop - 2, stop) else 1 if raw[stop - 1] == 10 else 0
        if following is None or following[0] > after:  # boundary lines in a row: no part between them
            segments.append((after, max(after, stop)))
    return segments


def _cut(raw: bytes, start: int, limit: int) -> int:
    """How much of a text body to keep: up to `limit`, at the end of a line (or a whole base64 quantum)."""
    newline = raw.rfind(b"\n", start, start + limit)
    return newline + 1 - start if newline >= 0 else limit // 4 * 4


def _decoded_size(raw: bytes, start: int, end: int, encoding: str) -> int:
    """The size of a body once decoded, without decoding it whole (as agent.mime.parse used to count it)."""
    if encoding == "base64":
        blanks = sum(raw.count(c, start, end) for c in (b"\r", b"\n", b" ", b"\t"))
        tail = raw[max(start, end - 80) : end].rstrip()
        padding = len(tail) - len(tail.rstrip(b"="))
        return max(0, (end - start - blanks) * 3 // 4 - padding)
    if encoding == "quoted-printable":
        total, pos = 0, start
        while pos < end:  # a line at a time in 1 MB slices: a soft line break never spans two
            stop = raw.find(b"\n", min(end, pos + 1024 * 1024), end)
            stop = end if stop < 0 else stop + 1
            total += len(binascii.a2b_qp(raw[pos:stop]))
            pos = stop
        return total
    return end - start


def _printable(name: bytes) -> str:
    return name[:60].decode("ascii", "replace") or "no name"
