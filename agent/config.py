"""Load and validate the TOML config; every option has a type, a default and help.

Validation happens before any I/O: a bad value is reported with the file, the
section and key, the value and what was expected (see docs/configuration.md).
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_NAME = "agent.toml"
CONFIG_ENV = "AGENT_CONFIG"

Port = Annotated[int, Field(ge=1, le=65535)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Secret(Section):
    """Where a password or token comes from; never inline in the file."""

    password_env: str | None = Field(None, description="Environment variable holding the password")
    password_file: Path | None = Field(None, description="File whose first line is the password")

    def password(self) -> str | None:
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigError(f"environment variable {self.password_env} (password_env) is not set")
            return value
        if self.password_file:
            try:
                mode = self.password_file.stat().st_mode
                if mode & 0o077:
                    raise ConfigError(
                        f"password_file {self.password_file}: others may read it (mode {mode & 0o777:o}); "
                        f"expected it private: chmod 600 {self.password_file}"
                    )
                return self.password_file.read_text(encoding="utf-8").splitlines()[0].strip()
            except (OSError, IndexError) as exc:
                raise ConfigError(
                    f"password_file {self.password_file}: cannot read a password ({exc})"
                ) from exc
        return None


class AgentSection(Section):
    address: str = Field("onboarding@example.com", description="The agent's own mailbox address")
    name: str = Field("Onboarding Team", description="Display name on the agent's emails")
    internal_domains: tuple[str, ...] = Field(("example.com",), description="Domains of our own people")
    timezone: str = Field("UTC", description="Default IANA time zone for deals without one")
    business_days: tuple[Weekday, ...] = Field(("mon", "tue", "wed", "thu", "fri"))
    holidays: tuple[str, ...] = Field((), description="ISO dates (YYYY-MM-DD) that are not business days")
    trusted_authserv_ids: tuple[str, ...] = Field(
        (),
        description="Authentication-Results authserv-ids whose DKIM/SPF/DMARC verdicts prove an internal From",
    )
    unmatched_notice_to: tuple[str, ...] = Field((), description="Who gets the daily list of unmatched mail")
    max_emails_per_deal_per_day: int = Field(20, ge=1)
    max_emails_per_recipient_per_day: int = Field(10, ge=1)

    @field_validator("address")
    @classmethod
    def _address(cls, v: str) -> str:
        return check_address(v)

    @field_validator("unmatched_notice_to")
    @classmethod
    def _addresses(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_address(a) for a in v)

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for day in v:
            try:
                date.fromisoformat(day)
            except ValueError:
                raise ValueError(f"{day!r} is not a date; expected YYYY-MM-DD") from None
        return v

    @field_validator("internal_domains")
    @classmethod
    def _domains(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(d.lower().lstrip("@") for d in v)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return check_timezone(v)

    @property
    def domain(self) -> str:
        return self.address.split("@", 1)[1]


class StoreSection(Section):
    url: str = Field("", description="SQLAlchemy URL; empty means sqlite at <state>/agent.db")
    busy_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="SQLite: how long a write waits for another process's lock before the pass is "
        "rolled back and retried later",
    )


class ServerSection(Secret):
    host: str = ""
    port: Port | None = None
    tls: Literal["none", "starttls", "ssl"] = "ssl"
    tls_verify: bool = Field(True, description="Verify the server certificate (never turn off in production)")
    tls_ca_file: Path | None = Field(
        None, description="PEM file of a private CA to trust, besides the system's"
    )
    username: str = ""
    auth: Literal["password", "xoauth2"] = Field(
        "password", description="xoauth2: the secret is an access token (or a refresh token, see below)"
    )
    oauth2_token_url: str = Field(
        "",
        description="xoauth2: the token endpoint; the secret is then a refresh token the agent renews from",
    )
    oauth2_client_id: str = Field("", description="xoauth2 with a token endpoint: the OAuth client's ID")
    oauth2_client_secret_file: Path | None = Field(
        None, description="xoauth2 with a token endpoint: file holding the OAuth client's secret (mode 0600)"
    )

    def oauth2_client_secret(self) -> str | None:
        if self.oauth2_client_secret_file is None:
            return None
        return Secret(password_file=self.oauth2_client_secret_file).password()

    timeout_seconds: float = Field(
        60.0, gt=0, description="Network read timeout: a dead connection is noticed"
    )


class MailboxSection(ServerSection):
    backend: Literal["maildir", "imap", "exchange", "graph"] = "maildir"
    path: Path | None = Field(None, description="Maildir folder (maildir backend); default <state>/mail")
    folder: str = Field("INBOX", description="Folder to watch (imap, exchange, graph)")
    processed_folder: str = Field("", description="Move processed mail here (imap); empty leaves it")
    unmatched_folder: str = Field("", description="Move mail no deal matched here (imap)")
    quarantine_folder: str = Field("", description="Move mail that could not be processed here (imap)")
    batch_size: int = Field(50, ge=1, le=1000, description="Messages fetched per IMAP command")
    idle_renew_seconds: int = Field(
        540, ge=30, le=1740, description="Re-issue IDLE this often (RFC 2177: < 29 min)"
    )
    poll_seconds: int = Field(60, ge=1, description="Poll interval when the server has no IDLE")
    max_message_mb: float = Field(
        25.0,
        gt=0,
        description="Read only the headers of a bigger message (it is matched and logged, its body not read)",
    )
    reconnect_max_seconds: float = Field(
        300.0, gt=0, description="Longest wait between reconnection attempts to a server that is down"
    )
    parse_processes: int = Field(
        1,
        ge=0,
        le=8,
        description="Helper processes that parse a backlog ahead while the agent commits (0: parse in place); "
        "[mailbox] only, for every team's mailbox",
    )


class TransportSection(ServerSection):
    backend: Literal["file", "smtp", "exchange", "graph"] = "file"
    path: Path | None = Field(None, description="Folder for .eml files (file backend); default <state>/sent")
    max_attempts: int = Field(
        100, ge=1, le=10000, description="Give up on an email after this many attempts (or retry_for_hours)"
    )
    retry_base_seconds: float = Field(30.0, gt=0, description="First retry delay; it doubles each time")
    retry_max_seconds: float = Field(1800.0, gt=0, description="The longest wait between two attempts")
    retry_for_hours: float = Field(
        24.0,
        gt=0,
        description="Keep retrying a deferred email (4xx, server unreachable) this long after its first "
        "attempt, then give up and tell the Responsible person",
    )
    sent_folder: str = Field(
        "", description="Append a copy of each sent email to this IMAP folder of [mailbox]"
    )


class CalendarSection(ServerSection):
    backend: Literal["ics", "invites", "caldav", "exchange", "graph"] = "ics"
    path: Path | None = Field(
        None, description="Folder of .ics files (ics backend); default <state>/calendar"
    )
    url: str = ""
    completion_grace_minutes: int = Field(
        15, ge=0, description="Minutes after a meeting's end before it counts as held"
    )
    lookahead_days: int = Field(120, ge=1)
    lookbehind_days: int = Field(30, ge=1)


class GraphSection(Secret):
    """Microsoft 365 through Microsoft Graph: an app registration with application permissions.

    The secret (password_env / password_file) is the app's client secret.
    """

    tenant_id: str = Field("", description="Directory (tenant) ID of the Microsoft 365 organisation")
    client_id: str = Field("", description="Application (client) ID of the app registration")
    mailbox: str = Field("", description="The mailbox the agent reads and sends as; default [agent] address")
    graph_url: str = Field(
        "https://graph.microsoft.com/v1.0", description="Graph API root (national clouds differ)"
    )
    authority_url: str = Field("https://login.microsoftonline.com", description="Entra ID sign-in root")
    tls_ca_file: Path | None = Field(
        None, description="PEM file of a private CA to trust (a proxy, the tests)"
    )
    timeout_seconds: float = Field(60.0, gt=0, description="Network read timeout")
    max_wait_seconds: float = Field(
        10.0, ge=0, description="A Retry-After up to this long is waited out in place; a longer one backs off"
    )


class ExchangeSection(Secret):
    """Exchange Server on-premises through EWS (exchangelib). The secret is the account's password,
    or an OAuth2 access token with auth = "oauth2"."""

    url: str = Field("", description="EWS endpoint, like https://mail.example.com/EWS/Exchange.asmx")
    username: str = Field("", description="DOMAIN\\user or user@domain, as Exchange signs in")
    auth: Literal["ntlm", "basic", "oauth2"] = Field(
        "ntlm", description="oauth2: the secret is an access token"
    )
    mailbox: str = Field("", description="The mailbox read and sent from; default [agent] address")
    access_type: Literal["delegate", "impersonation"] = Field(
        "delegate",
        description="impersonation: a service account acting as the mailbox (ApplicationImpersonation)",
    )
    version: str = Field("", description="Exchange build like 15.1 (2016); empty: asked of the server")
    tls_ca_file: Path | None = Field(
        None, description="PEM file of a private CA to trust, besides the system's"
    )
    timeout_seconds: float = Field(60.0, gt=0, description="Network read timeout")


class PathsSection(Section):
    rules: Path | None = Field(None, description="Folder of pipeline files; default rules/")
    templates: Path | None = Field(None, description="Folder of email templates; default templates/emails/")
    state: Path = Field(Path("state"), description="Runtime data folder")


class ReviewSection(Section):
    templates: tuple[str, ...] = Field(
        ("recap",), description="Drafts of these templates go to the Responsible person before they are sent"
    )
    per_csm: dict[str, tuple[str, ...]] = Field(
        {}, description="CSM email -> the templates they review (overrides `templates` for their deals)"
    )
    answer_within_hours: float = Field(24.0, gt=0, description="How long a draft waits for an answer")
    on_timeout: Literal["send", "drop"] = Field("send", description="What happens to a draft nobody answered")

    def needs_review(self, template: str, csm: str) -> bool:
        return template in self.per_csm.get(csm.lower(), self.templates)


class DaemonSection(Section):
    poll_seconds: int = Field(30, ge=1, description="Seconds between passes")
    worker_id: str = Field("", description="This worker's name among several on one store; default host:pid")
    lease_seconds: float = Field(
        60.0,
        gt=0,
        description="Several workers: a dead worker's mailbox and calendar are taken over after this",
    )
    claim_seconds: float = Field(
        600.0,
        gt=0,
        description="Several workers: an email a dead worker was sending is taken over after this",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["plain", "json"] = Field("plain", description="json: one JSON object per line")
    health_port: int = Field(
        0, ge=0, le=65535, description="Serve /health and /metrics on 127.0.0.1 (0: off)"
    )


class DigestsSection(Section):
    """Digest emails to our own people (off by default: turn them on when the team is ready)."""

    daily: bool = Field(False, description="Each CSM gets the deals that need them today, on business days")
    daily_at: str = Field(
        "08:00", description="Local time ([agent] timezone) after which the daily digest goes"
    )
    weekly: bool = Field(
        False, description="Each Accountable person gets the week's scorecard of their deals"
    )
    weekly_on: Weekday = Field("mon", description="The day the weekly scorecard goes")
    weekly_at: str = Field("08:00", description="Local time after which it goes")
    off_for: tuple[str, ...] = Field((), description="People who get no digest")

    @field_validator("daily_at", "weekly_at")
    @classmethod
    def _time(cls, v: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", v):
            raise ValueError(f"{v!r} is not a time; expected HH:MM, like 08:00")
        return v

    @field_validator("off_for")
    @classmethod
    def _people(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_address(a).lower() for a in v)


class DashboardSection(Secret):
    """The dashboard on 127.0.0.1; password_env/password_file, if set, is a token it asks for."""

    port: int = Field(0, ge=0, le=65535, description="Serve the dashboard on 127.0.0.1:port (0: off)")


class TeamSection(Section):
    """Another team mailbox beside the main one ([agent] + [mailbox] + [calendar]), with its own identity.

    Its deals' emails go from its address, replies come back to it, and new deals created for it
    take its pipeline and time zone unless told otherwise.
    """

    name: str = Field(description="Short id, like emea: `deals add --team emea`, the `team` CSV column")
    address: str = Field(description="The team mailbox's address; its deals' emails are sent from it")
    display_name: str = Field("", description="Display name on its emails; default [agent] name")
    pipeline: str = Field("", description="Pipeline of its new deals when none is given")
    timezone: str = Field("", description="Time zone of its new deals when none is given; default [agent]")
    mailbox: MailboxSection = MailboxSection()
    calendar: CalendarSection = CalendarSection(backend="invites")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", v):
            raise ValueError("expected a short id of lower-case letters, digits and dashes, like emea")
        return v

    @field_validator("address")
    @classmethod
    def _address(cls, v: str) -> str:
        return check_address(v)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return check_timezone(v) if v else v


class Config(Section):
    agent: AgentSection = AgentSection()
    store: StoreSection = StoreSection()
    mailbox: MailboxSection = MailboxSection()
    transport: TransportSection = TransportSection()
    calendar: CalendarSection = CalendarSection()
    graph: GraphSection = GraphSection()
    exchange: ExchangeSection = ExchangeSection()
    paths: PathsSection = PathsSection()
    review: ReviewSection = ReviewSection()
    daemon: DaemonSection = DaemonSection()
    dashboard: DashboardSection = DashboardSection()
    digests: DigestsSection = DigestsSection()
    teams: tuple[TeamSection, ...] = Field((), description="More team mailboxes, each a [[teams]] table")
    # Where the config came from; relative paths are resolved against its folder.
    source: str = Field("embedded defaults", exclude=True)
    base_dir: Path = Field(Path("."), exclude=True)

    # Resolved locations: these make the defaults in DESIGN.md concrete.
    @property
    def state_dir(self) -> Path:
        return self._resolve(self.paths.state)

    @property
    def rules_dir(self) -> Path:
        return self._resolve(self.paths.rules) if self.paths.rules else _shipped("rules", self.base_dir)

    @property
    def templates_dir(self) -> Path:
        if self.paths.templates:
            return self._resolve(self.paths.templates)
        return _shipped("templates/emails", self.base_dir)

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{self.state_dir / 'agent.db'}"

    @property
    def maildir_path(self) -> Path:
        return self._resolve(self.mailbox.path) if self.mailbox.path else self.state_dir / "mail"

    @property
    def sent_path(self) -> Path:
        return self._resolve(self.transport.path) if self.transport.path else self.state_dir / "sent"

    @property
    def ics_path(self) -> Path:
        return self._resolve(self.calendar.path) if self.calendar.path else self.state_dir / "calendar"

    def _resolve(self, p: Path) -> Path:
        return p if p.is_absolute() else (self.base_dir / p)

    # --- teams: the main one ("") is [agent] + [mailbox] + [calendar] -------------------
    def team(self, name: str) -> TeamSection | None:
        return next((t for t in self.teams if t.name == name), None)

    def identity(self, team: str) -> AgentSection:
        """Who the agent is toward a deal of `team`: its address and name on emails ("" is the main one)."""
        t = self.team(team) if team else None
        if t is None:
            return self.agent
        update = {"address": t.address, "name": t.display_name or self.agent.name}
        return self.agent.model_copy(update={**update, "timezone": t.timezone or self.agent.timezone})

    def addresses(self) -> tuple[str, ...]:
        """Every address the agent reads and sends as: mail from any of them is its own."""
        return (self.agent.address, *(t.address for t in self.teams))

    def for_team(self, team: TeamSection) -> Config:
        """This config as the team's mailbox and calendar backends see it (its address, its folders)."""
        local = self.state_dir / "teams" / team.name
        mailbox, calendar = team.mailbox, team.calendar
        if mailbox.backend == "maildir" and mailbox.path is None:
            mailbox = mailbox.model_copy(update={"path": local / "mail"})
        if calendar.backend == "ics" and calendar.path is None:
            calendar = calendar.model_copy(update={"path": local / "calendar"})
        # Graph and Exchange read and send as the team's mailbox, through the same app or account.
        graph = self.graph.model_copy(update={"mailbox": team.address})
        exchange = self.exchange.model_copy(update={"mailbox": team.address})
        update = {"agent": self.identity(team.name), "mailbox": mailbox, "calendar": calendar}
        return self.model_copy(update={**update, "graph": graph, "exchange": exchange, "teams": ()})


# Backends this version has; the others are named in the schema so that their keys are known.
AVAILABLE = {
    "mailbox": ("maildir", "imap", "graph", "exchange"),
    "transport": ("file", "smtp", "graph", "exchange"),
    "calendar": ("ics", "invites", "caldav", "graph", "exchange"),
}
NEEDS_HOST = {"imap", "smtp"}


def _check_backends(config: Config, text: str) -> None:
    problems = _check_servers(config, text, None)
    for i, team in enumerate(config.teams):
        problems += _check_servers(config.for_team(team), text, (i, team.name))
    seen: dict[str, str] = {config.agent.address: "[agent] address"}
    for i, team in enumerate(config.teams):
        at = _team_line(text, i, "", "name")
        where = f"{config.source}:{at}" if at else config.source
        if config.team(team.name) is not team:
            problems.append(f"{where}: [[teams]] name = {team.name!r}: two teams have this name")
        if team.address in seen:
            at = _team_line(text, i, "", "address")
            where = f"{config.source}:{at}" if at else config.source
            problems.append(
                f"{where}: [[teams]] address = {team.address!r}: already the address of {seen[team.address]}"
            )
        seen[team.address] = f"team {team.name}"
    problems += _check_accounts(config, text) + _check_folders(config, text)
    if problems:
        raise ConfigError("\n".join(problems))


def _check_servers(config: Config, text: str, team: tuple[int, str] | None) -> list[str]:
    """The mailbox, transport and calendar backends of the main team, or of one [[teams]] (index, name)."""
    problems = []
    for section, names in AVAILABLE.items():
        if team and section == "transport":
            continue  # one transport sends for every team
        settings = getattr(config, section)
        if team is None:
            at, label = _line_of(text, section, "backend"), f"[{section}]"
        else:
            at, label = (
                _team_line(text, team[0], section, "backend"),
                f"[[teams]] {team[1]}: [teams.{section}]",
            )
        where = f"{config.source}:{at}" if at else config.source
        if settings.backend not in names:
            problems.append(
                f"{where}: {label} backend = {settings.backend!r}: not available in this version; "
                f"expected one of {', '.join(names)}"
            )
        elif settings.backend in NEEDS_HOST and not settings.host:
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
        at = _line_of(text, "graph", "tenant_id") or _backend_line(config, text, "graph")
        problems.append(
            f"{config.source}{f':{at}' if at else ''}: [graph] tenant_id and client_id: the graph backend "
            "needs the app registration's tenant and client IDs (docs/microsoft365.md)"
        )
    if "exchange" in used and not config.exchange.url.startswith(("https://", "http://")):
        at = _line_of(text, "exchange", "url") or _backend_line(config, text, "exchange")
        problems.append(
            f"{config.source}{f':{at}' if at else ''}: [exchange] url = {config.exchange.url!r}: the exchange "
            "backend needs the EWS endpoint, like https://mail.example.com/EWS/Exchange.asmx"
        )
    return problems


def _check_folders(config: Config, text: str) -> list[str]:
    problems = []
    for key in ("processed_folder", "unmatched_folder", "quarantine_folder"):
        if getattr(config.mailbox, key) and config.mailbox.backend != "imap":
            at = _line_of(text, "mailbox", key)
            problems.append(
                f"{config.source}{f':{at}' if at else ''}: [mailbox] {key}: filing mail in folders needs "
                f"backend = 'imap' (the {config.mailbox.backend} backend leaves mail where it is)"
            )
    if config.transport.sent_folder and config.mailbox.backend != "imap":
        at = _line_of(text, "transport", "sent_folder")
        problems.append(
            f"{config.source}{f':{at}' if at else ''}: [transport] sent_folder = "
            f"{config.transport.sent_folder!r}: needs [mailbox] backend = 'imap' (its Sent folder)"
        )
    return problems


def _backend_line(config: Config, text: str, backend: str) -> int | None:
    """The line of the first `backend = ...` that needs the missing settings."""
    for section in ("mailbox", "transport", "calendar"):
        if getattr(config, section).backend == backend:
            return _line_of(text, section, "backend")
    return None


def _shipped(rel: str, base: Path) -> Path:
    """Prefer the folder beside the config (or cwd); fall back to the one shipped with the code."""
    local = base / rel
    return local if local.is_dir() else PROJECT_ROOT / rel


def private_dir(path: Path) -> Path:
    """Create a folder only its owner can enter (client data lives there); an existing one is left alone."""
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
        path.chmod(0o700)  # mkdir's mode is filtered by the umask
    return path


def check_address(value: str) -> str:
    """An addr-spec as email headers need it; raises ValueError naming what is wrong."""
    from email.errors import HeaderParseError
    from email.headerregistry import Address

    value = value.strip()
    try:
        parsed = Address(addr_spec=value)
    except (HeaderParseError, ValueError, IndexError) as exc:
        raise ValueError("expected an email address like name@example.com") from exc
    if not parsed.domain or "." not in parsed.domain or parsed.addr_spec != value:
        raise ValueError("expected an email address like name@example.com")
    return value.lower()


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("expected an IANA time zone name such as Europe/London") from exc
    return name


def find_config(explicit: str | None) -> Path | None:
    """--config FILE, else agent.toml in the current folder, else $AGENT_CONFIG, else none."""
    if explicit:
        return Path(explicit)
    if Path(DEFAULT_CONFIG_NAME).is_file():
        return Path(DEFAULT_CONFIG_NAME)
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else None


def load_config(path: Path | None, *, state_override: Path | None = None) -> Config:
    if path is None:
        data: dict[str, Any] = {}
        base, source = Path.cwd(), "embedded defaults"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        base, source = path.resolve().parent, str(path)
        # Relative secret and CA files are beside the config, like every other path in it, not in the cwd.
        teams = data.get("teams")
        subs = (
            [t.get(n) for t in teams if isinstance(t, dict) for n in ("mailbox", "calendar")]
            if isinstance(teams, list)
            else []
        )
        for section in [data.get(n) for n in ("mailbox", "transport", "calendar")] + subs:
            for key in ("password_file", "tls_ca_file"):
                if isinstance(section, dict) and isinstance(section.get(key), str):
                    section[key] = str(base / section[key])
    if state_override is not None:
        data.setdefault("paths", {})["state"] = str(state_override)
    try:
        config = Config.model_validate({**data, "source": source, "base_dir": base})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, text if path else "")) from exc
    _check_backends(config, text if path else "")
    return config


def _describe(exc: ValidationError, source: str, text: str) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        section, key = (loc[0], ".".join(loc[1:])) if len(loc) > 1 else ("", loc[0] if loc else "?")
        where = f"[{section}] {key}" if section else key
        if section == "teams" and len(loc) > 2 and loc[1].isdigit():  # [[teams]] number N, maybe a sub-table
            sub, name = (loc[2], loc[3]) if len(loc) > 3 else ("", loc[2])
            line = _team_line(text, int(loc[1]), sub, name)
            where = f"[[teams]] number {int(loc[1]) + 1}: {f'[teams.{sub}] ' if sub else ''}{name}"
        else:
            line = _line_of(text, section, loc[1] if len(loc) > 1 else (loc[0] if loc else ""))
        at = f"{source}:{line}" if line else source
        if err["type"] == "extra_forbidden":
            what = "unknown key (see docs/configuration.md for the keys of each section)"
            lines.append(f"{at}: {where}: {what}")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{at}: {where} = {err.get('input')!r}: {msg}")
    return "\n".join(lines)


def _team_line(text: str, index: int, section: str, key: str) -> int | None:
    """Best effort: the line of `key` in the index-th [[teams]] table ("") or its [teams.<section>]."""
    count, current = -1, ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if re.fullmatch(r"\[\[\s*teams\s*\]\]", line):
            count, current = count + 1, ""
            continue
        header = re.fullmatch(r"\[\s*teams\.([^\]]+?)\s*\]", line)
        if header:
            current = header.group(1)
            continue
        if line.startswith("["):
            current = "-"  # another section: not the team's
            continue
        if count == index and current == section and re.match(rf"{re.escape(key)}\s*=", line):
            return number
    return None


def _line_of(text: str, section: str, key: str) -> int | None:
    """Best effort: the line where `key` is set inside `[section]` (tomllib keeps no positions)."""
    current = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.fullmatch(r"\[\s*([^\]]+?)\s*\]", line)
        if header:
            current = header.group(1)
            if not section and current == key:
                return number
            continue
        if current == section and re.match(rf"{re.escape(key)}\s*=", line):
            return number
    return None
