"""The words of a person asking to get no more email: "Unsubscribe", "please stop emailing me".

Only a request about email to the writer counts: "remove me from the training invite" or "how do
our users unsubscribe?" is none. What acts on one is agent.handling.mail.opt_out.
"""

from __future__ import annotations

import re

from agent.matching.layers import TAG

SHORT = 12  # words: "Unsubscribe", "opt out" and "abmelden" count only in a message about as short

# A request about email to the writer, anywhere in what they wrote.
_ASKS = (
    r"unsubscribe me\b",
    r"(?:please\s+)?(?:stop|quit|cease)\s+(?:e-?mailing|sending\s+(?:me|us)\b|contacting|writing\s+to|"
    r"spamming)\s*(?:me|us)?\b",
    r"(?:do\s+not|don'?t|never)\s+(?:e-?mail|contact|write\s+to)\s+(?:me|us)\b",
    r"(?:remove|take|delete)\s+(?:me|my\s+(?:e-?mail|address))\s+(?:from|off)\s+(?:your|this|the|all|any)?\s*"
    r"(?:mailing|e-?mail|distribution|contact|marketing)?\s*(?:list|lists|e-?mails|mailings)\b",
    r"(?:i\s+)?(?:no\s+longer|don'?t|do\s+not)\s+(?:want|wish)\s+to\s+(?:receive|get)\s+(?:any\s+)?"
    r"(?:more\s+|further\s+)?(?:e-?mails?|messages|these)\b",
    r"no\s+more\s+e-?mails?(?:\s+please)?\b",
    r"opt\s+me\s+out\b",
    r"bitte\s+keine\s+(?:weiteren\s+)?(?:e-?mails|mails|nachrichten)\b",
    r"(?:vom|aus\s+dem)\s+verteiler\s+(?:nehmen|streichen|entfernen|austragen)\b",
    r"(?:ne\s+plus\s+(?:recevoir|m'?envoyer)|me\s+d[ée]sinscrire|me\s+d[ée]sabonner|retirez[- ]moi)\b",
)
# A word that asks it only when it is (nearly) all the message says.
_ALONE = r"(?:please\s+)?(?:unsubscribe|opt[- ]?out|remove\s+me|stop|abmelden|austragen|d[ée]sabonner|d[ée]sinscrire)"
ASKS = re.compile(r"(?<![\w-])(?:" + "|".join(_ASKS) + r")", re.IGNORECASE)
# Each of _ASKS and _ALONE holds one of these words: a text with none of them asks nothing, and is
# neither normalised nor searched (a dozen patterns tried at every word: milliseconds on a long
# message; these words are looked for at memory speed, and none holds a space, so the text's
# spacing does not change what they find).
_ASK_WORDS = (
    "unsubscribe", "stop", "quit", "cease", "mail", "contact", "write", "remove", "take", "delete",
    "want", "wish", "opt", "bitte", "verteiler", "plus", "sinscrire", "sabonner", "retirez",
    "abmelden", "austragen",
)  # fmt: skip
ALONE = re.compile(rf"^\W*(?:{_ALONE})\b(?:\s+(?:me|please|thanks?|thank\s+you))*\W*$", re.IGNORECASE)
UNSUBSCRIBE_WORD = re.compile(r"(?<!\bto\s)(?<!\bhow\s)\bunsubscribe\b", re.IGNORECASE)
NEGATED = re.compile(r"(?:\bnot|n't|\bnever|\bhow\s+(?:do|can|to))\b[^.!?\n]{0,20}$", re.IGNORECASE)


def opt_out_words(subject: str, said: str) -> str | None:
    """The words asking to get no more email (the subject, or the sentence of the text), or None."""
    topic = " ".join(
        TAG.sub("", re.sub(r"^\s*(?:(?:re|aw|fwd?|wg)\s*:\s*)+", "", subject, flags=re.I)).split()
    )
    if ALONE.match(topic):
        return topic
    folded = said.casefold()
    if not any(word in folded for word in _ASK_WORDS):
        return None
    text = " ".join(said.split())
    if ALONE.match(text) or (text.count(" ") < SHORT and _bare_unsubscribe(text)):  # SHORT words or fewer
        return text
    for found in ASKS.finditer(text):
        if not NEGATED.search(text[max(0, found.start() - 30) : found.start()]):
            return _sentence(text, found.start(), found.end())
    return None


def _bare_unsubscribe(text: str) -> bool:
    """'Unsubscribe, thanks' or 'Please unsubscribe.': the word, not negated, not a question about it."""
    found = UNSUBSCRIBE_WORD.search(text)
    return bool(found and "?" not in text and not NEGATED.search(text[: found.start()]))


def _sentence(text: str, start: int, end: int) -> str:
    begin = max((text.rfind(c, 0, start) for c in ".!?"), default=-1) + 1
    stops = [i for i in (text.find(c, end) for c in ".!?") if i >= 0]
    return text[begin : (min(stops) + 1 if stops else len(text))].strip()
