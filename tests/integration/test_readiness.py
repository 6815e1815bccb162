"""/readyz through a consumer group rebalance: ready does not follow partitions.

Two intake instances, as intake's Deployment runs them behind one Service.
The first ("intake", called intake.1 below) runs alone and holds all 6 partitions of sendpath.commands; then
intake.2 starts. Its join makes the group rebalance: every member's
partitions are revoked, and the embedded broker waits session.timeout.ms -
1 s (5 s here) before handing out the new assignment, so intake.1 holds
none for seconds. Throughout, /readyz of intake.1 is polled every 50 ms.

What must hold:
  - intake.1 said 200 on every poll, including those where it reported
    "partitions": 0 (there must be some, or the test proved nothing), and
    its HTTP API took requests meanwhile;
  - intake.2 said 503 with "joined": false before its first assignment,
    and 200 after, with both instances at 3 partitions;
  - an instance whose Redis connection is gone still says 503.
"""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, main, wait_for  # noqa: E402
from test_slice import REQUEST  # noqa: E402


def poll(stack, name, samples, stop):
    while not stop.is_set():
        try:
            r = http("GET", stack.url(name, "/readyz"), timeout=2)
            samples.append((time.time(), r.status, r.json()))
        except OSError as e:
            samples.append((time.time(), None, {"error": str(e)}))
        time.sleep(0.05)


def test(stack):
    one, two = "intake", "intake.2"  # the harness started the first alone
    wait_for(f"{one} holds all 6", lambda: stack.readyz(one)["partitions"] == 6, timeout=30)

    samples, stop = [], threading.Event()
    t = threading.Thread(target=poll, args=(stack, one, samples, stop), daemon=True)
    t.start()
    stack.start_service(two)
    early = wait_for(f"{two} answering", lambda: (
        r if (r := http("GET", stack.url(two, "/readyz"), timeout=2)).status else None),
        timeout=20, interval=0.05)
    created = 0
    deadline = time.time() + 40
    while time.time() < deadline:
        if stack.readyz(one)["partitions"] == 3 and stack.readyz(two).get("partitions") == 3:
            break
        # The API keeps taking requests on the instance in the rebalance.
        body = dict(REQUEST, idempotency_key=f"ready-{created}",
                    child=dict(REQUEST["child"], family_name=f"Ready{created}"))
        r = http("POST", stack.url(one, "/v1/requests"), body)
        assert r.status == 201, (r.status, r.body)
        created += 1
        time.sleep(0.2)
    else:
        raise AssertionError("the two instances never settled at 3 partitions each")
    stop.set()
    t.join()

    assert early.status == 503 and early.json().get("joined") is False, \
        (early.status, early.body)
    bad = [(s, b) for _, s, b in samples if s != 200]
    assert not bad, f"{one} not ready during the rebalance: {bad[:3]}"
    idle = [b for _, _, b in samples if b.get("partitions") == 0]
    assert idle, "intake.1 never held 0 partitions: the rebalance was not seen"
    assert all(b["ready"] and b["joined"] for b in idle), idle[:3]
    span = [ts for ts, _, b in samples if b.get("partitions") == 0]
    print(f"readiness: {one} held no partition for {span[-1] - span[0]:.1f} s of the "
          f"rebalance ({len(idle)} polls) and said 200 on all {len(samples)}; {created} "
          f"requests created meanwhile", file=sys.stderr)
    stack.wait_ready(two)

    # Redis gone: not ready, whatever the partitions.
    redis = stack.procs.pop("redis")
    redis.send_signal(signal.SIGTERM)
    redis.wait(timeout=10)
    wait_for(f"{one} not ready without Redis", lambda: (
        b if (b := stack.readyz(one))["ready"] is False and b["redis"] is False else None),
        timeout=10)
    assert http("GET", stack.url(one, "/readyz")).status == 503
    stack.start_redis()
    stack.wait_ready(one)
    codes = stack.stop()
    assert all(c == 0 for c in codes.values()), f"unclean shutdown: {codes}"


if __name__ == "__main__":
    main(test, services=("intake",))
