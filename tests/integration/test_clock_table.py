"""Every clock of the rules table, driven end to end from case events.

Events are put on the topics as intake and evidence will publish them (the
commands that produce them are HTTP and Kafka calls; here the events are sent
directly, so this test covers timers alone). For one child walked from request
to amended plan, one refused, one withdrawn and one on SEN Support, it checks
which clocks start, with which due dates, and how each ends.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import main, wait_for  # noqa: E402
from test_clocks import bulk_case_id  # noqa: E402

N = [0]


def event(case_id, type_, **data):
    N[0] += 1
    return json.dumps({
        "specversion": "1.0", "id": f"{case_id}/{type_}/{N[0]}", "source": "/sendpath/test",
        "type": type_, "time": "2026-11-23T10:00:00.000Z", "subject": case_id,
        "datacontenttype": "application/json", "data": dict(case_id=case_id, **data)})


def send(stack, case_id, type_, topic="sendpath.case-events", **data):
    stack.produce(topic, case_id, event(case_id, type_, **data))


def clocks(stack, case_id, last_clock, last_type, also=()):
    """{(clock, qualifier): [(type, due_date, on_time)]} once the event that
    the last input produces (last_type on last_clock) is on the topic, and
    each of also ((clock, qualifier, type)): timers takes the case's events
    and its evidence events from two topics, in either order, so the last
    input of each must be waited for."""
    def seen(evs, clock, qualifier, type_):
        return any(x["type"] == type_ and x["data"]["clock"] == clock and
                   (qualifier is None or x["data"].get("qualifier") == qualifier)
                   for x in evs)

    def ready():
        evs = [x for x in stack.events("sendpath.deadlines") if x["subject"] == case_id]
        done = seen(evs, last_clock, None, last_type) and all(seen(evs, *a) for a in also)
        return evs if done else None
    evs = wait_for(f"{last_type} of {last_clock} for {case_id}", ready, timeout=20)
    out = {}
    for e in evs:
        d = e["data"]
        out.setdefault((d["clock"], d.get("qualifier")), []).append(
            (e["type"], d["due_date"], d.get("on_time")))
    return out


def check_full_pathway(stack):
    c = bulk_case_id(1)
    send(stack, c, "request.received", date="2026-11-23", received_date="2026-11-23")
    send(stack, c, "decision.assess", date="2026-12-30", request_received_date="2026-11-23")
    for adviser, day in (("educational", "2027-01-04"), ("medical", "2027-01-05")):
        send(stack, c, "advice.requested", topic="sendpath.evidence-events", date=day,
             adviser=adviser)
    send(stack, c, "advice.received", topic="sendpath.evidence-events", date="2027-02-10",
         adviser="educational")
    send(stack, c, "advice.received", topic="sendpath.evidence-events", date="2027-02-20",
         adviser="medical")
    send(stack, c, "decision.issue_plan", date="2027-03-01")
    send(stack, c, "draft_plan.served", date="2027-03-08")
    send(stack, c, "school.consulted", date="2027-03-09", school_urn="123456")
    send(stack, c, "school.responded", date="2027-03-20", school_urn="123456")
    send(stack, c, "representations.received", date="2027-03-22")
    send(stack, c, "final_plan.issued", date="2027-04-01", transfer_year=2028)
    send(stack, c, "review.held", date="2028-01-10", child_date_of_birth="2017-05-14")
    send(stack, c, "review_report.received", date="2028-01-20")
    send(stack, c, "review.decision", date="2028-02-01", transfer_year=2028)
    send(stack, c, "amendment_notice.sent", date="2028-02-02")
    send(stack, c, "amended_plan.issued", date="2028-02-14")
    got = clocks(stack, c, "amended_plan", "deadline.met",
                 also=[("advice", "educational", "deadline.met"),
                       ("advice", "medical", "deadline.met")])
    started = {k: v[0][1] for k, v in got.items()}
    assert started == {
        ("decision_to_assess", None): "2027-01-04",   # received + 6 weeks
        ("advice", "educational"): "2027-02-15",      # requested + 6 weeks
        ("advice", "medical"): "2027-02-16",
        ("no_plan_notice", None): "2027-03-15",       # received + 16 weeks
        ("final_plan", None): "2027-04-12",           # received + 20 weeks
        ("draft_response", None): "2027-03-22",       # served + 14 (day 1 = served)
        ("school_consultation", "123456"): "2027-03-24",
        ("annual_review", None): "2028-03-31",        # made 1 Apr: by 31 Mar next year
        ("phase_transfer", None): "2028-02-15",
        ("review_report", None): "2028-01-24",
        ("review_decision", None): "2028-02-07",
        ("amended_plan", None): "2028-03-29",
    }, started
    ends = {k: [(t, ot) for t, _, ot in v if t in ("deadline.met", "deadline.cancelled")]
            for k, v in got.items()}
    assert ends[("decision_to_assess", None)] == [("deadline.met", True)]
    assert ends[("advice", "educational")] == [("deadline.met", True)]
    assert ends[("advice", "medical")] == [("deadline.met", False)]  # due 16 Feb
    assert ends[("no_plan_notice", None)] == [("deadline.met", True)]
    assert ends[("final_plan", None)] == [("deadline.met", True)]
    assert ends[("draft_response", None)] == [("deadline.met", True)]
    assert ends[("school_consultation", "123456")] == [("deadline.met", True)]
    assert ends[("review_report", None)] == [("deadline.met", True)]
    assert ends[("review_decision", None)] == [("deadline.met", True)]
    assert ends[("amended_plan", None)] == [("deadline.met", True)]
    assert ends[("phase_transfer", None)] == [("deadline.met", True)]
    # The review met the first annual review clock and started the next one.
    ar = got[("annual_review", None)]
    assert ar[0][0] == "deadline.started" and ("deadline.met", "2028-03-31", True) in ar, ar
    assert ar[-1] == ("deadline.started", "2029-01-09", None), ar  # 12 months from review


def check_refusal_and_exception(stack):
    c = bulk_case_id(2)
    send(stack, c, "request.received", date="2027-01-31", received_date="2027-01-31")
    send(stack, c, "exception.recorded", date="2027-02-10", clock="decision_to_assess",
         reason="absence_from_area")
    send(stack, c, "decision.not_assess", date="2027-03-20")
    got = clocks(stack, c, "mediation_window", "deadline.started")
    dta = [e for e in stack.events("sendpath.deadlines")
           if e["subject"] == c and e["data"]["clock"] == "decision_to_assess"]
    assert [e["type"] for e in dta] == ["deadline.started", "deadline.excepted",
                                        "deadline.met"], dta
    assert dta[2]["data"]["excepted"] is True, dta[2]
    assert dta[2]["data"]["exception_reason"] == "absence_from_area"
    assert dta[2]["data"]["on_time"] is False
    # 2 months from 20 March; informational windows carry the last date.
    assert got[("appeal_window", None)][0][1] == "2027-05-20", got
    assert got[("mediation_window", None)][0][1] == "2027-05-20", got


def check_withdrawal_cancels_everything(stack):
    c = bulk_case_id(3)
    send(stack, c, "request.received", date="2026-11-23", received_date="2026-11-23")
    send(stack, c, "decision.assess", date="2026-12-01", request_received_date="2026-11-23")
    send(stack, c, "advice.requested", topic="sendpath.evidence-events", date="2026-12-02",
         adviser="psychological")
    wait_for("the advice clock", lambda: [
        e for e in stack.events("sendpath.deadlines") if e["subject"] == c
        and e["data"]["clock"] == "advice"])
    send(stack, c, "request.withdrawn", date="2027-01-15")
    evs = wait_for("cancellations", lambda: (
        x if len(x := [e for e in stack.events("sendpath.deadlines")
                       if e["subject"] == c and e["type"] == "deadline.cancelled"]) >= 3
        else None))
    assert sorted(e["data"]["clock"] for e in evs) == ["advice", "final_plan",
                                                       "no_plan_notice"], evs
    assert all(e["data"]["cancelled_on"] == "2027-01-15" for e in evs)
    # A start that arrives after the withdrawal (another topic, read later)
    # opens no clock on the withdrawn case. timers reads a partition in
    # order, so once a marker's advice clock behind it on the same
    # partition has started, the late start has been read.
    send(stack, c, "advice.requested", topic="sendpath.evidence-events", date="2027-01-16",
         adviser="medical")
    marker = same_partition_marker(stack, c, "sendpath.evidence-events")
    wait_for("the marker's advice clock, behind the late start", lambda: [
        e for e in stack.events("sendpath.deadlines") if e["subject"] == marker
        and e["data"]["clock"] == "advice"])
    late = [e for e in stack.events("sendpath.deadlines") if e["subject"] == c
            and e["data"].get("qualifier") == "medical"]
    assert not late, late


def same_partition_marker(stack, case_id, topic):
    """A case of its own whose advice.requested lands on topic after
    case_id's last message, in the same partition; its id."""
    part = {m["key"]: m["partition"] for m in stack.topic(topic)}[case_id]
    for i in range(100, 200):
        marker = bulk_case_id(i)
        send(stack, marker, "advice.requested", topic=topic, date="2027-01-16",
             adviser="psychological")
        if {m["key"]: m["partition"] for m in stack.topic(topic)}[marker] == part:
            return marker
    raise AssertionError(f"no marker landed on partition {part} of {topic}")


def check_sen_support(stack):
    c = bulk_case_id(4)
    send(stack, c, "sen_support.registered", date="2026-11-23", next_review_date="2027-02-12")
    send(stack, c, "sen_support.review_held", date="2027-02-10", next_review_date="2027-05-21")
    expect = [("deadline.started", "2027-02-12", None),
              ("deadline.met", "2027-02-12", True),
              ("deadline.started", "2027-05-21", None)]
    ssr = wait_for("the SEN Support review met and restarted", lambda: (
        x if (x := clocks(stack, c, "sen_support_review", "deadline.met")
              [("sen_support_review", None)]) == expect else None), timeout=10)
    assert ssr == expect, ssr


def test(stack):
    check_full_pathway(stack)
    check_refusal_and_exception(stack)
    check_withdrawal_cancels_everything(stack)
    check_sen_support(stack)
    stack.stop()


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T10:00:00Z", services=("timers",))
