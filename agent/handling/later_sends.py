"""The emails a rule sends later, as an earlier email of the same rule names them.

The completion email tells the client when the survey comes. "Tomorrow" is false on a Friday
and before a holiday; the day is worked out here exactly as the runner works it out a moment
later for the survey itself (its `after` and `at`, the business calendar with its holidays,
the client's time zone), so the day the email names is the day the survey goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from agent.businesstime import BusinessCalendar
from agent.domain import DealView
from agent.outbox.context import later_email
from agent.pipeline.actions import Raci, SendEmail, plan
from agent.pipeline.definition import Pipeline
from agent.pipeline.schema import ActionDef


def sends_later(actions: Sequence[ActionDef], template: str) -> bool:
    """Whether the rule sends another email than `template` (most rules send one: nothing to plan)."""
    return any(a.send is not None and a.send != template for a in actions)


def later_sends(
    actions: Sequence[ActionDef],
    template: str,
    *,
    deal: DealView,
    raci: Raci,
    pipeline: Pipeline,
    now: datetime,
    calendar: BusinessCalendar,
) -> dict[str, dict[str, str]]:
    """{template: {date, day}} of the rule's other emails that go after now and to someone."""
    found: dict[str, dict[str, str]] = {}
    for action in actions:
        if action.send is None or action.send == template:
            continue
        effect = plan(action, deal=deal, raci=raci, pipeline=pipeline, now=now, calendar=calendar)
        if isinstance(effect, SendEmail) and effect.to and effect.due_at > now:
            found.setdefault(action.send, later_email(effect.due_at, deal.timezone))
    return found
