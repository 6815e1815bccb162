"""The caseworkers' daily digest (docs/notifications.md, "The daily digest").

intake, timers and notify run as processes, with two teams: north (the
cases of school 123456) and south (school 300400, and every case whose
school no team lists: the default team). Four requests are received on
different dates, so on Monday 28 December 2026 one decision is overdue, one
is due that day and two are approaching. The test moves the manual clock
and reads the Maildir outbox:

- before 07:30 no digest; at 07:40 each team gets one, listing its own
  cases only, in the right section with the dates written long;
- a nudge of the clock the same day, a SIGKILL and restart of notify, and a
  replay of a deadline event send nothing more (notify:digest:<team>:<day>);
- the per-event alerts go to the case's team's mailbox;
- the next day each team gets one more, without the clock met meanwhile;
- /metrics shows the gauges (retry queue depth, waiting events, clocks).
"""
import email
import email.policy
import glob
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, main, wait_for  # noqa: E402
from test_slice import REQUEST  # noqa: E402

NORTH, SOUTH = "north-send@la.example", "south-send@la.example"
DIGEST = "caseworker_digest"


def request(key, given, family, received, school):
    body = dict(REQUEST, idempotency_key=f"digest-{key}", received_date=received,
                child={"given_name": given, "family_name": family,
                       "date_of_birth": "2016-03-02"})
    if school:
        body["school"] = dict(REQUEST["school"], urn=school)
    else:
        body.pop("school")
    return body


def outbox(stack, template=None, to=None):
    out = []
    for path in sorted(glob.glob(os.path.join(stack.var, "outbox", "new", "*"))):
        with open(path, "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        m = {"to": msg["To"].addresses[0].addr_spec, "subject": str(msg["Subject"]),
             "template": msg["X-Sendpath-Template"], "event": msg["X-Sendpath-Event"],
             "case": msg["X-Sendpath-Case"], "body": msg.get_content()}
        if (template is None or m["template"] == template) and (to is None or m["to"] == to):
            out.append(m)
    return out


def section(body, title):
    """The lines of one section of a digest: from its title to the blank line."""
    part = body.split(title, 1)[1]
    return part.split("\n\n", 1)[0].strip().splitlines()


def open_cases(stack):
    cases = {}
    for key, given, family, received, school in (
            ("a", "Amara", "Okafor", "2026-11-23", "123456"),   # due Mon 4 Jan 2027
            ("b", "Kofi", "Mensah", "2026-11-16", "123456"),    # due Mon 28 Dec 2026
            ("c", "Lola", "Reyes", "2026-11-20", "300400"),     # due Fri 1 Jan 2027
            ("d", "Sam", "Taylor", "2026-10-01", None)):        # due Thu 12 Nov 2026
        r = http("POST", stack.url("intake", "/v1/requests"),
                 request(key, given, family, received, school))
        assert r.status == 201, r.body
        cases[key] = r.json()["case_id"]
    # Each acknowledgement is sent on its clock's deadline.started, after the
    # clock is kept for the digest.
    wait_for("four acknowledgements", lambda: len(outbox(stack, "request_received")) == 4)
    return cases


def first_digests(stack, c):
    stack.set_clock("2026-12-28T07:20:00Z")  # 07:20 London: too early
    time.sleep(1.5)
    assert not outbox(stack, DIGEST), "a digest before notify.digest.time"
    stack.set_clock("2026-12-28T07:40:00Z")
    north = wait_for("the north digest", lambda: outbox(stack, DIGEST, NORTH))
    south = wait_for("the south digest", lambda: outbox(stack, DIGEST, SOUTH))
    n, s = north[0]["body"], south[0]["body"]
    assert north[0]["subject"] == "SEND deadlines for the north team, Monday 28 December 2026"
    assert section(n, "Overdue: 0") == ["- none"], n
    assert section(n, "Due today: 1") == [
        f"- {c['b']} Kofi Mensah: Decide whether to assess (reg 5(1)), "
        "due Monday 28 December 2026"], n
    assert section(n, "Due in the next 14 days: 1") == [
        f"- {c['a']} Amara Okafor: Decide whether to assess (reg 5(1)), "
        "due Monday 4 January 2027, in 7 days"], n
    # south: its school's case, and the case with no school (the default team)
    assert section(s, "Overdue: 1") == [
        f"- {c['d']} Sam Taylor: Decide whether to assess (reg 5(1)), "
        "due Thursday 12 November 2026, 46 days overdue"], s
    assert section(s, "Due today: 0") == ["- none"], s
    assert section(s, "Due in the next 14 days: 1") == [
        f"- {c['c']} Lola Reyes: Decide whether to assess (reg 5(1)), "
        "due Friday 1 January 2027, in 4 days"], s
    for case in (c["a"], c["b"]):
        assert case not in s, "a north case in the south digest"
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", n + s) and "((" not in n + s


def no_second_digest(stack, c):
    """A nudge, a replayed deadline event, a SIGKILL and restart: still one
    digest per team for the day."""
    stack.set_clock("2026-12-28T12:00:00Z")
    started = [m for m in stack.topic("sendpath.deadlines")
               if m["key"] == c["a"] and '"deadline.started"' in m["value"]]
    stack.produce("sendpath.deadlines", c["a"], started[0]["value"])
    time.sleep(1.5)
    stack.kill("notify")
    stack.start_service("notify")
    stack.wait_ready("notify")
    time.sleep(11)  # past the digest's 10-second poll after the restart
    assert len(outbox(stack, DIGEST, NORTH)) == 1 and len(outbox(stack, DIGEST, SOUTH)) == 1
    for team in ("north", "south"):
        v = stack.redis("GET", f"notify:digest:{team}:2026-12-28").strip()
        assert v.startswith("sent "), (team, v)


def alerts_by_team(stack, c):
    """The per-event alerts go to the case's team's mailbox."""
    due = wait_for("the due alert for Kofi", lambda: [
        m for m in outbox(stack, "caseworker_deadline_due") if m["case"] == c["b"]])
    assert [m["to"] for m in due] == [NORTH], due
    late = wait_for("the overdue alert for Sam", lambda: [
        m for m in outbox(stack, "caseworker_deadline_overdue") if m["case"] == c["d"]])
    assert {m["to"] for m in late} == {SOUTH}, late


def next_day(stack, c):
    """A decision to assess meets Kofi's clock: gone from the next digest."""
    r = http("POST", stack.url("intake", f"/v1/cases/{c['b']}/decision-to-assess"),
             {"date": "2026-12-28", "assess": True, "idempotency_key": "digest-assess-b"})
    assert r.status == 201, r.body
    wait_for("the decision letter", lambda: outbox(stack, "decision_to_assess"))
    # met drops Kofi's clock; the decision starts final_plan and no_plan_notice
    # (due in March and April: kept, not yet listed)
    wait_for("the met clock dropped", lambda: not any(
        v.startswith(f"{c['b']}|decision_to_assess|")
        for v in stack.redis("HVALS", "notify:clocks").splitlines()))
    wait_for("the new clocks kept", lambda: stack.redis("HLEN", "notify:clocks") == "5")
    stack.set_clock("2026-12-29T08:00:00Z")
    wait_for("the second north digest", lambda: len(outbox(stack, DIGEST, NORTH)) == 2)
    wait_for("the second south digest", lambda: len(outbox(stack, DIGEST, SOUTH)) == 2)
    n = [m for m in outbox(stack, DIGEST, NORTH) if "Tuesday 29 December 2026" in
         m["subject"]][0]["body"]
    assert c["b"] not in n, n
    assert section(n, "Due in the next 14 days: 1") == [
        f"- {c['a']} Amara Okafor: Decide whether to assess (reg 5(1)), "
        "due Monday 4 January 2027, in 6 days"], n


def gauges(stack):
    text = http("GET", stack.url("notify", "/metrics")).body

    def gauge(name):
        m = re.search(rf"^{name} (-?[0-9.e+]+)$", text, re.M)
        assert m, (name, text)
        return float(m.group(1))

    assert gauge("sendpath_notify_retry_queue_depth") == 0
    assert gauge("sendpath_notify_waiting_events") == 0
    assert gauge("sendpath_notify_waiting_cases") == 0
    assert gauge("sendpath_notify_digest_clocks") == 5
    # this process (restarted) sent the second day's two
    assert re.search(r"^sendpath_notify_digests_sent_total 2$", text, re.M), text


def test(stack):
    c = open_cases(stack)
    first_digests(stack, c)
    alerts_by_team(stack, c)
    no_second_digest(stack, c)
    next_day(stack, c)
    wait_for("the gauges read", lambda: "sendpath_notify_digest_clocks 5" in
             http("GET", stack.url("notify", "/metrics")).body, timeout=15)
    gauges(stack)
    codes = stack.stop()
    assert all(code == 0 for code in codes.values()), f"unclean shutdown: {codes}"


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T06:00:00Z",
         services=("intake", "timers", "notify"),
         extra_env={
             "SENDPATH_NOTIFY_TEAM_NORTH": NORTH,
             "SENDPATH_NOTIFY_SCHOOLS_NORTH": "123456, 100001",
             "SENDPATH_NOTIFY_TEAM_SOUTH": SOUTH,
             "SENDPATH_NOTIFY_SCHOOLS_SOUTH": "300400",
             "SENDPATH_NOTIFY_DEFAULT_TEAM": "south",
             "SENDPATH_NOTIFY_DIGEST_ENABLED": "yes",
             "SENDPATH_NOTIFY_DIGEST_TIME": "07:30",
         })
