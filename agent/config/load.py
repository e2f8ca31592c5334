"""Reading the config: the file's TOML, the environment's keys, the flags; the schema, the checks across
sections, and messages a person can act on.

Validation happens before any I/O: a bad value is reported with the file (or the environment
variable), the section and key, the value and what was expected (see docs/configuration.md).
Precedence: a command-line flag (`--state`) > the environment (agent.config.env) > the file >
the embedded defaults.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.config.checks import check_backends
from agent.config.env import Setting, apply, settings
from agent.config.lines import line_of, team_line
from agent.config.model import Config
from agent.errors import ConfigError


def load_config(
    path: Path | None, *, state_override: Path | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """The config of `path` (None: the embedded defaults), under the CSM_AGENT__ variables of `environ`
    (default: this process's environment), under `state_override` (the --state flag)."""
    from_env = settings(os.environ if environ is None else environ, Config)
    if path is None:
        data: dict[str, Any] = {}
        base, source = Path.cwd(), "embedded defaults"
        apply(data, from_env)
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        base, source = path.resolve().parent, str(path)
        # A value from the environment is read as if it were written in the file, paths included.
        apply(data, from_env)
        # Relative secret and CA files are beside the config, like every other path in it, not in the cwd.
        teams = data.get("teams")
        subs = (
            [t.get(n) for t in teams if isinstance(t, dict) for n in ("mailbox", "calendar")]
            if isinstance(teams, list)
            else []
        )
        for section in [data.get(n) for n in ("mailbox", "transport", "calendar")] + subs:
            for key in ("password_file", "tls_ca_file"):
                if isinstance(section, dict) and isinstance(section.get(key), str):
                    section[key] = str(base / section[key])
    if state_override is not None:
        data.setdefault("paths", {})["state"] = str(state_override)
    try:
        config = Config.model_validate({**data, "source": source, "base_dir": base})
    except ValidationError as exc:
        by_env = {s.path: s for s in from_env}
        raise ConfigError(_describe(exc, source, text if path else "", by_env)) from exc
    check_backends(config, text if path else "", from_env)
    return config


def _describe(exc: ValidationError, source: str, text: str, by_env: Mapping[tuple[str, ...], Setting]) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        section, key = (loc[0], ".".join(loc[1:])) if len(loc) > 1 else ("", loc[0] if loc else "?")
        where = f"[{section}] {key}" if section else key
        if section == "teams" and len(loc) > 2 and loc[1].isdigit():  # [[teams]] number N, maybe a sub-table
            sub, name = (loc[2], loc[3]) if len(loc) > 3 else ("", loc[2])
            line = team_line(text, int(loc[1]), sub, name)
            where = f"[[teams]] number {int(loc[1]) + 1}: {f'[teams.{sub}] ' if sub else ''}{name}"
        else:
            line = line_of(text, section, loc[1] if len(loc) > 1 else (loc[0] if loc else ""))
        at = f"{source}:{line}" if line else source
        # the key itself, or the list or table it is in (`business_days`' second item)
        setting = next(
            (by_env[tuple(loc[:n])] for n in range(len(loc), 0, -1) if tuple(loc[:n]) in by_env), None
        )
        if setting is not None:  # the environment's value is the one the schema refused, not the file's
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"environment {setting.variable}: {where} = {setting.shown()}: {msg}")
            continue
        if err["type"] == "extra_forbidden":
            what = "unknown key (see docs/configuration.md for the keys of each section)"
            lines.append(f"{at}: {where}: {what}")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{at}: {where} = {err.get('input')!r}: {msg}")
    return "\n".join(lines)
