"""Where a reply's signature begins when nothing marks it: a closing, the sender's name, a title, a phone.

Mail clients mark a signature with "-- " only sometimes; people type "Thanks,\\nSam" or paste a
block of name, title, company and phone. A line is taken as the start of a signature only
below the first line of the reply, and only when every line after it is short and looks like
a signature too: "send" is never cut, "send\\nbut not before Monday" is never turned into "send".
"""

from __future__ import annotations

import re

# Sign-offs, lower case without their trailing punctuation ("Thanks," "Viele Grüße" "Cordialement").
CLOSINGS = frozenset(
    {
        # English
        "thanks", "thank you", "many thanks", "thanks again", "thanks a lot", "cheers", "best",
        "best wishes", "best regards", "kind regards", "regards", "warm regards", "warmest regards",
        "all the best", "br", "kr", "talk soon", "speak soon", "sincerely", "yours",
        # German
        "danke", "vielen dank", "danke schön", "dankeschön", "gruß", "grüße", "gruss", "grüsse",
        "viele grüße", "viele grüsse", "beste grüße", "beste grüsse", "liebe grüße", "herzliche grüße",
        "freundliche grüße", "schöne grüße", "mit freundlichen grüßen", "mit freundlichen grüssen",
        "mfg", "vg", "lg", "bg",
        # French
        "merci", "merci beaucoup", "cordialement", "bien cordialement", "bien à vous", "bien à toi",
        "bonne journée", "bonne soirée", "belle journée", "à bientôt", "a bientôt", "a+", "bises",
        "salutations", "sincères salutations",
    }
)  # fmt: skip

# Words of a job title or a company, anywhere in a line of a signature block.
TITLE_WORDS = re.compile(
    r"\b(?:manager|director|head of|vp|vice president|lead|specialist|consultant|customer success|"
    r"onboarding|account executive|csm|ceo|cto|coo|cfo|founder|engineer|team|department|"
    r"kundenbetreuer(?:in)?|leiter(?:in)?|geschäftsführer(?:in)?|berater(?:in)?|abteilung|"
    r"responsable|directeur|directrice|chargée? de|chef de projet|équipe)\b",
    re.IGNORECASE,
)
COMPANY_SUFFIX = re.compile(
    r"\b(?:inc|ltd|llc|gmbh|ag|kg|sa|sas|sarl|bv|plc|corp|co|limited|group)\.?$", re.IGNORECASE
)
PHONE = re.compile(
    r"^(?:(?:tel|tél|phone|mobile|mob|cell|m|t|p|f|fax|direct|office|handy|mobil|telefon|portable|fixe)"
    r"\.?\s*[:.]?\s*)?\+?[\d\s().\-/]{7,}$",
    re.IGNORECASE,
)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(r"(?:https?://|www\.)\S+|^[\w-]+(?:\.[\w-]+)+(?:/\S*)?$", re.IGNORECASE)
# A word that is never part of a name: a name-like line made of these is what someone said.
NOT_NAMES = frozenset(
    {
        "not", "yet", "no", "wait", "hold", "but", "never", "later", "first", "after", "before",
        "today", "tomorrow", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
        "sunday", "please", "send", "cancel", "stop", "ok", "okay", "yes", "go", "ahead", "fine",
        "change", "fix", "check", "nicht", "noch", "warte", "erst", "später", "heute", "morgen",
        "montag", "dienstag", "mittwoch", "donnerstag", "freitag", "bitte", "senden", "ja", "nein",
        "pas", "encore", "attends", "attendre", "demain", "lundi", "mardi", "mercredi", "jeudi",
        "vendredi", "envoyer", "oui", "non", "merci", "danke", "thanks", "hi", "hello", "hey", "dear",
        "hallo", "liebe", "lieber", "bonjour", "salut", "only", "nur", "seulement",
    }
)  # fmt: skip
_NAME_WORD = re.compile(r"^(?:[^\W\d_][.]|[^\W\d_][^\W\d_'.-]*)$")
MAX_SIGNATURE_LINES = 8  # below a closing or a name, more lines than this are a message, not a signature
MAX_SIGNATURE_WIDTH = 80


def signature_start(lines: list[str], sender_name: str = "") -> int:
    """Index of the first line of the signature in ``lines``; ``len(lines)`` when there is none."""
    names = name_forms(sender_name)
    content = [i for i, line in enumerate(lines) if line.strip()]
    # The first line is what they said, never a signature; and a signature has at most
    # MAX_SIGNATURE_LINES lines under its first, so only the last few lines can start one
    # (looking at every line made a long body cost its length squared: 95 s for 1 MB).
    first = max(1, len(content) - MAX_SIGNATURE_LINES - 1)
    for n in range(first, len(content)):
        i = content[n]
        line = lines[i].strip()
        if len(line) > 2 * MAX_SIGNATURE_WIDTH:
            # a closing, a name or a "Name | title | company | phone" line is short; a paragraph is
            # something said (and reading one as a contact line cost milliseconds a message)
            continue
        rest = [lines[j].strip() for j in content[n + 1 :]]
        if any(len(r) > MAX_SIGNATURE_WIDTH for r in rest):
            continue
        # under a signature's first line come names and contact lines only: "Thanks!\nAlso, CC
        # Mike next time" is still something said
        if not all(is_contact(r) or is_name_like(r) for r in rest):
            continue
        if is_closing(line) or is_sender(line, names) or is_contact(line):
            return i
        # a name alone ends a signature only when the sender's name is unknown: "send\nOnly Jane"
        # from Sam is something Sam said
        if is_name_like(line) and (not names or any(is_contact(r) for r in rest)):
            return i
    return len(lines)


def name_forms(sender_name: str) -> set[str]:
    """How a person signs: "sam carter", "carter sam", "sam", "carter", "sc" (from "Sam Carter" or "Carter, Sam")."""
    words = [w for w in re.split(r"[\s,]+", sender_name.lower()) if w and not EMAIL.search(w)]
    if not words:
        return set()
    forms = {" ".join(words), " ".join(reversed(words)), "".join(w[0] for w in words)}
    forms |= {w for w in words if len(w) >= 2}
    return forms


def _bare(line: str) -> str:
    """The line in lower case, without a leading dash ("- Sam") or trailing punctuation."""
    return re.sub(r"^[-–—~\s]+|[\s,.!:;]+$", "", line).lower()


def is_closing(line: str) -> bool:
    """ "Thanks," "Best, Sam" "VG Sam" "Cordialement" — a sign-off, maybe with a name after it."""
    stripped = re.sub(r"^[-–—~\s]+|[\s,.!:;]+$", "", line)
    low = stripped.lower()
    if low in CLOSINGS:
        return True
    for closing in CLOSINGS:
        gap = re.match(r"[\s,!.–—-]+", stripped[len(closing) :]) if low.startswith(closing) else None
        if gap and is_name_like(stripped[len(closing) + gap.end() :]):
            return True
    return False


def is_sender(line: str, names: set[str]) -> bool:
    """The sender's own name (or first name, or initials), alone or at the head of a "Name | title" line."""
    if not names:
        return False
    bare = _bare(line)
    head = re.split(r"\s*[|,/–—]\s*|\s+-\s+", bare)[0]
    return bare in names or head in names


def is_name_like(line: str) -> bool:
    """One to four capitalised words that are none of the words people answer with ("Sam", "Jane Doe")."""
    words = re.sub(r"[\s,.!]+$", "", line.strip()).split()
    if not 1 <= len(words) <= 4:
        return False
    return all(
        _NAME_WORD.match(w) and w[0].isupper() and w.lower().strip(".") not in NOT_NAMES for w in words
    )


def is_contact(line: str) -> bool:
    """A phone number, an address, a link, a job title or a company: the lines under a name."""
    parts = [p.strip() for p in re.split(r"\s*[|•·]\s*", line.strip()) if p.strip()]
    return bool(parts) and all(_contact_part(p) or is_name_like(p) for p in parts)


def _contact_part(part: str) -> bool:
    digits = sum(c.isdigit() for c in part)
    return bool(
        (PHONE.match(part) and digits >= 7)
        or EMAIL.search(part)
        or URL.search(part)
        or _title(part)
        or (digits and _capitalised(part) and len(part.split()) <= 8)  # "10 Main Street, London SW1A 2AA"
        or (COMPANY_SUFFIX.search(part) and _capitalised(part))
    )


def _title(part: str) -> bool:
    """A job title: "Customer Success Manager", "Head of Onboarding", "Responsable grands comptes".

    Not a sentence that happens to hold such a word ("the team lead agrees"): a title is a few
    capitalised words, or begins with the title word itself.
    """
    words = part.split()
    if not 1 <= len(words) <= 6 or part.rstrip()[-1:] in "?!":
        return False
    found = TITLE_WORDS.search(part)
    return found is not None and (found.start() == 0 or _capitalised(part))


def _capitalised(part: str) -> bool:
    return all(w[0].isupper() or w.lower() in _CONNECTORS or not w[0].isalpha() for w in part.split())


_CONNECTORS = frozenset(
    {"of", "and", "&", "for", "the", "de", "des", "du", "la", "le", "et", "für", "und", "der"}
)
