"""password_file: who may own it and with which mode (PostgreSQL's rule for ssl_key_file)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from agent.config import Config
from agent.config.secret_files import read_secret_file, refusal
from agent.errors import ConfigError

AGENT = 1000  # the service user, when the agent does not run as root


def _stat(mode: int, uid: int) -> os.stat_result:
    return os.stat_result((stat.S_IFREG | mode, 0, 0, 1, uid, 0, 0, 0, 0, 0))


@pytest.mark.parametrize(
    ("mode", "uid"),
    [
        (0o600, AGENT),
        (0o400, AGENT),
        (0o640, 0),  # root:agent 0640, as Ansible or a package writes it
        (0o440, 0),  # a container secret mount: root:group, read-only
        (0o400, 0),
    ],
)
def test_private_or_root_owned_group_readable_files_are_accepted(mode: int, uid: int) -> None:
    assert refusal(Path("/run/secrets/imap"), _stat(mode, uid), AGENT) is None


@pytest.mark.parametrize(
    ("mode", "uid", "why"),
    [
        (0o644, 0, "others may read it (mode 644); expected it private: chmod 600 /run/secrets/imap"),
        (0o444, 0, "others may read it (mode 444)"),  # Docker's default secret mode
        (0o604, AGENT, "others may read it (mode 604)"),
        (0o640, AGENT, "its group may read it (mode 640) and it is owned by"),
        (0o660, 0, "others than its owner may change it (mode 660)"),
        (0o602, AGENT, "others than its owner may change it (mode 602)"),
        (0o600, 4242, "owned by uid 4242, neither the agent's user"),
    ],
)
def test_readable_by_others_writable_by_others_or_owned_by_another_user_is_refused(
    mode: int, uid: int, why: str
) -> None:
    said = refusal(Path("/run/secrets/imap"), _stat(mode, uid), AGENT) or ""
    assert why in said
    assert "640 or 440" in said  # what would be accepted instead


def test_a_real_file_names_the_file_the_mode_and_what_is_expected(tmp_path: Path) -> None:
    secret = tmp_path / "imap.txt"
    secret.write_text("hunter2\n")
    secret.chmod(0o604)
    with pytest.raises(ConfigError) as info:
        read_secret_file(secret)
    message = str(info.value)
    assert message.startswith(f"password_file {secret}: others may read it (mode 604)")
    assert f"chmod 600 {secret}" in message
    secret.chmod(0o600)
    assert read_secret_file(secret) == "hunter2"


@pytest.mark.skipif(os.geteuid() != 0, reason="a root-owned file is made by root")
def test_a_root_owned_read_only_group_file_is_read_through_the_config(tmp_path: Path) -> None:
    secret = tmp_path / "graph-client-secret"
    secret.write_text("graph-app-secret\n")
    secret.chmod(0o440)
    config = Config.model_validate({"graph": {"password_file": str(secret)}})
    assert config.graph.password() == "graph-app-secret"
