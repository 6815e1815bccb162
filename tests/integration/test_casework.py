"""Casework commands, over HTTP and over the commands topic.

One child walks from request to the first annual review decision over HTTP;
another is requested and decided over Kafka alone (kcat on sendpath.commands).
The case state machine refuses what does not fit (409, nothing published);
every command refuses a bad body (400 naming the field, or a dead letter with
the reason when it came by Kafka); and a repeat with the same idempotency key
publishes nothing new.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, main, wait_for  # noqa: E402
from test_slice import REQUEST  # noqa: E402



def post(stack, path, body, key=None):
    return stack.post_intake(path, body, key)


def case_events(stack, case_id):
    return [e for e in stack.events("sendpath.case-events") if e["subject"] == case_id]


def step(stack, case_id, command, body, expect_type, expect_state):
    r = post(stack, f"/v1/cases/{case_id}/{command}", body)
    assert r.status == 201, (command, r.status, r.body)
    out = r.json()
    assert out["event_type"] == expect_type and out["state"] == expect_state, (command, out)
    return out


def check_http_pathway(stack):
    r = post(stack, "/v1/requests", dict(REQUEST, received_date="2027-01-04"))
    assert r.status == 201, r.body
    c = r.json()["case_id"]
    step(stack, c, "decision-to-assess", {"date": "2027-02-10", "assess": True},
         "decision.assess", "assessing")
    step(stack, c, "decision-to-issue", {"date": "2027-04-01", "issue": True},
         "decision.issue_plan", "issuing")
    step(stack, c, "draft-plan", {"date": "2027-04-05"}, "draft_plan.served", "draft_served")
    step(stack, c, "school-consultations", {"date": "2027-04-06", "school_urn": "123456"},
         "school.consulted", "draft_served")
    step(stack, c, "school-responses", {"date": "2027-04-12", "school_urn": "123456",
                                        "agrees": True}, "school.responded", "draft_served")
    step(stack, c, "representations", {"date": "2027-04-15"}, "representations.received",
         "draft_served")
    step(stack, c, "final-plan", {"date": "2027-05-20", "transfer_year": 2028,
                                  "transfer_phase": "primary_to_secondary"},
         "final_plan.issued", "plan")
    step(stack, c, "reviews/scheduled", {"date": "2027-05-21", "meeting_date": "2028-03-01"},
         "review.scheduled", "plan")
    stack.set_clock("2028-03-20T09:00:00Z")
    step(stack, c, "reviews/held", {"date": "2028-03-01"}, "review.held", "plan")
    step(stack, c, "reviews/report", {"date": "2028-03-10"}, "review_report.received", "plan")
    last = step(stack, c, "reviews/decision", {"date": "2028-03-20", "outcome": "maintain"},
                "review.decision", "plan")
    evs = wait_for("the last event", lambda: (
        x if (x := case_events(stack, c)) and x[-1]["id"] == last["event_id"] else None))
    types = [e["type"] for e in evs]
    assert types == ["request.received", "decision.assess", "decision.issue_plan",
                     "draft_plan.served", "school.consulted", "school.responded",
                     "representations.received", "final_plan.issued", "review.scheduled",
                     "review.held", "review_report.received", "review.decision"], types
    evs = case_events(stack, c)
    assert evs[1]["data"]["request_received_date"] == "2027-01-04", evs[1]
    assert evs[9]["data"]["child_date_of_birth"] == "2017-05-14", evs[9]
    assert all(e["data"]["date"] for e in evs), "every case event carries its business date"
    # The timers see the pathway: the final plan met its clock, on time.
    met = wait_for("final_plan met", lambda: [
        e for e in stack.events("sendpath.deadlines")
        if e["subject"] == c and e["type"] == "deadline.met"
        and e["data"]["clock"] == "final_plan"])
    assert met[0]["data"]["on_time"] is True, met
    stack.set_clock("2027-06-01T09:00:00Z")
    return c


def check_state_machine(stack):
    r = post(stack, "/v1/requests", dict(REQUEST, received_date="2027-05-04",
                                         child=dict(REQUEST["child"], given_name="Bo")))
    c = r.json()["case_id"]
    before = len(case_events(stack, c))
    r = post(stack, f"/v1/cases/{c}/final-plan", {"date": "2027-05-20"})
    assert r.status == 409 and r.json()["errors"][0]["state"] == "received", (r.status, r.body)
    assert r.headers["Content-Type"].startswith("application/problem+json")
    r = post(stack, f"/v1/cases/{c}/withdraw", {"date": "2027-05-10"})
    assert r.status == 201 and r.json()["state"] == "withdrawn", r.body
    r = post(stack, f"/v1/cases/{c}/decision-to-assess", {"date": "2027-05-11", "assess": True})
    assert r.status == 409, (r.status, r.body)
    time.sleep(0.5)
    assert [e["type"] for e in case_events(stack, c)][before:] == ["request.withdrawn"]
    # Withdrawn: the child may be the subject of a new request.
    r = post(stack, "/v1/requests", dict(REQUEST, received_date="2027-05-12",
                                         child=dict(REQUEST["child"], given_name="Bo")))
    assert r.status == 201 and r.json()["case_id"] != c, r.body
    # A second open request for the same child names the open case.
    r2 = post(stack, "/v1/requests", dict(REQUEST, received_date="2027-05-13",
                                          child=dict(REQUEST["child"], given_name="Bo")))
    assert r2.status == 409 and r2.json()["errors"][0]["case_id"] == r.json()["case_id"]
    assert post(stack, "/v1/cases/c_00000000000000000000000000/withdraw",
                {"date": "2027-05-10"}).status == 404


def check_idempotent_command(stack, c):
    body = {"date": "2028-03-21"}
    stack.set_clock("2028-03-22T09:00:00Z")
    r1 = post(stack, f"/v1/cases/{c}/amendment-notice", body, key="amend-1")
    r2 = post(stack, f"/v1/cases/{c}/amendment-notice", body, key="amend-1")
    assert r1.status == r2.status == 201 and r1.json()["event_id"] == r2.json()["event_id"]
    assert r2.headers.get("Idempotent-Replayed") == "true"
    r3 = post(stack, f"/v1/cases/{c}/amendment-notice", {"date": "2028-03-20"}, key="amend-1")
    assert r3.status == 422, (r3.status, r3.body)
    time.sleep(0.5)
    assert sum(e["type"] == "amendment_notice.sent" for e in case_events(stack, c)) == 1
    stack.set_clock("2027-06-01T09:00:00Z")


BAD_BODIES = {
    "decision-to-assess": ({"assess": True}, "date"),
    "decision-to-issue": ({"date": "2027-05-01", "issue": False}, "reasons"),
    "draft-plan": ({"date": "2027-13-01"}, "date"),
    "school-consultations": ({"date": "2027-05-01", "school_urn": "12"}, "school_urn"),
    "school-responses": ({"date": "2027-05-01", "school_urn": "123456"}, "agrees"),
    "final-plan": ({"date": "2027-05-01", "transfer_year": 1999}, "transfer_year"),
    "exceptions": ({"date": "2027-05-01", "clock": "final_plan", "reason": "busy"}, "reason"),
    "close": ({"date": "2027-05-01", "reason": "bored"}, "reason"),
    "reviews/decision": ({"date": "2027-05-01", "outcome": "maybe"}, "outcome"),
    "withdraw": ({"date": "2099-01-01"}, "date"),
}


def check_bad_bodies(stack, c):
    before = len(case_events(stack, c))
    for path, (body, field) in BAD_BODIES.items():
        r = post(stack, f"/v1/cases/{c}/{path}", body)
        assert r.status == 400, (path, r.status, r.body)
        fields = [e["field"] for e in r.json()["errors"]]
        assert field in fields, (path, fields)
    r = http("POST", stack.url("intake", f"/v1/cases/{c}/draft-plan"), "{oops")
    assert r.status == 400 and r.json()["errors"][0]["field"] == "(body)"
    r = http("POST", stack.url("intake", f"/v1/cases/{c}/draft-plan"), {"date": "2027-05-01"})
    assert r.status == 400 and r.json()["errors"][0]["field"] == "idempotency_key", r.body
    time.sleep(0.5)
    assert len(case_events(stack, c)) == before, "a refused command published"


def kcat_command(stack, key, command):
    subprocess.run(["kcat", "-b", stack.bootstrap, "-P", "-t", "sendpath.commands",
                    "-K", "\t"], input=f"{key}\t{json.dumps(command)}\n", text=True,
                   check=True, timeout=10)


def check_kafka_door(stack):
    child = dict(REQUEST["child"], given_name="Kafkaesque")
    kcat_command(stack, "portal-1", dict(REQUEST, command="request", child=child,
                                         idempotency_key="kafka-req-1",
                                         received_date="2027-05-01"))
    ev = wait_for("request.received from the topic", lambda: [
        e for e in stack.events("sendpath.case-events")
        if e["type"] == "request.received"
        and e["data"]["child"]["given_name"] == "Kafkaesque"])
    c = ev[0]["subject"]
    kcat_command(stack, c, {"command": "decision_to_assess", "case_id": c,
                            "idempotency_key": "kafka-dta-1", "date": "2027-05-20",
                            "assess": False, "reasons": "Needs can be met at SEN Support"})
    wait_for("decision.not_assess", lambda: [
        e for e in case_events(stack, c) if e["type"] == "decision.not_assess"])
    # Refused over Kafka: each lands on the dead-letter topic with its reason,
    # and the commands after them are still processed.
    kcat_command(stack, c, {"command": "draft_plan", "case_id": c,
                            "idempotency_key": "kafka-bad-1"})
    kcat_command(stack, c, {"command": "final_plan", "case_id": c,
                            "idempotency_key": "kafka-bad-2", "date": "2027-05-21"})
    kcat_command(stack, c, {"command": "teleport", "case_id": c})
    subprocess.run(["kcat", "-b", stack.bootstrap, "-P", "-t", "sendpath.commands", "-K",
                    "\t"], input=f"{c}\tnot json at all\n", text=True, check=True)
    kcat_command(stack, c, {"command": "close", "case_id": c, "idempotency_key": "kafka-ok",
                            "date": "2027-05-22", "reason": "moved_away"})
    wait_for("case.closed after the refusals", lambda: [
        e for e in case_events(stack, c) if e["type"] == "case.closed"])
    out = subprocess.run(["kcat", "-b", stack.bootstrap, "-C", "-t", "sendpath.deadletter",
                          "-o", "beginning", "-e", "-q", "-f", "%h\n"],
                         capture_output=True, text=True, timeout=10).stdout
    reasons = [line for line in out.splitlines() if "x-service=intake" in line]
    assert len(reasons) == 4, reasons
    assert any("date: is required" in line for line in reasons), reasons
    assert any("409" in line and "not_assessing" in line for line in reasons), reasons
    assert any("not a known command" in line for line in reasons), reasons
    assert any("not a JSON object" in line for line in reasons), reasons


SEN_SUPPORT = {
    "child": {"given_name": "Priya", "family_name": "Shah", "date_of_birth": "2018-02-01"},
    "contact": {"name": "Anil Shah", "email": "anil.shah@example.org"},
    "school": {"urn": "654321", "name": "Riverside Primary",
               "senco_email": "senco@riverside.example.sch.uk"},
    "outcomes_summary": "Reading age up by one year; joins group work twice a week.",
    "date": "2027-01-11", "next_review_date": "2027-04-01",
}


def check_sen_support_to_request(stack):
    r = post(stack, "/v1/sen-support", SEN_SUPPORT)
    assert r.status == 201 and r.json()["state"] == "sen_support", (r.status, r.body)
    s = r.json()["case_id"]
    step(stack, s, "sen-support-review", {"date": "2027-03-30", "escalate": False,
                                          "next_review_date": "2027-07-01"},
         "sen_support.review_held", "sen_support")
    r = post(stack, f"/v1/cases/{s}/sen-support-review",
             {"date": "2027-05-28", "escalate": True}, key="escalate-1")
    assert r.status == 400 and "consent_to_share" in r.body, r.body
    body = {"date": "2027-05-28", "escalate": True, "consent_to_share": True}
    r = post(stack, f"/v1/cases/{s}/sen-support-review", body, key="escalate-2")
    assert r.status == 201, (r.status, r.body)
    linked = r.json()["linked_case_id"]
    again = post(stack, f"/v1/cases/{s}/sen-support-review", body, key="escalate-2")
    assert again.status == 201 and again.json()["linked_case_id"] == linked, again.body
    assert [e["type"] for e in case_events(stack, s)] == [
        "sen_support.registered", "sen_support.review_held", "sen_support.escalated"]
    req = wait_for("the linked request", lambda: case_events(stack, linked))
    assert len(req) == 1 and req[0]["type"] == "request.received", req
    d = req[0]["data"]
    assert d["linked_case_id"] == s and d["received_date"] == "2027-05-28", d
    assert d["requester"]["type"] == "school" and d["school"]["urn"] == "654321", d
    # The request's clock runs; the SEN Support review clock ended with the
    # escalation.
    wait_for("decision_to_assess for the linked request", lambda: [
        e for e in stack.events("sendpath.deadlines") if e["subject"] == linked
        and e["data"]["clock"] == "decision_to_assess"])
    ends = wait_for("SEN Support review clock cancelled", lambda: [
        e for e in stack.events("sendpath.deadlines") if e["subject"] == s
        and e["type"] == "deadline.cancelled"])
    assert ends[0]["data"]["clock"] == "sen_support_review", ends


def test(stack):
    c = check_http_pathway(stack)
    check_sen_support_to_request(stack)
    check_state_machine(stack)
    check_idempotent_command(stack, c)
    check_bad_bodies(stack, c)
    check_kafka_door(stack)
    codes = stack.stop()
    assert all(v == 0 for v in codes.values()), codes


if __name__ == "__main__":
    main(test, clock_start="2027-06-01T09:00:00Z", services=("intake", "timers"))
