# Sourced by run.sh and test.sh: starts the private PostgreSQL unless DATABASE_URL is given,
# and arranges for whatever was started to be stopped on exit.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
cleanups=()
cleanup() {
  local i
  for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do eval "${cleanups[i]}" || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${DATABASE_URL:-}" ]; then
  if ! deploy/local/pg.sh status; then
    deploy/local/pg.sh start
    cleanups+=("deploy/local/pg.sh stop")
  fi
  PG_SERVER_URL="$(deploy/local/pg.sh url postgres)"
  own_pg=1
else
  PG_SERVER_URL="$DATABASE_URL"
  own_pg=0
fi

# Prints the URL of database $1 on the same server, creating it if needed
# (with $2 = fresh, dropping it first).
database_url() {
  local db="$1" base="${PG_SERVER_URL%/*}"
  if [ "${2:-}" = fresh ]; then
    psql -q "$PG_SERVER_URL" -c "drop database if exists \"$db\" with (force)" >/dev/null
  fi
  if ! psql -tA "$PG_SERVER_URL" -c "select 1 from pg_database where datname = '$db'" | grep -q 1; then
    psql -q "$PG_SERVER_URL" -c "create database \"$db\"" >/dev/null
  fi
  echo "$base/$db"
}
