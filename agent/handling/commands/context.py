"""What carrying out an email command may use: the rules, the meetings and the pipelines."""

from __future__ import annotations

from dataclasses import dataclass

from agent.handling.meetings import MeetingHandler
from agent.handling.runner import RuleRunner
from agent.pipeline.definition import Pipeline


@dataclass(frozen=True)
class CommandContext:
    runner: RuleRunner
    meetings: MeetingHandler
    pipelines: dict[str, Pipeline]
