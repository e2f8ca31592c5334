# Sourced by scripts/demo and scripts/test: make .venv with the project installed.
# Re-installs only when pyproject.toml changed, so a second run starts at once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "csm-agent needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# constraints.txt is the tested set (docs/testing.md, "Upgrading a dependency"): every install
# takes exactly those versions, so a new release on PyPI changes nothing until it is tested.
stamp=.venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)-${1:-run}
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  if [ "${1:-run}" = dev ]; then
    .venv/bin/python -m pip install --quiet -c constraints.txt -e '.[dev]'
  else
    .venv/bin/python -m pip install --quiet -c constraints.txt -e .
  fi
  # A .venv made before caldav was held below 2 still has niquests and urllib3-future, whose .pth
  # copies the fork over urllib3 at every start: remove them and put the real urllib3 back.
  if .venv/bin/python -m pip show --quiet urllib3-future >/dev/null 2>&1; then
    .venv/bin/python -m pip uninstall --quiet -y niquests urllib3-future
    .venv/bin/python -m pip install --quiet --force-reinstall --no-deps -c constraints.txt urllib3
  fi
  touch "$stamp"
fi
