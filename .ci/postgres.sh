# Sourced by .ci/test.sh: starts a throwaway PostgreSQL cluster for the
# Postgres tests and exports where it listens (XFORM_TEST_PG_URL and its
# pieces XFORM_TEST_PG_HOST/PORT/USER/PASSWORD/DBNAME; XFORM_TEST_PG_SSL=1
# when it also speaks TLS, with a self-signed certificate made by openssl).
# The cluster lives in a fresh temp folder, listens on 127.0.0.1 only at a port picked now, and is
# stopped and deleted when the sourcing shell exits (`xform_pg_stop`, which
# the caller's EXIT trap must call).
#
# Under CI=true a cluster that cannot be started fails the run; elsewhere
# the Postgres tests then skip and say why.

xform_pg_fail() {
  echo "postgres: $*" >&2
  if [ "${CI:-}" = true ]; then
    exit 1
  fi
  echo "postgres: the Postgres tests will skip" >&2
  return 1
}

xform_pg_bin() {
  local d
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    # Debian links only some programs into PATH; psql sits beside the real initdb.
    dirname "$(readlink -f "$(command -v initdb)")"
    return 0
  fi
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

xform_pg_start() {
  local bin
  if ! bin="$(xform_pg_bin)"; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "postgres: installing PostgreSQL with apt-get" >&2
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2 ||
        { xform_pg_fail "apt-get install postgresql failed"; return 1; }
    fi
    bin="$(xform_pg_bin)" || { xform_pg_fail "initdb and pg_ctl not found (install PostgreSQL)"; return 1; }
  fi

  # Postgres refuses to run as root: run it as the `postgres` OS user.
  local as=()
  if [ "$(id -u)" = 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
      xform_pg_fail "running as root and there is no \`postgres\` user to run the server as"
      return 1
    fi
    as=(runuser -u postgres --)
  fi

  XFORM_PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/xform-pg.XXXXXX")"
  chmod 755 "$XFORM_PG_DIR"
  [ "${#as[@]}" -eq 0 ] || chown postgres: "$XFORM_PG_DIR"

  local port user=xform password dbname=xform_test
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')" ||
    { xform_pg_fail "cannot pick a free port"; return 1; }
  password="xform-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

  printf '%s\n' "$password" > "$XFORM_PG_DIR/pwfile"
  [ "${#as[@]}" -eq 0 ] || chown postgres: "$XFORM_PG_DIR/pwfile"
  if ! "${as[@]}" "$bin/initdb" -D "$XFORM_PG_DIR/data" -U "$user" --pwfile="$XFORM_PG_DIR/pwfile" \
      -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$XFORM_PG_DIR/initdb.log" 2>&1; then
    cat "$XFORM_PG_DIR/initdb.log" >&2
    xform_pg_fail "initdb failed"
    return 1
  fi
  rm -f "$XFORM_PG_DIR/pwfile"
  # TLS with a throwaway self-signed certificate, for the sslmode tests.
  local ssl_opts=""
  if command -v openssl >/dev/null 2>&1 &&
      openssl req -new -x509 -days 2 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$XFORM_PG_DIR/server.key" -out "$XFORM_PG_DIR/server.crt" >/dev/null 2>&1; then
    chmod 600 "$XFORM_PG_DIR/server.key"
    [ "${#as[@]}" -eq 0 ] || chown postgres: "$XFORM_PG_DIR/server.key" "$XFORM_PG_DIR/server.crt"
    ssl_opts="-c ssl=on -c ssl_cert_file=$XFORM_PG_DIR/server.crt -c ssl_key_file=$XFORM_PG_DIR/server.key"
  fi
  if ! "${as[@]}" "$bin/pg_ctl" -D "$XFORM_PG_DIR/data" -l "$XFORM_PG_DIR/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $XFORM_PG_DIR -c max_connections=200 -c timezone=UTC -c fsync=off -c synchronous_commit=off -c full_page_writes=off $ssl_opts" \
      start >/dev/null; then
    cat "$XFORM_PG_DIR/server.log" >&2
    xform_pg_fail "pg_ctl start failed"
    return 1
  fi
  XFORM_PG_CTL="$bin/pg_ctl"
  XFORM_PG_AS="${as[*]}"
  if ! PGPASSWORD="$password" "$bin/psql" -q -h 127.0.0.1 -p "$port" -U "$user" -d postgres \
      -c "create database $dbname" >/dev/null; then
    xform_pg_fail "create database $dbname failed"
    return 1
  fi

  export XFORM_TEST_PG_HOST=127.0.0.1 XFORM_TEST_PG_PORT="$port" XFORM_TEST_PG_USER="$user" \
    XFORM_TEST_PG_PASSWORD="$password" XFORM_TEST_PG_DBNAME="$dbname"
  export XFORM_TEST_PG_URL="postgres://$user:$password@127.0.0.1:$port/$dbname"
  if [ -n "$ssl_opts" ]; then
    export XFORM_TEST_PG_SSL=1
  fi
  echo "postgres: PostgreSQL $("$bin/postgres" -V | awk '{print $3}') on 127.0.0.1:$port" >&2
}

xform_pg_stop() {
  if [ -n "${XFORM_PG_DIR:-}" ] && [ -d "$XFORM_PG_DIR" ]; then
    if [ -n "${XFORM_PG_CTL:-}" ] && [ -f "$XFORM_PG_DIR/data/postmaster.pid" ]; then
      # shellcheck disable=SC2086 # XFORM_PG_AS is a command prefix
      $XFORM_PG_AS "$XFORM_PG_CTL" -D "$XFORM_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$XFORM_PG_DIR"
  fi
}

xform_pg_start || true
