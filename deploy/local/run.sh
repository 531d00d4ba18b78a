#!/usr/bin/env bash
# `make run`: PostgreSQL (unless DATABASE_URL is set), then build and serve Portcullis.
# Ctrl-C stops everything this script started.
set -euo pipefail
source "$(dirname "$0")/env.sh"

if [ "$own_pg" = 1 ]; then
  export PORTCULLIS_DATABASE_URL="$(database_url portcullis)"
else
  export PORTCULLIS_DATABASE_URL="$DATABASE_URL"
fi

cat <<MSG

  Portcullis is starting on http://127.0.0.1:3000 (the first build takes a few minutes).
    data:      $( [ "$own_pg" = 1 ] && echo "PostgreSQL cluster in .data/pg (port $(cat .data/pg/port))" || echo "the database at DATABASE_URL" )
    first run: open http://127.0.0.1:3000/signup; the first account becomes the administrator.
    stop:      Ctrl-C (stops the server and what this command started).

MSG
CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}" cargo leptos serve ${RELEASE:+--release}
