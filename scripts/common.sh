# Shell helpers shared by the scripts in this folder (sourced, not run).

# free_port LOW HIGH: prints the first port in LOW..HIGH nothing listens on at 127.0.0.1.
free_port() {
    local p
    for p in $(seq "$1" "$2"); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# stop_pid PID: asks a process this script started to stop (SIGTERM), waits up to 5 s, then
# kills it. Nothing when PID is empty or already gone.
stop_pid() {
    local pid="$1"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
}
