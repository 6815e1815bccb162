"""The caseworkers' digest and alerts across restarts and settings
(docs/notifications.md, "To the caseworkers" and "The daily digest").

intake, timers, notify and ops run as processes, with one team (the
mailbox of notify.caseworker_email, team "caseworkers"). Three requests
make decide-whether-to-assess clocks: one overdue, one due on Monday 28
December 2026, one due on Monday 4 January 2027. The test moves the manual
clock, restarts notify with other settings, and reads the Maildir outbox
and the outcomes topic:

1. notify.caseworker.alerts = no, digest on: the 28 December digest comes,
   with a notification.digest.sent outcome (keyed "team:caseworkers", the
   provider id its outbox file), and no per-event alert although the
   deadline events fired.
2. A missed day: notify is stopped at 07:00 on 29 December, before the
   digest, and started at 06:00 on 31 December: exactly one catch-up digest
   (keyed by the latest missed day, 30 December, listing the deadlines as
   of the 31st and saying it is late), none for the 29th; a restart sends
   nothing more; the 31st's own digest still comes at 07:30.
3. The opposite settings, alerts on and the digest off: the alerts of the
   deadline events that fire go to the team's mailbox, and no digest comes.
4. ops read every outcome, the digest's too, and dead-lettered none of them
   and wrote nothing for a team.
"""
import email
import email.policy
import glob
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, main, wait_for  # noqa: E402
from test_slice import REQUEST  # noqa: E402

TEAM = "send-team@la.example"
DIGEST = "caseworker_digest"
ALERTS = ("caseworker_deadline_approaching", "caseworker_deadline_due",
          "caseworker_deadline_overdue")


def outbox(stack, template=None):
    out = []
    for path in sorted(glob.glob(os.path.join(stack.var, "outbox", "new", "*"))):
        with open(path, "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        m = {"to": msg["To"].addresses[0].addr_spec, "subject": str(msg["Subject"]),
             "template": msg["X-Sendpath-Template"], "case": msg["X-Sendpath-Case"],
             "body": msg.get_content(), "file": os.path.basename(path)}
        if template is None or m["template"] == template:
            out.append(m)
    return out


def alerts(stack):
    return [m for m in outbox(stack) if m["template"] in ALERTS]


def digest_outcomes(stack):
    return [e for e in stack.events("sendpath.notification-outcomes")
            if e["type"].startswith("notification.digest.")]


def open_cases(stack):
    cases = {}
    for key, given, received in (("a", "Sam", "2026-10-01"),    # due Thu 12 Nov: overdue
                                 ("b", "Kofi", "2026-11-16"),   # due Mon 28 Dec
                                 ("c", "Amara", "2026-11-23")):  # due Mon 4 Jan 2027
        body = dict(REQUEST, idempotency_key=f"catchup-{key}", received_date=received,
                    child={"given_name": given, "family_name": "Test",
                           "date_of_birth": "2016-03-02"})
        r = http("POST", stack.url("intake", "/v1/requests"), body)
        assert r.status == 201, r.body
        cases[key] = r.json()["case_id"]
    wait_for("three acknowledgements", lambda: len(outbox(stack, "request_received")) == 3)
    return cases


def restart_notify(stack, env=None):
    stack.stop_service("notify")
    stack.extra_env.update(env or {})
    stack.start_service("notify")
    stack.wait_ready("notify")


def fired(stack, kind, case):
    return [e for e in stack.events("sendpath.deadlines")
            if e["type"] == kind and e["subject"] == case]


def digest_without_alerts(stack, c):
    stack.set_clock("2026-12-28T07:40:00Z")
    d = wait_for("the 28 December digest", lambda: outbox(stack, DIGEST))
    assert len(d) == 1 and d[0]["to"] == TEAM, d
    assert d[0]["subject"] == \
        "SEND deadlines for the caseworkers team, Monday 28 December 2026", d[0]["subject"]
    assert "comes late" not in d[0]["body"], d[0]["body"]
    out = wait_for("its outcome", lambda: digest_outcomes(stack))
    e = out[0]
    assert len(out) == 1 and e["type"] == "notification.digest.sent", out
    assert e["subject"] == "team:caseworkers" and "case_id" not in e["data"], e
    assert e["data"]["provider_id"] == d[0]["file"], (e, d[0]["file"])
    assert (e["data"]["day"], e["data"]["catch_up"], e["data"]["attempt"]) == \
        ("2026-12-28", False, 1), e
    key = [m["key"] for m in stack.topic("sendpath.notification-outcomes")
           if '"notification.digest.sent"' in m["value"]]
    assert key == ["team:caseworkers"], key
    # the events an alert would follow are there, and notify read them
    wait_for("the due and overdue events", lambda: fired(stack, "deadline.due", c["b"])
             and fired(stack, "deadline.overdue", c["a"]))
    time.sleep(3)
    assert not alerts(stack), [m["template"] for m in alerts(stack)]


def missed_days(stack):
    stack.set_clock("2026-12-29T07:00:00Z")  # before the digest
    stack.stop_service("notify")
    stack.set_clock("2026-12-31T06:00:00Z")  # before the 31st's digest
    stack.start_service("notify")
    stack.wait_ready("notify")
    wait_for("the catch-up digest", lambda: len(outbox(stack, DIGEST)) == 2, timeout=30)
    m = [x for x in outbox(stack, DIGEST) if "comes late" in x["body"]]
    assert len(m) == 1, [x["subject"] for x in outbox(stack, DIGEST)]
    body = m[0]["body"]
    assert m[0]["subject"].endswith("Thursday 31 December 2026"), m[0]["subject"]
    assert "the one due on Wednesday 30 December 2026 at 07:30 was not sent" in body, body
    # listed as of the 31st: Kofi's 28 December is 3 days overdue
    assert "due Monday 28 December 2026, 3 days overdue" in body, body
    # the outbox file is written before the key is marked (after the outcome)
    wait_for("the 30th marked", lambda: stack.redis(
        "GET", "notify:digest:caseworkers:2026-12-30").startswith("sent "))
    assert stack.redis("EXISTS", "notify:digest:caseworkers:2026-12-29") == "0"
    out = wait_for("the catch-up's outcome", lambda: [
        e for e in digest_outcomes(stack) if e["data"]["day"] == "2026-12-30"])
    assert out[0]["data"]["catch_up"] is True and len(out) == 1, out
    restart_notify(stack)
    time.sleep(11)  # past the digest's 10-second poll
    assert len(outbox(stack, DIGEST)) == 2, "a second catch-up after a restart"
    stack.set_clock("2026-12-31T07:40:00Z")
    wait_for("the 31st's own digest", lambda: len(outbox(stack, DIGEST)) == 3)
    wait_for("the 31st marked", lambda: stack.redis(
        "GET", "notify:digest:caseworkers:2026-12-31").startswith("sent "))


def alerts_without_digest(stack, c):
    restart_notify(stack, {"SENDPATH_NOTIFY_CASEWORKER_ALERTS": "yes",
                           "SENDPATH_NOTIFY_DIGEST_ENABLED": "no"})
    stack.set_clock("2027-01-04T07:40:00Z")  # Amara's clock is due
    due = wait_for("the due alert", lambda: [
        m for m in outbox(stack, "caseworker_deadline_due") if m["case"] == c["c"]])
    assert len(due) == 1 and due[0]["to"] == TEAM, due
    assert "Decide whether to assess" in due[0]["body"], due[0]["body"]
    time.sleep(2)
    assert len(outbox(stack, DIGEST)) == 3, "a digest with notify.digest.enabled = no"
    assert stack.redis("EXISTS", "notify:digest:caseworkers:2027-01-04") == "0"


def ops_skipped_team_events(stack):
    topics = ("sendpath.case-events", "sendpath.deadlines",
              "sendpath.notification-outcomes")
    total = sum(len(stack.topic(t)) for t in topics)

    def metric(name):
        text = http("GET", stack.url("ops", "/metrics")).body
        m = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
        return float(m.group(1)) if m else 0.0

    wait_for("ops read every event", lambda: metric("sendpath_events_in_total") >= total)
    assert metric("sendpath_deadletters_total") == 0
    assert not [m for m in stack.topic("sendpath.deadletter")
                if "notification.digest." in m["value"]]
    assert stack.redis("KEYS", "ops:*team*") == ""
    sent = [json.loads(m["value"])["id"] for m in stack.topic("sendpath.notification-outcomes")
            if m["key"] == "team:caseworkers"]
    assert len(sent) == 3, sent


def test(stack):
    c = open_cases(stack)
    digest_without_alerts(stack, c)
    missed_days(stack)
    alerts_without_digest(stack, c)
    ops_skipped_team_events(stack)
    codes = stack.stop()
    assert all(code == 0 for code in codes.values()), f"unclean shutdown: {codes}"


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T06:00:00Z",
         services=("intake", "timers", "notify", "ops"),
         extra_env={
             "SENDPATH_NOTIFY_CASEWORKER_EMAIL": TEAM,
             "SENDPATH_NOTIFY_CASEWORKER_ALERTS": "no",
             "SENDPATH_NOTIFY_DIGEST_ENABLED": "yes",
             "SENDPATH_NOTIFY_DIGEST_TIME": "07:30",
         })
