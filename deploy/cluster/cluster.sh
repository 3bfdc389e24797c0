#!/usr/bin/env bash
# The reference deployment on one machine: one PostgreSQL with pgvector, WORKERS `parley serve`
# workers sharing it, and HAProxy in front balancing their WebSocket sessions with health checks
# on /health. The same layout across machines is in the README ("Many machines").
#
#   deploy/cluster/cluster.sh up      # or: make cluster-up
#   deploy/cluster/cluster.sh status
#   deploy/cluster/cluster.sh down    # or: make cluster-down
#
# Settings (environment): CLUSTER_DIR (.cache/cluster), WORKERS (2), BALANCER_PORT (8780),
# FIRST_WORKER_PORT (8781), MODELS_DIR (the models `make models` assembled), PARLEY and PYTHON
# (the .venv's). Each worker loads its own models: budget about 1.3 GB of memory a worker.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
CLUSTER_DIR="$(realpath -m "${CLUSTER_DIR:-$repo/.cache/cluster}")"
WORKERS="${WORKERS:-2}"
BALANCER_PORT="${BALANCER_PORT:-8780}"
FIRST_WORKER_PORT="${FIRST_WORKER_PORT:-8781}"
PARLEY="${PARLEY:-$repo/.venv/bin/parley}"
PYTHON="${PYTHON:-$repo/.venv/bin/python}"
MODELS_DIR="${MODELS_DIR:-${PARLEY_DATA_DIR:-$HOME/.local/share/parley}/models}"
HEALTH_WAIT_S="${HEALTH_WAIT_S:-240}"

say() { echo "cluster: $*" >&2; }

wait_healthy() {  # url, what
    local deadline=$((SECONDS + HEALTH_WAIT_S))
    until curl -fsS -o /dev/null "$1/health" 2>/dev/null; do
        if ((SECONDS > deadline)); then
            say "$2 did not answer $1/health within ${HEALTH_WAIT_S} s; its log is in $CLUSTER_DIR"
            return 1
        fi
        sleep 0.5
    done
}

secret() {  # file: made once, kept 0600
    if [[ ! -s "$1" ]]; then
        (umask 077 && "$PYTHON" -c 'import secrets; print("pk-" + secrets.token_urlsafe(32))' >"$1")
    fi
    cat "$1"
}

start_postgres() {
    # pgserver's PostgreSQL 16 with pgvector, left running (cleanup_mode=None) on a Unix socket
    # in its data directory. Across machines, use any PostgreSQL >= 13 with pgvector instead.
    "$PYTHON" -W ignore::UserWarning - "$CLUSTER_DIR/postgres" >"$CLUSTER_DIR/store_url" <<'EOF'
import sys

import pgserver
import psycopg

server = pgserver.get_server(sys.argv[1], cleanup_mode=None)
with psycopg.connect(server.get_uri(), autocommit=True) as connection:
    if not connection.execute("SELECT 1 FROM pg_database WHERE datname = 'parley'").fetchone():
        connection.execute("CREATE DATABASE parley")
print(server.get_uri("parley"))
EOF
    say "PostgreSQL at $(cat "$CLUSTER_DIR/store_url")"
}

write_config() {
    local api_key signing_secret
    api_key="$(secret "$CLUSTER_DIR/api_key")"
    signing_secret="$(secret "$CLUSTER_DIR/signing_secret")"
    (umask 077 && cat >"$CLUSTER_DIR/worker.yaml" <<EOF
# Every worker reads this one file: the same store, API key and token signing secret, so a
# session, a client secret or a conversation id works on any of them.
store:
  url: "$(cat "$CLUSTER_DIR/store_url")"
server:
  api_key: "$api_key"
  signing_secret: "$signing_secret"
# PostgreSQL is backed up with pg_dump on its own schedule, not by each worker.
backup:
  every_hours: null
EOF
    )
}

start_worker() {  # number
    local number="$1" port=$((FIRST_WORKER_PORT + $1 - 1)) data="$CLUSTER_DIR/worker-$1"
    mkdir -p "$data"
    [[ -e "$data/models" ]] || ln -s "$(realpath "$MODELS_DIR")" "$data/models"
    if [[ -s "$data/pid" ]] && kill -0 "$(cat "$data/pid")" 2>/dev/null; then
        say "worker $number is already running"
        return
    fi
    PARLEY_CONFIG="$CLUSTER_DIR/worker.yaml" nohup "$PARLEY" serve --data-dir "$data" \
        --port "$port" >"$data/serve.log" 2>&1 &
    echo $! >"$data/pid"
    say "worker $number on port $port (pid $!, log $data/serve.log)"
}

write_haproxy_config() {
    {
        sed -e "s/@BALANCER_PORT@/$BALANCER_PORT/" "$here/haproxy.cfg.in"
        for number in $(seq 1 "$WORKERS"); do
            echo "    server worker-$number 127.0.0.1:$((FIRST_WORKER_PORT + number - 1)) check"
        done
    } >"$CLUSTER_DIR/haproxy.cfg"
    haproxy -c -q -f "$CLUSTER_DIR/haproxy.cfg"
}

up() {
    command -v haproxy >/dev/null || { say "haproxy is missing: make cluster-up installs it"; exit 1; }
    [[ -d "$MODELS_DIR" ]] || { say "no models in $MODELS_DIR: run make models first"; exit 1; }
    mkdir -p "$CLUSTER_DIR"
    start_postgres
    write_config
    # The first worker migrates the new database; the rest start once it answers.
    start_worker 1
    wait_healthy "http://127.0.0.1:$FIRST_WORKER_PORT" "worker 1"
    for number in $(seq 2 "$WORKERS"); do start_worker "$number"; done
    for number in $(seq 2 "$WORKERS"); do
        wait_healthy "http://127.0.0.1:$((FIRST_WORKER_PORT + number - 1))" "worker $number"
    done
    write_haproxy_config
    if [[ -s "$CLUSTER_DIR/haproxy.pid" ]] && kill -0 "$(cat "$CLUSTER_DIR/haproxy.pid")" 2>/dev/null; then
        haproxy -D -f "$CLUSTER_DIR/haproxy.cfg" -p "$CLUSTER_DIR/haproxy.pid" \
            -sf "$(cat "$CLUSTER_DIR/haproxy.pid")"
    else
        haproxy -D -f "$CLUSTER_DIR/haproxy.cfg" -p "$CLUSTER_DIR/haproxy.pid"
    fi
    wait_healthy "http://127.0.0.1:$BALANCER_PORT" "HAProxy"
    say "up: http://127.0.0.1:$BALANCER_PORT/ balances $WORKERS worker(s); API key in $CLUSTER_DIR/api_key"
    echo "http://127.0.0.1:$BALANCER_PORT"
}

stop_pid_file() {  # file, what
    if [[ -s "$1" ]]; then
        local pid
        pid="$(cat "$1")"
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
            say "stopped $2"
        fi
        rm -f "$1"
    fi
}

down() {
    stop_pid_file "$CLUSTER_DIR/haproxy.pid" HAProxy
    for pid_file in "$CLUSTER_DIR"/worker-*/pid; do
        [[ -e "$pid_file" ]] && stop_pid_file "$pid_file" "$(basename "$(dirname "$pid_file")")"
    done
    if [[ -f "$CLUSTER_DIR/postgres/postmaster.pid" ]]; then
        local postmaster
        postmaster="$(head -n 1 "$CLUSTER_DIR/postgres/postmaster.pid")"
        "$PYTHON" -W ignore::UserWarning - "$CLUSTER_DIR/postgres" <<'EOF'
import os
import sys
from pathlib import Path

from pgserver._commands import pg_ctl

# pg_ctl refuses root; pgserver runs its server as the user `pgserver` when started by root.
pg_ctl(["-w", "-m", "fast", "stop"], pgdata=Path(sys.argv[1]), user="pgserver" if os.geteuid() == 0 else None)
EOF
        # pg_ctl returns when the pid file is gone, which the postmaster removes just before it
        # exits: wait for the process itself (a minute at most: a loaded machine is slow to let
        # it go), so that `down` leaves nothing running.
        for _ in $(seq 1 600); do kill -0 "$postmaster" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$postmaster" 2>/dev/null; then
            kill -9 "$postmaster" 2>/dev/null || true
            say "PostgreSQL did not stop within a minute of being asked: killed"
        else
            say "stopped PostgreSQL"
        fi
    fi
}

status() {
    curl -fsS "http://127.0.0.1:$BALANCER_PORT/health" >/dev/null 2>&1 \
        && say "balancer on $BALANCER_PORT answers" || say "balancer on $BALANCER_PORT is down"
    for number in $(seq 1 "$WORKERS"); do
        local port=$((FIRST_WORKER_PORT + number - 1))
        curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 \
            && say "worker $number on $port answers" || say "worker $number on $port is down"
    done
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
