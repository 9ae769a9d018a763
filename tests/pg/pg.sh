#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: initdb into a temp dir, a server on a free
# loopback port without fsync, one database `hookd`; stopped and removed after.
#   pg.sh start         prints HOOKD_TEST_DB=postgres://postgres@127.0.0.1:PORT/hookd and
#                       HOOKD_PG_DIR=DIR, for `eval "$(tests/pg/pg.sh start)"`
#   pg.sh stop DIR      stops the cluster of DIR (-m immediate) and removes DIR
#   pg.sh down DIR      stops its server (-m fast), keeping DIR: the database going away
#   pg.sh up DIR        starts it again, on the same port
#   pg.sh run CMD...    start, run CMD with HOOKD_TEST_DB (and HOOKD_PG_DIR) exported, stop;
#                       exits with CMD's status
# Works as root (the server runs as the `postgres` user) and as an ordinary user.
set -euo pipefail

# Debian keeps the server programs off PATH, under /usr/lib/postgresql/<version>/bin
PG_BIN=${PG_BIN:-$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)}
if [ -z "$PG_BIN" ] && command -v initdb >/dev/null; then
    PG_BIN=$(dirname "$(command -v initdb)")
fi

as_owner() { # runs a server program as the cluster's owner
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
    if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
        echo "pg.sh: PostgreSQL's server is missing (Debian: apt-get install postgresql)" >&2
        exit 1
    fi
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        echo "pg.sh: the postgres user is missing (Debian: apt-get install postgresql)" >&2
        exit 1
    fi
    local dir
    dir=$(mktemp -d /tmp/hookd-pg-XXXXXX)
    chmod 700 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    if ! as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C \
        --no-sync --no-instructions >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        rm -rf "$dir"
        exit 1
    fi
    local port started=
    for _ in 1 2 3 4 5 6 7 8; do
        # below the ephemeral ports (32768-60999): a client reconnecting to a stopped server can
        # otherwise connect to itself on that port and keep the server from starting again
        port=$((20000 + RANDOM % 12000))
        port_is_free "$port" || continue
        echo "-k $dir -c listen_addresses=127.0.0.1 -p $port -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_preload_libraries=pg_stat_statements" >"$dir/options"
        if server_start "$dir"; then
            started=1
            break
        fi
    done
    if [ -z "$started" ]; then
        echo "pg.sh: the server did not start:" >&2
        cat "$dir/server.log" >&2 || true
        rm -rf "$dir"
        exit 1
    fi
    if ! as_owner "$PG_BIN/createdb" -h "$dir" -p "$port" -U postgres hookd >&2; then
        stop "$dir"
        exit 1
    fi
    echo "HOOKD_TEST_DB=postgres://postgres@127.0.0.1:$port/hookd"
    echo "HOOKD_PG_DIR=$dir"
}

server_start() { # server_start DIR: the server of DIR with the options it was first started with
    as_owner "$PG_BIN/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 20 -o "$(cat "$1/options")" \
        start >/dev/null 2>&1
}

check_dir() {
    case $1 in
    /tmp/hookd-pg-*) ;;
    *)
        echo "pg.sh: $1 is not a cluster of pg.sh" >&2
        exit 1
        ;;
    esac
}

down() {
    local dir=${1:?usage: pg.sh down DIR}
    check_dir "$dir"
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
}

up() {
    local dir=${1:?usage: pg.sh up DIR}
    check_dir "$dir"
    server_start "$dir" || { cat "$dir/server.log" >&2; exit 1; }
}

stop() {
    local dir=${1:?usage: pg.sh stop DIR}
    check_dir "$dir"
    if [ -d "$dir/data" ]; then
        as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

run() {
    local vars
    vars=$(start)
    eval "$vars"
    export HOOKD_TEST_DB HOOKD_PG_DIR
    trap 'stop "$HOOKD_PG_DIR"' EXIT
    trap 'exit 130' INT TERM
    local status=0
    "$@" || status=$?
    return "$status"
}

case ${1:-} in
start) start ;;
stop) stop "${2:-}" ;;
down) down "${2:-}" ;;
up) up "${2:-}" ;;
run)
    shift
    [ $# -gt 0 ] || { echo "usage: pg.sh run CMD..." >&2; exit 2; }
    run "$@"
    ;;
*)
    echo "usage: pg.sh start | stop DIR | down DIR | up DIR | run CMD..." >&2
    exit 2
    ;;
esac
