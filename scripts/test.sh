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
$BIN/ruff check src tests bench
$BIN/mypy
exec $BIN/python -m pytest "$@"
