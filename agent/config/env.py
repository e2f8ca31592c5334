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
it is the text as written, so `imap.example.com` needs no quotes.

The tables of an array (`[[teams]]`, `[[picks]]`, `[[chat.channels]]`) are numbered from 0 in the
order of the file, as ASP.NET Core and Spring number theirs: `CSM_AGENT__TEAMS__0__ADDRESS` sets
the first team's address, `CSM_AGENT__TEAMS__0__MAILBOX__HOST` its `[teams.mailbox] host`, and a
number past the file's last table adds one (so a whole team can come from the environment). A
number that would leave a gap is refused: the table in between would be empty.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from agent.config.secret_files import read_secret_file
from agent.errors import ConfigError

PREFIX = "CSM_AGENT__"
FILE_SUFFIX = "_FILE"


@dataclass(frozen=True)
class Setting:
    """One key set by the environment: which variable, and whether its value came from a file.

    `path` leads from the config's top to the key: ("mailbox", "host"), or through an array's
    table by its number, ("teams", "0", "mailbox", "host").
    """

    path: tuple[str, ...]
    variable: str
    value: Any
    from_file: Path | None = None

    @property
    def section(self) -> str:
        return self.path[0]

    @property
    def key(self) -> str:
        return self.path[-1]

    @property
    def table(self) -> tuple[str, ...]:
        return self.path[:-1]

    def shown(self) -> str:
        """The value as a message may print it: never what a file held (it is there because it is secret)."""
        return f"(read from {self.from_file})" if self.from_file else repr(self.value)


def variable(*path: str) -> str:
    """The environment variable that sets the key at `path`: variable("mailbox", "host")."""
    return PREFIX + "__".join(p.upper() for p in path)


def sections(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """The config's top-level tables (the arrays of tables are reached through `settings`, by number)."""
    return {name: kind for name, field in model.model_fields.items() if (kind := _table_of(field))}


def arrays(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """The arrays of tables of `model`: [[teams]] and [[picks]] at the top, [[chat.channels]] in [chat]."""
    return {name: kind for name, field in model.model_fields.items() if (kind := array_of(field.annotation))}


def _table_of(field: FieldInfo) -> type[BaseModel] | None:
    kind = field.annotation
    if field.exclude or not (isinstance(kind, type) and issubclass(kind, BaseModel)):
        return None
    return kind


def array_of(kind: Any) -> type[BaseModel] | None:
    """X of tuple[X, ...] when X is a table: an array of tables ([[teams]])."""
    args = get_args(kind)
    if get_origin(kind) is tuple and args and isinstance(args[0], type):
        return args[0] if issubclass(args[0], BaseModel) else None
    return None


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
    found, problems = [], []
    for name in sorted(environ):
        if not name.upper().startswith(PREFIX):
            continue
        try:
            found.append(_setting(name, environ[name], model))
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("\n".join(problems))
    return found


def _setting(name: str, raw: str, model: type[BaseModel]) -> Setting:
    """The key one variable sets, walking the model part by part; ConfigError saying where it went wrong."""
    parts = name[len(PREFIX) :].lower().split("__")
    path: list[str] = []
    table = model
    while parts:
        part = parts.pop(0)
        keys = table.model_fields
        where = f"[{'.'.join(p for p in path if not p.isdigit())}]" if path else "the config"
        field = keys.get(part)
        inner = _table_of(field) if field else None
        array = array_of(field.annotation) if field else None
        if inner is not None and parts:
            table = inner
        elif array is not None and parts:
            number = parts.pop(0)
            if not number.isdigit() or not parts:
                raise ConfigError(
                    f"environment {name}: [[{'.'.join([*path, part])}]] is an array of tables; expected "
                    f"{variable(*path, part)}__<number from 0>__KEY"
                )
            path.append(part)
            part, table = str(int(number)), array
        elif field is not None and not parts and inner is None and array is None:
            return Setting((*path, part), name, parse_value(raw, field))
        elif not parts and part.endswith(FILE_SUFFIX.lower()) and part[: -len(FILE_SUFFIX)] in keys:
            real = part[: -len(FILE_SUFFIX)]
            try:
                text = read_secret_file(Path(raw))
            except ConfigError as exc:
                raise ConfigError(
                    f"environment {name} = {raw!r}: {str(exc).removeprefix('password_file ')}"
                ) from None
            return Setting((*path, real), name, parse_value(text, keys[real]), Path(raw))
        elif field is not None and not parts:
            raise ConfigError(f"environment {name}: names a table, not a key; expected {name}__KEY")
        elif not path:
            known = [*sections(model), *arrays(model)]
            raise ConfigError(
                f"environment {name}: not a config key; expected {PREFIX}SECTION__KEY with a section of "
                f"{', '.join(sorted(known))} (an array's tables by number: {PREFIX}TEAMS__0__ADDRESS)"
            )
        else:
            # The value is not printed: a password given the wrong way is still a password.
            raise ConfigError(
                f"environment {name}: {where} has no key {part!r}; expected one of "
                f"{', '.join(keys)} (or KEY{FILE_SUFFIX} to read one from a file)"
            )
        path.append(part)
    raise ConfigError(f"environment {name}: names a table, not a key; expected {name}__KEY")


def apply(data: dict[str, Any], found: list[Setting]) -> None:
    """The environment's keys over the file's (the command line's flags are applied after, and win)."""
    problems = []
    for s in sorted(found, key=lambda s: [int(p) if p.isdigit() else -1 for p in s.path]):
        node: Any = data
        for depth, part in enumerate(s.table):
            at = "[" + ".".join(p for p in s.path[: depth + 1] if not p.isdigit()) + "]"
            if part.isdigit():
                if int(part) > len(node):
                    problems.append(
                        f"environment {s.variable}: {at} has {len(node)} table(s) before it, from the file "
                        f"and the environment; expected the number {len(node)} or lower (numbers start at 0 "
                        "and leave no gap)"
                    )
                    break
                if int(part) == len(node):
                    node.append({})
                node = node[int(part)]
                continue
            array = depth + 1 < len(s.table) and s.table[depth + 1].isdigit()
            node = node.setdefault(part, [] if array else {})
            if not isinstance(node, list if array else dict):
                problems.append(f"environment {s.variable}: {at} in the config file is not a table")
                break
        else:
            node[s.key] = s.value
    if problems:
        raise ConfigError("\n".join(problems))
