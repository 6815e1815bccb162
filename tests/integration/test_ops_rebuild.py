"""sendpath-ops --rebuild gives the same answers.

A seeded stack (ops_seed.py); every ops answer is read (the deadline lists
for each state, every case, the timeliness figures, JSON and CSV); ops is
stopped, its Redis keys are spoiled on purpose (a stray key, a deleted case,
a wrong deadline) so a rebuild that forgot to drop or to replay would show;
`sendpath-ops --rebuild` drops ops:*, replays every topic from offset zero
in a fresh consumer group, prints its counts and exits 0, and makes every
key as the live service had made it, in one wave and again in a wave a
partition; ops starts again,
and every answer is the same as before. The other services' keys are left
alone, and the live group's offsets too: after the restart ops takes new
events as before.
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, main, wait_for  # noqa: E402
from ops_seed import OPS_ENV, TODAY, TOPICS, request, seed, settle  # noqa: E402


def answers(stack, cases):
    out = {}
    for q in ("", "?state=overdue", "?state=approaching", "?state=open", "?team=North",
              "?clock=advice&limit=3"):
        r = http("GET", stack.url("ops", "/v1/deadlines" + q))
        assert r.status == 200, r.body
        out["deadlines" + q] = r.json()
    for name, c in sorted(cases.items()):
        r = http("GET", stack.url("ops", f"/v1/cases/{c}"))
        assert r.status == 200, r.body
        out["case " + name] = r.json()
    stats = "/v1/stats/timeliness?from=2026-11-01&to=2027-06-30"
    out["stats"] = http("GET", stack.url("ops", stats)).json()
    out["csv"] = http("GET", stack.url("ops", stats + "&format=csv")).body
    return out


MODEL_LUA = """
local out = {}
for _, k in ipairs(redis.call('KEYS', 'ops:*')) do
  local t = redis.call('TYPE', k).ok
  local v
  if t == 'hash' then v = redis.call('HGETALL', k)
  elseif t == 'list' then v = redis.call('LRANGE', k, 0, -1)
  elseif t == 'set' then v = redis.call('SMEMBERS', k)
  elseif t == 'zset' then v = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
  else v = {redis.call('GET', k)} end
  out[k] = {t, v}
end
return cjson.encode(out)
"""


def model(stack):
    """Every ops key's type and contents, read with plain commands (no DUMP,
    whose encoding differs with insertion history): hashes as dicts, sorted
    sets in their order with scores, sets sorted, and lists sorted too: a
    case's timeline is kept in arrival order, which differs between a live
    run and a rebuild where topics interleave differently (the API sorts
    it, cases.c)."""
    out = {}
    for k, (t, v) in json.loads(stack.redis("EVAL", MODEL_LUA, "0")).items():
        v = v if isinstance(v, list) else []  # cjson encodes {} for an empty table
        if t == "hash":
            v = dict(zip(v[::2], v[1::2]))
        elif t in ("list", "set"):
            v = sorted(v)
        out[k] = (t, v)
    return out


def check_model(before, after):
    """The rebuild (fold.h: in memory, then plain commands) made exactly the
    keys and values the live path (one script per batch) had made."""
    missing, extra = before.keys() - after.keys(), after.keys() - before.keys()
    assert not missing and not extra, f"keys only live: {sorted(missing)[:5]}, only " \
        f"rebuilt: {sorted(extra)[:5]}"
    differ = [k for k in before if before[k] != after[k]]
    assert not differ, f"{len(differ)} keys differ, e.g. {differ[0]}:\n{before[differ[0]]}\n" \
        f"{after[differ[0]]}"
    kinds = {t for t, _ in before.values()}
    assert len(before) > 30 and kinds == {"hash", "list", "set", "zset"}, (len(before), kinds)
    print(f"rebuild: {len(before)} ops keys, each the same as the live one", file=sys.stderr)


def spoil(stack, cases):
    stack.redis("SET", "ops:stray", "1")
    stack.redis("DEL", f"ops:case:{cases['A']}", f"ops:timeline:{cases['A']}")
    # a stray row in a shard's open-deadline index (the rebuild must drop it),
    # and one in the global index of before the keys were per shard (never
    # read; the rebuild drops it too)
    for key in ("ops:dl:{s0}", "ops:dl"):
        stack.redis("HSET", key, "c_bogus:final_plan:20270101",
                    "c_bogus\tfinal_plan\t2027-01-01\t2026-08-20\t0")


def run_rebuild(stack, *args, **extra):
    env = stack.service_env("ops")
    env.update(extra)
    binary = os.path.join(stack.build, "services/ops/sendpath-ops")
    t0 = time.time()
    out = subprocess.run([binary, "--rebuild", *args], capture_output=True, text=True, env=env,
                         cwd=stack.source, timeout=120)
    took = time.time() - t0
    assert out.returncode == 0, (out.returncode, out.stdout, out.stderr[-3000:])
    report = json.loads(out.stdout.strip().splitlines()[-1])
    return report, took


def check_stopped_workers(stack):
    env = stack.service_env("ops")
    binary = os.path.join(stack.build, "services/ops/sendpath-ops")
    # A bad worker count is refused before anything starts, naming the flag.
    for bad in ("--workers=0", "--workers=two"):
        out = subprocess.run([binary, "--rebuild", bad], env=env, cwd=stack.source,
                             capture_output=True, text=True, timeout=10)
        assert out.returncode == 2 and "--workers" in out.stderr, (bad, out.returncode,
                                                                  out.stderr)
        assert not out.stdout, out.stdout
    # A bad setting is refused once, by the parent, before any worker.
    out = subprocess.run([binary, "--rebuild", "--workers=2"], cwd=stack.source,
                         env=env | {"SENDPATH_REDIS_PORT": "six"},
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 2 and out.stderr.count("redis.port") == 1, (out.returncode,
                                                                        out.stderr)
    assert "worker" not in out.stderr and not out.stdout, (out.stdout, out.stderr)
    proc = subprocess.Popen([binary, "--rebuild", "--workers=2"], env=env, cwd=stack.source,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for("both workers started", lambda: len(children(proc.pid)) == 2, timeout=10,
             interval=0.02)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (proc.returncode, out, err[-2000:])
    assert "rebuild" not in out and "run --rebuild again" in err, (out, err[-2000:])
    assert not any(os.path.exists(f"/proc/{w}") for w in workers), workers


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return f.read().split()
    except FileNotFoundError:
        return []


def ops_deadletters(stack):
    out = subprocess.run(["kcat", "-b", stack.bootstrap, "-C", "-t", "sendpath.deadletter",
                          "-o", "beginning", "-e", "-q", "-f", "%h\t%s\n"],
                         capture_output=True, text=True, timeout=10)
    return [ln for ln in out.stdout.splitlines() if "x-service=ops" in ln]


def check_deadletter(stack, case_id):
    """Something that is not an event goes to the dead-letter topic with the
    reason, and the events after it are applied."""
    stack.produce("sendpath.case-events", case_id, "not an event")
    stack.produce("sendpath.case-events", case_id, json.dumps({
        "specversion": "1.0", "id": f"{case_id}/case.closed/test", "source": "/sendpath/test",
        "type": "case.closed", "time": "2027-06-01T09:00:00.000Z", "subject": case_id,
        "datacontenttype": "application/json",
        "data": {"case_id": case_id, "date": "2027-06-01", "reason": "other"}}))
    wait_for("ops to apply the event after the bad one", lambda: http(
        "GET", stack.url("ops", f"/v1/cases/{case_id}")).json().get("status") == "closed")
    dead = wait_for("ops's dead letter", lambda: ops_deadletters(stack))
    assert len(dead) == 1 and "not an event" in dead[0] and "x-reason=" in dead[0], dead


def test(stack):
    cases = seed(stack)
    before = answers(stack, cases)
    events = sum(len(stack.topic(t)) for t in TOPICS)
    others = sorted(k for k in stack.redis("KEYS", "*").splitlines() if not k.startswith("ops:"))
    assert stack.stop_service("ops") == 0
    live = model(stack)
    spoil(stack, cases)
    report, took = run_rebuild(stack)
    assert report["rebuild"] == "done" and report["messages"] == events, (report, events)
    assert report["applied"] + report["repeats"] >= events and report["applied"] > 0, report
    print(f"rebuild: {report['messages']} messages, {report['applied']} applied, "
          f"{report['repeats']} repeats, {report['ms']} ms in the loop, {took:.1f} s in all",
          file=sys.stderr)
    assert stack.redis("EXISTS", "ops:stray") == "0", "the rebuild did not drop ops:*"
    assert stack.redis("EXISTS", "ops:dl") == "0", "the rebuild did not drop the old ops:dl"
    assert sorted(k for k in stack.redis("KEYS", "*").splitlines()
                  if not k.startswith("ops:")) == others, "another service's keys changed"
    assert report["waves"] == 1 and report["past_marks"] == 0, report
    whole = report
    check_model(live, model(stack))
    # Again in waves of one partition each (rebuild.h): each is read up to
    # its marks, the others paused, and written while the next is read. A
    # wave written before all of its events were folded, or an event folded
    # into another wave's keys, would show as a key that differs.
    spoil(stack, cases)
    report, _ = run_rebuild(stack, SENDPATH_OPS_REBUILD_WAVE_EVENTS="1")
    assert report["waves"] > 2 and report["past_marks"] == 0, report
    assert report["applied"] + report["repeats"] >= events, (report, events)
    print(f"rebuild in waves: {json.dumps(report)}", file=sys.stderr)
    check_model(live, model(stack))
    # A rebuild in workers stopped half-way (SIGTERM to the parent) stops
    # every worker and exits 1: its model is partial, and it must not look
    # done. The next one makes it whole again.
    check_stopped_workers(stack)
    # And in three processes (rebuild_workers.h), each a range of the
    # partitions in waves of one: worker 1 drops ops:* (the stray key goes)
    # before any writes, and between them every key is made once.
    spoil(stack, cases)
    report, _ = run_rebuild(stack, "--workers=3", SENDPATH_OPS_REBUILD_WAVE_EVENTS="1")
    assert report["workers"] == 3 and report["past_marks"] == 0, report
    assert report["partitions"] == whole["partitions"], (report, whole)
    assert report["messages"] == events, (report, events)
    assert report["applied"] + report["repeats"] >= events, (report, events)
    print(f"rebuild in 3 workers: {json.dumps(report)}", file=sys.stderr)
    assert stack.redis("EXISTS", "ops:stray") == "0", "the workers did not drop ops:*"
    check_model(live, model(stack))
    stack.start_service("ops")
    stack.wait_ready("ops")
    after = answers(stack, cases)
    for k in before:
        assert before[k] == after[k], f"{k} differs after the rebuild:\n{before[k]}\n{after[k]}"
    # The live group goes on from its own offsets: a new case shows. Redis
    # has also forgotten every script (as after a restart): the commands
    # that meet NOSCRIPT go again as EVAL (common/redis.c).
    stack.redis("SCRIPT", "FLUSH")
    new = request(stack, "Nia", "Owusu", "100003", "2027-05-31")
    settle(stack, list(cases.values()) + [new])
    rows = http("GET", stack.url("ops", "/v1/deadlines?clock=decision_to_assess&school=100003"))
    assert new in [r["case_id"] for r in rows.json()["rows"]], rows.body
    check_deadletter(stack, new)
    codes = stack.stop()
    assert all(v == 0 for v in codes.values()), f"unclean shutdown: {codes}"


if __name__ == "__main__":
    main(test, clock_start=TODAY, extra_env=OPS_ENV)
