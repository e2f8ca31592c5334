"""The history step: mail the mailbox held before the agent first watched it is recorded, not acted on.

People handled that mail before the agent existed: forwarding a client's old message to its CSMs,
obeying an old command or asking which deal an old message is about would do their work again,
months late. Its row (on its deal when one was found, with how it was matched) is what the deal's
story shows; no rule fires and nothing joins the unmatched queue. An invitation among it has gone
to the meeting handler before this step, as the calendar's first sync would read it.
Which mail is history is the mailbox's to say (RawMail.history; docs/mail.md).
"""

from __future__ import annotations

from agent.handling.mail.pipeline import MailItem, Passed, Took

HELD = "the mailbox held it before the agent first watched it"


class History:
    name = "history"

    def __call__(self, item: MailItem) -> Took | Passed:
        if not item.history:
            return Passed("arrived after the agent first watched the mailbox")
        match, msg = item.match, item.msg
        assert match is not None
        # `history`, neither `matched` nor `unmatched`: no query for a client's reply, a thread to
        # continue or the unmatched queue reads it as news
        item.log_message(
            match.deal_id, item.direction, "history", match.reason, match, list(match.candidates)
        )
        if match.deal_id is not None:
            dated = f", dated {msg.date.isoformat()}" if msg.date else ""
            item.trail.on(match.deal_id)(
                "message_history",
                f"'{msg.subject}' from {item.sender or '?'}{dated}: {HELD}; recorded, not acted on",
            )
        # "unmatched" files it in [mailbox] unmatched_folder with any mail no deal matched; it adds
        # nothing to the unmatched queue, which is read from the rows' status
        return Took(f"history: {HELD}", "unmatched" if match.deal_id is None else None)
