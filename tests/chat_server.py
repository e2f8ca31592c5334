"""Slack (incoming webhook and Web API) and a Teams workflow webhook on loopback, over real HTTP.

No Slack workspace or Teams tenant runs here. This server answers as each service documents and
refuses what it would refuse, so the real clients in agent/chat are driven over HTTP. Faults per
kind ("webhook", "api", "teams", or a Web API method's name): `throttle(kind, times, retry_after)`
answers 429 with Retry-After; `fail(kind, status, times)` a server error; `hang(kind)` takes the
next request (stored as accepted) and holds its answer until `release()`, as when a process dies
after the service took a post and before the answer was read.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

import pytest

from tests.servers import free_port

TOKEN = "xoxb-1234567890-0987654321-FakeChatBotToken"
BOT_USER = "U0BOT0USER"
ADAPTIVE = "application/vnd.microsoft.card.adaptive"
JSON_METHODS = {"chat.postMessage", "conversations.history", "conversations.create", "conversations.invite"}
Answer = tuple[int, str, bytes, dict[str, str]]  # status, content type, body, headers
Fault = tuple[str, int, dict[str, str]]  # kind, status, headers; one per request it answers


class SlackFail(Exception):
    """A Web API method's {"ok": false, "error": name}."""


def need(condition: object, error: str) -> None:
    if not condition:
        raise SlackFail(error)


@dataclass
class Channel:
    id: str
    name: str
    private: bool = False
    archived: bool = False
    members: set[str] = field(default_factory=set)

    def info(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "is_private": self.private, "is_archived": self.archived}


class FakeChat:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.webhook_secret = secrets.token_urlsafe(18)
        self.webhook_url = f"{self.base}/services/T000/B000/{self.webhook_secret}"
        self.webhook_archived = False
        self.api_url = f"{self.base}/api"
        self.workflow_id = uuid.uuid4().hex
        self.teams_sig = secrets.token_urlsafe(32)
        flow = f"/powerautomate/automations/direct/workflows/{self.workflow_id}"
        self.teams_path = f"{flow}/triggers/manual/paths/invoke"
        query = f"api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.teams_sig}"
        self.teams_url = f"{self.base}{self.teams_path}?{query}"
        self.lock = threading.Lock()
        self.webhook_posts: list[dict[str, Any]] = []
        self.api_posts: dict[str, list[dict[str, Any]]] = {}  # channel id → messages, oldest first
        self.teams_posts: list[dict[str, Any]] = []
        self.channels: dict[str, Channel] = {}  # by name
        self.users: dict[str, str] = {}  # email → user id
        self.requests: list[tuple[str, str, str, dict[str, str], bytes]] = []
        self.page_size = 1000  # the most a page of history or of the channel list holds
        self.faults: list[Fault] = []
        self.hangs: list[str] = []
        self.gate = threading.Event()  # what a held answer waits for: cleared by hang(), set by release()
        self._ids = iter(range(1, 1_000_000))
        self._last_ts = 0.0
        self.alerts = self.add_channel("csm-alerts")
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                server.handle(self, self.command)

            do_GET = do_POST

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- what a test does ---------------------------------------------------------------------
    def add_channel(self, name: str, *, private: bool = False, bot_member: bool = True) -> Channel:
        channel = Channel(self.new_id("C"), name, private, members={BOT_USER} if bot_member else set())
        with self.lock:
            self.channels[name] = channel
        return channel

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}X"

    def add_user(self, email: str) -> str:
        user = self.new_id("U")
        with self.lock:
            self.users[email.lower()] = user
        return user

    def throttle(self, kind: str, times: int = 1, retry_after: int = 30) -> None:
        with self.lock:
            self.faults += [(kind, 429, {"Retry-After": str(retry_after)})] * times

    def fail(self, kind: str, status: int = 503, times: int = 1) -> None:
        with self.lock:
            self.faults += [(kind, status, {})] * times

    def hang(self, kind: str) -> None:
        with self.lock:
            self.hangs.append(kind)
            self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    # --- serving ------------------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(h.path)
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        headers = dict(h.headers.items())
        kind = {"services": "webhook", "api": "api", "powerautomate": "teams"}.get(url.path.split("/")[1], "")
        name = url.path.removeprefix("/api/") if kind == "api" else kind
        with self.lock:
            self.requests.append((kind, method, h.path, headers, body))
            fault = next((f for f in self.faults if f[0] in (kind, name)), None)
            held = None if fault else next((k for k in self.hangs if k in (kind, name)), None)
            if fault:
                self.faults.remove(fault)
            elif held:
                self.hangs.remove(held)
            serve = {"webhook": self.webhook, "api": self.api, "teams": self.teams}.get(kind)
            if fault:
                answer = (fault[1], *FAULT_BODIES[(kind, fault[1] == 429)], fault[2])
            else:
                answer = serve(url, headers, body) if serve else (404, "text/plain", b"not found", {})
        if held:
            self.gate.wait(30)
        status, content_type, data, more = answer
        try:
            h.send_response(status)
            for k, v in {**more, "Content-Type": content_type, "Content-Length": str(len(data))}.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up on a held answer
            pass

    def webhook(self, url: SplitResult, headers: dict[str, str], body: bytes) -> Answer:
        payload = _json(body) if headers.get("Content-Type", "").startswith("application/json") else None
        if url.path != f"/services/T000/B000/{self.webhook_secret}":
            status, error = 403, "invalid_token"
        elif self.webhook_archived:
            status, error = 410, "channel_is_archived"
        elif not isinstance(payload, dict):
            status, error = 400, "invalid_payload"
        elif not payload.get("text") and not payload.get("blocks"):
            status, error = 400, "no_text"
        elif "blocks" in payload and blocks_problem(payload["blocks"]):
            status, error = 400, "invalid_blocks"
        else:
            self.webhook_posts.append(payload)
            status, error = 200, "ok"
        return status, "text/html", error.encode(), {}

    def api(self, url: SplitResult, headers: dict[str, str], body: bytes) -> Answer:
        method = url.path.removeprefix("/api/")
        args: dict[str, Any] = {k: v[0] for k, v in parse_qs(url.query).items()}
        no_charset = False
        try:
            auth = headers.get("Authorization", "")
            need(auth, "not_authed")
            need(auth == f"Bearer {self.token}", "invalid_auth")
            content_type = headers.get("Content-Type", "")
            kind = content_type.split(";")[0].strip().lower()
            if body and kind == "application/json":
                no_charset = "charset" not in content_type.lower()
                parsed = _json(body)
                need(isinstance(parsed, dict), "invalid_json")
                if method in JSON_METHODS:
                    args.update(parsed)
            elif body and kind == "application/x-www-form-urlencoded":
                args.update({k: v[0] for k, v in parse_qs(body.decode()).items()})
            elif body:
                raise SlackFail("invalid_post_type" if kind else "missing_post_type")
            handler = getattr(self, "m_" + method.replace(".", "_"), None)
            if handler is None:
                raise SlackFail("unknown_method")
            answer: dict[str, Any] = {"ok": True, **handler(args)}
        except SlackFail as fail:
            answer = {"ok": False, "error": str(fail)}
        except (ValueError, TypeError, AttributeError):  # an argument of the wrong shape
            answer = {"ok": False, "error": "invalid_arguments"}
        if no_charset:  # Slack answers, and warns
            answer["warning"] = "missing_charset"
        return 200, "application/json; charset=utf-8", json.dumps(answer).encode(), {}

    def teams(self, url: SplitResult, headers: dict[str, str], body: bytes) -> Answer:
        if url.path != self.teams_path:
            return _error_json(404, "TriggerNotFound", "no such workflow")
        if parse_qs(url.query).get("sig") != [self.teams_sig]:
            return _error_json(401, "DirectApiAuthorizationRequired", "the request must carry a valid sig")
        payload = _json(body) if headers.get("Content-Type", "").startswith("application/json") else None
        if problem := teams_problem(payload):
            return _error_json(400, "InvalidRequestContent", problem)
        self.teams_posts.append(payload)  # type: ignore[arg-type]  # teams_problem checked it is a dict
        return 202, "text/plain", b"", {}

    # --- Web API methods (called under the lock) ----------------------------------------------
    def channel(self, ref: Any, *, names: bool) -> Channel:
        ref = str(ref or "")
        for channel in self.channels.values():
            if ref == channel.id or (names and ref.removeprefix("#") == channel.name):
                return channel
        raise SlackFail("channel_not_found")

    def m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args.get("channel"), names=True)
        need(not channel.archived, "is_archived")
        need(BOT_USER in channel.members, "not_in_channel")
        blocks, metadata = args.get("blocks"), args.get("metadata")  # JSON: read from a JSON body only
        text = str(args.get("text") or "")
        need(text or blocks, "no_text")
        need(blocks is None or not blocks_problem(blocks), "invalid_blocks")
        need(len(text) <= 40000, "msg_too_long")
        meta_ok = isinstance(metadata, dict) and isinstance(metadata.get("event_payload"), dict)
        need(
            metadata is None or (meta_ok and isinstance(metadata["event_type"], str)),
            "invalid_metadata_format",
        )
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        message = {"type": "message", "user": BOT_USER, "text": text, "ts": f"{self._last_ts:.6f}"}
        if blocks:
            message["blocks"] = blocks
        if metadata:
            message["metadata"] = metadata
        self.api_posts.setdefault(channel.id, []).append(message)
        return {"channel": channel.id, "ts": message["ts"], "message": message}

    def m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args.get("channel"), names=False)  # an id: history takes no name
        need(BOT_USER in channel.members, "not_in_channel")
        oldest, inclusive = float(args.get("oldest") or 0), _flag(args.get("inclusive"))
        newest_first = reversed(self.api_posts.get(channel.id, []))
        rows = [
            m for m in newest_first if float(m["ts"]) > oldest or (inclusive and float(m["ts"]) == oldest)
        ]
        if not _flag(args.get("include_all_metadata")):
            rows = [{k: v for k, v in m.items() if k != "metadata"} for m in rows]
        page, cursor = self._page(rows, args, most=999)
        return {"messages": page, "has_more": bool(cursor), "response_metadata": {"next_cursor": cursor}}

    def m_conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        types = set(str(args.get("types") or "public_channel").split(","))
        rows = [
            c.info()
            for c in self.channels.values()
            if ("private_channel" if c.private else "public_channel") in types
            and (not c.private or BOT_USER in c.members)  # a bot sees the private channels it is in
            and not (c.archived and _flag(args.get("exclude_archived")))
        ]
        page, cursor = self._page(rows, args, most=1000)
        return {"channels": page, "response_metadata": {"next_cursor": cursor}}

    def m_conversations_create(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("name") or "")
        need(name, "invalid_name_required")
        need(len(name) <= 80, "invalid_name_maxlength")
        need(re.fullmatch(r"[a-z0-9_-]+", name), "invalid_name_specials")
        need(name not in self.channels, "name_taken")
        private = _flag(args.get("is_private"))
        channel = self.channels[name] = Channel(self.new_id("C"), name, private, members={BOT_USER})
        return {"channel": channel.info()}

    def m_conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(args.get("channel"), names=False)
        need(not channel.archived, "is_archived")
        need(BOT_USER in channel.members, "not_in_channel")
        users = [u for u in str(args.get("users") or "").split(",") if u]
        need(users, "no_user")
        need(BOT_USER not in users, "cant_invite_self")
        known = set(self.users.values())
        forced = _flag(args.get("force")) and len(users) > 1  # force: invalid ids are skipped
        need(forced or all(u in known for u in users), "user_not_found")
        users = [u for u in users if u in known]
        need(not any(u in channel.members for u in users), "already_in_channel")  # then nobody is invited
        channel.members.update(users)
        return {"channel": channel.info()}

    def m_users_lookupByEmail(self, args: dict[str, Any]) -> dict[str, Any]:
        email = str(args.get("email") or "").lower()
        need(email, "invalid_arguments")
        need(email in self.users, "users_not_found")
        return {"user": {"id": self.users[email], "name": email.split("@")[0], "profile": {"email": email}}}

    def _page(self, rows: list[dict[str, Any]], args: dict[str, Any], most: int) -> tuple[list[Any], str]:
        """One page and the cursor of the next ("" at the end); a bad limit or cursor: invalid_arguments."""
        limit = min(int(args.get("limit") or 100), most, self.page_size)
        start = int(base64.b64decode(str(args.get("cursor") or "MA==")))  # "MA==" is "0"
        more = base64.b64encode(str(start + limit).encode()).decode() if start + limit < len(rows) else ""
        return rows[start : start + limit], more


def blocks_problem(blocks: Any) -> str:
    """What in `blocks` breaks Block Kit's documented limits; "" when nothing does."""
    try:
        if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
            return "blocks must be a list of 1 to 50 objects"
        for block in blocks:
            kind, text, fields = block["type"], block.get("text"), block.get("fields")
            if text is not None and not 0 < len(text["text"]) <= (150 if kind == "header" else 3000):
                return f"{kind}: text empty or too long"
            if kind == "header" and (not text or text["type"] != "plain_text"):
                return "header: needs plain_text"
            if fields is not None and (len(fields) > 10 or any(len(f["text"]) > 2000 for f in fields)):
                return "section: at most 10 fields of 2000 characters"
            if kind == "section" and text is None and fields is None:
                return "section: needs text or fields"
            for item in block.get("elements") or []:
                if item["type"] == "button" and (len(item["text"]["text"]) > 75 or len(item["url"]) > 3000):
                    return "button: text or url too long"
    except (KeyError, TypeError, AttributeError):  # a block or element without a type, text not an object
        return "blocks are objects with a type, texts are text objects"
    return ""


def teams_problem(payload: Any) -> str:
    """What in a workflow webhook's payload is not one message with one Adaptive Card; "" when nothing."""
    try:
        attachment = payload["attachments"][0]
        card = attachment["content"]
        if payload["type"] != "message" or len(payload["attachments"]) != 1:
            return "the body must be a message with one attachment"
        if attachment["contentType"] != ADAPTIVE or card["type"] != "AdaptiveCard":
            return f"the attachment must be {ADAPTIVE}, its content of type 'AdaptiveCard'"
        if not isinstance(card["version"], str) or not isinstance(card["body"], list):
            return "the card needs a version and a body list"
        for item in [*card["body"], *card.get("actions", [])]:
            if not isinstance(item["type"], str) or (item["type"] == "Action.OpenUrl" and not item["url"]):
                return "each element has a type; Action.OpenUrl has a url"
    except (KeyError, IndexError, TypeError, AttributeError):
        return "not an object of the documented shape"
    return ""


FAULT_BODIES = {  # (kind, throttled): content type, body
    ("webhook", True): ("text/plain", b"rate_limited"),
    ("webhook", False): ("text/plain", b"rollup_error"),
    ("api", True): ("application/json", b'{"ok": false, "error": "ratelimited"}'),
    ("api", False): ("text/html", b"<html><body>Service Unavailable</body></html>"),
    ("teams", True): ("application/json", b'{"error": {"code": "TooManyRequests", "message": "throttled"}}'),
    ("teams", False): ("application/json", b'{"error": {"code": "ServiceUnavailable", "message": "down"}}'),
}


def _error_json(status: int, code: str, message: str) -> Answer:
    return status, "application/json", json.dumps({"error": {"code": code, "message": message}}).encode(), {}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


@pytest.fixture
def chat_server() -> Iterator[FakeChat]:
    server = FakeChat()
    try:
        yield server
    finally:
        server.close()
