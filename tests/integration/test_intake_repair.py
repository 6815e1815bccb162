"""A request whose intake dies before the broker has its event, and whose
client never retries, still reaches the other services: intake's repair
sweep (services/intake/repair.c) publishes the held event itself.

The broker is taken down (its control port), a request is sent and its
client gives up, intake is SIGKILLed with the event only in its memory, the
broker comes back and intake restarts. Without the sweep the case would sit
in Redis holding the child's one open request, and no clock would ever run
for it: the test fails if the event does not appear, appears twice, or
the reservation is not marked done.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, main, wait_for  # noqa: E402
from test_slice import REQUEST  # noqa: E402

AFTER_S = 2
BROKERS = (1, 2, 3)  # sendpath-broker's default cluster: all of it goes down


def case_events(stack, case_id):
    return [e for e in stack.events("sendpath.case-events") if e.get("subject") == case_id]


def metric(stack, name):
    body = http("GET", stack.url("intake", "/metrics")).body
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def test(stack):
    # A request that finishes is marked done at once: nothing left pending.
    ok = stack.create_intake("/v1/requests", REQUEST)
    assert stack.redis("ZCARD", "intake:pending") == "0", "a finished request stays pending"
    assert len(case_events(stack, ok["case_id"])) == 1

    # The broker goes away; a request comes in, and its client gives up.
    for b in BROKERS:
        stack.control(f"down {b}")
    body = dict(REQUEST, child=dict(REQUEST["child"], given_name="Rowan",
                                    date_of_birth="2016-02-03"),
                idempotency_key="repair-1")
    try:
        r = http("POST", stack.url("intake", "/v1/requests"), body, timeout=2)
        raise AssertionError(f"intake answered with the broker down: {r.status} {r.body}")
    except OSError:
        pass  # the client's timeout: it never retries
    wait_for("the reservation", lambda: stack.redis("ZCARD", "intake:pending") == "1")
    idem = stack.redis("ZRANGE", "intake:pending", "0", "-1")
    case_id = stack.redis("HGET", idem, "case_id")
    assert stack.redis("HGET", idem, "state") == "pending"

    # intake dies with the event in librdkafka's queue only.
    stack.kill("intake")
    for b in BROKERS:
        stack.control(f"up {b}")
    time.sleep(AFTER_S + 1)
    assert case_events(stack, case_id) == [], "the event went out before the sweep"

    stack.start_service("intake")
    stack.wait_ready("intake")
    wait_for("the swept event", lambda: case_events(stack, case_id), timeout=30)
    wait_for("the reservation marked done",
             lambda: stack.redis("HGET", idem, "state") == "done", timeout=10)
    time.sleep(1.5)  # a few more sweeps: none may publish it again
    evs = case_events(stack, case_id)
    assert len(evs) == 1, f"{len(evs)} events for the swept case"
    assert evs[0]["type"] == "request.received"
    assert stack.redis("ZCARD", "intake:pending") == "0"
    assert metric(stack, "sendpath_intake_republished_total") == 1.0
    with open(os.path.join(stack.var, "logs", "intake.log")) as f:
        assert "republished request.received" in f.read()

    # The client that comes back after all gets the first answer, same case,
    # and nothing new is published.
    r = http("POST", stack.url("intake", "/v1/requests"), body)
    assert r.status == 201, (r.status, r.body)
    assert r.json()["case_id"] == case_id
    assert r.headers.get("Idempotent-Replayed") == "true", r.headers
    assert len(case_events(stack, case_id)) == 1
    print(f"swept case {case_id}: one request.received, reservation done")


if __name__ == "__main__":
    main(test, services=("intake",),
         extra_env={"SENDPATH_INTAKE_REPAIR_AFTER_S": str(AFTER_S),
                    "SENDPATH_INTAKE_REPAIR_INTERVAL_MS": "200"})
