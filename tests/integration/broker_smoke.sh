#!/usr/bin/env bash
# broker_smoke.sh - a quick end-to-end check of sendpath-broker with kcat.
#
# Starts the broker with --bootstrap-file and --control-port, waits for the
# file (its appearance means ready), produces 3 keyed messages to
# sendpath.case-events and reads them back (simple consumer, then a consumer
# group), checks the topic has 6 partitions, takes broker 1 down and up over
# the control port, then stops the broker with SIGTERM and expects exit 0.
#
# A helper, not a ctest case (those are test_*.py). Usage:
#   tests/integration/broker_smoke.sh [path/to/sendpath-broker]
# The binary defaults to $SENDPATH_BROKER, then build/tools/broker/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BROKER=${1:-${SENDPATH_BROKER:-$ROOT/build/tools/broker/sendpath-broker}}
TOPIC=sendpath.case-events
WORK=$(mktemp -d)
BROKER_PID=

fail() {
    echo "FAIL: $*" >&2
    if [ -f "$WORK/broker.err" ]; then tail -20 "$WORK/broker.err" >&2; fi
    exit 1
}
pass() { echo "ok: $*"; }

cleanup() {
    if [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill -TERM "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$BROKER" ] || fail "no broker binary at $BROKER (build it or pass its path)"
command -v kcat >/dev/null || fail "kcat is not installed"

# A free loopback port for the control interface: one nothing answers on.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
CONTROL_PORT=
for _ in $(seq 1 20); do
    p=$((20000 + RANDOM % 30000))
    if port_free "$p"; then CONTROL_PORT=$p; break; fi
done
[ -n "$CONTROL_PORT" ] || fail "no free port for the control interface"

BOOTSTRAP_FILE=$WORK/bootstrap
"$BROKER" --bootstrap-file "$BOOTSTRAP_FILE" --control-port "$CONTROL_PORT" \
    >"$WORK/broker.out" 2>"$WORK/broker.err" &
BROKER_PID=$!

for _ in $(seq 1 100); do
    [ -s "$BOOTSTRAP_FILE" ] && break
    kill -0 "$BROKER_PID" 2>/dev/null || fail "broker exited during start-up"
    sleep 0.1
done
[ -s "$BOOTSTRAP_FILE" ] || fail "no bootstrap file after 10 s"
BS=$(cat "$BOOTSTRAP_FILE")
grep -qx "bootstrap=$BS" "$WORK/broker.out" || fail "stdout lacks bootstrap=$BS"
grep -qx "control=127.0.0.1:$CONTROL_PORT" "$WORK/broker.out" ||
    fail "stdout lacks control=127.0.0.1:$CONTROL_PORT"
pass "ready: bootstrap=$BS control port $CONTROL_PORT"

# Metadata: every partition count as kcat reports it.
kcat -L -b "$BS" -m 5 >"$WORK/metadata" || fail "kcat -L failed"
PARTS=$(sed -n "s/^  topic \"$TOPIC\" with \([0-9]*\) partitions:$/\1/p" \
    "$WORK/metadata")
[ "$PARTS" = 6 ] || fail "$TOPIC has '${PARTS}' partitions, want 6"
pass "$TOPIC has $PARTS partitions"
grep '^  topic ' "$WORK/metadata" | sed 's/^/    /'

# Produce 3 keyed messages, then read them back.
printf 'case-1:opened\ncase-2:opened\ncase-1:assessed\n' |
    kcat -P -b "$BS" -t "$TOPIC" -K: -m 5 || fail "kcat -P failed"
pass "produced 3 messages"

kcat -C -b "$BS" -t "$TOPIC" -o beginning -e -c 3 -m 5 -q -f '%k:%s\n' \
    >"$WORK/consumed" || fail "kcat -C failed"
N=$(wc -l <"$WORK/consumed")
[ "$N" = 3 ] || fail "simple consumer read $N messages, want 3"
for want in case-1:opened case-2:opened case-1:assessed; do
    grep -qx "$want" "$WORK/consumed" || fail "simple consumer missed $want"
done
pass "simple consumer read 3 messages back"

# A consumer group: the mock makes the first join wait about 3 s.
timeout 60 kcat -b "$BS" -G smoke-group -o beginning -e -q -f '%k:%s\n' \
    -X session.timeout.ms=6000 "$TOPIC" >"$WORK/grouped" ||
    fail "kcat -G failed"
N=$(wc -l <"$WORK/grouped")
[ "$N" = 3 ] || fail "group consumer read $N messages, want 3"
pass "group consumer read 3 messages back"

# Control port: one reply line per command.
exec 3<>"/dev/tcp/127.0.0.1/$CONTROL_PORT" || fail "cannot connect to control"
control() {
    local reply
    printf '%s\n' "$1" >&3
    IFS= read -r -t 10 reply <&3 || fail "no reply to '$1'"
    echo "$reply"
}
B1=$(sed -n 's/^  broker 1 at \([^ ]*\).*$/\1/p' "$WORK/metadata")
[ -n "$B1" ] || fail "no address for broker 1 in metadata"

[ "$(control 'down 1')" = ok ] || fail "'down 1' was refused"
if kcat -L -b "$B1" -m 2 >/dev/null 2>&1; then
    fail "broker 1 ($B1) still answers after 'down 1'"
fi
pass "down 1: broker 1 ($B1) refuses connections"
[ "$(control 'up 1')" = ok ] || fail "'up 1' was refused"
kcat -L -b "$B1" -m 5 >/dev/null 2>&1 || fail "broker 1 ($B1) dead after 'up 1'"
pass "up 1: broker 1 ($B1) answers again"
case "$(control 'down 99')" in
    err*) pass "bad broker id gets an err reply" ;;
    *) fail "'down 99' was not refused" ;;
esac
exec 3>&-

# Shut down: SIGTERM, exit 0, bootstrap file gone.
kill -TERM "$BROKER_PID"
rc=0
wait "$BROKER_PID" || rc=$?
BROKER_PID=
[ "$rc" = 0 ] || fail "broker exited $rc on SIGTERM, want 0"
[ ! -e "$BOOTSTRAP_FILE" ] || fail "bootstrap file left behind after exit"
pass "broker exited 0 on SIGTERM and removed its bootstrap file"
echo "PASS broker_smoke"
