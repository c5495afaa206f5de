#!/usr/bin/env bash
# Benchmark xform parse/compile against dbt-core. See bench/README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "${PYTHON:-python3}" "$here/compile.py" "$@"
