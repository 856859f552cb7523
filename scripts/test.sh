#!/usr/bin/env bash
# Install everything the tests need (system packages, the dev extra) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  # pdftoppm (PDF pages), LibreOffice (workbook conversion), PostgreSQL and MariaDB (portable SQL),
  # Chromium and its driver (the gate form in a browser, tests/test_ui_browser.py)
  need=()
  command -v pdftoppm >/dev/null || need+=(poppler-utils)
  command -v soffice >/dev/null || need+=(libreoffice-calc-nogui)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v mariadb-install-db >/dev/null || need+=(mariadb-server)
  command -v chromium >/dev/null || need+=(chromium)
  command -v chromedriver >/dev/null || need+=(chromium-driver)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi
scripts/setup.sh dev
exec .venv/bin/python -m pytest -q "$@"
