"""Seeds a stack with cases whose deadlines and SEN2 figures are known by
hand, for the ops tests (test_ops_*.py) and the dashboard's browser test.

Today is Tuesday 1 June 2027 (the manual clock). Every case goes in through
intake's HTTP API, as a case system would send it; timers, evidence and
notify then do what they do, and ops projects it all.

    case  school  what                                     decision_to_assess
    A     100001  received 2027-03-01, nothing decided      due 04-12, 50 days overdue
    B     100003  received 2027-04-19                       due 05-31, 1 day overdue
    C     100002  received 2027-04-26                       due 06-07, 4 working days left
    D     100001  received 2027-05-25                       due 07-06, open
    E     100003  received 2027-01-04, assessed 02-10 (37 d), plan 05-20 (136 d)
    F     100002  received 2026-11-02, assessed 12-30 (58 d), exception on
                  final_plan, plan 2027-04-30 (179 d)
    G     100001  received 2026-12-01, not assessed 2027-01-05 (35 d)
    H     100002  plan imported: last review 2026-02-15, review due 2027-02-14

Teams (ops.teams): North = 100001, 100002; South = 100003.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, wait_for  # noqa: E402

TODAY = "2027-06-01T09:00:00Z"
OPS_ENV = {"SENDPATH_OPS_TEAMS": "North=100001,100002;South=100003",
           "SENDPATH_OPS_GAUGE_INTERVAL_MS": "300"}
TOPICS = ("sendpath.case-events", "sendpath.deadlines", "sendpath.evidence-events",
          "sendpath.notification-outcomes")


def post(stack, path, body):
    return stack.create_intake(path, body)


def request(stack, given, family, urn, received):
    body = {"requester": {"type": "parent"},
            "child": {"given_name": given, "family_name": family, "date_of_birth": "2017-05-14"},
            "contact": {"name": f"Parent {family}", "email": f"{family.lower()}@example.org",
                        "preferred_channel": "email"},
            "school": {"urn": urn, "name": f"School {urn}",
                       "senco_email": f"senco{urn}@example.sch.uk"},
            "areas_of_need": ["communication_and_interaction"],
            "received_date": received, "consent_to_share": True}
    return post(stack, "/v1/requests", body)["case_id"]


def to_plan(stack, c, assessed, issue, draft, final):
    post(stack, f"/v1/cases/{c}/decision-to-assess", {"date": assessed, "assess": True})
    post(stack, f"/v1/cases/{c}/decision-to-issue", {"date": issue, "issue": True})
    post(stack, f"/v1/cases/{c}/draft-plan", {"date": draft})
    post(stack, f"/v1/cases/{c}/final-plan", {"date": final})


def seed(stack):
    """Returns {letter: case_id} once ops has applied every event."""
    stack.set_clock(TODAY)
    cases = {
        "A": request(stack, "Amara", "Okafor", "100001", "2027-03-01"),
        "B": request(stack, "Ben", "Hughes", "100003", "2027-04-19"),
        "C": request(stack, "Cara", "Ahmed", "100002", "2027-04-26"),
        "D": request(stack, "Dev", "Patel", "100001", "2027-05-25"),
        "E": request(stack, "Ella", "Jones", "100003", "2027-01-04"),
        "F": request(stack, "Finn", "Murphy", "100002", "2026-11-02"),
        "G": request(stack, "Gus", "Kowalski", "100001", "2026-12-01"),
    }
    to_plan(stack, cases["E"], "2027-02-10", "2027-04-01", "2027-04-05", "2027-05-20")
    f = cases["F"]
    post(stack, f"/v1/cases/{f}/decision-to-assess", {"date": "2026-12-30", "assess": True})
    post(stack, f"/v1/cases/{f}/exceptions", {"date": "2027-01-10", "clock": "final_plan",
                                              "reason": "exceptional_personal_circumstances"})
    post(stack, f"/v1/cases/{f}/decision-to-issue", {"date": "2027-02-01", "issue": True})
    post(stack, f"/v1/cases/{f}/draft-plan", {"date": "2027-02-05"})
    post(stack, f"/v1/cases/{f}/final-plan", {"date": "2027-04-30"})
    post(stack, f"/v1/cases/{cases['G']}/decision-to-assess",
         {"date": "2027-01-05", "assess": False, "reasons": "Needs met at SEN Support"})
    cases["H"] = post(stack, "/v1/plans", {
        "child": {"given_name": "Hana", "family_name": "Sato", "date_of_birth": "2014-02-02"},
        "contact": {"name": "Parent Sato", "email": "sato@example.org"},
        "school": {"urn": "100002", "name": "School 100002"},
        "plan_date": "2024-01-10", "last_review_date": "2026-02-15"})["case_id"]
    settle(stack, cases.values())
    return cases


def settle(stack, case_ids, timeout=90):
    """Waits until ops shows, for every case, every event published about it,
    and nothing more arrives for a moment."""
    case_ids = set(case_ids)

    def counts():
        ids = {}
        for t in TOPICS:
            for m in stack.topic(t):
                if m["key"] in case_ids:
                    ids.setdefault(m["key"], set()).add(json.loads(m["value"])["id"])
        return {c: len(v) for c, v in ids.items()}

    def shown():
        out = {}
        for c in case_ids:
            r = http("GET", stack.url("ops", f"/v1/cases/{c}"))
            out[c] = len(r.json()["timeline"]) if r.status == 200 else 0
        return out

    def settled():
        want = counts()
        if shown() != want:
            return None
        time.sleep(1.0)
        return want if counts() == want and shown() == want else None
    return wait_for("ops to apply every event", settled, timeout=timeout, interval=0.5)
