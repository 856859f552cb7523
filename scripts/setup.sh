#!/usr/bin/env bash
# Create .venv and install Data Factory into it. Usage: scripts/setup.sh [extras], e.g. "dev".
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Data Factory needs Python 3.11 or newer")'
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
if [ -n "$extras" ]; then
  # sdv (in the dev extra) needs torch; the CPU build is enough and far smaller than the CUDA one
  .venv/bin/python -m pip install --quiet "torch==2.13.0" || .venv/bin/python -m pip install --quiet torch
  .venv/bin/python -m pip install --quiet -e ".[${extras}]"
else
  .venv/bin/python -m pip install --quiet -e .
fi
