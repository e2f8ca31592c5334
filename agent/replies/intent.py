"""What a person meant by a short answer: approve, cancel, or something the agent must ask about.

The rules are data: the phrases below, in English, German and French. An answer is split into
clauses (at line ends, sentence marks, commas, " - " and "and"); greetings, thanks, sign-offs
and the sender's own name are set aside, and words of politeness ("please", "bitte", "svp")
dropped. Every clause left must then be made of approving phrases only ("ok", "send it" →
"ok send it") or of cancelling phrases only. Anything else — a question, a condition, a
negation, a mix of both — is unclear: nothing is sent, and the person is asked back. Approval is
never guessed from a word inside a longer sentence: "ok but change the date" is unclear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from agent.replies.signature import CLOSINGS, is_closing, is_name_like, is_sender, name_forms


class Intent(StrEnum):
    APPROVE = "approve"
    CANCEL = "cancel"
    EDIT = "edit"
    UNCLEAR = "unclear"


APPROVE_PHRASES = frozenset(
    {
        # English
        "send", "send it", "send this", "send that", "send them", "send it out", "send out",
        "send as is", "send it as is", "send as it is", "send it as it is", "send now", "send it now",
        "ok", "okay", "k", "kk", "yes", "yep", "yeah", "yup", "sure", "sure thing", "of course",
        "approve", "approved", "i approve", "lgtm", "looks good", "looks great", "looks fine",
        "looks ok", "looks okay", "looks good to me", "look good", "all good", "good to go",
        "good to send", "ok to send", "okay to send", "fine to send", "go", "go ahead", "go for it",
        "fine", "perfect", "great", "ship it", "no problem", "no worries", "that's fine",
        "thats fine", "that's good", "that works", "works for me", "sounds good", "agreed",
        "confirmed", "alright", "all right",
        # German
        "senden", "absenden", "versenden", "abschicken", "verschicken", "schicken", "rausschicken",
        "raus damit", "schick es", "schick ab", "schick es ab", "schick raus", "schick es raus",
        "kann raus", "kann so raus", "darf raus", "geht raus", "passt", "passt so", "passt gut",
        "ja", "jawohl", "jep", "jo", "gut", "sieht gut aus", "freigegeben", "freigabe",
        "einverstanden", "in ordnung", "alles gut", "alles klar", "klar", "los", "genehmigt",
        "gerne senden",
        # French
        "envoyer", "envoie", "envoie le", "envoyez", "envoyez le", "tu peux envoyer",
        "vous pouvez envoyer", "tu peux l'envoyer", "vous pouvez l'envoyer", "tu peux y aller",
        "vous pouvez y aller", "vas y", "allez y", "ok pour moi", "bon pour moi", "c'est bon",
        "c'est ok", "c'est parfait", "c'est bon pour moi", "parfait", "oui", "d'accord", "validé",
        "valide", "je valide", "ça me va", "ca me va", "ça marche", "ca marche", "pas de souci",
        "pas de problème", "très bien", "super", "nickel",
    }
)  # fmt: skip
CANCEL_PHRASES = frozenset(
    {
        # English
        "cancel", "cancel it", "cancel this", "cancel that", "don't send", "dont send", "do not send",
        "don't send it", "dont send it", "do not send it", "don't send this", "do not send this",
        "don't", "dont", "do not", "stop", "stop it", "drop", "drop it", "drop this", "discard",
        "discard it", "delete", "delete it", "scrap", "scrap it", "kill it", "no", "nope", "nah",
        "never mind", "nevermind", "abort", "reject", "rejected", "not this one",
        # German
        "nicht senden", "nicht schicken", "nicht verschicken", "nicht abschicken", "nicht versenden",
        "nicht rausschicken", "nicht raus", "nicht", "abbrechen", "abbruch", "stopp", "verwerfen",
        "löschen", "nein", "storno", "stornieren", "lass es", "auf keinen fall",
        # French
        "ne pas envoyer", "ne l'envoie pas", "ne l'envoyez pas", "n'envoie pas", "n'envoyez pas",
        "ne pas l'envoyer", "pas d'envoi", "annuler", "annule", "annulez", "non", "supprimer",
        "supprime", "ne rien envoyer", "n'envoie rien", "laisse tomber", "laissez tomber",
        "surtout pas",
    }
)  # fmt: skip
# Words of politeness and filler, dropped inside a clause: "send it please" is "send it".
POLITE = re.compile(
    r"\b(?:please|pls|plz|thanks|thank you|thx|ty|just|then|bitte|danke|gerne|einfach|mal|dann|"
    r"merci|svp|stp|s'il te pla[iî]t|s'il vous pla[iî]t|alors)\b"
)
# A clause that starts with one of these and is short is a greeting ("Hi Agent", "Bonjour à tous").
GREETINGS = frozenset(
    {"hi", "hello", "hey", "dear", "morning", "hallo", "liebe", "lieber", "moin", "servus", "guten",
     "bonjour", "salut", "coucou", "hi there"}
)  # fmt: skip
_CLAUSE_BREAK = re.compile(r"[\n.!?;,:]+|\s[-–—]\s|\s(?:and|und|et|&)\s", re.IGNORECASE)
_LONGEST = max(len(p.split()) for p in APPROVE_PHRASES | CANCEL_PHRASES)
_APPROVE = frozenset(tuple(p.split()) for p in APPROVE_PHRASES)
_CANCEL = frozenset(tuple(p.split()) for p in CANCEL_PHRASES)


@dataclass(frozen=True)
class Said:
    intent: Intent  # APPROVE, CANCEL or UNCLEAR (an edit is recognised by its form, agent.replies.edits)
    reason: str  # for the audit trail and the question back: what was understood, or what was not


def intent_of(said: str, sender_name: str = "") -> Said:
    """Approve, cancel or unclear, for what a person said (a reply without quotes and signature)."""
    kept = meant_clauses(said, sender_name)
    if not kept:
        return Said(Intent.UNCLEAR, "nothing but greetings or thanks" if said.strip() else "an empty reply")
    kinds = [_kind(clause) for clause in kept]
    unknown = [clause for clause, kind in zip(kept, kinds, strict=True) if kind is None]
    if unknown:
        return Said(Intent.UNCLEAR, f'not one of the answers understood: "{unknown[0]}"')
    if all(k is Intent.APPROVE for k in kinds):
        return Said(Intent.APPROVE, f'"{"; ".join(kept)}"')
    if all(k is Intent.CANCEL for k in kinds):
        return Said(Intent.CANCEL, f'"{"; ".join(kept)}"')
    return Said(Intent.UNCLEAR, f'both "send" and "cancel" in one answer: "{"; ".join(kept)}"')


def meant_clauses(said: str, sender_name: str = "") -> list[str]:
    """The clauses that carry meaning, normalised: no greeting, thanks, sign-off, name or politeness."""
    names = name_forms(sender_name)
    kept: list[str] = []
    after_closing = False
    for raw in _CLAUSE_BREAK.split(_plain(said)):
        raw = raw.strip(" '-")
        # a sign-off and the name under it, even on the line of the answer: "Send it. Cheers, Sam"
        if is_closing(raw) or is_sender(raw, names) or (after_closing and is_name_like(raw)):
            after_closing = True
            continue
        after_closing = False
        clause = raw.lower()
        words = clause.split()
        if not words or clause in CLOSINGS or (words[0] in GREETINGS and len(words) <= 3):
            continue
        clause = " ".join(POLITE.sub(" ", clause).split())
        if clause:
            kept.append(clause)
    return kept


def _plain(text: str) -> str:
    """One kind of apostrophe, thumbs up as "ok", smileys and other symbols gone; case kept."""
    text = text.replace("’", "'").replace("`", "'")
    text = re.sub(r"\b[oO]\.[kK]\.", "ok", text)
    text = re.sub(r"[👍👌✅]", " ok ", text)
    text = re.sub(r"(?<!\w)[:;=]-?[)(DPp](?!\w)|\(:", " ", text)
    text = re.sub(r"(?<=\w)-(?=\w)", " ", text)  # "envoie-le", "vas-y"
    return re.sub(r"[^\w\s'\n.!?;,:&–—-]", " ", text)


def _kind(clause: str) -> Intent | None:
    words = tuple(clause.split())
    if _made_of(words, _APPROVE):
        return Intent.APPROVE
    if _made_of(words, _CANCEL):
        return Intent.CANCEL
    return None


def _made_of(words: tuple[str, ...], phrases: frozenset[tuple[str, ...]]) -> bool:
    """Whether ``words`` is a sequence of ``phrases`` ("ok go ahead" = "ok" + "go ahead")."""
    reachable = [True] + [False] * len(words)
    for start in range(len(words)):
        if not reachable[start]:
            continue
        for size in range(1, min(_LONGEST, len(words) - start) + 1):
            if words[start : start + size] in phrases:
                reachable[start + size] = True
    return reachable[-1]
