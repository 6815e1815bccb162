"""Statutory clocks end to end, with the manual clock.

A request is received and nothing is done: as time is moved on, timers
publishes approaching (10 and 5 working days before), due and overdue events,
in order; then a decision recorded late (by its business date) meets the clock
with on_time false and starts the 16- and 20-week clocks.

Then 200 requests, a jump in time that makes all their clocks fire at once,
and a SIGKILL of timers in the middle of that round: after a restart every
fire point is on the topic, and downstream (ops, which drops repeats by event
id) each shows exactly once.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, main, wait_for  # noqa: E402
from test_slice import REQUEST  # noqa: E402


def deadline_events(stack, case_id):
    return [e for e in stack.events("sendpath.deadlines") if e["subject"] == case_id]


def kinds(evs):
    """Event ids without the clock instance, first occurrence only, in order."""
    seen, out = set(), []
    for e in evs:
        if e["id"] not in seen:
            seen.add(e["id"])
            out.append(e["id"].split("/", 1)[1])
    return out


def request(stack, n, received="2026-11-23"):
    body = dict(REQUEST, idempotency_key=f"clocks-{n}", received_date=received,
                child=dict(REQUEST["child"], given_name=f"Child{n}"))
    r = http("POST", stack.url("intake", "/v1/requests"), body)
    assert r.status == 201, (r.status, r.body)
    return r.json()["case_id"]


def decision_event(case_id, date):
    return json.dumps({
        "specversion": "1.0", "id": f"{case_id}/decision.assess",
        "source": "/sendpath/test", "type": "decision.assess",
        "time": "2027-01-20T09:00:00.000Z", "subject": case_id,
        "datacontenttype": "application/json",
        "data": {"case_id": case_id, "date": date, "request_received_date": "2026-11-23"}})


def check_one_clock_lifecycle(stack):
    case_id = request(stack, 0)
    wait_for("started", lambda: deadline_events(stack, case_id))
    steps = [("2026-12-15T23:00:00Z", ["started"]),
             ("2026-12-16T08:00:00Z", ["started", "approaching/0"]),
             ("2026-12-23T08:00:00Z", ["started", "approaching/0", "approaching/1"]),
             ("2027-01-04T08:00:00Z", ["started", "approaching/0", "approaching/1", "due/2"]),
             ("2027-01-05T08:00:00Z", ["started", "approaching/0", "approaching/1", "due/2",
                                       "overdue/3"]),
             ("2027-01-12T08:00:00Z", ["started", "approaching/0", "approaching/1", "due/2",
                                       "overdue/3", "overdue/4"])]
    for now, expect in steps:
        stack.set_clock(now)
        got = wait_for(f"events at {now}", lambda: (
            k if (k := kinds(deadline_events(stack, case_id))) == expect else None),
            timeout=10)
        time.sleep(0.3)  # nothing more may come
        assert kinds(deadline_events(stack, case_id)) == got, "an extra fire"
    evs = deadline_events(stack, case_id)
    assert [e["data"]["date"] for e in evs[1:]] == [
        "2026-12-16", "2026-12-23", "2027-01-04", "2027-01-05", "2027-01-12"]
    assert len(evs) == len({e["id"] for e in evs}), "a fire repeated without a crash"

    # A decision made on 8 January, recorded on the 20th: late by its own date.
    stack.set_clock("2027-01-20T09:00:00Z")
    stack.produce("sendpath.case-events", case_id, decision_event(case_id, "2027-01-08"))
    met = wait_for("deadline.met", lambda: [
        e for e in deadline_events(stack, case_id) if e["type"] == "deadline.met"])
    d = met[0]["data"]
    assert d["clock"] == "decision_to_assess" and d["on_time"] is False, d
    assert d["met_on"] == "2027-01-08" and d["due_date"] == "2027-01-04", d
    started = {e["data"]["clock"]: e["data"]["due_date"] for e in deadline_events(stack, case_id)
               if e["type"] == "deadline.started"}
    assert started == {"decision_to_assess": "2027-01-04", "no_plan_notice": "2027-03-15",
                       "final_plan": "2027-04-12"}, started
    # The met clock fires no more.
    stack.set_clock("2027-02-01T08:00:00Z")
    time.sleep(1)
    late = [e for e in deadline_events(stack, case_id)
            if e["data"]["clock"] == "decision_to_assess" and e["type"] == "deadline.overdue"
            and e["data"]["date"] > "2027-01-20"]
    assert not late, late


CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def bulk_case_id(i):
    digits = []
    for _ in range(26):
        digits.append(CROCKFORD[i % 32])
        i //= 32
    return "c_" + "".join(reversed(digits))


def received_event(case_id):
    data = dict(REQUEST, case_id=case_id, date="2026-11-23")
    data.pop("idempotency_key")
    return json.dumps({
        "specversion": "1.0", "id": f"{case_id}/request.received",
        "source": "/sendpath/test", "type": "request.received",
        "time": "2026-11-23T10:00:00.000Z", "subject": case_id,
        "datacontenttype": "application/json", "data": data})


def check_sigkill_mid_round(stack, n=2000):
    """Clocks armed through the bulk path (events straight onto the topic, as
    an import does), all due at once, and timers killed while firing them."""
    stack.set_clock("2026-11-23T10:00:00Z")
    cases = [bulk_case_id(7_000_000 + i) for i in range(n)]
    stack.produce_many("sendpath.case-events",
                       [(c, received_event(c)) for c in cases])
    wait_for("all clocks armed", lambda: sum(
        int(stack.redis("ZCARD", f"tm:{{s{p}}}:q") or 0) for p in range(6)) >= n + 2,
        timeout=60)
    stack.set_clock("2026-12-16T08:00:00Z")  # every clock's approaching/0 is due
    time.sleep(0.03)
    stack.kill("timers")
    case_set = set(cases)
    fired_before = len({e["id"] for e in stack.events("sendpath.deadlines")
                        if e["type"] == "deadline.approaching" and e["subject"] in case_set})
    stack.start_service("timers")
    stack.wait_ready("timers")
    stack.set_clock("2026-12-16T08:00:00Z")

    def all_fired():
        evs = [e for e in stack.events("sendpath.deadlines")
               if e["type"] == "deadline.approaching" and e["subject"] in case_set]
        return evs if len({e["id"] for e in evs}) == n else None
    evs = wait_for("every approaching/0 after the restart", all_fired, timeout=90)
    repeats = len(evs) - len({e["id"] for e in evs})
    print(f"sigkill mid-round: {fired_before} of {n} fired before the kill; after restart "
          f"{len({e['id'] for e in evs})} distinct on the topic, {repeats} repeated "
          f"(same id), 0 lost", file=sys.stderr)
    assert all(e["id"].endswith("/approaching/0") for e in evs)
    # Downstream drops repeats by id: ops shows each case's fire once.
    for case_id in cases[:: n // 40]:
        c = wait_for(f"ops timeline of {case_id}", lambda: (
            r.json() if (r := http("GET", stack.url("ops", f"/v1/cases/{case_id}"))).status
            == 200 and any(t["type"] == "deadline.approaching" for t in r.json()["timeline"])
            else None), timeout=60)
        assert sum(t["type"] == "deadline.approaching" for t in c["timeline"]) == 1, c


def test(stack):
    check_one_clock_lifecycle(stack)
    check_sigkill_mid_round(stack)
    codes = stack.stop()
    assert all(c == 0 for c in codes.values()), f"unclean shutdown: {codes}"


if __name__ == "__main__":
    # Small fire rounds, so the kill lands between a publish and its advance.
    main(test, clock_start="2026-11-23T10:00:00Z", services=("intake", "timers", "ops"),
         extra_env={"SENDPATH_TIMERS_FIRE_BATCH": "25"})
