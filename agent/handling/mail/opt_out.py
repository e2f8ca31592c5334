"""Opt-out: "Unsubscribe", "please stop emailing me", "remove me from your list" from outside.

The address is marked opted out (address_flags.opted_out_at, for every deal it is on): surveys
and reminders never go to it again, and any other email to it waits for the CSM to confirm
(agent.handling.consent). Each deal's CSM is told, with the person's own words, in an email
whose Reply-To is the person. The List-Unsubscribe of the agent's emails is a mailto of the
deal's reply address with the subject "unsubscribe" (outbox/compose.py): it is read here too.

Only what the person wrote counts (agent.replies: no quoted history, where our own email may
say "unsubscribe"), and only a request about email to them: "remove me from the training
invite" or "how do our users unsubscribe?" is no opt-out.
"""

from __future__ import annotations

import re

from agent.handling.enqueue import Enqueuer
from agent.handling.mail.client_reply import forward, who_hears
from agent.handling.mail.pipeline import MailItem, Passed, Took
from agent.matching import TAG
from agent.outbox.status import UNSENT
from agent.replies.reader import read_reply
from agent.store import models as m
from agent.store.queries.addresses import OPT_OUT_CONFIRM

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


class OptOut:
    """An opt-out request from outside: the address marked, the message logged, each deal's CSM told."""

    name = "opt-out"

    def __init__(self, enqueuer: Enqueuer) -> None:
        self.enqueuer = enqueuer

    def __call__(self, item: MailItem) -> Took | Passed:
        msg, match, repo = item.msg, item.match, item.repo
        if item.direction != "inbound" or msg.sender is None:
            return Passed("not from outside")
        said = read_reply(msg.text, msg.sender.name).said
        words = opt_out_words(msg.subject, said)
        if words is None:
            return Passed("asks for no opt-out")
        assert match is not None
        address = msg.sender.email.lower()
        flag = repo.flag(address)
        if flag.opted_out_at is None:
            flag.opted_out_at = item.now
            flag.reason = f'"{words[:200]}", in message {msg.message_id}'
        deal_ids = sorted({*([match.deal_id] if match.deal_id else []), *repo.deals_by_email(address)})
        reason = f'an opt-out ("{words[:200]}"); {match.reason}'
        if match.deal_id is None and not deal_ids:  # nobody's contact: kept for a person to see
            item.log_message(None, item.direction, "unmatched", reason, match, raw=item.raw)
            item.trail("contact_opted_out", f"{address} asked to get no more email: {words[:200]!r}")
            return Took(f"{address} opted out; no deal knows them")
        item.log_message(
            match.deal_id, item.direction, "matched" if match.deal_id else "ignored", reason, match
        )
        for deal_id in deal_ids:
            deal = repo.deal(deal_id)
            assert deal is not None
            self._tell(item, deal, words)
        return Took(f"{address} opted out")

    def _tell(self, item: MailItem, deal: m.Deal, words: str) -> None:
        msg, repo = item.msg, item.repo
        assert msg.sender is not None
        address = msg.sender.email.lower()
        unsent = [
            e
            for e in repo.outbox_all(deal.id)
            if e.status in UNSENT
            and address in {str(a["email"]).lower() for a in (*e.to, *e.cc)}
            and not any(r.template == OPT_OUT_CONFIRM for r in repo.requests_about(e.id))  # yours to decide
        ]
        item.trail.on(deal)(
            "contact_opted_out",
            f"{address} asked to get no more email: {words[:200]!r}; surveys and reminders never go to "
            "them, other emails wait for the CSM to confirm",
        )
        # written before they asked: those go to the others without them, and to nobody when
        # nobody else is left (outbox/queue.py re-checks every recipient just before sending)
        waiting = (
            " Written before they asked and not yet sent: "
            + ", ".join(f"the {e.template} email ({e.status})" for e in unsent)
            + ". These will not go to them."
            if unsent
            else ""
        )
        who = msg.sender.name or address
        lead = (
            f'{who} ({address}), a contact on {deal.name}, asked to get no more email from us: "{words[:300]}". '
            "Surveys and reminders will never go to them again; any other email the agent writes "
            f"to them waits for you to confirm it.{waiting}"
        )
        forward(self.enqueuer, item, deal, who_hears(self.enqueuer, item, deal), lead, f"{address} opted out")
