"""No child's name, date of birth or address, nor a contact's, in any log.

Several cases are seeded through intake's HTTP API with names, dates of birth,
postal and email addresses found nowhere else, and driven through the
pathway: decisions, advice requested of the school, letters by email and by
post, clocks fired overdue, and the error paths where input tends to be
echoed: a refused body (400), a duplicate request (409), a refused command
over Kafka (dead letter) and a casework command whose free-text reasons name
the child. Every service logs at debug level (the harness sets it).

Then every log the stack wrote (var/logs/*.log: the five services, the
broker, Redis) is searched, case-insensitively, for every seeded value. The
same values are first shown to have reached the services (the letters name
the contacts and children), so a search that finds nothing means something.
"""
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import http, main, wait_for  # noqa: E402

SCHOOL = {"urn": "654321", "name": "Brackenfold Academy",
          "senco_email": "senco@brackenfold.example.sch.uk"}

# One child by email, one by post; the third only ever arrives malformed.
PEOPLE = [
    {"child": {"given_name": "Zephyrine", "family_name": "Quillfeather",
               "date_of_birth": "2016-02-29"},
     "contact": {"name": "Ottoline Quillfeather", "preferred_channel": "email",
                 "email": "ottoline.quillfeather@example.org"}},
    {"child": {"given_name": "Barnabus", "family_name": "Wrexhamley",
               "date_of_birth": "2018-10-07"},
     "contact": {"name": "Morwenna Wrexhamley", "preferred_channel": "post",
                 "postal_address": "41 Gorsebrook Terrace\nLittle Hemmingford\nZX9 4QW"}},
    {"child": {"given_name": "Ignatia", "family_name": "Vorstermans",
               "date_of_birth": "2015-07-19"},
     "contact": {"name": "Cordelia Vorstermans", "preferred_channel": "email",
                 "email": "cordelia.vorstermans@example.org"}},
]
# Arrives only over Kafka, as a good request.
KAFKA_PERSON = {
    "child": {"given_name": "Leopoldine", "family_name": "Haverstock",
              "date_of_birth": "2017-12-03"},
    "contact": {"name": "Aurelio Haverstock", "preferred_channel": "email",
                "email": "aurelio.haverstock@example.org"}}


def needles(person):
    """Every seeded value, and the other ways a date or address is written."""
    c, k = person["child"], person["contact"]
    dob = c["date_of_birth"]
    out = [c["given_name"], c["family_name"], k["name"], dob, dob.replace("-", ""),
           "/".join(reversed(dob.split("-")))]
    if "email" in k:
        out.append(k["email"])
    if "postal_address" in k:
        out += k["postal_address"].split("\n")
    return out


def request(person, key, **extra):
    return dict({"idempotency_key": key, "requester": {"type": "parent"},
                 "school": SCHOOL, "areas_of_need": ["communication_and_interaction"],
                 "received_date": "2026-11-23", "consent_to_share": True},
                **person, **extra)


def post(stack, path, body):
    return http("POST", stack.url("intake", path), body)


def seed(stack):
    """Returns the case ids of the first two people."""
    ids = []
    for i, p in enumerate(PEOPLE[:2]):
        r = post(stack, "/v1/requests", request(p, f"privacy-{i}"))
        assert r.status == 201, r.body
        ids.append(r.json()["case_id"])
    # The same child again while the first request is open: refused.
    r = post(stack, "/v1/requests", request(PEOPLE[0], "privacy-dup"))
    assert r.status == 409, (r.status, r.body)
    # Malformed: a date of birth that does not exist, with every other field
    # real. Refused, naming the field.
    bad = request(PEOPLE[2], "privacy-bad")
    bad["child"] = dict(bad["child"], date_of_birth="2015-02-30")
    r = post(stack, "/v1/requests", bad)
    assert r.status == 400 and "child.date_of_birth" in r.body, r.body
    return ids


def drive(stack, a, b):
    r = post(stack, f"/v1/cases/{a}/decision-to-assess",
             {"idempotency_key": "privacy-dta", "date": "2026-11-23", "assess": True})
    assert r.status == 201, r.body
    # Over Kafka: a good request, a request with a bad email (dead letter), a
    # decision whose reasons name the child and whose date is impossible
    # (dead letter), for the post case.
    good = request(KAFKA_PERSON, "privacy-kafka", command="request")
    bad = request(PEOPLE[2], "privacy-kafka-bad", command="request")
    bad["contact"] = dict(bad["contact"], email="cordelia.vorstermans@@example")
    reasons = (f"{PEOPLE[1]['child']['given_name']} {PEOPLE[1]['child']['family_name']}, "
               f"born {PEOPLE[1]['child']['date_of_birth']}, is doing well at school.")
    decision = {"command": "decision_to_assess", "case_id": b, "assess": False,
                "idempotency_key": "privacy-kafka-dta", "date": "2026-12-32",
                "reasons": reasons}
    stack.produce_many("sendpath.commands", [("privacy-k1", json.dumps(good)),
                                             ("privacy-k2", json.dumps(bad)),
                                             (b, json.dumps(decision))])
    wait_for("the Kafka request accepted", lambda: [
        e for e in stack.events("sendpath.case-events")
        if e["type"] == "request.received" and e["subject"] not in (a, b)], timeout=30)
    wait_for("two dead letters", lambda: len(stack.topic("sendpath.deadletter")) >= 2,
             timeout=30)
    # Six weeks on, b has no decision: its clock goes overdue, its letters
    # and a's advice reminders are written.
    stack.set_clock("2027-01-06T09:00:00Z")
    wait_for("b overdue", lambda: [
        e for e in stack.events("sendpath.deadlines")
        if e["subject"] == b and e["type"] == "deadline.overdue"], timeout=30)
    for c in (a, b):
        assert http("GET", stack.url("ops", f"/v1/cases/{c}")).status == 200


def letters(stack):
    text = ""
    for path in glob.glob(os.path.join(stack.var, "**", "*"), recursive=True):
        if os.path.isfile(path) and "/logs/" not in path:
            with open(path, errors="replace") as f:
                text += f.read()
    return text


def test(stack):
    a, b = seed(stack)
    drive(stack, a, b)
    # The values reached the services: the letters and emails name them.
    wait_for("letters naming both contacts", lambda: all(
        p["contact"]["name"] in letters(stack) for p in PEOPLE[:2]), timeout=30)
    written = letters(stack)
    assert PEOPLE[0]["child"]["given_name"] in written, "no letter names the child"
    assert "Gorsebrook Terrace" in written, "the post letter has no address"
    codes = stack.stop()  # logs complete: every process has flushed and exited
    assert all(c == 0 for c in codes.values()), f"unclean shutdown: {codes}"

    logs = {}
    for path in sorted(glob.glob(os.path.join(stack.var, "logs", "*.log"))):
        with open(path, errors="replace") as f:
            logs[os.path.basename(path)] = f.read()
    services = [f"{s}.log" for s in stack.services]
    assert all(n in logs and logs[n] for n in services), sorted(logs)
    assert a in logs["intake.log"] + logs["timers.log"], "logs carry no case id"
    found = []
    for person in PEOPLE + [KAFKA_PERSON]:
        for needle in needles(person):
            for name, text in logs.items():
                for line in text.splitlines():
                    if needle.lower() in line.lower():
                        found.append(f"{name}: {needle!r} in {line[:300]}")
    assert not found, "personal data in the logs:\n" + "\n".join(found[:40])
    lines = sum(t.count("\n") for t in logs.values())
    count = sum(len(needles(p)) for p in PEOPLE + [KAFKA_PERSON])
    print(f"log privacy: {count} seeded values, none in {lines} log lines of "
          f"{len(logs)} files", file=sys.stderr)


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T10:00:00Z")
