"""systemd's notification protocol (sd_notify(3)): readiness, watchdog pings, stopping, a status line.

The unit is `Type=notify` (docs/deploy/csm-agent.service): systemd counts the agent started only
once READY=1 arrives, which it sends after its first pass, so `systemctl start` returns when the
backlog that came in while it was down has been taken and a broken config has already failed; and
with `WatchdogSec=` systemd restarts a daemon whose loop stopped turning (a hang, not a crash) when
the WATCHDOG=1 pings stop. The protocol is one datagram per message to the AF_UNIX socket named by
$NOTIFY_SOCKET ('@' starts an abstract name); without the variable, as outside systemd, every call
does nothing. Written here instead of depending on a binding: it is a dozen lines of the standard
library, and a failure to notify must never stop the agent.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger(__name__)
NOTIFY_SOCKET = "NOTIFY_SOCKET"
WATCHDOG_USEC = "WATCHDOG_USEC"
BUSY_EVERY = 5.0  # seconds between two progress messages inside a pass
BUSY_EXTEND = 120.0  # before READY, each of them asks systemd to wait this much longer for the start


class Notifier:
    """Messages to the service manager; a no-op without $NOTIFY_SOCKET."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        name = env.get(NOTIFY_SOCKET, "")
        # an abstract socket's name starts with a NUL byte, which an environment variable cannot carry
        self.address = "\0" + name[1:] if name.startswith("@") else name
        usec = env.get(WATCHDOG_USEC, "")
        # systemd's advice: ping at half the interval, so one late ping is not yet a restart
        self.watchdog_every = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else None
        self._last_ping = 0.0
        self._last_busy = float("-inf")
        self.is_ready = False

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *lines: str) -> bool:
        """One datagram of `KEY=value` lines; False (and a debug line) if it could not be sent."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self.address)
                sock.sendall("\n".join(lines).encode())
            return True
        except OSError as exc:  # systemd gone or restarted: the agent's work matters more than its report
            log.debug("sd_notify to %s failed: %s", self.address.replace("\0", "@"), exc)
            return False

    def ready(self, status: str = "") -> None:
        self.is_ready = True
        self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def busy(self, status: str) -> None:
        """Progress inside one long pass (a backlog of months): the watchdog is fed, the status said,
        and before READY the start timeout is pushed back, so that systemd neither restarts nor fails
        a daemon that is working through a backlog. At most every BUSY_EVERY seconds."""
        self.watchdog()
        now = time.monotonic()
        if now - self._last_busy < BUSY_EVERY:
            return
        self._last_busy = now
        extend = [] if self.is_ready else [f"EXTEND_TIMEOUT_USEC={int(BUSY_EXTEND * 1e6)}"]
        self.send(f"STATUS={status}", *extend)

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def watchdog(self) -> None:
        """WATCHDOG=1 when WatchdogSec is set, at most every half of the advised interval.

        The loop calls it each time it turns, which may be many times a second while mail streams in.
        """
        if not self.address or self.watchdog_every is None:
            return
        now = time.monotonic()
        if now - self._last_ping >= self.watchdog_every / 2:
            self._last_ping = now
            self.send("WATCHDOG=1")

    def stopping(self, status: str = "") -> None:
        self.send("STOPPING=1", *([f"STATUS={status}"] if status else []))
