"""Where the config and the shipped files are: the config file's search order, the project root, private folders."""

from __future__ import annotations

import logging
import os
import stat
from importlib import resources
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_NAME = "agent.toml"
CONFIG_ENV = "AGENT_CONFIG"


log = logging.getLogger(__name__)


def find_config(explicit: str | None) -> Path | None:
    """--config FILE, else agent.toml in the current folder, else $AGENT_CONFIG, else none."""
    if explicit:
        return Path(explicit)
    if Path(DEFAULT_CONFIG_NAME).is_file():
        return Path(DEFAULT_CONFIG_NAME)
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else None


def shipped(rel: str, base: Path) -> Path:
    """Prefer the folder beside the config (or cwd); fall back to the one shipped with the code."""
    local = base / rel
    return local if local.is_dir() else shipped_default(rel)


def shipped_default(rel: str) -> Path:
    """The copy that came with the code: inside the installed package, else the checkout's own.

    A wheel carries rules/, templates/emails/ and agent.example.toml as agent/shipped/ (the build
    copies them there: tools/build_shipped.py); a checkout, editable install included, has them at
    its top. The package's copy is asked first: PROJECT_ROOT of an installed wheel is site-packages,
    where a folder named `rules` would belong to some other distribution.
    """
    packaged = resources.files("agent").joinpath("shipped", *rel.split("/"))
    # pip unpacks a wheel onto the disk, so the package's files are real paths (a zipped import is not)
    if isinstance(packaged, Path) and packaged.exists():
        return packaged
    return PROJECT_ROOT / rel  # missing too, it is the path an error message names


def private_dir(path: Path) -> Path:
    """A folder only its owner can enter (client data lives there), however it was made.

    A new one is made 0700; an existing one that others may enter (an older demo made it 0755, a
    person made it by hand) is closed, with everything in it: folders 0700, files 0600.
    """
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
        path.chmod(0o700)  # mkdir's mode is filtered by the umask
    elif path.stat().st_mode & stat.S_ISVTX:
        # A shared folder (/tmp, sticky) is not the agent's to close: what it writes there is its own
        # files and folders, each private.
        log.warning(
            "%s is a shared folder (sticky): it is left open; keep the agent's state in its own", path
        )
    elif path.stat().st_mode & 0o077:
        close_up(path)
    return path


def close_up(folder: Path) -> None:
    """`folder` and everything below it for its owner only (links are not followed)."""
    folder.chmod(0o700)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            p = Path(root, name)
            if not p.is_symlink():
                p.chmod(0o700)
        for name in files:
            p = Path(root, name)
            if not p.is_symlink():
                p.chmod(p.stat().st_mode & 0o700 | 0o600)
