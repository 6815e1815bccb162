"""Every bad command shape in the contract is refused by the running service,
and nothing is lost.

Each file in proto/examples/invalid/ (a body the JSON Schemas reject) is sent
to intake (or evidence, for advice returns) over HTTP: it must get a 4xx
problem+json and publish nothing. Then each is sent over the commands topic:
each must land on the dead-letter topic, unchanged, with its reason, and a
good command sent after them must still be processed.
"""
import glob
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, main, wait_for  # noqa: E402
from test_slice import REQUEST  # noqa: E402

CREATE = {"request": "/v1/requests", "sen_support": "/v1/sen-support", "plan": "/v1/plans"}


def examples(stack):
    for path in sorted(glob.glob(os.path.join(stack.source, "proto/examples/invalid/*.json"))):
        name = os.path.basename(path)
        kind = name.split(".")[1]
        with open(path) as f:
            yield name, kind, f.read()


def with_case(text, case_id, name):
    """Casework examples name a made-up case: point them at a real one, except
    the example whose fault is the case id itself."""
    if "bad-case-id" in name:
        return text
    body = json.loads(text)
    body["case_id"] = case_id
    return json.dumps(body)


def send_http(stack, name, kind, text, case_id):
    if kind in CREATE:
        return http("POST", stack.url("intake", CREATE[kind]), text)
    if kind == "casework":
        target = case_id if "bad-case-id" not in name else json.loads(text)["case_id"]
        return http("POST", stack.url("intake", f"/v1/cases/{target}/commands"),
                    with_case(text, case_id, name))
    if kind == "advice":
        return http("POST", stack.url("evidence", f"/v1/cases/{case_id}/advice/educational"),
                    text)
    return None  # command.topic.*: a Kafka-only shape


def kafka_value(name, kind, text, case_id):
    if kind in CREATE:
        try:
            body = json.loads(text)
        except ValueError:
            return text
        if isinstance(body, dict):
            body["command"] = kind
            return json.dumps(body)
        return text
    if kind == "casework":
        return with_case(text, case_id, name)
    return text if kind == "topic" else None


def test(stack):
    r = http("POST", stack.url("intake", "/v1/requests"), REQUEST)
    assert r.status == 201, r.body
    case_id = r.json()["case_id"]
    before = len(stack.topic("sendpath.case-events"))
    sent_http = 0
    for name, kind, text in examples(stack):
        res = send_http(stack, name, kind, text, case_id)
        if res is None:
            continue
        sent_http += 1
        assert 400 <= res.status < 500, (name, res.status, res.body)
        assert res.headers["Content-Type"].startswith("application/problem+json"), name
    time.sleep(0.5)
    assert len(stack.topic("sendpath.case-events")) == before, "a refused command published"
    assert http("GET", stack.url("intake", "/healthz")).status == 200

    values = [(name, v) for name, kind, text in examples(stack)
              if (v := kafka_value(name, kind, text, case_id)) is not None]
    lines = "".join(f"{case_id}\t{v.replace(chr(10), ' ')}\n" for _, v in values)
    good = json.dumps({"command": "decision_to_assess", "case_id": case_id,
                       "idempotency_key": "after-the-bad-ones", "date": "2026-11-23",
                       "assess": True})
    subprocess.run(["kcat", "-b", stack.bootstrap, "-P", "-t", "sendpath.commands", "-K",
                    "\t"], input=lines + f"{case_id}\t{good}\n", text=True, check=True)
    wait_for("the good command after the bad ones", lambda: [
        e for e in stack.events("sendpath.case-events") if e["type"] == "decision.assess"])
    # The good command shares the batch, so its event may be on the topic a
    # moment before the dead letters are acknowledged: wait for them.
    def dead_letters():
        out = subprocess.run(["kcat", "-b", stack.bootstrap, "-C", "-t",
                              "sendpath.deadletter", "-o", "beginning", "-e", "-q", "-f",
                              "%h\t%s\n"], capture_output=True, text=True, timeout=10).stdout
        d = [line for line in out.splitlines() if "x-service=intake" in line]
        return d if len(d) >= len(values) else None
    try:
        dead = wait_for("every refused command on the dead-letter topic", dead_letters,
                        timeout=20)
    except AssertionError:
        dead = []
    assert len(dead) == len(values), (len(dead), len(values), dead[-3:])
    assert all("x-reason=4" in line for line in dead), dead
    print(f"refusals: {sent_http} bad bodies refused over HTTP, {len(values)} dead-lettered "
          f"over Kafka with a reason, none published", file=sys.stderr)
    stack.stop()


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T10:00:00Z", services=("intake", "evidence"))
