"""An idle shard costs no script a tick, and a clock armed there still fires
at once (services/timers/fire.c), in real time.

timers looks for due clocks on each owned shard every fire.tick_ms (10 ms);
each look is a script in Redis. A shard whose next clock is known to be
later is now passed by until then, or until fire.poll_ms has gone by; this
instance's own writes make the next tick look again. fire.poll_ms is set to
a minute here, so only that rule can make a clock fire within seconds.

What must hold:
  1. Idle, the six shards cost at most a few scripts in 3 s (at a look
     every tick they cost about 1,800).
  2. A request received in January, armed now, is overdue: its clock's
     first fire point has passed, so it fires within seconds of being armed,
     not when the minute's look comes round.
  3. With fire.poll_ms 0 (a look every tick, as before), the same 3 s cost
     hundreds of scripts: the count in 1 can tell the two apart.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import main, wait_for  # noqa: E402
from test_clocks import bulk_case_id, received_event  # noqa: E402

PARTITIONS = 6  # case-events in common/topics.c: one shard each
IDLE_S = 3


def scripts_run(stack):
    """EVAL and EVALSHA calls Redis has run since its stats were reset."""
    calls = 0
    for line in stack.redis("INFO", "commandstats").splitlines():
        if line.startswith(("cmdstat_eval:", "cmdstat_evalsha:")):
            calls += int(line.split("calls=", 1)[1].split(",", 1)[0])
    return calls


def idle_scripts(stack):
    wait_for("timers owns every shard",
             lambda: stack.readyz("timers").get("partitions") == 2 * PARTITIONS, timeout=30)
    time.sleep(1)  # the first look at each shard, after its assignment
    stack.redis("CONFIG", "RESETSTAT")
    time.sleep(IDLE_S)
    return scripts_run(stack)


def check_overdue_fires_at_once(stack):
    c = bulk_case_id(9_100_001)
    ev = json.loads(received_event(c))
    ev["data"].update(date="2026-01-05", received_date="2026-01-05")
    t0 = time.time()
    stack.produce("sendpath.case-events", c, json.dumps(ev))

    def fired():
        evs = [e for e in stack.events("sendpath.deadlines") if e["subject"] == c]
        return [e for e in evs if e["type"] != "deadline.started"] or None
    evs = wait_for("the overdue clock's fire event", fired, timeout=20, interval=0.2)
    took = time.time() - t0
    assert took < 10, f"fired {took:.1f} s after it was armed: the arm did not wake its shard"
    assert evs[0]["data"]["clock"] == "decision_to_assess", evs[0]


def test(stack):
    n = idle_scripts(stack)
    print(f"idle: {n} scripts in {IDLE_S} s", flush=True)
    assert n <= 3 * PARTITIONS, f"{n} scripts in {IDLE_S} s on an idle stack"
    check_overdue_fires_at_once(stack)
    # The same stack looking every tick: the count above can tell.
    stack.stop_service("timers")
    stack.extra_env["SENDPATH_FIRE_POLL_MS"] = "0"
    stack.start_service("timers")
    busy = idle_scripts(stack)
    print(f"every tick: {busy} scripts in {IDLE_S} s", flush=True)
    assert busy >= 20 * n + 100, f"{busy} scripts looking every tick against {n}"


if __name__ == "__main__":
    main(test, services=("timers",), extra_env={"SENDPATH_FIRE_POLL_MS": "60000"})
