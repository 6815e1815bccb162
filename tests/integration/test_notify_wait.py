"""notify with redis.wait_replicas = 1 and no replica: a batch's offsets
are not stored until a replica holds its writes (WAIT), as the common
pipeline does for the other services.

A case's request.received reaches notify, which saves its contact; the
batch's WAIT finds no replica, so the batch is handed back again and again
(sendpath_consumer_batch_retries_total grows,
sendpath_consumer_processed_total stays 0, nothing behind it is taken) and
the log says why. A replica is started: the next WAIT is met, the batches
are done, and the parent's acknowledgement (from timers' deadline.started,
timers not waiting) is sent, once. Without the wait, notify would store
the offsets at once, with its writes on the master alone.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, main, wait_for  # noqa: E402
from test_clocks import bulk_case_id, received_event  # noqa: E402
from test_instances import outbox  # noqa: E402


def metric(stack, name):
    for line in http("GET", stack.url("notify", "/metrics")).body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def notify_log(stack):
    with open(os.path.join(stack.var, "logs", "notify.log"), errors="replace") as f:
        return f.read()


def test(stack):
    stack.extra_env["SENDPATH_NOTIFY_REDIS_WAIT_REPLICAS"] = "1"
    for name in ("timers", "notify"):
        stack.start_service(name)
        stack.wait_ready(name)
    case = bulk_case_id(9_200_000)
    stack.produce("sendpath.case-events", case, received_event(case))
    wait_for("notify's batches retried", lambda: (
        metric(stack, "sendpath_consumer_batch_retries_total") or 0) >= 2, timeout=30)
    assert metric(stack, "sendpath_consumer_processed_total") == 0, \
        "a batch was done without its writes on a replica"
    assert "not on redis.wait_replicas replicas" in notify_log(stack), "no reason logged"

    replica = stack.start_redis_server("redis-replica", args=(
        "--replicaof", "127.0.0.1", str(stack.redis_port)))
    wait_for("replica in sync", lambda: "master_link_status:up" in
             stack.redis_on(replica, "INFO", "replication"), timeout=20)
    t0 = time.time()
    wait_for("notify's batches done once a replica holds the writes", lambda: (
        metric(stack, "sendpath_consumer_processed_total") or 0) >= 2, timeout=30)
    wait_for("the acknowledgement sent", lambda: outbox(stack), timeout=30)
    time.sleep(1)  # a second copy would come now
    box = outbox(stack)
    assert all(len(v) == 1 for v in box.values()) and len(box) == 1, box
    print(f"notify: wait_replicas=1 without a replica: batch retried, not done; a replica "
          f"started: done {time.time() - t0:.1f} s later, the email once", file=sys.stderr)
    codes = stack.stop()
    assert all(c == 0 for c in codes.values()), f"unclean shutdown: {codes}"


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T10:00:00Z", services=())
