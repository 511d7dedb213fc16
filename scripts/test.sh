#!/usr/bin/env bash
# The whole suite: lint, then unit and integration tests with a real PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
url=$(bash scripts/start-postgres.sh || true)
if [ -n "$url" ]; then
  export INFREC_TEST_PG_URL="$url"
else
  echo "*** PostgreSQL could not be started: the PostgreSQL leg of the store tests will be SKIPPED ***"
fi
# The browser tests (tests/browser) drive Debian's chromium; install it where we may (root, apt).
if ! command -v chromium >/dev/null 2>&1 && [ -z "${INFREC_CHROMIUM:-}" ] && [ "$(id -u)" = 0 ] \
    && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
    || echo "*** chromium could not be installed: the browser tests will FAIL ***"
fi
$BIN/ruff check src tests bench
$BIN/mypy
exec $BIN/python -m pytest "$@"
