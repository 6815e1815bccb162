"""The smtp channel, end to end, against a real SMTP server (Debian's
python3-aiosmtpd) on loopback that requires STARTTLS (a certificate of the
test's own CA, given to notify as notify.smtp.ca_file) and AUTH over it.

    POST /v1/requests -> intake -> timers -> deadline.started -> notify
    -> libcurl -> SMTP (STARTTLS, AUTH, MAIL FROM, RCPT TO, DATA) -> the server

Checks:
  1. one message arrives, with the right envelope, To, Reply-To, Subject,
     Message-ID, CRLF line ends, and "Monday 4 January 2027" in the body;
     notification.sent says channel smtp with the Message-ID as provider id;
  2. the same deadline event delivered again sends nothing (the outcome is
     republished with the same id);
  2b. a 451 to RCPT TO is retried (notification.failed, then
     notification.sent on attempt 2); a 550 is refused: the event is
     dead-lettered with the server's reply and notification.dead_lettered
     says refused;
  3. 1,000 request.received + deadline.started pairs, produced directly,
     with notify SIGKILLed in the middle of the burst and restarted: 1,000
     distinct messages arrive. deliver.h documents the one window the
     protocol leaves (a crash after the server took a message and before
     Redis recorded it as sent re-sends it once): the test reads which
     deliveries were in that window (notify:sent:<key> still "sending" at the
     kill), prints the duplicates it measured, and fails on any duplicate
     outside that window.
  4. smtps:// (implicit TLS): notify restarted against a second server
     that is TLS from the first byte; the message arrives encrypted, after
     AUTH, trusting the same test CA.
"""
import email
import email.policy
import json
import logging
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter, defaultdict

sys.path.insert(0, os.path.dirname(__file__))
from harness import free_port, http, main, wait_for  # noqa: E402
from test_slice import REQUEST  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult  # noqa: E402

# aiosmtpd warns about its own deprecated attribute on every session.
logging.getLogger("mail.log").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", module="aiosmtpd")

SMTP_PORT = free_port()
TLS_DIR = tempfile.mkdtemp(prefix="sendpath-smtp-tls-")
CERT, KEY = os.path.join(TLS_DIR, "cert.pem"), os.path.join(TLS_DIR, "key.pem")
USER, PASSWORD = "sendpath", "smtp-test-secret"
REPLY_TO = "SEND Team replies <send-replies@council.example>"
BURST = 1000
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class Mailbox:
    """What the SMTP server received: (mail_from, rcpt_tos, raw bytes)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items = []
        self.logins = 0
        self.rcpts = defaultdict(int)
        self.tls_sessions = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            self.rcpts[address] += 1
            n = self.rcpts[address]
        if address == "nobody@example.org":
            return "550 5.1.1 No such user here"
        if address == "later@example.org" and n == 1:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            # STARTTLS sets session.ssl; implicit TLS (smtps://) is a TLS
            # transport from the first byte.
            self.tls_sessions += (session.ssl is not None or
                                  server.transport.get_extra_info("ssl_object") is not None)
            self.items.append((envelope.mail_from, list(envelope.rcpt_tos),
                               bytes(envelope.content)))
        return "250 2.0.0 OK: queued"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
        if ok:
            with self.lock:
                self.logins += 1
        return AuthResult(success=ok)

    def messages(self):
        with self.lock:
            items = list(self.items)
        return [(f, t, raw, email.message_from_bytes(raw, policy=email.policy.default))
                for f, t, raw in items]


def delivery_id(msg):
    m = re.fullmatch(r"<([0-9a-f]{32})@sendpath>", msg["Message-ID"] or "")
    assert m, msg["Message-ID"]
    return m.group(1)


def check_first_message(stack, box, case_id):
    got = wait_for("the acknowledgement over SMTP", lambda: [
        m for m in box.messages() if m[3]["X-Sendpath-Case"] == case_id])
    time.sleep(1)  # anything else for this case would have come by now
    mine = [m for m in box.messages() if m[3]["X-Sendpath-Case"] == case_id and
            m[3]["X-Sendpath-Template"] == "request_received"]
    assert len(mine) == 1, f"{len(mine)} acknowledgements"
    mail_from, rcpts, raw, msg = mine[0]
    assert mail_from == "send@council.example", mail_from
    assert rcpts == ["ngozi.okafor@example.org"], rcpts
    to = msg["To"].addresses
    assert len(to) == 1 and to[0].display_name == "Ngozi Okafor", msg["To"]
    assert to[0].addr_spec == "ngozi.okafor@example.org", msg["To"]
    assert str(msg["Reply-To"]) == REPLY_TO, msg["Reply-To"]
    assert msg["Subject"] == "We have your request for an assessment for Amara", msg["Subject"]
    assert re.search(rb"(?<!\r)\n", raw) is None, "a bare LF went over SMTP"
    body = msg.get_content()
    assert "Monday 4 January 2027" in body, body
    assert "((" not in body, body
    assert box.logins >= 1, "notify did not log in"
    assert box.tls_sessions >= 1, "notify did not use STARTTLS"
    did = delivery_id(msg)
    sent = wait_for("notification.sent", lambda: [
        e for e in stack.events("sendpath.notification-outcomes")
        if e["subject"] == case_id and e["type"] == "notification.sent"
        and e["data"]["template"] == "request_received"])
    d = sent[0]["data"]
    assert d["channel"] == "smtp" and d["outcome"] == "sent" and d["attempt"] == 1, d
    assert d["provider_id"] == f"{did}@sendpath", d
    assert sent[0]["id"] == f"{case_id}/notification.sent/{did}", sent[0]["id"]
    assert "ngozi" not in json.dumps(sent[0]).lower(), "personal data in an outcome"
    print(f"smtp: 1 message to the parent, {len(got)} for the case in all", file=sys.stderr)
    return did


def check_redelivery(stack, box, case_id):
    deadline = [m for m in stack.topic("sendpath.deadlines")
                if json.loads(m["value"])["subject"] == case_id
                and json.loads(m["value"])["type"] == "deadline.started"][0]
    before = len(box.messages())

    def outcomes():
        return [e for e in stack.events("sendpath.notification-outcomes")
                if e["subject"] == case_id and e["type"] == "notification.sent"
                and e["data"]["template"] == "request_received"]
    n = len(outcomes())
    stack.produce("sendpath.deadlines", case_id, deadline["value"])
    again = wait_for("the outcome republished", lambda: len(outcomes()) > n and outcomes())
    assert len({e["id"] for e in again}) == 1, "a repeat got a new outcome id"
    time.sleep(1)
    assert len(box.messages()) == before, "the repeated event sent a second message"
    print("smtp: the same deadline event twice: still 1 message, outcome republished",
          file=sys.stderr)


def post_request(stack, key, addr, child):
    body = json.loads(json.dumps(REQUEST))
    body.update(idempotency_key=key)
    body["contact"]["email"] = addr
    body["child"]["given_name"] = child
    r = http("POST", stack.url("intake", "/v1/requests"), body)
    assert r.status == 201, (r.status, r.body)
    return r.json()["case_id"]


def outcomes_of(stack, case_id, kind):
    return [e for e in stack.events("sendpath.notification-outcomes")
            if e["subject"] == case_id and e["type"] == kind
            and e["data"]["template"] == "request_received"]


def check_smtp_failures(stack, box):
    later = post_request(stack, "smtp-later-1", "later@example.org", "Bisi")
    nobody = post_request(stack, "smtp-nobody-1", "nobody@example.org", "Chidi")
    sent = wait_for("sent on attempt 2", lambda: outcomes_of(stack, later, "notification.sent"))
    failed = outcomes_of(stack, later, "notification.failed")
    assert [e["data"]["attempt"] for e in failed] == [1], failed
    assert "451" in failed[0]["data"]["reason"], failed[0]["data"]
    assert sent[0]["data"]["attempt"] == 2, sent[0]["data"]
    got = [m for m in box.messages() if m[3]["X-Sendpath-Case"] == later]
    assert len(got) == 1, f"{len(got)} messages after a 451"
    dead = wait_for("dead-lettered", lambda: outcomes_of(stack, nobody,
                                                         "notification.dead_lettered"))
    d = dead[0]["data"]
    assert d["outcome"] == "refused" and d["attempt"] == 1 and "550" in d["reason"], d
    assert not outcomes_of(stack, nobody, "notification.failed"), "a 550 was retried"
    out = subprocess.run(["kcat", "-b", stack.bootstrap, "-C", "-t", "sendpath.deadletter",
                          "-o", "beginning", "-e", "-q", "-f", "%k\t%h\n"],
                         capture_output=True, text=True, timeout=10).stdout
    letters = [line for line in out.splitlines()
               if line.startswith(nobody) and "x-source-topic=notify:send" in line]
    assert len(letters) == 1 and "x-reason=smtp 550" in letters[0], out[-2000:]
    assert box.rcpts["nobody@example.org"] == 1, "a refused recipient was tried again"
    print("smtp: 451 -> failed(1), sent(2), one message; 550 -> dead-lettered (refused)",
          file=sys.stderr)


def burst_case_id(i):
    n, out = i, ""
    for _ in range(12):
        out = CROCKFORD[n % 32] + out
        n //= 32
    return "c_01TESTBRST000" + out + "0"


def burst_events(stack, case_id, first=0, n=BURST):
    """n (1,000) pairs shaped like the real ones, from the test's own source."""
    req = [e for e in stack.events("sendpath.case-events")
           if e["subject"] == case_id and e["type"] == "request.received"][0]
    ddl = [e for e in stack.events("sendpath.deadlines")
           if e["subject"] == case_id and e["type"] == "deadline.started"][0]
    reqs, ddls = [], []
    for i in range(first, first + n):
        cid = burst_case_id(i)
        r = json.loads(json.dumps(req))
        r.pop("_partition")
        r.update(id=f"{cid}/request.received", source="/sendpath/test", subject=cid)
        r["data"]["case_id"] = cid
        r["data"]["contact"]["email"] = f"parent{i}@example.org"
        d = json.loads(json.dumps(ddl))
        d.pop("_partition")
        d.update(id=ddl["id"].replace(case_id, cid), source="/sendpath/test", subject=cid)
        d["data"] = json.loads(json.dumps(ddl["data"]).replace(case_id, cid))
        reqs.append((cid, json.dumps(r)))
        ddls.append((cid, json.dumps(d)))
    return reqs, ddls


def sending_keys(stack):
    """Delivery ids whose notify:sent key is still "sending"."""
    keys = [k for k in stack.redis("--scan", "--pattern", "notify:sent:*").split("\n") if k]
    out = set()
    for i in range(0, len(keys), 200):
        chunk = keys[i:i + 200]
        values = stack.redis("MGET", *chunk).split("\n")
        out |= {k.split(":")[2][:32] for k, v in zip(chunk, values) if v == "sending"}
    return out


def check_burst_with_kill(stack, box, case_id):
    reqs, ddls = burst_events(stack, case_id)
    burst = {cid for cid, _ in reqs}
    stack.stop_service("intake")  # the burst is produced directly: notify alone
    stack.stop_service("timers")

    def received():
        return [m for m in box.messages() if m[3]["X-Sendpath-Case"] in burst]
    t0 = time.time()
    stack.produce_many("sendpath.case-events", reqs)
    stack.produce_many("sendpath.deadlines", ddls)
    wait_for("the burst to be under way", lambda: len(received()) >= 150, timeout=120)
    stack.kill("notify")
    at_kill = len(received())
    window = sending_keys(stack)
    stack.start_service("notify")
    stack.wait_ready("notify")
    wait_for("1,000 distinct messages", lambda: len({delivery_id(m[3]) for m in received()})
             >= BURST, timeout=240, interval=0.5)
    took = time.time() - t0
    time.sleep(2)  # a late duplicate would arrive by now
    got = received()
    counts = Counter(delivery_id(m[3]) for m in got)
    dups = {k: c - 1 for k, c in counts.items() if c > 1}
    inside = sum(c for k, c in dups.items() if k in window)
    outside = sum(c for k, c in dups.items() if k not in window)
    per_case = Counter(m[3]["X-Sendpath-Case"] for m in got)
    print(f"smtp burst: {len(got)} messages received for {BURST} requests in {took:.1f} s; "
          f"{len(counts)} distinct; SIGKILL after {at_kill}; deliveries in the "
          f"documented window at the kill ('sending'): {len(window)}; duplicates: "
          f"{inside} inside that window, {outside} outside it", file=sys.stderr)
    assert len(counts) == BURST, len(counts)
    assert set(per_case) == burst, "a case got no message"
    assert outside == 0, f"{outside} duplicate(s) outside the documented window: {dups}"
    assert inside <= len(window)


def check_implicit_tls(stack, ctx, case_id):
    """smtps:// (implicit TLS, as on port 465): notify restarted against a
    server that speaks TLS from the first byte, with a certificate only the
    test's CA (notify.smtp.ca_file) vouches for, and AUTH inside it."""
    box = Mailbox()
    port = free_port()
    # aiosmtpd cannot tell an implicit-TLS session from a clear one, so it
    # must be told not to insist on STARTTLS before AUTH.
    server = Controller(box, hostname="127.0.0.1", port=port, ssl_context=ctx,
                        authenticator=box.authenticate, auth_required=True,
                        auth_require_tls=False)
    server.start()
    try:
        assert stack.stop_service("notify") == 0
        stack.extra_env.update({"SENDPATH_NOTIFY_SMTP_URL": f"smtps://127.0.0.1:{port}",
                                "SENDPATH_NOTIFY_SMTP_STARTTLS": "no"})
        stack.start_service("notify")
        stack.wait_ready("notify")
        # intake and timers are stopped (the burst): one more pair, produced
        (req,), (ddl,) = burst_events(stack, case_id, first=BURST, n=1)
        stack.produce("sendpath.case-events", *req)
        stack.produce("sendpath.deadlines", *ddl)
        got = wait_for("the acknowledgement over smtps://", lambda: [
            m for m in box.messages() if m[3]["X-Sendpath-Case"] == req[0]])
        mail_from, rcpts, raw, msg = got[0]
        assert rcpts == [f"parent{BURST}@example.org"], rcpts
        assert "Monday 4 January 2027" in msg.get_content()
        assert box.tls_sessions == len(box.items) >= 1, "a message went in the clear"
        assert box.logins >= 1, "notify did not log in"
        print("smtps://: 1 message over implicit TLS with AUTH", file=sys.stderr)
    finally:
        server.stop()


def make_certificate():
    """A self-signed certificate for 127.0.0.1: the server's, and the CA
    notify trusts (notify.smtp.ca_file)."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", KEY, "-out", CERT, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(CERT, KEY)
    return ctx


def test(stack):
    box = Mailbox()
    ctx = make_certificate()
    server = Controller(box, hostname="127.0.0.1", port=SMTP_PORT,
                        tls_context=ctx, require_starttls=True,
                        authenticator=box.authenticate, auth_required=True)
    server.start()
    try:
        r = http("POST", stack.url("intake", "/v1/requests"), REQUEST)
        assert r.status == 201, (r.status, r.body)
        case_id = r.json()["case_id"]
        check_first_message(stack, box, case_id)
        check_redelivery(stack, box, case_id)
        check_smtp_failures(stack, box)
        check_burst_with_kill(stack, box, case_id)
        check_implicit_tls(stack, ctx, case_id)
        codes = stack.stop()
        assert all(c == 0 for c in codes.values()), f"unclean shutdown: {codes}"
    finally:
        server.stop()
        shutil.rmtree(TLS_DIR, ignore_errors=True)


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T10:00:00Z", services=("intake", "timers", "notify"),
         extra_env={"SENDPATH_NOTIFY_CHANNEL": "smtp",
                    "SENDPATH_NOTIFY_SMTP_URL": f"smtp://127.0.0.1:{SMTP_PORT}",
                    "SENDPATH_NOTIFY_SMTP_STARTTLS": "yes",
                    "SENDPATH_NOTIFY_SMTP_CA_FILE": CERT,
                    "SENDPATH_NOTIFY_SMTP_USERNAME": USER,
                    "SENDPATH_NOTIFY_SMTP_PASSWORD": PASSWORD,
                    "SENDPATH_NOTIFY_REPLY_TO": REPLY_TO})
