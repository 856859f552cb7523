#!/usr/bin/env bash
# Install Data Factory and make one challenge end to end on the offline defaults (no key, no server).
# Prefect keeps its database and settings in PREFECT_HOME: the demo puts it under its output folder
# (datafactory-output/prefect-home) instead of ~/.prefect, unless PREFECT_HOME is already set.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PREFECT_HOME="${PREFECT_HOME:-$PWD/datafactory-output/prefect-home}"
mkdir -p "$PREFECT_HOME"
echo "Prefect's files (database, logs): $PREFECT_HOME"
brief="${1:-An online store is losing revenue in the West region and wants to understand its sales}"
exec .venv/bin/datafactory run "$brief" --approval auto --rows "${ROWS:-10000}" --seed "${SEED:-42}"
