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
if [ $# -gt 0 ]; then
  exec $BIN/python -m pytest "$@"
fi
# The whole suite: the SageMaker SDK module runs in a pytest of its own beside the rest. Most of its
# time is the SDK's fixed sleeps (60 s between log polls in right_size, 30 s before deploy's first
# poll); the rest waits until its job has stopped measuring (the gate file), then goes on, starting
# with the tests that measure nothing (tests/conftest.py), so no two measurements share the CPUs.
mkdir -p build/test-output
gate=$(mktemp -u /tmp/infrec-test-gate.XXXXXX)
sdk_log=build/test-output/sdk-tests.log
INFREC_TEST_GATE=$gate $BIN/python -m pytest -p no:cacheprovider tests/integration/sdk >"$sdk_log" 2>&1 &
sdk_pid=$!
trap 'kill $sdk_pid 2>/dev/null || true; rm -f "$gate"' EXIT
deadline=$((SECONDS + 900))
while [ ! -e "$gate" ] && kill -0 $sdk_pid 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
rc=0
$BIN/python -m pytest --ignore=tests/integration/sdk || rc=$?
sdk_rc=0
wait $sdk_pid || sdk_rc=$?
echo "================ tests/integration/sdk (run beside the rest; $sdk_log) ================"
if [ $sdk_rc -eq 0 ]; then tail -n 5 "$sdk_log"; else cat "$sdk_log"; echo "*** the SageMaker SDK tests FAILED (exit $sdk_rc) ***"; fi
[ $rc -ne 0 ] && exit $rc
exit $sdk_rc
