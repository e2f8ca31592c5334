"""Times as the viewer reads them: in their time zone, "Tue 3 Dec, 10:00" and "Tue 3 Dec 2026".

The viewer's zone is the agent's `[agent] timezone`, unless the page's address asks for another
(`?tz=Area/City`, e.g. a CSM abroad).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Request

from agent.dashboard.site import Site


def viewer_zone(site: Site, req: Request) -> ZoneInfo:
    """The zone `?tz=` names, else the agent's (an unknown or malformed name is ignored)."""
    asked = req.args.get("tz", "")
    try:
        return ZoneInfo(asked)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a folder, not a zone
        return ZoneInfo(site.runtime().config.agent.timezone)


def moment(at: datetime, zone: ZoneInfo) -> str:
    """ "Tue 3 Dec, 10:00" in that zone."""
    local = at.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b, %H:%M}"


def day(at: datetime, zone: ZoneInfo) -> str:
    """ "Tue 3 Dec 2026": the day it is in that zone."""
    local = at.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y}"
