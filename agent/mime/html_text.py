"""HTML bodies as readable text, for matching, commands and the audit trail.

HTMLParser never needs valid HTML, and what it still gives up on is stripped of its tags
instead: a broken body degrades to worse text, never to an error. <blockquote> becomes
"> " lines, so that quoted history in HTML mail is cut like plain-text quoting.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser


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
