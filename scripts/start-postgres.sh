#!/usr/bin/env bash
# Start a local PostgreSQL for the test suite and print its URL on stdout.
# Prints nothing (exit 0) when no server can be started, so the suite skips
# the PostgreSQL leg with a visible message instead of failing.
set -u
log() { echo "start-postgres: $*" >&2; }
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing postgresql (Debian package)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2 || true
  fi
fi
command -v pg_ctlcluster >/dev/null 2>&1 || { log "no PostgreSQL available"; exit 0; }
ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
[ -n "$ver" ] || { log "no cluster configured"; exit 0; }
pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
port=$(grep -E '^\s*port\s*=' "/etc/postgresql/$ver/main/postgresql.conf" | head -n1 | sed -E 's/[^0-9]*([0-9]+).*/\1/')
port=${port:-5432}
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 0.2
done
pg_isready -q -h 127.0.0.1 -p "$port" || { log "server did not become ready"; exit 0; }
run_psql() { if [ "$(id -u)" = 0 ]; then su postgres -c "psql -q -p $port -v ON_ERROR_STOP=1 $*"; else psql -q -p "$port" "$@"; fi; }
run_psql "-c \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='infrec') THEN CREATE ROLE infrec LOGIN SUPERUSER PASSWORD 'infrec'; END IF; END \\\$\\\$;\"" >&2 || { log "could not create role"; exit 0; }
echo "postgresql+psycopg://infrec:infrec@127.0.0.1:$port/postgres"
