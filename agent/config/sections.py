"""The sections of the config file, one model each: every option with its type, default and help.

Each section checks its own values (with agent.config.values); what depends on several
sections at once is checked in agent.config.checks; the whole file is agent.config.model.Config.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.businesstime import check_country, parse_hours
from agent.config.secret_files import read_secret_file
from agent.config.values import (
    BindAddress,
    CalendarBackend,
    MailboxBackend,
    Port,
    TransportBackend,
    Weekday,
    check_address,
    check_timezone,
)
from agent.errors import ConfigError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Secret(Section):
    """Where a password or token comes from; never inline in the file."""

    password_env: str | None = Field(None, description="Environment variable holding the secret")
    password_file: Path | None = Field(None, description="File whose first line is the secret")

    def password(self) -> str | None:
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigError(f"environment variable {self.password_env} (password_env) is not set")
            return value
        if self.password_file:
            return read_secret_file(self.password_file)  # 0600, or 0640/0440 owned by root: see there
        return None


class AgentSection(Section):
    address: str = Field("onboarding@example.com", description="The agent's own mailbox address")
    name: str = Field("Onboarding Team", description="Display name on the agent's emails")
    internal_domains: tuple[str, ...] = Field(("example.com",), description="Domains of our own people")
    timezone: str = Field("UTC", description="Default IANA time zone for deals without one")
    business_days: tuple[Weekday, ...] = Field(
        ("mon", "tue", "wed", "thu", "fri"), description='Days that count for "N business days"'
    )
    holidays: tuple[str, ...] = Field((), description="ISO dates (YYYY-MM-DD) that are not business days")
    country: str = Field(
        "",
        description="Country (ISO 3166, like GB, or with a region, like DE-BY) whose public holidays are not "
        "business days, for our people and for deals with no country of their own; empty: none",
    )
    business_hours: str = Field(
        "09:00-17:00",
        description="When reminders, escalations, digests and plans reach people, in each one's own time zone",
    )
    trusted_authserv_ids: tuple[str, ...] = Field(
        (),
        description="Authentication-Results authserv-ids whose DKIM/SPF/DMARC verdicts prove an internal From",
    )
    unmatched_notice_to: tuple[str, ...] = Field((), description="Who gets the daily list of unmatched mail")
    max_emails_per_deal_per_day: int = Field(20, ge=1, description="More emails on a deal in 24 h wait")
    max_emails_per_recipient_per_day: int = Field(10, ge=1, description="The same, per recipient")

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

    @field_validator("country")
    @classmethod
    def _country(cls, v: str) -> str:
        return check_country(v) if v else v

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, v: str) -> str:
        parse_hours(v)
        return v

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


class OAuth2Grant(Secret):
    """A secret that may be an OAuth2 refresh token, renewed at a token endpoint (agent.connect.oauth2)."""

    oauth2_token_url: str = Field(
        "",
        description=(
            "OAuth2 (auth = xoauth2, or oauth2 in [exchange]): the token endpoint; the secret is then a "
            "refresh token the agent renews access tokens from, keeping each rotated one"
        ),
    )
    oauth2_client_id: str = Field("", description="OAuth2 with a token endpoint: the OAuth client's ID")
    oauth2_client_secret_file: Path | None = Field(
        None, description="OAuth2 with a token endpoint: file holding the OAuth client's secret (private)"
    )

    def oauth2_client_secret(self) -> str | None:
        if self.oauth2_client_secret_file is None:
            return None
        return Secret(password_file=self.oauth2_client_secret_file).password()


class ServerSection(OAuth2Grant):
    host: str = Field("", description="Server host name (required for imap and smtp)")
    port: Port | None = Field(None, description="Server port; default 993/143 (imap), 465/587 (smtp) by tls")
    tls: Literal["none", "starttls", "ssl"] = Field("ssl", description="Transport security")
    tls_verify: bool = Field(True, description="Verify the server certificate (never turn off in production)")
    tls_ca_file: Path | None = Field(
        None, description="PEM file of a private CA to trust, besides the system's"
    )
    username: str = Field("", description="Login name")
    auth: Literal["password", "xoauth2"] = Field(
        "password", description="xoauth2: the secret is an access token (or a refresh token, see below)"
    )
    timeout_seconds: float = Field(
        60.0, gt=0, description="Network read timeout: a dead connection is noticed"
    )


class MailboxSection(ServerSection):
    backend: MailboxBackend = Field("maildir", description="Where mail is read from (see above)")
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
    history: Literal["record", "act"] = Field(
        "record",
        description="The mail the folder held before the agent first watched it: record (logged and "
        "matched to its deal, not acted on) or act (acted on as if new: a team moving the agent to a new "
        "server); docs/mail.md",
    )


class TransportSection(ServerSection):
    backend: TransportBackend = Field("file", description="How mail is sent (see above)")
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
    backend: CalendarBackend = Field("ics", description="Where meetings are read from (see above)")
    path: Path | None = Field(
        None, description="Folder of .ics files (ics backend); default <state>/calendar"
    )
    url: str = Field("", description="caldav: the calendar collection's URL")
    completion_grace_minutes: int = Field(
        15, ge=0, description="Minutes after a meeting's end before it counts as held"
    )
    lookahead_days: int = Field(120, ge=1, description="Recurring series are expanded this far ahead")
    lookbehind_days: int = Field(30, ge=1, description="… and this far back")
    # a daily call over the default window (30 days back, 120 ahead) is 150 occurrences; each one
    # read is a meeting row and a timer written in the item's transaction (about 15 ms)
    max_occurrences: int = Field(
        200, ge=1, le=100_000, description="At most this many occurrences of one series are read"
    )


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


class ExchangeSection(OAuth2Grant):
    """Exchange Server on-premises through EWS (exchangelib). The secret is the account's password,
    or with auth = "oauth2" an access token (or a refresh token, with oauth2_token_url)."""

    url: str = Field("", description="EWS endpoint, like https://mail.example.com/EWS/Exchange.asmx")
    username: str = Field("", description="DOMAIN\\user or user@domain, as Exchange signs in")
    auth: Literal["ntlm", "basic", "oauth2"] = Field(
        "ntlm", description="oauth2: the secret is an access token (or a refresh token, see below)"
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
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log detail (-v: DEBUG)"
    )
    log_format: Literal["plain", "json"] = Field("plain", description="json: one JSON object per line")
    health_port: int = Field(
        0, ge=0, le=65535, description="Serve /livez, /readyz (/health) and /metrics on health_bind (0: off)"
    )
    health_bind: BindAddress = Field(
        "127.0.0.1",
        description="The IP address the health port listens on; 0.0.0.0 only in a container, whose "
        "published port is the only way in (elsewhere it exposes the figures to the network)",
    )
    # An item holds the store's write lock while it works: a command-line write waits for it
    # (up to three times [store] busy_timeout_seconds), so the budget stays well below that.
    item_budget_seconds: float = Field(
        15.0,
        ge=0,
        description="One input's processing stops after this and the input is quarantined (0: no limit)",
    )
    item_memory_mb: float = Field(
        100.0,
        ge=0,
        description="One input's processing stops once the process has grown by this much memory while "
        "working on it, and the input is quarantined (0: no limit)",
    )
    # A backlog's messages commit in groups, each able to roll back alone (agent.daemon.group); one
    # new message still commits alone at once. The time bound keeps the write lock short.
    group_items: int = Field(
        50, ge=1, description="A backlog's messages committed together at most (1: each alone)"
    )
    group_seconds: float = Field(
        0.2,
        gt=0,
        le=10,
        description="A group of a backlog's messages commits once it has been open this long",
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
    country: str = Field(
        "", description="Country whose public holidays its people and its deals keep; default [agent] country"
    )
    mailbox: MailboxSection = Field(MailboxSection(), description="The team's mailbox (see below)")
    calendar: CalendarSection = Field(CalendarSection(backend="invites"), description="The team's calendar")

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

    @field_validator("country")
    @classmethod
    def _country(cls, v: str) -> str:
        return check_country(v) if v else v
