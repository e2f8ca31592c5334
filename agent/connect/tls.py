"""One way to make a client TLS context: verifying by default, with an optional private CA."""

from __future__ import annotations

import logging
import ssl

from agent.config import ServerSection

log = logging.getLogger(__name__)


def client_context(settings: ServerSection, what: str) -> ssl.SSLContext:
    """A context that verifies the certificate and host name, unless the operator turned that off."""
    ctx = ssl.create_default_context(cafile=str(settings.tls_ca_file) if settings.tls_ca_file else None)
    if not settings.tls_verify:
        log.warning("%s: TLS certificate verification is OFF (tls_verify = false)", what)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
