"""The notify channel (GOV.UK Notify's REST API), end to end, against a
local HTTP server that checks each request the way Notify documents it:

  - Authorization: Bearer <JWT>, HS256, signed with the API key's secret,
    iss = the service id, iat within 30 s of now;
  - a JSON body with email_address, template_id (one of those configured),
    personalisation holding every placeholder of the template, and a
    reference that holds no email address or name.

It answers 201 {id, reference, ...}, or what the test scripts for an
address:

  retry@example.org   429, then 500, then 201: two notification.failed
                      outcomes (attempts 1 and 2, with backoff between the
                      requests), then notification.sent (attempt 3);
  refuse@example.org  400: the event is dead-lettered with Notify's reason,
                      and notification.dead_lettered says refused;

and the refused one, posted after the retried one, is answered before the
retried one's last attempt: the provider's retries do not hold up the batch.

  later@example.org   503, then 201, with notify stopped (SIGTERM) while the
                      job waits in its partition's queue notify:retry:{s<p>};
                      the job is then moved to the one global queue an older
                      notify kept (notify:retry, notify:retry:<sha256>), as an
                      upgrade finds it, and notify started again: the new
                      process drains the old queue and sends it (attempt 2).

Last, notify is restarted with notify.rate_per_minute = 60 and three
messages are sent: the token bucket spaces them about a second apart.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
from harness import free_port, http, main, wait_for  # noqa: E402
from test_slice import REQUEST  # noqa: E402

NOTIFY_PORT = free_port()
SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
API_KEY = f"sendpath_test-{SERVICE_ID}-{SECRET}"
REPLY_TO_ID = "0f3e9a3c-77a9-4f2b-9c35-3b1f9e1a0d55"
BASE_MS = 1000
SOURCE = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))

# Every template gets a Notify id, as a council's config would.
TEMPLATES = {os.path.basename(p)[:-4]: str(uuid.uuid5(uuid.NAMESPACE_URL, p))
             for p in sorted(os.listdir(os.path.join(SOURCE, "templates")))
             if p.endswith(".txt")}
SCRIPTS = {"retry@example.org": [429, 500, 201], "refuse@example.org": [400],
           "later@example.org": [503, 201]}
ERRORS = {
    400: ("BadRequestError", "Can't send to this recipient using a team-only API key"),
    403: ("AuthError", "Invalid token: signature, api token not found"),
    429: ("RateLimitError", "Exceeded rate limit for key type LIVE of 3000 requests "
                            "per 60 seconds"),
    500: ("Exception", "Internal server error"),
    503: ("Exception", "Service unavailable"),
}


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def placeholders(template):
    with open(os.path.join(SOURCE, "templates", template + ".txt")) as f:
        return set(re.findall(r"\(\(([a-z0-9_]+)\)\)", f.read()))


class FakeNotify:
    """A GOV.UK Notify stand-in: checks like Notify, answers as scripted."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []  # dicts: t, email, reference, status, id, problems
        self.scripts = {k: list(v) for k, v in SCRIPTS.items()}

    def check(self, headers, body):
        """The problems Notify would have with this request (empty: none)."""
        problems = []
        auth = headers.get("Authorization", "")
        m = re.fullmatch(r"Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)", auth)
        if not m:
            return ["no Bearer token"]
        signing_input = f"{m.group(1)}.{m.group(2)}".encode()
        want = hmac.new(SECRET.encode(), signing_input, hashlib.sha256).digest()
        if not hmac.compare_digest(want, b64url_decode(m.group(3))):
            problems.append("bad signature")
        header = json.loads(b64url_decode(m.group(1)))
        claims = json.loads(b64url_decode(m.group(2)))
        if header.get("alg") != "HS256" or header.get("typ") != "JWT":
            problems.append(f"header {header}")
        if claims.get("iss") != SERVICE_ID:
            problems.append("iss is not the service id")
        if not isinstance(claims.get("iat"), int) or abs(claims["iat"] - time.time()) > 30:
            problems.append(f"iat {claims.get('iat')} is not within 30 s of now")
        if headers.get("Content-Type") != "application/json":
            problems.append("Content-Type is not application/json")
        for field in ("email_address", "template_id", "personalisation", "reference"):
            if field not in body:
                problems.append(f"no {field}")
        names = {v: k for k, v in TEMPLATES.items()}
        template = names.get(body.get("template_id"))
        if not template:
            problems.append("template_id is not a configured template")
        elif not placeholders(template) <= set(body.get("personalisation", {})):
            problems.append(f"personalisation lacks "
                            f"{placeholders(template) - set(body['personalisation'])}")
        ref = str(body.get("reference", ""))
        personal = [body.get("email_address", "")] + [
            str(v) for v in body.get("personalisation", {}).values()]
        if not re.fullmatch(r"[0-9a-f]{32}", ref) or any(
                p and p.lower() in ref.lower() for p in personal):
            problems.append("reference is not a delivery id, or holds personal data")
        if body.get("email_reply_to_id") != REPLY_TO_ID:
            problems.append("email_reply_to_id is not the configured one")
        return problems

    def answer(self, headers, body):
        problems = self.check(headers, body)
        addr = body.get("email_address", "")
        with self.lock:
            script = self.scripts.get(addr)
            status = 403 if problems else (script.pop(0) if script else 201)
            rec = {"t": time.time(), "email": addr, "reference": body.get("reference"),
                   "status": status, "problems": problems,
                   "personalisation": body.get("personalisation"),
                   "id": str(uuid.uuid4())}
            self.requests.append(rec)
        if status == 201:
            return status, {"id": rec["id"], "reference": rec["reference"],
                            "content": {"subject": "...", "body": "...",
                                        "from_email": "send@council.example"},
                            "uri": f"https://api.example/v2/notifications/{rec['id']}",
                            "template": {"id": body.get("template_id"), "version": 1,
                                         "uri": "https://api.example/template"}}
        error, message = ERRORS[status]
        return status, {"errors": [{"error": error, "message": message}],
                        "status_code": status}

    def of(self, addr):
        with self.lock:
            return [r for r in self.requests if r["email"] == addr]


def serve(fake):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(n) or b"{}")
            if self.path != "/v2/notifications/email":
                status, out = 404, {"errors": [{"error": "NotFound", "message": self.path}]}
            else:
                status, out = fake.answer(self.headers, body)
            data = json.dumps(out).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", NOTIFY_PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def post_request(stack, key, addr, child):
    body = json.loads(json.dumps(REQUEST))
    body["idempotency_key"] = key
    body["contact"]["email"] = addr
    body["child"]["given_name"] = child
    r = http("POST", stack.url("intake", "/v1/requests"), body)
    assert r.status == 201, (r.status, r.body)
    return r.json()["case_id"]


def outcomes(stack, case_id):
    return [e for e in stack.events("sendpath.notification-outcomes")
            if e["subject"] == case_id and e["data"]["template"] == "request_received"]


def check_retried(stack, fake, case_id):
    sent = wait_for("notification.sent after two failures", lambda: [
        e for e in outcomes(stack, case_id) if e["type"] == "notification.sent"], timeout=60)
    reqs = fake.of("retry@example.org")
    assert [r["status"] for r in reqs] == [429, 500, 201], [r["status"] for r in reqs]
    assert all(not r["problems"] for r in reqs), [r["problems"] for r in reqs]
    assert len({r["reference"] for r in reqs}) == 1, "the reference changed between attempts"
    gaps = [b["t"] - a["t"] for a, b in zip(reqs, reqs[1:])]
    # equal jitter: attempt n waits between half and all of base * 2^(n-1)
    assert gaps[0] >= BASE_MS / 2000 - 0.05 and gaps[1] >= BASE_MS / 1000 - 0.05, gaps
    evs = outcomes(stack, case_id)
    failed = sorted((e for e in evs if e["type"] == "notification.failed"),
                    key=lambda e: e["data"]["attempt"])
    assert [e["data"]["attempt"] for e in failed] == [1, 2], failed
    assert "429" in failed[0]["data"]["reason"] and "RateLimitError" in failed[0]["data"]["reason"]
    assert "500" in failed[1]["data"]["reason"], failed[1]["data"]
    for e in failed:
        assert e["data"]["outcome"] == "failed" and e["data"]["channel"] == "notify", e
        assert e["id"].endswith(f"/{reqs[0]['reference']}/{e['data']['attempt']}"), e["id"]
        assert "next_attempt_at" in e["data"], e
    d = sent[0]["data"]
    assert d["attempt"] == 3 and d["provider_id"] == reqs[2]["id"], d
    assert sent[0]["id"] == f"{case_id}/notification.sent/{reqs[0]['reference']}"
    assert "retry@" not in json.dumps(evs), "an address in an outcome"
    print(f"notify: 429, 500, 201 -> failed(1), failed(2), sent(3); gaps between "
          f"requests {gaps[0]:.2f} s and {gaps[1]:.2f} s (base {BASE_MS} ms)",
          file=sys.stderr)
    return reqs


def dead_letters(stack):
    out = subprocess.run(["kcat", "-b", stack.bootstrap, "-C", "-t", "sendpath.deadletter",
                          "-o", "beginning", "-e", "-q", "-f", "%k\t%h\t%s\n"],
                         capture_output=True, text=True, timeout=10).stdout
    return [line.split("\t", 2) for line in out.splitlines() if line.strip()]


def check_refused(stack, fake, case_id):
    dl = wait_for("notification.dead_lettered", lambda: [
        e for e in outcomes(stack, case_id) if e["type"] == "notification.dead_lettered"])
    reqs = fake.of("refuse@example.org")
    assert [r["status"] for r in reqs] == [400], reqs
    assert not reqs[0]["problems"], reqs[0]["problems"]
    d = dl[0]["data"]
    assert d["outcome"] == "refused" and d["attempt"] == 1, d
    assert "BadRequestError" in d["reason"] and "team-only API key" in d["reason"], d
    assert not [e for e in outcomes(stack, case_id) if e["type"] != "notification.dead_lettered"]
    letters = wait_for("the dead letter", lambda: [
        x for x in dead_letters(stack) if x[0] == case_id and "notify:send" in x[1]])
    key, headers, value = letters[0]
    assert "x-reason=HTTP 400" in headers and "BadRequestError" in headers, headers
    assert f"x-delivery-id={reqs[0]['reference']}" in headers, headers
    ev = json.loads(value)
    assert ev["type"] == "deadline.started" and ev["subject"] == case_id, ev
    time.sleep(1.5)  # no further attempt
    assert len(fake.of("refuse@example.org")) == 1, "a refused message was tried again"
    print("notify: 400 -> dead-lettered with Notify's reason, notification.dead_lettered "
          "(refused)", file=sys.stderr)
    return reqs


def retry_queue(case_id):
    """The retry queue of case_id's partition (6 partitions here)."""
    return "notify:retry:{s%d}" % (zlib.crc32(case_id.encode()) % 6)


def check_resumed_after_restart(stack, fake):
    case_id = post_request(stack, "govuk-later-1", "later@example.org", "Dayo")
    # SIGTERM at once, well before the retry is due (at least BASE_MS / 2)
    wait_for("the first attempt", lambda: fake.of("later@example.org"), interval=0.01)
    assert stack.stop_service("notify") == 0, "notify did not stop cleanly"
    failed = [e for e in outcomes(stack, case_id) if e["type"] == "notification.failed"]
    assert len(failed) == 1 and failed[0]["data"]["attempt"] == 1, failed
    queue = retry_queue(case_id)
    assert stack.redis("ZCARD", queue) == "1", f"{queue} does not hold the job"
    assert stack.redis("EXISTS", "notify:retry") == "0", "a job in the old global queue"
    # An upgrade: the job as an older notify left it, in the global queue.
    key = stack.redis("ZRANGE", queue, "0", "-1").strip()
    stack.redis("RENAME", f"{queue}:{key}", f"notify:retry:{key}")
    stack.redis("RENAME", queue, "notify:retry")
    stack.start_service("notify")
    stack.wait_ready("notify")
    sent = wait_for("sent by the restarted notify", lambda: [
        e for e in outcomes(stack, case_id) if e["type"] == "notification.sent"], timeout=60)
    assert sent[0]["data"]["attempt"] == 2, sent[0]["data"]
    assert [r["status"] for r in fake.of("later@example.org")] == [503, 201]
    wait_for("the old queue drained", lambda: stack.redis("EXISTS", "notify:retry",
                                                          f"notify:retry:{key}") == "0")
    assert stack.redis("ZCARD", queue) == "0", "the job went to the partition's queue"
    assert stack.redis("GET", f"notify:sent:{key}").startswith("sent"), "no sent mark"
    print("notify: 503, SIGTERM with the job in its partition's queue, moved to the old "
          "global queue, restart -> sent(2), the old queue drained", file=sys.stderr)


def check_rate_limit(stack, fake):
    stack.stop_service("notify")
    stack.extra_env["SENDPATH_NOTIFY_RATE_PER_MINUTE"] = "60"
    stack.start_service("notify")
    stack.wait_ready("notify")
    addrs = [f"rate{i}@example.org" for i in range(3)]
    for i, addr in enumerate(addrs):
        post_request(stack, f"govuk-rate-{i}", addr, f"Rate{'abc'[i]}")
    wait_for("three rate-limited sends", lambda: all(fake.of(a) for a in addrs), timeout=60)
    times = sorted(fake.of(a)[0]["t"] for a in addrs)
    gaps = [b - a for a, b in zip(times, times[1:])]
    # 60 a minute: one token held, 59 a minute refilled: about 1.02 s apart
    assert all(g >= 0.95 for g in gaps), gaps
    print(f"notify: at 60 a minute, sends {gaps[0]:.2f} s and {gaps[1]:.2f} s apart",
          file=sys.stderr)


def test(stack):
    fake = FakeNotify()
    server = serve(fake)
    try:
        retried = post_request(stack, "govuk-retry-1", "retry@example.org", "Amara")
        refused = post_request(stack, "govuk-refuse-1", "refuse@example.org", "Chidi")
        tries = check_retried(stack, fake, retried)
        no = check_refused(stack, fake, refused)
        assert no[0]["t"] < tries[2]["t"], "the refused message waited for the retries"
        check_resumed_after_restart(stack, fake)
        check_rate_limit(stack, fake)
        assert all(not r["problems"] for r in fake.requests), \
            [r["problems"] for r in fake.requests]
        codes = stack.stop()
        assert all(c == 0 for c in codes.values()), f"unclean shutdown: {codes}"
    finally:
        server.shutdown()


if __name__ == "__main__":
    env = {"SENDPATH_NOTIFY_CHANNEL": "notify",
           "SENDPATH_NOTIFY_NOTIFY_BASE_URL": f"http://127.0.0.1:{NOTIFY_PORT}",
           "SENDPATH_NOTIFY_NOTIFY_API_KEY": API_KEY,
           "SENDPATH_NOTIFY_NOTIFY_EMAIL_REPLY_TO_ID": REPLY_TO_ID,
           "SENDPATH_NOTIFY_RETRY_BASE_MS": str(BASE_MS)}
    env.update({f"SENDPATH_NOTIFY_NOTIFY_TEMPLATE_{name.upper()}": tid
                for name, tid in TEMPLATES.items()})
    main(test, clock_start="2026-11-23T10:00:00Z", services=("intake", "timers", "notify"),
         extra_env=env)
