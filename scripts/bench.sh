#!/usr/bin/env bash
# Runs the benchmark set of BENCHMARKS.md on this machine, in well under 15 minutes:
#   1. criterion suites (broker fan-out, stores, protocol frames),
#   2. the same load scenarios against the ceiling server, the durable (SQLite) ceiling and the
#      axum reference server (SQLite store, rate limits off), started and stopped here; the
#      reference twice: clients on plain `/ws` (one frame per text frame) and on `/ws?batch=1`
#      (frames ready together joined into one text frame, as the web UI connects),
#   3. a summary giving the reference server's figures as ratios to the ceilings of this run.
#
# Usage: scripts/bench.sh [--smoke] [--quick] [--skip-criterion] [--skip-reference]
#   --smoke           CI check: debug build, a few clients for ~2 s against the ceiling servers;
#                     exits non-zero if anything is lost, duplicated or out of order.
#   --quick           shorter windows (for trying things out; numbers are rougher).
#   --skip-criterion  only the load scenarios.
#   --skip-reference  only the ceilings.
# Honors CARGO_TARGET_DIR. Results: $CARGO_TARGET_DIR/bench-results/<time>/ (criterion.txt, every
# loadgen output, results.jsonl, summary.md). Load goes to 127.0.0.1 only; every server started
# here is killed by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/chat-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

SMOKE=0 QUICK=0 CRITERION=1 REFERENCE=1
for arg in "$@"; do
    case "$arg" in
        --smoke) SMOKE=1 ;;
        --quick) QUICK=1 ;;
        --skip-criterion) CRITERION=0 ;;
        --skip-reference) REFERENCE=0 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "bench.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

# 10,000 idle connections need more descriptors than the usual soft limit of 1024.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK="$(mktemp -d /tmp/chat-bench.XXXXXX)"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SERVER_PID="" SERVER_ADDR=""

# start_ceiling NAME [--durable PATH]: starts a ceiling server on a free port.
start_ceiling() {
    local name="$1"; shift
    "$BIN/ceiling" --bind 127.0.0.1:0 --exit-after 1800 "$@" >"$WORK/$name.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for _ in $(seq 100); do
        SERVER_ADDR="$(awk '/listening on/ {print $4; exit}' "$WORK/$name.log")"
        [ -n "$SERVER_ADDR" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench.sh: $name did not start:" >&2
    cat "$WORK/$name.log" >&2
    return 1
}

# start_reference NAME: the axum reference server with a fresh SQLite file, limits off.
start_reference() {
    local name="$1" port
    port="$(free_port 18700 18799)"
    rm -f "$WORK/$name.db"*
    "$BIN/axum-server" --database "sqlite:$WORK/$name.db" --log warn serve \
        --bind "127.0.0.1:$port" --rate-limit off --login-rate-limit off --address-limits off \
        --max-sockets-per-user 0 --max-sockets-per-address 0 --max-connections 20000 \
        >"$WORK/$name.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    SERVER_ADDR="127.0.0.1:$port"
    for _ in $(seq 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench.sh: $name did not start:" >&2
    cat "$WORK/$name.log" >&2
    return 1
}

stop_server() {
    stop_pid "$SERVER_PID"
    SERVER_PID=""
    # The stopped server's database is deleted before the next server starts: its dirty pages
    # are dropped instead of being written back while the next server is measured (hundreds
    # of MB after a durable ramp), and what else is dirty is flushed now.
    rm -f "$WORK"/*.db "$WORK"/*.db-*
    sync
}

# loadgen SERVER_NAME SCENARIO [args...]: runs the generator against the current server and
# appends its JSON lines, tagged with server and scenario, to results.jsonl.
loadgen() {
    local server="$1" scenario="$2"; shift 2
    local out="${LOGDIR:-$WORK}/$server-$scenario.txt" rc=0
    echo "--- $server / $scenario"
    "$BIN/loadgen" --server "$SERVER_ADDR" --server-pid "$SERVER_PID" \
        --label "$server $scenario" "$@" >"$out" 2>&1 || rc=$?
    grep -v '^{' "$out" || true
    if command -v jq >/dev/null; then
        grep '^{' "$out" | jq -c --arg s "$server" --arg c "$scenario" '. + {server_name: $s, scenario: $c}' \
            >>"$RESULTS" || true
    else
        grep '^{' "$out" >>"$RESULTS" || true
    fi
    return "$rc"
}

if [ "$SMOKE" = 1 ]; then
    echo "== bench smoke: building the load generator and the ceiling server (debug)"
    cargo build -p chat-benches --bins
    BIN="$CARGO_TARGET_DIR/debug"
    RESULTS="$WORK/results.jsonl"
    start_ceiling smoke-ceiling
    loadgen ceiling smoke --clients 8 --rooms 2 --users 2 --rate 20 --warmup 0.5 \
        --duration 2 --drain 5 --fail-on-loss --timeout 60
    stop_server
    start_ceiling smoke-durable --durable "$WORK/smoke.db"
    loadgen ceiling-durable smoke --clients 8 --rooms 2 --users 2 --rate 20 --warmup 0.5 \
        --duration 2 --drain 5 --fail-on-loss --timeout 60
    stop_server
    echo "== bench smoke passed: nothing lost, duplicated or out of order"
    exit 0
fi

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$CARGO_TARGET_DIR/bench-results/$STAMP"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
LOGDIR="$OUT"
: >"$RESULTS"
STARTED=$SECONDS
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

echo "== build (release)"
cargo build --release -p chat-benches --bins
HAVE_REFERENCE=0
if [ "$REFERENCE" = 1 ]; then
    if [ -f examples/axum-server/Cargo.toml ] && cargo build --release -p axum-server; then
        HAVE_REFERENCE=1
    else
        echo "bench.sh: the axum reference server is missing or does not build; reference figures skipped"
    fi
fi
BIN="$CARGO_TARGET_DIR/release"

if [ "$CRITERION" = 1 ]; then
    echo "== criterion suites"
    cargo bench -p chat-benches 2>&1 | tee "$OUT/criterion.txt" | grep -E '^[a-z_]+/|time:|thrpt:' || true
fi

if [ "$QUICK" = 1 ]; then
    WINDOW=3 RAMP_WINDOW=2 HOLD=1
else
    WINDOW=10 RAMP_WINDOW=4 HOLD=2
fi
RAMP="100000,200000,400000,600000,800000,1000000,1200000,1500000,2000000,2500000"

# scenarios SERVER_NAME START_COMMAND...: every load scenario against one kind of server. The
# words of $CLIENT_ARGS go to every load run; IDLE=0 skips the idle-memory scenario.
scenarios() {
    local name="$1"; shift
    local -a extra
    read -r -a extra <<<"${CLIENT_ARGS:-}"
    echo "== $name"
    if ! "$@" "$name-load"; then
        echo "bench.sh: $name did not start; its scenarios are skipped"
        return 0
    fi
    loadgen "$name" 20k --clients 200 --rooms 10 --rate 5 --warmup 2 --duration "$WINDOW" \
        ${extra[@]+"${extra[@]}"} || true
    loadgen "$name" 400k --clients 200 --rooms 10 --deliveries 400000 --warmup 2 \
        --duration "$WINDOW" --prefix lg4 ${extra[@]+"${extra[@]}"} || true
    loadgen "$name" ramp --clients 200 --rooms 10 --ramp "$RAMP" --warmup 2 --step-warmup 1 \
        --duration "$RAMP_WINDOW" --drain 3 --ramp-patience 2 --prefix lgr \
        ${extra[@]+"${extra[@]}"} || true
    stop_server
    [ "${IDLE:-1}" = 1 ] || return 0
    # A fresh server for the memory figure, so allocator caches of the load runs do not hide it.
    "$@" "$name-idle" || return 0
    loadgen "$name" idle --connections-only 10000 --users 4 --hold "$HOLD" --prefix lgi || true
    stop_server
}

start_durable() {
    rm -f "$WORK/$1.db"*
    start_ceiling "$1" --durable "$WORK/$1.db"
}

scenarios ceiling start_ceiling
scenarios ceiling-durable start_durable
if [ "$HAVE_REFERENCE" = 1 ]; then
    scenarios reference start_reference
    # The same server, its clients asking for batched frames (idle memory does not change).
    CLIENT_ARGS="--batch" IDLE=0 scenarios reference-batched start_reference
fi

# ---- summary: the reference server as ratios to the ceilings of this same run
summary() {
    if ! command -v jq >/dev/null; then
        echo "(jq not installed: see $RESULTS)"
        return 0
    fi
    jq -rs '
      . as $all
      | def pick(s; c; k): ($all | map(select(.server_name == s and .scenario == c and .kind != "ramp")) | first // {}) | .[k];
        def knee(s): ($all | map(select(.server_name == s and .kind == "ramp")) | first // {}) | .knee_target_per_s;
        def n(x): if x == null then "-" else (x * 1000 | round / 1000 | tostring) end;
        def ratio(a; b): if a == null or b == null or b == 0 then "-" else (a / b * 100 | round / 100 | tostring) end;
      ["ceiling", "ceiling-durable", "reference", "reference-batched"] as $servers
      | "| figure | " + ($servers | join(" | ")) + " | reference / ceiling | reference / durable | batched / ceiling | batched / durable |",
        "|---|---|---|---|---|---|---|---|---|",
        ( [ ["p99 ms at 20k deliveries/s", "20k", "p99_ms"],
            ["lost at 20k", "20k", "lost"],
            ["server CPU us/delivery at 20k", "20k", "server_cpu_us_per_delivery"],
            ["p99 ms at 400k deliveries/s", "400k", "p99_ms"],
            ["deliveries/s at 400k", "400k", "deliveries_per_s"],
            ["lost at 400k", "400k", "lost"],
            ["server CPU us/delivery at 400k", "400k", "server_cpu_us_per_delivery"],
            ["RSS bytes per idle connection (10k)", "idle", "rss_per_connection_bytes"] ][]
          | . as [$title, $c, $k]
          | [ $servers[] as $s | pick($s; $c; $k) ] as $v
          | "| \($title) | \(n($v[0])) | \(n($v[1])) | \(n($v[2])) | \(n($v[3])) | \(ratio($v[2]; $v[0])) | \(ratio($v[2]; $v[1])) | \(ratio($v[3]; $v[0])) | \(ratio($v[3]; $v[1])) |" ),
        ( [ $servers[] as $s | knee($s) ] as $v
          | "| knee: highest step passed, deliveries/s (p99 <= 50 ms, nothing lost, >= 99% of the step delivered) | \(n($v[0])) | \(n($v[1])) | \(n($v[2])) | \(n($v[3])) | \(ratio($v[2]; $v[0])) | \(ratio($v[2]; $v[1])) | \(ratio($v[3]; $v[0])) | \(ratio($v[3]; $v[1])) |" ),
        "",
        "Targets of issue 6 for the reference server (this run; idle memory is measured on plain /ws):",
        "",
        "| target | reference, plain /ws | met | reference, /ws?batch=1 | met |",
        "|---|---|---|---|---|",
        ( def yes(b): if b then "yes" else "NO" end;
          knee("ceiling-durable") as $kd
          | pick("reference"; "idle"; "rss_per_connection_bytes") as $rss
          | [ "reference", "reference-batched" ]
          | map(. as $s | {
              p20: pick($s; "20k"; "p99_ms"), l20: pick($s; "20k"; "lost"),
              p400: pick($s; "400k"; "p99_ms"), l400: pick($s; "400k"; "lost"),
              k: knee($s) }) as [$a, $b]
          | if $a.p20 == null then "| (no reference server in this run) | - | - | - | - |" else
            "| 20k deliveries/s: nothing lost, p99 <= 2 ms | lost \(n($a.l20)), p99 \(n($a.p20)) ms | \(yes($a.l20 == 0 and $a.p20 <= 2)) | lost \(n($b.l20)), p99 \(n($b.p20)) ms | \(yes($b.l20 == 0 and ($b.p20 // 1e9) <= 2)) |",
            "| knee >= 1,000,000 deliveries/s | \(n($a.k)) | \(yes(($a.k // 0) >= 1000000)) | \(n($b.k)) | \(yes(($b.k // 0) >= 1000000)) |",
            "| knee >= 50% of the durable ceiling knee | \(ratio($a.k; $kd)) | \(yes(($a.k // 0) >= 0.5 * ($kd // 0))) | \(ratio($b.k; $kd)) | \(yes(($b.k // 0) >= 0.5 * ($kd // 0))) |",
            "| p99 <= 5 ms at 400k deliveries/s (nothing lost) | lost \(n($a.l400)), p99 \(n($a.p400)) ms | \(yes($a.l400 == 0 and $a.p400 <= 5)) | lost \(n($b.l400)), p99 \(n($b.p400)) ms | \(yes($b.l400 == 0 and ($b.p400 // 1e9) <= 5)) |",
            "| <= 8 KB RSS per idle connection at 10k | \(n($rss)) bytes | \(yes(($rss // 1e9) <= 8000)) | (same server) | - |"
            end )
    ' "$RESULTS"
}
{
    echo "# Benchmark run $STAMP"
    echo
    echo "Machine: $(nproc) cores, load average before the run: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    summary || echo "(summary failed: see $RESULTS)"
} >"$OUT/summary.md"
echo
echo "== summary (also in $OUT/summary.md; raw lines in $RESULTS)"
cat "$OUT/summary.md"
echo "== done in $((SECONDS - STARTED)) s"
