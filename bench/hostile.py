"""Hostile mail through the real ingest: peak memory of the worker and of its parsing helper.

    .venv/bin/python -m bench.hostile                   # every case, alone and in a backlog
    .venv/bin/python -m bench.hostile --case nested     # one case (repeatable)
    .venv/bin/python -m bench.hostile --where           # where the memory goes, parse by parse
    .venv/bin/python -m bench.hostile --imap            # from a private Dovecot instead of a Maildir

Ordinary bad mail (issue 17, item 3): a 25 MB attachment, 1 MB header lines,
MIME nested a thousand levels deep, ten thousand parts, a 20 MB text or HTML
body, base64 that is not base64, a 10 MB calendar. Each case is drained by a
fresh worker process (the daemon's Runner, a Maildir and SQLite, as the
embedded defaults) twice: the message alone, parsed in the worker itself, and
three copies in a backlog of ordinary mail, parsed ahead by the helper process.
The same run drains ordinary mail the same two ways: that is the baseline; and
last, every case at once in one backlog.
Peak RSS is each process's VmHWM; the target is under 200 MB whatever the input.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import itertools
import multiprocessing
import os
import queue
import random
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: agent/, tests/

from bench.ingest import PASSWORD, messages, prepare
from tests.servers import Dovecot

SPAWN = multiprocessing.get_context("spawn")
MB = 1_000_000
LIMIT_MB = 200.0
DEALS = 10
EOL = b"\r\n"  # as IMAP servers hand mail over
_USERS = itertools.count()


def _head(n: int, subject: str, *extra: bytes) -> bytes:
    lines = [
        b"From: Person 3 <p3@client0.example>",
        b"To: Onboarding <onboarding@example.com>",
        f"Subject: {subject}".encode(),
        f"Message-ID: <hostile-{subject.split()[0]}-{n}@client0.example>".encode(),
        b"Date: Mon, 30 Nov 2026 09:00:00 +0000",
        b"MIME-Version: 1.0",
        *extra,
    ]
    return EOL.join(lines) + EOL


def _lines(data: bytes, width: int = 76) -> bytes:
    return EOL.join(data[i : i + width] for i in range(0, len(data), width)) + EOL


def _text(words: int, seed: int) -> bytes:
    """Words at random; past 10,000 the same run again (generating 20 MB word by word takes seconds)."""
    rng = random.Random(seed)
    vocabulary = b"the rollout plan data import training call go live thanks".split()
    run = b" ".join(rng.choice(vocabulary) for _ in range(min(words, 10_000)))
    return b" ".join([run] * -(-words // 10_000))


def attachment(n: int, mb: float = 25) -> bytes:
    """A short note and a PDF of `mb` MB (base64: a third more on the wire)."""
    blob = random.Random(n).randbytes(int(mb * MB))
    return (
        _head(n, f"attachment-{mb:g}MB", b'Content-Type: multipart/mixed; boundary="b"')
        + b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nThe signed plan, attached.\r\n--b\r\n"
        + b'Content-Type: application/pdf; name="plan.pdf"\r\nContent-Disposition: attachment; '
        + b'filename="plan.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.encodebytes(blob).replace(b"\n", EOL)
        + b"--b--\r\n"
    )


def header_lines(n: int, count: int = 5) -> bytes:
    """Several unstructured header lines of 1 MB each, one physical line apiece."""
    extra = [b"X-Tracking-%d: " % i + _text(MB // 5, i)[:MB] for i in range(count)]
    return _head(n, "header-lines", *extra) + EOL + b"Body of a message with huge headers.\r\n"


def one_header(n: int) -> bytes:
    """One structured header (Cc) of 1 MB on a single line: a mailing list's whole membership."""
    people = b", ".join(b"Person %d <p%d@client0.example>" % (i, i) for i in range(34_000))
    return _head(n, "one-header", b"Cc: " + people[:MB]) + EOL + b"Hello all.\r\n"


def folded_header(n: int) -> bytes:
    """A References header of 1 MB, folded into ordinary short lines (a thread that never ends)."""
    ids = EOL.join(b" <thread-%d@client0.example>" % i for i in range(38_000))
    return _head(n, "folded-header", b"References:" + ids[:MB]) + EOL + b"Re: again.\r\n"


def nested(n: int, depth: int = 1000) -> bytes:
    """multipart/mixed inside multipart/mixed, `depth` levels, a line of text at the bottom."""
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (i, i) for i in range(depth)
    )
    closing = b"".join(b"\r\n--n%d--\r\n" % i for i in reversed(range(depth)))
    return _head(n, "nested") + opening + b"Content-Type: text/plain\r\n\r\nDeep down." + closing


def many_parts(n: int, count: int = 10_000) -> bytes:
    parts = b"".join(b"--p\r\nContent-Type: text/plain\r\n\r\nPart %d.\r\n" % i for i in range(count))
    return _head(n, "many-parts", b'Content-Type: multipart/mixed; boundary="p"') + EOL + parts + b"--p--\r\n"


def text_body(n: int, mb: float = 20) -> bytes:
    body = _lines(_text(int(mb * MB / 5), n)[: int(mb * MB)])
    return _head(n, "text-body", b"Content-Type: text/plain; charset=utf-8") + EOL + body


def html_body(n: int, mb: float = 20) -> bytes:
    cell = b"<tr><td><p>Row %d of the <b>export</b></p></td><td><div>%s</div></td></tr>"
    snippets = _text(8 * 1000, n).split(b" ")
    rows = b"".join(cell % (i, b" ".join(snippets[i % 992 : i % 992 + 8])) for i in range(int(mb * MB / 110)))
    html = b"<html><body><table>" + rows + b"</table></body></html>"
    return _head(n, "html-body", b"Content-Type: text/html; charset=utf-8") + EOL + _lines(html)


def base64_garbage(n: int, mb: float = 20) -> bytes:
    """Declared base64, but random printable junk: bad characters, bad padding, odd lengths."""
    alphabet = b"ABCxyz019+/=!*-. "
    junk = (
        random.Random(n)
        .randbytes(int(mb * MB))
        .translate(bytes(alphabet[i % len(alphabet)] for i in range(256)))
    )
    return (
        _head(n, "base64-garbage", b"Content-Type: text/plain", b"Content-Transfer-Encoding: base64")
        + EOL
        + _lines(junk, 73)
    )


def calendar(n: int, mb: float = 10) -> bytes:
    """An invitation whose calendar is 10 MB: tens of thousands of events."""
    event = (
        "BEGIN:VEVENT\r\nUID:hostile-{i}@client0.example\r\nDTSTAMP:20261130T090000Z\r\n"
        "DTSTART:20261201T{h:02d}0000Z\r\nDTEND:20261201T{h:02d}3000Z\r\nSUMMARY:Training {i}\r\n"
        "ORGANIZER:mailto:p3@client0.example\r\nEND:VEVENT\r\n"
    )
    events = "".join(event.format(i=i, h=i % 24) for i in range(int(mb * MB / 220)))
    ics = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\n{events}END:VCALENDAR\r\n".encode()
    return (
        _head(n, "calendar", b'Content-Type: multipart/mixed; boundary="c"')
        + b"\r\n--c\r\nContent-Type: text/plain\r\n\r\nTraining dates.\r\n--c\r\n"
        + b"Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\n"
        + ics
        + b"\r\n--c--\r\n"
    )


CASES: dict[str, Callable[[int], bytes]] = {
    "attachment-25MB": attachment,
    "attachment-18MB": lambda n: attachment(n, 18),  # 24 MB on the wire: just under max_message_mb
    "header-lines": header_lines,
    "one-header": one_header,
    "folded-header": folded_header,
    "nested": nested,
    "many-parts": many_parts,
    "text-body": text_body,
    "html-body": html_body,
    "base64-garbage": base64_garbage,
    "calendar": calendar,
}


@dataclass(frozen=True)
class Drained:
    worker_mb: float
    helper_mb: float  # 0 when no helper was started
    processed: int
    quarantined: int
    seconds: float
    reasons: tuple[str, ...]  # quarantine reasons and the kind reasons of degraded messages


def peak_rss_mb(pid: int | str = "self") -> float:
    """VmHWM of a process (not ru_maxrss: Linux carries that across exec, see bench/ingest.py)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    line = next((x for x in status.splitlines() if x.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1]) / 1024


def _worker(cfg: str, out: Any) -> None:
    """A spawned process: the daemon's Runner takes the Maildir in until it is empty."""
    from sqlalchemy import select

    from agent.config import load_config
    from agent.daemon.runner import Runner
    from agent.store import models as m
    from agent.store.repo import Repo

    agent = Runner(load_config(Path(cfg)))
    processed = quarantined = 0
    helper = 0.0
    started = time.perf_counter()
    while True:
        report = agent.run_once(calendar=False)
        processed, quarantined = processed + report.messages, quarantined + report.quarantined
        pool = agent.parse_ahead.pool
        if pool is not None:  # read before the pool goes: a helper's peak dies with it
            helper = max([helper, *(peak_rss_mb(pid) for pid in list(pool._processes))])
        if not report.messages + report.quarantined:
            break
    seconds = time.perf_counter() - started
    with agent.sessions.begin() as s:
        reasons = [q.error for q in Repo(s).quarantined()]
        reasons += [r for r in s.scalars(select(m.Message.match_reason)) if "limit" in r or "not read" in r]
    out.put(Drained(peak_rss_mb(), helper, processed, quarantined, seconds, tuple(dict.fromkeys(reasons))))
    agent.close()


def drain(mail: list[bytes], processes: int, timeout: float = 900, imap: Dovecot | None = None) -> Drained:
    """A fresh worker drains `mail` into a new SQLite store (`processes` parse helpers).

    From a Maildir, or with `imap` from a new user's INBOX on that Dovecot (fetched in batches of 50).
    """
    folder = Path(tempfile.mkdtemp(prefix="csm-hostile-"))
    try:
        url = f"sqlite:///{folder / 'agent.db'}"
        prepare(url, DEALS)
        if imap is None:
            mailbox = f'backend = "maildir"\npath = "{_maildir(folder / "mail", mail)}"\n'
        else:
            user = f"hostile{next(_USERS)}"
            imap.add_user(user, PASSWORD)
            imap.deliver_many(user, mail)
            (folder / "password").write_text(PASSWORD)
            (folder / "password").chmod(0o600)
            mailbox = (
                f'backend = "imap"\nhost = "127.0.0.1"\nport = {imap.imap_port}\ntls = "none"\n'
                f'username = "{user}"\npassword_file = "{folder / "password"}"\n'
                'history = "act"\n'  # the backlog is delivered before the agent's first look: act on it
            )
        cfg = folder / "agent.toml"
        cfg.write_text(
            f'[agent]\naddress = "onboarding@example.com"\ninternal_domains = ["example.com"]\n'
            f'[store]\nurl = "{url}"\n[mailbox]\n{mailbox}'
            f'parse_processes = {processes}\n[calendar]\nbackend = "invites"\n[review]\ntemplates = []\n'
            f'[paths]\nstate = "{folder / "state"}"\n'
        )
        out = SPAWN.Queue()
        proc = SPAWN.Process(target=_worker, args=(str(cfg), out))
        proc.start()
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    result: Drained = out.get(timeout=1)
                    return result
                except queue.Empty:
                    if not proc.is_alive() or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"the worker ended without a result (exit code {proc.exitcode})"
                        ) from None
        finally:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _maildir(inbox: Path, mail: list[bytes]) -> Path:
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True)
    for i, data in enumerate(mail):  # names in order and times a second apart: the mailbox's order
        path = inbox / "new" / f"{1_700_000_000 + i}.{i:06d}.bench"
        path.write_bytes(data)
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
    return inbox


def alone(case: str) -> list[bytes]:
    return [CASES[case](0)]


def backlog(case: str, copies: int = 3, ordinary: int = 40) -> list[bytes]:
    """Ordinary mail with `copies` of the case spread through it: more than a backlog's 32 messages."""
    mail = messages(ordinary, DEALS)
    for k in range(copies):
        mail.insert((k + 1) * ordinary // (copies + 1) + k, CASES[case](k + 1))
    return mail


def where(case: str) -> tuple[float, float, float]:
    """In this process, traced: peak MB of the standard library's parse alone, of parse_message, seconds."""
    from agent.mime.parse import parse_message

    data = CASES[case](0)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with contextlib.suppress(RecursionError):  # a thousand levels: the standard library gives up
            BytesParser(policy=default).parsebytes(data)
        stdlib = tracemalloc.get_traced_memory()[1] / MB
        tracemalloc.reset_peak()
        started = time.perf_counter()
        parse_message(data, max_bytes=25 * MB)
        seconds = time.perf_counter() - started
        ours = tracemalloc.get_traced_memory()[1] / MB
    finally:
        tracemalloc.stop()
    return stdlib, ours, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="only this case")
    parser.add_argument("--where", action="store_true", help="traced memory of each parse, in this process")
    parser.add_argument("--no-backlog", action="store_true", help="only each message alone (in place)")
    parser.add_argument("--imap", action="store_true", help="from a private Dovecot over IMAP, not a Maildir")
    args = parser.parse_args()
    cases = args.case or list(CASES)
    if args.where:
        print(f"{'case':<18}{'size':>8}{'stdlib parse':>14}{'parse_message':>15}{'seconds':>9}")
        for case in cases:
            size = len(CASES[case](0)) / MB
            stdlib, ours, seconds = where(case)
            print(f"{case:<18}{size:>6.1f}MB{stdlib:>12.0f}MB{ours:>13.0f}MB{seconds:>9.1f}")
        return
    rows: list[tuple[str, str, float, Drained]] = []
    dovecot = Dovecot() if args.imap else None

    def run(name: str, mode: str, mail: list[bytes]) -> None:
        size = max(map(len, mail)) / MB
        result = drain(mail, processes=0 if mode == "alone" else 1, imap=dovecot)
        rows.append((name, mode, size, result))
        print(
            f"{name:<18}{mode:<9}{size:>6.1f}MB{result.worker_mb:>8.0f}MB"
            f"{result.helper_mb:>8.0f}MB{result.processed:>6}{result.quarantined:>6}{result.seconds:>8.1f}s",
            flush=True,
        )
        for reason in result.reasons:
            print(f"{'':<27}{reason[:150]}")

    try:
        if dovecot is not None:
            dovecot.start()
        print(
            f"{'case':<18}{'mode':<9}{'largest':>8}{'worker':>10}{'helper':>10}{'ok':>6}{'quar.':>6}{'time':>9}"
        )
        run("ordinary", "alone", messages(20, DEALS))
        if not args.no_backlog:
            run("ordinary", "backlog", messages(43, DEALS))
        for case in cases:
            run(case, "alone", alone(case))
            if not args.no_backlog:
                run(case, "backlog", backlog(case))
        if not args.no_backlog and len(cases) > 1:
            everything = messages(40, DEALS)
            for i, case in enumerate(cases):
                everything.insert(i * 4, CASES[case](i))
            run("all at once", "backlog", everything)
    finally:
        if dovecot is not None:
            dovecot.stop()
            dovecot.cleanup()
    base = max(r.worker_mb for name, _, _, r in rows if name == "ordinary")
    worst = max(max(r.worker_mb, r.helper_mb) for _, _, _, r in rows)
    print(
        f"ordinary mail: {base:.0f} MB; the worst case: {worst:.0f} MB "
        f"({worst - base:+.0f} MB; target under {LIMIT_MB:.0f} MB whatever the input) "
        f"[{datetime.now(UTC):%Y-%m-%d %H:%M} UTC]"
    )


if __name__ == "__main__":
    main()
