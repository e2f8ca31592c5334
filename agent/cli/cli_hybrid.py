"""`deals hybrid` and `deals escalate`: an account became hybrid, an escalation on it (seeds/004).

They are actions of the `deals` group, not a group of their own: each acts on one deal named as
every `deals` action names it (id or exact name), beside `deals advance`, and a person looks for
them there. They live in this module because cli_deals.py is at its size limit; cli_deals only
registers them. The work itself is agent.handling.hybrid's, which the email commands share.
"""

from __future__ import annotations

from typing import Any

from agent.cli.app import App, SubParsers, command, out
from agent.config import check_address
from agent.config.values import parse_person
from agent.deal_data import missing
from agent.domain import HYBRID_PATHS
from agent.errors import InputError
from agent.handling.cause import Cause
from agent.handling.hybrid import HYBRID, become_hybrid, escalate
from agent.store.repo import Repo

WHO = "the command line"  # who acted, in the audit trail, unless --as names the person


def cmd_hybrid(app: App) -> int:
    a = app.args
    who = _who(a.as_)
    roles = dict(_role(item) for item in a.role or [])
    pipelines = app.runtime.rules.pipelines

    def switch(repo: Repo, cause: Cause) -> dict[str, Any]:
        deal = app.deal(repo, a.deal)
        was = deal.pipeline
        runner = app.runtime.handlers.runner
        problem = become_hybrid(
            runner, pipelines, repo, deal, a.path, cause, app.clock.now(), who=who, stage=a.stage, roles=roles
        )
        if problem:
            raise InputError(f"deal {deal.id} {deal.name}: {problem}")  # rolled back: nothing changed
        held = {r.role for r in deal.roles}
        return {
            "id": deal.id,
            "name": deal.name,
            "pipeline": deal.pipeline,
            "stage": deal.stage,
            "path": a.path,
            "switched": was != deal.pipeline,
            "previous_pipeline": (deal.attributes or {}).get("previous_pipeline", ""),
            "expansion_opportunity": (deal.attributes or {}).get("expansion_opportunity", ""),
            "roles_missing": [r for r in pipelines[HYBRID].internal_roles() if r not in held],
            "missing_attributes": missing(deal, pipelines[HYBRID]),
        }

    out(app.change("deals-hybrid", switch), a.json, _hybrid_text)
    return 0


def _hybrid_text(d: dict[str, Any]) -> str:
    head = f"deal {d['id']} {d['name']}: "
    if d["switched"]:
        lines = [head + f"{d['previous_pipeline']} → {d['pipeline']} ({d['path']}), stage {d['stage']}"]
    else:
        lines = [
            head + f"on {d['pipeline']} already (stage {d['stage']}): no switch; the {d['path']} rules ran"
        ]
    if d["expansion_opportunity"]:
        lines.append(f"  expansion opportunity recorded: {d['expansion_opportunity']}")
    if d["roles_missing"]:
        lines.append(f"  nobody is {', '.join(d['roles_missing'])} (give them with --role ROLE=EMAIL)")
    if d["missing_attributes"]:
        lines.append(f"  missing: {', '.join(d['missing_attributes'])} (the pipeline requires them)")
    return "\n".join(lines)


def cmd_escalate(app: App) -> int:
    a = app.args
    who = _who(a.as_)

    def raise_it(repo: Repo, cause: Cause) -> dict[str, Any]:
        deal = app.deal(repo, a.deal)
        problem = escalate(app.runtime.handlers.runner, repo, deal, a.reason, cause, app.clock.now(), who=who)
        if problem:
            raise InputError(f"deal {deal.id} {deal.name}: {problem}")
        return {
            "id": deal.id,
            "name": deal.name,
            "pipeline": deal.pipeline,
            "stage": deal.stage,
            "escalated_by": who,
            "reason": " ".join(a.reason.split()),
            "channels": sorted(deal.chat_channels or {}),
        }

    out(
        app.change("deals-escalate", raise_it),
        a.json,
        lambda d: f"deal {d['id']} {d['name']}: escalated by {d['escalated_by']}: {d['reason']}",
    )
    return 0


def _who(given: str | None) -> str:
    if not given:
        return WHO
    try:
        return check_address(given.strip().lower())
    except ValueError as exc:
        raise InputError(f"--as {given!r}: {exc}") from None


def _role(item: str) -> tuple[str, tuple[str, str]]:
    role, _, text = item.partition("=")
    if not text.strip():
        raise InputError(f"--role {item!r}: expected role=email or role='Name <email>'")
    try:
        return role.strip(), parse_person(text.strip(), f"--role {role.strip()}")
    except ValueError as exc:
        raise InputError(str(exc)) from None


def add_commands(actions: SubParsers) -> None:
    """`deals hybrid` and `deals escalate`, added to the `deals` group's actions."""
    p = command(
        actions, "hybrid", cmd_hybrid, "the account became hybrid: onto hybrid-onboarding, its rules run"
    )
    p.add_argument("deal", help="deal id or exact name")
    p.add_argument("--path", required=True, help=f"how: {' or '.join(HYBRID_PATHS)}")
    p.add_argument("--stage", help="the hybrid stage to enter (default: onboarding, or account-assignment)")
    p.add_argument(
        "--role",
        action="append",
        help="role=email or role='Name <email>': a person the hybrid pipeline needs (repeat)",
    )
    p.add_argument("--as", dest="as_", metavar="EMAIL", help="who says so, for the audit trail")
    p.add_argument("--json", action="store_true")
    p = command(actions, "escalate", cmd_escalate, "an escalation on the deal: its pipeline's rule runs")
    p.add_argument("deal", help="deal id or exact name")
    p.add_argument("--reason", required=True, help="why: recorded, and in the rule's trigger")
    p.add_argument("--as", dest="as_", metavar="EMAIL", help="who escalates, for the audit trail")
    p.add_argument("--json", action="store_true")
