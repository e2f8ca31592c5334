"""Build the MIME message for a queued email.

The Message-ID was fixed when the email was queued, so a retry after a crash
sends the very same message and the recipient's client can de-duplicate it.
"""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from agent.config import AgentSection

# The stdlib folds some subjects (with brackets or parentheses) into an empty first
# line that many clients show with a leading space; 998 is RFC 5322's hard limit.
OUTGOING_POLICY = SMTP.clone(max_line_length=998)


def new_message_id(agent: AgentSection, deal_id: int | None) -> str:
    return make_msgid(idstring=f"deal{deal_id}" if deal_id else "agent", domain=agent.domain)


def reply_address(agent: AgentSection, token: str) -> str:
    local, domain = agent.address.split("@", 1)
    return f"{local}+{token}@{domain}"


def subject_tag(token: str) -> str:
    return f"[ref:{token}]"


def compose(
    agent: AgentSection,
    *,
    to: list[dict[str, str]],
    cc: list[dict[str, str]],
    subject: str,
    text: str,
    html: str,
    message_id: str,
    token: str | None,
    in_reply_to: str,
    references: list[str],
    date: datetime,
) -> EmailMessage:
    msg = EmailMessage(policy=OUTGOING_POLICY)  # smtplib.send_message serialises with the message's policy
    msg["From"] = HeaderAddress(agent.name, addr_spec=agent.address)
    msg["To"] = [_addr(a) for a in to]
    if cc:
        msg["Cc"] = [_addr(a) for a in cc]
    if token:
        msg["Reply-To"] = HeaderAddress(agent.name, addr_spec=reply_address(agent, token))
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    # RFC 3834: marks the agent's mail as automatic so other robots don't answer it.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def _addr(a: dict[str, str]) -> HeaderAddress:
    # Line breaks in a name could add headers (Bcc: ...): a name is one line, whatever got stored.
    name = " ".join(a.get("name", "").split())
    return HeaderAddress(name, addr_spec=a["email"])
