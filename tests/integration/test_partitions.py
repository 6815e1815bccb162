"""A service takes its topics' partition count from the broker, not from
common/topics.c: a deployment creates its topics with its own count (the
chart's topics.partitions), and with redis.shards a partition is a shard.

The broker here has 8 partitions a topic, where the table says 6, and timers
runs with

    redis.shards = 0-3@A,4-7@B

80 cases go on case-events by kcat (CRC-32 of the case id mod 8). Every
clock must be armed on its partition's server, those of partitions 6 and 7
too (with 6 assumed, they had no server and their batches retried for
ever), and timers must say it found 8. A table that leaves partitions 6-7
without a server stops timers at start.
"""
import os
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, main, wait_for  # noqa: E402
from test_clocks import bulk_case_id, received_event  # noqa: E402

N = 80
PARTITIONS = 8
SHARDS = {"redis-a": range(0, 4), "redis-b": range(4, 8)}


def restart_broker(stack, partitions):
    old = stack.procs.pop("broker")
    old.kill()
    old.wait(timeout=10)
    os.remove(stack.bootstrap_file)
    stack.start_broker("--partitions", str(partitions))


def clocks_on(stack, port, partition):
    """Case ids with a clock record in shard partition on the server at port
    (a layout 2 slot drops the case id's "c_", services/timers/layout.h)."""
    held = set()
    for key in stack.redis_on(port, "KEYS", f"tm:{{s{partition}}}:c:*").split():
        held |= {f.split(":", 1)[0] for f in stack.redis_on(port, "HKEYS", key).split()}
    return {h if h.startswith("c_") else "c_" + h for h in held}


def check_short_table_refused(stack, ports):
    env = stack.service_env("timers")
    env["SENDPATH_TIMERS_REDIS_SHARDS"] = f"0-5@127.0.0.1:{ports['redis-a']}"
    env["SENDPATH_TIMERS_HTTP_PORT"] = "0"  # the running timers holds its port
    out = subprocess.run([os.path.join(stack.build, "services/timers/sendpath-timers")],
                         env=env, cwd=stack.source, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "partition 6 has no server" in out.stderr, \
        (out.returncode, out.stderr[-500:])


def test(stack):
    restart_broker(stack, PARTITIONS)
    ports = {name: stack.start_redis_server(name) for name in SHARDS}
    stack.extra_env["SENDPATH_TIMERS_REDIS_SHARDS"] = ",".join(
        f"{r.start}-{r.stop - 1}@127.0.0.1:{ports[name]}" for name, r in SHARDS.items())
    stack.start_service("timers")
    stack.wait_ready("timers")
    with open(os.path.join(stack.var, "logs", "timers.log")) as f:
        assert f"redis: {PARTITIONS} partitions over 2 server(s)" in f.read()

    cases = [bulk_case_id(8_400_000 + i) for i in range(N)]
    stack.produce_many("sendpath.case-events", [(c, received_event(c)) for c in cases])
    partition_of = {m["key"]: m["partition"] for m in stack.topic("sendpath.case-events")}
    assert all(zlib.crc32(c.encode()) % PARTITIONS == partition_of[c] for c in cases)
    assert {partition_of[c] for c in cases} >= {6, 7}, "no case on partitions 6 and 7"

    def placed():
        for name, parts in SHARDS.items():
            for p in range(PARTITIONS):
                want = {c for c in cases if partition_of[c] == p} if p in parts else set()
                if clocks_on(stack, ports[name], p) != want:
                    return False
        return True
    wait_for("every clock on its partition's server", placed, timeout=60)
    assert stack.redis("KEYS", "tm:*") == "", "a timers key on redis.host"
    beyond = sum(1 for c in cases if partition_of[c] >= 6)
    print(f"partitions: {PARTITIONS} from the broker; {N} clocks on their servers, "
          f"{beyond} of them on partitions 6-7", file=sys.stderr)
    check_short_table_refused(stack, ports)
    assert http("GET", stack.url("timers", "/readyz")).status == 200


if __name__ == "__main__":
    main(test, services=())
