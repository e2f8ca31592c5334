"""Reading a secret from a file (`password_file`, `oauth2_client_secret_file`), and who may own it.

The rule is PostgreSQL's for `ssl_key_file`, which operators already know:

- owned by the user the agent runs as: 0600 or stricter (nobody else may read it);
- owned by root: 0640 or stricter (0640, 0440), so that a group can carry read access.
  This is how container platforms and configuration tools hand secrets to a service
  (a Kubernetes secret volume with `defaultMode: 0440` and `fsGroup`, Docker secrets with
  `mode: 0440`, a root:agent file written by Ansible): the service cannot change the file,
  and root chose who reads it;
- never readable by others, never writable by the group or others (whoever can write
  the file can swap the secret), never owned by a third user (who could chmod it at will).
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from agent.errors import ConfigError


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a container's uid with no passwd entry
        return f"uid {uid}"


def refusal(path: Path, st: os.stat_result, euid: int) -> str | None:
    """Why a secret file with these owner and mode bits must not be trusted; None if it may."""
    mode, owner = stat.S_IMODE(st.st_mode), st.st_uid
    shared = f"or, owned by root, 640 or 440 to share it with the agent's group (chown root:GROUP {path})"
    if owner not in (euid, 0):
        return (
            f"owned by {_user(owner)}, neither the agent's user ({_user(euid)}) nor root, who may change it "
            f"(mode {mode:o}); expected chown {_user(euid)} {path} and chmod 600, {shared}"
        )
    if mode & 0o004:
        return f"others may read it (mode {mode:o}); expected it private: chmod 600 {path}, {shared}"
    if mode & 0o023:
        return f"others than its owner may change it (mode {mode:o}); expected chmod 600 {path}, {shared}"
    if mode & 0o050 and owner != 0:
        return (
            f"its group may read it (mode {mode:o}) and it is owned by {_user(owner)}, not root; "
            f"expected it private: chmod 600 {path}, {shared}"
        )
    return None


def read_secret_file(path: Path) -> str:
    """The file's first line, stripped; ConfigError naming the file when it cannot be, or may not be, used."""
    try:
        why = refusal(path, path.stat(), os.geteuid())  # stat follows links: Kubernetes mounts are links
        if why:
            raise ConfigError(f"password_file {path}: {why}")
        return path.read_text(encoding="utf-8").splitlines()[0].strip()
    except (OSError, IndexError) as exc:
        raise ConfigError(f"password_file {path}: cannot read a password ({exc})") from exc
