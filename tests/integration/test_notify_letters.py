"""The letters and emails of the pathway, end to end (docs/notifications.md).

intake, evidence, timers and notify run as processes; the test walks three
cases over HTTP and reads what notify wrote to the Maildir outbox
(<var>/outbox/new, the default channel):

- A (a "no"): request, decision not to assess with reasons. The parent gets
  the acknowledgement, then the decision letter with the reasons and the last
  days to contact mediation and to appeal: the due dates of the
  appeal_window and mediation_window clocks, decision date + 2 months.
- B (the plan): request, decision to assess (the parent hears the 16- and
  20-week dates), advice asked of six advisers (one letter to the parent
  listing the professionals; a request to each professional with the due
  date: the school's SENCO, health, educational psychology, social care),
  reminders and overdue notices as the clock moves, the draft plan and its
  15 days, consultation with the child's school (a second school, whose
  SENCO notify does not know, is skipped and counted), the final plan with
  its first review date and last day to appeal, the phase transfer letter, a
  review invitation and the decision after it, an amendment notice and the
  amended plan; then case A is closed.
- C (SEN Support): the parent's reminder of the agreed review.
- Mediation certificates (record_mediation_certificate): on A's "no" over
  HTTP (the certificate's 1 month is later) and on B's final plan over the
  commands topic (the decision's 2 months is later), each letter giving the
  later date; a repeat with the same key is replayed, not sent again; a
  certificate about a decision the case has not had is refused with 409
  naming "about", one dated before its decision with 400 naming
  "decision_date", one on a SEN Support case with 409 naming "state".

The caseworkers' mailbox (notify.caseworker_email) gets the approaching, due
and overdue alerts. Every message exists exactly once, with no "((" left and
every date written long; replaying events does not write any of them again.
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
SENCO = REQUEST["school"]["senco_email"]
AMARA_PARENT = REQUEST["contact"]["email"]
KOFI_PARENT = "efua.mensah@example.org"
LOLA_PARENT = "maria.reyes@example.org"
PROFESSIONALS = {  # adviser -> where evidence sends the request (its defaults)
    "educational": SENCO,
    "medical": "health-send@nhs.example",
    "psychological": "educational-psychology@la.example",
    "social_care": "social-care@la.example",
}
REASONS = ("Amara's needs can be met through SEN Support at Hillside Primary "
           "School. The school has a plan with clear targets and (( extra help.")

KOFI = dict(REQUEST, idempotency_key="letters-kofi",
            child={"given_name": "Kofi", "family_name": "Mensah",
                   "date_of_birth": "2016-09-01"},
            contact={"name": "Efua Mensah", "email": KOFI_PARENT,
                     "preferred_channel": "email"})
LOLA = {
    "idempotency_key": "letters-lola",
    "child": {"given_name": "Lola", "family_name": "Reyes", "date_of_birth": "2019-01-20"},
    "contact": {"name": "Maria Reyes", "email": LOLA_PARENT},
    "school": {"urn": "300400", "name": "Meadow Infants",
               "senco_email": "senco@meadow.example.sch.uk"},
    "outcomes_summary": "Speech and language targets",
    "date": "2026-11-23", "next_review_date": "2027-01-15",
}


def post(stack, path, body):
    return stack.create_intake(path, body)


def outbox(stack):
    """Every message in the Maildir, parsed: to, subject, template, event, body."""
    out = []
    for path in sorted(glob.glob(os.path.join(stack.var, "outbox", "new", "*"))):
        with open(path, "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        out.append({"to": msg["To"].addresses[0].addr_spec, "subject": str(msg["Subject"]),
                    "template": msg["X-Sendpath-Template"], "event": msg["X-Sendpath-Event"],
                    "case": msg["X-Sendpath-Case"], "body": msg.get_content(), "file": path})
    return out


def sent(stack, template, to=None, case=None):
    return [m for m in outbox(stack) if m["template"] == template
            and (to is None or m["to"] == to) and (case is None or m["case"] == case)]


def one(stack, template, to, case=None, timeout=30.0):
    """Waits for the message; fails if there is more than one."""
    msgs = wait_for(f"{template} to {to}", lambda: sent(stack, template, to, case),
                    timeout=timeout)
    time.sleep(0.3)  # a duplicate would come right behind it
    msgs = sent(stack, template, to, case)
    assert len(msgs) == 1, [(m["subject"], m["event"]) for m in msgs]
    return msgs[0]


def check_clean(stack):
    """No placeholder left, no YYYY-MM-DD date, one file per (event, template,
    recipient)."""
    seen = {}
    for m in outbox(stack):
        for text in (m["subject"], m["body"]):
            assert "((" not in text, (m["template"], text)
            assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), (m["template"], text)
        key = (m["event"], m["template"], m["to"])
        assert key not in seen, f"sent twice: {key}"
        seen[key] = m["file"]
    return len(seen)


def case_not_assessed(stack):
    r = http("POST", stack.url("intake", "/v1/requests"), dict(REQUEST, idempotency_key="letters-amara"))
    assert r.status == 201, r.body
    a = r.json()["case_id"]
    ack = one(stack, "request_received", AMARA_PARENT, a)
    assert "Monday 4 January 2027" in ack["body"], ack["body"]
    return a


def decide_not_to_assess(stack, a):
    post(stack, f"/v1/cases/{a}/decision-to-assess",
         {"date": "2026-12-10", "assess": False, "reasons": REASONS})
    m = one(stack, "decision_not_to_assess", AMARA_PARENT, a)
    body = m["body"]
    assert m["subject"] == "Our decision about an assessment for Amara", m["subject"]
    assert "On Thursday 10 December 2026 we decided not to do the assessment." in body, body
    # Decision date + 2 months, from the appeal_window and mediation_window
    # clocks' deadline.started.
    assert "- Contact a mediation adviser by Wednesday 10 February 2027." in body, body
    assert "- Appeal to the tribunal by Wednesday 10 February 2027." in body, body
    assert "Amara's needs can be met through SEN Support" in body
    assert "( ( extra help." in body, "the reasons' \"((\" is defused, not refused"
    assert "SENDIASS" in body and "independent supporter" in body
    assert all(len(line) <= 72 for line in body.split("Why we decided this")[1]
               .split("If you do not agree")[0].splitlines()), "reasons are wrapped"


def case_assessed(stack):
    r = http("POST", stack.url("intake", "/v1/requests"), KOFI)
    assert r.status == 201, r.body
    b = r.json()["case_id"]
    one(stack, "request_received", KOFI_PARENT, b)
    return b


def decide_to_assess(stack, b):
    post(stack, f"/v1/cases/{b}/decision-to-assess", {"date": "2026-12-10", "assess": True})
    m = one(stack, "decision_to_assess", KOFI_PARENT, b)
    assert m["subject"] == "We will do an assessment for Kofi", m["subject"]
    assert "we will tell you by Monday 15 March 2027" in m["body"], m["body"]    # 16 weeks
    assert "the final plan by Monday 12 April 2027" in m["body"], m["body"]      # 20 weeks
    assert "Monday 23 November 2026" in m["body"]


def check_advice_requests(stack, b):
    listing = one(stack, "advice_requested", KOFI_PARENT, b)
    body = listing["body"]
    for line in ("- the school or nursery: educational advice",
                 "- a health professional: medical advice",
                 "- an educational psychologist: psychological advice",
                 "- the social care team: social care advice"):
        assert line in body, body
    assert "On Thursday 10 December 2026 we asked for advice from:" in body, body
    assert "by Thursday 21 January 2027" in body, body  # + 6 weeks (reg 8(1))
    for adviser, to in PROFESSIONALS.items():
        m = one(stack, "advice_request", to, b)
        assert m["subject"] == "Request for advice: EHC needs assessment for Kofi Mensah"
        assert "Please send us your advice by Thursday 21 January 2027." in m["body"]
        assert "Date of birth: Thursday 1 September 2016" in m["body"], m["body"]
    senco = sent(stack, "advice_request", SENCO, b)[0]["body"]
    assert "We are asking you for educational advice" in senco, senco
    # The parent's own advice and the child's views are in the parent's letter.
    assert not sent(stack, "advice_request", KOFI_PARENT)


def check_first_reminders(stack, b, lola):
    """2027-01-08: the advice clocks' first approaching point (10 working days
    before 21 January) and the SEN Support review's."""
    m = one(stack, "advice_reminder", SENCO, b)
    assert "It is due by Thursday 21 January 2027." in m["body"], m["body"]
    assert "Working days left: 10" in m["body"], m["body"]
    r = one(stack, "sen_support_review_reminder", LOLA_PARENT, lola)
    assert "Meadow Infants agreed to review Lola's SEN Support plan by Friday 15 January 2027" \
        in r["body"], r["body"]
    alerts = wait_for("the caseworkers' alert for the SENCO's advice", lambda: [
        x for x in sent(stack, "caseworker_deadline_approaching", TEAM, b)
        if "Advice from the school or nursery (reg 8(1))" in x["subject"]])
    assert len(alerts) == 1, alerts
    assert "Kofi Mensah" in alerts[0]["subject"] and f"Case: {b}" in alerts[0]["body"]


def draft_and_consultations(stack, b):
    post(stack, f"/v1/cases/{b}/decision-to-issue", {"date": "2027-01-08", "issue": True})
    post(stack, f"/v1/cases/{b}/draft-plan", {"date": "2027-01-08"})
    m = one(stack, "draft_plan_served", KOFI_PARENT, b)
    assert "We sent you the draft education, health and care (EHC) plan for Kofi on " \
        "Friday 8 January 2027." in m["body"], m["body"]
    assert "Please reply by Friday 22 January 2027." in m["body"]  # served + 14 (reg 13(1))
    assert "Ask for a school or college." in m["body"] and "Ask to meet us." in m["body"]
    post(stack, f"/v1/cases/{b}/school-consultations",
         {"date": "2027-01-08", "school_urn": "123456", "school_name": "Hillside Primary School"})
    c = one(stack, "school_consultation", SENCO, b)
    assert "Please reply by Saturday 23 January 2027." in c["body"], c["body"]  # + 15 days
    assert c["subject"] == ("Consultation: naming Hillside Primary School in the EHC plan "
                            "for Kofi Mensah"), c["subject"]
    # Another school: notify knows no SENCO for it, so it skips it and counts.
    before = unreachable(stack)
    post(stack, f"/v1/cases/{b}/school-consultations",
         {"date": "2027-01-08", "school_urn": "654321", "school_name": "Riverside Academy"})
    wait_for("the skipped consultation counted", lambda: unreachable(stack) > before)
    assert len(sent(stack, "school_consultation", case=b)) == 1


def metric(stack, name):
    text = http("GET", stack.url("notify", "/metrics")).body
    m = re.search(rf"^{name} (\d+)", text, re.M)
    return int(m.group(1)) if m else 0


def unreachable(stack):
    return metric(stack, "sendpath_notify_unreachable_total")


def check_late_advice(stack, b):
    """2027-01-25: the second reminder, the due date, then overdue."""
    wait_for("two reminders to the SENCO", lambda: len(sent(stack, "advice_reminder", SENCO, b)) == 2)
    m = one(stack, "advice_overdue", SENCO, b)
    assert m["subject"] == "Overdue: advice for Kofi Mensah was due by Thursday 21 January 2027"
    assert "Days late: 1" in m["body"], m["body"]
    for to in PROFESSIONALS.values():
        one(stack, "advice_overdue", to, b)
    assert not sent(stack, "advice_overdue", KOFI_PARENT)
    wait_for("the caseworkers' overdue alert", lambda: [
        x for x in sent(stack, "caseworker_deadline_overdue", TEAM, b)
        if "Advice from an educational psychologist" in x["subject"]])
    wait_for("the caseworkers' due alert", lambda: [
        x for x in sent(stack, "caseworker_deadline_due", TEAM, b)
        if "Advice from the social care team" in x["subject"]])


def plan_and_review(stack, b):
    post(stack, f"/v1/cases/{b}/final-plan", {"date": "2027-01-25", "transfer_year": 2028})
    m = one(stack, "final_plan_issued", KOFI_PARENT, b)
    assert "The final plan is dated Monday 25 January 2027." in m["body"], m["body"]
    assert "The first review must happen by Monday 24 January 2028." in m["body"], m["body"]
    # No clock tells this one: the plan's date + 2 months.
    assert "The last day to appeal is Thursday 25 March 2027." in m["body"], m["body"]
    m = one(stack, "phase_transfer", KOFI_PARENT, b)  # reg 18: 15 February
    assert "We must send you the changed plan by Tuesday 15 February 2028." in m["body"], \
        m["body"]
    post(stack, f"/v1/cases/{b}/reviews/scheduled", {"date": "2027-01-25",
                                                     "meeting_date": "2027-12-01"})
    m = one(stack, "review_invitation", KOFI_PARENT, b)
    assert "The review meeting is on Wednesday 1 December 2027." in m["body"], m["body"]
    post(stack, f"/v1/cases/{b}/reviews/decision", {"date": "2027-01-25", "outcome": "maintain"})
    m = one(stack, "review_decision_maintain", KOFI_PARENT, b)
    assert "On Monday 25 January 2027 we decided to keep Kofi's" in m["body"], m["body"]
    assert "The last day to appeal is Thursday 25 March 2027." in m["body"], m["body"]


def problem_fields(r):
    assert r.headers.get("Content-Type", "").startswith("application/problem+json"), r.headers
    return [e["field"] for e in r.json().get("errors", [])]


def mediation_certificates(stack, a, b, lola):
    """The appeal deadline after mediation (HESC Rules r.20): the later of 2
    months from the decision and 1 month from the certificate."""
    def cert(case, body, key):
        return http("POST", stack.url("intake", f"/v1/cases/{case}/mediation-certificate"),
                    dict(body, idempotency_key=key))
    good = {"date": "2027-01-20", "about": "decision.not_assess", "decision_date": "2026-12-10"}
    r = cert(a, dict(good, about="final_plan.issued"), "mc-a-wrong")
    assert r.status == 409 and problem_fields(r) == ["about"], (r.status, r.body)
    r = cert(a, dict(good, decision_date="2027-01-21"), "mc-a-order")
    assert r.status == 400 and problem_fields(r) == ["decision_date"], (r.status, r.body)
    r = cert(lola, good, "mc-lola")
    assert r.status == 409 and problem_fields(r) == ["state"], (r.status, r.body)
    r = cert(a, good, "mc-a")
    assert r.status == 201 and r.json()["event_type"] == "mediation_certificate.issued", r.body
    again = cert(a, good, "mc-a")
    assert again.status == 201 and again.headers.get("Idempotent-Replayed") == "true", \
        again.headers
    m = one(stack, "mediation_certificate", AMARA_PARENT, a)
    body = m["body"]
    assert "You have a mediation certificate dated Wednesday 20 January 2027." in body, body
    assert ("It is about our decision not to carry out an EHC needs assessment, dated "
            "Thursday 10 December 2026.") in body, body
    # 10 Dec + 2 months = 10 Feb; 20 Jan + 1 month = 20 Feb: the later
    assert "The last day to appeal is now Saturday 20 February 2027." in body, body
    # The commands topic, as a case system sends it: B's final plan of 25 Jan.
    stack.produce("sendpath.commands", b, json.dumps({
        "command": "mediation_certificate", "case_id": b, "idempotency_key": "mc-b",
        "date": "2027-01-25", "about": "final_plan.issued", "decision_date": "2027-01-25"}))
    m = one(stack, "mediation_certificate", KOFI_PARENT, b)
    # 25 Jan + 2 months = 25 March, later than 25 Feb
    assert "The last day to appeal is now Thursday 25 March 2027." in m["body"], m["body"]
    assert "It is about the final EHC plan, dated Monday 25 January 2027." in m["body"]
    events = [e for e in stack.events("sendpath.case-events")
              if e["type"] == "mediation_certificate.issued"]
    assert sorted(e["subject"] for e in events) == sorted([a, b]), events


def amend_and_close(stack, a, b):
    """An amendment (reg 22): the notice's 15 days and 8 weeks, then the
    amended plan with its appeal date; then case A is closed."""
    post(stack, f"/v1/cases/{b}/amendment-notice", {"date": "2027-01-25"})
    m = one(stack, "amendment_notice", KOFI_PARENT, b)
    assert "Please tell us what you think by Monday 8 February 2027." in m["body"], m["body"]
    assert "We must send it by Monday 22 March 2027." in m["body"], m["body"]
    post(stack, f"/v1/cases/{b}/amended-plan", {"date": "2027-01-25"})
    m = one(stack, "amended_plan_issued", KOFI_PARENT, b)
    assert "The new final plan is dated Monday 25 January 2027." in m["body"], m["body"]
    assert "The last day to appeal is Thursday 25 March 2027." in m["body"], m["body"]
    post(stack, f"/v1/cases/{a}/close", {"date": "2027-01-25", "reason": "moved_away"})
    m = one(stack, "case_closed", AMARA_PARENT, a)
    assert "We closed Amara's special educational needs case on Monday 25 January 2027." \
        in m["body"], m["body"]


def check_replays_send_nothing(stack, a, b):
    """The decision and an adviser's clock start, published again: same ids,
    so nothing is written twice."""
    refusal = [m["value"] for m in stack.topic("sendpath.case-events")
               if json.loads(m["value"])["type"] == "decision.not_assess"
               and m["key"] == a]
    started = [m["value"] for m in stack.topic("sendpath.deadlines") if m["key"] == b
               and (e := json.loads(m["value"]))["type"] == "deadline.started"
               and e["data"]["clock"] == "advice" and e["data"].get("qualifier") == "medical"]
    assert len(refusal) == 1 and len(started) == 1, (len(refusal), len(started))
    repeats = metric(stack, "sendpath_notify_repeats_total")
    stack.produce("sendpath.case-events", a, refusal[0])
    stack.produce("sendpath.deadlines", b, started[0])
    wait_for("both replays seen", lambda: metric(stack, "sendpath_notify_repeats_total")
             >= repeats + 2)
    assert len(sent(stack, "decision_not_to_assess", AMARA_PARENT)) == 1
    assert len(sent(stack, "advice_request", PROFESSIONALS["medical"])) == 1


def test(stack):
    a = case_not_assessed(stack)
    b = case_assessed(stack)
    lola = post(stack, "/v1/sen-support", LOLA)["case_id"]
    stack.set_clock("2026-12-10T09:00:00Z")
    decide_not_to_assess(stack, a)
    decide_to_assess(stack, b)
    check_advice_requests(stack, b)

    stack.set_clock("2027-01-08T09:00:00Z")
    check_first_reminders(stack, b, lola)
    draft_and_consultations(stack, b)

    stack.set_clock("2027-01-25T09:00:00Z")
    check_late_advice(stack, b)
    plan_and_review(stack, b)
    mediation_certificates(stack, a, b, lola)
    amend_and_close(stack, a, b)
    check_replays_send_nothing(stack, a, b)

    total = check_clean(stack)
    print(f"{total} messages, each once", file=sys.stderr)
    codes = stack.stop()
    assert all(c == 0 for c in codes.values()), f"unclean shutdown: {codes}"


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T10:00:00Z",
         services=("intake", "evidence", "timers", "notify"),
         extra_env={"SENDPATH_NOTIFY_CASEWORKER_EMAIL": TEAM})
