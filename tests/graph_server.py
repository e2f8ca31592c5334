"""Microsoft Graph and Entra ID on loopback, over real HTTPS, answering with recorded response shapes.

No Microsoft 365 tenant can run here. This server answers the calls the agent makes
with the JSON shapes Microsoft documents and returns (tests/data/graph/*.json are those
recordings; ids, links and times are filled in per call), so that the real msal and the
real Graph client code are driven over HTTP. What it does not model is said in
docs/microsoft365.md ("tested against recordings only").

Faults are injected per test: `fail_next(path_part, status, headers, body_name)` answers
the next matching request with a recorded error; `expire_deltas()` makes every delta link
handed out so far answer 410 syncStateNotFound.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import ssl
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers import free_port

RECORDINGS = Path(__file__).resolve().parent / "data" / "graph"
TENANT = "7d1f5c42-7a6e-4b55-9c3e-2a9d0c8f4b11"
CLIENT_ID = "3f9a6c2e-8b1d-4e7f-a0c5-6d2b9e4f1a37"
SECRET = "k7Q8Q~graph-test-secret"


def recording(name: str) -> Any:
    return json.loads((RECORDINGS / f"{name}.json").read_text(encoding="utf-8"))


class FakeGraph:
    def __init__(self, cert_file: Path, key_file: Path, mailbox: str = "onboarding@example.com") -> None:
        self.port = free_port()
        self.base = f"https://127.0.0.1:{self.port}"
        self.mailbox = mailbox
        self.lock = threading.Lock()
        self.mail_changes: list[dict[str, Any]] = []  # in order: a message, or an "@removed" row
        self.mime: dict[str, bytes] = {}
        self.event_changes: list[dict[str, Any]] = []
        self.sent: list[bytes] = []
        self.generation = 0  # delta links carry it; expire_deltas() makes the old ones stale
        self.faults: list[tuple[str, int, dict[str, str], str]] = []
        self.requests: list[tuple[str, str]] = []
        self.senders: list[str] = []  # the mailbox of each sendMail, in order
        self.tokens: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.handle(self, "GET")

            def do_POST(self) -> None:
                server.handle(self, "POST")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert_file), str(key_file))
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()

    # --- what a test does ---------------------------------------------------------------------
    def deliver(self, mime: bytes, received: datetime | None = None) -> str:
        item = copy.deepcopy(recording("message"))
        item["id"] = f"AAMkAGI2TG93AAA{uuid.uuid4().hex}="
        item["receivedDateTime"] = (received or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.lock:
            self.mime[item["id"]] = mime
            self.mail_changes.append(item)
        return str(item["id"])

    def remove_message(self, message_id: str) -> None:
        with self.lock:
            self.mail_changes.append(
                {
                    "@odata.type": "#microsoft.graph.message",
                    "id": message_id,
                    "@removed": {"reason": "deleted"},
                }
            )

    def put_event(self, event_id: str, **fields: Any) -> None:
        """Create or change an event (fields as Graph names them: subject, start, end, isCancelled, ...)."""
        item = copy.deepcopy(recording("event"))
        # each event has its own iCalUId (what invitations carry as UID): the recording's, made unique
        item["iCalUId"] = item["iCalUId"][:-32] + hashlib.md5(event_id.encode()).hexdigest().upper()
        item.update(fields)
        item["id"] = event_id
        item["lastModifiedDateTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
        with self.lock:
            self.event_changes.append(item)

    def remove_event(self, event_id: str) -> None:
        with self.lock:
            self.event_changes.append({"id": event_id, "@removed": {"reason": "deleted"}})

    def fail_next(
        self, path_part: str, status: int, body: str, headers: dict[str, str] | None = None
    ) -> None:
        self.faults.append((path_part, status, headers or {}, body))

    def expire_deltas(self) -> None:
        self.generation += 1

    def sent_messages(self) -> list[bytes]:
        with self.lock:
            return list(self.sent)

    # --- serving ------------------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append((method, h.path))
            fault = next((f for f in self.faults if f[0] in h.path), None)
            if fault is not None:
                self.faults.remove(fault)
        if fault is not None:
            return self.reply(h, fault[1], recording(fault[3]), fault[2])
        path = url.path
        if path.endswith("/.well-known/openid-configuration"):
            return self.reply(h, 200, self.openid_configuration())
        if path == f"/{TENANT}/oauth2/v2.0/token":
            return self.token(h, parse_qs(body.decode()))
        auth = h.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.tokens:
            return self.reply(h, 401, recording("error-invalid-token"))
        user = f"/v1.0/users/{self.mailbox}"
        if path == f"{user}/mailFolders/inbox/messages/delta":
            return self.delta(h, query, self.mail_changes, "mailFolders('inbox')/messages/delta", h.headers)
        if path.startswith(f"{user}/messages/") and path.endswith("/$value"):
            mime = self.mime.get(path.split("/")[-2])
            if mime is None:
                return self.reply(h, 404, recording("error-item-not-found"))
            return self.reply_bytes(h, 200, mime, "text/plain")
        if path.startswith("/v1.0/users/") and path.endswith("/sendMail") and method == "POST":
            with self.lock:  # any mailbox the app may send as: the main one, a team's
                self.sent.append(base64.b64decode(body))
                self.senders.append(path.split("/")[3])
            return self.reply_bytes(h, 202, b"", "text/plain")
        if path == f"{user}/mailFolders/inbox":
            folder = recording("mail-folder")
            with self.lock:
                folder["totalItemCount"] = len(_current(self.mail_changes))
            return self.reply(h, 200, folder)
        if path == f"{user}/calendar":
            return self.reply(h, 200, recording("calendar"))
        if path == user:
            return self.reply(h, 200, {**recording("user"), "mail": self.mailbox})
        if path == f"{user}/calendarView/delta":
            return self.delta(h, query, self.event_changes, "calendarView/delta", h.headers)
        return self.reply(h, 404, recording("error-item-not-found"))

    def openid_configuration(self) -> dict[str, Any]:
        config = recording("openid-configuration")
        text = (
            json.dumps(config)
            .replace("https://login.microsoftonline.com", self.base)
            .replace("{tenant}", TENANT)
        )
        return dict(json.loads(text))

    def token(self, h: BaseHTTPRequestHandler, form: dict[str, list[str]]) -> None:
        if form.get("client_id") != [CLIENT_ID] or form.get("client_secret") != [SECRET]:
            return self.reply(h, 401, recording("token-invalid-client"))
        if form.get("grant_type") != ["client_credentials"]:
            return self.reply(h, 400, recording("token-invalid-client"))
        answer = recording("token")
        answer["access_token"] = f"eyJ0eXAiOiJKV1Qi.{uuid.uuid4().hex}.sig"
        with self.lock:
            self.tokens.add(answer["access_token"])
        return self.reply(h, 200, answer)

    def delta(
        self,
        h: BaseHTTPRequestHandler,
        query: dict[str, str],
        changes: list[dict[str, Any]],
        name: str,
        headers: Any,
    ) -> None:
        """One page of a delta round.

        A round covers the change list from `start` to `end` (the initial one: every item that
        still exists at `end`); $skiptoken is `generation.start.end.offset` within the round,
        $deltatoken is `generation.end`, where the next round starts.
        """
        with self.lock:
            now_end = len(changes)
        if "$skiptoken" in query:
            generation, start, end, offset = (int(x) for x in query["$skiptoken"].split("."))
        elif "$deltatoken" in query:
            generation, start = (int(x) for x in query["$deltatoken"].split("."))
            end, offset = now_end, 0
        else:
            generation, start, end, offset = self.generation, -1, now_end, 0
        if generation != self.generation:
            return self.reply(h, 410, recording("error-sync-state-not-found"))
        prefer = headers.get("Prefer", "")
        size = (
            int(prefer.split("odata.maxpagesize=")[1].split(",")[0]) if "odata.maxpagesize=" in prefer else 10
        )
        with self.lock:
            rows = _current(changes[:end]) if start < 0 else changes[start:end]
        page = rows[offset : offset + size]
        link = f"{self.base}/v1.0/users/{self.mailbox}/" + (
            "calendarView/delta" if "calendarView" in name else "mailFolders/inbox/messages/delta"
        )
        answer: dict[str, Any] = {
            "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#Collection({name})",
            "value": page,
        }
        if offset + size < len(rows):
            answer["@odata.nextLink"] = f"{link}?$skiptoken={generation}.{start}.{end}.{offset + size}"
        else:
            answer["@odata.deltaLink"] = f"{link}?$deltatoken={generation}.{end}"
        return self.reply(h, 200, answer)

    def reply(
        self, h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Type", "application/json; odata.metadata=minimal; odata.streaming=true")
        h.send_header("request-id", str(uuid.uuid4()))
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def reply_bytes(self, h: BaseHTTPRequestHandler, status: int, data: bytes, kind: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", kind)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


def _current(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The initial round: the latest version of each item that still exists, in change order."""
    latest: dict[str, dict[str, Any]] = {}
    for row in changes:
        latest.pop(row["id"], None)
        if "@removed" not in row:
            latest[row["id"]] = row
    return list(latest.values())
