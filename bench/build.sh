#!/usr/bin/env bash
# Benchmark `xform seed && xform build` against dbt-core and the SQL floor. See bench/README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "${PYTHON:-python3}" "$here/build.py" "$@"
