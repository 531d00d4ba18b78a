#!/usr/bin/env bash
# Regenerates .sqlx/ (the query metadata that lets builds check SQL without a database).
# Run after changing a query or a migration; commit the result. Needs the private PostgreSQL
# (deploy/local/pg.sh start) or DATABASE_URL pointing at a server where it may create databases.
set -euo pipefail
source "$(dirname "$0")/env.sh"
url="$(database_url portcullis_sqlx fresh)"
for m in migrations/*.sql; do psql -q -v ON_ERROR_STOP=1 "$url" -f "$m" >/dev/null; done
rm -rf .sqlx && mkdir .sqlx
# Touch the crate so every query macro expands again and writes its file.
find app/src server/src -name '*.rs' -exec touch {} +
SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$root/.sqlx" DATABASE_URL="$url" cargo check -q -p app -p server --tests
echo "wrote $(ls .sqlx | wc -l) query files to .sqlx/"
