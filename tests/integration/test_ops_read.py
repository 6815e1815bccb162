"""The ops read API over a seeded stack (tests/integration/ops_seed.py):
deadline lists (state, sorting, filters, paging, 400s), the case view, the
SEN2 timeliness figures worked out by hand (JSON and CSV), the
sendpath_deadlines gauges, and the CLI's tables over the same API.
"""
import csv
import io
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, main, wait_for  # noqa: E402
from ops_seed import OPS_ENV, TODAY, seed  # noqa: E402


def get(stack, path, **headers):
    r = http("GET", stack.url("ops", path), headers=headers)
    assert r.status == 200, (path, r.status, r.body)
    return r.json()


def ids(rows):
    return [r["case_id"] for r in rows]


def check_lists(stack, c):
    dta = "/v1/deadlines?clock=decision_to_assess"
    over = get(stack, dta + "&state=overdue")
    assert over["as_of"] == "2027-06-01", over
    assert ids(over["rows"]) == [c["A"], c["B"]], over["rows"]
    a, b = over["rows"]
    assert (a["due_date"], a["days_overdue"], a["team"], a["school_urn"], a["child"]) == \
        ("2027-04-12", 50, "North", "100001", "A.O."), a
    assert (b["due_date"], b["days_overdue"], b["team"], b["school_urn"]) == \
        ("2027-05-31", 1, "South", "100003"), b
    assert "Okafor" not in str(over), "lists carry initials, not names"
    appr = get(stack, dta + "&state=approaching")["rows"]
    assert ids(appr) == [c["C"]] and appr[0]["working_days_left"] == 4, appr
    opn = get(stack, dta + "&state=open")["rows"]
    assert ids(opn) == [c["D"]] and opn[0]["due_date"] == "2027-07-06", opn
    # Every state at once, most overdue first; the met clocks of E, F, G are gone.
    every = get(stack, dta)
    assert ids(every["rows"]) == [c["A"], c["B"], c["C"], c["D"]], every["rows"]
    assert every["counts"]["decision_to_assess"] == {"open": 1, "approaching": 1, "overdue": 2}
    # Filters: team, school, and both with a clock.
    assert ids(get(stack, dta + "&team=North")["rows"]) == [c["A"], c["C"], c["D"]]
    assert ids(get(stack, dta + "&team=South")["rows"]) == [c["B"]]
    assert ids(get(stack, dta + "&school=100001")["rows"]) == [c["A"], c["D"]]
    assert get(stack, dta + "&team=unassigned")["rows"] == []
    # The whole overdue list: sorted by days overdue, every clock.
    allover = get(stack, "/v1/deadlines?state=overdue&limit=500")["rows"]
    days = [r["days_overdue"] for r in allover]
    assert days == sorted(days, reverse=True) and days[0] >= 50, days
    review = [r for r in allover if r["clock"] == "annual_review"]
    assert [(r["case_id"], r["due_date"], r["days_overdue"]) for r in review] == \
        [(c["H"], "2027-02-14", 107)], review
    assert {r["clock"] for r in allover} >= {"decision_to_assess", "annual_review", "advice"}
    print(f"lists: {len(allover)} overdue deadlines, filters and states as worked out by hand",
          file=sys.stderr)


def check_paging(stack, c):
    dta = "/v1/deadlines?clock=decision_to_assess"
    p1 = get(stack, dta + "&limit=1")
    assert ids(p1["rows"]) == [c["A"]] and p1["total"] == 4 and p1["next_cursor"], p1
    seen, page = ids(p1["rows"]), p1
    while page["next_cursor"]:
        page = get(stack, dta + "&limit=1&cursor=" + page["next_cursor"])
        seen += ids(page["rows"])
    assert seen == [c["A"], c["B"], c["C"], c["D"]], seen
    assert ids(get(stack, dta + "&limit=2&page=2")["rows"]) == [c["C"], c["D"]]
    assert get(stack, dta + "&limit=2&page=3")["rows"] == []


def check_refusals(stack):
    bad = [("/v1/deadlines?state=late", "state"), ("/v1/deadlines?limit=0", "limit"),
           ("/v1/deadlines?limit=ten", "limit"), ("/v1/deadlines?limit=100000", "limit"),
           ("/v1/deadlines?school=12", "school"), ("/v1/deadlines?team=Nowhere", "team"),
           ("/v1/deadlines?clock=Final%20Plan", "clock"), ("/v1/deadlines?page=0", "page"),
           ("/v1/deadlines?cursor=nonsense", "cursor"),
           ("/v1/deadlines?page=2&cursor=2027-01-01~x", "cursor"),
           ("/v1/stats/timeliness?to=2027-01-01", "from"),
           ("/v1/stats/timeliness?from=2027-13-01&to=2027-12-31", "from"),
           ("/v1/stats/timeliness?from=2027-02-01&to=2027-01-01", "to"),
           ("/v1/stats/timeliness?from=2000-01-01&to=2027-01-01", "to"),
           ("/v1/stats/timeliness?from=2027-01-01&to=2027-02-01&format=xml", "format"),
           ("/v1/cases/nonsense", "id")]
    for path, field in bad:
        r = http("GET", stack.url("ops", path))
        assert r.status == 400, (path, r.status, r.body)
        assert r.headers["Content-Type"].startswith("application/problem+json"), path
        assert r.json()["errors"][0]["field"] == field, (path, r.body)


def check_case(stack, c):
    f = get(stack, f"/v1/cases/{c['F']}")
    assert (f["status"], f["received_date"], f["decided_on"], f["issued_on"], f["team"]) == \
        ("plan", "2026-11-02", "2026-12-30", "2027-04-30", "North"), f
    assert f["exceptions"] == {"final_plan": "exceptional_personal_circumstances"}, f
    dates = [t["business_date"] for t in f["timeline"]]
    assert dates == sorted(dates), "timeline oldest first"
    types = [t["type"] for t in f["timeline"]]
    for t in ("request.received", "decision.assess", "exception.recorded", "final_plan.issued",
              "deadline.met", "advice.requested"):
        assert t in types, (t, types)
    assert f["timeline"][0]["type"] == "request.received" and dates[0] == "2026-11-02"
    assert f["notifications"], "notify's outcomes are on the case"
    assert all(n["outcome"] == "sent" for n in f["notifications"]), f["notifications"]
    assert {"request_received", "final_plan_issued"} <= {n["template"] for n in f["notifications"]}
    # F's plan was issued: its annual review is open, and no advice is asked any more? The
    # advice asked on assessment was never returned: all of it is missing.
    asked = {a["adviser"] for a in f["advice"]}
    assert asked and set(f["missing_advice"]) == asked, f["advice"]
    assert [k["clock"] for k in f["open_clocks"] if k["clock"] == "annual_review"]
    a = get(stack, f"/v1/cases/{c['A']}")
    [dta] = [k for k in a["open_clocks"] if k["clock"] == "decision_to_assess"]
    assert (dta["state"], dta["days_overdue"]) == ("overdue", 50), dta
    assert a["child_name"] == "Amara Okafor", "the case page names the child"
    assert http("GET", stack.url("ops", "/v1/cases/c_00000000000000000000000000")).status == 404


# By hand (see ops_seed.py): decisions E 37 d, F 58 d, G 35 d; plans E 136 d,
# F 179 d (exception); H's review due 2027-02-14 is still open.
TOTAL = {"requests_decided": 3, "decided_within_6_weeks": 2, "pct_decided_within_6_weeks": 66.7,
         "plans_issued": 2, "issued_within_20_weeks": 1,
         "pct_within_20_weeks_including_exceptions": 50,
         "plans_issued_excluding_exceptions": 1, "issued_within_20_weeks_excluding_exceptions": 1,
         "pct_within_20_weeks_excluding_exceptions": 100, "mean_weeks_to_issue": 22.5,
         "plans_over_52_weeks": 0, "annual_reviews_overdue": 1}


def check_stats(stack):
    st = get(stack, "/v1/stats/timeliness?from=2026-11-01&to=2027-06-30")
    assert st["total"] == TOTAL, st["total"]
    months = {m["month"]: m for m in st["months"]}
    assert list(months) == ["2026-11", "2026-12", "2027-01", "2027-02", "2027-03", "2027-04",
                            "2027-05", "2027-06"], list(months)
    assert months["2026-12"]["requests_decided"] == 1 and \
        months["2026-12"]["pct_decided_within_6_weeks"] == 0
    assert months["2027-01"]["decided_within_6_weeks"] == 1
    assert months["2027-02"]["annual_reviews_overdue"] == 1
    assert months["2027-04"]["plans_issued"] == 1 and \
        months["2027-04"]["pct_within_20_weeks_excluding_exceptions"] is None
    assert months["2027-05"]["pct_within_20_weeks_excluding_exceptions"] == 100
    assert months["2027-03"]["pct_decided_within_6_weeks"] is None
    # A period with E's plan alone.
    may = get(stack, "/v1/stats/timeliness?from=2027-05-01&to=2027-05-31")["total"]
    assert (may["plans_issued"], may["mean_weeks_to_issue"], may["requests_decided"]) == \
        (1, 19.4, 0), may
    # CSV: the same figures, by Accept or by format.
    r1 = http("GET", stack.url("ops", "/v1/stats/timeliness?from=2026-11-01&to=2027-06-30"),
              headers={"Accept": "text/csv"})
    r2 = http("GET", stack.url("ops",
                               "/v1/stats/timeliness?from=2026-11-01&to=2027-06-30&format=csv"))
    assert r1.status == r2.status == 200 and r1.body == r2.body, (r1.status, r2.status)
    assert r1.headers["Content-Type"].startswith("text/csv"), r1.headers["Content-Type"]
    rows = list(csv.DictReader(io.StringIO(r1.body)))
    assert [r["period"] for r in rows] == ["total"] + list(months), rows
    total = rows[0]
    for k, v in TOTAL.items():
        assert float(total[k]) == float(v), (k, total[k], v)
    assert rows[6]["pct_within_20_weeks_excluding_exceptions"] == "", rows[6]
    return r1.body


def metric(stack, clock, state):
    text = http("GET", stack.url("ops", "/metrics")).body
    line = f'sendpath_deadlines{{clock="{clock}",state="{state}"}} '
    for ln in text.splitlines():
        if ln.startswith(line):
            return float(ln[len(line):])
    return None


def check_gauges(stack):
    want = {"overdue": 2, "approaching": 1, "open": 1}
    wait_for("deadline gauges", lambda: all(
        metric(stack, "decision_to_assess", s) == n for s, n in want.items()), timeout=20)
    assert metric(stack, "annual_review", "overdue") == 1
    # Time moves on a week: C is overdue too, D approaching.
    stack.set_clock("2027-06-08T09:00:00Z")
    want = {"overdue": 3, "approaching": 0, "open": 1}
    wait_for("gauges a week on", lambda: all(
        metric(stack, "decision_to_assess", s) == n for s, n in want.items()), timeout=20)
    stack.set_clock(TODAY)


def cli(stack, *args):
    env = dict(os.environ, SENDPATH_OPS_URL=stack.url("ops", ""))
    return subprocess.run([os.path.join(stack.build, "tools/cli/sendpath"), *args],
                          capture_output=True, text=True, env=env, timeout=30)


def check_cli(stack, c, csv_body):
    out = cli(stack, "overdue", "--clock", "decision_to_assess")
    assert out.returncode == 0, (out.returncode, out.stdout, out.stderr)
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["CASE", "CHILD", "CLOCK"], lines[0]
    assert [ln.split()[0] for ln in lines[1:-1]] == [c["A"], c["B"]], out.stdout
    assert "50 days overdue" in lines[1] and "North" in lines[1], lines[1]
    assert lines[-1] == "2 deadlines", lines[-1]
    out = cli(stack, "overdue", "--clock", "decision_to_assess", "--state", "all", "--team", "North")
    assert [ln.split()[0] for ln in out.stdout.splitlines()[1:-1]] == [c["A"], c["C"], c["D"]]
    out = cli(stack, "overdue", "--state", "late")
    assert out.returncode == 1 and "state" in out.stderr, (out.returncode, out.stderr)
    out = cli(stack, "stats", "--from", "2026-11-01", "--to", "2027-06-30", "--csv")
    # Python reads the CLI in text mode, which turns CSV's CRLF into LF.
    assert out.returncode == 0 and out.stdout == csv_body.replace("\r\n", "\n"), out.stdout
    out = cli(stack, "stats", "--from", "2026-11-01", "--to", "2027-06-30")
    total = [ln for ln in out.stdout.splitlines() if ln.startswith("total")][0].split()
    assert total[1:4] == ["3", "66.7%", "2"] and total[4] == "100.0%" and total[6] == "22.5", total
    assert cli(stack, "stats", "--from", "2026-11-01").returncode == 2


def test(stack):
    c = seed(stack)
    check_lists(stack, c)
    check_paging(stack, c)
    check_refusals(stack)
    check_case(stack, c)
    csv_body = check_stats(stack)
    check_gauges(stack)
    check_cli(stack, c, csv_body)
    codes = stack.stop()
    assert all(v == 0 for v in codes.values()), f"unclean shutdown: {codes}"


if __name__ == "__main__":
    main(test, clock_start=TODAY, extra_env=OPS_ENV)
