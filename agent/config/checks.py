"""What no single section can check: the backends' needs across sections and teams, names and addresses unique.

Runs after the schema, before any I/O; every problem is collected, each naming where the value
came from: the file and its line, or the environment variable that set it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agent.backend_table import BACKENDS
from agent.config.env import Setting
from agent.config.lines import line_of, team_line
from agent.config.model import Config
from agent.errors import ConfigError

NEEDS_HOST = {"imap", "smtp"}


@dataclass(frozen=True)
class Where:
    """Where a key was set: `environment CSM_AGENT__...` when a variable set it, else `file:line`."""

    source: str
    text: str
    by_env: Mapping[tuple[str, ...], Setting]

    def __call__(self, section: str, key: str, team: int | None = None) -> str:
        """`section`'s `key`; with `team`, [[teams]] number `team`'s own table `section` ("" for the team's keys)."""
        path = (section, key) if team is None else ("teams", str(team), *([section] if section else []), key)
        if path in self.by_env:
            return f"environment {self.by_env[path].variable}"
        at = line_of(self.text, section, key) if team is None else team_line(self.text, team, section, key)
        return f"{self.source}:{at}" if at else self.source

    def is_set(self, section: str, key: str) -> bool:
        return (section, key) in self.by_env or line_of(self.text, section, key) is not None


def check_backends(config: Config, text: str, from_env: list[Setting] | tuple[Setting, ...] = ()) -> None:
    where = Where(config.source, text, {s.path: s for s in from_env})
    problems = _check_servers(config, where, None)
    for i, team in enumerate(config.teams):
        problems += _check_servers(config.for_team(team), where, (i, team.name))
    seen: dict[str, str] = {config.agent.address: "[agent] address"}
    for i, team in enumerate(config.teams):
        if config.team(team.name) is not team:
            problems.append(
                f"{where('', 'name', i)}: [[teams]] name = {team.name!r}: two teams have this name"
            )
        if team.address in seen:
            problems.append(
                f"{where('', 'address', i)}: [[teams]] address = {team.address!r}: already the address of "
                f"{seen[team.address]}"
            )
        seen[team.address] = f"team {team.name}"
    problems += _check_accounts(config, where) + _check_folders(config, where)
    teams = {t.name for t in config.teams}
    problems += [
        f"{config.source}: [[chat.channels]] {c.name}: team = {c.team!r}: no such [[teams]]; "
        f"expected one of {sorted(teams)}"
        for c in config.chat.channels
        if c.team and c.team not in teams
    ]
    if problems:
        raise ConfigError("\n".join(problems))


def _check_servers(config: Config, where: Where, team: tuple[int, str] | None) -> list[str]:
    """The mailbox, transport and calendar backends of the main team, or of one [[teams]] (index, name)."""
    problems = []
    for section in BACKENDS:  # each kind is a section; the schema already refused names not in the table
        if team and section == "transport":
            continue  # one transport sends for every team
        settings = getattr(config, section)
        at = where(section, "backend", team[0] if team else None)
        label = f"[[teams]] {team[1]}: [teams.{section}]" if team else f"[{section}]"
        if settings.backend in NEEDS_HOST and not settings.host:
            problems.append(f"{at}: {label} host: the {settings.backend} backend needs a host name")
        elif settings.backend == "caldav" and not config.calendar.url.startswith(("http://", "https://")):
            problems.append(
                f"{at}: {label} url = {config.calendar.url!r}: the caldav backend needs the "
                "calendar's URL, like https://dav.example.com/calendars/onboarding/"
            )
    return problems


def _check_accounts(config: Config, where: Where) -> list[str]:
    """[graph] and [exchange] are needed as soon as one team's mailbox or calendar, or the transport, uses them."""
    problems = []
    used = {config.mailbox.backend, config.transport.backend, config.calendar.backend}
    used |= {b for t in config.teams for b in (t.mailbox.backend, t.calendar.backend)}
    if "graph" in used and not (config.graph.tenant_id and config.graph.client_id):
        at = (
            where("graph", "tenant_id")
            if where.is_set("graph", "tenant_id")
            else _backend(config, where, "graph")
        )
        problems.append(
            f"{at}: [graph] tenant_id and client_id: the graph backend "
            "needs the app registration's tenant and client IDs (docs/microsoft365.md)"
        )
    if "exchange" in used and not config.exchange.url.startswith(("https://", "http://")):
        at = (
            where("exchange", "url")
            if where.is_set("exchange", "url")
            else _backend(config, where, "exchange")
        )
        problems.append(
            f"{at}: [exchange] url = {config.exchange.url!r}: the exchange "
            "backend needs the EWS endpoint, like https://mail.example.com/EWS/Exchange.asmx"
        )
    return problems


def _check_folders(config: Config, where: Where) -> list[str]:
    problems = []
    for key in ("processed_folder", "unmatched_folder", "quarantine_folder"):
        if getattr(config.mailbox, key) and config.mailbox.backend != "imap":
            problems.append(
                f"{where('mailbox', key)}: [mailbox] {key}: filing mail in folders needs "
                f"backend = 'imap' (the {config.mailbox.backend} backend leaves mail where it is)"
            )
    if config.transport.sent_folder and config.mailbox.backend != "imap":
        problems.append(
            f"{where('transport', 'sent_folder')}: [transport] sent_folder = "
            f"{config.transport.sent_folder!r}: needs [mailbox] backend = 'imap' (its Sent folder)"
        )
    return problems


def _backend(config: Config, where: Where, backend: str) -> str:
    """Where the first `backend = ...` that needs the missing settings was set."""
    for section in ("mailbox", "transport", "calendar"):
        if getattr(config, section).backend == backend:
            return where(section, "backend")
    for i, team in enumerate(config.teams):
        for section in ("mailbox", "calendar"):
            if getattr(team, section).backend == backend:
                return where(section, "backend", i)
    return config.source
