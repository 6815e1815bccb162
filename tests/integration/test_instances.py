"""Several instances of one service, and a SIGKILL of one of them under load.

Two timers and two notify processes, each pair in its service's one consumer
group, over topics of 6 partitions (3 each). Then, with work in flight:

  1. notify.1 is SIGKILLed while 600 acknowledgements are being written
     (request.received put straight on case-events, as an import does), and
     150 more requests arrive through intake over HTTP after the kill. The
     survivor takes over notify.1's partitions at the next rebalance.
  2. notify.1 comes back (its partitions move back from a live notify.2),
     the clock jumps so every case's first "approaching" point is due, timers
     fires it in rounds of 5, and timers.1 is SIGKILLed mid-round; the clock
     then moves on a week so every case's second point is due as well.

What must hold afterwards:
  - every due clock fired: each case's approaching/0 and approaching/1 are on
    sendpath.deadlines. Firing is at-least-once: a clock fired by timers.1 and
    not yet advanced in Redis is fired again by its new owner with the same
    event id (ids are deterministic), and consumers drop the repeat by id. A
    repeat with a different id for the same clock and kind is a failure.
  - every email went out exactly once: one Maildir file per (event,
    recipient, template), and exactly the files expected (the parent's
    acknowledgement and the caseworkers' two "approaching" emails per case).
  - in each failover exactly the 3 partitions of the killed instance stall
    and the survivor picks them up; the time from the kill to the survivor's
    first fire or email on them (the takeover) is printed. The embedded
    broker notices the dead member after session.timeout.ms (6000 ms in
    config/sendpath.conf) and then waits session.timeout.ms - 1 s for the
    group to rejoin, so about 11 s is expected here; docs/scaling.md has
    the figures and what they are on Apache Kafka.
"""
import calendar
import email
import email.utils
import glob
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, main, wait_for  # noqa: E402
from test_clocks import bulk_case_id, received_event  # noqa: E402
from test_slice import REQUEST  # noqa: E402

PARTITIONS = 6
WAVE_BULK = 400   # request.received put on the topic just before notify.1 dies
WAVE_HTTP = 100   # requests through intake after the kill
# No partition of a dead member can move before the broker has missed its
# heartbeats for session.timeout.ms (6 s), so the killed instance's
# partitions must all stall longer than this.
STALL_S = 5.0
CASEWORKERS = "send-team@council.example"


def wait_balanced(stack, service, per_instance):
    """Every instance of service holds its share of the partitions."""
    names = stack.instances(service)
    alive = [n for n in names if n in stack.procs]
    wait_for(f"{service} balanced over {alive}", lambda: all(
        stack.readyz(n).get("partitions") == per_instance for n in alive), timeout=60)


def outbox(stack):
    """(event, recipient, template) -> [(case id, file mtime in s)], one entry
    per Maildir file, so a key with two entries is an email sent twice."""
    out = {}
    for path in glob.glob(os.path.join(stack.var, "outbox", "new", "*")):
        with open(path, "rb") as f:
            msg = email.message_from_binary_file(f)
        key = (msg["X-Sendpath-Event"], msg["To"], msg["X-Sendpath-Template"])
        out.setdefault(key, []).append((msg["X-Sendpath-Case"], os.stat(path).st_mtime))
    return out


def case_partitions(stack):
    return {m["key"]: m["partition"] for m in stack.topic("sendpath.case-events")}


def first_after(stamps, t_kill):
    """partition -> seconds from the kill to its first output after it."""
    first = {}
    for p, t in stamps:
        if t > t_kill and (p not in first or t < first[p]):
            first[p] = t
    return {p: round(t - t_kill, 2) for p, t in sorted(first.items())}


def check_takeover(what, gaps):
    """Every partition had output after the kill, and the killed instance's
    half (the slowest half: the survivor's own go on at once, unless it is
    busy) stalled until the rebalance. Returns the takeover: the kill to
    the survivor's first output on them."""
    assert sorted(gaps) == list(range(PARTITIONS)), f"{what}: partitions with no output " \
        f"after the kill: {sorted(set(range(PARTITIONS)) - set(gaps))} ({gaps})"
    stalled = sorted(gaps, key=gaps.get)[PARTITIONS // 2:]
    takeover = min(gaps[p] for p in stalled)
    assert takeover > STALL_S, f"{what}: the kill stalled nothing; was it mid-load? {gaps}"
    print(f"{what}: takeover {takeover:.2f} s from SIGKILL to the survivor's first output "
          f"on partitions {sorted(stalled)} (all of them by {max(gaps.values()):.2f} s); "
          f"first output after the kill per partition (s): {gaps}", file=sys.stderr)
    return takeover, stalled


def due_count(stack, iso):
    """Clocks whose next fire point is at or before iso, over every shard."""
    ms = calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")) * 1000
    keys = [f"tm:{{s{p}}}:q" for p in range(PARTITIONS)]
    script = ("local n = 0 for _, k in ipairs(KEYS) do "
              "n = n + redis.call('ZCOUNT', k, '-inf', ARGV[1]) end return n")
    return int(stack.redis("EVAL", script, str(len(keys)), *keys, str(ms)))


def post_requests(stack, n, tag):
    cases = []
    for i in range(n):
        body = dict(REQUEST, idempotency_key=f"instances-{tag}-{i}",
                    child=dict(REQUEST["child"], given_name=f"Child{tag}{i}"))
        r = http("POST", stack.url("intake", "/v1/requests"), body)
        assert r.status == 201, (r.status, r.body)
        cases.append(r.json()["case_id"])
    return cases


def ack_emails(stack, cases):
    box = outbox(stack)
    return {k: v for k, v in box.items() if k[2] == "request_received" and v[0][0] in cases}


def notify_failover(stack):
    """Phase 1: notify.1 dies with acknowledgements in flight."""
    bulk = [bulk_case_id(9_100_000 + i) for i in range(WAVE_BULK)]
    stack.produce_many("sendpath.case-events", [(c, received_event(c)) for c in bulk])
    wait_for("the first acknowledgements", lambda: len(outbox(stack)) >= 20, timeout=30,
             interval=0.02)
    t_kill = time.time()
    stack.kill("notify.1")
    done_before = len(outbox(stack))
    http_cases = post_requests(stack, WAVE_HTTP, "a")
    cases = set(bulk) | set(http_cases)
    acks = wait_for(f"{len(cases)} acknowledgements", lambda: (
        a if len(a := ack_emails(stack, cases)) == len(cases) else None), timeout=90)
    print(f"notify: {done_before} of {WAVE_BULK} emails written before the kill",
          file=sys.stderr)
    parts = case_partitions(stack)
    stamps = [(parts[v[0][0]], v[0][1]) for v in acks.values()]
    return cases, check_takeover("notify", first_after(stamps, t_kill))[0]


def timers_failover(stack, cases):
    """Phase 2: timers.1 dies mid-round; the clock moves on after the kill,
    and notify.1 rejoins while the emails flow, so partitions move between
    two live notify instances under load as well."""
    # Every case's approaching/0 is due on timers.1, which fires its shards in
    # rounds of 5 and dies once a few rounds are out; the survivor's clock
    # then moves to when approaching/1 is due as well.
    due = due_count(stack, "2026-12-16T08:00:00Z")
    stack.set_clock_of(["timers.1"], "2026-12-16T08:00:00Z")
    wait_for("timers.1 to fire a few rounds", lambda: due_count(
        stack, "2026-12-16T08:00:00Z") <= due - 20, timeout=10, interval=0.002)
    t_kill = time.time()
    stack.kill("timers.1")
    stack.set_clock("2026-12-23T08:00:00Z")
    stack.start_service("notify.1")

    def fired():
        evs = [m for m in stack.topic("sendpath.deadlines", timeout_s=30)
               if m["key"] in cases and '"deadline.approaching"' in m["value"]]
        ids = {json.loads(m["value"])["id"] for m in evs}
        return evs if len(ids) >= 2 * len(cases) else None
    evs = wait_for("every approaching/0 and /1", fired, timeout=120, interval=0.5)
    takeover, stalled = check_takeover("timers", first_after(
        [(m["partition"], m["ts"] / 1000) for m in evs], t_kill))
    theirs = [m for m in evs if m["partition"] in stalled and m["value"].find("/approaching/0"
                                                                             ) > 0]
    before = len({json.loads(m["value"])["id"] for m in theirs if m["ts"] / 1000 < t_kill})
    total = len({json.loads(m['value'])['id'] for m in theirs})
    print(f"timers: timers.1 fired {before} of its shards' {total} approaching/0 points "
          f"before the kill", file=sys.stderr)
    assert 0 < before < total, "timers.1 was not killed mid-load"
    wait_balanced(stack, "notify", 3 * PARTITIONS // 2)  # notify.1 is back
    return evs, takeover


def check_fired_at_least_once(evs, cases):
    by_point = {}
    for m in evs:
        e = json.loads(m["value"])
        by_point.setdefault((e["subject"], e["data"]["clock"], e["type"],
                             e["data"]["seq"]), set()).add(e["id"])
    want = {(c, "decision_to_assess", "deadline.approaching", s) for c in cases for s in (0, 1)}
    missing = want - set(by_point)
    assert not missing, f"{len(missing)} clock points never fired, e.g. {sorted(missing)[:3]}"
    extra = {k: v for k, v in by_point.items() if k not in want or len(v) != 1}
    assert not extra, f"unexpected fires or one point under two ids: {list(extra.items())[:3]}"
    repeats = len(evs) - len(want)
    print(f"timers: {len(want)} clock points due, all fired; {repeats} fired twice by "
          f"the kill (same id, dropped downstream)", file=sys.stderr)


def check_emails_exactly_once(stack, cases):
    box = wait_for("every caseworker email", lambda: (
        b if len(b := outbox(stack)) >= 3 * len(cases) else None), timeout=90)
    time.sleep(1)  # anything late would be a duplicate or a stray
    box = outbox(stack)
    twice = {k: v for k, v in box.items() if len(v) != 1}
    assert not twice, f"{len(twice)} emails sent more than once: {list(twice.items())[:3]}"
    per_template = {}
    for (event_id, to, template), [(case_id, _)] in box.items():
        assert case_id in cases, (event_id, template)
        address = email.utils.parseaddr(to)[1]
        per_template[(template, address)] = per_template.get((template, address), 0) + 1
    assert per_template == {
        ("request_received", REQUEST["contact"]["email"]): len(cases),
        ("caseworker_deadline_approaching", CASEWORKERS): 2 * len(cases),
    }, per_template
    print(f"notify: {len(box)} emails, each exactly once per (event, recipient, "
          f"template)", file=sys.stderr)


def test(stack):
    wait_balanced(stack, "timers", 2 * PARTITIONS // 2)  # case-events + evidence
    wait_balanced(stack, "notify", 3 * PARTITIONS // 2)  # + deadlines
    cases, notify_s = notify_failover(stack)
    evs, timers_s = timers_failover(stack, cases)
    check_fired_at_least_once(evs, cases)
    check_emails_exactly_once(stack, cases)
    print(f"takeover after SIGKILL: notify {notify_s:.2f} s, timers {timers_s:.2f} s",
          file=sys.stderr)
    codes = stack.stop()
    assert all(c == 0 for c in codes.values()), f"unclean shutdown: {codes}"


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T10:00:00Z",
         services=("intake", "timers", "notify"), instances={"timers": 2, "notify": 2},
         extra_env={"SENDPATH_TIMERS_FIRE_BATCH": "5",
                    "SENDPATH_NOTIFY_CASEWORKER_EMAIL": CASEWORKERS})
