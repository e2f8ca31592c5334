"""Where and when a person of a deal is reached: their time zone and the business calendar they keep.

A client contact lives in the deal's zone and keeps the deal's country's holidays (the deal's
`country` attribute, else its team's, else `[agent] country`); our people live in their team's
zone (`[[teams]] timezone`, else `[agent] timezone`) and keep their team's country's holidays.
Reminders, escalations, digests and plans reach each person in their own business hours.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from agent.businesstime import BusinessCalendar, check_country
from agent.config import Config
from agent.pipeline.definition import Pipeline
from agent.store import models as m

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reach:
    tz: str
    calendar: BusinessCalendar

    def next_open(self, after: datetime) -> datetime:
        """The first moment from `after` on in this person's business hours."""
        return self.calendar.next_open(after, self.tz)

    def in_hours(self, when: datetime) -> bool:
        return self.calendar.in_hours(when, self.tz)


class LocalTime:
    def __init__(self, config: Config, calendar: BusinessCalendar) -> None:
        self.config = config
        self.calendar = calendar  # [agent]'s: its working days, dates, country and hours

    def ours(self, deal: m.Deal) -> Reach:
        """Our people on the deal: the team's zone and country."""
        team = self.config.team(deal.team) if deal.team else None
        country = (team.country if team else "") or self.config.agent.country
        return Reach(self.config.identity(deal.team).timezone, self.calendar.for_country(country))

    def client(self, deal: m.Deal) -> Reach:
        """The client's contacts: the deal's zone, and its own country when it has one."""
        return Reach(deal.timezone, self.calendar.for_country(self.country(deal)))

    def of_role(self, deal: m.Deal, pipeline: Pipeline, role: str) -> Reach:
        return self.client(deal) if pipeline.side_of(role) == "client" else self.ours(deal)

    def country(self, deal: m.Deal) -> str:
        """The deal's `country` attribute (a CSV column or `deals add --attr country=DE`), else its team's."""
        own = str((deal.attributes or {}).get("country", "")).strip()
        if own:
            try:
                return check_country(own)
            except ValueError as exc:  # a typo in a hand-over must not stop its reminders
                log.warning("deal %s: country attribute ignored: %s", deal.id, exc)
        team = self.config.team(deal.team) if deal.team else None
        return (team.country if team else "") or self.config.agent.country
