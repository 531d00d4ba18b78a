#!/usr/bin/env bash
# The scale benchmark (not a test): seeds a Harbor-sized data set straight into PostgreSQL
# (deploy/bench/scale-seed.sql: 10k users, 1k teams, 5k team namespaces, 100k repositories ×
# 10 tags, one repository of 50,000 tags, 1M activity entries), starts the release server on
# it and measures every page and list with wrk at 4 connections, then prints a table of
# p50/p99 and the size of each answer, and the server's memory.
#   deploy/bench/scale-bench.sh [seconds per measurement]
set -euo pipefail
source "$(dirname "$0")/../local/env.sh"
secs="${1:-5}"
port=3903
base="http://127.0.0.1:$port"
users="${SCALE_USERS:-10000}" teams="${SCALE_TEAMS:-1000}" namespaces="${SCALE_NAMESPACES:-5000}"
repos="${SCALE_REPOS:-100000}" tags="${SCALE_TAGS:-10}" events="${SCALE_EVENTS:-1000000}"

echo "==> building the release server" >&2
cargo build --release -q -p server --bin portcullis
bin="${CARGO_TARGET_DIR:-$root/target}/release/portcullis"

export PORTCULLIS_DATABASE_URL="$(database_url portcullis_scale fresh)"
export RUST_LOG=warn PORTCULLIS_SYNC_INTERVAL_SECS=0
work="$(mktemp -d)"
cleanups+=("rm -rf $work")
# No registry: reconcile is not what is measured here (deploy/bench/images-bench.sh is).
PORTCULLIS_LISTEN="127.0.0.1:$port" PORTCULLIS_PUBLIC_URL="$base" PORTCULLIS_REGISTRY_URL=http://127.0.0.1:9 \
  "$bin" serve > "$work/server.log" 2>&1 &
server=$!
cleanups+=("kill $server 2>/dev/null")
for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done
json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
admin=$(curl -sf -H 'Content-Type: application/json' -d '{"username":"root","password":"root password 1"}' \
  "$base/api/v1/users/bootstrap" | json "['token']['secret']")

echo "==> seeding: $users users, $teams teams, $namespaces namespaces, $repos repositories × $tags tags, $events activity entries" >&2
start=$(date +%s.%N)
psql -q "$PORTCULLIS_DATABASE_URL" -v users="$users" -v teams="$teams" -v namespaces="$namespaces" \
  -v repos="$repos" -v tags="$tags" -v events="$events" -f deploy/bench/scale-seed.sql
seeded=$(python3 -c "print(f'{$(date +%s.%N) - $start:.0f}')")
psql -tA "$PORTCULLIS_DATABASE_URL" -c "select format('seeded in ${seeded} s: %s users, %s teams, %s namespaces, %s repositories, %s tags, %s images, %s activity entries, %s MB',
  (select count(*) from \"user\"), (select count(*) from team where personal_user_id is null), (select count(*) from namespace),
  (select count(*) from repository), (select count(*) from tag), (select count(*) from manifest), (select count(*) from audit_event),
  pg_database_size(current_database()) / 1048576)" >&2

# Sessions (a plain form post, as a browser without JavaScript does): root, an administrator,
# and carol, a member of three teams.
session() {
  curl -sf -o /dev/null -c "$work/jar-$1" -H 'Accept: application/json' \
    --data-urlencode "username=$1" --data-urlencode "password=$2" "$base/api/login"
  # The session cookie is HttpOnly: curl's jar writes it behind "#HttpOnly_".
  echo "Cookie: $(sed 's/^#HttpOnly_//' "$work/jar-$1" | awk '!/^#/ && NF >= 7 {print $6 "=" $7}' | paste -sd ';')"
}
curl -sf -o /dev/null -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d '{"username":"carol","password":"carol password 1"}' "$base/api/v1/users"
psql -q "$PORTCULLIS_DATABASE_URL" -c "insert into team_member (team_id, user_id, role)
  select team_id, (select user_id from \"user\" where username = 'carol'), 'contributor' from team
  where name in ('team0001', 'team0002', 'team0003')"
cookie=$(session root 'root password 1')
member=$(session carol 'carol password 1')
for who in "$cookie" "$member"; do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "$who" "$base/account")" = 200 ] ||
    { echo "error: a session did not sign in" >&2; exit 1; }
done
bearer="Authorization: Bearer $admin"
big_id=$(psql -tA "$PORTCULLIS_DATABASE_URL" -c "select namespace_id from namespace where name = 'big'")
mono_id=$(psql -tA "$PORTCULLIS_DATABASE_URL" -c "select repository_id from repository where name = 'big/monorepo'")
long=$(printf 'kingfisher%.0s' $(seq 10))

rss_max=0
# measure NAME WHO PATH: p50 and p99 at 4 connections, and the size of one answer.
measure() {
  local name="$1" who="$2" path="$3" auth=() out size rss
  case "$who" in
    visitor) auth=() ;;
    admin) auth=(-H "$cookie") ;;
    member) auth=(-H "$member") ;;
    token) auth=(-H "$bearer") ;;
  esac
  local status
  status=$(curl -s -o "$work/body" -w '%{http_code}' "${auth[@]}" -H 'Accept: text/html' "$base$path")
  size=$(stat -c %s "$work/body")
  if [ "${status:0:1}" != 2 ]; then
    echo "error: $name ($path) answered $status: $(head -c 300 "$work/body")" >&2
    exit 1
  fi
  out=$(wrk -t1 -c4 -d"${secs}s" --latency "${auth[@]}" -H 'Accept: text/html' "$base$path")
  if grep -q 'Non-2xx' <<<"$out"; then
    echo "error: $name got non-2xx answers under load" >&2
    exit 1
  fi
  rss=$(ps -o rss= -p "$server")
  [ "$rss" -gt "$rss_max" ] && rss_max=$rss
  awk -v name="$name" -v who="$who" -v size="$size" '
    $1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2} /Requests\/sec/ {rps = $2}
    END {printf "| %s | %s | %s | %s | %.0f | %.1f KB |\n", name, who, p50, p99, rps, size / 1024}' <<<"$out"
}

echo
echo "| page or list | as | p50 | p99 | req/s | answer |"
echo "|---|---|---|---|---|---|"
measure "dashboard" admin "/"
measure "dashboard" member "/"
measure "explore" member "/explore"
measure "explore" visitor "/explore"
measure "explore, page 500" visitor "/explore?page=500"
measure "search: a word" visitor "/search?q=service-4242"
measure "search: a word" member "/search?q=app-4242"
measure "search: a prefix" admin "/search?q=libr"
measure "search: a label" admin "/search?q=team%3Dteam0042"
measure "search: one character" admin "/search?q=e"
measure "search: 100 characters" admin "/search?q=$long"
measure "namespaces" admin "/namespaces"
measure "namespaces, page 200" admin "/namespaces?page=200"
measure "namespace of 5,000 repositories" visitor "/namespaces/big"
measure "same, page 100" visitor "/namespaces/big?page=100"
measure "repository of 50,000 tags" visitor "/repositories/big/monorepo"
measure "same, by name, page 1,000" visitor "/repositories/big/monorepo?sort=name&page=1000"
measure "same, label branch=main" visitor "/repositories/big/monorepo?label=branch%3Dmain"
measure "teams" admin "/teams"
measure "admin: users" admin "/admin/users"
measure "admin: users, page 150" admin "/admin/users?page=150"
measure "admin: activity (1M entries)" admin "/admin/activity"
measure "admin: activity, 500,000 entries back" admin "/admin/activity?before=500000"
measure "admin: activity of one user" admin "/admin/activity?actor=user04242"
measure "REST: repositories" token "/api/v1/repositories"
measure "REST: repositories, page 1,000" token "/api/v1/repositories?page=1000"
measure "REST: a namespace's repositories" token "/api/v1/namespaces/$big_id/repositories?page=50"
measure "REST: tags of 50,000" token "/api/v1/repositories/$mono_id/tags?page=500"
measure "REST: users" token "/api/v1/users?page=100"
measure "REST: teams" token "/api/v1/teams?page=10"
measure "REST: namespaces" token "/api/v1/namespaces?page=100"
echo
echo "server memory: $((rss_max / 1024)) MB RSS at most, $(($(ps -o rss= -p "$server") / 1024)) MB at the end"
