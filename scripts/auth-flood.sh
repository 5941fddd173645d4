#!/usr/bin/env bash
# Floods the axum reference server with password hashing work and reports what it costs: the
# server's RSS (before, peak, a few seconds after), a legitimate user's login latencies, and
# the flood's responses by status (see benches/src/bin/authflood.rs). Two scenarios, each on
# a fresh server with a fresh SQLite file and rate limits off:
#   flood    400 signups, then 600 logins of unknown names, 128 in parallel, while a
#            legitimate user logs in once a second (retrying after a 503's Retry-After)
#   signups  200 signups, 4 in parallel
#
# Usage: scripts/auth-flood.sh [--server PATH] [--sustain S] [--only flood|signups]
#   --server PATH  an axum-server binary to measure (default: build this tree's, release)
#   --sustain S    keep the flood's unknown-name logins going for S seconds
#   --only NAME    run one scenario
# Load goes to 127.0.0.1 only; the servers started here are killed by PID on exit, and each
# run is bounded in time (the flood also stops when the server passes 6 GiB).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/chat-target}"

SERVER="" SUSTAIN=0 ONLY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --server) SERVER="$2"; shift ;;
        --sustain) SUSTAIN="$2"; shift ;;
        --only) ONLY="$2"; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "auth-flood.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

if [ -z "$SERVER" ]; then
    cargo build --release -p axum-server
    SERVER="$CARGO_TARGET_DIR/release/axum-server"
fi
[ -x "$SERVER" ] || { echo "auth-flood.sh: $SERVER is not an executable" >&2; exit 2; }
cargo build --release -p chat-benches --bin authflood
FLOOD="$CARGO_TARGET_DIR/release/authflood"

WORK="$(mktemp -d /tmp/chat-auth-flood.XXXXXX)"
SERVER_PID=""
stop_server() {
    stop_pid "$SERVER_PID"
    SERVER_PID=""
}
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME: the reference server on a free port with a fresh SQLite file, limits off.
start_server() {
    local name="$1"
    PORT="$(free_port 18800 18899)"
    # The per-address limits go by environment (older builds ignore it): off, the flood from
    # one address stands for one from many, and only the hashing pool bounds it.
    CHAT_ADDRESS_LIMITS=off "$SERVER" --database "sqlite:$WORK/$name.db" --log warn serve \
        --bind "127.0.0.1:$PORT" --rate-limit off --login-rate-limit off \
        >"$WORK/$name.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "auth-flood.sh: the server did not start:" >&2
    cat "$WORK/$name.log" >&2
    exit 1
}

STATUS=0
# scenario NAME AUTHFLOOD_ARGS...: one run on a fresh server, at most 10 minutes.
scenario() {
    local name="$1"
    shift
    if [ -n "$ONLY" ] && [ "$ONLY" != "$name" ]; then return 0; fi
    start_server "$name"
    echo "== $name: $*"
    timeout 600 "$FLOOD" --server "127.0.0.1:$PORT" --pid "$SERVER_PID" "$@" || STATUS=1
    stop_server
}

echo "server: $SERVER"
scenario flood --signups 400 --logins 600 --concurrency 128 --sustain "$SUSTAIN"
scenario signups --signups 200 --logins 0 --concurrency 4 --no-legit
exit "$STATUS"
