#!/usr/bin/env bash
# Installs whatever this machine is missing to build, run and test Portcullis.
# Idempotent and quick when everything is already there. Needs root (or sudo) for apt.
#   deploy/local/setup.sh run     what `make run` needs, nothing only the tests use
#   deploy/local/setup.sh image   that, and what `make image` needs
#   deploy/local/setup.sh [test]  everything (`make test`)
#
# Only crates.io, npm and Debian's packages are reached: cargo-leptos would otherwise
# download tailwind, wasm-bindgen and wasm-opt from GitHub, so each is supplied here first
# (tailwind and wasm-opt from npm, wasm-bindgen-cli from crates.io).
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
for_=${1:-test}
case "$for_" in run | image | test) ;; *) echo "usage: $0 [run|image|test]" >&2; exit 2 ;; esac
# Whether this set-up is for `$1` (run < image < test).
wants() { case "$1" in run) true ;; image) [ "$for_" != run ] ;; test) [ "$for_" = test ] ;; esac; }
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages -------------------------------------------------------------------------
# postgresql: the database; docker-registry: CNCF Distribution; skopeo + umoci: registry
# clients for the tests; chromium: the browser for Playwright; wrk: the load benchmark;
# nginx: the TLS proxy of the production test (deploy/nginx); haproxy: the load balancer of the
# replicas test; prometheus: promtool checks the /metrics scrape; faketime: a clock ahead for
# the doctor test; slapd + ldap-utils: the directory of the LDAP sign-in tests; musl-tools,
# buildah, podman and runc: the container image (make image) and its test. Nothing is started as a service: the
# tests start what they need on 127.0.0.1 and stop it.
pkgs=(postgresql docker-registry)
wants image && pkgs+=(musl-tools buildah podman runc)
wants test && pkgs+=(skopeo umoci chromium wrk nginx haproxy prometheus faketime slapd ldap-utils)
need_pkgs=()
for pkg in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$pkg")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing Debian packages: ${need_pkgs[*]} (a minute or two)"
  sudo_ apt-get update -qq
  # Packages must not start their services (nginx would take port 80): policy-rc.d says no.
  no_start=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    no_start=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | sudo_ tee "$no_start" >/dev/null && sudo_ chmod +x "$no_start"
  fi
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
  [ -z "$no_start" ] || sudo_ rm -f "$no_start"
fi
if dpkg-query -W -f='${Status}' binaryen 2>/dev/null | grep -q 'install ok installed'; then
  echo "warning: Debian's binaryen (wasm-opt 108) is installed; it breaks hydration in release builds." >&2
  echo "         The build uses node_modules/.bin/wasm-opt instead; consider 'apt-get remove binaryen'." >&2
fi

# --- Rust toolchain pieces --------------------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
# The container image's server is static (musl); make image and make test build it.
if wants image && ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
  say "adding the x86_64-unknown-linux-musl target"
  rustup target add x86_64-unknown-linux-musl
fi

# cargo-leptos: `--locked` needs rustc 1.96+ for one dependency, so build it with nightly
# when stable is older; the resulting binary runs fine with stable. Its own release profile asks
# for whole-program LTO in one codegen unit, a long single-threaded last step for a build tool
# that does not need it, so the install turns that off (774 s on two cores, 2026-12-07).
if ! command -v cargo-leptos >/dev/null; then
  say "installing cargo-leptos 0.3.11 (once: about 13 minutes on two cores, the longest step of a first run)"
  toolchain=()
  rustup toolchain list | grep -q '^nightly' && toolchain=(+nightly)
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo "${toolchain[@]}" install cargo-leptos --version 0.3.11 --locked -j2
fi

# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock. No --locked: its lock
# pins a webpki-roots version the registry mirror lacks.
want_bindgen=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
have_bindgen=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$want_bindgen" != "$have_bindgen" ]; then
  say "installing wasm-bindgen-cli $want_bindgen (once, about 3 minutes)"
  cargo install wasm-bindgen-cli --version "$want_bindgen" --force -j2
fi

# --- npm: tailwind + wasm-opt for cargo-leptos, Playwright for the browser tests -------------
if [ ! -x node_modules/.bin/tailwindcss ] || [ ! -x node_modules/.bin/wasm-opt ] || [ package.json -nt node_modules/.stamp ]; then
  say "installing npm build tools (tailwind, binaryen; under a minute)"
  npm install --no-audit --no-fund --loglevel=error
  touch node_modules/.stamp
fi
wants test || exit 0

# --- only the tests need what follows -------------------------------------------------------
if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package.json -nt end2end/node_modules/.stamp ]; then
  say "installing Playwright (no browser download: tests use Debian's chromium)"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error)
  touch end2end/node_modules/.stamp
fi

# --- PyPI: schemathesis (fuzzes the REST API), check-jsonschema (the compose file), aiosmtpd --
tools="${XDG_CACHE_HOME:-$HOME/.cache}/portcullis/tools"
if ! "$tools/venv/bin/schemathesis" --version 2>/dev/null | grep -q '4\.32\.5'; then
  say "installing schemathesis 4.32.5 (a Python virtual environment in $tools)"
  mkdir -p "$tools"
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check schemathesis==4.32.5
fi
# check-jsonschema: validates deploy/compose against the compose-spec schema it carries
# (there is no Docker engine here to run `docker compose config`).
if ! "$tools/venv/bin/check-jsonschema" --version 2>/dev/null | grep -q '0\.39\.0'; then
  say "installing check-jsonschema 0.39.0"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check check-jsonschema==0.39.0
fi
# aiosmtpd: the real SMTP server the password reset tests send their mail to.
if ! "$tools/venv/bin/python" -c 'import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != "1.4.6")' 2>/dev/null; then
  say "installing aiosmtpd 1.4.6"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check aiosmtpd==1.4.6
fi
