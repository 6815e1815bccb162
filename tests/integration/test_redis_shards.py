"""Timers' and evidence's shards on three Redis servers (redis.shards), one
of them down.

    redis.shards = 0-1@A,2-3@B,4-5@C

300 cases are put on case-events (kcat, librdkafka's default partitioner:
each case's partition must be CRC-32(case id) mod 6, what the services'
sp_service_partition_of computes for their HTTP paths). Each case's clock
must be armed on the server of its partition and nowhere else (not on the
other two, not on redis.host), and so must evidence's records of it. For one
case per partition, evidence's HTTP paths, which have only the case id, must
find the records its consumer wrote (GET advice lists the advisers asked, a
POSTed return is accepted) and put the idempotency record on the case's
server; case.erased must leave nothing of the case on any server. Then B
stops, the clock moves so every first "approaching"
point is due: the shards of A and C fire, B's two wait and timers reports
not ready; B comes back on the same port with its AOF and its shards fire
too, each point once. A table that leaves a partition without a server
stops timers at start, naming the partition.

notify runs with the same table: every notify key of a case (its contact,
facts, waiting events) and every sent mark on the server of its case's
partition, the per-shard retry queues and waiting indexes
(notify:retry|waiting:{s<p>}) on their shard's server, nothing on
redis.host but the digest's and erased marks, and every email once.

ops runs twice over the same topics: "ops" with the same redis.shards, and
"ops.one" in a group of its own on a fourth server alone (no redis.shards,
as before). Every ops key of a case must be on its partition's server, each
shard's indexes (ops:dl:{s<p>} ...) on that shard's server only, and nothing
but the erased marks on redis.host; the deadline lists (every page, by
cursor, and the overdue ones) and the SEN2 figures, which merge every
shard, must equal the one-server answers.
"""
import email
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(__file__))
from harness import free_port, http, main, wait_for  # noqa: E402
from test_clocks import bulk_case_id, decision_event, received_event  # noqa: E402
from test_erasure import DUMP_LUA  # noqa: E402
from test_instances import outbox  # noqa: E402
from test_slice import REQUEST  # noqa: E402

N = 300
SHARDS = {"redis-a": (0, 1), "redis-b": (2, 3), "redis-c": (4, 5)}


def approaching(stack, cases):
    """case -> ids of its request clock's approaching/0 events (not the
    advice clocks of the cases evidence asked advisers for)."""
    out = {}
    for m in stack.topic("sendpath.deadlines"):
        if m["key"] in cases and "/approaching/0" in m["value"]:
            eid = json.loads(m["value"])["id"]
            if eid.split(":")[1] != "advice":
                out.setdefault(m["key"], set()).add(eid)
    return out


def check_placement(stack, ports, cases, partition_of):
    for name, parts in SHARDS.items():
        for p in range(6):
            # Clock records sit in buckets by the case id's last two
            # characters: tm:{s<p>}:c:<bb>.
            fields = []
            for key in stack.redis_on(ports[name], "KEYS", f"tm:{{s{p}}}:c:*").split():
                fields += stack.redis_on(ports[name], "HKEYS", key).split()
            # A stored slot's case part (services/timers/layout.h): layout 2
            # drops the case id's "c_".
            held = {f.split(":", 1)[0] for f in fields}
            held = {h if h.startswith("c_") else "c_" + h for h in held}
            want = {c for c in cases if partition_of[c] == p} if p in parts else set()
            assert held == want, f"{name}, shard {p}: {len(held)} cases held, " \
                f"{len(want)} expected; e.g. {sorted(held ^ want)[:2]}"
    assert stack.redis("KEYS", "tm:*") == "", "a timers key on redis.host"
    print(f"redis.shards: {len(cases)} clocks, each on its partition's server only",
          file=sys.stderr)


def evidence_cases(stack, port):
    """case -> the kinds of evidence:<kind>:<case> keys on the server at port
    (idempotency records and the erased set are not per-case keys)."""
    held = {}
    for key in stack.redis_on(port, "KEYS", "evidence:*").split():
        parts = key.split(":")
        if len(parts) == 3 and parts[1] not in ("idem",):
            held.setdefault(parts[2], set()).add(parts[1])
    return held


def idem_cases(stack, port, cases):
    """The cases named in the evidence:idem:* records on the server at port."""
    found = set()
    for key in stack.redis_on(port, "KEYS", "evidence:idem:*").split():
        text = stack.redis_on(port, "HGETALL", key)
        found |= {c for c in cases if c in text}
    return found


def check_evidence_placement(stack, ports, cases, partition_of):
    wait_for("evidence to know every case", lambda: sum(
        len(evidence_cases(stack, port)) for port in ports.values()) >= len(cases),
        timeout=60)
    for name, parts in SHARDS.items():
        held = set(evidence_cases(stack, ports[name]))
        want = {c for c in cases if partition_of[c] in parts}
        assert held == want, f"evidence on {name}: {len(held)} cases held, " \
            f"{len(want)} expected; e.g. {sorted(held ^ want)[:2]}"
    on_host = [k for k in stack.redis("KEYS", "evidence:*").split() if k != "evidence:erased"]
    assert not on_host, f"evidence keys on redis.host: {on_host[:3]}"


def check_evidence_http(stack, ports, cases, partition_of):
    """One case per partition: the HTTP paths, which have only the case id,
    reach the server the consumer wrote the case on."""
    picked = {}
    for c in cases:
        picked.setdefault(partition_of[c], c)
    assert len(picked) == 6, picked
    sample = list(picked.values())
    stack.produce_many("sendpath.case-events",
                       [(c, decision_event(c, "2026-11-23")) for c in sample])
    for c in sample:
        wait_for(f"evidence asked the advisers of {c}", lambda: (
            (r := http("GET", stack.url("evidence", f"/v1/cases/{c}/advice"))).status == 200
            and r.json()["requested"]), timeout=30)
        r = http("POST", stack.url("evidence", f"/v1/cases/{c}/advice/parent"),
                 {"idempotency_key": f"shards-{c}", "date": "2026-11-23",
                  "document_ref": "DOC-1", "author": "A parent"})
        assert r.status == 201, (c, r.status, r.body)
        r = http("POST", stack.url("evidence", f"/v1/cases/{c}/advice/parent"),
                 {"idempotency_key": f"shards-{c}", "date": "2026-11-23",
                  "document_ref": "DOC-1", "author": "A parent"})
        assert r.status == 200, ("a repeat found no idempotency record", c, r.status)
    for name, parts in SHARDS.items():
        held = idem_cases(stack, ports[name], sample)
        want = {c for c in sample if partition_of[c] in parts}
        assert held == want, f"idempotency records on {name}: {held} != {want}"
    assert stack.redis("KEYS", "evidence:idem:*") == "", "an idempotency record on redis.host"

    # No wait for ops to apply the decisions first: a decision in the same
    # consumer batch as its case.erased is applied before it (ops cuts the
    # batch there, common/screen.h), so SEN2 counts it either way.
    # case.erased: nothing of the case left on any server, idempotency
    # records included (the sweep visits every server).
    erased = sample[:3]
    stack.produce_many("sendpath.case-events", [(c, json.dumps({
        "specversion": "1.0", "id": f"{c}/case.erased", "source": "/sendpath/test",
        "type": "case.erased", "time": "2027-02-01T09:00:00.000Z", "subject": c,
        "datacontenttype": "application/json",
        "data": {"case_id": c, "date": "2027-02-01", "previous_state": "closed"}}))
        for c in erased])
    left = lambda: {c for port in ports.values() for c in erased  # noqa: E731
                    if c in evidence_cases(stack, port) or idem_cases(stack, port, [c])}
    wait_for("evidence to erase the cases on every server", lambda: not left(), timeout=30)
    kept = {c for port in ports.values() for c in idem_cases(stack, port, sample[3:])}
    assert kept == set(sample[3:]), "erasure removed another case's record"
    print(f"redis.shards: evidence: {len(cases)} cases and 6 returns on their partitions' "
          f"servers only, read back over HTTP; 3 erased on every server", file=sys.stderr)
    return set(sample)


def intake_mentions(stack, port, cases):
    """case -> the intake keys on the server at port whose name or value
    names it."""
    out = {}
    for line in stack.redis_on(port, "EVAL", DUMP_LUA, "0").splitlines():
        if line.startswith("intake:"):
            for c in cases:
                if c in line:
                    out.setdefault(c, set()).add(line.split(":")[1])
    return out


def check_intake(stack, ports):
    """Requests over HTTP: each new case's id is drawn on its child record's
    partition, so its case, child and idempotency records sit together on
    that partition's server, where repeats, the child's second request, reads,
    commands and erasure find them."""
    children = [dict(REQUEST["child"], family_name=f"Shard{i}") for i in range(24)]
    made = {}
    for i, child in enumerate(children):
        r = stack.post_intake("/v1/requests", dict(REQUEST, child=child), key=f"shard-{i}")
        assert r.status == 201, (r.status, r.body)
        made[r.json()["case_id"]] = i
    part = {c: zlib.crc32(c.encode()) % 6 for c in made}
    assert len(set(part.values())) > 1, "every case on one partition"
    wait_for("request.received of every case", lambda: made.keys() <= {
        m["key"] for m in stack.topic("sendpath.case-events")})
    on_topic = {m["key"]: m["partition"] for m in stack.topic("sendpath.case-events")
                if m["key"] in made}
    assert on_topic == part, "a case's events are not on its id's partition"
    for name, parts in SHARDS.items():
        held = intake_mentions(stack, ports[name], made)
        want = {c for c in made if part[c] in parts}
        assert set(held) == want, f"intake on {name}: {sorted(set(held) ^ want)[:2]}"
        assert all(kinds == {"case", "child", "idem"} for kinds in held.values()), held
    assert stack.redis("KEYS", "intake:*") == "", "an intake key on redis.host"

    c, i = next(iter(made.items()))
    r = stack.post_intake("/v1/requests", dict(REQUEST, child=children[i]), key=f"shard-{i}")
    assert r.status == 201 and r.json()["case_id"] == c, ("repeat", r.status, r.body)
    assert r.headers.get("Idempotent-Replayed") == "true", "a repeat was not found"
    r = stack.post_intake("/v1/requests", dict(REQUEST, child=children[i]), key="shard-again")
    assert r.status == 409 and c in r.body, ("the child's open case not found", r.status)
    for c in made:
        assert http("GET", stack.url("intake", f"/v1/cases/{c}")).status == 200, c
    r = stack.post_intake(f"/v1/cases/{c}/withdraw", {"date": "2026-11-23"})
    assert r.status == 201, ("withdraw", r.status, r.body)
    assert http("DELETE", stack.url("intake", f"/v1/cases/{c}")).status == 200
    assert http("GET", stack.url("intake", f"/v1/cases/{c}")).status == 410
    assert not any(intake_mentions(stack, port, [c]) for port in ports.values()), \
        "an intake record of the erased case is left"
    print(f"redis.shards: intake: {len(made)} cases, each with its child and idempotency "
          f"records on its partition's server; one erased everywhere", file=sys.stderr)


def check_notify(stack, ports, cases, erased):
    """notify's keys on their partitions' servers; each email once, its sent
    mark (named by the Message-ID's 32 hex) on its case's server only."""
    want = set(cases) - erased  # an erased case's event may be screened first
    wait_for("notify erased the erased cases everywhere", lambda: not any(
        c in k for port in ports.values() for k in stack.redis_on(port, "KEYS", "notify:*")
        .split() if not k.startswith("notify:sent:") for c in erased), timeout=30)
    wait_for("notify acknowledged every bulk case", lambda: want <= {
        c for v in outbox(stack).values() for c, _ in v}, timeout=60)
    time.sleep(1)  # anything late would be a duplicate
    box = outbox(stack)
    twice = {k: v for k, v in box.items() if len(v) != 1}
    assert not twice, f"emails sent twice: {list(twice.items())[:2]}"
    mids = {}
    for path in glob.glob(os.path.join(stack.var, "outbox", "new", "*")):
        with open(path, "rb") as f:
            msg = email.message_from_binary_file(f)
        mids[msg["Message-ID"].strip("<>").split("@")[0]] = msg["X-Sendpath-Case"]
    part = lambda c: zlib.crc32(c.encode()) % 6  # noqa: E731
    for name, parts in SHARDS.items():
        sent = set()
        for key in stack.redis_on(ports[name], "KEYS", "notify:*").split():
            kind, rest = key.split(":", 2)[1:] if key.count(":") >= 2 else (key, "")
            if kind == "sent":
                sent.add(rest[:32])
            elif kind in ("case", "facts", "pending"):
                assert part(rest) in parts and rest not in erased, (name, key)
            elif kind in ("retry", "waiting"):
                shard = re.match(r"\{s(\d+)\}", rest)
                assert shard and int(shard.group(1)) in parts, (name, key)
            else:
                raise AssertionError(f"{name}: unexpected notify key {key}")
        mine = {m for m, c in mids.items() if part(c) in parts}
        assert mine <= sent, f"{name}: {len(mine - sent)} emails without their sent mark"
        assert not (sent & (set(mids) - mine)), f"{name}: a sent mark of another partition"
    host = stack.redis("KEYS", "notify:*").split()
    assert all(k == "notify:erased" or k == "notify:clocks" or k.startswith("notify:digest:")
               for k in host), f"notify keys on redis.host: {host[:5]}"
    print(f"redis.shards: notify: {len(box)} emails once each, every key and sent mark on "
          f"its partition's server, none on redis.host", file=sys.stderr)


OPS_CASE_KEYS = ("case", "timeline", "clocks", "seen")
OPS_SHARD_KEYS = ("dl", "who", "sen2:decided", "sen2:issued", "sen2:arlate")


def start_ops_one(stack):
    """A second ops on a server of its own, without redis.shards: the
    one-server answer the sharded ops must give too."""
    port = stack.start_redis_server("redis-one")
    env = stack.service_env("ops")
    stack.ports["ops.one"] = free_port()
    env.pop("SENDPATH_OPS_REDIS_SHARDS")
    env.update({"SENDPATH_OPS_REDIS_PORT": str(port),
                "SENDPATH_OPS_CONSUMER_GROUP": "sendpath-ops-one",
                "SENDPATH_OPS_HTTP_PORT": str(stack.ports["ops.one"])})
    stack.names.append("ops.one")
    stack._spawn("ops.one", [os.path.join(stack.build, "services/ops/sendpath-ops")], env)
    stack.wait_ready("ops.one")
    return port


def check_ops_placement(stack, ports, cases, partition_of):
    """Each case's ops keys on its partition's server, each shard's indexes
    on the shard's server, and on redis.host nothing but ops:erased."""
    for name, parts in SHARDS.items():
        keys = stack.redis_on(ports[name], "KEYS", "ops:*").split()
        held = {k.split(":", 2)[2] for k in keys if k.split(":")[1] in OPS_CASE_KEYS
                and k.split(":", 2)[2] in partition_of}
        want = {c for c in cases if partition_of[c] in parts}
        assert held == want, f"ops on {name}: {sorted(held ^ want)[:2]}"
        shards = {int(k.rsplit("{s", 1)[1].rstrip("}")) for k in keys if "{s" in k}
        assert shards == set(parts), f"ops indexes of shards {shards} on {name}"
        assert {k.rsplit(":", 1)[0] for k in keys if "{s" in k} >= {"ops:dl", "ops:who"}, keys
    on_host = [k for k in stack.redis("KEYS", "ops:*").split() if k != "ops:erased"]
    assert not on_host, f"ops keys on redis.host: {on_host[:3]}"


def ops_answers(stack, name):
    """Every page of the deadline list (cursor and page numbers), the
    overdue ones, and the SEN2 figures, as one ops instance gives them."""
    out, cursor = {"pages": []}, None
    while True:
        q = "/v1/deadlines?limit=37" + (f"&cursor={cursor}" if cursor else "")
        r = http("GET", stack.url(name, q))
        assert r.status == 200, (name, r.status, r.body)
        page = r.json()
        out["pages"].append(page)
        cursor = page["next_cursor"]
        if not cursor:
            break
    for q in ("?state=overdue&limit=20&page=2", "?state=overdue&clock=decision_to_assess"):
        out[q] = http("GET", stack.url(name, "/v1/deadlines" + q)).json()
    stats = "/v1/stats/timeliness?from=2026-11-01&to=2027-06-30"
    out["stats"] = http("GET", stack.url(name, stats)).json()
    out["csv"] = http("GET", stack.url(name, stats + "&format=csv")).body
    return out


def check_ops_answers(stack):
    same = wait_for("the sharded ops to answer as the one-server ops", lambda: (
        a if (a := ops_answers(stack, "ops")) == ops_answers(stack, "ops.one") else None),
        timeout=90, interval=1)
    rows = sum(len(p["rows"]) for p in same["pages"])
    overdue = same["?state=overdue&clock=decision_to_assess"]["total"]
    decided = same["stats"]["total"]["requests_decided"]
    assert rows == same["pages"][0]["total"] and len(same["pages"]) > 2, (rows, len(same["pages"]))
    assert overdue > 100 and decided == 6, (overdue, decided)
    print(f"redis.shards: ops: {rows} open deadlines over {len(same['pages'])} pages, "
          f"{overdue} overdue, {decided} decisions (3 of erased cases): the same answers "
          f"as one server", file=sys.stderr)


def erased_of(stack):
    return {m["key"] for m in stack.topic("sendpath.case-events") if "case.erased" in m["value"]}


def check_refused(stack):
    env = stack.service_env("timers")
    env["SENDPATH_TIMERS_REDIS_SHARDS"] = "0-1@127.0.0.1:1,3-5@127.0.0.1:2"
    env["SENDPATH_TIMERS_HTTP_PORT"] = "0"  # the running timers holds its port
    out = subprocess.run([os.path.join(stack.build, "services/timers/sendpath-timers")],
                         env=env, cwd=stack.source, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "partition 2 has no server" in out.stderr, \
        (out.returncode, out.stderr[-500:])


def test(stack):
    ports = {name: stack.start_redis_server(name) for name in SHARDS}
    table = ",".join(f"{lo}-{hi}@127.0.0.1:{ports[name]}" for name, (lo, hi) in SHARDS.items())
    stack.extra_env["SENDPATH_TIMERS_REDIS_SHARDS"] = table
    stack.extra_env["SENDPATH_EVIDENCE_REDIS_SHARDS"] = table
    stack.extra_env["SENDPATH_INTAKE_REDIS_SHARDS"] = table
    stack.extra_env["SENDPATH_OPS_REDIS_SHARDS"] = table
    stack.extra_env["SENDPATH_NOTIFY_REDIS_SHARDS"] = table
    for name in ("timers", "evidence", "intake", "ops", "notify"):
        stack.start_service(name)
        stack.wait_ready(name)
    start_ops_one(stack)
    check_refused(stack)

    cases = [bulk_case_id(8_200_000 + i) for i in range(N)]
    stack.produce_many("sendpath.case-events", [(c, received_event(c)) for c in cases])
    case_set = set(cases)
    wait_for("every clock started", lambda: len({
        m["key"] for m in stack.topic("sendpath.deadlines")
        if m["key"] in case_set and "deadline.started" in m["value"]}) == N, timeout=60)
    partition_of = {m["key"]: m["partition"] for m in stack.topic("sendpath.case-events")}
    wrong = [c for c in cases if zlib.crc32(c.encode()) % 6 != partition_of[c]]
    assert not wrong, f"the producer did not choose CRC-32 mod 6 for {wrong[:3]}"
    check_placement(stack, ports, cases, partition_of)
    check_evidence_placement(stack, ports, cases, partition_of)
    # The sample's request clocks were met by the decision, or erased: they
    # fire no more.
    sample = check_evidence_http(stack, ports, cases, partition_of)
    check_notify(stack, ports, cases, erased_of(stack))
    cases = [c for c in cases if c not in sample]
    case_set = set(cases)
    check_intake(stack, ports)

    # B goes away (cleanly: its AOF is complete); the clock moves on.
    b = stack.procs.pop("redis-b")
    b.send_signal(signal.SIGTERM)
    b.wait(timeout=10)
    wait_for("timers not ready without B", lambda: stack.readyz("timers")["ready"] is False,
             timeout=10)
    stack.set_clock("2026-12-16T08:00:00Z")
    on_b = {c for c in cases if partition_of[c] in SHARDS["redis-b"]}
    others = case_set - on_b
    wait_for("A's and C's shards fired", lambda: set(approaching(stack, others)) == others,
             timeout=30)
    time.sleep(1)
    assert not set(approaching(stack, on_b)), "a shard on the stopped server fired"
    print(f"redis.shards: B down: {len(others)} clocks on A and C fired, "
          f"{len(on_b)} on B waited", file=sys.stderr)

    t0 = time.time()
    stack.start_redis_server("redis-b", port=ports["redis-b"])
    fired = wait_for("B's shards fired after it came back", lambda: (
        a if len(a := approaching(stack, case_set)) == len(cases) else None), timeout=60)
    print(f"redis.shards: B back: its {len(on_b)} clocks fired {time.time() - t0:.1f} s "
          f"after it restarted", file=sys.stderr)
    assert all(len(ids) == 1 for ids in fired.values()), "a point fired under two ids"
    stack.wait_ready("timers")

    # ops: the request clocks overdue, and every answer as one server's.
    stack.set_clock("2027-01-10T08:00:00Z")
    stack.wait_ready("ops")
    check_ops_answers(stack)
    check_ops_placement(stack, ports, [c for c in partition_of if c not in erased_of(stack)],
                        partition_of)
    codes = stack.stop()
    assert all(c == 0 for c in codes.values()), f"unclean shutdown: {codes}"


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T10:00:00Z", services=())
