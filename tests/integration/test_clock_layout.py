"""Clocks armed before the stored layout changed keep working after it.

timers writes layout 2 (services/timers/layout.h: "<ulid>:<code>" slots,
packed records); clocks armed by an older timers sit in layout 1
("<case_id>:<clock>" slots, text records) until they stop. Here layout 1
clocks are written into Redis by hand, as the older timers did, and then:
a replayed start does not arm a second copy, an exception marks the old
record, the clock fires with the same event ids as before (clock_id from the
clock's name), advances in place, and a decision stops it. A new clock is
written in layout 2.

A record this release cannot read (as after a downgrade, or a hand edit)
does not fire and does not stay due: timers parks it at the end of time in
q, keeps the record, logs it and counts it (sendpath_timers_parked_total),
and the other clocks fire as before.
"""
import os
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, main, wait_for  # noqa: E402
from test_clock_table import send  # noqa: E402
from test_clocks import bulk_case_id, received_event  # noqa: E402

PARTITIONS = 6
APPROACHING_MS = "1797404400000"  # 2026-12-16T07:00Z, 10 working days before 4 Jan 2027
PARKED_MS = "253402300799000"  # 9999-12-31T23:59:59Z (services/timers/store.h)


def keys(case_id):
    p = zlib.crc32(case_id.encode()) % PARTITIONS  # librdkafka's partitioner
    return f"tm:{{s{p}}}:c:{case_id[-2:]}", f"tm:{{s{p}}}:q"


def arm_by_hand(stack, case_id, slot, record):
    """A clock written straight into Redis, its first point the approaching one."""
    bucket, q = keys(case_id)
    stack.redis("HSET", bucket, slot, record)
    stack.redis("ZADD", q, APPROACHING_MS, slot)
    return slot


def arm_layout1(stack, case_id):
    return arm_by_hand(stack, case_id, f"{case_id}:decision_to_assess", "20261123|20270104|0|0")


def arm_unreadable(stack, case_id):
    return arm_by_hand(stack, case_id, f"{case_id[2:]}:A", "20261123|not-a-record")


def parked_total(stack):
    body = http("GET", stack.url("timers", "/metrics")).body
    return [line for line in body.splitlines()
            if line.startswith("sendpath_timers_parked_total ")]


def deadlines(stack, case_id):
    return [e for e in stack.events("sendpath.deadlines") if e["subject"] == case_id]


def test(stack):
    old, excepted, new = bulk_case_id(101), bulk_case_id(102), bulk_case_id(103)
    old_slot, exc_slot = arm_layout1(stack, old), arm_layout1(stack, excepted)
    bad = bulk_case_id(104)
    bad_slot = arm_unreadable(stack, bad)

    # A replayed start finds the old clock running: announced from its record,
    # and no layout 2 copy.
    stack.produce("sendpath.case-events", old, received_event(old))
    started = wait_for("the replayed start", lambda: deadlines(stack, old))
    assert started[0]["id"] == f"{old}:decision_to_assess:20261123/started", started[0]
    bucket, q = keys(old)
    assert stack.redis("HEXISTS", bucket, f"{old[2:]}:A") == "0"
    assert stack.redis("ZCARD", q) != "0"

    # An exception on an old record marks it in place.
    send(stack, excepted, "exception.recorded", date="2026-11-30", clock="decision_to_assess",
         reason="absence_from_area")
    wait_for("deadline.excepted", lambda: [e for e in deadlines(stack, excepted)
                                           if e["type"] == "deadline.excepted"])
    assert stack.redis("HGET", keys(excepted)[0], exc_slot) == \
        "20261123|20270104|0|1|absence_from_area"

    # A new clock is stored in layout 2, its record packed (record.h).
    stack.produce("sendpath.case-events", new, received_event(new))
    wait_for("the new clock", lambda: stack.redis("HGET", keys(new)[0], f"{new[2:]}:A"))
    assert stack.redis("HGET", keys(new)[0], f"{new[2:]}:A") == "44625051353088"

    # All three fire their first approaching point, with the same ids.
    stack.set_clock("2026-12-16T08:00:00Z")
    for c in (old, excepted, new):
        wait_for(f"approaching of {c}", lambda c=c: [
            e for e in deadlines(stack, c)
            if e["id"] == f"{c}:decision_to_assess:20261123/approaching/0"])
    # The unreadable one is parked, not fired, and kept.
    wait_for("the unreadable clock parked",
             lambda: stack.redis("ZSCORE", keys(bad)[1], bad_slot) == PARKED_MS)
    assert stack.redis("HGET", keys(bad)[0], bad_slot) == "20261123|not-a-record"
    assert parked_total(stack) == ["sendpath_timers_parked_total 1"], parked_total(stack)
    assert not deadlines(stack, bad)
    with open(os.path.join(stack.var, "logs", "timers.log")) as f:
        assert f"clock {bad_slot} of shard" in f.read()
    exc = [e for e in deadlines(stack, excepted) if e["type"] == "deadline.approaching"][0]
    assert exc["data"]["exception_reason"] == "absence_from_area", exc
    # ... and advance where they are: seq 1, the next approaching point next.
    wait_for("the old clock advanced", lambda: stack.redis("HGET", bucket, old_slot)
             == "44625051353092")  # packed now: 44625051353088 + 1 * 4
    assert stack.redis("ZSCORE", q, old_slot) == "1798009200000"  # 2026-12-23T07:00Z
    assert stack.redis("HLEN", bucket) == "1"

    # A decision stops the old clock: met, and gone from both keys.
    send(stack, old, "decision.assess", date="2026-12-18", request_received_date="2026-11-23")
    met = wait_for("deadline.met", lambda: [e for e in deadlines(stack, old)
                                            if e["type"] == "deadline.met"
                                            and e["data"]["clock"] == "decision_to_assess"])
    assert met[0]["data"]["on_time"] is True, met[0]
    assert stack.redis("HEXISTS", bucket, old_slot) == "0"
    assert stack.redis("ZSCORE", q, old_slot) == ""
    # Nothing of the old clock fires again.
    stack.set_clock("2027-01-12T08:00:00Z")
    time.sleep(1)
    assert not [e for e in deadlines(stack, old) if e["data"]["clock"] == "decision_to_assess"
                and e["type"] in ("deadline.due", "deadline.overdue")]
    codes = stack.stop()
    assert all(c == 0 for c in codes.values()), f"unclean shutdown: {codes}"


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T10:00:00Z", services=("timers",))
