#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests.
#
#   pg.sh start DIR     initdb into DIR/data (trust auth, local connections
#                       only), start on a free 127.0.0.1 port with its unix
#                       socket in DIR, print postgresql://USER@127.0.0.1:PORT/postgres
#   pg.sh stop DIR      stop (fast) and remove DIR
#   pg.sh kill DIR      stop -m immediate (a crash: no checkpoint); DIR stays
#   pg.sh restart DIR   start again on the port chosen by `start`
#   pg.sh url DIR       print the connection URL again
#
# PostgreSQL refuses to run as root, so when run as root the cluster runs as
# the `postgres` system user and DIR is handed to it. The binaries come from
# PG_BIN (default /usr/lib/postgresql/15/bin).
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

die() {
    echo "pg.sh: $*" >&2
    exit 1
}

# Runs a command as the cluster's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

owner_name() {
    if [ "$(id -u)" -eq 0 ]; then
        echo postgres
    else
        id -un
    fi
}

# A free TCP port on 127.0.0.1: bind port 0 and read back what the kernel
# chose. A race with another process is possible but start retries.
free_port() {
    python3 - <<'PY' 2>/dev/null || shuf -i 20000-60000 -n 1
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

print_url() {
    local dir=$1
    local port
    port=$(cat "$dir/port")
    echo "postgresql://$(owner_name)@127.0.0.1:$port/postgres"
}

start_server() {
    local dir=$1 port=$2
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -w -t 60 -l "$dir/server.log" \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c fsync=on" \
        start >/dev/null
}

cmd_start() {
    local dir=$1
    mkdir -p "$dir"
    [ -e "$dir/data" ] && die "$dir/data already exists"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
    fi
    as_owner "$PG_BIN/initdb" -D "$dir/data" -A trust -U "$(owner_name)" -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    # Only local connections: the unix socket and loopback TCP.
    as_owner tee "$dir/data/pg_hba.conf" >/dev/null <<HBA
local all all trust
host all all 127.0.0.1/32 trust
HBA
    local attempt port
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        if start_server "$dir" "$port"; then
            echo "$port" | as_owner tee "$dir/port" >/dev/null
            print_url "$dir"
            return 0
        fi
        echo "pg.sh: start on port $port failed (attempt $attempt)" >&2
    done
    cat "$dir/server.log" >&2 || true
    die "could not start PostgreSQL in $dir"
}

cmd_stop() {
    local dir=$1
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

cmd_kill() {
    local dir=$1
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
}

cmd_restart() {
    local dir=$1
    [ -f "$dir/port" ] || die "$dir has no cluster started by pg.sh"
    start_server "$dir" "$(cat "$dir/port")" || { cat "$dir/server.log" >&2; die "restart failed"; }
}

[ $# -eq 2 ] || die "usage: pg.sh start|stop|kill|restart|url DIR"
case $1 in
start) cmd_start "$2" ;;
stop) cmd_stop "$2" ;;
kill) cmd_kill "$2" ;;
restart) cmd_restart "$2" ;;
url) print_url "$2" ;;
*) die "unknown command $1" ;;
esac
