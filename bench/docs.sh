#!/usr/bin/env bash
# Benchmark `xform docs generate` (10,000 models: target < 2 s) and the docs
# page in headless Chromium (open + interactive: target < 3 s). See
# bench/README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "${PYTHON:-python3}" "$here/docs.py" "$@"
