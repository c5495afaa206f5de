#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests, then
# the side-by-side harness (compat/run) over the example and every fixture
# project. Integration tests and the harness compare xform with dbt-core 1.11
# (installed from PyPI into a cached venv); under CI=true they must run,
# never skip.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source .ci/env.sh

step() { printf '\n== %s\n' "$*" >&2; }

step "dbt-core reference environment"
venv="$XFORM_CACHE/venv-dbt-1.11"
# One marker per requirement set: a cached venv made for an older set gets
# the new requirements installed on top.
# dbt-duckdb with the DuckDB release pip picks, as users install it (the
# harness reads its database files with the DuckDB xform links; DuckDB 1.5
# fails dbt's on_schema_change case with a transaction error xform avoids).
requirements=('dbt-core~=1.11.0' 'dbt-duckdb~=1.10' 'dbt-postgres~=1.11.0' 'dbt-artifacts-parser>=0.8')
marker="$venv/.complete-$(printf '%s\n' "${requirements[@]}" | sha256sum | cut -c1-16)"
if [ ! -x "$venv/bin/dbt" ] || [ ! -f "$marker" ]; then
  [ -x "$venv/bin/pip" ] || { rm -rf "$venv"; python3 -m venv "$venv"; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${requirements[@]}"
  touch "$marker"
fi
export XFORM_DBT="$venv/bin/dbt" XFORM_DBT_PYTHON="$venv/bin/python"
"$XFORM_DBT" --version 2>/dev/null | head -2 >&2

step "PostgreSQL for the Postgres tests"
# shellcheck source=.ci/postgres.sh
source .ci/postgres.sh
trap 'xform_pg_stop' EXIT

step "Chromium for the docs page tests"
# The browser tests drive Debian's chromium headless; under CI=true they fail
# without it, so install it here as PostgreSQL is installed above.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "chromium: installing with apt-get" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2 ||
      echo "chromium: apt-get install chromium failed" >&2
  fi
  [ -x /usr/bin/chromium ] || echo "chromium: not installed; the docs browser tests will skip (or fail under CI=true)" >&2
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --quiet --no-default-features --all-targets -- -D warnings

step "cargo test"
log="$(mktemp)"
compat_log="$(mktemp)"
trap 'rm -f "$log" "$compat_log"; xform_pg_stop' EXIT
set +e
cargo test --no-default-features -- --test-threads 2 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

step "compat: dbt-core and xform side by side (compat/README.md)"
# The example project and every fixture project, on DuckDB and Postgres;
# any difference from dbt-core fails the run.
compat_start=$SECONDS
set +e
{
  compat/run --target duckdb --target postgres example_project --steps "compile; build"
  first=$?
  compat/run --target duckdb --target postgres tests/fixtures/run/* tests/fixtures/compile/*
  second=$?
  [ "$first" = 0 ] && [ "$second" = 0 ]
} 2>&1 | tee "$compat_log"
compat_status=${PIPESTATUS[0]}
set -e
echo "compat: $((SECONDS - compat_start)) s" >&2

# One closing line for the whole suite (unit and integration tests), and
# one for the harness.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
awk '/ on (duckdb|postgres): [0-9]+ passed, [0-9]+ failed/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^known/) k += $i } }
     END { printf "compat: %d passed, %d failed, %d known\n", p, f, k }' "$compat_log"
[ "$status" = 0 ] || exit "$status"
exit "$compat_status"
