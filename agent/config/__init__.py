"""The TOML config: loaded and validated before any I/O; every option has a type, a default and help.

`sections` holds one model per section (`values` the checks they share), `model` the whole
Config, `load` reads a file into it (with `checks` across sections and `lines` to name the
line of a problem), `paths` where the config and the shipped files are found. Callers
import from here.
"""

from agent.config.chat import ChatChannelSection, ChatSection, SeveritySection
from agent.config.dashboard import DashboardSection
from agent.config.load import load_config
from agent.config.model import Config
from agent.config.paths import CONFIG_ENV, DEFAULT_CONFIG_NAME, PROJECT_ROOT, find_config, private_dir
from agent.config.sections import (
    AgentSection,
    CalendarSection,
    DaemonSection,
    DigestsSection,
    ExchangeSection,
    GraphSection,
    MailboxSection,
    OAuth2Grant,
    PathsSection,
    ReviewSection,
    Secret,
    Section,
    ServerSection,
    StoreSection,
    TeamSection,
    TransportSection,
)
from agent.config.values import Port, Weekday, check_address, check_timezone

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_NAME",
    "PROJECT_ROOT",
    "AgentSection",
    "CalendarSection",
    "ChatChannelSection",
    "ChatSection",
    "Config",
    "DaemonSection",
    "DashboardSection",
    "DigestsSection",
    "ExchangeSection",
    "GraphSection",
    "MailboxSection",
    "OAuth2Grant",
    "PathsSection",
    "Port",
    "ReviewSection",
    "Secret",
    "Section",
    "ServerSection",
    "SeveritySection",
    "StoreSection",
    "TeamSection",
    "TransportSection",
    "Weekday",
    "check_address",
    "check_timezone",
    "find_config",
    "load_config",
    "private_dir",
]
