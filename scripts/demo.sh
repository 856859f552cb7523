#!/usr/bin/env bash
# Install Data Factory and make one challenge end to end on the offline defaults (no key, no server).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
brief="${1:-An online store is losing revenue in the West region and wants to understand its sales}"
exec .venv/bin/datafactory run "$brief" --approval auto --rows "${ROWS:-10000}" --seed "${SEED:-42}"
