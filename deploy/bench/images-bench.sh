#!/usr/bin/env bash
# Benchmarks of the image side (not tests), all in one run on this machine:
#   1. reconcile of REPOS × TAGS images seeded through the registry HTTP API, against a bare
#      concurrent walk of the same registry endpoints;
#   2. server-side rendering of a repository page with 20,000 tags (p50, p99);
#   3. registry events ingested per second by the inbox, at 32 connections and on one (the
#      registry sends one notification at a time per endpoint).
#   deploy/bench/images-bench.sh [repos] [tags]
#   deploy/bench/images-bench.sh events     (part 3 only)
set -euo pipefail
source "$(dirname "$0")/../local/env.sh"
only_events=""
if [ "${1:-}" = events ]; then only_events=1; shift; fi
repos="${1:-2000}"
tags="${2:-5}"
port=3901
base="http://127.0.0.1:$port"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "==> building the release server and the benchmarks"
cargo build --release -q -p server --bin portcullis --example catalog_bench
bin="${CARGO_TARGET_DIR:-$root/target}/release/portcullis"
bench="${CARGO_TARGET_DIR:-$root/target}/release/examples/catalog_bench"

export PORTCULLIS_DATABASE_URL="$(database_url portcullis_ibench fresh)"
export RUST_LOG=warn PORTCULLIS_SYNC_INTERVAL_SECS=0
reg_port=$(free_port)
export PORTCULLIS_REGISTRY_LISTEN="127.0.0.1:$reg_port" PORTCULLIS_REGISTRY_URL="http://127.0.0.1:$reg_port"
work="$(mktemp -d)"
cleanups+=("rm -rf $work")
"$bin" registry-config --out "$work/registry" >/dev/null
# Notifications off: the reconcile is what is measured.
python3 - "$work/registry/config.yml" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read(); open(p, "w").write(s[: s.index("notifications:")])
PY
docker-registry serve "$work/registry/config.yml" > "$work/registry.log" 2>&1 &
cleanups+=("kill $! 2>/dev/null")
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$reg_port/v2/" && break; sleep 0.1; done

if [ -z "$only_events" ]; then
echo "==> 1. reconcile: $repos repositories × $tags tags"
"$bench" --repos "$repos" --tags "$tags"
fi

[ -z "$only_events" ] && echo "==> 2. repository page with 20,000 tags (server-side rendering)"
[ -z "$only_events" ] && psql -q "$PORTCULLIS_DATABASE_URL" <<'SQL'
update namespace set visibility = 'public' where name = 'bench';
insert into repository (name, namespace_id) select 'bench/big', namespace_id from namespace where name = 'bench';
insert into manifest (repository_id, digest, media_type, size, platforms, labels)
  select r.repository_id, 'sha256:' || lpad(to_hex(g), 64, '0'), 'application/vnd.oci.image.manifest.v1+json',
         1000000 + g, '[{"os":"linux","architecture":"amd64"}]', jsonb_build_object('build', g::text, 'team', 'bench')
  from repository r, generate_series(1, 20000) g where r.name = 'bench/big';
insert into tag (repository_id, name, digest, pushed_by, pushed_at)
  select r.repository_id, 'v' || g, 'sha256:' || lpad(to_hex(g), 64, '0'), 'root', now() - make_interval(secs => g)
  from repository r, generate_series(1, 20000) g where r.name = 'bench/big';
analyze;
SQL
# The server's start-up reconcile would compete with the measurement: point it nowhere.
PORTCULLIS_LISTEN="127.0.0.1:$port" PORTCULLIS_PUBLIC_URL="$base" PORTCULLIS_REGISTRY_URL=http://127.0.0.1:9 \
  "$bin" serve > "$work/server.log" 2>&1 &
cleanups+=("kill $! 2>/dev/null")
for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done
if [ -z "$only_events" ]; then
curl -sf "$base/repositories/bench/big" -H 'Accept: text/html' | grep -q 'v1<' || { echo "the page did not render" >&2; exit 1; }
wrk -t1 -c4 -d10s --latency -H 'Accept: text/html' "$base/repositories/bench/big" \
  | awk '/Requests\/sec/ {print "   pages/s:", $2} $1 == "50%" {print "   p50:", $2} $1 == "99%" {print "   p99:", $2}'
wrk -t1 -c4 -d10s --latency -H 'Accept: text/html' "$base/repositories/bench/big?sort=name&page=200" \
  | awk '$1 == "50%" {print "   p50, page 200 sorted by name:", $2}'
fi

echo "==> 3. events ingested per second (stored on disk before the answer)"
secret=$(psql -tA "$PORTCULLIS_DATABASE_URL" -c "select value from app_secret where name = 'registry_events'")
lua="$work/events.lua"
cat > "$lua" <<LUA
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"events":[{"id":"bench-%d-%d","timestamp":"2026-11-27T20:30:11Z","action":"pull","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:00","repository":"bench/r00000","tag":"v0"},"actor":{"name":"root"}}]}', tid, n)
  return wrk.format("POST", "/v2/webhooks/events", {["Authorization"] = "Bearer $secret", ["Content-Type"] = "application/vnd.docker.distribution.events.v1+json"}, body)
end
LUA
for conns in 32 1; do
  echo "   $conns connection(s):"
  wrk -t$((conns > 1 ? 2 : 1)) -c$conns -d10s --latency -s "$lua" "$base" \
    | awk '/Requests\/sec/ {print "     events/s:", $2} $1 == "50%" {print "     p50:", $2} $1 == "99%" {print "     p99:", $2} /Non-2xx/ {print "     NON-2xx:", $0}'
done
stored=$(psql -tA "$PORTCULLIS_DATABASE_URL" -c "select count(*) from registry_event")
echo "   stored: $stored events"
