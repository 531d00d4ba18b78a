#!/usr/bin/env bash
# Load benchmark of the token endpoint (not a test): the release server on a private
# PostgreSQL, wrk on the same machine, 32 connections, one scenario at a time:
#   1. access token via Basic       2. refresh token via POST
#   3. repeated password via Basic  4. anonymous pull of a public repository
#   5, 6. access token and repeated password again, with an unrelated change every second
#   7. the ceiling: a minimal axum server that parses one key once and signs one ES256 JWT
#      per request (server/examples/token_ceiling.rs), same wrk settings
# then, in the same run, raw ES256 signatures/s of the same code on one core, and each
# scenario as a ratio of the ceiling.
#   deploy/bench/token-bench.sh [seconds-per-scenario]
# With PERF_DIR=<dir>, each scenario is also profiled (perf record with call graphs of the server, or of the
# ceiling, at 299 Hz), for `perf report -i <dir>/<scenario>.data --no-children`.
set -euo pipefail
source "$(dirname "$0")/../local/env.sh"
secs="${1:-10}"
conns=32
port=3900
base="http://127.0.0.1:$port"

echo "==> building the release server and the signing benchmark"
cargo build --release -q -p server --bin portcullis --example sign_bench --example token_ceiling
bin="${CARGO_TARGET_DIR:-$root/target}/release/portcullis"
sign="${CARGO_TARGET_DIR:-$root/target}/release/examples/sign_bench"
ceiling="${CARGO_TARGET_DIR:-$root/target}/release/examples/token_ceiling"

export PORTCULLIS_DATABASE_URL="$(database_url portcullis_bench fresh)"
export PORTCULLIS_LISTEN="127.0.0.1:$port" PORTCULLIS_PUBLIC_URL="$base" RUST_LOG=warn
"$bin" serve > /tmp/portcullis-bench.log 2>&1 &
profiled=$!
cleanups+=("kill $profiled 2>/dev/null")
for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
admin=$(curl -sf -H 'Content-Type: application/json' -d '{"username":"root","password":"root password 1"}' \
  "$base/api/v1/users/bootstrap" | json "['token']['secret']")
curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d '{"username":"bench","password":"bench password 1"}' "$base/api/v1/users" >/dev/null
bench_id=$(curl -sf -H "Authorization: Bearer $admin" "$base/api/v1/users" \
  | python3 -c "import json,sys; print(next(u['id'] for u in json.load(sys.stdin) if u['username'] == 'bench'))")
token=$(curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d '{"name":"bench"}' \
  "$base/api/v1/users/$bench_id/application_tokens" | json "['secret']")
ns_id=$(curl -sf -H "Authorization: Bearer $token" "$base/api/v1/namespaces" | json "[0]['id']")
curl -sf -X PUT -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d '{"visibility":"public"}' \
  "$base/api/v1/namespaces/$ns_id" >/dev/null
refresh=$(curl -sf -u "bench:bench password 1" "$base/v2/token?offline_token=true&client_id=bench&service=portcullis-registry" \
  | json "['refresh_token']")

scope="scope=repository:bench/app:pull,push"
lua="$(mktemp --suffix .lua)"
cleanups+=("rm -f $lua")
declare -A rate
run() { # name, wrk args...
  local name="$1"; shift
  local perf=""
  if [ -n "${PERF_DIR:-}" ]; then
    mkdir -p "$PERF_DIR"
    perf record -q -F 299 --call-graph dwarf,65528 -p "$profiled" -o "$PERF_DIR/$(tr 'A-Z' 'a-z' <<<"$name" | tr -c 'a-z0-9\n' - | head -c 40).data" 2>/dev/null &
    perf=$!
  fi
  local out; out=$(wrk -t1 -c$conns -d"${secs}s" --latency "$@")
  if [ -n "$perf" ]; then kill -INT "$perf"; wait "$perf" || true; fi
  if grep -q "Non-2xx" <<<"$out"; then
    echo "$out" >&2
    echo "error: $name got non-2xx answers, e.g.: $(curl -s "${@: -1}" "${curl_args[@]}")" >&2
    exit 1
  fi
  local rps p50 p99
  rps=$(awk '/^Requests\/sec/ {printf "%d", $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  rate[$name]=$rps
  printf '| %-34s | %8s | %8s | %8s |\n' "$name" "$rps" "$p50" "$p99"
}

# Warm up: the pool opens its connections, the caches fill, the CPU settles.
for auth in "bench:$token" "bench:bench password 1"; do
  wrk -t1 -c$conns -d3s -H "Authorization: Basic $(printf '%s' "$auth" | base64 -w0)" \
    "$base/v2/token?service=portcullis-registry&$scope" >/dev/null
done

echo "==> $secs s per scenario, $conns connections, wrk and the server on the same 2 cores"
printf '| %-34s | %8s | %8s | %8s |\n' "scenario" "tokens/s" "p50" "p99"
printf '|%s|%s|%s|%s|\n' "------------------------------------" "----------" "----------" "----------"
run "access token via Basic" -H "Authorization: Basic $(printf 'bench:%s' "$token" | base64 -w0)" \
  "$base/v2/token?service=portcullis-registry&$scope"
cat > "$lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=refresh_token&refresh_token=$refresh&client_id=bench&service=portcullis-registry&$scope"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
run "refresh token via POST" -s "$lua" "$base/v2/token"
run "repeated password via Basic" -H "Authorization: Basic $(printf 'bench:bench password 1' | base64 -w0)" \
  "$base/v2/token?service=portcullis-registry&$scope"
run "anonymous pull, public repository" "$base/v2/token?service=portcullis-registry&scope=repository:bench/app:pull"

# The same two paths while the rest of the site is busy: once a second, another user's
# profile changes and a token is made for root (activity that touches no credential of
# "bench"). Remembered credentials should not notice.
curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d '{"username":"bystander","password":"bystander password 1"}' "$base/api/v1/users" >/dev/null
bystander_id=$(curl -sf -H "Authorization: Bearer $admin" "$base/api/v1/users" \
  | python3 -c "import json,sys; print(next(u['id'] for u in json.load(sys.stdin) if u['username'] == 'bystander'))")
(
  n=0
  while sleep 1; do
    n=$((n + 1))
    curl -sf -X PATCH -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
      -d "{\"display_name\":\"Bystander $n\"}" "$base/api/v1/users/$bystander_id" >/dev/null
    curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d "{\"name\":\"busy $n\"}" \
      "$base/api/v1/users/1/application_tokens" >/dev/null
  done
) &
busy=$!
cleanups+=("kill $busy 2>/dev/null")
run "access token, site busy (1 change/s)" -H "Authorization: Basic $(printf 'bench:%s' "$token" | base64 -w0)" \
  "$base/v2/token?service=portcullis-registry&$scope"
run "repeated password, site busy" -H "Authorization: Basic $(printf 'bench:bench password 1' | base64 -w0)" \
  "$base/v2/token?service=portcullis-registry&$scope"
kill "$busy" 2>/dev/null || true

"$ceiling" "127.0.0.1:$((port + 1))" &
profiled=$!
cleanups+=("kill $profiled 2>/dev/null")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$((port + 1))/v2/token" >/dev/null && break; sleep 0.1; done
wrk -t1 -c$conns -d3s "http://127.0.0.1:$((port + 1))/v2/token" >/dev/null
run "minimal axum server (the ceiling)" "http://127.0.0.1:$((port + 1))/v2/token"

echo
echo "==> each scenario against the ceiling, same run"
for name in "access token via Basic" "refresh token via POST" "anonymous pull, public repository" \
  "repeated password via Basic" "access token, site busy (1 change/s)" "repeated password, site busy"; do
  printf '| %-36s | %5s |\n' "$name" "$(python3 -c "print(f'{${rate[$name]} / ${rate[minimal axum server (the ceiling)]}:.2f}')")"
done
printf '| %-36s | %5s |\n' "repeated password / access token" \
  "$(python3 -c "print(f'{${rate[repeated password via Basic]} / ${rate[access token via Basic]}:.2f}')")"

echo
echo "==> raw signatures, same key type and claims, one core"
"$sign" 5 ES256
