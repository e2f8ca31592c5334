"""Is a message really from one of our people? Commands and approvals must not be spoofable.

A From header is trivial to forge, so a command is obeyed only when the
sender's address is in `internal_domains` AND, once `trusted_authserv_ids` is
set, an Authentication-Results header (RFC 8601) added by one of those
servers says DKIM, DMARC or SPF passed for that domain. Receiving servers
remove Authentication-Results headers carrying their own id from incoming
mail (RFC 8601, section 5), which is what makes the trusted id meaningful.
With no trusted ids configured the domain check alone applies (and the docs
say that this can be spoofed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.domain import InboundMessage

_RESULT = re.compile(r"\b(dkim|spf|dmarc)\s*=\s*(\w+)([^;]*)", re.IGNORECASE)
_PROP = re.compile(r"\b(header\.d|header\.i|header\.from|smtp\.mailfrom)\s*=\s*\"?([^\s;\"]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    trusted: bool
    reason: str


def verify_sender(
    msg: InboundMessage, internal_domains: tuple[str, ...], trusted_ids: tuple[str, ...]
) -> Verdict:
    sender = msg.sender.email if msg.sender else ""
    domain = sender.rsplit("@", 1)[-1]
    if not sender or domain not in internal_domains:
        return Verdict(False, f"{sender or 'no sender'} is not in the internal domains")
    if not trusted_ids:
        return Verdict(True, f"{domain} is internal (From not verified: no trusted_authserv_ids configured)")
    trusted = {t.lower() for t in trusted_ids}
    for header in msg.authentication_results:
        authserv_id = header.split(";", 1)[0].strip().split()[0].lower() if header.strip() else ""
        if authserv_id not in trusted:
            continue
        for method, result, props in _RESULT.findall(header):
            if result.lower() != "pass":
                continue
            for _, value in _PROP.findall(props):
                if _same_domain(value.rsplit("@", 1)[-1].lower(), domain):
                    return Verdict(True, f"{method.lower()}=pass for {domain} from {authserv_id}")
    return Verdict(
        False, f"no DKIM, DMARC or SPF pass for {domain} from a trusted server ({', '.join(trusted_ids)})"
    )


def _same_domain(found: str, domain: str) -> bool:
    return found == domain or found.endswith("." + domain)
