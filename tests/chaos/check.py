"""The chaos suite's verdict: what a run must look like after recovery, and
the counts that say how far it is from that.

Kept apart from the run (chaos.py) and free of I/O on purpose: it takes what
was read from the topics, Redis and the outbox as plain data, so the
self-check (test_check.py) can hand it a synthetic loss or duplicate and
prove that it is reported. A checker that cannot fail proves nothing.

What "right" is, for a run of requests made before the clock moves, whose
manual clock then ends at a time past every point in EXPECT["points"]:

  cases     each request (one idempotency key, one child) has exactly one
            case: every 201 it got names the same case, and exactly one
            request.received for its child is on sendpath.case-events.
  clocks    each case's clock started and fired each point that fell due;
            a point is on sendpath.deadlines under its one deterministic id.
            The same id twice is a repeat (at-least-once firing after a
            crash, dropped downstream by id) and is counted, not failed;
            one point under two ids is a duplicate. Redis agrees: no clock
            is left due, and each record's next point is the one after.
  emails    exactly one Maildir file per (event, recipient, template) the
            routes call for, and no other file; each has its outcome
            (notification.sent) on sendpath.notification-outcomes.
  consumers every consumer's lag is back to zero.
"""

# The scenario's routes, as docs/notifications.md has them for a request
# whose decision_to_assess clock runs its course with a caseworker mailbox
# set: event type -> (recipient role, template).
ROUTES = {
    "deadline.started": ("parent", "request_received"),
    "deadline.approaching": ("caseworker", "caseworker_deadline_approaching"),
    "deadline.due": ("caseworker", "caseworker_deadline_due"),
    "deadline.overdue": ("caseworker", "caseworker_deadline_overdue"),
}
KINDS = ("started", "approaching", "due", "overdue")


def point_id(clock_id, kind, seq=None):
    """A deadline event's id: "<clock_id>/started" or "<clock_id>/<kind>/<seq>"."""
    return f"{clock_id}/{kind}" if seq is None else f"{clock_id}/{kind}/{seq}"


class Tally:
    """Counts per subject (cases, clock points, emails...) and the problems
    found, each problem a line a person can act on (the first few kept)."""

    def __init__(self):
        self.counts = {}
        self.problems = []

    def add(self, subject, what, n=1):
        row = self.counts.setdefault(subject, {"expected": 0, "sent": 0, "lost": 0,
                                               "duplicated": 0, "repeats": 0, "stray": 0})
        row[what] += n

    def problem(self, subject, what, examples):
        examples = sorted(examples)
        if examples:
            self.problems.append(f"{subject}: {len(examples)} {what}, e.g. {examples[:3]}")

    def failed(self):
        return bool(self.problems)

    def table(self):
        lines = [f"{'':12} {'expected':>9} {'sent':>9} {'lost':>6} {'duplicated':>10} "
                 f"{'repeats':>8} {'stray':>6}"]
        for subject, r in self.counts.items():
            lines.append(f"{subject:12} {r['expected']:9} {r['sent']:9} {r['lost']:6} "
                         f"{r['duplicated']:10} {r['repeats']:8} {r['stray']:6}")
        return "\n".join(lines)


def check_cases(t, run):
    """requests: {key: {"child": given name, "answers": [case ids of every 201],
    "via": "http" or "kafka" (a command on sendpath.commands: no answer)}}.
    Returns {request key: case id} for the requests with exactly one case."""
    by_child = {}
    for e in run["case_events"]:
        if e["type"] == "request.received":
            by_child.setdefault(e["data"]["child"]["given_name"], set()).add(e["subject"])
    cases, lost, dup, unanswered = {}, [], [], []
    for key, req in run["requests"].items():
        t.add("cases", "expected")
        answered = set(req["answers"])
        on_topic = by_child.pop(req["child"], set())
        ids = answered | on_topic
        if not on_topic:
            lost.append(key)
            t.add("cases", "lost")
        if len(ids) > 1:
            dup.append((key, tuple(sorted(ids))))
            t.add("cases", "duplicated", len(ids) - 1)
        if not answered and req.get("via", "http") == "http":
            unanswered.append(key)
        if len(ids) == 1 and on_topic:
            t.add("cases", "sent")
            cases[key] = next(iter(ids))
    stray = sorted(c for ids in by_child.values() for c in ids)
    t.add("cases", "stray", len(stray))
    t.problem("cases", "requests with no request.received on the topic (lost)", lost)
    t.problem("cases", "requests with more than one case (duplicated)", dup)
    t.problem("cases", "requests never answered 201 (the client gave up)", unanswered)
    t.problem("cases", "cases no request of the run asked for", stray)
    return cases


def expected_points(case_id, expect):
    clock_id = f"{case_id}:{expect['clock']}:{expect['started'].replace('-', '')}"
    want = {("started", None): point_id(clock_id, "started")}
    for kind, seq in expect["points"]:
        want[(kind, seq)] = point_id(clock_id, kind, seq)
    return want


def check_clocks(t, run, cases, expect):
    """Every point of every case on sendpath.deadlines, once per id. Returns
    the deadline events (one per id) that should have been emailed."""
    seen = {}  # (case, kind, seq) -> {id: count}
    for e in run["deadlines"]:
        kind = e["type"].split(".", 1)[1]
        seq = None if kind == "started" else e["data"].get("seq")
        ids = seen.setdefault((e["subject"], kind, seq), {})
        ids[e["id"]] = ids.get(e["id"], 0) + 1
    mailable, lost, dup, wrong = {}, [], [], []
    for case_id in cases.values():
        for (kind, seq), want_id in expected_points(case_id, expect).items():
            t.add("clocks", "expected")
            ids = seen.pop((case_id, kind, seq), {})
            if want_id not in ids:
                lost.append(want_id)
                t.add("clocks", "lost")
            else:
                t.add("clocks", "sent")
                t.add("clocks", "repeats", ids[want_id] - 1)
                mailable[want_id] = (case_id, "deadline." + kind)
            others = sorted(set(ids) - {want_id})
            if others:
                dup.append((want_id, tuple(others)))
                t.add("clocks", "duplicated", len(others))
    stray = sorted(i for ids in seen.values() for i in ids)
    t.add("clocks", "stray", len(stray))
    t.problem("clocks", "points due and not on sendpath.deadlines (lost)", lost)
    t.problem("clocks", "points fired under another id too (duplicated)", dup)
    t.problem("clocks", "deadline events the run did not expect", stray)
    check_clock_records(t, run, cases, expect)
    return mailable


def check_clock_records(t, run, cases, expect):
    """Redis: nothing left due, and each clock's next point is the one after
    the last expected (its record's seq)."""
    r = run["redis"]
    if r["due_left"]:
        t.problems.append(f"clocks: {r['due_left']} clocks still due in Redis after recovery")
    want_seq = str(len(expect["points"]))
    bad = [(c, r["clock_records"].get(c)) for c in cases.values()
           if (r["clock_records"].get(c) or "|||").split("|")[2] != want_seq]
    t.problem("clocks", f"clock records in Redis not at point {want_seq}", bad)
    missing = sorted(set(cases.values()) - set(r["intake_cases"]))
    extra = sorted(set(r["intake_cases"]) - set(cases.values()))
    t.problem("cases", "cases missing from intake's Redis", missing)
    t.problem("cases", "cases in intake's Redis that no request made", extra)


def check_emails(t, run, mailable, expect):
    """emails: one (event id, address, template, case id) per Maildir file."""
    want = {}
    for event_id, (case_id, etype) in mailable.items():
        role, template = ROUTES[etype]
        want[(event_id, expect["addresses"][role], template)] = case_id
    files = {}
    for event_id, address, template, _case in run["emails"]:
        k = (event_id, address, template)
        files[k] = files.get(k, 0) + 1
    lost = sorted(set(want) - set(files))
    dup = sorted((k, n) for k, n in files.items() if n > 1)
    stray = sorted(set(files) - set(want))
    t.add("emails", "expected", len(want))
    t.add("emails", "sent", len(set(want) & set(files)))
    t.add("emails", "lost", len(lost))
    t.add("emails", "duplicated", sum(n - 1 for _, n in dup))
    t.add("emails", "stray", len(stray))
    t.problem("emails", "emails due and not in the outbox (lost)", lost)
    t.problem("emails", "emails written more than once (duplicated)", dup)
    t.problem("emails", "emails no event called for", stray)
    check_outcomes(t, run, want)


def check_outcomes(t, run, want):
    """Each email's notification.sent is on the outcomes topic; no send
    failed for good."""
    sent, bad = set(), []
    for e in run["outcomes"]:
        d = e["data"]
        if e["type"] == "notification.sent":
            sent.add((d["event_id"], d["template"]))
        else:
            bad.append((e["type"], d.get("event_id"), d.get("reason")))
    missing = sorted({(k[0], k[2]) for k in want} - sent)
    t.problem("outcomes", "emails with no notification.sent", missing)
    t.problem("outcomes", "sends that did not succeed", bad)


def check_lag(t, run):
    stuck = sorted((svc, lag) for svc, lag in run["lag"].items() if lag != 0)
    t.problem("consumers", "services whose consumer lag did not return to 0 (stuck)", stuck)


def check(run, expect):
    """run: what was read after recovery (see each check_*); expect: the
    scenario: clock, started (its start date), points [(kind, seq)...],
    addresses {role: address}. Returns a Tally; failed() on any loss,
    duplicate, stray or stuck consumer."""
    t = Tally()
    cases = check_cases(t, run)
    mailable = check_clocks(t, run, cases, expect)
    check_emails(t, run, mailable, expect)
    check_lag(t, run)
    return t
