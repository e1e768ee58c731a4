#!/bin/bash
# A throwaway Postgres cluster for unit tests that need a real server.
#   pg_cluster.sh start DIR     initdb into DIR (fsync off), start on a free
#                               port, write the port to DIR/port
#   pg_cluster.sh restart DIR   pg_ctl restart (fast), same port
#   pg_cluster.sh stop DIR      stop (immediate) and remove DIR
# Runs the server as the postgres user when called as root (initdb refuses root).
set -eu
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
source "$(dirname "${BASH_SOURCE[0]}")/pg_initdb.sh"
cmd=$1 dir=$2
as_pg=()
# Debian's python3 when there is one, not a version manager's shim on PATH
# (tests/CMakeLists.txt).
py=/usr/bin/python3
[ -x "$py" ] || py=python3
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)

case $cmd in
start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    gw_initdb "$dir/data" "$dir/initdb.log" "${as_pg[@]}"
    # The free port may be taken by a test running beside this one before
    # Postgres binds it: then another port, a few times.
    for try in 1 2 3 4 5; do
        port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off \
                -c synchronous_commit=off -c full_page_writes=off" \
            start >/dev/null && break
        if [ "$try" = 5 ] || ! grep -q 'Address already in use' "$dir/log"; then
            cat "$dir/log" >&2
            exit 1
        fi
    done
    echo "$port" >"$dir/port"
    ;;
restart)
    "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 -m fast restart >/dev/null
    ;;
stop)
    "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|restart|stop DIR" >&2
    exit 2
    ;;
esac
