"""Redis behind Sentinel: the master SIGKILLed under load, a replica promoted.

    redis-m (master) <- redis-r1, redis-r2 (replicas); sentinels s1, s2, s3
    watch "sendpath" (quorum 2, down-after 1000 ms)
    intake and timers: redis.sentinels = s1,s2,s3, redis.sentinel_master =
    sendpath (their redis.host points at the harness's own server, which
    must stay empty), redis.wait_replicas = 1

400 requests go to intake over HTTP from 8 clients, each retried with its
own idempotency key on any answer but 201, as a portal would. When a third
have been answered, redis-m is SIGKILLed. The sentinels promote one
replica and point the other at it; intake and timers, which lost their connection, ask the sentinels until
they name the new master, check ROLE, and carry on. Then the clock moves so
every case's first "approaching" point of decision_to_assess is due.

What must hold:
  - every request got exactly one case: one case id per idempotency key,
    400 distinct cases, one request.received event id per case on
    sendpath.case-events, and intake's records on the new master;
  - every clock was armed and every due point fired once (one event id);
  - both services said not ready while Redis was gone, and ready again
    after; the time from the kill to each service's Redis being back (the
    failover time the services see) is printed, with the sentinels' own.

Replication is asynchronous: a write the old master acknowledged and had
not sent to a replica when it died is lost. redis.wait_replicas = 1 closes
that window for one failure: intake publishes a new case's event, and intake and timers
store a batch's offsets, only once a replica holds the writes (WAIT), and
Sentinel promotes the replica with the most data. So no case may be opened
twice and no clock lost here, whatever the timing of the kill; the second
replica is what lets writes go on after the failover (with one, WAIT could
not be met until the dead master came back as a replica).
docs/scaling.md says what it means in production and what to set.
"""
import concurrent.futures
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import free_port, http, main, wait_for  # noqa: E402
from test_slice import REQUEST  # noqa: E402

N = 400
CLIENTS = 8
KILL_AFTER = N // 3
MASTER = "sendpath"


def start_sentinels(stack, master_port):
    ports = []
    for i in range(1, 4):
        port = free_port()
        d = os.path.join(stack.dir, f"sentinel-{i}")
        os.makedirs(d)
        conf = os.path.join(d, "sentinel.conf")
        with open(conf, "w") as f:
            f.write(f"port {port}\nbind 127.0.0.1\ndir {d}\n"
                    f"sentinel monitor {MASTER} 127.0.0.1 {master_port} 2\n"
                    f"sentinel down-after-milliseconds {MASTER} 1000\n"
                    f"sentinel failover-timeout {MASTER} 10000\n"
                    f"sentinel parallel-syncs {MASTER} 1\n")
        stack._spawn(f"sentinel-{i}", ["redis-server", conf, "--sentinel"])
        ports.append(port)
    # Each sentinel must know the replica and the two others (hello messages
    # every 2 s) before a failover can be agreed.
    for port in ports:
        wait_for(f"sentinel {port} sees the replica and 2 sentinels", lambda: (
            stack.redis_on(port, "SENTINEL", "master", MASTER).split("\n")
            and _field(stack, port, "num-slaves") == "2"
            and _field(stack, port, "num-other-sentinels") == "2"), timeout=20)
    return ports


def _field(stack, port, name):
    lines = stack.redis_on(port, "SENTINEL", "master", MASTER).split("\n")
    return dict(zip(lines[::2], lines[1::2])).get(name)


def master_of(stack, sentinel_port):
    return stack.redis_on(sentinel_port, "SENTINEL", "get-master-addr-by-name",
                          MASTER).split("\n")[-1]


class Watch:
    """Polls the services' /readyz and a sentinel's answer every 50 ms."""
    def __init__(self, stack, names, sentinel_port):
        self.stack, self.names, self.sentinel = stack, names, sentinel_port
        self.samples = []  # (t, {name: redis connected}, master port)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            up = {}
            for n in self.names:
                try:
                    up[n] = bool(self.stack.readyz(n).get("redis"))
                except Exception:
                    up[n] = None
            self.samples.append((time.time(), up, master_of(self.stack, self.sentinel)))
            time.sleep(0.05)

    def back_after(self, t_kill, name):
        """Seconds from the kill to name's Redis being connected again, after
        having been seen lost."""
        lost = False
        for t, up, _ in self.samples:
            if t < t_kill:
                continue
            if up.get(name) is False:
                lost = True
            elif lost and up.get(name):
                return t - t_kill
        return None

    def switched_after(self, t_kill, new_port):
        for t, _, port in self.samples:
            if t >= t_kill and port == str(new_port):
                return t - t_kill
        return None


def post_until_created(stack, i, deadline):
    """One portal request, retried with the same idempotency key until 201.
    Returns (case id, attempts, time answered)."""
    body = dict(REQUEST, idempotency_key=f"failover-{i}",
                child=dict(REQUEST["child"], family_name=f"Failover{i}"))
    attempts = 0
    while time.time() < deadline:
        attempts += 1
        try:
            r = http("POST", stack.url("intake", "/v1/requests"), body, timeout=5)
        except OSError:
            r = None
        if r is not None and r.status == 201:
            return r.json()["case_id"], attempts, time.time()
        assert r is None or r.status == 503, (i, r.status, r.body)
        time.sleep(0.05)
    raise AssertionError(f"request {i} not created after {attempts} attempts")


def run_load(stack, kill):
    """Posts N requests; calls kill() once KILL_AFTER are answered."""
    results = {}
    killed = threading.Event()
    lock = threading.Lock()
    deadline = time.time() + 60

    def one(i):
        res = post_until_created(stack, i, deadline)
        with lock:
            results[i] = res
            if len(results) >= KILL_AFTER and not killed.is_set():
                killed.set()
                kill()
        return res

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(one, range(N)))
    return results


def check_one_case_each(stack, results, new_master):
    cases = {case for case, _, _ in results.values()}
    assert len(cases) == N, f"{N} requests, {len(cases)} distinct cases"
    received = {}
    for m in stack.topic("sendpath.case-events"):
        ev = json.loads(m["value"])
        if ev["type"] == "request.received":
            received.setdefault(ev["subject"], set()).add(ev["id"])
    extra = set(received) - cases
    assert not extra, f"request.received for cases no client got: {sorted(extra)[:3]}"
    missing = cases - set(received)
    assert not missing, f"cases without request.received: {sorted(missing)[:3]}"
    doubled = [c for c, ids in received.items() if len(ids) != 1]
    assert not doubled, f"a case received under two ids: {doubled[:3]}"
    for case in list(cases)[:20]:
        assert stack.redis_on(new_master, "EXISTS", f"intake:case:{case}") == "1", case
    # Retried requests answered by the replay path name the same case.
    for i in range(0, N, 37):
        body = dict(REQUEST, idempotency_key=f"failover-{i}",
                    child=dict(REQUEST["child"], family_name=f"Failover{i}"))
        r = http("POST", stack.url("intake", "/v1/requests"), body)
        assert r.status == 201 and r.json()["case_id"] == results[i][0], (i, r.status, r.body)


def fired(stack, cases, what):
    out = {}
    for m in stack.topic("sendpath.deadlines"):
        if m["key"] in cases and what in m["value"]:
            out.setdefault(m["key"], set()).add(json.loads(m["value"])["id"])
    return out


def settled_master(stack, sentinels, hold_s=3):
    """The master every sentinel names, once they have named the same one,
    a server whose ROLE says master, for hold_s running. A failover can
    follow the one the test caused: under the sanitizers the promoted
    replica once answered too slowly, went down in the sentinels' eyes and
    was failed over in turn, and a demotion of the server they had just
    left proved nothing."""
    seen = {"port": None, "since": 0.0}

    def settled():
        names = {master_of(stack, p) for p in sentinels}
        port = names.pop() if len(names) == 1 else None
        if port and stack.redis_on(int(port), "ROLE").split("\n")[0] != "master":
            port = None
        if port != seen["port"]:
            seen.update(port=port, since=time.time())
        return int(port) if port and time.time() - seen["since"] >= hold_s else None
    return wait_for("the sentinels settled on one master", settled, timeout=30, interval=0.2)


def intake_writes_to(stack, master):
    """Waits until a request intake takes lands on master. The second
    failover above can also leave the first promoted replica a master of
    its own, with intake still on it (its writes refused: WAIT finds no
    replica), until the sentinels convert it and kill its clients, some
    seconds later; demoting the master the sentinels name would then not
    be demoting intake's."""
    n = [0]

    def landed():
        n[0] += 1
        body = dict(REQUEST, idempotency_key=f"probe-{n[0]}",
                    child=dict(REQUEST["child"], family_name=f"Probe{n[0]}"))
        r = http("POST", stack.url("intake", "/v1/requests"), body)
        return r.status == 201 and stack.redis_on(
            master, "EXISTS", f"intake:case:{r.json()['case_id']}") == "1"
    wait_for("intake writing to the sentinels' master", landed, timeout=40, interval=0.5)


def check_demoted_under_us(stack, sentinels):
    """The master turned into a replica behind the sentinels' back (no
    CLIENT KILL, as a sentinel would send): intake's next write gets
    -READONLY, it drops the connection, and ROLE keeps it from using the
    server again while the sentinels still name it; it says not ready, and
    is back once the server is a master again. Last, because the server
    takes the empty dataset of the one it replicates."""
    master = settled_master(stack, sentinels)
    wait_for("intake ready on it", lambda: stack.readyz("intake")["redis"], timeout=10)
    intake_writes_to(stack, master)
    other = stack.start_redis_server("redis-x")
    stack.redis_on(master, "REPLICAOF", "127.0.0.1", str(other))
    body = dict(REQUEST, idempotency_key="demoted-1",
                child=dict(REQUEST["child"], family_name="Demoted"))
    r = http("POST", stack.url("intake", "/v1/requests"), body)
    assert r.status == 503, (r.status, r.body)
    wait_for("intake not ready on a replica", lambda: stack.readyz("intake")["redis"] is False,
             timeout=5)
    time.sleep(1)  # a few reconnects: each must be refused by ROLE
    assert stack.readyz("intake")["redis"] is False
    with open(os.path.join(stack.var, "logs", "intake.log")) as f:
        log = f.read()
    assert "READONLY: no longer the master" in log and "not the master of" in log
    stack.redis_on(master, "REPLICAOF", "NO", "ONE")
    wait_for("intake back on the master", lambda: stack.readyz("intake")["redis"], timeout=10)
    # The other replica resyncs with it before WAIT can be met again.
    wait_for("a request taken again", lambda: http(
        "POST", stack.url("intake", "/v1/requests"), body).status == 201, timeout=20)
    print("sentinel: a master demoted under intake: READONLY, refused by ROLE until it "
          "was the master again", file=sys.stderr)


def test(stack):
    master = stack.start_redis_server("redis-m")
    replicas = [stack.start_redis_server(f"redis-r{i}", args=(
        "--replicaof", "127.0.0.1", str(master))) for i in (1, 2)]
    for port in replicas:
        wait_for("replica in sync", lambda: "master_link_status:up" in
                 stack.redis_on(port, "INFO", "replication"), timeout=20)
    sentinels = start_sentinels(stack, master)
    stack.extra_env.update({
        "SENDPATH_REDIS_SENTINELS": ",".join(f"127.0.0.1:{p}" for p in sentinels),
        "SENDPATH_REDIS_SENTINEL_MASTER": MASTER,
        "SENDPATH_REDIS_TIMEOUT_MS": "1000",
        "SENDPATH_REDIS_WAIT_REPLICAS": "1",
        "SENDPATH_HTTP_RATE_LIMIT": "0",  # 8 clients on one address
    })
    for name in ("intake", "timers"):
        stack.start_service(name)
    for name in ("intake", "timers"):
        stack.wait_ready(name)

    watch = Watch(stack, ("intake", "timers"), sentinels[0])
    t_kill = []

    def kill():
        t_kill.append(time.time())
        stack.kill("redis-m")

    t0 = time.time()
    results = run_load(stack, kill)
    t_load = time.time() - t0
    tk = t_kill[0]
    replica = int(wait_for("the sentinels name a replica", lambda: (
        m if (m := master_of(stack, sentinels[0])) in {str(p) for p in replicas} else None),
        timeout=20))
    assert stack.redis_on(replica, "ROLE").split("\n")[0] == "master"
    wait_for("both services back on Redis", lambda: all(
        stack.readyz(n)["redis"] for n in ("intake", "timers")), timeout=20)
    watch.stop.set()
    watch.thread.join()
    answered = sorted(t for _, _, t in results.values())
    before = [t for t in answered if t <= tk]
    # The longest time intake answered no request with 201, around the kill.
    gap = max(b - a for a, b in zip(answered, answered[1:]) if b > tk - 1)
    retried = sum(1 for _, a, _ in results.values() if a > 1)
    back = {n: watch.back_after(tk, n) for n in ("intake", "timers")}
    assert all(v is not None for v in back.values()), \
        f"a service never said Redis was lost and back: {back}"
    switched = watch.switched_after(tk, replica)
    print(f"sentinel: master SIGKILLed after {len(before)} of {N} requests; sentinels "
          f"named the replica {switched:.1f} s later; Redis back for intake "
          f"{back['intake']:.1f} s, timers {back['timers']:.1f} s after the kill; no 201 "
          f"for {gap:.1f} s; {retried} requests needed retries; "
          f"load took {t_load:.1f} s", file=sys.stderr)

    check_one_case_each(stack, results, replica)
    cases = {case for case, _, _ in results.values()}
    started = wait_for("every clock started", lambda: (
        s if len(s := fired(stack, cases, "deadline.started")) == N else None), timeout=30)
    assert all(len(ids) == 1 for ids in started.values())
    stack.set_clock("2026-12-16T08:00:00Z")
    points = wait_for("every first approaching point fired", lambda: (
        p if len(p := fired(stack, cases, "/approaching/0")) == N else None), timeout=30)
    assert all(len(ids) == 1 for ids in points.values()), "a point fired under two ids"
    assert stack.redis("KEYS", "*") == "", "a key written to redis.host, not the master"
    print(f"sentinel: {N} requests, {N} cases, {N} clocks armed and fired once each",
          file=sys.stderr)
    check_demoted_under_us(stack, sentinels)
    codes = stack.stop()
    assert all(c == 0 for c in codes.values()), f"unclean shutdown: {codes}"


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T10:00:00Z", services=())
