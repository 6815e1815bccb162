"""The limits on what clients send, against the running intake.

Over HTTP: a body over http.max_body gets 413, a field over its length and a
body nested deeper than input.max_depth (at intake and evidence) get 400
naming the field, a client
over http.rate_limit gets 429 with Retry-After while /readyz still answers,
and after waiting it is served again. Behind a trusted proxy
(http.trusted_proxies) each X-Forwarded-For client has its own bucket, a
forged left end of the header does not buy a fresh one, and the access log
names the client and the proxy. Over the commands topic: a message over
commands.max_bytes or nested too deep lands on the dead-letter topic with
the reason, and a good command after them is still processed. None of the
refused ones publishes anything. On an internal topic (case events, read by
evidence): a message over consumer.max_bytes or deeper than
consumer.max_depth is dead-lettered by evidence with the reason, evidence
stays ready and handles the case's next event on the same partition.
Limits are set small by environment so the test is quick.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, main, wait_for  # noqa: E402
from test_slice import REQUEST  # noqa: E402

LIMITS = {
    "SENDPATH_INTAKE_HTTP_MAX_BODY": "4096",
    "SENDPATH_INTAKE_HTTP_RATE_LIMIT": "2",
    "SENDPATH_INTAKE_HTTP_RATE_BURST": "8",
    "SENDPATH_INPUT_MAX_DEPTH": "8",
    "SENDPATH_INTAKE_COMMANDS_MAX_BYTES": "2048",
    "SENDPATH_INTAKE_HTTP_TRUSTED_PROXIES": "10.9.9.9, 127.0.0.0/8",
    "SENDPATH_EVIDENCE_CONSUMER_MAX_BYTES": "4096",
    "SENDPATH_EVIDENCE_CONSUMER_MAX_DEPTH": "8",
}


def nested(depth):
    v = "x"
    for _ in range(depth):
        v = [v]
    return v


def problem(r, status):
    assert r.status == status, (r.status, r.body)
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    return r.json()


def check_http(stack, url):
    big = dict(REQUEST, idempotency_key="limits-big", notes="x" * 5000)
    p = problem(http("POST", url, big), 413)
    assert "4096" in p["detail"], p

    long_name = dict(REQUEST, idempotency_key="limits-long",
                     child=dict(REQUEST["child"], given_name="A" * 101))
    p = problem(http("POST", url, long_name), 400)
    assert {"field": "child.given_name", "reason": "must be at most 100 characters"} \
        in p["errors"], p

    deep = dict(REQUEST, idempotency_key="limits-deep", extra=nested(8))
    p = problem(http("POST", url, deep), 400)
    assert p["errors"] == [{"field": "(body)", "reason": "nests deeper than 8 levels"}], p
    # Depth 8 in all (the body object is one level) is fine as far as depth goes.
    ok = dict(REQUEST, idempotency_key="limits-ok", extra=nested(7))
    r = http("POST", url, ok)
    assert r.status != 400 or "(body)" not in r.body, r.body


def check_evidence_depth(stack, case_id):
    url = stack.url("evidence", f"/v1/cases/{case_id}/advice/educational")
    p = problem(http("POST", url, {"date": "2026-11-23", "extra": nested(8)}), 400)
    assert {"field": "(body)", "reason": "nests deeper than 8 levels"} in p["errors"], p


def check_rate(stack, url):
    time.sleep(4.5)  # the earlier requests' tokens back (2/s, 8 at once)
    # 30 in a row: only 8 + 2 a second can pass, so some are refused unless
    # each took over a third of a second; the first 8 always pass.
    statuses, retry = [], None
    for i in range(30):
        r = http("POST", url, dict(REQUEST, idempotency_key=f"limits-rate-{i}"))
        statuses.append(r.status)
        if r.status == 429:
            retry = retry or r
    assert 429 in statuses, statuses
    first = statuses.index(429)
    assert first >= 8, statuses  # the whole burst went through
    p = problem(retry, 429)
    assert int(retry.headers["Retry-After"]) >= 1, retry.headers
    assert http("GET", stack.url("intake", "/readyz")).status == 200
    time.sleep(int(retry.headers["Retry-After"]))
    r = http("POST", url, dict(REQUEST, idempotency_key="limits-rate-after"))
    assert r.status != 429, (r.status, r.body)
    print(f"limits: {statuses.count(429)} of 30 rapid requests refused with 429, "
          f"Retry-After {retry.headers['Retry-After']} s; {p['title']}", file=sys.stderr)


def check_proxy(stack, case_id):
    """Loopback is a trusted proxy here: clients are named by the header."""
    time.sleep(4.5)  # every bucket full again
    url = stack.url("intake", f"/v1/cases/{case_id}")
    a = [http("GET", url, headers={"X-Forwarded-For": "198.51.100.7"}).status
         for _ in range(20)]
    assert 429 in a and a.index(429) >= 8, a
    # Another client behind the same proxy is not held back by the first.
    r = http("GET", url, headers={"X-Forwarded-For": "198.51.100.8"})
    assert r.status == 200, (r.status, r.body)
    # The first client writing a fresh name at the left of its own header:
    # the proxy appended its real address, the rightmost untrusted one.
    r = http("GET", url, headers={"X-Forwarded-For": "203.0.113.1, 198.51.100.7"})
    assert r.status == 429, (r.status, r.body)
    # Two trusted hops: still that client.
    r = http("GET", url, headers={"X-Forwarded-For": "198.51.100.7, 10.9.9.9"})
    assert r.status == 429, (r.status, r.body)
    # An answer no handler gave (no route) names its client too.
    r = http("GET", stack.url("intake", "/v1/nowhere"), headers={"X-Forwarded-For": "198.51.100.9"})
    assert r.status == 404, (r.status, r.body)
    with open(os.path.join(stack.var, "logs", "intake.log")) as f:
        log = f.read()
    assert f"access GET /v1/cases/{case_id} 200 token=harness client=198.51.100.8 " in log
    assert "client=198.51.100.7 " in log and " via=127.0.0.1" in log
    assert "client=203.0.113.1" not in log, "a forged address reached the log"
    assert "access GET /v1/nowhere 404 token=- client=198.51.100.9 " in log, \
        [l for l in log.splitlines() if "/v1/nowhere" in l]


def dead_letters(stack, service="intake"):
    out = subprocess.run(["kcat", "-b", stack.bootstrap, "-C", "-t", "sendpath.deadletter",
                          "-o", "beginning", "-e", "-q", "-f", "%h\t%S\n"],
                         capture_output=True, text=True, timeout=10).stdout
    return [line for line in out.splitlines() if f"x-service={service}" in line]


def event(case_id, data):
    """A well-formed case event, as intake would publish it."""
    return {"specversion": "1.0", "id": f"{case_id}/review.held/00000000000000ff",
            "source": "/sendpath/intake", "type": "review.held",
            "time": "2026-11-23T10:00:00.000Z", "subject": case_id,
            "datacontenttype": "application/json",
            "data": dict({"case_id": case_id, "date": "2026-11-23"}, **data)}


def put_internal(stack, case_id):
    """Over-limit messages on the case's partition of sendpath.case-events,
    ahead of the commands check_topic sends, whose events evidence reads."""
    big = event(case_id, {"notes": "n" * 5000})
    deep = event(case_id, {"extra": nested(8)})  # envelope, data, then 8 more
    stack.produce_many("sendpath.case-events", [(case_id, json.dumps(m)) for m in (big, deep)])


def check_internal(stack, case_id):
    dead = wait_for("evidence's two dead letters",
                    lambda: (lambda d: d if len(d) >= 2 else None)(
                        dead_letters(stack, "evidence")), timeout=20)
    assert len(dead) == 2, dead
    assert any("x-reason=413 Too large: the message is larger than 4096 bytes" in d
               for d in dead), dead
    assert any("x-reason=400 Invalid event: the message nests deeper than 8 levels" in d
               for d in dead), dead
    assert all("x-source-topic=sendpath.case-events" in d for d in dead), dead
    # The decision after them, on the same partition, was handled.
    wait_for("evidence to ask for advice after the refused messages", lambda: [
        e for e in stack.events("sendpath.evidence-events")
        if e["subject"] == case_id and e["type"] == "advice.requested"])
    assert http("GET", stack.url("evidence", "/readyz")).status == 200


def check_topic(stack, case_id):
    base = {"case_id": case_id, "date": "2026-11-23", "assess": True}
    big = dict(base, command="decision_to_assess", idempotency_key="limits-k-big",
               reasons="r" * 3000)
    deep = dict(base, command="decision_to_assess", idempotency_key="limits-k-deep",
                extra=nested(9))
    good = dict(base, command="decision_to_assess", idempotency_key="limits-k-good")
    stack.produce_many("sendpath.commands", [(case_id, json.dumps(m))
                                             for m in (big, deep, good)])
    wait_for("the good command after the refused ones", lambda: [
        e for e in stack.events("sendpath.case-events") if e["type"] == "decision.assess"])
    def both():
        d = dead_letters(stack)
        return d if len(d) >= 2 else None
    dead = wait_for("both on the dead-letter topic", both, timeout=20)
    assert len(dead) == 2, dead
    assert any("x-reason=413 Too large: the message is larger than 2048 bytes" in d
               for d in dead), dead
    assert any("x-reason=400 Invalid command: the message nests deeper than 8 levels" in d
               for d in dead), dead
    evs = [json.loads(m["value"]) for m in stack.topic("sendpath.case-events")
           if m["value"] not in stack.injected]  # put_internal's own
    evs = [e for e in evs if e["subject"] == case_id]
    assert [e["type"] for e in evs] == ["request.received", "decision.assess"], evs


def test(stack):
    url = stack.url("intake", "/v1/requests")
    r = http("POST", url, REQUEST)
    assert r.status == 201, r.body
    case_id = r.json()["case_id"]
    before = len(stack.topic("sendpath.case-events"))
    check_http(stack, url)
    check_evidence_depth(stack, case_id)
    assert len(stack.topic("sendpath.case-events")) <= before + 1, "a refused body published"
    check_rate(stack, url)
    check_proxy(stack, case_id)
    put_internal(stack, case_id)
    check_topic(stack, case_id)
    check_internal(stack, case_id)
    stack.stop()


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T10:00:00Z", services=("intake", "evidence"),
         extra_env=LIMITS)
