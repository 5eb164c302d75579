#!/usr/bin/env bash
# Run a throwaway local PostgreSQL 15 + PostGIS cluster for the test suite.
#
#   scripts/postgis.sh start   # init (once) + start; prints the SQLAlchemy URL
#   scripts/postgis.sh url     # prints the URL
#   scripts/postgis.sh stop    # stops the server (the data dir stays until /tmp is cleaned)
#
# Listens on 127.0.0.1 only, port ${GRIDSVC_PG_PORT:-54329}, trust auth on loopback only.
# Data dir: ${GRIDSVC_PG_DIR:-/tmp/gridsvc-postgis-$PORT}. Database: gridsvc_test (with postgis).
set -euo pipefail

PORT="${GRIDSVC_PG_PORT:-54329}"
DATA="${GRIDSVC_PG_DIR:-/tmp/gridsvc-postgis-${PORT}}"
DB="gridsvc_test"
PGBIN="/usr/lib/postgresql/15/bin"
URL="postgresql+psycopg://postgres@127.0.0.1:${PORT}/${DB}"
APT="apt-get update && apt-get install -y postgresql-15 postgresql-15-postgis-3"

missing() {
  echo "postgis.sh: $1 is missing; install it with:" >&2
  echo "  ${APT}" >&2
  exit 1
}

check_packages() {
  [[ -x "${PGBIN}/initdb" && -x "${PGBIN}/pg_ctl" ]] || missing "PostgreSQL 15 (${PGBIN})"
  [[ -f /usr/share/postgresql/15/extension/postgis.control ]] || missing "PostGIS 3 for PostgreSQL 15"
  id postgres >/dev/null 2>&1 || missing "the postgres system user"
}

# Run a command as the postgres user (initdb and postgres refuse to run as root).
as_pg() {
  if [[ "$(id -u)" == "0" ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() {
  [[ -f "${DATA}/postmaster.pid" ]] && as_pg "${PGBIN}/pg_ctl" -D "${DATA}" status >/dev/null 2>&1
}

psql_q() {
  PGOPTIONS="-c client_min_messages=warning" as_pg "${PGBIN}/psql" -h 127.0.0.1 -p "${PORT}" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

start() {
  check_packages
  if running; then
    echo "${URL}"
    return 0
  fi
  if [[ ! -f "${DATA}/PG_VERSION" ]]; then
    mkdir -p "${DATA}"
    [[ "$(id -u)" == "0" ]] && chown postgres:postgres "${DATA}"
    chmod 700 "${DATA}"
    as_pg "${PGBIN}/initdb" -D "${DATA}" -U postgres --auth=trust --encoding=UTF8 \
      --locale=C.UTF-8 >"${DATA}.initdb.log" 2>&1 || {
      cat "${DATA}.initdb.log" >&2
      exit 1
    }
    # Loopback only: no other host may connect, even with a password.
    cat >"${DATA}/pg_hba.conf" <<EOF
local   all all                trust
host    all all 127.0.0.1/32   trust
host    all all ::1/128        trust
EOF
    [[ "$(id -u)" == "0" ]] && chown postgres:postgres "${DATA}/pg_hba.conf"
  fi
  as_pg "${PGBIN}/pg_ctl" -D "${DATA}" -w -t 60 -l "${DATA}/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p ${PORT} -k /tmp -c fsync=off \
        -c synchronous_commit=off -c full_page_writes=off" start >/dev/null || {
    tail -n 30 "${DATA}/server.log" >&2
    exit 1
  }
  if [[ "$(psql_q -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '${DB}'")" != "1" ]]; then
    psql_q -d postgres -c "CREATE DATABASE ${DB}"
  fi
  psql_q -d "${DB}" -c "CREATE EXTENSION IF NOT EXISTS postgis"
  echo "${URL}"
}

stop() {
  if running; then
    as_pg "${PGBIN}/pg_ctl" -D "${DATA}" -w -m fast stop >/dev/null
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "${URL}" ;;
  *)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
