"""Access control and TLS on the real services (issue 8; docs/security.md).

Tokens are made with `sendpath token new` into the stack's token file: a
portal (intake:write), a caseworker (casework:write), an ops reader
(ops:read) and two schools (school:100001, school:100002). Then:

- no token, or a token the services do not know: 401, problem+json naming
  Authorization, with WWW-Authenticate: Bearer, on intake, evidence and ops;
- a known token without the route's scope: 403 (an ops reader creating a
  request, a portal reading ops, a school sending a caseworker's command, a
  portal setting the clock);
- schools: a school opens a case only for its own pupil, reads its own case
  at intake and ops, and gets 403 for another school's case (and for a case
  that does not exist, so ids cannot be probed); it reviews its own SEN
  Support pupil and not another school's; it answers a consultation only in
  its own name;
- /healthz, /readyz and /metrics answer without a token;
- SIGHUP reloads the token file: a token added works, a token removed is
  refused, a broken file keeps the tokens in use;
- every answer has an access-log line naming the token, and no log holds a
  child's name, date of birth or any token;
- HTTPS: intake restarted with a self-signed certificate made by openssl now
  answers over TLS (urllib and the CLI, trusting that certificate) and no
  longer over plain HTTP;
- Redis AUTH: Redis then requires a password; intake given a wrong one says
  so in its log and never becomes ready; given the right one as
  SENDPATH_INTAKE_REDIS_PASSWORD, it reads and writes cases.
"""
import json
import os
import signal
import ssl
import subprocess
import sys
import urllib.error

sys.path.insert(0, os.path.dirname(__file__))
from harness import free_port, http, main, wait_for  # noqa: E402

TOKENS = {
    "portal": "intake:write",
    "caseworker": "casework:write",
    "ops-reader": "ops:read",
    "school-a": "school:100001",
    "school-b": "school:100002",
}
CHILD_A = {"given_name": "Zainab", "family_name": "Quarshie", "date_of_birth": "2016-02-29"}
CHILD_B = {"given_name": "Tobiah", "family_name": "Vrettos", "date_of_birth": "2015-07-19"}
CHILD_C = {"given_name": "Ysolde", "family_name": "Marchetti", "date_of_birth": "2017-01-31"}


def request(key, child, urn, requester="school"):
    return {
        "idempotency_key": key,
        "requester": {"type": requester},
        "child": child,
        "contact": {"name": "A Parent", "email": "parent@example.org",
                    "preferred_channel": "email"},
        "school": {"urn": urn, "name": f"School {urn}"},
        "areas_of_need": ["communication_and_interaction"],
        "received_date": "2026-11-23",
        "consent_to_share": True,
    }


def as_(stack, name):
    return stack.tokens[name]


def check_problem(r, status, field):
    assert r.status == status, (status, r.status, r.body)
    assert r.headers.get("Content-Type") == "application/problem+json", dict(r.headers)
    p = r.json()
    assert p["status"] == status, p
    assert any(e["field"] == field for e in p.get("errors", [])), p


def check_401(stack):
    for svc, method, path in (("intake", "POST", "/v1/requests"),
                              ("intake", "GET", "/v1/cases/c_00000000000000000000000000"),
                              ("evidence", "GET", "/v1/cases/c_00000000000000000000000000/advice"),
                              ("ops", "GET", "/v1/cases/c_00000000000000000000000000")):
        body = request("k-401", CHILD_A, "100001") if method == "POST" else None
        r = http(method, stack.url(svc, path), body, token=None)
        check_problem(r, 401, "Authorization")
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), dict(r.headers)
        r = http(method, stack.url(svc, path), body, token="spt_not-a-token-anyone-was-given")
        check_problem(r, 401, "Authorization")
        assert 'error="invalid_token"' in r.headers.get("WWW-Authenticate", ""), dict(r.headers)
        r = http(method, stack.url(svc, path), body, headers={"Authorization": "Basic eDp5"},
                 token=None)
        check_problem(r, 401, "Authorization")
    # Nothing was let through: no case events.
    assert stack.topic("sendpath.case-events") == []


def check_open_routes(stack):
    for svc in ("intake", "evidence", "timers", "notify", "ops"):
        for path in ("/healthz", "/readyz", "/metrics"):
            r = http("GET", stack.url(svc, path), token=None)
            assert r.status == 200, (svc, path, r.status)


def check_403_scope(stack):
    r = http("POST", stack.url("intake", "/v1/requests"),
             request("k-ops", CHILD_A, "100001", "parent"), token=as_(stack, "ops-reader"))
    check_problem(r, 403, "Authorization")
    assert "insufficient_scope" in r.headers.get("WWW-Authenticate", "")
    r = http("GET", stack.url("ops", "/v1/cases/c_00000000000000000000000000"),
             token=as_(stack, "portal"))
    check_problem(r, 403, "Authorization")
    r = http("POST", stack.url("intake", "/v1/plans"), {}, token=as_(stack, "portal"))
    check_problem(r, 403, "Authorization")
    r = http("POST", stack.url("intake", "/admin/clock"),
             {"now": "2030-01-01T00:00:00Z"}, token=as_(stack, "portal"))
    check_problem(r, 403, "Authorization")
    r = http("GET", stack.url("evidence", "/v1/cases/c_00000000000000000000000000/advice"),
             token=as_(stack, "school-a"))
    check_problem(r, 403, "Authorization")


def create(stack, token_name, body):
    r = http("POST", stack.url("intake", "/v1/requests"), body, token=as_(stack, token_name))
    assert r.status == 201, (token_name, r.status, r.body)
    return r.json()["case_id"]


def check_schools(stack):
    # A school opens a case for its own pupil only.
    r = http("POST", stack.url("intake", "/v1/requests"),
             request("a-for-b", CHILD_C, "100002"), token=as_(stack, "school-a"))
    check_problem(r, 403, "school.urn")
    case_a = create(stack, "school-a", request("a-1", CHILD_A, "100001"))
    case_b = create(stack, "portal", request("b-1", CHILD_B, "100002", "parent"))
    missing = "c_00000000000000000000000000"

    def get(svc, case, who):
        return http("GET", stack.url(svc, f"/v1/cases/{case}"), token=as_(stack, who))

    # intake: own case yes, another school's no, a missing one no (not 404).
    r = get("intake", case_a, "school-a")
    assert r.status == 200 and r.json()["school_urn"] == "100001", (r.status, r.body)
    check_problem(get("intake", case_b, "school-a"), 403, "case_id")
    check_problem(get("intake", missing, "school-a"), 403, "case_id")
    assert get("intake", case_b, "school-b").status == 200
    assert get("intake", missing, "caseworker").status == 404
    assert get("intake", case_b, "ops-reader").status == 200

    # ops, once the projection has the cases.
    for case in (case_a, case_b):
        wait_for(f"ops to show {case}", lambda c=case: get("ops", c, "ops-reader").status == 200)
    assert get("ops", case_a, "school-a").status == 200
    check_problem(get("ops", case_b, "school-a"), 403, "case_id")
    check_problem(get("ops", case_a, "school-b"), 403, "case_id")
    check_problem(get("ops", missing, "school-b"), 403, "case_id")
    assert get("ops", case_b, "school-b").status == 200
    assert get("ops", missing, "ops-reader").status == 404

    # A caseworker's command is not a school's to send.
    r = http("POST", stack.url("intake", f"/v1/cases/{case_a}/decision-to-assess"),
             {"idempotency_key": "d-1", "date": "2026-11-23", "assess": True},
             token=as_(stack, "school-a"))
    check_problem(r, 403, "Authorization")
    # A consultation answer only in the school's own name: school B naming
    # school A is refused; school A naming itself passes the check and meets
    # the state machine (the case is not at the consultation stage: 409).
    answer = {"idempotency_key": "s-1", "date": "2026-11-23", "school_urn": "100001",
              "agrees": True}
    r = http("POST", stack.url("intake", f"/v1/cases/{case_a}/school-responses"), answer,
             token=as_(stack, "school-b"))
    check_problem(r, 403, "school_urn")
    r = http("POST", stack.url("intake", f"/v1/cases/{case_a}/school-responses"), answer,
             token=as_(stack, "school-a"))
    assert r.status == 409, (r.status, r.body)
    return case_a, case_b


def check_sen_support(stack):
    body = {"idempotency_key": "sen-a", "child": CHILD_C,
            "contact": {"name": "A Parent", "email": "parent@example.org"},
            "school": {"urn": "100001", "name": "School 100001"},
            "outcomes_summary": "Reading age up by one year.",
            "date": "2026-09-10", "next_review_date": "2026-12-10"}
    r = http("POST", stack.url("intake", "/v1/sen-support"), body, token=as_(stack, "school-b"))
    check_problem(r, 403, "school.urn")
    r = http("POST", stack.url("intake", "/v1/sen-support"), body, token=as_(stack, "school-a"))
    assert r.status == 201, (r.status, r.body)
    case = r.json()["case_id"]
    review = {"idempotency_key": "rev-1", "date": "2026-11-20", "escalate": False,
              "next_review_date": "2027-02-01"}
    path = stack.url("intake", f"/v1/cases/{case}/sen-support-review")
    check_problem(http("POST", path, review, token=as_(stack, "school-b")), 403, "case_id")
    r = http("POST", path, review, token=as_(stack, "school-a"))
    assert r.status == 201 and r.json()["event_type"] == "sen_support.review_held", r.body
    r = http("POST", path, dict(review, idempotency_key="rev-2"), token=as_(stack, "caseworker"))
    assert r.status == 201, (r.status, r.body)


def check_reload(stack, case_b):
    url = stack.url("ops", f"/v1/cases/{case_b}")
    late = stack.add_token("late-reader", "ops:read")
    assert http("GET", url, token=late).status == 401  # not loaded yet
    stack.procs["ops"].send_signal(signal.SIGHUP)
    wait_for("ops to load the new token", lambda: http("GET", url, token=late).status == 200)
    # Revoke school-b: its line goes, ops is told, its token stops working.
    with open(stack.tokens_file) as f:
        lines = [ln for ln in f if " school-b " not in ln]
    with open(stack.tokens_file, "w") as f:
        f.writelines(lines)
    assert http("GET", url, token=as_(stack, "school-b")).status == 200
    stack.procs["ops"].send_signal(signal.SIGHUP)
    wait_for("ops to refuse the revoked token",
             lambda: http("GET", url, token=as_(stack, "school-b")).status == 401)
    # A broken file is refused as a whole; the tokens in use stay.
    with open(stack.tokens_file, "a") as f:
        f.write("not-a-hash someone ops:read\n")
    stack.procs["ops"].send_signal(signal.SIGHUP)
    log = os.path.join(stack.var, "logs", "ops.log")
    wait_for("ops to refuse the broken file",
             lambda: "tokens not reloaded" in open(log).read())
    assert http("GET", url, token=late).status == 200
    with open(stack.tokens_file, "w") as f:
        f.writelines(lines)


def read_logs(stack):
    logs = {}
    for name in ("intake", "evidence", "timers", "notify", "ops"):
        with open(os.path.join(stack.var, "logs", name + ".log"), errors="replace") as f:
            logs[name] = f.read()
    return logs


def access_lines(log):
    out = []
    for line in log.splitlines():
        try:
            msg = json.loads(line).get("msg", "")
        except ValueError:
            continue
        if msg.startswith("access "):
            out.append(msg)
    return out


def check_logs(stack, case_a):
    logs = read_logs(stack)
    intake = access_lines(logs["intake"])
    assert any(m.startswith("access POST /v1/requests 201 token=school-a ") for m in intake), intake
    assert any(m.startswith("access POST /v1/requests 401 token=- ") for m in intake), intake
    assert any(m.startswith("access POST /v1/requests 403 token=ops-reader ") for m in intake)
    assert any(m.startswith(f"access GET /v1/cases/{case_a} 200 token=school-a ") for m in intake)
    ops = access_lines(logs["ops"])
    assert any(" 403 token=school-b " in m for m in ops), ops
    text = "".join(logs.values())
    for child in (CHILD_A, CHILD_B, CHILD_C):
        for v in child.values():
            assert v not in text, f"a log holds a child's {v!r}"
    for name, token in stack.tokens.items():
        assert token not in text, f"a log holds the token of {name}"
        assert token[4:] not in text


def make_cert(stack):
    cert, key = os.path.join(stack.dir, "tls.crt"), os.path.join(stack.dir, "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def check_tls(stack, case_a):
    cert, key = make_cert(stack)
    assert stack.stop_service("intake") == 0
    # Connections already open stay authenticated; new ones need the password.
    password = "redis-pw-" + os.urandom(8).hex()
    assert stack.redis("CONFIG", "SET", "requirepass", password) == "OK"
    stack.ports["intake"] = free_port()
    stack.extra_env.update({"SENDPATH_INTAKE_HTTP_TLS_CERT_FILE": cert,
                            "SENDPATH_INTAKE_HTTP_TLS_KEY_FILE": key,
                            "SENDPATH_INTAKE_REDIS_PASSWORD": "not-the-password"})
    stack.start_service("intake")
    base = f"https://127.0.0.1:{stack.ports['intake']}"
    ctx = ssl.create_default_context(cafile=cert)
    log = os.path.join(stack.var, "logs", "intake.log")
    wait_for("intake to report the refused password",
             lambda: "AUTH refused" in open(log).read(), timeout=30)
    for _ in range(10):
        r = http("GET", base + "/readyz", timeout=2, context=ctx)
        assert r.status == 503 and r.json()["redis"] is False, (r.status, r.body)
    assert stack.stop_service("intake") == 0
    stack.extra_env["SENDPATH_INTAKE_REDIS_PASSWORD"] = password
    stack.start_service("intake")
    wait_for("intake over https",
             lambda: http("GET", base + "/readyz", timeout=2, context=ctx).status == 200,
             timeout=60, interval=0.2)
    r = http("GET", f"{base}/v1/cases/{case_a}", context=ctx)
    assert r.status == 200 and r.json()["case_id"] == case_a, (r.status, r.body)
    r = http("GET", f"{base}/v1/cases/{case_a}", context=ctx, token=None)
    assert r.status == 401, r.status
    # A client that does not trust the certificate does not get in.
    try:
        http("GET", base + "/healthz", context=ssl.create_default_context())
        raise AssertionError("an untrusted certificate was accepted")
    except urllib.error.URLError as e:
        assert "CERTIFICATE_VERIFY_FAILED" in str(e), e
    # Plain HTTP to the TLS port gets no HTTP answer.
    try:
        r = http("GET", stack.url("intake", "/healthz"), timeout=5)
        raise AssertionError(f"plain HTTP answered {r.status}")
    except (urllib.error.URLError, ConnectionError, OSError):
        pass
    # The CLI, with the token and the CA from the environment.
    env = dict(os.environ, SENDPATH_INTAKE_URL=base, SENDPATH_CA_FILE=cert,
               SENDPATH_TOKEN=stack.tokens["portal"])
    path = os.path.join(stack.dir, "req.json")
    with open(path, "w") as f:
        json.dump(request("cli-tls", {"given_name": "Oluwaseun", "family_name": "Brannagh",
                                      "date_of_birth": "2016-06-06"}, "100002", "parent"), f)
    out = subprocess.run([os.path.join(stack.build, "tools/cli/sendpath"), "request",
                          "--file", path], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0 and '"state":"received"' in out.stdout, (out.stdout, out.stderr)
    env["SENDPATH_TOKEN"] = stack.tokens["ops-reader"]
    out = subprocess.run([os.path.join(stack.build, "tools/cli/sendpath"), "request",
                          "--file", path], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 1 and '"status":403' in out.stdout, (out.stdout, out.stderr)
    with open(os.path.join(stack.var, "logs", "intake.log")) as f:
        assert '"started: https on' in f.read()


def test(stack):
    check_401(stack)
    check_open_routes(stack)
    check_403_scope(stack)
    case_a, case_b = check_schools(stack)
    check_sen_support(stack)
    check_reload(stack, case_b)
    check_logs(stack, case_a)
    check_tls(stack, case_a)
    codes = stack.stop()
    assert all(c == 0 for c in codes.values()), codes


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T10:00:00Z", tokens=TOKENS)
