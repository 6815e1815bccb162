"""The chaos checker checked: a synthetic clean run passes, and each kind of
loss, duplicate and stuck consumer the chaos run must catch is fed to it
and must be reported, with the right count. Without this, a chaos run that
printed "0 lost, 0 duplicated" could be a checker that looks at nothing.

Runs in a second; no stack.
"""
import copy
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from check import check, expected_points  # noqa: E402

EXPECT = {
    "clock": "decision_to_assess", "started": "2026-11-23",
    "points": [("approaching", 0), ("approaching", 1), ("due", 2), ("overdue", 3)],
    "addresses": {"parent": "parent@example.org", "caseworker": "team@council.example"},
}
TEMPLATES = {"started": ("parent", "request_received"),
             "approaching": ("caseworker", "caseworker_deadline_approaching"),
             "due": ("caseworker", "caseworker_deadline_due"),
             "overdue": ("caseworker", "caseworker_deadline_overdue")}


def clean_run(n=5):
    run = {"requests": {}, "case_events": [], "deadlines": [], "outcomes": [], "emails": [],
           "redis": {"intake_cases": [], "clock_records": {}, "due_left": 0},
           "lag": {"intake": 0, "timers": 0, "notify": 0}}
    for i in range(n):
        case = f"c_{i:026d}"
        run["requests"][f"k{i}"] = {"child": f"Child{i}", "answers": [case]}
        run["case_events"].append({"type": "request.received", "subject": case,
                                   "data": {"child": {"given_name": f"Child{i}"}}})
        run["redis"]["intake_cases"].append(case)
        run["redis"]["clock_records"][case] = "20261123|20270104|4|0"
        for (kind, seq), eid in expected_points(case, EXPECT).items():
            data = {} if seq is None else {"seq": seq}
            run["deadlines"].append({"type": "deadline." + kind, "subject": case, "id": eid,
                                     "data": data})
            role, template = TEMPLATES[kind]
            run["emails"].append((eid, EXPECT["addresses"][role], template, case))
            run["outcomes"].append({"type": "notification.sent",
                                    "data": {"event_id": eid, "template": template}})
    return run


def verdict(run):
    t = check(run, EXPECT)
    return t, t.counts


def test_clean():
    t, c = verdict(clean_run())
    assert not t.failed(), t.problems
    assert c["cases"]["sent"] == 5 and c["clocks"]["sent"] == 25 and c["emails"]["sent"] == 25, c
    assert all(r["lost"] == r["duplicated"] == 0 for r in c.values()), c


def test_kafka_request_needs_no_answer():
    run = clean_run()
    run["requests"]["k0"].update(answers=[], via="kafka")
    t, c = verdict(run)
    assert not t.failed(), t.problems
    run["requests"]["k0"]["via"] = "http"
    assert verdict(run)[0].failed(), "an HTTP request never answered 201 was not reported"


def test_repeat_same_id_is_not_a_duplicate():
    run = clean_run()
    run["deadlines"].append(copy.deepcopy(run["deadlines"][3]))
    t, c = verdict(run)
    assert not t.failed(), t.problems
    assert c["clocks"]["repeats"] == 1 and c["clocks"]["duplicated"] == 0, c


def fails(run, subject, what, n=1):
    t, c = verdict(run)
    assert t.failed(), f"not reported: {subject} {what}"
    assert c[subject][what] == n, (subject, what, c[subject])
    return t


def test_duplicate_case():
    run = clean_run()
    run["case_events"].append({"type": "request.received", "subject": "c_x",
                               "data": {"child": {"given_name": "Child2"}}})
    fails(run, "cases", "duplicated")


def test_retry_answered_with_another_case():
    run = clean_run()
    run["requests"]["k1"]["answers"].append("c_other")
    fails(run, "cases", "duplicated")


def test_lost_case():
    run = clean_run()
    del run["case_events"][4]
    fails(run, "cases", "lost")


def test_lost_deadline_event():
    run = clean_run()
    del run["deadlines"][7]
    t = fails(run, "clocks", "lost")
    assert any("emails" in p for p in t.problems)  # its email is stray now


def test_point_under_two_ids():
    run = clean_run()
    e = copy.deepcopy(run["deadlines"][2])
    e["id"] += "-again"
    run["deadlines"].append(e)
    fails(run, "clocks", "duplicated")


def test_duplicate_email():
    run = clean_run()
    run["emails"].append(run["emails"][10])
    fails(run, "emails", "duplicated")


def test_lost_email():
    run = clean_run()
    del run["emails"][11]
    fails(run, "emails", "lost")


def test_stray_email():
    run = clean_run()
    eid, addr, template, case = run["emails"][0]
    run["emails"].append((eid, "someone@else.example", template, case))
    fails(run, "emails", "stray")


def test_missing_outcome():
    run = clean_run()
    del run["outcomes"][6]
    t, _ = verdict(run)
    assert any(p.startswith("outcomes") for p in t.problems), t.problems


def test_stuck_consumer():
    run = clean_run()
    run["lag"]["notify"] = 12
    t, _ = verdict(run)
    assert any(p.startswith("consumers") for p in t.problems), t.problems


def test_clock_left_due_in_redis():
    run = clean_run()
    run["redis"]["due_left"] = 3
    run["redis"]["clock_records"]["c_" + "0" * 26] = "20261123|20270104|2|0"
    t, _ = verdict(run)
    assert sum(p.startswith("clocks") for p in t.problems) == 2, t.problems


def test_case_missing_from_redis():
    run = clean_run()
    run["redis"]["intake_cases"].pop()
    t, _ = verdict(run)
    assert any("missing from intake" in p for p in t.problems), t.problems


if __name__ == "__main__":
    tests = [(k, v) for k, v in sorted(globals().items()) if k.startswith("test_")]
    for name, fn in tests:
        fn()
        print(f"ok {name}")
    print(f"{len(tests)} passed, 0 failed")
