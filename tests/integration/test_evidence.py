"""Advice for an EHC needs assessment, end to end (reg 6, reg 8(1)).

    POST /v1/requests -> intake -> request.received (evidence keeps the
       parent's and the SENCO's addresses)
    decision.assess on sendpath.case-events (as intake publishes it)
    -> evidence asks every selected adviser: advice.requested on
       sendpath.evidence-events, one per adviser, each with its recipient
    -> timers starts an "advice" clock per adviser, due 6 weeks (42 days)
       after the request
    -> returns POSTed to evidence -> advice.received -> timers meets each
       clock; the last return also publishes evidence.complete, once.

Returns also come over Kafka alone: a second case, decided through intake
(so intake knows it is assessing), gets its returns as advice_received
commands on sendpath.commands -> intake publishes advice.returned on
sendpath.case-events -> evidence records each exactly as a POSTed return
(advice.received, the clock met, evidence.complete after the last). Returns
evidence cannot apply (an adviser not asked, one already returned with other
data, a date before the request) go to the dead-letter topic with the reason
and publish nothing, and the returns behind them are still recorded; the same
return sent both ways, or an advice.returned replayed, changes nothing.

Also: a replayed decision asks no one twice (same ids, same dates), and
after every return it resurrects no clock; bad messages on the topic go to
the dead-letter topic and consumption goes on; bad returns are refused with
problem+json naming each field (400), an unknown case is 404, an adviser not
asked or already returned is 409; a repeat with the same idempotency key gets
the first answer (200) and publishes nothing new; the evidence log holds no
names or addresses; SIGTERM stops every service with exit code 0.
"""
import hashlib
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, main, wait_for  # noqa: E402
from test_casework import kcat_command  # noqa: E402
from test_clocks import decision_event  # noqa: E402
from test_slice import REQUEST  # noqa: E402

DECIDED = "2027-01-04"       # the decision to assess: the day the requests go out
DUE = "2027-02-15"           # + 42 days (reg 8(1))
PARENT = REQUEST["contact"]["email"]
SENCO = REQUEST["school"]["senco_email"]
# adviser -> (recipient_role, recipient_email, the date its advice comes back)
ADVISERS = {
    "parent": ("parent", PARENT, "2027-01-11"),
    "educational": ("senco", SENCO, "2027-01-20"),
    "medical": ("team", "health-send@nhs.example", "2027-01-25"),
    "psychological": ("team", "educational-psychology@la.example", "2027-01-28"),
    "social_care": ("team", "social-care@la.example", "2027-01-18"),
    "child_views": ("parent", PARENT, "2027-01-11"),
    "speech_language": ("team", "salt@nhs.example", "2027-01-22"),  # configured
}
LAST = "speech_language"     # returned last, though psychological's date is later
COMPLETE_ON = "2027-01-28"
UNKNOWN_CASE = "c_00000000000000000000000000"
KAFKA_DECIDED = "2027-01-11"  # the second case, decided through intake
KAFKA_DUE = "2027-02-22"      # + 42 days


def evidence_events(stack, case_id, type_=None):
    return [e for e in stack.events("sendpath.evidence-events")
            if e["subject"] == case_id and (type_ is None or e["type"] == type_)]


def advice_clock_events(stack, case_id, type_):
    return [e for e in stack.events("sendpath.deadlines") if e["subject"] == case_id
            and e["type"] == type_ and e["data"]["clock"] == "advice"]


def deadletters(stack, service):
    """(key, headers, payload) of every dead letter the service wrote."""
    out = subprocess.run(["kcat", "-b", stack.bootstrap, "-C", "-t", "sendpath.deadletter",
                          "-o", "beginning", "-e", "-q", "-f", "%k\t%h\t%s\n"],
                         capture_output=True, text=True, timeout=10)
    rows = [line.split("\t", 2) for line in out.stdout.splitlines() if line.strip()]
    return [r for r in rows if f"x-service={service}" in r[1]]


def case_deadletters(stack, case_id):
    """evidence's dead letters of one case: one partition, so in order."""
    return [r for r in deadletters(stack, "evidence") if r[0] == case_id]


def advice(stack, case_id):
    return http("GET", stack.url("evidence", f"/v1/cases/{case_id}/advice"))


def post_return(stack, case_id, adviser, body, headers=None):
    return http("POST", stack.url("evidence", f"/v1/cases/{case_id}/advice/{adviser}"),
                body, headers=headers)


def return_body(adviser, key=None, **over):
    body = {"idempotency_key": key or f"return-{adviser}-1",
            "date": ADVISERS[adviser][2],
            "document_ref": f"DOC-{adviser.upper()}-0001",
            "author": f"Author of {adviser} advice"}
    return dict(body, **over)


def request_case(stack):
    r = http("POST", stack.url("intake", "/v1/requests"), REQUEST)
    assert r.status == 201, (r.status, r.body)
    case_id = r.json()["case_id"]
    # evidence knows the case from request.received, and nobody is asked yet.
    c = wait_for("evidence to know the case", lambda: (
        r.json() if (r := advice(stack, case_id)).status == 200 else None))
    assert c == {"case_id": case_id, "requested": [], "missing": [], "complete": False}, c
    r = post_return(stack, case_id, "medical", return_body("medical", key="early-1",
                                                         date=DECIDED))
    assert r.status == 409, (r.status, r.body)
    return case_id


def check_requested(stack, case_id):
    def all_requested():
        evs = evidence_events(stack, case_id, "advice.requested")
        return evs if len({e["id"] for e in evs}) == len(ADVISERS) else None
    evs = wait_for("advice.requested for every adviser", all_requested)
    by_adviser = {e["data"]["adviser"]: e for e in evs}
    assert set(by_adviser) == set(ADVISERS), by_adviser.keys()
    for adviser, (role, email, _) in ADVISERS.items():
        e = by_adviser[adviser]
        assert e["id"] == f"{case_id}/advice.requested/{adviser}", e["id"]
        assert e["source"] == "/sendpath/evidence" and e["specversion"] == "1.0", e
        assert e["data"] == {"case_id": case_id, "adviser": adviser, "date": DECIDED,
                             "request_received_date": "2026-11-23", "recipient_role": role,
                             "recipient_email": email}, e["data"]
    keys = {m["key"] for m in stack.topic("sendpath.evidence-events")
            if json.loads(m["value"])["subject"] == case_id}
    assert keys == {case_id}, keys


def check_clocks_started(stack, case_id):
    evs = wait_for("timers' advice clocks", lambda: (
        e if len(e := advice_clock_events(stack, case_id, "deadline.started")) >= len(ADVISERS)
        else None))
    got = {e["data"]["qualifier"]: e["data"] for e in evs}
    assert set(got) == set(ADVISERS), got.keys()
    for adviser, d in got.items():
        assert d["started_on"] == DECIDED and d["due_date"] == DUE, d
        assert d["clock_id"] == f"{case_id}:advice:{adviser}:20270104", d


def check_replay_and_deadletters(stack, case_id):
    """The same decision again, then two bad messages behind it on the
    case's partition: once evidence has dead-lettered both, it has applied
    the replay too."""
    before = evidence_events(stack, case_id)
    stack.produce("sendpath.case-events", case_id, decision_event(case_id, DECIDED))
    stack.produce("sendpath.case-events", case_id, "not an envelope")
    no_date = json.loads(decision_event(case_id, DECIDED))
    no_date["id"] += "/without-date"
    del no_date["data"]["date"]
    stack.produce("sendpath.case-events", case_id, json.dumps(no_date))
    dls = wait_for("evidence's dead letters", lambda: (
        d if len(d := deadletters(stack, "evidence")) == 2 else None))
    assert "x-reason=envelope is not a JSON object" in dls[0][1], dls[0]
    assert dls[0][2] == "not an envelope" and dls[0][0] == case_id, dls[0]
    assert "data.date (YYYY-MM-DD) is required" in dls[1][1], dls[1]
    assert "x-source-topic=sendpath.case-events" in dls[1][1], dls[1]
    after = evidence_events(stack, case_id)
    assert {e["id"] for e in after} == {e["id"] for e in before}, "a replay asked again"
    first = {e["id"]: e["data"] for e in before}
    assert all(first[e["id"]] == e["data"] for e in after), "a re-announcement changed"
    states = stack.redis("HGETALL", f"evidence:case:{case_id}").split("\n")
    assert dict(zip(states[::2], states[1::2])) == {
        a: f"requested|{DECIDED}" for a in ADVISERS}, states
    assert http("GET", stack.url("evidence", "/healthz")).status == 200


def check_all_missing(stack, case_id):
    r = advice(stack, case_id)
    assert r.status == 200, (r.status, r.body)
    c = r.json()
    assert c["case_id"] == case_id and c["complete"] is False, c
    assert [x["adviser"] for x in c["requested"]] == list(ADVISERS), c["requested"]
    assert all(x == {"adviser": x["adviser"], "requested_on": DECIDED}
               for x in c["requested"]), c["requested"]
    assert c["missing"] == list(ADVISERS), c["missing"]
    assert advice(stack, UNKNOWN_CASE).status == 404
    assert advice(stack, "nonsense").status == 400


def fields_of(r):
    assert r.status == 400, (r.status, r.body)
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    return {e["field"] for e in r.json()["errors"]}


def check_bad_returns(stack, case_id):
    before = len(evidence_events(stack, case_id))
    bad = {"idempotency_key": "", "date": "2027-02-02", "document_ref": 7,
           "author": "x" * 201}  # the service's clock says 1 February
    assert fields_of(post_return(stack, case_id, "parent", bad)) == {
        "idempotency_key", "date", "document_ref", "author"}
    assert fields_of(post_return(stack, case_id, "parent", {})) == {
        "idempotency_key", "date", "document_ref", "author"}
    assert fields_of(post_return(stack, case_id, "parent", "{not json")) == {"(body)"}
    assert fields_of(post_return(stack, "nonsense", "Bad-Name", return_body("parent"))) == {
        "id", "adviser"}
    early = return_body("parent", key="early-date", date="2027-01-03")
    r = post_return(stack, case_id, "parent", early)
    assert fields_of(r) == {"date"} and DECIDED in r.body, r.body
    r = post_return(stack, UNKNOWN_CASE, "medical", return_body("medical", key="unknown"))
    assert r.status == 404, (r.status, r.body)
    r = post_return(stack, case_id, "sensory", return_body("medical", key="sensory-1"))
    assert r.status == 409 and r.json()["title"] == "Advice not requested", r.body
    assert len(evidence_events(stack, case_id)) == before, "a refused return was published"


def check_first_return_and_repeats(stack, case_id):
    body = return_body("medical")
    r = post_return(stack, case_id, "medical", body)
    assert r.status == 201, (r.status, r.body)
    assert r.headers["Location"] == f"/v1/cases/{case_id}/advice", dict(r.headers)
    answer = r.json()
    assert answer == {"case_id": case_id, "adviser": "medical", "status": "received",
                      "received_on": "2027-01-25", "document_ref": "DOC-MEDICAL-0001",
                      "evidence_complete": False}, answer
    evs = evidence_events(stack, case_id, "advice.received")
    assert [e["id"] for e in evs] == [f"{case_id}/advice.received/medical"], evs
    assert evs[0]["data"] == {"case_id": case_id, "adviser": "medical", "date": "2027-01-25",
                              "document_ref": "DOC-MEDICAL-0001",
                              "author": "Author of medical advice"}, evs[0]
    r = post_return(stack, case_id, "medical", body)
    assert r.status == 200 and r.json() == answer, (r.status, r.body)
    assert r.headers.get("Idempotent-Replayed") == "true", dict(r.headers)
    r = post_return(stack, case_id, "medical", dict(body, document_ref="DOC-OTHER"))
    assert r.status == 422, (r.status, r.body)
    r = post_return(stack, case_id, "medical", return_body("medical", key="return-medical-2"))
    assert r.status == 409 and "2027-01-25" in r.json()["detail"], (r.status, r.body)
    time.sleep(0.5)
    assert len(evidence_events(stack, case_id, "advice.received")) == 1, "a repeat published"
    check_pending_retry(stack, case_id, body, answer)


def check_pending_retry(stack, case_id, body, answer):
    """A crash after the return was reserved and before it was marked done
    leaves the key pending with the event: a retry publishes that same event
    (same id, same data) and answers as the first time would have."""
    raw = [m["value"] for m in stack.topic("sendpath.evidence-events")
           if json.loads(m["value"])["id"] == f"{case_id}/advice.received/medical"]
    idem = "evidence:idem:" + hashlib.sha256(body["idempotency_key"].encode()).hexdigest()
    assert stack.redis("HGET", idem, "state") == "done"
    stack.redis("HSET", idem, "state", "pending", "event", raw[0], "answer", "")
    r = post_return(stack, case_id, "medical", body)
    assert r.status == 201 and r.json() == answer, (r.status, r.body)
    assert r.headers.get("Idempotent-Replayed") == "true", dict(r.headers)
    evs = evidence_events(stack, case_id, "advice.received")
    assert len(evs) == 2 and evs[0] == evs[1], evs  # the same event, once more
    assert stack.redis("HGET", idem, "state") == "done"


def check_other_returns(stack, case_id):
    for adviser in ADVISERS:
        if adviser in ("medical", LAST):
            continue
        # One through the Idempotency-Key header rather than the body.
        headers = {"Idempotency-Key": "hdr-key-parent"} if adviser == "parent" else None
        body = return_body(adviser)
        if headers:
            del body["idempotency_key"]
        r = post_return(stack, case_id, adviser, body, headers)
        assert r.status == 201 and r.json()["evidence_complete"] is False, (adviser, r.body)
        assert not evidence_events(stack, case_id, "evidence.complete"), "complete too early"
    r = post_return(stack, case_id, LAST, return_body(LAST))
    assert r.status == 201 and r.json()["evidence_complete"] is True, (r.status, r.body)
    r = post_return(stack, case_id, LAST, return_body(LAST))
    assert r.status == 200 and r.json()["evidence_complete"] is True, (r.status, r.body)


def check_complete(stack, case_id):
    evs = wait_for("evidence.complete", lambda: evidence_events(stack, case_id,
                                                                "evidence.complete"))
    time.sleep(0.5)
    evs = evidence_events(stack, case_id, "evidence.complete")
    assert len(evs) == 1, evs
    assert evs[0]["id"] == f"{case_id}/evidence.complete", evs[0]
    assert evs[0]["data"] == {"case_id": case_id, "date": COMPLETE_ON}, evs[0]
    received = evidence_events(stack, case_id, "advice.received")
    assert len({e["id"] for e in received}) == len(ADVISERS), received
    assert len(received) == len(ADVISERS) + 1, received  # medical's retry, same id
    c = advice(stack, case_id).json()
    assert c["complete"] is True and c["missing"] == [], c
    for x in c["requested"]:
        assert x == {"adviser": x["adviser"], "requested_on": DECIDED,
                     "received_on": ADVISERS[x["adviser"]][2],
                     "document_ref": f"DOC-{x['adviser'].upper()}-0001"}, x


def check_clocks_met(stack, case_id, due=DUE):
    evs = wait_for("every advice clock met", lambda: (
        e if len(e := advice_clock_events(stack, case_id, "deadline.met")) >= len(ADVISERS)
        else None))
    got = {e["data"]["qualifier"]: e["data"] for e in evs}
    assert set(got) == set(ADVISERS), got.keys()
    for adviser, d in got.items():
        assert d["met_on"] == ADVISERS[adviser][2] and d["on_time"] is True, d
        assert d["due_date"] == due, d


def check_replay_after_returns(stack, case_id, partition):
    """A decision replayed after every return: nothing new is asked, and the
    re-announced requests (each followed by its return) leave no clock open."""
    ids = {e["id"] for e in evidence_events(stack, case_id)}
    stack.produce("sendpath.case-events", case_id, decision_event(case_id, DECIDED))
    stack.produce("sendpath.case-events", case_id, "marker: not an envelope")
    wait_for("the replay applied", lambda: len(deadletters(stack, "evidence")) == 3)
    assert {e["id"] for e in evidence_events(stack, case_id)} == ids
    time.sleep(1.5)  # timers applies what evidence re-announced
    # the case's bucket of records: the last two characters of its id
    slots = stack.redis("HKEYS", f"tm:{{s{partition}}}:c:{case_id[-2:]}").split("\n")
    # either layout (services/timers/layout.h): "c_<ulid>:advice:" or "<ulid>:B:"
    assert not [s for s in slots if s.startswith((f"{case_id}:advice:", f"{case_id[2:]}:B:"))], \
        slots
    assert advice(stack, case_id).json()["complete"] is True


def case_events(stack, case_id, type_):
    """(text, event) of each; the topic holds this test's non-JSON markers too."""
    evs = [(m["value"], json.loads(m["value"])) for m in stack.topic("sendpath.case-events")
           if m["value"].startswith("{")]
    return [(text, e) for text, e in evs if e["subject"] == case_id and e["type"] == type_]


def returned_command(case_id, adviser, key, **over):
    """An advice return as a case system sends it on sendpath.commands."""
    body = {"command": "advice_received", "case_id": case_id, "idempotency_key": key,
            "adviser": adviser, "date": ADVISERS.get(adviser, (None, None, "2027-01-20"))[2],
            "document_ref": f"DOC-{adviser.upper()}-0001",
            "author": f"Author of {adviser} advice"}
    return dict(body, **over)


def request_and_assess(stack):
    """A second child's case, decided through intake: intake must know the
    case is assessing to accept its returns."""
    child = dict(REQUEST["child"], given_name="Tobi")
    r = http("POST", stack.url("intake", "/v1/requests"),
             dict(REQUEST, child=child, idempotency_key="portal-kafka-returns"))
    assert r.status == 201, (r.status, r.body)
    case_id = r.json()["case_id"]
    early = returned_command(case_id, "medical", "too-early")
    r = http("POST", stack.url("intake", f"/v1/cases/{case_id}/advice-returns"), early)
    assert r.status == 409 and r.json()["errors"][0]["state"] == "received", (r.status, r.body)
    r = http("POST", stack.url("intake", f"/v1/cases/{case_id}/decision-to-assess"),
             {"idempotency_key": "dta-kafka-returns", "date": KAFKA_DECIDED, "assess": True})
    assert r.status == 201 and r.json()["state"] == "assessing", (r.status, r.body)
    wait_for("advice.requested for the second case", lambda: len(
        {e["id"] for e in evidence_events(stack, case_id, "advice.requested")}) == len(ADVISERS))
    return case_id


def check_kafka_return(stack, case_id):
    kcat_command(stack, case_id, returned_command(case_id, "medical", "kafka-medical-1"))
    evs = [e for _, e in wait_for("advice.returned from intake", lambda: case_events(
        stack, case_id, "advice.returned"))]
    assert len(evs) == 1 and evs[0]["source"] == "/sendpath/intake", evs
    assert evs[0]["id"].startswith(f"{case_id}/advice.returned/"), evs[0]["id"]
    d = evs[0]["data"]
    assert {k: d[k] for k in ("case_id", "adviser", "date", "document_ref", "author")} == {
        "case_id": case_id, "adviser": "medical", "date": "2027-01-25",
        "document_ref": "DOC-MEDICAL-0001", "author": "Author of medical advice"}, d
    evs = wait_for("advice.received from evidence", lambda: evidence_events(
        stack, case_id, "advice.received"))
    assert [e["id"] for e in evs] == [f"{case_id}/advice.received/medical"], evs
    assert evs[0]["source"] == "/sendpath/evidence", evs[0]
    assert evs[0]["data"] == {"case_id": case_id, "adviser": "medical", "date": "2027-01-25",
                              "document_ref": "DOC-MEDICAL-0001",
                              "author": "Author of medical advice"}, evs[0]
    met = wait_for("medical's advice clock met", lambda: [
        e for e in advice_clock_events(stack, case_id, "deadline.met")
        if e["data"]["qualifier"] == "medical"])
    assert met[0]["data"]["met_on"] == "2027-01-25" and met[0]["data"]["on_time"] is True, met
    assert met[0]["data"]["due_date"] == KAFKA_DUE, met
    rows = {x["adviser"]: x for x in advice(stack, case_id).json()["requested"]}
    assert rows["medical"] == {"adviser": "medical", "requested_on": KAFKA_DECIDED,
                               "received_on": "2027-01-25",
                               "document_ref": "DOC-MEDICAL-0001"}, rows["medical"]


def check_kafka_refusals(stack, case_id):
    """Intake accepts these (the case is assessing, the fields are good);
    evidence cannot apply them: each goes to the dead-letter topic with the
    reason and publishes nothing, and the return behind them is recorded."""
    dead = len(case_deadletters(stack, case_id))
    r = post_return(stack, case_id, "parent", return_body("parent", key="kafka-case-parent"))
    assert r.status == 201, (r.status, r.body)
    for cmd in (returned_command(case_id, "sensory", "kafka-sensory"),
                returned_command(case_id, "medical", "kafka-medical-2", document_ref="DOC-OTHER"),
                returned_command(case_id, "educational", "kafka-early", date="2027-01-05"),
                returned_command(case_id, "parent", "kafka-parent-again"),  # as over HTTP
                returned_command(case_id, "social_care", "kafka-social-care")):
        kcat_command(stack, case_id, cmd)
    wait_for("the return behind the refused ones", lambda: [
        e for e in evidence_events(stack, case_id, "advice.received")
        if e["data"]["adviser"] == "social_care"])
    dls = case_deadletters(stack, case_id)[dead:]
    assert len(dls) == 3, dls  # the repeat of parent's return is not one
    reasons = ["x-reason=advice.returned: 409 Advice not requested",
               "x-reason=advice.returned: 409 Advice already returned: This adviser's advice "
               "is already recorded, received on 2027-01-25",
               "x-reason=advice.returned: 400 Invalid return: date: must not be before the "
               f"advice was requested, on {KAFKA_DECIDED}"]
    for (key, headers, payload), reason in zip(dls, reasons):
        assert reason in headers and "x-source-topic=sendpath.case-events" in headers, headers
        assert key == case_id and json.loads(payload)["type"] == "advice.returned", payload
    got = sorted(e["data"]["adviser"] for e in evidence_events(stack, case_id, "advice.received"))
    assert got == ["medical", "parent", "social_care"], got
    rows = {x["adviser"]: x for x in advice(stack, case_id).json()["requested"]}
    assert rows["medical"]["document_ref"] == "DOC-MEDICAL-0001", rows["medical"]
    assert "received_on" not in rows["educational"], rows["educational"]


def check_kafka_last_return(stack, case_id):
    for adviser in ("educational", "psychological"):
        r = post_return(stack, case_id, adviser, return_body(adviser, key=f"kafka-case-{adviser}"))
        assert r.status == 201 and r.json()["evidence_complete"] is False, (adviser, r.body)
    # Intake's own path for the command, over HTTP.
    body = returned_command(case_id, "child_views", "intake-http-child-views")
    r = http("POST", stack.url("intake", f"/v1/cases/{case_id}/advice-returns"), body)
    assert r.status == 201 and r.json()["event_type"] == "advice.returned", (r.status, r.body)
    wait_for("child_views recorded", lambda: [
        e for e in evidence_events(stack, case_id, "advice.received")
        if e["data"]["adviser"] == "child_views"])
    assert not evidence_events(stack, case_id, "evidence.complete"), "complete too early"
    kcat_command(stack, case_id, returned_command(case_id, LAST, "kafka-last"))
    evs = wait_for("evidence.complete after the last return over Kafka", lambda: evidence_events(
        stack, case_id, "evidence.complete"))
    assert len(evs) == 1 and evs[0]["id"] == f"{case_id}/evidence.complete", evs
    assert evs[0]["data"] == {"case_id": case_id, "date": COMPLETE_ON}, evs[0]
    order = [e["type"] for e in evidence_events(stack, case_id)][-2:]
    assert order == ["advice.received", "evidence.complete"], order
    assert advice(stack, case_id).json()["complete"] is True
    check_clocks_met(stack, case_id, due=KAFKA_DUE)
    check_kafka_replay(stack, case_id)


def check_kafka_replay(stack, case_id):
    """advice.returned delivered again (a crash before the offset was
    committed): the same advice.received and evidence.complete again, same ids
    and data, which consumers drop; no dead letter for it."""
    first = {e["id"]: e["data"] for e in evidence_events(stack, case_id)}
    raw = [text for text, e in case_events(stack, case_id, "advice.returned")
           if e["data"]["adviser"] == LAST]
    assert len(raw) == 1, raw
    dead = len(case_deadletters(stack, case_id))
    stack.produce("sendpath.case-events", case_id, raw[0])
    stack.produce("sendpath.case-events", case_id, "marker: not an envelope")
    wait_for("the replay applied", lambda: len(case_deadletters(stack, case_id)) == dead + 1)
    again = evidence_events(stack, case_id)
    assert {e["id"] for e in again} == set(first), "a replayed return made a new event"
    assert all(first[e["id"]] == e["data"] for e in again), "a replayed return changed"
    last = [e for e in again if e["id"] == f"{case_id}/advice.received/{LAST}"]
    assert len(last) == 2 and last[0] == last[1], last


def check_logs_clean(stack):
    with open(os.path.join(stack.var, "logs", "evidence.log"), errors="replace") as f:
        log = f.read()
    for personal in (PARENT, SENCO, REQUEST["child"]["given_name"],
                     REQUEST["contact"]["name"], "Author of"):
        assert personal not in log, f"the evidence log holds '{personal}'"


def test(stack):
    case_id = request_case(stack)
    stack.produce("sendpath.case-events", case_id, decision_event(case_id, DECIDED))
    check_requested(stack, case_id)
    check_clocks_started(stack, case_id)
    check_replay_and_deadletters(stack, case_id)
    check_all_missing(stack, case_id)
    stack.set_clock("2027-02-01T09:00:00Z")
    check_bad_returns(stack, case_id)
    check_first_return_and_repeats(stack, case_id)
    check_other_returns(stack, case_id)
    check_complete(stack, case_id)
    check_clocks_met(stack, case_id)
    partition = evidence_events(stack, case_id)[0]["_partition"]
    check_replay_after_returns(stack, case_id, partition)
    case2 = request_and_assess(stack)
    check_kafka_return(stack, case2)
    check_kafka_refusals(stack, case2)
    check_kafka_last_return(stack, case2)
    codes = stack.stop()
    assert all(c == 0 for c in codes.values()), f"unclean shutdown: {codes}"
    check_logs_clean(stack)


if __name__ == "__main__":
    main(test, clock_start="2027-01-04T10:00:00Z", services=("intake", "evidence", "timers"),
         extra_env={
             "SENDPATH_EVIDENCE_ADVISERS_EXTRA": "speech_language=salt@nhs.example",
             "SENDPATH_EVIDENCE_ADVISERS": ",".join(ADVISERS),
         })
