#!/usr/bin/env bash
# Compares two builds of the axum reference server in interleaved pairs, the way the changes in
# BENCHMARKS.md were measured: each round starts a fresh server of build A and one of build B
# (the order alternating between rounds), each with a fresh SQLite file, and runs one load step
# against it (200 clients in 10 rooms, 2 s of warm-up, then the measured window). Pairs, not
# one long run per build, because this machine is shared and its speed drifts by tens of
# percent within minutes: only differences that hold pair after pair mean something.
#
# Usage: scripts/pairs.sh [--rounds N] [--deliveries N] [--duration S] [--batch] SERVER_A SERVER_B
#   SERVER_A, SERVER_B  paths to two `axum-server` binaries (copy each build aside first)
#   --rounds N          pairs to run (default 6)
#   --deliveries N      target deliveries per second (default 400000)
#   --duration S        measured seconds per run (default 8)
#   --batch             clients ask for batched frames (`/ws?batch=1`)
# The generator is $CARGO_TARGET_DIR/release/loadgen (built here when missing). Prints one line
# per run (p50, p99, p99.9 ms, lost, server and generator CPU us per delivery) and, with jq
# installed, the median of each figure per build. Load goes to 127.0.0.1 only; every server
# started here is killed by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/chat-target}"

ROUNDS=6 DELIVERIES=400000 DURATION=8 BATCH=()
SERVERS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS="$2"; shift ;;
        --deliveries) DELIVERIES="$2"; shift ;;
        --duration) DURATION="$2"; shift ;;
        --batch) BATCH=(--batch) ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        -*) echo "pairs.sh: unknown option $1" >&2; exit 2 ;;
        *) SERVERS+=("$1") ;;
    esac
    shift
done
if [ "${#SERVERS[@]}" -ne 2 ]; then
    echo "pairs.sh: give two axum-server binaries (see --help)" >&2
    exit 2
fi
for server in "${SERVERS[@]}"; do
    [ -x "$server" ] || { echo "pairs.sh: $server is not an executable" >&2; exit 2; }
done

LOADGEN="$CARGO_TARGET_DIR/release/loadgen"
if [ ! -x "$LOADGEN" ]; then
    cargo build --release -p chat-benches --bin loadgen
fi

WORK="$(mktemp -d /tmp/chat-pairs.XXXXXX)"
SERVER_PID=""
cleanup() {
    stop_pid "$SERVER_PID"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_one LABEL SERVER: one fresh server, one load step; appends the JSON line to results.
run_one() {
    local label="$1" server="$2" port out
    port="$(free_port 18800 18899)"
    rm -f "$WORK"/pair.db*
    # The limits newer builds add go by environment, which older builds ignore.
    CHAT_ADDRESS_LIMITS=off CHAT_MAX_SOCKETS_PER_USER=0 CHAT_MAX_SOCKETS_PER_ADDRESS=0 \
        CHAT_MAX_CONNECTIONS=20000 \
        "$server" --database "sqlite:$WORK/pair.db" --log warn serve \
        --bind "127.0.0.1:$port" --rate-limit off --login-rate-limit off \
        >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; return 1; }
        sleep 0.1
    done
    out="$WORK/run.txt"
    "$LOADGEN" --server "127.0.0.1:$port" --server-pid "$SERVER_PID" --label "$label" \
        --clients 200 --rooms 10 --deliveries "$DELIVERIES" --warmup 2 --duration "$DURATION" \
        "${BATCH[@]}" >"$out" 2>&1 || true
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    rm -f "$WORK"/pair.db*
    local line
    line="$(grep '^{' "$out" | tail -n 1 || true)"
    if [ -z "$line" ]; then
        echo "$label: no result" >&2
        cat "$out" >&2
        return 0
    fi
    echo "$line" >>"$WORK/results.jsonl"
    if command -v jq >/dev/null; then
        echo "$line" | jq -r '"\(.label)\tp50 \(.p50_ms)\tp99 \(.p99_ms)\tp99.9 \(.p999_ms)\tlost \(.lost)\tserver \(.server_cpu_us_per_delivery * 100 | round / 100) us\tloadgen \(.loadgen_cpu_us_per_delivery * 100 | round / 100) us"'
    else
        echo "$line"
    fi
}

for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then
        run_one A "${SERVERS[0]}"
        run_one B "${SERVERS[1]}"
    else
        run_one B "${SERVERS[1]}"
        run_one A "${SERVERS[0]}"
    fi
done

if command -v jq >/dev/null && [ -s "$WORK/results.jsonl" ]; then
    echo "medians over $ROUNDS rounds at $DELIVERIES deliveries/s (A = ${SERVERS[0]}, B = ${SERVERS[1]}):"
    jq -rs '
        def median: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
        group_by(.label)[]
        | "\(.[0].label)\tp50 \(map(.p50_ms) | median)\tp99 \(map(.p99_ms) | median)\tp99.9 \(map(.p999_ms) | median)\tlost \(map(.lost) | add)\tserver \(map(.server_cpu_us_per_delivery) | median * 100 | round / 100) us\tloadgen \(map(.loadgen_cpu_us_per_delivery) | median * 100 | round / 100) us"
    ' "$WORK/results.jsonl"
fi
