#!/usr/bin/env bash
# Create .venv and install Data Factory into it. Usage: scripts/setup.sh [extras], e.g. "dev".
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
started=$SECONDS
step() { echo "[setup] $*"; }
# pip's own lines, one per package it fetches or installs: progress without its full log
progress() { { grep --line-buffered -E '^(Collecting|Installing collected|Successfully installed)' || true; } | cut -c1-100; }
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Data Factory needs Python 3.11 or newer")'
if [ -x .venv/bin/python ]; then
  step "using the existing virtual environment .venv"
else
  step "creating the virtual environment .venv"
  python3 -m venv .venv
fi
step "upgrading pip"
.venv/bin/python -m pip install --quiet --upgrade pip
if [ -n "$extras" ]; then
  # sdv (in the dev extra) needs torch; the CPU build is enough and far smaller than the CUDA one
  step "installing torch (CPU build, for the sdv extra): a large download"
  .venv/bin/python -m pip install --progress-bar off "torch==2.13.0" | progress \
    || .venv/bin/python -m pip install --progress-bar off torch | progress
  step "installing Data Factory with the extras [${extras}] (a few minutes on a fresh machine)"
  .venv/bin/python -m pip install --progress-bar off -e ".[${extras}]" | progress
else
  step "installing Data Factory and its dependencies (2-3 minutes on a fresh machine)"
  .venv/bin/python -m pip install --progress-bar off -e . | progress
fi
step "done in $((SECONDS - started)) s: .venv/bin/datafactory is ready"
