#!/usr/bin/env bash
# Sourced by scripts/check.sh: start_services / stop_services.
# PostgreSQL: a throw-away cluster on 127.0.0.1, exported as SAFEROAD_TEST_PG_URL.

start_services() {
  local initdb pgctl port
  initdb=$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)
  pgctl=$(dirname "$initdb")/pg_ctl
  # A free port unless one is asked for: several checkouts may run their checks at once.
  port=${SAFEROAD_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
  PGDATA_DIR=$(mktemp -d /tmp/saferoad-pg.XXXXXX)
  chown postgres:postgres "$PGDATA_DIR" 2>/dev/null || true
  export PGDATA_DIR
  _as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  _as_pg "$initdb" -D "$PGDATA_DIR" -A trust -U saferoad >/dev/null
  _as_pg "$pgctl" -D "$PGDATA_DIR" -w -l "$PGDATA_DIR/log" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PGDATA_DIR -c fsync=off" start >/dev/null \
    || { echo "PostgreSQL did not start; its log:" >&2; cat "$PGDATA_DIR/log" >&2; return 1; }
  export SAFEROAD_TEST_PG_URL="postgresql+psycopg://saferoad@127.0.0.1:$port/postgres"
  echo "== PostgreSQL on 127.0.0.1:$port"
}

stop_services() {
  if [ -n "${PGDATA_DIR:-}" ] && [ -d "$PGDATA_DIR" ]; then
    local pgctl
    pgctl=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")/pg_ctl
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$pgctl" -D "$PGDATA_DIR" -m fast stop >/dev/null || true
    else "$pgctl" -D "$PGDATA_DIR" -m fast stop >/dev/null || true; fi
    rm -rf "$PGDATA_DIR"
  fi
}
