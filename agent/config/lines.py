"""Where in the config file a key is set, so that every message names the line (tomllib keeps no positions)."""

from __future__ import annotations

import re


def team_line(text: str, index: int, section: str, key: str) -> int | None:
    """Best effort: the line of `key` in the index-th [[teams]] table ("") or its [teams.<section>]."""
    count, current = -1, ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if re.fullmatch(r"\[\[\s*teams\s*\]\]", line):
            count, current = count + 1, ""
            continue
        header = re.fullmatch(r"\[\s*teams\.([^\]]+?)\s*\]", line)
        if header:
            current = header.group(1)
            continue
        if line.startswith("["):
            current = "-"  # another section: not the team's
            continue
        if count == index and current == section and re.match(rf"{re.escape(key)}\s*=", line):
            return number
    return None


def line_of(text: str, section: str, key: str) -> int | None:
    """Best effort: the line where `key` is set inside `[section]` (tomllib keeps no positions)."""
    current = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.fullmatch(r"\[\s*([^\]]+?)\s*\]", line)
        if header:
            current = header.group(1)
            if not section and current == key:
                return number
            continue
        if current == section and re.match(rf"{re.escape(key)}\s*=", line):
            return number
    return None
