#!/usr/bin/env bash
# Browser end-to-end test of the reference servers: for the axum server and the warp server,
# start it on a free 127.0.0.1 port with a throw-away SQLite database, create an admin with
# `createsuperuser --password-stdin`, and run tests/browser/e2e.mjs (playwright-core driving
# Debian's headless Chromium) against it. Screenshots go to test-artifacts/.
#
# Installs Chromium with apt-get when missing (as root); when that is impossible it prints a
# SKIPPED line and exits 0 (under CI=true it fails instead). Every server it starts is killed on exit (trap, by PID). Each step
# is bounded in time. Honors CARGO_TARGET_DIR. Usage: scripts/browser-test.sh [RUN...], where a
# run is a server (`axum`, `warp`), optionally with a mount path (`axum@/chat`: the server serves
# the chat under /chat with --base-path). Default: axum, warp and axum@/chat.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# shellcheck source=scripts/common.sh
source scripts/common.sh

SERVERS=("$@")
[ ${#SERVERS[@]} -gt 0 ] || SERVERS=(axum warp axum@/chat)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
TEST_TIMEOUT=${BROWSER_TEST_TIMEOUT:-300}
ARTIFACTS_DIR=${ARTIFACTS_DIR:-$ROOT/test-artifacts}

skip() {
    if [ "${CI:-}" = true ]; then
        echo "FAILED: browser test cannot run under CI=true: $*" >&2
        exit 1
    fi
    echo "SKIPPED: browser test: $*"
    exit 0
}

# ---- prerequisites ---------------------------------------------------------------------------

if [ ! -x "$CHROMIUM" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing chromium (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        timeout 600 apt-get update -qq >/dev/null 2>&1 || true
        timeout 900 apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1 || true
    fi
    [ -x "$CHROMIUM" ] || skip "no Chromium at $CHROMIUM and it could not be installed (apt-get install chromium)"
fi
command -v node >/dev/null 2>&1 || skip "node is not installed"
command -v npm >/dev/null 2>&1 || skip "npm is not installed"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 18 ] || skip "node $NODE_MAJOR is too old (need 18+)"

echo "== npm ci (tests/browser)"
if ! (cd tests/browser && timeout 300 npm ci --no-audit --no-fund --loglevel=error); then
    skip "npm ci failed in tests/browser (no access to the npm registry?)"
fi

echo "== cargo build -p axum-server -p warp-server"
timeout 1800 cargo build -p axum-server -p warp-server
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')

mkdir -p "$ARTIFACTS_DIR"

# ---- servers ----------------------------------------------------------------------------------

# Each server runs under a small supervisor subshell that restarts it (same port, same database)
# when the test asks for it by creating a flag file and sending SIGTERM: the test checks that
# pages resume after a real restart. The current server PID is always in a pid file.
SUPERVISORS=()
PIDFILES=()
TMPDIRS=()
cleanup() {
    local pid file dir
    for pid in "${SUPERVISORS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for file in "${PIDFILES[@]}"; do
        [ -s "$file" ] && stop_pid "$(cat "$file")"
    done
    for dir in "${TMPDIRS[@]}"; do rm -rf "$dir"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_healthy() { # url supervisor-pid
    local i
    for i in $(seq 1 100); do
        kill -0 "$2" 2>/dev/null || return 1
        if node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

passed=0
failed=0
run_one() { # server[@mount]
    local name=${1%%@*} mount="" label=$1 dir port db supervisor status pid
    if [[ $1 == *@* ]]; then
        mount=${1#*@}
        label="$name-${mount//\//}"
    fi
    local bin="$TARGET_DIR/debug/$name-server"
    dir=$(mktemp -d "${TMPDIR:-/tmp}/chat-browser-$name.XXXXXX")
    TMPDIRS+=("$dir")
    port=$(free_port)
    db="sqlite:$dir/chat.db"
    local admin_user="admin_e2e"
    local admin_password
    admin_password="e2e-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    local pidfile="$dir/server.pid" restart_flag="$dir/restart" statusfile="$dir/server.status"
    PIDFILES+=("$pidfile")

    echo "== $label: createsuperuser"
    printf '%s\n' "$admin_password" |
        timeout 60 "$bin" createsuperuser --username "$admin_user" --password-stdin --database "$db" --log warn ||
        return 1

    echo "== $label: serving on http://127.0.0.1:$port$mount"
    # Rate limits off: the test posts a burst of messages to build a long history.
    (
        while :; do
            "$bin" serve --bind "127.0.0.1:$port" --database "$db" --rate-limit off --log warn \
                --base-path "$mount" \
                >>"$dir/server.log" 2>&1 &
            echo $! >"$pidfile"
            code=0
            wait $! || code=$?
            echo "$code" >"$statusfile"
            [ -e "$restart_flag" ] || exit 0
            rm -f "$restart_flag"
            echo "-- restarted" >>"$dir/server.log"
        done
    ) &
    supervisor=$!
    SUPERVISORS+=("$supervisor")
    if ! wait_healthy "http://127.0.0.1:$port$mount/healthz" "$supervisor"; then
        echo "!! $label server did not become healthy; its log:"
        tail -n 50 "$dir/server.log" || true
        return 1
    fi

    echo "== $label: browser test"
    status=0
    BASE_URL="http://127.0.0.1:$port" MOUNT="$mount" ADMIN_USER="$admin_user" \
        ADMIN_PASSWORD="$admin_password" LABEL="$label" ARTIFACTS_DIR="$ARTIFACTS_DIR" CHROMIUM="$CHROMIUM" \
        SERVER_PID_FILE="$pidfile" RESTART_FLAG="$restart_flag" \
        timeout "$TEST_TIMEOUT" node tests/browser/e2e.mjs || status=$?

    # Graceful shutdown: SIGTERM must make the server exit on its own, successfully.
    rm -f "$restart_flag"
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    local stopped=1
    for _ in $(seq 1 150); do
        if ! kill -0 "$supervisor" 2>/dev/null; then stopped=0; break; fi
        sleep 0.1
    done
    if [ $stopped -ne 0 ]; then
        echo "!! $label server did not stop within 15 s of SIGTERM"
        status=1
    elif [ "$(cat "$statusfile" 2>/dev/null)" != 0 ]; then
        echo "!! $label server exited with status $(cat "$statusfile" 2>/dev/null) after SIGTERM"
        status=1
    fi
    if [ $status -ne 0 ]; then
        echo "!! $label: failed; last lines of the server log:"
        tail -n 40 "$dir/server.log" || true
    fi
    return $status
}

for name in "${SERVERS[@]}"; do
    # (errexit does not apply inside a function called from `if`: run_one checks each step.)
    if run_one "$name"; then
        passed=$((passed + 1))
        echo "== $name: passed"
    else
        failed=$((failed + 1))
        echo "== $name: FAILED"
    fi
done

echo "screenshots: $ARTIFACTS_DIR"
echo "browser-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
