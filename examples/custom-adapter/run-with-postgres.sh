#!/usr/bin/env bash
# Runs PROGRAM postgresql://spool@127.0.0.1:PORT/postgres [ARGS...] against a PostgreSQL server of its
# own: initdb into a temporary directory, the server on 127.0.0.1 at a free port (its Unix socket in
# that directory too), and afterwards the server stopped, by the pid this script started, and the
# directory removed. Exits with PROGRAM's status.
#
#   run-with-postgres.sh build/pg_conformance
#
# PostgreSQL refuses to run as root, so as root the server runs as `nobody` (PG_USER to change it).
# The server binaries are Debian's (/usr/lib/postgresql/<version>/bin; PG_BINDIR to change it).
# Limits: SETUP_TIMEOUT seconds for initdb and start (60), PROGRAM_TIMEOUT for the program (600).
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 PROGRAM [ARGS...]" >&2
  exit 2
fi

setup_timeout=${SETUP_TIMEOUT:-60}
program_timeout=${PROGRAM_TIMEOUT:-600}

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then
      bindir=$d
      break
    fi
  done
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/postgres" ]; then
  echo "$0: no PostgreSQL server found (install Debian's postgresql, or set PG_BINDIR)" >&2
  exit 1
fi

# As root, run the server's side unprivileged. setpriv execs (no child process), so $! below is
# the server's own pid.
as_server=()
if [ "$(id -u)" -eq 0 ]; then
  user=${PG_USER:-nobody}
  as_server=(setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups --)
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/spool-pg.XXXXXX")
server_pid=
program_pid=
stop_server() {
  local status=$?
  if [ -n "$program_pid" ] && kill -0 "$program_pid" 2>/dev/null; then
    kill -TERM "$program_pid" 2>/dev/null || true  # timeout passes it on to the program
    wait "$program_pid" 2>/dev/null || true
  fi
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -INT "$server_pid" 2>/dev/null || true  # fast shutdown: roll back, close clients, exit
    for _ in $(seq 100); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      echo "$0: the server (pid $server_pid) did not stop in 10 s; killing it" >&2
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
  exit "$status"
}
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ ${#as_server[@]} -eq 0 ] || chown "$user:$(id -gn "$user")" "$dir"

# The server's side runs in the temporary directory, where its user may stand; PROGRAM runs here.
(cd "$dir" && exec timeout "$setup_timeout" "${as_server[@]}" "$bindir/initdb" -D "$dir/data" -U spool -A trust \
  --no-sync -E UTF8 --locale=C) >"$dir/initdb.log" 2>&1 || {
  echo "$0: initdb failed:" >&2
  cat "$dir/initdb.log" >&2
  exit 1
}

# A port that is free now may be taken before the server binds it: try a few.
deadline=$((SECONDS + setup_timeout))
port=
for attempt in 1 2 3 4 5; do
  candidate=$((20000 + RANDOM % 40000))
  (cd "$dir" && exec "${as_server[@]}" "$bindir/postgres" -D "$dir/data" -h 127.0.0.1 -p "$candidate" -k "$dir" \
    -c fsync=off -c full_page_writes=off -c max_connections=100) >"$dir/server.log" 2>&1 &
  server_pid=$!  # the subshell's pid, which exec made the server's
  while [ $SECONDS -lt $deadline ] && kill -0 "$server_pid" 2>/dev/null; do
    if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$candidate" -t 1; then
      port=$candidate
      break
    fi
    sleep 0.1
  done
  [ -n "$port" ] && break
  if kill -0 "$server_pid" 2>/dev/null; then
    echo "$0: the server did not accept connections within ${setup_timeout} s:" >&2
    cat "$dir/server.log" >&2
    exit 1
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  if ! grep -q "could not bind\|could not create any TCP/IP sockets" "$dir/server.log"; then
    echo "$0: the server did not start:" >&2
    cat "$dir/server.log" >&2
    exit 1
  fi
done
if [ -z "$port" ]; then
  echo "$0: no free port found in 5 attempts" >&2
  exit 1
fi

echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') (pid $server_pid) on 127.0.0.1:$port" >&2
program=$1
shift
# In the background and waited for, so that a signal to this script runs the trap at once.
timeout "$program_timeout" "$program" "postgresql://spool@127.0.0.1:$port/postgres" "$@" &
program_pid=$!
set +e
wait "$program_pid"
status=$?
set -e
program_pid=
[ $status -ne 124 ] || echo "$0: $program did not finish within ${program_timeout} s" >&2
exit $status
