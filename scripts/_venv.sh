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
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)-${1:-run}
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  if [ "${1:-run}" = dev ]; then
    .venv/bin/python -m pip install --quiet -e '.[dev]'
  else
    .venv/bin/python -m pip install --quiet -e .
  fi
  touch "$stamp"
fi
