"""`config show`: the config the agent runs with, after the file, the environment and the flags, secrets masked.

What is printed is what the schema holds: `password_env` and `password_file` are the names of
where a secret is, never the secret, and a resolved secret is never read for this. Two kinds of
value are still masked, because they can carry one: a password inside a URL (a PostgreSQL
`[store] url`), and any value read from a file through a CSM_AGENT__…_FILE variable (that is
how secrets are handed over). The printout also goes through the log's redaction, which knows
every configured secret, so a secret pasted into an ordinary key is masked too.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from pydantic import BaseModel

from agent import logs
from agent.cli.app import App, SubParsers, command, group
from agent.config import Config, env

MASK = "***"
_URL_PASSWORD = re.compile(r"(://[^/\s:@]+:)[^@\s/]+@")


def add_parser(sub: SubParsers) -> None:
    actions = group(sub, "config", "the config the agent runs with")
    show = command(
        actions,
        "show",
        cmd_show,
        "print the effective config (file, environment and flags), secrets masked, and where each "
        "key came from",
        reads_only=True,
    )
    show.add_argument("--json", action="store_true", help="as JSON")


def cmd_show(app: App) -> int:
    config = app.config
    settings = env.settings(os.environ, Config)  # as load_config read them: they passed then
    by_env = {s.path: s for s in settings}
    flags = {("paths", "state"): "--state"} if getattr(app.args, "state", None) else {}
    values = _masked(config.model_dump(mode="json"), {k for k, s in by_env.items() if s.from_file})
    origins = _origins(config, {k: s.variable for k, s in by_env.items()}, flags)
    if app.args.json:
        data = {
            "source": config.source,
            "sections": values,
            "origins": origins,
            "resolved": _resolved(config),
        }
        print(logs.redact(json.dumps(data, indent=2)))
    else:
        print(logs.redact(_text(config, values, origins)))
    return 0


def _masked(values: dict[str, Any], from_files: set[tuple[str, ...]]) -> dict[str, Any]:
    """The dumped config with every value that may be a secret replaced."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return _URL_PASSWORD.sub(rf"\1{MASK}@", node) if isinstance(node, str) else node

    shown = walk(values)
    for path in from_files:
        node = shown
        for part in path[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        node[path[-1]] = MASK
    return dict(shown)


def _origins(
    config: Config, variables: dict[tuple[str, ...], str], flags: dict[tuple[str, str], str]
) -> dict[str, dict[str, Any]]:
    """Per section: whether the file set any of its keys, and which keys the environment and flags set;
    per table of an array (`teams.0`, `teams.0.mailbox`), the keys the environment set."""
    found: dict[str, dict[str, Any]] = {}
    for path, var in variables.items():
        if len(path) > 2:
            found.setdefault(".".join(path[:-1]), {"environment": {}})["environment"][path[-1]] = var
    file_name = config.source if config.source != "embedded defaults" else None
    for name in env.sections(Config):
        section: BaseModel = getattr(config, name)
        from_env = {path[1]: var for path, var in variables.items() if path[:1] == (name,) and len(path) == 2}
        from_flags = {key: flag for (sec, key), flag in flags.items() if sec == name}
        in_file = sorted(set(section.model_fields_set) - set(from_env) - set(from_flags))
        found[name] = {
            "file": file_name if in_file and file_name else None,
            "environment": from_env,
            "flags": from_flags,
        }
    return found


def _resolved(config: Config) -> dict[str, str]:
    """The locations the keys resolve to (relative paths against the config's folder, defaults filled in)."""
    return {
        "state": str(config.state_dir),
        "store": _URL_PASSWORD.sub(rf"\1{MASK}@", config.store_url),
        "rules": str(config.rules_dir),
        "templates": str(config.templates_dir),
    }


def _text(config: Config, values: dict[str, Any], origins: dict[str, dict[str, Any]]) -> str:
    """TOML, so that it can be read as the file it amounts to; where a key came from is a comment."""
    lines = [f"# config: {config.source}"]
    lines += [f"# {key}: {where}" for key, where in _resolved(config).items()]
    lines += _table("", config, values, origins, "")
    return "\n".join(lines)


def _toml_name(path: str) -> str:
    """`teams.0.mailbox` as its TOML header names it, `teams.mailbox` (under the last [[teams]])."""
    return ".".join(p for p in path.split(".") if not p.isdigit())


def _table(
    header: str, model: BaseModel, values: dict[str, Any], origins: dict[str, Any], path: str
) -> list[str]:
    origin = origins.get(path, {})
    lines, subs = ([""] if header else []), []
    if header and "file" in origin:  # a section
        came = f"from {origin['file']}" if origin.get("file") else "defaults"
        came += "; environment" if origin.get("environment") else ""
        came += "; command line" if origin.get("flags") else ""
        lines.append(f"{header}  # {came}")
    elif header:  # a table of an array, or in one: the keys the environment set say so on their line
        lines.append(header)
    for name in type(model).model_fields:
        if name not in values:
            continue  # not part of the file (where the config came from)
        value, shown = getattr(model, name), values[name]
        where = f"{path}.{name}" if path else name
        if isinstance(value, BaseModel):
            subs.append((f"[{_toml_name(where)}]", value, shown, where))
        elif isinstance(value, tuple) and value and all(isinstance(v, BaseModel) for v in value):
            subs += [
                (f"[[{_toml_name(where)}]]", v, s, f"{where}.{i}")
                for i, (v, s) in enumerate(zip(value, shown, strict=True))
            ]
        elif shown is None:
            lines.append(f"# {name}: not set")
        else:
            note = origin.get("environment", {}).get(name) or origin.get("flags", {}).get(name)
            lines.append(f"{name} = {_toml(shown)}" + (f"  # {note}" if note else ""))
    for sub_header, sub_model, sub_values, sub_path in subs:
        lines += _table(sub_header, sub_model, sub_values, origins, sub_path)
    return lines


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    return repr(value)
