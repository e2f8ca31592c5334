"""The whole config: its sections, the locations they resolve to, and each team's view of it."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from agent.config.chat import ChatSection, SeveritySection
from agent.config.dashboard import DashboardSection
from agent.config.paths import shipped
from agent.config.picks import PickSection
from agent.config.sections import (
    AgentSection,
    CalendarSection,
    DaemonSection,
    DigestsSection,
    ExchangeSection,
    GraphSection,
    MailboxSection,
    PathsSection,
    ReviewSection,
    Section,
    StoreSection,
    TeamSection,
    TransportSection,
)


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
    chat: ChatSection = ChatSection()
    severity: SeveritySection = SeveritySection()
    teams: tuple[TeamSection, ...] = Field((), description="More team mailboxes, each a [[teams]] table")
    picks: tuple[PickSection, ...] = Field((), description="Who fills a role, by a deal attribute: [[picks]]")
    # Where the config came from; relative paths are resolved against its folder.
    source: str = Field("embedded defaults", exclude=True)
    base_dir: Path = Field(Path("."), exclude=True)

    # Resolved locations: these make the defaults in DESIGN.md concrete.
    @property
    def state_dir(self) -> Path:
        return self._resolve(self.paths.state)

    @property
    def rules_dir(self) -> Path:
        return self._resolve(self.paths.rules) if self.paths.rules else shipped("rules", self.base_dir)

    @property
    def templates_dir(self) -> Path:
        if self.paths.templates:
            return self._resolve(self.paths.templates)
        return shipped("templates/emails", self.base_dir)

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
