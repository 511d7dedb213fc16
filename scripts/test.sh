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
# The whole suite, in four pytest processes, so that what only waits or measures nothing overlaps
# while no two measurements ever share the CPUs (the order and the gates: tests/conftest.py):
# - tests/integration/sdk: most of its ~100 s are the SageMaker SDK's fixed sleeps (60 s between log
#   polls in right_size, 30 s before deploy's first poll); it opens the first gate when its job has
#   stopped measuring (or when it ends);
# - tests/integration/api (no measurement asserted) starts at that gate;
# - the behaviour tests (BEHAVIOUR below: the browser, hosting and other jobs whose figures are not
#   asserted) start at that gate too, in a process of their own;
# - the rest starts at once with tests/unit and tests/security (no endpoint, no load), runs the other
#   tests that measure nothing after the first gate, and the measuring ones once the api and
#   behaviour tests have ended.
mkdir -p build/test-output
tmp=$(mktemp -d /tmp/infrec-test.XXXXXX)
gate=$tmp/sdk-measured
api_done=$tmp/api-done
behaviour_done=$tmp/behaviour-done
sdk_log=build/test-output/sdk-tests.log
api_log=build/test-output/api-tests.log
behaviour_log=build/test-output/behaviour-tests.log
BEHAVIOUR=(tests/browser tests/integration/hosting tests/integration/jobs/test_accelerators.py
           tests/integration/jobs/test_jobs_vpc.py tests/integration/jobs/test_serverless_existing.py
           tests/integration/genai/test_ai_job_lifecycle.py tests/integration/cli)
( set +e; INFREC_TEST_GATE=$gate $BIN/python -m pytest -p no:cacheprovider tests/integration/sdk >"$sdk_log" 2>&1
  echo $? >"$tmp/sdk-rc"; touch "$gate" ) &
sdk_pid=$!
( set +e; INFREC_TEST_WAIT_GATE=$gate $BIN/python -m pytest -p no:cacheprovider tests/integration/api >"$api_log" 2>&1
  echo $? >"$tmp/api-rc"; touch "$api_done" ) &
api_pid=$!
( set +e; INFREC_TEST_WAIT_GATE=$gate $BIN/python -m pytest -p no:cacheprovider "${BEHAVIOUR[@]}" >"$behaviour_log" 2>&1
  echo $? >"$tmp/behaviour-rc"; touch "$behaviour_done" ) &
behaviour_pid=$!
cleanup() {
  for pid in $sdk_pid $api_pid $behaviour_pid; do pkill -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
rc=0
ignores=(--ignore=tests/integration/sdk --ignore=tests/integration/api)
for path in "${BEHAVIOUR[@]}"; do ignores+=("--ignore=$path"); done
INFREC_TEST_WAIT_GATE=$gate INFREC_TEST_WAIT_LIGHT=$api_done:$behaviour_done \
  $BIN/python -m pytest "${ignores[@]}" || rc=$?
wait $sdk_pid $api_pid $behaviour_pid || true
for part in api behaviour sdk; do
  log=build/test-output/$part-tests.log
  part_rc=$(cat "$tmp/$part-rc" 2>/dev/null || echo 1)
  what="tests/integration/$part"; [ "$part" != behaviour ] || what="${BEHAVIOUR[*]}"
  echo "================ $what (run beside the rest; $log) ================"
  if [ "$part_rc" -eq 0 ]; then tail -n 3 "$log"; else cat "$log"; echo "*** $what FAILED (exit $part_rc) ***"; [ $rc -ne 0 ] || rc=$part_rc; fi
done
exit $rc
