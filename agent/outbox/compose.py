"""Build the MIME message for a queued email.

The Message-ID was fixed when the email was queued, so a retry after a crash
sends the very same message and the recipient's client can de-duplicate it.

Who a reply goes to (docs/mail.md, "Client replies"): a deal's email to a client names the
deal's reply address and its CSM in Reply-To, so that the client's answer reaches the CSM
directly, in the client's own thread, as well as the agent; a client's words forwarded to our
people (`FORWARD`) name the client, so that answering it answers the client. Emails to a client
carry List-Unsubscribe as a mailto of the deal's reply address (RFC 2369): a one-click
List-Unsubscribe-Post (RFC 8058) needs an HTTPS address the client's provider can reach, and
the agent has none (its dashboard listens on 127.0.0.1 only).

An email that carries a meeting invitation (iMIP, RFC 6047) takes the shape CalConnect's iMIP
best practices give from interoperability testing (devguide.calconnect.org/iMIP/iMIPBest-Practices):
multipart/mixed of a multipart/alternative (text/plain, text/html, text/calendar with the
`method` parameter) and the same calendar as an application/ics attachment named invite.ics.
Outlook and Gmail show the invitation from the text/calendar part and need its `method`; some
clients only offer an attached .ics. The agent's own reader takes the two copies as one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from agent.config import AgentSection

# The stdlib folds some subjects (with brackets or parentheses) into an empty first
# line that many clients show with a leading space; 998 is RFC 5322's hard limit.
OUTGOING_POLICY = SMTP.clone(max_line_length=998)
FORWARD = "client-reply"  # a client's words for our people: its Reply-To is the client
UNSUBSCRIBE_SUBJECT = "unsubscribe"  # the subject of the List-Unsubscribe mailto; read as an opt-out
INVITE_FILENAME = "invite.ics"
_METHOD = re.compile(r"^METHOD:([A-Za-z-]+)\s*$", re.MULTILINE)


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
    csm: Sequence[dict[str, str]] = (),
    answer_to: str = "",
    calendar: str = "",
) -> EmailMessage:
    """`csm`: the deal's CSMs, named in Reply-To of an email to a client; `answer_to`: the client a
    forward of their words answers (its Reply-To); `calendar`: an iTIP object (a REQUEST) the email
    carries as an invitation ("" for none: the message is text and HTML alone)."""
    msg = EmailMessage(policy=OUTGOING_POLICY)  # smtplib.send_message serialises with the message's policy
    msg["From"] = HeaderAddress(agent.name, addr_spec=agent.address)
    msg["To"] = [_addr(a) for a in to]
    if cc:
        msg["Cc"] = [_addr(a) for a in cc]
    client = any(not is_ours(agent, a["email"]) for a in (*to, *cc))
    if answer_to:
        msg["Reply-To"] = _addr({"email": answer_to})
    elif token:
        deal_address = reply_address(agent, token)
        # The CSM after the deal's address: a client's plain "Reply" reaches them directly;
        # the agent still reads it (matching, survey answers, opt-outs) through the token.
        also = [_addr(a) for a in csm if a.get("email")] if client else []
        msg["Reply-To"] = [HeaderAddress(agent.name, addr_spec=deal_address), *also]
        if client:
            msg["List-Unsubscribe"] = f"<mailto:{deal_address}?subject={UNSUBSCRIBE_SUBJECT}>"
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
    if calendar:
        _carry_invitation(msg, calendar)
    return msg


def _carry_invitation(msg: EmailMessage, ics: str) -> None:
    """Turn the text-and-HTML message into an iMIP one (the module's docstring has the shape).

    The `method` parameter must match the object's METHOD (RFC 6047 2.4), so it is read from the
    text rather than assumed; the agent writes REQUESTs.
    """
    found = _METHOD.search(ics)
    method = found.group(1).upper() if found else "REQUEST"
    msg.add_alternative(ics, subtype="calendar", charset="UTF-8", params={"method": method})
    msg.make_mixed()
    # Base64, as the best practices say: the attachment's bytes reach the client unchanged.
    msg.add_attachment(ics.encode("utf-8"), maintype="application", subtype="ics", filename=INVITE_FILENAME)


def is_ours(agent: AgentSection, email: str) -> bool:
    """One of our own addresses (an internal domain, or the agent's own)."""
    domain = email.rsplit("@", 1)[-1].lower()
    return domain == agent.domain.lower() or domain in {d.lower() for d in agent.internal_domains}


def _addr(a: dict[str, str]) -> HeaderAddress:
    # Line breaks in a name could add headers (Bcc: ...): a name is one line, whatever got stored.
    name = " ".join(a.get("name", "").split())
    return HeaderAddress(name, addr_spec=a["email"])
