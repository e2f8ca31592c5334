"""Several team mailboxes in one config: each with its own address, pipeline, time zone and mailbox.

Against the real Dovecot and SMTP relay; the daemon runs as a process, as in production.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from agent.cli import main
from agent.store import models as m
from agent.store.db import open_store
from tests.conftest import start_daemon, stop_daemon, wait_until
from tests.integration.conftest import imap_config, next_user, smtp_config
from tests.integration.test_smtp import received
from tests.servers import Dovecot, Postgres, SmtpRelay

EMEA = "onboarding@emea.example.com"  # another domain: its Message-IDs must show it


def team_config(
    folder: Path,
    dovecot: Dovecot,
    main_user: str,
    team_user: str,
    smtp: SmtpRelay,
    certs: dict[str, Path],
    extra: str = "",
) -> Path:
    """The main mailbox is `main_user`'s; the emea team's is `team_user`'s, on the same Dovecot."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg = imap_config(folder, dovecot, main_user)
    (folder / "smtp").mkdir(exist_ok=True)
    transport = smtp_config(folder / "smtp", smtp, certs).read_text().split("[transport]", 1)[1]
    cfg.write_text(
        cfg.read_text()
        + "\n[transport]"
        + transport
        + '\n[calendar]\nbackend = "invites"\n'
        + extra
        + f"""
[[teams]]
name = "emea"
address = "{EMEA}"
display_name = "EMEA Onboarding"
pipeline = "project-onboarding"
timezone = "Europe/Paris"
[teams.mailbox]
backend = "imap"
host = "127.0.0.1"
port = {dovecot.imap_port}
tls = "none"
username = "{team_user}"
password_file = "{folder / "imap-password"}"
timeout_seconds = 10
"""
    )
    return cfg


def cli(cfg: Path, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code = main(["--config", str(cfg), *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out) if "--json" in args else out


def reply(to: str, subject: str, n: int = 0) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Tim Poe <tim@zeta.example>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<team-test-{n}-{time.monotonic_ns()}@zeta.example>"
    msg.set_content("Thanks, Tuesday works for us.")
    return msg.as_bytes()


@pytest.mark.integration
def test_a_team_mailbox_writes_from_its_address_takes_its_pipeline_and_is_watched_by_idle(
    tmp_path: Path,
    dovecot: Dovecot,
    user: str,
    smtp: SmtpRelay,
    certs: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    team_user = next_user()
    # Full passes only every 5 minutes: mail that arrives meanwhile must come in through IDLE.
    cfg = team_config(tmp_path, dovecot, user, team_user, smtp, certs, "[daemon]\npoll_seconds = 300\n")
    cli(cfg, capsys, "deals", "add", "--name", "Zeta Labs", "--team", "emea", "--contact", "Tim Poe,tim@zeta.example",
        "--csm", "sam@example.com")  # fmt: skip
    cli(cfg, capsys, "deals", "add", "--name", "Acme Radio", "--contact", "Jane Doe,jane@acme-radio.example",
        "--csm", "sam@example.com")  # fmt: skip
    zeta = next(d for d in cli(cfg, capsys, "deals", "list", "--json") if d["name"] == "Zeta Labs")
    shown = cli(cfg, capsys, "deals", "show", str(zeta["id"]), "--json")
    # the team's defaults: its pipeline and time zone
    assert (shown["team"], shown["pipeline"], shown["timezone"]) == (
        "emea",
        "project-onboarding",
        "Europe/Paris",
    )

    proc = start_daemon(cfg, quiet=True)
    try:
        wait_until(
            lambda: {e["status"] for e in cli(cfg, capsys, "outbox", "list", "--json")} == {"sent"}, 30
        )
        emails = {e["deal"]: e for e in cli(cfg, capsys, "outbox", "list", "--json")}
        [to_tim] = received(dovecot, "tim", emails[zeta["id"]]["message_id"])
        [to_jane] = received(dovecot, "jane", emails[3 - zeta["id"]]["message_id"])
        assert str(to_tim["From"]) == f"EMEA Onboarding <{EMEA}>"
        assert to_tim["Reply-To"].addresses[0].addr_spec == f"onboarding+{shown['token']}@emea.example.com"
        assert to_jane["From"].addresses[0].addr_spec == "onboarding@example.com"
        assert to_tim["Message-ID"].endswith("@emea.example.com>")
        assert to_jane["Message-ID"].endswith("@example.com>") and "emea" not in to_jane["Message-ID"]

        # The client answers to the team's reply address; the team mailbox is not the first one, and
        # the next full pass is minutes away: only IDLE on every mailbox brings it in within seconds.
        time.sleep(2)  # the daemon is back in IDLE after sending
        dovecot.deliver(team_user, reply(f"onboarding+{shown['token']}@emea.example.com", "Re: Welcome"))
        took = wait_until(
            lambda: len(cli(cfg, capsys, "deals", "show", str(zeta["id"]), "--json")["messages"]) == 1, 15
        )
    finally:
        stop_daemon(proc)
    [message] = cli(cfg, capsys, "deals", "show", str(zeta["id"]), "--json")["messages"]
    assert (
        "reply address onboarding+" in message["match_reason"]
        and "@emea.example.com" in message["match_reason"]
    )
    assert took < 10, f"the reply to the team mailbox took {took:.1f} s"
    status = cli(cfg, capsys, "status", "--json")
    assert (
        status["teams"]["emea"]["mailbox"]["last_ok"] and not status["teams"]["emea"]["mailbox"]["last_error"]
    )


@pytest.mark.integration
def test_two_workers_share_two_team_mailboxes_and_one_takes_both_when_the_other_dies(
    tmp_path: Path, postgres: Postgres, dovecot: Dovecot, user: str, smtp: SmtpRelay, certs: dict[str, Path]
) -> None:
    team_user = next_user()
    url = postgres.create("teams")
    configs = []
    for name in ("w1", "w2"):
        extra = (
            f'[store]\nurl = "{url}"\n'
            f'[daemon]\npoll_seconds = 1\nworker_id = "{name}"\nlease_seconds = 3\nclaim_seconds = 5\n'
        )
        configs.append(team_config(tmp_path / name, dovecot, user, team_user, smtp, certs, extra))
    sessions = open_store(url)
    mailboxes = {f"mailbox:imap:{u}@127.0.0.1/INBOX": u for u in (user, team_user)}

    def holders() -> dict[str, str]:
        with sessions.begin() as s:
            leases = s.scalars(select(m.Lease).where(m.Lease.name.in_(mailboxes)))
            return {mailboxes[lease.name]: lease.holder for lease in leases}

    def processed() -> Counter[str]:
        with sessions.begin() as s:
            return Counter(s.scalars(select(m.Message.subject).where(m.Message.subject.like("Team test %"))))

    workers = {name: start_daemon(cfg, quiet=True) for name, cfg in zip(("w1", "w2"), configs, strict=True)}
    try:
        # Each worker takes its fair share, one mailbox each, whoever started first.
        wait_until(lambda: sorted(holders().values()) == ["w1", "w2"], timeout=30)
        for n in range(10):
            dovecot.deliver(user, reply("onboarding@example.com", f"Team test main {n}", n))
            dovecot.deliver(team_user, reply(EMEA, f"Team test emea {n}", n))
        wait_until(lambda: len(processed()) == 20, timeout=30)
        dead = holders()[team_user]
        workers.pop(dead).send_signal(signal.SIGKILL)
        took = wait_until(lambda: set(holders().values()) == {"w1", "w2"} - {dead}, timeout=30)
        for n in range(10, 20):
            dovecot.deliver(user, reply("onboarding@example.com", f"Team test main {n}", n))
            dovecot.deliver(team_user, reply(EMEA, f"Team test emea {n}", n))
        wait_until(lambda: len(processed()) == 40, timeout=30)
    finally:
        for proc in workers.values():
            stop_daemon(proc)
    counts = processed()
    assert len(counts) == 40 and set(counts.values()) == {1}  # every message once, none lost
    assert took < 10  # the dead worker's mailbox was taken over within its lease (3 s) and a pass
