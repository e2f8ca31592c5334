"""What no single section can check: the backends' needs across sections and teams, names and addresses unique.

Runs after the schema, before any I/O; every problem is collected, each naming the file,
the line, the key and what was expected.
"""

from __future__ import annotations

from agent.backend_table import BACKENDS
from agent.config.lines import line_of, team_line
from agent.config.model import Config
from agent.errors import ConfigError

NEEDS_HOST = {"imap", "smtp"}


def check_backends(config: Config, text: str) -> None:
    problems = _check_servers(config, text, None)
    for i, team in enumerate(config.teams):
        problems += _check_servers(config.for_team(team), text, (i, team.name))
    seen: dict[str, str] = {config.agent.address: "[agent] address"}
    for i, team in enumerate(config.teams):
        at = team_line(text, i, "", "name")
        where = f"{config.source}:{at}" if at else config.source
        if config.team(team.name) is not team:
            problems.append(f"{where}: [[teams]] name = {team.name!r}: two teams have this name")
        if team.address in seen:
            at = team_line(text, i, "", "address")
            where = f"{config.source}:{at}" if at else config.source
            problems.append(
                f"{where}: [[teams]] address = {team.address!r}: already the address of {seen[team.address]}"
            )
        seen[team.address] = f"team {team.name}"
    problems += _check_accounts(config, text) + _check_folders(config, text)
    teams = {t.name for t in config.teams}
    problems += [
        f"{config.source}: [[chat.channels]] {c.name}: team = {c.team!r}: no such [[teams]]; "
        f"expected one of {sorted(teams)}"
        for c in config.chat.channels
        if c.team and c.team not in teams
    ]
    if problems:
        raise ConfigError("\n".join(problems))


def _check_servers(config: Config, text: str, team: tuple[int, str] | None) -> list[str]:
    """The mailbox, transport and calendar backends of the main team, or of one [[teams]] (index, name)."""
    problems = []
    for section in BACKENDS:  # each kind is a section; the schema already refused names not in the table
        if team and section == "transport":
            continue  # one transport sends for every team
        settings = getattr(config, section)
        if team is None:
            at, label = line_of(text, section, "backend"), f"[{section}]"
        else:
            at, label = (
                team_line(text, team[0], section, "backend"),
                f"[[teams]] {team[1]}: [teams.{section}]",
            )
        where = f"{config.source}:{at}" if at else config.source
        if settings.backend in NEEDS_HOST and not settings.host:
            problems.append(f"{where}: {label} host: the {settings.backend} backend needs a host name")
        elif settings.backend == "caldav" and not config.calendar.url.startswith(("http://", "https://")):
            problems.append(
                f"{where}: {label} url = {config.calendar.url!r}: the caldav backend needs the "
                "calendar's URL, like https://dav.example.com/calendars/onboarding/"
            )
    return problems


def _check_accounts(config: Config, text: str) -> list[str]:
    """[graph] and [exchange] are needed as soon as one team's mailbox or calendar, or the transport, uses them."""
    problems = []
    used = {config.mailbox.backend, config.transport.backend, config.calendar.backend}
    used |= {b for t in config.teams for b in (t.mailbox.backend, t.calendar.backend)}
    if "graph" in used and not (config.graph.tenant_id and config.graph.client_id):
        at = line_of(text, "graph", "tenant_id") or _backend_line(config, text, "graph")
        problems.append(
            f"{config.source}{f':{at}' if at else ''}: [graph] tenant_id and client_id: the graph backend "
            "needs the app registration's tenant and client IDs (docs/microsoft365.md)"
        )
    if "exchange" in used and not config.exchange.url.startswith(("https://", "http://")):
        at = line_of(text, "exchange", "url") or _backend_line(config, text, "exchange")
        problems.append(
            f"{config.source}{f':{at}' if at else ''}: [exchange] url = {config.exchange.url!r}: the exchange "
            "backend needs the EWS endpoint, like https://mail.example.com/EWS/Exchange.asmx"
        )
    return problems


def _check_folders(config: Config, text: str) -> list[str]:
    problems = []
    for key in ("processed_folder", "unmatched_folder", "quarantine_folder"):
        if getattr(config.mailbox, key) and config.mailbox.backend != "imap":
            at = line_of(text, "mailbox", key)
            problems.append(
                f"{config.source}{f':{at}' if at else ''}: [mailbox] {key}: filing mail in folders needs "
                f"backend = 'imap' (the {config.mailbox.backend} backend leaves mail where it is)"
            )
    if config.transport.sent_folder and config.mailbox.backend != "imap":
        at = line_of(text, "transport", "sent_folder")
        problems.append(
            f"{config.source}{f':{at}' if at else ''}: [transport] sent_folder = "
            f"{config.transport.sent_folder!r}: needs [mailbox] backend = 'imap' (its Sent folder)"
        )
    return problems


def _backend_line(config: Config, text: str, backend: str) -> int | None:
    """The line of the first `backend = ...` that needs the missing settings."""
    for section in ("mailbox", "transport", "calendar"):
        if getattr(config, section).backend == backend:
            return line_of(text, section, "backend")
    return None
