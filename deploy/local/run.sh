#!/usr/bin/env bash
# `make run`: PostgreSQL (unless DATABASE_URL is set), a registry configured against
# Portcullis, then Portcullis itself. Ctrl-C stops everything this script started. Each step
# says what it does and how long it takes the first time (two cores; later runs take seconds).
set -euo pipefail
started=$SECONDS
step() { printf '\033[1;34m==>\033[0m [%d:%02d] %s\n' $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)) "$*"; }

step "1/3 the database (a private PostgreSQL under .data/pg unless DATABASE_URL is set; seconds)"
source "$(dirname "$0")/env.sh"
if [ "$own_pg" = 1 ]; then
  export PORTCULLIS_DATABASE_URL="$(database_url portcullis)"
else
  export PORTCULLIS_DATABASE_URL="$DATABASE_URL"
fi

profile=debug
[ -n "${RELEASE:-}" ] && profile=release
if [ -x "${CARGO_TARGET_DIR:-$root/target}/$profile/portcullis" ]; then
  step "2/3 building Portcullis ($profile; only what changed since the last build)"
elif [ -n "${RELEASE:-}" ]; then
  step "2/3 building Portcullis (release, first build: about 25 minutes on two cores; cargo lists each crate)"
else
  step "2/3 building Portcullis (debug, first build: about 10 minutes on two cores; cargo lists each crate)"
fi
CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}" cargo leptos build --split ${RELEASE:+--release -P}
bin="${CARGO_TARGET_DIR:-$root/target}/$profile/portcullis"

step "3/3 the registry and the server"
# Clients type the gate's address (127.0.0.1:5000): Portcullis serves the registry's API
# there, checks every manifest request against the tag rules and streams the rest to the
# registry, which listens beside it and is reached only through Portcullis.
gate_listen="${PORTCULLIS_GATE_LISTEN:-127.0.0.1:5000}"
registry_listen="${PORTCULLIS_REGISTRY_LISTEN:-127.0.0.1:5001}"
export PORTCULLIS_GATE_LISTEN="$gate_listen" PORTCULLIS_REGISTRY_LISTEN="$registry_listen"
export PORTCULLIS_REGISTRY_URL="${PORTCULLIS_REGISTRY_URL:-http://$registry_listen}"
export PORTCULLIS_REGISTRY_HOST="${PORTCULLIS_REGISTRY_HOST:-$gate_listen}"
if (exec 3<>"/dev/tcp/${registry_listen%:*}/${registry_listen##*:}") 2>/dev/null; then
  echo "warning: something already listens on $registry_listen; not starting a registry" >&2
else
  "$bin" registry-config --out .data/registry >/dev/null
  docker-registry serve .data/registry/config.yml > .data/registry/log 2>&1 &
  cleanups+=("kill $! 2>/dev/null")
fi

cat <<MSG

  Portcullis:  http://127.0.0.1:3000  (first run: open /signup; the first account becomes the administrator)
  Registry:    $gate_listen  (Portcullis's gate in front of CNCF Distribution on $registry_listen;
               data in .data/registry/data, log in .data/registry/log)
  Database:    $( [ "$own_pg" = 1 ] && echo "PostgreSQL cluster in .data/pg (port $(cat .data/pg/port))" || echo "the database at DATABASE_URL" )

  Try it:      skopeo login --tls-verify=false -u <you> $gate_listen
               skopeo copy --dest-tls-verify=false docker-archive:image.tar docker://$gate_listen/<you>/hello:1.0
               (docker: add "$gate_listen" to insecure-registries, then docker login $gate_listen)
  Stop:        Ctrl-C

MSG
CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}" cargo leptos serve --split ${RELEASE:+--release -P}
