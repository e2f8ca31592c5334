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

from agent.handling.enqueue import Enqueuer
from agent.handling.mail.client_reply import forward, who_hears
from agent.handling.mail.pipeline import MailItem, Passed, Took
from agent.outbox.status import UNSENT
from agent.store import models as m
from agent.store.queries.addresses import OPT_OUT_CONFIRM


class OptOut:
    """An opt-out request from outside: the address marked, the message logged, each deal's CSM told."""

    name = "opt-out"

    def __init__(self, enqueuer: Enqueuer) -> None:
        self.enqueuer = enqueuer

    def __call__(self, item: MailItem) -> Took | Passed:
        msg, match, repo = item.msg, item.match, item.repo
        if item.direction != "inbound" or msg.sender is None:
            return Passed("not from outside")
        words = item.reading.opt_out
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
