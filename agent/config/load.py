"""Reading the config file: TOML, the schema, the checks across sections, and messages a person can act on.

Validation happens before any I/O: a bad value is reported with the file, the
section and key, the value and what was expected (see docs/configuration.md).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.config.checks import check_backends
from agent.config.lines import line_of, team_line
from agent.config.model import Config
from agent.errors import ConfigError


def load_config(path: Path | None, *, state_override: Path | None = None) -> Config:
    if path is None:
        data: dict[str, Any] = {}
        base, source = Path.cwd(), "embedded defaults"
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
        raise ConfigError(_describe(exc, source, text if path else "")) from exc
    check_backends(config, text if path else "")
    return config


def _describe(exc: ValidationError, source: str, text: str) -> str:
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
        if err["type"] == "extra_forbidden":
            what = "unknown key (see docs/configuration.md for the keys of each section)"
            lines.append(f"{at}: {where}: {what}")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{at}: {where} = {err.get('input')!r}: {msg}")
    return "\n".join(lines)
