"""An OAuth2 token endpoint on loopback that rotates refresh tokens, for the tests of every backend that
renews its access token (IMAP and SMTP XOAUTH2, EWS)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


def send_json(handler: BaseHTTPRequestHandler, status: int, answer: Any) -> None:
    """An OAuth2 endpoint's answer: JSON, as RFC 6749 section 5 has it."""
    body = json.dumps(answer).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class RotatingTokenEndpoint:
    """A token endpoint (RFC 6749 section 6) that rotates refresh tokens as Google and Microsoft do,
    strictly: a refresh token works once, and the answer carries its successor."""

    def __init__(self) -> None:
        self.valid: set[str] = set()
        self.used: list[str] = []  # the refresh tokens presented, in order
        self.forms: list[dict[str, list[str]]] = []
        self.expires_in = 60  # under oauth2.EARLY: every call renews
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                endpoint.forms.append(form)
                grant = form.get("refresh_token", [""])[0]
                endpoint.used.append(grant)
                answer: dict[str, object]
                if form.get("grant_type") != ["refresh_token"] or grant not in endpoint.valid:
                    status, answer = (
                        400,
                        {"error": "invalid_grant", "error_description": "AADSTS70008: expired"},
                    )
                else:
                    n = len(endpoint.used)
                    endpoint.valid.discard(grant)
                    endpoint.valid.add(f"1//rotated-{n}")
                    status, answer = (
                        200,
                        {
                            "access_token": f"ya29.access-{n}",
                            "refresh_token": f"1//rotated-{n}",
                            "expires_in": endpoint.expires_in,
                            "token_type": "Bearer",
                            "scope": "https://mail.google.com/",
                        },
                    )
                send_json(self, status, answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
