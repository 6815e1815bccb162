"""A sentinel that requires a password (requirepass in sentinel.conf):
redis.sentinel_password is sent as AUTH before every query.

    redis-m (master, no password); one sentinel, requirepass, quorum 1
    timers: redis.sentinels = that sentinel, redis.sentinel_master = sendpath

The sentinel refuses a query without AUTH (checked with redis-cli, so the
test would notice a sentinel that does not enforce it). timers with a wrong
password never connects (/readyz says "redis": false) and logs that the
sentinel refused the AUTH, naming redis.sentinel_password; with the right
one it finds the master and is ready, and a clock armed from an event is on
the master. Without the AUTH (before redis.sentinel_password) timers could
not find the master at all.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import free_port, main, wait_for  # noqa: E402
from test_clocks import bulk_case_id, received_event  # noqa: E402

MASTER = "sendpath"
PASSWORD = "sentinel-s3cret"


def start_sentinel(stack, master_port):
    port = free_port()
    d = os.path.join(stack.dir, "sentinel")
    os.makedirs(d)
    conf = os.path.join(d, "sentinel.conf")
    with open(conf, "w") as f:
        f.write(f"port {port}\nbind 127.0.0.1\ndir {d}\nrequirepass {PASSWORD}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {master_port} 1\n")
    stack._spawn("sentinel", ["redis-server", conf, "--sentinel"])
    wait_for("the sentinel answers with AUTH", lambda: stack.redis_on(
        port, "--no-auth-warning", "-a", PASSWORD, "SENTINEL", "get-master-addr-by-name",
        MASTER).split("\n") == ["127.0.0.1", str(master_port)], timeout=20)
    return port


def timers_log(stack):
    with open(os.path.join(stack.var, "logs", "timers.log"), errors="replace") as f:
        return f.read()


def test(stack):
    master = stack.start_redis_server("redis-m")
    sentinel = start_sentinel(stack, master)
    refused = stack.redis_on(sentinel, "SENTINEL", "get-master-addr-by-name", MASTER)
    assert "NOAUTH" in refused, f"the sentinel answered without AUTH: {refused!r}"
    stack.extra_env.update({
        "SENDPATH_REDIS_SENTINELS": f"127.0.0.1:{sentinel}",
        "SENDPATH_REDIS_SENTINEL_MASTER": MASTER,
        "SENDPATH_REDIS_SENTINEL_PASSWORD": "wrong",
        "SENDPATH_REDIS_TIMEOUT_MS": "1000",
    })
    stack.start_service("timers")
    wait_for("timers refused by the sentinel",
             lambda: "check redis.sentinel_password" in timers_log(stack), timeout=20)
    time.sleep(1)
    assert stack.readyz("timers")["redis"] is False, "connected without the sentinel's answer"
    assert PASSWORD not in timers_log(stack) and "wrong" not in timers_log(stack), \
        "a password in the log"
    assert stack.stop_service("timers") == 0

    stack.extra_env["SENDPATH_REDIS_SENTINEL_PASSWORD"] = PASSWORD
    stack.start_service("timers")
    stack.wait_ready("timers", timeout=30)
    case = bulk_case_id(9_100_000)
    stack.produce("sendpath.case-events", case, received_event(case))
    wait_for("the clock armed on the sentinels' master",
             lambda: stack.redis_on(master, "KEYS", "tm:*"), timeout=30)
    assert stack.redis("KEYS", "tm:*") == "", "a clock on redis.host, not the master"
    print("sentinel with requirepass: refused with a wrong redis.sentinel_password, "
          "the master found and a clock armed with the right one", file=sys.stderr)
    codes = stack.stop()
    assert all(c == 0 for c in codes.values()), f"unclean shutdown: {codes}"


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T10:00:00Z", services=())
