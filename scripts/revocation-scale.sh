#!/usr/bin/env bash
# Release-build measurements of revocation at scale (the figures in docs/revocation.md).
#
# For COUNT live session revocations written into a redis-server started here (by
# examples/revocation_fill, through the crate's own store, with the demo's settings), a
# fresh demo node (release, --features redis,metrics) joins the set while a request loop
# keeps asking it for a session; then RECONNECTS reconnections (CLIENT KILL); then an
# outage of OUTAGE seconds (redis-server stopped with SIGSTOP: its data kept, connections
# hanging) during which another node (revocation_fill, started during the outage) revokes
# 1000 sessions. It prints:
# - the join time (from the demo's start to a "revocation" check "ok"), the progress the
#   health check showed meanwhile, and the requests answered (and failed) meanwhile;
# - Redis's memory after the fill;
# - the demo's RSS with an empty set and with the COUNT entries: bytes per entry;
# - the time back to "ok" and the RSS after each reconnection, and the entries read from
#   the sets and from the log across them;
# - after the outage: how long after Redis returned the node held the 1000 new entries,
#   and how many entries it read to get there (from the log, from the sets).
#
# Usage: scripts/revocation-scale.sh [count, default 1000000]
# Environment: CARGO_TARGET_DIR (where the release build goes), REDIS_PORT (default 36379),
#              DEMO_PORT (default 38090), RECONNECTS (default 10), OUTAGE (seconds,
#              default 60).
#
# Needs redis-server, redis-cli and curl. Everything listens on 127.0.0.1 and is stopped at
# the end.
set -euo pipefail

COUNT="${1:-1000000}"
REDIS_PORT="${REDIS_PORT:-36379}"
DEMO_PORT="${DEMO_PORT:-38090}"
RECONNECTS="${RECONNECTS:-10}"
OUTAGE="${OUTAGE:-60}"
BASE="http://127.0.0.1:$DEMO_PORT"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"

cd "$(dirname "$0")/.."
for program in redis-server redis-cli curl; do
    if ! command -v "$program" >/dev/null 2>&1; then
        echo "$program is not installed" >&2
        exit 1
    fi
done

echo "building the demo and revocation_fill (release)..." >&2
cargo build --quiet --release --example demo --example revocation_fill --features redis,metrics
BIN="${CARGO_TARGET_DIR:-target}/release/examples"

WORK="$(mktemp -d)"
REDIS_PID=""
DEMO_PID=""
LOOP_PID=""
stop() {
    local pid="$1"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -CONT "$pid" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}
cleanup() {
    rm -f "$WORK/looping"
    stop "$LOOP_PID"
    stop "$DEMO_PID"
    stop "$REDIS_PID"
    rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
metric() {
    curl -s "$BASE/metrics" | awk -v name="$1" '$1 == name { print $2; found = 1 } END { if (!found) print 0 }'
}
revocation_check() {
    curl -s "$BASE/health" | grep -o '"revocation":{[^}]*}' || true
}
is_ok() { revocation_check | grep -q '"status":"ok"'; }

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK" --save "" \
    --appendonly no --logfile "$WORK/redis.log" &
REDIS_PID=$!
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.05; done

start_demo() {
    DEMO_ADDR="127.0.0.1:$DEMO_PORT" "$BIN/demo" >"$WORK/demo.log" 2>&1 &
    DEMO_PID=$!
}

wait_ok() {
    local limit="$1" start
    start="$(now)"
    until is_ok; do
        if awk -v s="$(since "$start")" -v l="$limit" 'BEGIN { exit !(s > l) }'; then
            echo "no ok within $limit s: $(revocation_check)" >&2
            exit 1
        fi
        sleep 0.02
    done
}

# The demo with an empty set, for the baseline RSS.
start_demo
wait_ok 30
sleep 1
RSS_EMPTY="$(rss_kb "$DEMO_PID")"
stop "$DEMO_PID"
DEMO_PID=""
echo "demo RSS with an empty set: $RSS_EMPTY kB"

echo "filling $COUNT revocations..." >&2
"$BIN/revocation_fill" "$COUNT"
redis_bytes() { redis-cli -p "$REDIS_PORT" MEMORY USAGE "$1" SAMPLES 1000; }
echo "Redis after the fill: used_memory $(redis-cli -p "$REDIS_PORT" INFO memory | tr -d '\r' |
    sed -n 's/^used_memory://p') bytes; the sessions set: \
$(redis-cli -p "$REDIS_PORT" ZCARD '{demo:revocations}:sessions') entries in \
$(redis_bytes '{demo:revocations}:sessions') bytes; the log: \
$(redis-cli -p "$REDIS_PORT" XLEN '{demo:revocations}:log') entries in \
$(redis_bytes '{demo:revocations}:log') bytes"

# A fresh node joins, while a request loop asks it for a session.
touch "$WORK/looping"
request_loop() {
    local cookie=""
    while [ -f "$WORK/looping" ]; do
        if [ -z "$cookie" ]; then
            cookie="$( (curl -s -o /dev/null -D - -H 'content-type: application/json' \
                -d '{"user":"ada"}' "$BASE/login" 2>/dev/null || true) |
                sed -n 's/^[Ss]et-[Cc]ookie: \(session=[^;]*\).*/\1/p' | head -n 1)"
            [ -z "$cookie" ] && { sleep 0.01; continue; }
        fi
        echo "$(now) $(curl -s -o /dev/null -w '%{http_code} %{time_total}' -b "$cookie" "$BASE/me" || true)"
    done >"$WORK/requests"
}
START="$(now)"
start_demo
request_loop &
LOOP_PID=$!
: >"$WORK/progress"
until is_ok; do
    check="$(revocation_check)"
    [ -n "$check" ] && echo "$(since "$START") s: $check" >>"$WORK/progress"
    if awk -v s="$(since "$START")" 'BEGIN { exit !(s > 600) }'; then
        echo "the node did not join within 600 s" >&2
        exit 1
    fi
    sleep 0.05
done
JOIN="$(since "$START")"
LOADED="$(metric 'stateless_session_revocation_read_entries_total{from="set"}')"
echo "joined $COUNT revocations in $JOIN s (from the demo's start; $LOADED entries read from the sets)"
echo "progress seen on /health (first and last):"
head -n 2 "$WORK/progress" | sed 's/^/  /'
tail -n 2 "$WORK/progress" | sed 's/^/  /'
FIRST_ANSWER="$(awk 'NR == 1 { print $1 }' "$WORK/requests")"
[ -n "$FIRST_ANSWER" ] && echo "first request answered $(awk -v a="$START" -v b="$FIRST_ANSWER" 'BEGIN { printf "%.2f", b - a }') s after the start"
DURING="$(awk -v end="$(now)" '$1 <= end' "$WORK/requests" | wc -l)"
echo "requests answered during the join: $DURING, not 200: $(awk '$2 != 200' "$WORK/requests" | wc -l)"

sleep 1
ENTRIES="$(metric stateless_session_revocation_entries)"
RSS_FULL="$(rss_kb "$DEMO_PID")"
echo "demo RSS with $ENTRIES entries: $RSS_FULL kB; $(awk -v e="$RSS_EMPTY" -v f="$RSS_FULL" -v n="$ENTRIES" \
    'BEGIN { printf "%.1f", (f - e) * 1024 / n }') bytes an entry"

# Reconnections.
SET_BEFORE="$(metric 'stateless_session_revocation_read_entries_total{from="set"}')"
LOG_BEFORE="$(metric 'stateless_session_revocation_read_entries_total{from="log"}')"
for i in $(seq 1 "$RECONNECTS"); do
    redis-cli -p "$REDIS_PORT" CLIENT KILL TYPE pubsub >/dev/null
    redis-cli -p "$REDIS_PORT" CLIENT KILL TYPE normal >/dev/null
    KILLED="$(now)"
    until [ "$(metric stateless_session_revocation_reconnections_total)" -ge "$i" ] && is_ok; do
        sleep 0.01
    done
    echo "reconnection $i: ok again $(since "$KILLED") s after CLIENT KILL; RSS $(rss_kb "$DEMO_PID") kB"
done
echo "entries read across the reconnections: from the sets \
$(awk -v a="$SET_BEFORE" -v b="$(metric 'stateless_session_revocation_read_entries_total{from="set"}')" 'BEGIN { print b - a }'), \
from the log $(awk -v a="$LOG_BEFORE" -v b="$(metric 'stateless_session_revocation_read_entries_total{from="log"}')" 'BEGIN { print b - a }')"

# An outage, during which another node revokes 1000 sessions.
SET_BEFORE="$(metric 'stateless_session_revocation_read_entries_total{from="set"}')"
LOG_BEFORE="$(metric 'stateless_session_revocation_read_entries_total{from="log"}')"
HELD="$(metric stateless_session_revocation_entries)"
kill -STOP "$REDIS_PID"
STOPPED="$(now)"
"$BIN/revocation_fill" 1000 >"$WORK/fill-during-outage" 2>&1 &
FILL_PID=$!
sleep "$OUTAGE"
echo "during the outage: $(revocation_check)"
kill -CONT "$REDIS_PID"
BACK="$(now)"
echo "Redis stopped for $(awk -v a="$STOPPED" -v b="$BACK" 'BEGIN { printf "%.1f", b - a }') s"
until [ "$(metric stateless_session_revocation_entries)" -ge $((HELD + 1000)) ]; do
    if awk -v s="$(since "$BACK")" 'BEGIN { exit !(s > 120) }'; then
        echo "the 1000 entries did not arrive within 120 s" >&2
        exit 1
    fi
    sleep 0.01
done
CURRENT="$(since "$BACK")"
wait "$FILL_PID" || true
# The entries came by pub/sub first; the log is read every half second: let it be read.
sleep 2
echo "after the outage: the node held the 1000 new entries $CURRENT s after Redis returned; \
entries read from the log \
$(awk -v a="$LOG_BEFORE" -v b="$(metric 'stateless_session_revocation_read_entries_total{from="log"}')" 'BEGIN { print b - a }'), \
from the sets \
$(awk -v a="$SET_BEFORE" -v b="$(metric 'stateless_session_revocation_read_entries_total{from="set"}')" 'BEGIN { print b - a }')"
# Ok again, unless the set is now over its cap (10 million entries by default), which the
# check then says.
for _ in $(seq 1 100); do is_ok && break; sleep 0.1; done
echo "then: $(revocation_check); RSS $(rss_kb "$DEMO_PID") kB"

rm -f "$WORK/looping"
wait "$LOOP_PID" 2>/dev/null || true
LOOP_PID=""
awk '{ n++; if ($2 != 200) bad++; t = $3 + 0; if (t > max) max = t }
     END { printf "request loop: %d requests, %d not 200, slowest %.3f s\n", n, bad, max }' \
    "$WORK/requests"
echo "the slowest three (seconds after the node's start, status, duration):"
awk -v s="$START" '{ printf "  %.2f %s %s\n", $1 - s, $2, $3 }' "$WORK/requests" |
    sort -k3 -g -r | head -n 3
