"""What sort of message this is, and whether the agent may ever answer it.

The rules follow RFC 3464 (DSN), RFC 3798 (MDN), RFC 3834 (auto-replies) and
the headers that real autoresponders and list servers add. Every decision
carries a reason in words, so that "why did the agent ignore this?" has an
answer in the audit trail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses

from agent.domain import Address, MessageKind
from agent.mime.text import HeaderReader, decode_bytes, iter_parts, payload_bytes, scrub

_AUTO_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|auto[- ]?reply|auto[- ]?response|autorespond|out of (?:the )?office\b\s*"
    r"(?:auto ?reply)?\s*(?::|$)|automatische antwort|abwesenheitsnotiz|réponse automatique|"
    r"respuesta automática)",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery status notification|delivery (?:has )?failed|delivery failure|failure notice|"
    r"returned mail|mail delivery failed|non-?delivery|could not be delivered|returned to sender|"
    r"delivery problem",
    re.IGNORECASE,
)
_DAEMONS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailer_daemon"})
# Exchange's out-of-office carries X-Auto-Response-Suppress and no Auto-Submitted.
_AUTO_HEADERS = ("x-auto-response-suppress", "x-autoreply", "x-autorespond", "x-autoresponse")
# A list that rewrites From for DMARC keeps the person's name there: Google Groups writes
# "'Jane Doe' via Acme Team", Mailman "Jane Doe via Acme-list".
_VIA = re.compile(r"^\s*(?P<person>\S.*?)\s+via\s+\S", re.IGNORECASE)


@dataclass(frozen=True)
class Classification:
    kind: MessageKind
    reason: str
    auto_submitted: bool
    bounced_recipients: tuple[str, ...] = ()


def classify(
    msg: Message,
    headers: HeaderReader,
    *,
    sender: Address | None,
    subject: str,
    calendar_type: str,
    agent_addresses: tuple[str, ...],
) -> Classification:
    """Decide the kind; ``calendar_type`` is the first calendar part's type ("" if none)."""
    report = _report_type(msg)
    auto = _auto_reply_signal(headers, subject)
    bulk = _bulk_signal(headers)
    never = _never_answer_signal(headers, sender, agent_addresses)

    if report == "delivery-status":
        return _bounce(headers, "multipart/report; report-type=delivery-status (RFC 3464 DSN)", msg)
    if report == "disposition-notification":
        reason = "multipart/report; report-type=disposition-notification (RFC 3798 read receipt)"
        return Classification(MessageKind.RECEIPT, reason, True)
    single_bounce = _single_part_bounce(headers, sender, subject)
    if single_bounce:
        return _bounce(headers, single_bounce, msg)
    if calendar_type:
        reason = f"{calendar_type} part present"
        if auto or bulk:
            # Google Calendar marks invitations Auto-Submitted: they are still meetings to read.
            reason += f" (takes precedence over {auto or bulk})"
        if never:
            reason += f"; never answered: {never}"
        return Classification(MessageKind.INVITATION, reason, bool(auto or bulk or never))
    if auto:
        return Classification(MessageKind.AUTO_REPLY, auto, True)
    if bulk:
        return _relayed(headers, sender, bulk, never, agent_addresses)
    reason = "no bounce, receipt, invitation, auto-reply or bulk signal"
    if never:
        return Classification(MessageKind.NORMAL, f"{reason}; never answered: {never}", True)
    return Classification(MessageKind.NORMAL, reason, False)


def via_list(sender: Address | None) -> str:
    """The person's name in a From a list rewrote ("'Jane Doe' via Acme Team" -> "Jane Doe"); "" if not."""
    found = _VIA.match(sender.name) if sender else None
    return found.group("person").strip("'\" ") if found else ""


def _relayed(
    headers: HeaderReader, sender: Address | None, bulk: str, never: str, agent_addresses: tuple[str, ...]
) -> Classification:
    """List mail, unless the list relayed one person's message and rewrote its From.

    A Google Group (or a Mailman list) whose poster's domain asks for DMARC sends the post as
    "'Jane Doe' via Acme Team <team@...>", with Jane in X-Original-From and Reply-To. That is
    Jane's own message to the people on the thread, not a newsletter: it is read and acted on as
    hers. The list's headers do not make it an auto-reply, and the agent's answers go to the deal's
    people, not to the list. Relayed for the agent itself, it stays list mail: never answered.
    """
    person = _relayed_person(headers, sender)
    if not person:
        return Classification(MessageKind.BULK, bulk, True)
    if any(same_mailbox(person, a) for a in agent_addresses):
        return Classification(MessageKind.BULK, f"{bulk}; relayed for the agent's own address {person}", True)
    via = sender.email if sender else "a list"
    reason = f"a person's message relayed by a list: {person} wrote it, {via} rewrote From ({bulk})"
    if never:
        return Classification(MessageKind.NORMAL, f"{reason}; never answered: {never}", True)
    return Classification(MessageKind.NORMAL, reason, False)


def _relayed_person(headers: HeaderReader, sender: Address | None) -> str:
    """Who a list relayed the message for: X-Original-From (Google Groups), else Reply-To under
    a "Name via List" From with a List-Id. "" when From was not rewritten."""
    values = headers.raw_values("x-original-from")
    if not values and via_list(sender) and headers.raw("list-id"):
        values = headers.raw_values("reply-to")
    for _, addr in getaddresses(values):
        addr = addr.strip().lower()
        if "@" in addr and (sender is None or addr != sender.email):
            return addr
    return ""


def _report_type(msg: Message) -> str:
    for part in iter_parts(msg):
        if part.get_content_type() == "multipart/report":
            try:
                value = part.get_param("report-type")
            except Exception:  # a broken Content-Type parameter list
                continue
            if isinstance(value, str):
                return value.strip().strip('"').lower()
    return ""


def _single_part_bounce(headers: HeaderReader, sender: Address | None, subject: str) -> str:
    failed = headers.raw("x-failed-recipients")
    if failed:
        return f"header X-Failed-Recipients: {_short(failed)}"
    local = sender.email.split("@", 1)[0] if sender else ""
    null_sender = _null_return_path(headers) or sender is None
    if (local in _DAEMONS or null_sender) and _BOUNCE_SUBJECT.search(subject):
        who = f"sender {sender.email}" if sender and local in _DAEMONS else "an empty sender"
        return f"{who} with a delivery-failure subject {subject!r}"
    return ""


def _bounce(headers: HeaderReader, reason: str, msg: Message) -> Classification:
    # Some MTAs put a delivery-status part in a plain multipart/mixed: read it wherever it is.
    failed = _dsn_permanent_failures(msg)
    for _, addr in getaddresses(headers.raw_values("x-failed-recipients")):
        if addr and addr.lower() not in failed:
            failed.append(addr.lower())
    return Classification(MessageKind.BOUNCE, reason, True, tuple(failed))


def _dsn_permanent_failures(msg: Message) -> list[str]:
    """Recipients whose DSN says Action: failed with a 5.x.x Status (4.x.x is transient)."""
    failed: list[str] = []
    for part in iter_parts(msg):
        if part.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        for fields in _status_groups(part):
            action = fields.get("action", "").split(";")[0].strip().lower()
            status = fields.get("status", "").strip()
            if action != "failed" or (status and not status.startswith("5")):
                continue
            recipient = fields.get("final-recipient") or fields.get("original-recipient", "")
            addr = recipient.split(";", 1)[-1].strip().strip("<>").lower()
            if "@" in addr and addr not in failed:
                failed.append(addr)
    return failed


def _status_groups(part: Message) -> list[dict[str, str]]:
    """The field groups of a delivery-status body (per-message, then one per recipient)."""
    payload = part.get_payload()
    if isinstance(payload, list):  # the stdlib already split the groups into header blocks
        blocks = [g for g in payload if isinstance(g, Message)]
        return [{str(k).lower(): " ".join(scrub(str(v)).split()) for k, v in g.raw_items()} for g in blocks]
    text = decode_bytes(payload_bytes(part), ["utf-8"]).replace("\r\n", "\n")
    groups: list[dict[str, str]] = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for name, value in re.findall(r"^([\w-]+)[ \t]*:[ \t]*(.*)$", block, re.MULTILINE):
            fields.setdefault(name.lower(), value.strip())
        groups.append(fields)
    return groups


def _auto_reply_signal(headers: HeaderReader, subject: str) -> str:
    auto_submitted = headers.raw("auto-submitted")
    if auto_submitted and auto_submitted.split(";")[0].strip().lower() != "no":
        return f"header Auto-Submitted: {_short(auto_submitted)}"
    for name in _AUTO_HEADERS:
        value = headers.raw(name)
        if value:
            return f"header {_title(name)}: {_short(value)}"
    if headers.raw("precedence").strip().lower() == "auto_reply":
        return "header Precedence: auto_reply"
    if _AUTO_SUBJECT.match(subject):
        return f"auto-reply subject {subject!r}"
    return ""


def _bulk_signal(headers: HeaderReader) -> str:
    precedence = headers.raw("precedence").strip().lower()
    if precedence in ("bulk", "list", "junk"):
        return f"header Precedence: {precedence}"
    for name in ("list-id", "list-unsubscribe"):
        value = headers.raw(name)
        if value:
            return f"header {_title(name)}: {_short(value)}"
    return ""


def _never_answer_signal(
    headers: HeaderReader, sender: Address | None, agent_addresses: tuple[str, ...]
) -> str:
    if _null_return_path(headers):
        return "empty Return-Path <>"
    if sender and any(same_mailbox(sender.email, a) for a in agent_addresses):
        return f"sender {sender.email} is the agent's own address"
    return ""


def same_mailbox(address: str, agent_address: str) -> bool:
    """True for the agent's address and its plus-address variants (agent+token@domain)."""
    local, _, domain = address.strip().lower().partition("@")
    own_local, _, own_domain = agent_address.strip().lower().partition("@")
    return domain == own_domain and local.split("+", 1)[0] == own_local.split("+", 1)[0]


def _null_return_path(headers: HeaderReader) -> bool:
    return any(re.fullmatch(r"<\s*>", v.strip()) for v in headers.raw_values("return-path"))


def _title(name: str) -> str:
    return "-".join(w.capitalize() for w in name.split("-"))


def _short(value: str, limit: int = 80) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"
