"""Timers' shards on three Redis servers (redis.shards), one of them down.

    redis.shards = 0-1@A,2-3@B,4-5@C

300 cases are put on case-events. Each case's clock must be armed on the
server of its partition and nowhere else (not on the other two, not on
redis.host). Then B stops, the clock moves so every first "approaching"
point is due: the shards of A and C fire, B's two wait and timers reports
not ready; B comes back on the same port with its AOF and its shards fire
too, each point once. A table that leaves a partition without a server
stops timers at start, naming the partition.
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import main, wait_for  # noqa: E402
from test_clocks import bulk_case_id, received_event  # noqa: E402

N = 300
SHARDS = {"redis-a": (0, 1), "redis-b": (2, 3), "redis-c": (4, 5)}


def approaching(stack, cases):
    """case -> ids of its approaching/0 events."""
    out = {}
    for m in stack.topic("sendpath.deadlines"):
        if m["key"] in cases and "/approaching/0" in m["value"]:
            out.setdefault(m["key"], set()).add(json.loads(m["value"])["id"])
    return out


def check_placement(stack, ports, cases, partition_of):
    for name, parts in SHARDS.items():
        for p in range(6):
            # Clock records sit in buckets by the case id's last two
            # characters: tm:{s<p>}:c:<bb>.
            fields = []
            for key in stack.redis_on(ports[name], "KEYS", f"tm:{{s{p}}}:c:*").split():
                fields += stack.redis_on(ports[name], "HKEYS", key).split()
            held = {f.split(":", 1)[0] for f in fields}
            want = {c for c in cases if partition_of[c] == p} if p in parts else set()
            assert held == want, f"{name}, shard {p}: {len(held)} cases held, " \
                f"{len(want)} expected; e.g. {sorted(held ^ want)[:2]}"
    assert stack.redis("KEYS", "tm:*") == "", "a timers key on redis.host"
    print(f"redis.shards: {len(cases)} clocks, each on its partition's server only",
          file=sys.stderr)


def check_refused(stack):
    env = stack.service_env("timers")
    env["SENDPATH_TIMERS_REDIS_SHARDS"] = "0-1@127.0.0.1:1,3-5@127.0.0.1:2"
    env["SENDPATH_TIMERS_HTTP_PORT"] = "0"  # the running timers holds its port
    out = subprocess.run([os.path.join(stack.build, "services/timers/sendpath-timers")],
                         env=env, cwd=stack.source, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "partition 2 has no server" in out.stderr, \
        (out.returncode, out.stderr[-500:])


def test(stack):
    ports = {name: stack.start_redis_server(name) for name in SHARDS}
    stack.extra_env["SENDPATH_TIMERS_REDIS_SHARDS"] = ",".join(
        f"{lo}-{hi}@127.0.0.1:{ports[name]}" for name, (lo, hi) in SHARDS.items())
    stack.start_service("timers")
    stack.wait_ready("timers")
    check_refused(stack)

    cases = [bulk_case_id(8_200_000 + i) for i in range(N)]
    stack.produce_many("sendpath.case-events", [(c, received_event(c)) for c in cases])
    case_set = set(cases)
    wait_for("every clock started", lambda: len({
        m["key"] for m in stack.topic("sendpath.deadlines")
        if m["key"] in case_set and "deadline.started" in m["value"]}) == N, timeout=60)
    partition_of = {m["key"]: m["partition"] for m in stack.topic("sendpath.case-events")}
    check_placement(stack, ports, cases, partition_of)

    # B goes away (cleanly: its AOF is complete); the clock moves on.
    b = stack.procs.pop("redis-b")
    b.send_signal(signal.SIGTERM)
    b.wait(timeout=10)
    wait_for("timers not ready without B", lambda: stack.readyz("timers")["ready"] is False,
             timeout=10)
    stack.set_clock("2026-12-16T08:00:00Z")
    on_b = {c for c in cases if partition_of[c] in SHARDS["redis-b"]}
    others = case_set - on_b
    wait_for("A's and C's shards fired", lambda: set(approaching(stack, others)) == others,
             timeout=30)
    time.sleep(1)
    assert not set(approaching(stack, on_b)), "a shard on the stopped server fired"
    print(f"redis.shards: B down: {len(others)} clocks on A and C fired, "
          f"{len(on_b)} on B waited", file=sys.stderr)

    t0 = time.time()
    stack.start_redis_server("redis-b", port=ports["redis-b"])
    fired = wait_for("B's shards fired after it came back", lambda: (
        a if len(a := approaching(stack, case_set)) == N else None), timeout=60)
    print(f"redis.shards: B back: its {len(on_b)} clocks fired {time.time() - t0:.1f} s "
          f"after it restarted", file=sys.stderr)
    assert all(len(ids) == 1 for ids in fired.values()), "a point fired under two ids"
    stack.wait_ready("timers")
    codes = stack.stop()
    assert all(c == 0 for c in codes.values()), f"unclean shutdown: {codes}"


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T10:00:00Z", services=())
