"""Commands our people give the agent by email, in the subject or the first lines.

    deal Acme Radio | attach to deal [ref:7F3K2Q9A] | deal #12   which deal this message is about
    advance | advance to training | set stage training           move the deal
    advance to training because the client did it themselves     ... past tasks not done (recorded)
    done import-data | mark task done import-data                tick a task
    no-show                                                      the last call did not happen
    ignore                                                       log only; no rule runs
    approve | reject                                             answer an approval request
    hybrid learning-bought-service | became hybrid: bought FMC   the account became hybrid (either way)
    escalate <why> | escalation: <why>                           an escalation: the pipeline's rule runs

Only mail addressed to the agent itself (To, not Cc or Bcc) carries commands,
so that a line in a CSM's email to a client is never taken for one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "because ..." (or "reason: ...") after an advance: the reason to move on with tasks not done
_WHY = r"(?:\s*[,;:–—-]?\s*(?:because|reason\s*:)\s+(?P<why>.+?))?"
_WHO = r"(?:(?:the\s+)?(?:account|client|they|it)\s+)?"
_REST = r"\s*[:,;–—-]?\s*(?P<arg>.*?)\s*[.!]?$"  # the words after the verb, as they were written
_PREFIX = re.compile(r"^\s*((re|aw|fw|fwd|wg|tr)\s*:\s*)+", re.IGNORECASE)
_GRAMMAR: list[tuple[str, re.Pattern[str]]] = [
    ("deal", re.compile(r"^(?:attach\s+to\s+deal|attach\s+to|deal)\s*:?\s+(?P<arg>.+?)\.?$", re.I)),
    ("advance", re.compile(rf"^advance(?:\s+to\s+(?P<arg>[\w-]+))?{_WHY}\s*[.!]?$", re.I)),
    ("advance", re.compile(rf"^(?:set\s+stage|stage)\s*:?\s+(?:to\s+)?(?P<arg>[\w-]+){_WHY}\s*[.!]?$", re.I)),
    ("done", re.compile(r"^(?:mark\s+task\s+done|task\s+done|done)\s*:?\s+(?P<arg>[\w-]+)\s*[.!]?$", re.I)),
    ("done", re.compile(r"^mark\s+(?:task\s+)?(?P<arg>[\w-]+)\s+(?:as\s+)?done\s*[.!]?$", re.I)),
    ("no-show", re.compile(r"^no-?show\s*[.!]?$", re.I)),
    ("ignore", re.compile(r"^ignore\s*[.!]?$", re.I)),
    ("approve", re.compile(r"^(?:approve|approved|yes|ok|okay|agreed)\b", re.I)),
    ("reject", re.compile(r"^(?:reject|rejected|deny|denied|decline|declined)\b", re.I)),
    # "hybrid: <what they bought>" or one word ("hybrid service-bought-learning"), never "Hybrid
    # account sync: ..." (a reply to the sync invitation's subject); commands/hybrid.py reads the way
    ("hybrid", re.compile(r"^hybrid(?:\s*[:,;–—-]\s*(?P<arg>.+?)|\s+(?P<word>[\w-]+))\s*[.!]?$", re.I)),
    ("hybrid", re.compile(rf"^{_WHO}(?:became|becomes|is\s+now|are\s+now|now)\s+hybrid\b{_REST}", re.I)),
    ("escalate", re.compile(rf"^(?:escalate|escalation)\b{_REST}", re.I)),
]
BODY_ONLY = {"approve", "reject"}  # a subject such as "Re: Approve: ..." is our own question, not an answer
ONCE = {"hybrid", "escalate"}  # said in the subject and again in the body, it is one thing to do
LINES_READ = 3  # a command is in the first lines; below that is the person's own text


@dataclass(frozen=True)
class Command:
    verb: str  # deal | advance | done | no-show | ignore | approve | reject | hybrid | escalate
    arg: str  # "" when the verb takes none (advance to the next stage, ignore, ...)
    line: str  # the words as written, for the audit trail
    reason: str = ""  # advance: why it moves on with the stage's tasks not done


def parse_commands(subject: str, new_text: str) -> list[Command]:
    """Every command found, subject first; a `deal` command may come with one action."""
    lines = [(_PREFIX.sub("", subject).strip(), True)]
    lines += [(line.strip(), False) for line in new_text.splitlines() if line.strip()][:LINES_READ]
    found: list[Command] = []
    for line, in_subject in lines:
        for verb, pattern in _GRAMMAR:
            m = pattern.match(line)
            if m and not (in_subject and verb in BODY_ONLY):
                if verb in ONCE and any(c.verb == verb for c in found):
                    break
                groups = m.groupdict()
                arg = (groups.get("arg") or groups.get("word") or "").strip()
                found.append(Command(verb, arg, line, (groups.get("why") or "").strip()))
                break
    return found
