"""`init DIR`: a team's own copy of the shipped pipelines, templates and a commented agent.toml.

An installed agent reads the pipelines and templates inside its package, which an upgrade replaces;
a team that wants to change them owns a copy instead, named by its config's [paths] (the copy is
then what the agent reads, and what `check` validates). Nothing existing is ever overwritten: a
half-merged folder of someone's edited rules and new shipped ones would be worse than a refusal.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from agent.cli.app import App, SubParsers, command
from agent.config.paths import DEFAULT_CONFIG_NAME, shipped_default
from agent.errors import InputError

# (what is shipped, where it goes in DIR): the same relative names the config's [paths] defaults use
COPIES = (("rules", "rules"), ("templates/emails", "templates/emails"))
EXAMPLE = "agent.example.toml"
NAMED_AT_MOST = 10  # existing files named in the refusal; the rest are counted
# what an editor or a Python run leaves in a folder is not part of the copy
LITTER = ("__pycache__", ".*", "*.pyc", "*~", "*.swp")


def cmd_init(app: App) -> int:
    target = Path(app.args.dir)
    if target.exists() and not target.is_dir():
        raise InputError(f"{target} exists and is not a folder")
    plan = planned(target)
    config = target / DEFAULT_CONFIG_NAME
    existing = [p for p in [*(dest for _, dest in plan), config] if p.exists() or p.is_symlink()]
    if existing:
        named = ", ".join(str(p) for p in existing[:NAMED_AT_MOST])
        more = f" and {len(existing) - NAMED_AT_MOST} more" if len(existing) > NAMED_AT_MOST else ""
        raise InputError(
            f"{named}{more} already exist{'s' if len(existing) == 1 else ''}: init never overwrites "
            f"(move them aside, or choose an empty folder); nothing was written"
        )
    # the config first, in memory: a shipped example that cannot be adapted fails before any write
    config_text = team_config(shipped_default(EXAMPLE).read_text(encoding="utf-8"), app.args.state)
    for source, dest in plan:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
    config.write_text(config_text, encoding="utf-8")
    rules = sum(1 for _, dest in plan if dest.parent == target / "rules")
    emails = target / "templates" / "emails"
    templates = {dest.relative_to(emails).parts[0] for _, dest in plan if dest.parent.parent == emails}
    print(
        f"wrote {config}, {rules} pipelines in {target / 'rules'}, {len(templates)} email templates in {emails}"
    )
    print(f"edit them, then: csm-agent --config {config} check")
    return 0


def planned(target: Path) -> list[tuple[Path, Path]]:
    """(shipped file, its copy) for every file of the shipped folders, in a stable order."""
    plan: list[tuple[Path, Path]] = []
    for rel, dest_rel in COPIES:
        root = shipped_default(rel)
        if not root.is_dir():  # an install without its package data: said, not a half-made folder
            raise InputError(f"{root}: the shipped {rel} folder is missing from this installation")
        for source in sorted(root.rglob("*")):
            parts = source.relative_to(root).parts
            if source.is_file() and not any(_litter(part) for part in parts):
                plan.append((source, target / dest_rel / Path(*parts)))
    return plan


def _litter(name: str) -> bool:
    return any(Path(name).match(pattern) for pattern in LITTER)


def team_config(example: str, state: str | None) -> str:
    """The example config with [paths] naming the copies beside it (and the state folder, if given).

    Paths in a config are relative to its own folder, so "rules" means DIR/rules wherever the agent
    is started from. With a state folder elsewhere (/var/lib/csm-agent), the example's explicit
    state/mail, state/sent and state/calendar are commented out so they follow it as their defaults.
    """
    state_value = state or "state"
    paths = (
        "[paths]\n"
        f"state = {json.dumps(state_value)}\n"  # a JSON string is a TOML basic string
        'rules = "rules"                           # this team\'s copy (csm-agent init): edit it, then `check`\n'
        'templates = "templates/emails"            # likewise; remove both lines to follow the shipped ones\n'
    )
    text, found = re.subn(r"(?ms)^\[paths\]\n.*?(?=^\[|\Z)", lambda _: paths + "\n", example, count=1)
    if not found:
        raise InputError(f"the shipped {EXAMPLE} has no [paths] section to point at the copies")
    if state:
        text = re.sub(
            r'(?m)^path = "state/(\w+)"(.*)$',
            lambda m: f'# path = "state/{m[1]}"{m[2]}   (default: <state>/{m[1]})',
            text,
        )
    header = (
        "# This team's csm-agent configuration, written by `csm-agent init` from the shipped\n"
        "# agent.example.toml: rules/ and templates/emails/ beside it are this team's to edit.\n"
    )
    return header + text


def add_parser(sub: SubParsers) -> None:
    p = command(
        sub,
        "init",
        cmd_init,
        "write an editable copy of the shipped rules and templates, and a commented agent.toml, into DIR "
        "(with the global --state, that folder is the config's [paths] state)",
    )
    p.add_argument(
        "dir", metavar="DIR", help="the folder to write (created if missing; nothing in it is overwritten)"
    )
