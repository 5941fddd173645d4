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
