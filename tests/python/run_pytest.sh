#!/usr/bin/env bash
# CTest's python.pytest: tests/python/ with pytest in VENV, the venv where
# scripts/test-python installed the wheel. Exits 77 (CTest: skipped) saying
# why when there is no such venv.
set -uo pipefail
venv=$1
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import parallelrun, pytest" 2>/dev/null; then
  echo "SKIPPED: no venv with the parallelrun wheel and pytest at $venv: scripts/test-python makes it (scripts/test runs it; build/test-python.log says why it failed)"
  exit 77
fi
# -p no:cacheprovider: nothing written into the source tree; the rootdir is
# tests/python, so conftest.py is found there.
cd "$here" && exec "$venv/bin/python" -m pytest -p no:cacheprovider -q -ra "$here"
