#!/usr/bin/env bash
# Soak check: the demo under steady load for several minutes, with a Redis outage in the
# middle. Two demo instances (A and B) share SESSION_KEYS and a loopback redis-server; every
# request re-signs its token (SESSION_REFRESH_SECS=0), which is what made an un-upkept
# Prometheus recorder grow (one histogram sample per token signed). wrk loads `GET /me` on A
# with one session's cookie. Nothing scrapes `/metrics` while the load runs: a scrape drains
# the histogram samples and would hide exactly that growth.
#
# Timeline (t = seconds since the load started, SOAK_SECS in all):
#   t = WARMUP_SECS      RSS of A and B: "start"
#   t = SOAK_SECS / 2    RSS: "middle"; redis-server is killed (SIGKILL)
#   2 s later            a logout on A (another session's cookie), during the outage
#   OUTAGE_SECS after    redis-server restarts on the same port, empty (no persistence,
#                        so the nodes must write their revocations back)
#   t = SOAK_SECS        the load ends; RSS: "end"
# Then the logged-out sessions (the one logged out during the outage on A, and one logged
# out on B before it) must be refused (401 "revoked") by both instances, and the loaded
# session still accepted by B.
#
# Goals, each failing the script (exit 1) when missed: no failed request (no non-2xx answer,
# no socket error), RSS growth from start to end below MAX_GROWTH_KB on each instance, the
# logouts enforced everywhere after the outage.
#
# Usage: scripts/soak.sh
# Environment: SOAK_SECS (load duration, default 300, at least 60), WARMUP_SECS (default 30),
#              OUTAGE_SECS (default 20), CONNECTIONS (wrk connections, default 16),
#              MAX_GROWTH_KB (default 1024), FEATURES (demo build features, default
#              redis,metrics: what the demo needs for Redis and /metrics), CARGO_TARGET_DIR (where the release
#              build goes).
#
# Needs wrk (Debian: apt-get install wrk), redis-server, redis-cli and curl. Only 127.0.0.1
# is used. Every wait is bounded; the whole run takes about SOAK_SECS + 30 s after the build.
# Every process it starts is stopped on exit, whatever the outcome.
set -euo pipefail

SOAK_SECS="${SOAK_SECS:-300}"
WARMUP_SECS="${WARMUP_SECS:-30}"
OUTAGE_SECS="${OUTAGE_SECS:-20}"
CONNECTIONS="${CONNECTIONS:-16}"
MAX_GROWTH_KB="${MAX_GROWTH_KB:-1024}"
# The demo as the other scripts and CI build it: Redis for the outage, metrics for the
# recorder whose memory this watches, and the signing modes the demo's code needs.
FEATURES="${FEATURES:-redis,metrics}"
MID=$((SOAK_SECS / 2))

cd "$(dirname "$0")/.."

for tool in wrk redis-server redis-cli curl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$tool is not installed (Debian: apt-get install wrk redis-server curl)" >&2
        exit 2
    fi
done
if [ "$SOAK_SECS" -lt 60 ] || [ "$WARMUP_SECS" -ge "$MID" ] \
    || [ $((MID + OUTAGE_SECS + 10)) -ge "$SOAK_SECS" ]; then
    echo "need SOAK_SECS >= 60, WARMUP_SECS < SOAK_SECS/2, and the outage" \
        "(OUTAGE_SECS + 10 s) to end before SOAK_SECS" >&2
    exit 2
fi

echo "building the release demo (features: $FEATURES)..." >&2
cargo build --quiet --release --example demo --features "$FEATURES"
BIN="${CARGO_TARGET_DIR:-target}/release/examples/demo"

WORK="$(mktemp -d)"
REDIS_PID=""
A_PID=""
B_PID=""
WRK_PID=""
TRACE_PID=""
stop() {
    local pid
    for pid in "$@"; do
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
}
cleanup() {
    stop "$WRK_PID" "$TRACE_PID" "$A_PID" "$B_PID" "$REDIS_PID"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A loopback port nothing answers on (and not one picked before). There is a race with
# other programs between this check and the bind; a lost race makes a start fail, loudly.
PICKED=" "
free_port() {
    local port
    for _ in $(seq 100); do
        port=$((20000 + RANDOM % 40000))
        case "$PICKED" in *" $port "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            PICKED="$PICKED$port "
            echo "$port"
            return 0
        fi
    done
    echo "no free port found" >&2
    return 1
}
REDIS_PORT="$(free_port)"
A_ADDR="127.0.0.1:$(free_port)"
B_ADDR="127.0.0.1:$(free_port)"

# No persistence: a Redis that comes back empty is the harder case, the nodes have to write
# their revocations back (the library does on reconnection).
start_redis() {
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$WORK" --save '' \
        --appendonly no --logfile "$WORK/redis.log" &
    REDIS_PID=$!
    # Not a job of this shell: its death by SIGKILL, which is the point, then prints no
    # "Killed" line in the report. `stop` still ends it (a disowned child is still ours).
    disown "$REDIS_PID"
    for _ in $(seq 50); do
        if [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; then
            return 0
        fi
        sleep 0.1
    done
    echo "redis-server did not start on port $REDIS_PORT (see its log below)" >&2
    cat "$WORK/redis.log" >&2
    return 1
}

# The demo logs every request at INFO (with its headers, tokens hidden): several MB a
# minute under this load. Only the other lines (warnings, errors, startup) are kept.
# Sets STARTED to the demo's process id (not grep's).
start_demo() {
    local name="$1" addr="$2"
    DEMO_ADDR="$addr" SESSION_KEYS="$SESSION_KEYS" REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" \
        SESSION_REFRESH_SECS=0 \
        "$BIN" > >(grep --line-buffered -av ' INFO ' >"$WORK/$name.log") 2>&1 &
    STARTED=$!
}

# Waits (at most 20 s) for the instance's health to be "ok": listening, with the
# revocation set loaded from Redis.
wait_healthy() {
    local name="$1" addr="$2"
    for _ in $(seq 200); do
        if curl -s --max-time 1 "http://$addr/health" 2>/dev/null | grep -q '"status":"ok"'; then
            return 0
        fi
        sleep 0.1
    done
    echo "demo $name at $addr is not healthy after 20 s; its log:" >&2
    cat "$WORK/$name.log" >&2
    return 1
}

# The session cookie (`session=...`) of a JSON login as $2 on $1.
login() {
    curl -s --max-time 5 -D - -o /dev/null -H 'content-type: application/json' \
        -d "{\"user\":\"$2\"}" "http://$1/login" \
        | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(session=[^;]*\).*/\1/p'
}
# HTTP status of `GET /me` on $1 with the cookie $2 (000 when there is no answer).
me_status() {
    curl -s --max-time 5 -o "$WORK/me.body" -w '%{http_code}' -H "Cookie: $2" \
        "http://$1/me" || true
}
logout_status() {
    curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X POST -H "Cookie: $2" \
        "http://$1/logout" || true
}
rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

FAILED=0
fail() {
    echo "FAIL: $*"
    FAILED=1
}
LOGOUTS_ENFORCED=yes
logout_fail() {
    LOGOUTS_ENFORCED=no
    fail "$@"
}

SESSION_KEYS="k1:$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
start_redis
start_demo A "$A_ADDR"
A_PID=$STARTED
start_demo B "$B_ADDR"
B_PID=$STARTED
wait_healthy A "$A_ADDR"
wait_healthy B "$B_ADDR"

LOADED="$(login "$A_ADDR" soak)"        # the session wrk sends
OUT_LOGOUT="$(login "$A_ADDR" leaver)"  # logged out on A during the outage
PRE_LOGOUT="$(login "$B_ADDR" earlier)" # logged out on B before the outage
for cookie in "$LOADED" "$OUT_LOGOUT" "$PRE_LOGOUT"; do
    if [ -z "$cookie" ]; then
        echo "a login gave no session cookie" >&2
        exit 1
    fi
done
for addr in "$A_ADDR" "$B_ADDR"; do
    status="$(me_status "$addr" "$OUT_LOGOUT")"
    if [ "$status" != 200 ]; then
        echo "the session to log out is refused ($status) before the test on $addr" >&2
        exit 1
    fi
done

# Counts every answer outside 2xx (wrk's own count leaves 3xx out).
cat >"$WORK/count.lua" <<'EOF'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body)
    if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
    local n = 0
    for _, t in ipairs(threads) do n = n + t:get("non2xx") end
    io.write(string.format("non-2xx answers: %d\n", n))
end
EOF

echo "soak: ${SOAK_SECS}s of GET /me on A ($A_ADDR, $CONNECTIONS connections), B at $B_ADDR," \
    "Redis on port $REDIS_PORT; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# wrk's default timeout (2 s) stays: an answer slower than that counts as a failure.
# `timeout` only in case wrk hangs: -d ends it.
timeout $((SOAK_SECS + 30)) wrk -t2 -c"$CONNECTIONS" -d"${SOAK_SECS}s" \
    -s "$WORK/count.lua" -H "Cookie: $LOADED" "http://$A_ADDR/me" >"$WORK/wrk.out" 2>&1 &
WRK_PID=$!
T0=$(date +%s)
elapsed() { echo $(($(date +%s) - T0)); }
wait_until() {
    while [ "$(elapsed)" -lt "$1" ]; do sleep 0.5; done
}

# RSS of both instances every 10 s, printed at the end to show the shape of the curve.
# (Short sleeps, so that no `sleep` outlives the script by more than a second.)
(
    next=0
    while true; do
        if [ "$(elapsed)" -ge "$next" ]; then
            echo "$(elapsed) $(rss_kb "$A_PID") $(rss_kb "$B_PID")"
            next=$((next + 10))
        fi
        sleep 1
    done
) >"$WORK/trace" &
TRACE_PID=$!

wait_until "$WARMUP_SECS"
A_START="$(rss_kb "$A_PID")"
B_START="$(rss_kb "$B_PID")"

# Before the outage: a logout on B that Redis will forget when it dies.
status="$(logout_status "$B_ADDR" "$PRE_LOGOUT")"
[ "$status" = 200 ] || logout_fail "logout on B before the outage answered $status"

wait_until "$MID"
A_MID="$(rss_kb "$A_PID")"
B_MID="$(rss_kb "$B_PID")"
kill -KILL "$REDIS_PID"
for _ in $(seq 50); do
    kill -0 "$REDIS_PID" 2>/dev/null || break
    sleep 0.1
done
REDIS_PID=""
echo "t=$(elapsed)s: redis-server killed"

wait_until $((MID + 2))
status="$(logout_status "$A_ADDR" "$OUT_LOGOUT")"
[ "$status" = 200 ] || logout_fail "logout on A during the outage answered $status"
echo "t=$(elapsed)s: logout on A during the outage: $status;" \
    "B, which cannot know yet, answers $(me_status "$B_ADDR" "$OUT_LOGOUT") for that session"

wait_until $((MID + OUTAGE_SECS))
start_redis
RESTARTED=$(elapsed)
echo "t=${RESTARTED}s: redis-server restarted (empty) on port $REDIS_PORT"

# How long B takes to enforce the logout once Redis is back (at most 30 s looked at; the
# check that counts is the one after the load).
seen=""
while [ "$(($(elapsed) - RESTARTED))" -lt 30 ]; do
    if [ "$(me_status "$B_ADDR" "$OUT_LOGOUT")" = 401 ]; then
        seen=$(($(elapsed) - RESTARTED))
        break
    fi
    sleep 0.2
done
if [ -n "$seen" ]; then
    echo "t=$(elapsed)s: B refuses the session logged out during the outage," \
        "${seen}s after the restart"
else
    echo "t=$(elapsed)s: B still accepts the session logged out during the outage," \
        "30 s after the restart"
fi

wait "$WRK_PID" || fail "wrk exited with $?"
WRK_PID=""
A_END="$(rss_kb "$A_PID")"
B_END="$(rss_kb "$B_PID")"
stop "$TRACE_PID"
TRACE_PID=""

# After the outage: both logouts enforced on both instances, the loaded session still good.
for name in A B; do
    if [ "$name" = A ]; then addr="$A_ADDR"; else addr="$B_ADDR"; fi
    for which in OUT_LOGOUT PRE_LOGOUT; do
        status="$(me_status "$addr" "${!which}")"
        if [ "$status" != 401 ] || ! grep -q '"error":"revoked"' "$WORK/me.body"; then
            logout_fail "$name answers $status for the session $which: $(cat "$WORK/me.body")"
        fi
    done
done
status="$(me_status "$B_ADDR" "$LOADED")"
[ "$status" = 200 ] || fail "B refuses the loaded session ($status)"

echo
echo "== wrk on A =="
cat "$WORK/wrk.out"
REQUESTS="$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$WORK/wrk.out")"
NON2XX="$(sed -n 's/^non-2xx answers: \([0-9]*\)/\1/p' "$WORK/wrk.out")"
SOCKET="$(sed -n 's/^ *Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\)/\1 \2 \3 \4/p' "$WORK/wrk.out")"
SOCKET_ERRORS=0
for n in $SOCKET; do SOCKET_ERRORS=$((SOCKET_ERRORS + n)); done
[ -n "$REQUESTS" ] && [ "$REQUESTS" -gt 0 ] || fail "wrk made no request"
[ "${NON2XX:-1}" = 0 ] || fail "${NON2XX:-unknown number of} non-2xx answers"
[ "$SOCKET_ERRORS" = 0 ] || fail "socket errors (connect read write timeout): $SOCKET"

echo "== RSS (kB) every 10 s: t A B =="
cat "$WORK/trace"
echo "== logs (lines other than INFO) =="
for name in A B; do
    echo "-- $name: $(wc -l <"$WORK/$name.log") lines; the first 20:"
    head -n 20 "$WORK/$name.log"
done

echo
echo "== summary =="
echo "requests: ${REQUESTS:-?}, non-2xx: ${NON2XX:-?}, socket errors: $SOCKET_ERRORS"
for name in A B; do
    start="${name}_START" mid="${name}_MID" end="${name}_END"
    growth=$((${!end} - ${!start}))
    echo "RSS $name: start ${!start} kB (t=${WARMUP_SECS}s), middle ${!mid} kB (t=${MID}s)," \
        "end ${!end} kB (t=${SOAK_SECS}s); growth after warm-up: $growth kB"
    [ "$growth" -lt "$MAX_GROWTH_KB" ] || fail "RSS of $name grew by $growth kB (limit $MAX_GROWTH_KB)"
done
echo "logouts during the outage (on A, OUT_LOGOUT) and before it (on B, PRE_LOGOUT)," \
    "refused as revoked by A and B after it: $LOGOUTS_ENFORCED"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$FAILED" != 0 ]; then
    echo "soak: FAILED"
    exit 1
fi
echo "soak: passed"
