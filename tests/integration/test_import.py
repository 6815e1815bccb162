"""`sendpath import`: an authority starts mid-flight.

A JSON-lines caseload (an open request already decided, a plan with its last
review, a SEN Support plan, and a line that is wrong) is loaded through the
CLI; the clocks come out as if sendpath had been there all along, and running
the same file again changes nothing.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import main, wait_for  # noqa: E402
from test_slice import REQUEST  # noqa: E402

PLAN = {"kind": "plan",
        "child": {"given_name": "Tomasz", "family_name": "Nowak", "date_of_birth": "2015-09-30"},
        "contact": {"name": "Ewa Nowak", "email": "ewa.nowak@example.org"},
        "school": {"urn": "100200", "name": "Brook Academy"},
        "plan_date": "2025-03-01", "last_review_date": "2026-02-10", "transfer_year": 2027}
SEN = {"kind": "sen_support",
       "child": {"given_name": "Lola", "family_name": "Reyes", "date_of_birth": "2019-01-20"},
       "contact": {"name": "Maria Reyes", "email": "maria.reyes@example.org"},
       "school": {"urn": "300400", "name": "Meadow Infants"},
       "outcomes_summary": "Speech and language targets", "date": "2026-09-15",
       "next_review_date": "2026-12-11"}


def caseload():
    request = dict(REQUEST, kind="request", received_date="2026-10-01",
                   child=dict(REQUEST["child"], given_name="Imported"))
    request.pop("idempotency_key")
    request["steps"] = [{"command": "decision_to_assess", "date": "2026-11-05",
                         "assess": True}]
    lines = [json.dumps(request), json.dumps(PLAN), json.dumps(SEN),
             json.dumps({"kind": "plan", "plan_date": "2025-01-01"}),  # no child: refused
             "# a comment line is skipped"]
    return "\n".join(lines) + "\n"


def run_import(stack, path):
    env = dict(os.environ, SENDPATH_INTAKE_URL=stack.url("intake", ""))
    return subprocess.run([os.path.join(stack.build, "tools/cli/sendpath"), "import", path],
                          capture_output=True, text=True, env=env, timeout=60)


def started(stack):
    return {(e["data"]["clock"], e["data"]["due_date"])
            for e in stack.events("sendpath.deadlines") if e["type"] == "deadline.started"}


def test(stack):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write(caseload())
    out = run_import(stack, f.name)
    assert out.returncode == 1, (out.returncode, out.stdout, out.stderr)  # one line refused
    assert "imported 3 cases and 1 later steps" in out.stdout, out.stdout
    assert "line 4: 400" in out.stderr and "child" in out.stderr, out.stderr
    expect = {("decision_to_assess", "2026-11-12"),  # 1 Oct + 6 weeks
              ("no_plan_notice", "2027-01-21"), ("final_plan", "2027-02-18"),
              ("annual_review", "2027-02-09"),       # 12 months from the last review
              ("phase_transfer", "2027-02-15"),
              ("sen_support_review", "2026-12-11")}
    got = wait_for("the imported clocks", lambda: (s if expect <= (s := started(stack))
                                                   else None))
    met = [e for e in stack.events("sendpath.deadlines") if e["type"] == "deadline.met"]
    assert [(m["data"]["clock"], m["data"]["on_time"]) for m in met] == [
        ("decision_to_assess", True)], met
    events_before = len(stack.events("sendpath.case-events"))
    again = run_import(stack, f.name)
    assert "imported 3 cases and 1 later steps" in again.stdout, again.stdout
    time.sleep(1)
    assert len(stack.events("sendpath.case-events")) == events_before, "a re-run published"
    assert started(stack) == got
    os.unlink(f.name)
    stack.stop()


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T10:00:00Z", services=("intake", "timers"))
