"""Config keys from the environment: CSM_AGENT__SECTION__KEY=value, and CSM_AGENT__SECTION__KEY_FILE=/path.

Containers and service managers hand settings to a program as environment variables, and
secrets as files (a Kubernetes secret volume, systemd's LoadCredential, Docker secrets), so
every key of every section can be given either way without editing the file:

- `CSM_AGENT__MAILBOX__HOST=imap.example.com` sets `[mailbox] host`;
- `CSM_AGENT__MAILBOX__HOST_FILE=/run/secrets/host` reads it from the file's first line,
  with the rule of `password_file` (private to the agent's user, or root's and 0640/0440);
- a key that is itself a file name (`password_file`, `tls_ca_file`) is set with its plain
  name: `CSM_AGENT__MAILBOX__PASSWORD_FILE=/run/secrets/imap` names the file, as in the config.

A value is read as a TOML value when it is one (`60`, `true`, `["mon", "tue"]`, `"text"`), else
it is the text as written, so `imap.example.com` needs no quotes. The tables inside an array
(`[[teams]]`, its `[teams.mailbox]`, `[[picks]]`, `[[chat.channels]]`) are out of reach: they
have no name to put in a variable, and stay in the file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from agent.config.secret_files import read_secret_file
from agent.errors import ConfigError

PREFIX = "CSM_AGENT__"
FILE_SUFFIX = "_FILE"


@dataclass(frozen=True)
class Setting:
    """One key set by the environment: which variable, and whether its value came from a file."""

    section: str
    key: str
    variable: str
    value: Any
    from_file: Path | None = None

    def shown(self) -> str:
        """The value as a message may print it: never what a file held (it is there because it is secret)."""
        return f"(read from {self.from_file})" if self.from_file else repr(self.value)


def variable(section: str, key: str) -> str:
    """The environment variable that sets `[section] key`."""
    return f"{PREFIX}{section.upper()}__{key.upper()}"


def sections(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """The config's top-level sections a variable can reach: the tables, not the arrays of tables."""
    found = {}
    for name, field in model.model_fields.items():
        kind = field.annotation
        if field.exclude or not (isinstance(kind, type) and issubclass(kind, BaseModel)):
            continue  # source, base_dir, and the arrays ([[teams]], [[picks]])
        found[name] = kind
    return found


def parse_value(text: str, field: FieldInfo | None = None) -> Any:
    """A TOML value when the text is one, else the text itself (a host name needs no quotes).

    When the key's type refuses the TOML value but takes the text (`version = 15.1` is a number,
    `worker_id = 2026-01-01` a date, both strings to the agent), the text is what was meant.
    """
    try:
        parsed = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    if field is None or parsed == text:
        return parsed
    kind: Any = field.annotation
    if field.metadata:  # bounds like ge=1 live here, beside the type
        kind = Annotated.__class_getitem__((kind, *field.metadata))  # type: ignore[attr-defined]
    check: TypeAdapter[Any] = TypeAdapter(kind)
    for candidate in (parsed, text):
        try:
            check.validate_python(candidate)
        except ValidationError:
            continue
        return candidate
    return parsed  # refused either way: the schema's message says what was expected


def settings(environ: Mapping[str, str], model: type[BaseModel]) -> list[Setting]:
    """Every CSM_AGENT__ variable as the key it sets; ConfigError naming each variable that sets none."""
    known = sections(model)
    found, problems = [], []
    for name in sorted(environ):
        if not name.upper().startswith(PREFIX):
            continue
        raw = environ[name]
        parts = name[len(PREFIX) :].lower().split("__")
        if len(parts) != 2 or parts[0] not in known or not parts[1]:
            problems.append(
                f"environment {name}: not a config key; expected {PREFIX}SECTION__KEY with a section of "
                f"{', '.join(sorted(known))} (the tables of [[teams]], [[picks]] and [[chat.channels]] "
                "are set in the file only)"
            )
            continue
        section, key = parts
        keys = known[section].model_fields
        if key in keys:
            found.append(Setting(section, key, name, parse_value(raw, keys[key])))
        elif key.endswith(FILE_SUFFIX.lower()) and key[: -len(FILE_SUFFIX)] in keys:
            path = Path(raw)
            try:
                text = read_secret_file(path)
            except ConfigError as exc:
                problems.append(f"environment {name} = {raw!r}: {str(exc).removeprefix('password_file ')}")
                continue
            real = key[: -len(FILE_SUFFIX)]
            found.append(Setting(section, real, name, parse_value(text, keys[real]), path))
        else:
            # The value is not printed: a password given the wrong way is still a password.
            problems.append(
                f"environment {name}: [{section}] has no key {key!r}; expected one of "
                f"{', '.join(keys)} (or KEY{FILE_SUFFIX} to read one from a file)"
            )
    if problems:
        raise ConfigError("\n".join(problems))
    return found


def apply(data: dict[str, Any], found: list[Setting]) -> None:
    """The environment's keys over the file's (the command line's flags are applied after, and win)."""
    for s in found:
        table = data.setdefault(s.section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"environment {s.variable}: [{s.section}] in the config file is not a table")
        table[s.key] = s.value
