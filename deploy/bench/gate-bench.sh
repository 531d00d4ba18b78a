#!/usr/bin/env bash
# Load benchmark of the manifest gate (not a test): the release server with its gate on an
# address of its own (single-address mode), Debian's registry behind it, a private PostgreSQL,
# and wrk on the same machine. In one run, one scenario at a time:
#   1, 2. a manifest GET by tag (what every pull starts with), through the gate and straight
#         to the registry, 32 connections: requests/s, p50, p99, and the gate's share
#   3, 4. the same on one connection: the time the gate adds to a pull's first request
#   5, 6. a 32 MiB layer pulled through the gate (streamed) and straight, 4 connections: MB/s
#   deploy/bench/gate-bench.sh [seconds-per-scenario]
set -euo pipefail
source "$(dirname "$0")/../local/env.sh"
secs="${1:-10}"
port=3910 gate=3911 registry=3912
base="http://127.0.0.1:$port"

echo "==> building the release server"
cargo build --release -q -p server --bin portcullis
bin="${CARGO_TARGET_DIR:-$root/target}/release/portcullis"

dir="$(mktemp -d)"
cleanups+=("rm -rf $dir")
export PORTCULLIS_DATABASE_URL="$(database_url portcullis_gate_bench fresh)"
export PORTCULLIS_LISTEN="127.0.0.1:$port" PORTCULLIS_PUBLIC_URL="$base" RUST_LOG=warn \
  PORTCULLIS_GATE_LISTEN="127.0.0.1:$gate" PORTCULLIS_REGISTRY_LISTEN="127.0.0.1:$registry" \
  PORTCULLIS_REGISTRY_URL="http://127.0.0.1:$registry" PORTCULLIS_REGISTRY_HOST="127.0.0.1:$gate" \
  PORTCULLIS_TOKEN_EXPIRES_IN=3600
"$bin" registry-config --out "$dir/registry" >/dev/null
docker-registry serve "$dir/registry/config.yml" > "$dir/registry.log" 2>&1 &
cleanups+=("kill $! 2>/dev/null")
"$bin" serve > "$dir/portcullis.log" 2>&1 &
cleanups+=("kill $! 2>/dev/null")
for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
curl -sf -H 'Content-Type: application/json' -d '{"username":"root","password":"root password 1"}' \
  "$base/api/v1/users/bootstrap" >/dev/null

echo "==> pushing an image with a 32 MiB layer through the gate"
python3 - "$dir/image" <<'EOF'
import hashlib, io, json, os, sys, tarfile
root = sys.argv[1]
blobs = os.path.join(root, "blobs", "sha256")
os.makedirs(blobs)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
payload = os.urandom(32 << 20)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    info = tarfile.TarInfo("data.bin"); info.size = len(payload)
    t.addfile(info, io.BytesIO(payload))
layer = put(buf.getvalue())
config = put(json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}).encode())
manifest = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}]}).encode())
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    **manifest, "annotations": {"org.opencontainers.image.ref.name": "1.0"}}]},
    open(os.path.join(root, "index.json"), "w"))
open(os.path.join(root, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
EOF
skopeo copy -q --dest-tls-verify=false --dest-creds "root:root password 1" \
  "oci:$dir/image:1.0" "docker://127.0.0.1:$gate/root/bench:1.0"
token=$(curl -sf -u "root:root password 1" \
  "$base/v2/token?service=portcullis-registry&scope=repository:root/bench:pull" | json "['token']")
accept="application/vnd.oci.image.manifest.v1+json"
layer=$(curl -sf -H "Authorization: Bearer $token" -H "Accept: $accept" \
  "http://127.0.0.1:$gate/v2/root/bench/manifests/1.0" | json "['layers'][0]['digest']")

declare -A rate
run() { # name, connections, url
  local name="$1" conns="$2" url="$3"
  local out; out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency -H "Authorization: Bearer $token" -H "Accept: $accept" "$url")
  if grep -q "Non-2xx" <<<"$out"; then
    echo "$out" >&2
    echo "error: $name got non-2xx answers" >&2
    exit 1
  fi
  local rps mbs p50 p99
  rps=$(awk '/^Requests\/sec/ {printf "%d", $2}' <<<"$out")
  mbs=$(awk '/^Transfer\/sec/ {v=$2; u=substr(v, length(v)-1); n=substr(v, 1, length(v)-2);
                               if (u == "GB") n *= 1024; if (u == "KB") n /= 1024; printf "%.0f", n}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  rate[$name]="$rps $mbs $p50"
  printf '| %-36s | %6s | %6s MB/s | %8s | %8s |\n' "$name" "$rps" "$mbs" "$p50" "$p99"
}

manifest_path="/v2/root/bench/manifests/1.0"
blob_path="/v2/root/bench/blobs/$layer"
# Warm up: connections open, the gate remembers the checked token, the CPU settles.
wrk -t1 -c32 -d3s -H "Authorization: Bearer $token" -H "Accept: $accept" "http://127.0.0.1:$gate$manifest_path" >/dev/null
wrk -t1 -c32 -d3s -H "Authorization: Bearer $token" -H "Accept: $accept" "http://127.0.0.1:$registry$manifest_path" >/dev/null

echo "==> $secs s per scenario, wrk, Portcullis and the registry on the same 2 cores"
printf '| %-36s | %6s | %11s | %8s | %8s |\n' "scenario" "req/s" "transfer" "p50" "p99"
printf '|%s|%s|%s|%s|%s|\n' "--------------------------------------" "--------" "-------------" "----------" "----------"
run "manifest GET through the gate (32)" 32 "http://127.0.0.1:$gate$manifest_path"
run "manifest GET straight (32)" 32 "http://127.0.0.1:$registry$manifest_path"
run "manifest GET through the gate (1)" 1 "http://127.0.0.1:$gate$manifest_path"
run "manifest GET straight (1)" 1 "http://127.0.0.1:$registry$manifest_path"
run "32 MiB layer through the gate (4)" 4 "http://127.0.0.1:$gate$blob_path"
run "32 MiB layer straight (4)" 4 "http://127.0.0.1:$registry$blob_path"

ratio() { python3 -c "a, b = '$1'.split(), '$2'.split(); print(f'{int(a[$3]) / max(int(b[$3]), 1):.2f}')"; }
echo
echo "gate / straight, manifest GET requests/s: $(ratio "${rate[manifest GET through the gate (32)]}" "${rate[manifest GET straight (32)]}" 0)"
p50() { awk '{print $3}' <<<"$1"; }
echo "gate / straight, layer MB/s:              $(ratio "${rate[32 MiB layer through the gate (4)]}" "${rate[32 MiB layer straight (4)]}" 1)"
echo "p50 on one connection, through the gate and straight: $(p50 "${rate[manifest GET through the gate (1)]}") and $(p50 "${rate[manifest GET straight (1)]}")"
