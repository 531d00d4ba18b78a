#!/usr/bin/env bash
# `make test`: every test against real services. Unit and integration tests (each
# integration test makes its own fresh database, `pct_…`), then the browser tests
# (cargo leptos end-to-end: builds the site, serves it on a fresh database, runs Playwright
# with Debian's Chromium).
set -euo pipefail
source "$(dirname "$0")/env.sh"

step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }

step "formatting"
cargo fmt --all --check

step "deployment files (compose, Kubernetes)"
"${XDG_CACHE_HOME:-$HOME/.cache}/portcullis/tools/venv/bin/python" deploy/check.py

step "the container image (Containerfile, debug build; server/tests/it/image.rs runs it)"
export PORTCULLIS_TEST_IMAGE=localhost/portcullis:test
IMAGE="$PORTCULLIS_TEST_IMAGE" PROFILE=debug deploy/image/build.sh

step "the release front end, split (server/tests/it/first_load.rs measures what a first visit downloads)"
# Its own site root, so the browser tests' debug site below does not replace it.
LEPTOS_SITE_ROOT=target/site-release CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" \
  cargo leptos build --release --split --frontend-only
export PORTCULLIS_TEST_RELEASE_SITE="$root/target/site-release"
export PORTCULLIS_TEST_RELEASE_HASHES="${CARGO_TARGET_DIR:-$root/target}/release/hash.txt"

step "unit and integration tests"
# The previous run's test databases go first.
psql -qAt "$PG_SERVER_URL" -c "select datname from pg_database where datname like 'pct\_%'" |
  while read -r db; do psql -q "$PG_SERVER_URL" -c "drop database if exists \"$db\" with (force)"; done
# Same flags as the debug build cargo-leptos makes below, so both share compiled dependencies.
# One test at a time: as fast here (the tests wait on PostgreSQL, the registry and argon2, and
# there are two cores), and a test never shares its process with another one's runtime.
export SCHEMATHESIS="${XDG_CACHE_HOME:-$HOME/.cache}/portcullis/tools/venv/bin/schemathesis"
DATABASE_URL="$PG_SERVER_URL" RUSTFLAGS="--cfg erase_components" cargo test --locked -p app -p server -- --test-threads=1

step "browser tests (Playwright + Chromium, with a registry)"
export PORTCULLIS_DATABASE_URL="$(database_url portcullis_e2e fresh)"
CARGO_BUILD_JOBS=1 cargo leptos build --split
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# As `make run` has it: clients (skopeo in the tests) reach the registry through Portcullis's
# gate, and the registry itself listens beside it.
export PORTCULLIS_REGISTRY_LISTEN="127.0.0.1:$(free_port)" PORTCULLIS_GATE_LISTEN="127.0.0.1:$(free_port)"
export PORTCULLIS_REGISTRY_URL="http://$PORTCULLIS_REGISTRY_LISTEN" PORTCULLIS_REGISTRY_HOST="$PORTCULLIS_GATE_LISTEN"
rm -rf .data/e2e-registry
"${CARGO_TARGET_DIR:-$root/target}/debug/portcullis" registry-config --out .data/e2e-registry >/dev/null
docker-registry serve .data/e2e-registry/config.yml > .data/e2e-registry.log 2>&1 &
cleanups+=("kill $! 2>/dev/null")
CARGO_BUILD_JOBS=1 cargo leptos end-to-end --split
