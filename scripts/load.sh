#!/usr/bin/env bash
# HTTP load comparison over loopback with wrk: the same GET / served by `bare` (no session),
# `ours_verify` (SessionLayer<User>, valid cookie, no refresh due) and `tower_sessions_memory`
# (tower-sessions, memory store), one server after the other. Prints requests/s, the
# server's CPU time per request, and the ratios of both to bare.
#
# The servers take turns for ROUNDS rounds (each round starts each server afresh). Each
# server's ratio to bare is taken within every round, where the servers ran back to back on
# the same state of the machine, and the median of those ratios is reported; a burst of
# noise on a shared machine then spoils one round rather than one server's only figure.
#
# Usage: scripts/load.sh [seconds per run, default 5] [connections, default 32]
# Environment: CARGO_TARGET_DIR (where the release build goes), PORT (default 38080),
#              WARMUP (seconds of unmeasured load before each run, default 1),
#              ROUNDS (default 3), PIN (1 to pin when possible, the default; 0 not to).
#
# Needs wrk (Debian: apt-get install wrk). Every run is bounded in time, and only
# 127.0.0.1 is loaded. With taskset and two or more cores, the server is pinned to core 0
# and wrk to core 1, so they do not compete for a core.
set -euo pipefail

DURATION="${1:-5}"
CONNECTIONS="${2:-32}"
PORT="${PORT:-38080}"
WARMUP="${WARMUP:-1}"
ROUNDS="${ROUNDS:-3}"
PIN="${PIN:-1}"
MODES=(bare ours_verify tower_sessions_memory)

cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk is not installed; on Debian or Ubuntu: apt-get install wrk" >&2
    exit 1
fi

SERVER_PIN=()
WRK_PIN=()
if [ "$PIN" = "1" ] && command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    SERVER_PIN=(taskset -c 0)
    WRK_PIN=(taskset -c 1)
    PINNING="server on core 0, wrk on core 1"
else
    PINNING="no pinning (PIN=0, taskset missing, or a single core)"
fi

echo "building the release load server..." >&2
BIN=$(cargo bench --quiet --no-run --bench load_server --message-format json 2>/dev/null \
    | python3 -c 'import json,sys; [print(m["executable"]) for m in map(json.loads, sys.stdin) if m.get("executable") and m["target"]["name"] == "load_server"]' | tail -n 1)

SERVER_PID=""
COOKIE_FILE="$(mktemp)"
stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}
cleanup() {
    stop_server
    rm -f "$COOKIE_FILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts the server for $1 and waits (at most 10 s) for the cookie line it prints once it
# is listening.
start_server() {
    : >"$COOKIE_FILE"
    "${SERVER_PIN[@]}" "$BIN" "$1" "$PORT" >"$COOKIE_FILE" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        if [ -s "$COOKIE_FILE" ]; then
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "the $1 server exited before listening" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "the $1 server did not start within 10 s" >&2
    return 1
}

# CPU time the server has used so far (user and system, all threads), in nanoseconds, from
# /proc/PID/stat; the kernel counts it in clock ticks (usually 10 ms), so a run of a few
# seconds measures it to about one per cent.
CLK_TCK="$(getconf CLK_TCK)"
server_cpu_ns() {
    awk -v hz="$CLK_TCK" '{ printf "%d", ($14 + $15) * 1000000000 / hz }' /proc/"$SERVER_PID"/stat
}

# Runs wrk against the server; prints requests/s and the server's CPU time per request in
# microseconds. When the server saturates its core the two say the same; when throughput is
# bound by something else (wrk's core, or slow wakeups between the cores of a virtual
# machine) the server idles part of the time, and its CPU time per request still shows
# what a request costs it.
run_wrk() {
    local seconds="$1" cookie="$2" output cpu_before cpu_after
    cpu_before="$(server_cpu_ns)"
    output="$("${WRK_PIN[@]}" wrk -t1 -c"$CONNECTIONS" -d"${seconds}s" \
        -H "Cookie: $cookie" "http://127.0.0.1:$PORT/")"
    cpu_after="$(server_cpu_ns)"
    if grep -qE "Non-2xx or 3xx responses|Socket errors" <<<"$output"; then
        echo "wrk saw failed requests:" >&2
        echo "$output" >&2
        return 1
    fi
    awk -v cpu="$((cpu_after - cpu_before))" '
        / requests in / { requests = $1 }
        /^Requests\/sec:/ { rps = $2 }
        END { printf "%s %.2f\n", rps, requests ? cpu / requests / 1000 : 0 }' <<<"$output"
}

# Median of the numbers given as arguments.
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A RUNS CPUS
for round in $(seq "$ROUNDS"); do
    for mode in "${MODES[@]}"; do
        start_server "$mode"
        cookie="$(head -n 1 "$COOKIE_FILE")"
        if [ "$WARMUP" != "0" ]; then
            run_wrk "$WARMUP" "$cookie" >/dev/null
        fi
        if ! read -r rps cpu < <(run_wrk "$DURATION" "$cookie") || [ -z "$rps" ]; then
            echo "no result for $mode" >&2
            exit 1
        fi
        stop_server
        RUNS[$mode]="${RUNS[$mode]:-} $rps"
        CPUS[$mode]="${CPUS[$mode]:-} $cpu"
        echo "round $round, $mode: $rps requests/s, server CPU $cpu us/request" >&2
    done
done

# Each server's ratio to bare in every round (the servers of one round ran back to back,
# so they saw the same state of the machine), and the median of those ratios.
declare -A RPS CPU RATIO CPU_RATIO
read -ra BARE_RUNS <<<"${RUNS[bare]}"
read -ra BARE_CPUS <<<"${CPUS[bare]}"
for mode in "${MODES[@]}"; do
    read -ra mode_runs <<<"${RUNS[$mode]}"
    read -ra mode_cpus <<<"${CPUS[$mode]}"
    ratios=()
    cpu_ratios=()
    for i in "${!mode_runs[@]}"; do
        ratios+=("$(awk -v a="${mode_runs[$i]}" -v b="${BARE_RUNS[$i]}" 'BEGIN { printf "%.3f", a / b }')")
        cpu_ratios+=("$(awk -v a="${mode_cpus[$i]}" -v b="${BARE_CPUS[$i]}" 'BEGIN { printf "%.3f", a / b }')")
    done
    RPS[$mode]="$(median "${mode_runs[@]}")"
    CPU[$mode]="$(median "${mode_cpus[@]}")"
    RATIO[$mode]="$(median "${ratios[@]}")"
    CPU_RATIO[$mode]="$(median "${cpu_ratios[@]}")"
    RUNS[$mode]="${ratios[*]}"
done

echo
echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s over 127.0.0.1, $PINNING; medians of $ROUNDS rounds"
printf '%-24s %12s %9s %14s %9s   %s\n' "server" "requests/s" "vs bare" "CPU us/request" "vs bare" "vs bare, each round"
for mode in "${MODES[@]}"; do
    printf '%-24s %12.0f %9.3f %14.2f %9.3f   %s\n' "$mode" "${RPS[$mode]}" "${RATIO[$mode]}" \
        "${CPU[$mode]}" "${CPU_RATIO[$mode]}" "${RUNS[$mode]}"
done
echo "(vs bare: the median of the per-round ratios; CPU us/request: the server's user+system time per request)"
