"""Exchange Web Services on loopback, answering with recorded SOAP responses.

No Exchange server can run here. This server answers the SOAP calls exchangelib makes
for the agent (GetFolder, SyncFolderItems, GetItem with MimeContent, FindItem with a
CalendarView, CreateItem with SendAndSaveCopy) with the XML Exchange 2016 returns
(tests/data/ews/*.xml are those recordings; ids, states and times are filled in per
call), so the real exchangelib is driven over HTTP with Basic authentication.

Faults per test: `busy_next(operation, back_off_ms)` answers the next call of that
operation with ErrorServerBusy; `expire_sync_states()` makes every SyncState handed out
so far answer ErrorInvalidSyncStateData.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from tests.servers import free_port

RECORDINGS = Path(__file__).resolve().parent / "data" / "ews"
M = "{http://schemas.microsoft.com/exchange/services/2006/messages}"
T = "{http://schemas.microsoft.com/exchange/services/2006/types}"
USER, PASSWORD = "EXAMPLE\\svc-onboarding", "ews-test-password"
ACCESS_TOKEN = "eyJ0eXAiOiJKV1QiLCJub25jZSI6Imh5YnJpZCJ9.ews.sig"  # hybrid modern authentication
FOLDERS = {  # distinguished id -> (element, class, display name)
    "root": ("Folder", "IPF.Note", "Top of Information Store"),
    "msgfolderroot": ("Folder", "IPF.Note", "Top of Information Store"),
    "inbox": ("Folder", "IPF.Note", "Inbox"),
    "sentitems": ("Folder", "IPF.Note", "Sent Items"),
    "calendar": ("CalendarFolder", "IPF.Appointment", "Calendar"),
}


def recording(name: str) -> str:
    return (RECORDINGS / f"{name}.xml").read_text(encoding="utf-8")


@dataclass
class Appointment:
    item_id: str
    subject: str
    start: datetime
    end: datetime
    attendees: list[tuple[str, str]]
    uid: str = ""
    recurrence_id: datetime | None = None
    cancelled: bool = False
    sequence: int = 0
    body: str = "Agreed: next steps."
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))


class FakeExchange:
    def __init__(
        self,
        cert_file: Path | None = None,
        key_file: Path | None = None,
        ca_file: Path | None = None,
        mailbox: str = "onboarding@example.com",
    ) -> None:
        self.port = free_port()
        self.ca_file = ca_file  # what a client must trust for the HTTPS certificate
        scheme = "https" if cert_file else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}/EWS/Exchange.asmx"
        self.mailbox = mailbox
        self.lock = threading.Lock()
        self.changes: list[tuple[str, str, datetime]] = []  # ("create" | "delete", item id, received)
        self.mime: dict[str, bytes] = {}
        self.calendar: dict[str, Appointment] = {}
        self.sent: list[bytes] = []
        self.generation = 0
        self.busy: dict[str, int] = {}  # operation -> BackOffMilliseconds for its next call
        self.calls: list[str] = []
        self.bearer_tokens = {ACCESS_TOKEN}  # the OAuth2 access tokens taken
        self.authorizations: list[str] = []  # the Authorization header of each call, in order
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                server.handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        if cert_file and key_file:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert_file), str(key_file))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()

    # --- what a test does ---------------------------------------------------------------------
    def deliver(self, mime: bytes, received: datetime | None = None) -> str:
        item_id = "AAMkADc3MWUyMGQ5" + base64.b64encode(uuid.uuid4().bytes).decode()
        with self.lock:
            self.mime[item_id] = mime
            self.changes.append(("create", item_id, received or datetime.now(UTC)))
        return item_id

    def delete(self, item_id: str) -> None:
        with self.lock:
            self.changes.append(("delete", item_id, datetime.now(UTC)))

    def put_appointment(self, appointment: Appointment) -> None:
        if not appointment.uid:
            appointment.uid = (
                "040000008200E00074C5B7101A82E008" + hashlib.md5(appointment.item_id.encode()).hexdigest()
            )
        appointment.modified = datetime.now(UTC)
        with self.lock:
            self.calendar[appointment.item_id] = appointment

    def remove_appointment(self, item_id: str) -> None:
        with self.lock:
            self.calendar.pop(item_id, None)

    def busy_next(self, operation: str, back_off_ms: int) -> None:
        self.busy[operation] = back_off_ms

    def expire_sync_states(self) -> None:
        self.generation += 1

    # --- serving ------------------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler) -> None:
        basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        given = h.headers.get("Authorization") or ""
        self.authorizations.append(given)
        if given != basic and given.removeprefix("Bearer ") not in self.bearer_tokens:
            h.send_response(401)
            h.send_header("WWW-Authenticate", 'Basic realm="mail.example.com"')
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        request = ET.fromstring(body).find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
        assert request is not None
        operation = request[0].tag.removeprefix(M)
        self.calls.append(operation)
        back_off = self.busy.pop(operation, None)
        if back_off is not None:
            return self.reply(h, recording("fault-server-busy").replace("{back_off_ms}", str(back_off)), 500)
        answer = getattr(self, f"on_{operation}")(request[0])
        self.reply(h, recording("envelope").replace("{body}", answer))

    def reply(self, h: BaseHTTPRequestHandler, text: str, status: int = 200) -> None:
        data = text.encode()
        h.send_response(status)
        h.send_header("Content-Type", "text/xml; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def on_GetFolder(self, request: ET.Element) -> str:
        folder = request.find(f"{M}FolderIds/{T}DistinguishedFolderId")
        assert folder is not None
        element, folder_class, display = FOLDERS[folder.get("Id", "")]
        return recording("get-folder").format(
            element=element, folder_class=folder_class, display=display, name=folder.get("Id")
        )

    def on_SyncFolderItems(self, request: ET.Element) -> str:
        """A SyncState is `generation.position` in the change list; MaxChangesReturned pages it."""
        state = request.findtext(f"{M}SyncState")
        limit = int(request.findtext(f"{M}MaxChangesReturned") or 512)
        if state:
            generation, position = (int(x) for x in base64.b64decode(state).decode().split("."))
            if generation != self.generation:
                return recording("error-invalid-sync-state")
        else:
            position = 0
        with self.lock:
            rows = self.changes[position:] if state else _current(self.changes)
            total = len(self.changes)
        page = rows[:limit]
        new_position = (
            total if len(rows) <= limit else (position + limit if state else self.changes.index(page[-1]) + 1)
        )
        changes = "".join(
            recording("sync-create" if kind == "create" else "sync-delete")
            .strip()
            .format(id=item_id, received=f"{received:%Y-%m-%dT%H:%M:%SZ}")
            for kind, item_id, received in page
        )
        return recording("sync-folder-items").format(
            state=base64.b64encode(f"{self.generation}.{new_position}".encode()).decode(),
            last="true" if len(rows) <= limit else "false",
            changes=changes,
        )

    def on_GetItem(self, request: ET.Element) -> str:
        messages = []
        for item in request.iter(f"{T}ItemId"):
            item_id = item.get("Id", "")
            if item_id in self.calendar:  # exchangelib asks for the fields FindItem does not return
                messages.append(
                    recording("get-item-calendar")
                    .strip()
                    .replace("{item}", _calendar_item(self.calendar[item_id]))
                )
                continue
            mime = self.mime.get(item_id)
            if mime is None:
                messages.append(recording("error-item-not-found").strip())
                continue
            received = next(r for k, i, r in self.changes if i == item_id and k == "create")
            messages.append(
                recording("get-item-mime")
                .strip()
                .format(
                    mime=base64.b64encode(mime).decode(),
                    id=item_id,
                    received=f"{received:%Y-%m-%dT%H:%M:%SZ}",
                )
            )
        return recording("get-item").replace("{messages}", "".join(messages))

    def on_FindItem(self, request: ET.Element) -> str:
        view = request.find(f"{M}CalendarView")
        assert view is not None, "only calendar views are recorded"
        start = datetime.fromisoformat(view.get("StartDate", "").replace("Z", "+00:00"))
        end = datetime.fromisoformat(view.get("EndDate", "").replace("Z", "+00:00"))
        with self.lock:
            shown = [a for a in self.calendar.values() if a.start < end and a.end > start]
        items = "".join(_calendar_item(a) for a in shown)
        return recording("find-item-calendar").format(count=len(shown), items=items)

    def on_CreateItem(self, request: ET.Element) -> str:
        assert request.get("MessageDisposition") == "SendAndSaveCopy"
        mime = request.findtext(f".//{T}Message/{T}MimeContent")
        assert mime, "the agent sends its own MIME"
        with self.lock:
            self.sent.append(base64.b64decode(mime))
        return recording("create-item")


def _calendar_item(a: Appointment) -> str:
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    attendees = "".join(
        recording("attendee").strip().format(name=escape(n), address=escape(e)) for n, e in a.attendees
    )
    return (
        recording("calendar-item")
        .strip()
        .format(
            id=a.item_id,
            change_key=hashlib.md5(f"{a.subject}{a.start}{a.cancelled}{a.sequence}".encode()).hexdigest(),
            subject=escape(a.subject),
            body=escape(a.body),
            modified=f"{a.modified:{fmt}}",
            uid=a.uid,
            recurrence_id=f"<t:RecurrenceId>{a.recurrence_id:{fmt}}</t:RecurrenceId>"
            if a.recurrence_id
            else "",
            start=f"{a.start:{fmt}}",
            end=f"{a.end:{fmt}}",
            cancelled="true" if a.cancelled else "false",
            recurring="true" if a.recurrence_id else "false",
            kind="Occurrence" if a.recurrence_id else "Single",
            attendees=attendees,
            sequence=a.sequence,
        )
    )


def _current(changes: list[tuple[str, str, datetime]]) -> list[tuple[str, str, datetime]]:
    """A first sync: a create for each item that still exists."""
    alive: dict[str, tuple[str, str, datetime]] = {}
    for row in changes:
        if row[0] == "delete":
            alive.pop(row[1], None)
        else:
            alive[row[1]] = row
    return list(alive.values())


__all__ = ["ACCESS_TOKEN", "PASSWORD", "USER", "Any", "Appointment", "FakeExchange"]
