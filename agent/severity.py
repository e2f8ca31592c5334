"""Whether a message reports an issue, of what kind, and how severe its words say it is.

The kinds are the hybrid-account SOP's (seeds/004): a bug or system error, an integration
problem (users duplicated or disappearing, locations, departments or positions affected,
employee statuses not reflected), product maintenance or a system update, and a support
ticket's news. The severity is read from explicit words and markers ("critical", "urgent",
"P1", "sev 2"), from [severity] in the config, checked from critical down; words that say
none leave the configured default. It is a reading, not a verdict: a high or critical one is
confirmed by the CSM team lead before anyone is called to a meeting (agent.handling.issues).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from agent.config import SeveritySection
from agent.domain import SEVERITIES

# What makes a message an issue, by kind; the first kind that matches names it.
KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "integration",
        re.compile(
            r"\bintegration\b|\b(?:users?|employees?)\b[^.\n]{0,40}\b(?:duplicat\w*|disappear\w*|missing|"
            r"vanish\w*)|\bduplicat\w* (?:users?|employees?)\b|\b(?:locations?|departments?|positions?)\b"
            r"[^.\n]{0,40}\b(?:affected|wrong|changed|missing)\b|\b(?:employee|user) status\w*\b|"
            r"\b(?:terminated|inactive|prospect) (?:employees?|users?)\b|\b(?:adp|paylocity)\b",
            re.I,
        ),
    ),
    (
        "maintenance",
        re.compile(r"\b(?:maintenance|system update|scheduled downtime|planned downtime)\b", re.I),
    ),
    ("ticket", re.compile(r"\b(?:support )?ticket\s*(?:#|no\.?|number)?\s*[A-Z]*-?\d{3,}\b", re.I)),
    (
        "bug",
        re.compile(
            r"\b(?:bug|error|errors|broken|not working|doesn'?t work|does not work|crash\w*|fails?|failing|"
            r"outage|down)\b",
            re.I,
        ),
    ),
)
TICKET = re.compile(r"\bticket\s*(?:#|no\.?|number)?\s*(?P<id>[A-Z]*-?\d{3,})\b", re.I)


@dataclass(frozen=True)
class Reading:
    kind: str  # integration | maintenance | ticket | bug | inquiry (only a severity marker said so)
    severity: str  # low | medium | high | critical
    evidence: str  # the words the severity was read from; "" when it is the default
    ticket: str = ""  # a support ticket's number, when the message names one


def read_issue(subject: str, text: str, settings: SeveritySection) -> Reading | None:
    """The issue a message reports (subject and its new text, quotes aside), or None if it reports none."""
    words = f"{subject}\n{text}"
    kind = next((name for name, pattern in KINDS if pattern.search(words)), "")
    severity, evidence = _severity(words, settings)
    if not kind and not evidence:
        return None
    ticket = TICKET.search(words)
    return Reading(kind or "inquiry", severity, evidence, ticket.group("id") if ticket else "")


def _severity(words: str, settings: SeveritySection) -> tuple[str, str]:
    for level in reversed(SEVERITIES):  # critical first: "urgent, the site is down for everyone"
        for pattern in _compiled(getattr(settings, level)):
            found = pattern.search(words)
            if found:
                return level, found.group(0)
    return settings.default, ""


@lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.I) for p in patterns)


def parse_severity(word: str) -> str | None:
    """A person's word for a severity ("High", "sev 2", "P1", "crit"), or None."""
    w = word.strip().lower().rstrip(".!")
    aliases = {
        "crit": "critical", "sev1": "critical", "sev 1": "critical", "p1": "critical",
        "sev2": "high", "sev 2": "high", "p2": "high",
        "sev3": "medium", "sev 3": "medium", "p3": "medium", "med": "medium",
        "sev4": "low", "sev 4": "low", "p4": "low",
    }  # fmt: skip
    w = aliases.get(w, w)
    return w if w in SEVERITIES else None


def at_least(severity: str, floor: str) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(floor)
