#!/usr/bin/env bash
# Benchmark xform against dbt-core + dbt-postgres on a local Postgres server:
# a large seed (COPY vs dbt's INSERTs) and seed + build of a generated
# project. Starts a throwaway cluster (.ci/postgres.sh) unless
# XFORM_TEST_PG_URL is set. See bench/README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -z "${XFORM_TEST_PG_URL:-}" ]; then
  # shellcheck source=../.ci/postgres.sh
  source "$here/../.ci/postgres.sh"
  trap 'xform_pg_stop' EXIT
  [ -n "${XFORM_TEST_PG_URL:-}" ] || { echo "no Postgres server" >&2; exit 2; }
fi
"${PYTHON:-python3}" "$here/postgres.py" "$@"
