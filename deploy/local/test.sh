#!/usr/bin/env bash
# `make test`: every test against real services. Unit and integration tests (each
# integration test gets its own fresh database from #[sqlx::test]), then the browser tests
# (cargo leptos end-to-end: builds the site, serves it on a fresh database, runs Playwright
# with Debian's Chromium).
set -euo pipefail
source "$(dirname "$0")/env.sh"

step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }

step "formatting"
cargo fmt --all --check

step "unit and integration tests"
# Same flags as the debug build cargo-leptos makes below, so both share compiled dependencies.
DATABASE_URL="$PG_SERVER_URL" RUSTFLAGS="--cfg erase_components" cargo test --locked -p app -p server

step "browser tests (Playwright + Chromium)"
export PORTCULLIS_DATABASE_URL="$(database_url portcullis_e2e fresh)"
CARGO_BUILD_JOBS=1 cargo leptos end-to-end
