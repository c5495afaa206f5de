# Sourced by ./dev and .ci/run: where builds, caches and DuckDB live.
# Everything is kept outside the checkout so fresh clones reuse it.
: "${XFORM_CACHE:=$HOME/.cache/xform}"
: "${CARGO_TARGET_DIR:=$XFORM_CACHE/target}"
export XFORM_CACHE CARGO_TARGET_DIR
mkdir -p "$XFORM_CACHE"

# The DuckDB release the `duckdb` crate is pinned to (Cargo.toml: =1.10506.x).
XFORM_DUCKDB_VERSION=1.5.6
XFORM_DUCKDB_NPM="@duckdb/node-bindings-linux-x64@${XFORM_DUCKDB_VERSION}-r.1"

if [ -z "${DUCKDB_LIB_DIR:-}" ]; then
  DUCKDB_LIB_DIR="$XFORM_CACHE/duckdb-$XFORM_DUCKDB_VERSION"
  if [ ! -f "$DUCKDB_LIB_DIR/libduckdb.so" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "error: npm is needed to fetch the prebuilt DuckDB ($XFORM_DUCKDB_NPM)" >&2
      echo "       install Node.js, or build DuckDB from source: cargo build (feature 'bundled', ~30 min)" >&2
      exit 2
    fi
    echo "fetching prebuilt DuckDB $XFORM_DUCKDB_VERSION ($XFORM_DUCKDB_NPM)..." >&2
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$XFORM_DUCKDB_NPM" >/dev/null && tar xzf ./*.tgz)
    mkdir -p "$DUCKDB_LIB_DIR"
    cp "$tmp/package/libduckdb.so" "$DUCKDB_LIB_DIR/"
    rm -rf "$tmp"
  fi
fi
export DUCKDB_LIB_DIR
