"""A transport that also keeps a copy of each sent email in a Sent folder, so people see what the agent sent.

It wraps the real transport and is given the copy as a plain callable (for an IMAP mailbox,
agent.backends binds its append), so the outbox knows nothing of mailboxes. The copy is
best effort: the email has gone whatever happens to it, so a failed copy is reported in
SendResult.copy_error and never turns into a retry of the email.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from email.message import EmailMessage

from agent.outbox.transports.base import SendResult, Transport

log = logging.getLogger(__name__)


class SentCopy:
    def __init__(self, inner: Transport, append: Callable[[bytes], None], folder: str) -> None:
        self.inner = inner
        self.append = append
        self.folder = folder  # named in copy_error, so the audit trail says which folder
        self.name = inner.name  # the delivery is the inner transport's: it names it in the trail

    def send(self, message: EmailMessage, recipients: list[str], outbox_id: int) -> SendResult:
        result = self.inner.send(message, recipients, outbox_id)
        if not result.accepted:
            return result  # nobody got it: there is nothing sent to keep
        try:
            self.append(message.as_bytes())
        except Exception as exc:  # any failure of the copy, from the network to the folder: the email went
            log.debug("outbox %d: the copy in %s failed", outbox_id, self.folder, exc_info=True)
            return dataclasses.replace(result, copy_error=f"no copy in {self.folder}: {exc}")
        return result

    def probe(self) -> str:
        return self.inner.probe()
