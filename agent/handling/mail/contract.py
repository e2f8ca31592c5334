"""The signed contract, emailed to the deal's own address: recorded as the deal's contract document.

The message must carry the deal's token (sent to agent+TOKEN@, or [ref:TOKEN] in its subject):
a contract is filed on a deal only where the sender said which deal. Its contract is an attachment
whose name says so ("Signed contract.pdf", "Vertrag.pdf"), or, when the subject says contract or
the message starts with the word `contract`, the document attached (a PDF or an office file before
a picture). Only its description is kept on the deal: name, type, size, and the message it came in
(its Message-ID and its place in the mailbox); the bytes stay in that message. A task
`upload-contract` still open is ticked. The step never takes the message: the matched step logs it
and gives it to the rules like any other.
"""

from __future__ import annotations

import re
from typing import Any

from agent.deal_data import contract_document, keep_contract_document
from agent.domain import Attachment, InboundMessage, MessageKind
from agent.handling.mail.csat import first_word
from agent.handling.mail.pipeline import MailItem, Passed
from agent.handling.runner import RuleRunner
from agent.matching import TAG, Party

CONTRACT_TASK = "upload-contract"
_SAYS = re.compile(r"contract|agreement|vertrag|contrat|contrato", re.I)
_DOCUMENTS = ("application/pdf", "application/msword", "application/vnd.", "application/rtf", "text/rtf")
_SCAN = 100 * 1024  # a picture this big may be a scanned page; a smaller one is a logo in a signature


class ContractDocument:
    name = "contract document"

    def __init__(self, runner: RuleRunner, party: Party) -> None:
        self.runner = runner
        self.party = party

    def __call__(self, item: MailItem) -> Passed:
        match, msg, repo = item.match, item.msg, item.repo
        if match is None or match.deal_id is None or not msg.attachments:
            return Passed("no attachment on a deal's message")
        if msg.kind is not MessageKind.NORMAL:
            return Passed(f"a {msg.kind.value} message files no contract")
        deal = repo.deal(match.deal_id)
        assert deal is not None
        if not self._names_deal(msg, deal.token):
            return Passed("the deal's token is neither in its address nor in its subject")
        said = bool(_SAYS.search(msg.subject)) or first_word(msg.new_text) == "contract"
        found = _contract(msg.attachments, said)
        if found is None:
            return Passed("no attachment is a contract")
        document: dict[str, Any] = {
            "filename": found.filename,
            "content_type": found.content_type,
            "size": found.size,
            "message_id": msg.message_id,
            "source": item.cause.key,  # where the bytes are: the mailbox, its UIDVALIDITY and UID
            "from": item.sender,
            "subject": msg.subject,
            "received_at": item.now.isoformat(),
        }
        replaced = contract_document(deal)
        keep_contract_document(deal, document)
        item.trail.on(deal)(
            "contract_received",
            f"signed contract {found.filename or '(unnamed)'} ({found.content_type}, {found.size} bytes) "
            f"from {item.sender}" + (f", replacing {replaced['filename']}" if replaced else ""),
            **document,
        )
        task = repo.task(deal.id, CONTRACT_TASK)
        if task is not None and task.status == "open":
            who = f"{item.sender}, emailing the signed contract"
            self.runner.complete_task(repo, deal, CONTRACT_TASK, item.cause, item.now, who=who)
        return Passed(f"contract {found.filename!r} filed on deal {deal.id}")

    def _names_deal(self, msg: InboundMessage, token: str) -> bool:
        for a in (*msg.to, *msg.cc, *msg.delivered_to):
            local = a.email.partition("@")[0]
            if self.party.is_agent(a.email) and local.partition("+")[2].lower() == token.lower():
                return True
        return token.lower() in (t.lower() for t in TAG.findall(msg.subject))


def _contract(attachments: tuple[Attachment, ...], said: bool) -> Attachment | None:
    """The attachment named a contract; else, when the message says it is one, its document."""
    named = next((a for a in attachments if _SAYS.search(a.filename)), None)
    if named is not None or not said:
        return named
    documents = [a for a in attachments if a.content_type.startswith(_DOCUMENTS)]
    others = [a for a in attachments if not a.content_type.startswith("image/")]
    scans = [a for a in attachments if a.content_type.startswith("image/") and a.size >= _SCAN]
    return next(iter(documents + others + scans), None)
