"""Requests through intake as a real integrator sends them: each with its own
idempotency key and child, retried with the same key after any error or
timeout until it is answered 201, however long the stack is down. One in
kafka_every goes as a command on sendpath.commands instead (kcat, an
idempotent producer, resent with the same key if the broker does not
acknowledge it), so intake's consumer is under the faults too; those have
no answer, only their request.received on the topic.

A retry after a crash may find the key pending (reserved, event maybe not
published): intake republishes the same event, so it must answer with the
same case. Every case id a 201 names is kept per key; two different ones is
a duplicate case (check.py).
"""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import http  # noqa: E402
from test_slice import REQUEST  # noqa: E402

PARENT = REQUEST["contact"]["email"]
RETRY_S = (0.05, 2.0)  # backoff: first wait, ceiling


def child_name(i):
    return f"Chaos{i}"


class Load:
    def __init__(self, stack, n, threads, tag, give_up_s, spread_s=0, kafka_every=10):
        """spread_s: start the requests evenly over that many seconds, so
        the load meets the faults instead of finishing before the first."""
        self.stack, self.n, self.threads, self.tag = stack, n, threads, tag
        self.give_up, self.spread, self.kafka_every = give_up_s, spread_s, kafka_every
        self.requests = {}  # key -> {"child", "answers": [case ids], "tries"}
        self.refused = []   # (key, status, body): answers no retry can change
        self.lock = threading.Lock()
        self.next = 0

    def body(self, i):
        key = f"chaos-{self.tag}-{i}"
        child = dict(REQUEST["child"], given_name=child_name(i), family_name="Chaosrun")
        return key, dict(REQUEST, idempotency_key=key, child=child)

    def _take(self):
        with self.lock:
            i, self.next = self.next, self.next + 1
        if i >= self.n:
            return None
        wait = self.t0 + self.spread * i / self.n - time.time()
        if wait > 0:
            time.sleep(wait)
        return i

    def _produce(self, key, body):
        """The command on sendpath.commands; True once the broker took it."""
        line = key + "\t" + json.dumps(dict(body, command="request")) + "\n"
        out = subprocess.run(["kcat", "-b", self.stack.bootstrap, "-P", "-t",
                              "sendpath.commands", "-K", "\t", "-X", "enable.idempotence=true",
                              "-X", "message.timeout.ms=30000"],
                             input=line, text=True, capture_output=True, timeout=60)
        return out.returncode == 0 and "fail" not in out.stderr.lower()

    def _send(self, i):
        key, body = self.body(i)
        via = "kafka" if self.kafka_every and i % self.kafka_every == 0 else "http"
        req = {"child": body["child"]["given_name"], "answers": [], "tries": 0, "via": via}
        with self.lock:
            self.requests[key] = req
        wait, end = RETRY_S[0], time.time() + self.give_up
        while time.time() < end:
            req["tries"] += 1
            if via == "kafka":
                if self._produce(key, body):
                    req["produced"] = True
                    return
                time.sleep(wait)
                wait = min(wait * 2, RETRY_S[1])
                continue
            try:
                r = http("POST", self.stack.url("intake", "/v1/requests"), body, timeout=10)
            except OSError:  # refused, reset or timed out: intake is down or stuck
                r = None
            if r is not None and r.status == 201:
                req["answers"].append(r.json()["case_id"])
                return
            if r is not None and r.status in (400, 404, 409, 422):
                with self.lock:
                    self.refused.append((key, r.status, r.body[:200]))
                return
            time.sleep(wait)
            wait = min(wait * 2, RETRY_S[1])

    def _worker(self):
        while (i := self._take()) is not None:
            self._send(i)

    def run(self):
        """Sends every request; returns when each is answered or given up."""
        self.t0 = time.time()
        ts = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    def retries(self):
        return sum(r["tries"] - 1 for r in self.requests.values())

    def accepted(self):
        """Requests answered 201 or, on Kafka, acknowledged by the broker."""
        return sum(bool(r["answers"] or r.get("produced")) for r in self.requests.values())

    def via_kafka(self):
        return sum(r["via"] == "kafka" for r in self.requests.values())
