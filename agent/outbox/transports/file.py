"""Write each outgoing email as an .eml file (the embedded default)."""

from __future__ import annotations

import os
from email.message import EmailMessage
from pathlib import Path

from agent.config import Config
from agent.outbox.compose import OUTGOING_POLICY
from agent.outbox.transports.base import SendResult


def from_config(config: Config) -> FileTransport:
    return FileTransport(config.sent_path)


class FileTransport:
    name = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def probe(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        if not os.access(self.folder, os.W_OK):
            raise PermissionError(f"{self.folder}: not writable")
        return f"{self.folder}: writable"

    def path_for(self, outbox_id: int) -> Path:
        return self.folder / f"{outbox_id:06d}.eml"

    def send(self, message: EmailMessage, recipients: list[str], outbox_id: int) -> SendResult:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path_for(outbox_id)
        if target.exists():
            return SendResult(
                tuple(recipients)
            )  # written before a crash: the same Message-ID, already "sent"
        tmp = target.with_suffix(".tmp")
        data = message.as_bytes(policy=OUTGOING_POLICY)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # rename is atomic: a reader never sees half an email, a crash leaves only a .tmp
        os.replace(tmp, target)
        return SendResult(tuple(recipients))
