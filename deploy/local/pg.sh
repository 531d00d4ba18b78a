#!/usr/bin/env bash
# A private PostgreSQL cluster under .data/pg, on 127.0.0.1 only.
#   pg.sh start   initialise (first time) and start it; prints nothing else
#   pg.sh stop    stop it
#   pg.sh url DB  print the connection URL for database DB (default: portcullis)
#   pg.sh status  exit 0 when it is running
# PORTCULLIS_PG_OPTIONS adds server options (tests use it to make crashes lose more).
# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${PORTCULLIS_PG_DIR:-$root/.data/pg}"
# The port is chosen at the first start (55432, or the next free one) and kept in $dir/port.
port_file="$dir/port"
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
choose_port() {
  local p="${PORTCULLIS_PG_PORT:-55432}"
  while port_in_use "$p"; do p=$((p + 1)); done
  echo "$p"
}
port="$(cat "$port_file" 2>/dev/null || true)"

bindir="$(pg_config --bindir 2>/dev/null || true)"
if [ ! -x "$bindir/initdb" ]; then
  bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
fi
[ -x "$bindir/initdb" ] || { echo "PostgreSQL server binaries not found; run deploy/local/setup.sh" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

running() { as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; }

case "${1:-}" in
  start)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
      chown postgres "$dir"
      # postgres must be able to reach the cluster directory.
      p="$dir"; while [ "$p" != / ]; do p="$(dirname "$p")"; chmod o+x "$p" 2>/dev/null || true; done
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_pg "$bindir/initdb" -D "$dir/data" -A trust -U portcullis -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if ! running; then
      if [ -z "$port" ] || port_in_use "$port"; then port="$(choose_port)"; fi
      echo "$port" > "$port_file"
      as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
        -o "-k $dir -p $port -c listen_addresses=127.0.0.1 -c max_connections=200 -c synchronous_commit=off ${PORTCULLIS_PG_OPTIONS:-}" \
        start >/dev/null
    fi
    ;;
  stop)
    if running; then as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null; fi
    ;;
  status)
    running
    ;;
  url)
    [ -n "$port" ] || { echo "the private PostgreSQL was never started (pg.sh start)" >&2; exit 1; }
    echo "postgres://portcullis@127.0.0.1:$port/${2:-portcullis}"
    ;;
  *)
    echo "usage: $0 start|stop|status|url [db]" >&2
    exit 2
    ;;
esac
