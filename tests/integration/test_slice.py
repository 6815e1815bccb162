"""The foundation slice, end to end: a request for an EHC needs assessment
goes in over HTTP and comes out as a case, a clock, an email and a read model.

    POST /v1/requests -> intake -> request.received on sendpath.case-events
    -> timers arms decision_to_assess (received + 42 days) in Redis and
       publishes deadline.started on sendpath.deadlines
    -> notify writes the parent's acknowledgement, naming the decision date,
       into the Maildir outbox
    -> ops shows the case at GET /v1/cases/{id}

Also: a malformed request is refused with problem+json naming each bad field,
publishes nothing, and intake stays up; a repeat with the same idempotency key
returns the first answer and publishes nothing new; SIGTERM stops every
service with exit code 0; each service runs on the allocator its build
linked (jemalloc, or libc in the sanitizer build: SENDPATH_TEST_MALLOC, set
by CMake).
"""
import email
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, main, wait_for  # noqa: E402

REQUEST = {
    "idempotency_key": "portal-7f3a-0001",
    "requester": {"type": "parent"},
    "child": {"given_name": "Amara", "family_name": "Okafor",
              "date_of_birth": "2017-05-14"},
    "contact": {"name": "Ngozi Okafor", "email": "ngozi.okafor@example.org",
                "preferred_channel": "email"},
    "school": {"urn": "123456", "name": "Hillside Primary School",
               "senco_email": "senco@hillside.example.sch.uk"},
    "areas_of_need": ["communication_and_interaction"],
    "received_date": "2026-11-23",
    "consent_to_share": True,
}


def check_malformed_request_refused(stack):
    before = len(stack.topic("sendpath.case-events"))
    bad = dict(REQUEST, idempotency_key="portal-bad-1",
               child={"given_name": "Amara", "family_name": "Okafor"},
               contact={"name": "N", "email": "not-an-email"},
               received_date="2026-13-01")
    r = http("POST", stack.url("intake", "/v1/requests"), bad)
    assert r.status == 400, (r.status, r.body)
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"child.date_of_birth", "contact.email", "received_date"} <= fields, fields
    r = http("POST", stack.url("intake", "/v1/requests"), "{not json")
    assert r.status == 400 and r.json()["errors"][0]["field"] == "(body)", r.body
    assert http("GET", stack.url("intake", "/healthz")).status == 200
    assert len(stack.topic("sendpath.case-events")) == before, "bad input was published"


def check_case_events(stack, case_id):
    evs = [e for e in stack.events("sendpath.case-events") if e["subject"] == case_id]
    assert len(evs) == 1, evs
    ev = evs[0]
    assert ev["specversion"] == "1.0" and ev["type"] == "request.received", ev
    assert ev["source"] == "/sendpath/intake" and ev["datacontenttype"] == "application/json"
    assert ev["data"]["received_date"] == "2026-11-23"
    return ev["_partition"]


def check_deadline(stack, case_id):
    evs = wait_for("deadline.started", lambda: [
        e for e in stack.events("sendpath.deadlines") if e["subject"] == case_id])
    assert len(evs) == 1, evs
    d = evs[0]["data"]
    assert evs[0]["type"] == "deadline.started"
    assert d["clock"] == "decision_to_assess" and d["due_date"] == "2027-01-04", d
    assert d["started_on"] == "2026-11-23" and d["excepted"] is False, d
    assert d["clock_id"] == f"{case_id}:decision_to_assess:20261123", d
    assert evs[0]["id"] == f"{case_id}:decision_to_assess:20261123/started", evs[0]
    return evs[0]["_partition"]


def check_redis_timer(stack, case_id, partition):
    # Stored as timers' layout 2 (services/timers/layout.h): the case id
    # without "c_", the clock's code; the record packed (record.h):
    # ((20780 (2026-11-23) * 2^17 + 20822 (2027-01-04)) * 2^12 + 0) * 4 + 0
    slot = f"{case_id[2:]}:A"
    record = stack.redis("HGET", f"tm:{{s{partition}}}:c:{case_id[-2:]}", slot)
    assert record == "44625051353088", record
    score = stack.redis("ZSCORE", f"tm:{{s{partition}}}:q", slot)
    # The first fire is "approaching", 10 working days before Monday 4 January
    # 2027 (skipping 1 Jan and the 28 Dec Boxing Day substitute), at 07:00.
    assert int(float(score)) == 1797404400000, score  # 2026-12-16T07:00Z


def check_email(stack, case_id):
    files = wait_for("an email in the outbox",
                     lambda: glob.glob(os.path.join(stack.var, "outbox", "new", "*")))
    assert len(files) == 1, files
    with open(files[0], "rb") as f:
        msg = email.message_from_binary_file(f)
    assert msg["To"].endswith("<ngozi.okafor@example.org>") or \
        msg["To"] == "ngozi.okafor@example.org", msg["To"]
    body = msg.get_payload(decode=True).decode()
    assert "Monday 4 January 2027" in body, body
    assert msg["X-Sendpath-Case"] == case_id, msg["X-Sendpath-Case"]
    assert "((" not in body and "))" not in body, body


def check_ops(stack, case_id):
    def case_complete():
        r = http("GET", stack.url("ops", f"/v1/cases/{case_id}"))
        if r.status != 200:
            return None
        c = r.json()
        types = [t["type"] for t in c["timeline"]]
        return c if {"request.received", "deadline.started"} <= set(types) else None
    c = wait_for("ops to show the case", case_complete)
    assert c["received_date"] == "2026-11-23" and c["status"] == "received", c
    assert c["clocks"][0]["due_date"] == "2027-01-04", c["clocks"]
    assert http("GET", stack.url("ops", "/v1/cases/c_00000000000000000000000000")).status == 404
    assert http("GET", stack.url("ops", "/v1/cases/nonsense")).status == 400


def check_idempotent_repeat(stack, case_id):
    r = http("POST", stack.url("intake", "/v1/requests"), REQUEST)
    assert r.status == 201 and r.json()["case_id"] == case_id, (r.status, r.body)
    assert r.headers.get("Idempotent-Replayed") == "true", dict(r.headers)
    evs = [e for e in stack.events("sendpath.case-events") if e["subject"] == case_id]
    assert len(evs) == 1, "a repeat published again"


def check_allocator(stack):
    """Each service says which malloc it got when it starts: the one CMake
    linked, not libc's left in place by a linker that dropped jemalloc."""
    want = os.environ.get("SENDPATH_TEST_MALLOC", "jemalloc")
    for name in ("intake", "evidence", "timers", "notify", "ops"):
        with open(os.path.join(stack.var, "logs", f"{name}.log"), errors="replace") as f:
            started = [ln for ln in f if '"started: ' in ln]
        assert started, f"{name} logged no start"
        got = started[-1].split(", malloc ", 1)[-1].split('"', 1)[0]
        assert got.split(" ")[0] == want, f"{name} runs on {got!r}, not {want}"


def test(stack):
    check_allocator(stack)
    check_malformed_request_refused(stack)
    r = http("POST", stack.url("intake", "/v1/requests"), REQUEST)
    assert r.status == 201, (r.status, r.body)
    case_id = r.json()["case_id"]
    assert r.headers["Location"] == f"/v1/cases/{case_id}"
    p1 = check_case_events(stack, case_id)
    p2 = check_deadline(stack, case_id)
    assert p1 == p2, "a case's events must share a partition"
    check_redis_timer(stack, case_id, p1)
    check_email(stack, case_id)
    check_ops(stack, case_id)
    check_idempotent_repeat(stack, case_id)
    check_malformed_request_refused(stack)
    codes = stack.stop()
    assert all(c == 0 for c in codes.values()), f"unclean shutdown: {codes}"


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T10:00:00Z")
