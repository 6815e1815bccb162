"""Every service's /metrics is valid Prometheus text, and says what happened.

The whole stack runs; a request goes in over HTTP (so every service consumes,
writes Redis and most produce), a bad body is refused over HTTP and a bad
command over Kafka is dead-lettered. Then each of the five services is
scraped and its text piped through `promtool check metrics`, which parses it
and lints it (HELP on every family, _total only on counters, no _sum/_count
/_bucket outside histograms, base units): any complaint fails the test. First,
promtool is shown to reject the exposition this replaced, so the check can
fail.

Every family exposed must be described in docs/ops.md. Then the figures
themselves: the Redis and Kafka latency histograms have
observations where the service did that work, consumer lag is per topic and
drains to 0, events in and out, errors and dead letters counted where they
happened. Last, Redis is frozen so intake's batch cannot finish: commands
sent meanwhile must show as lag and the batch as retried, none as
processed, until Redis runs again.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import SERVICES, http, main, wait_for  # noqa: E402
from test_slice import REQUEST  # noqa: E402

# What each service consumes (docs/architecture.md).
CONSUMES = {
    "intake": ["sendpath.commands"],
    "evidence": ["sendpath.case-events"],
    "timers": ["sendpath.case-events", "sendpath.evidence-events"],
    "notify": ["sendpath.case-events", "sendpath.deadlines", "sendpath.evidence-events"],
    "ops": ["sendpath.case-events", "sendpath.deadlines", "sendpath.evidence-events",
            "sendpath.notification-outcomes"],
}
# Families every service exposes, with their type.
COMMON = {
    "sendpath_events_in_total": "counter",
    "sendpath_events_out_total": "counter",
    "sendpath_errors_total": "counter",
    "sendpath_deadletters_total": "counter",
    "sendpath_consumer_lag_messages": "gauge",
    "sendpath_consumer_assigned_partitions": "gauge",
    "sendpath_consumer_processed_total": "counter",
    "sendpath_consumer_batch_retries_total": "counter",
    "sendpath_redis_latency_seconds": "histogram",
    "sendpath_redis_connected": "gauge",
    "sendpath_kafka_produce_latency_seconds": "histogram",
    "sendpath_kafka_produce_errors_total": "counter",
    "sendpath_kafka_inflight_messages": "gauge",
    "sendpath_http_pending_requests": "gauge",
    "sendpath_up": "gauge",
    "sendpath_ready": "gauge",
}
# What the services exposed before: sum and count of a histogram as gauges.
OLD_EXPOSITION = (
    "# HELP sendpath_redis_latency_seconds_sum Total time Redis took to answer\n"
    "# TYPE sendpath_redis_latency_seconds_sum gauge\n"
    "sendpath_redis_latency_seconds_sum 0.25\n"
    "# HELP sendpath_consumer_lag Messages behind\n"
    "# TYPE sendpath_consumer_lag gauge\n"
    "sendpath_consumer_lag 0\n")

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def promtool(text):
    return subprocess.run(["promtool", "check", "metrics"], input=text,
                          capture_output=True, text=True, timeout=30)


def parse(text):
    """{name: type} and [(name, {labels}, value)] from an exposition."""
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
        elif line and not line.startswith("#"):
            m = SAMPLE.match(line)
            assert m, f"unparseable sample line: {line!r}"
            samples.append((m[1], dict(LABEL.findall(m[2] or "")), float(m[3])))
    return types, samples


def value(samples, name, **labels):
    vals = [v for n, ls, v in samples if n == name and all(ls.get(k) == w
                                                            for k, w in labels.items())]
    assert len(vals) == 1, (name, labels, vals)
    return vals[0]


def scrape(stack, svc):
    r = http("GET", stack.url(svc, "/metrics"))
    assert r.status == 200, (svc, r.status)
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    return r.body


def drive_traffic(stack):
    """One request through the whole pathway, one refusal over HTTP, one dead
    letter over Kafka."""
    r = http("POST", stack.url("intake", "/v1/requests"),
             dict(REQUEST, idempotency_key="metrics-0001"))
    assert r.status == 201, r.body
    case_id = r.json()["case_id"]
    bad = http("POST", stack.url("intake", "/v1/requests"), {"idempotency_key": "x"})
    assert bad.status == 400, bad.body
    stack.produce("sendpath.commands", case_id, json.dumps({"command": "no_such_command"}))
    wait_for("notify's outcome in ops", lambda: [
        t for t in http("GET", stack.url("ops", f"/v1/cases/{case_id}")).json().get(
            "timeline", []) if t["type"].startswith("notification.")], timeout=30)
    wait_for("the dead letter", lambda: stack.topic("sendpath.deadletter"))
    return case_id


def check_families(svc, types, samples):
    for name, kind in COMMON.items():
        assert types.get(name) == kind, (svc, name, types.get(name))
    lags = {ls["topic"] for n, ls, _ in samples if n == "sendpath_consumer_lag_messages"}
    assert lags == set(CONSUMES[svc]), (svc, lags)
    assert value(samples, "sendpath_up") == 1 and value(samples, "sendpath_ready") == 1, svc
    assert value(samples, "sendpath_redis_connected") == 1, svc
    assert value(samples, "sendpath_consumer_assigned_partitions") > 0, svc
    # Every service wrote to Redis: its histogram is not empty, the
    # cumulative +Inf bucket is the count, and the sum is plausible.
    count = value(samples, "sendpath_redis_latency_seconds_count")
    assert count > 0, (svc, "no Redis latency observed")
    assert value(samples, "sendpath_redis_latency_seconds_bucket", le="+Inf") == count
    assert 0 < value(samples, "sendpath_redis_latency_seconds_sum") < count * 2.0, svc


def check_figures(scraped):
    types, s = scraped["intake"]
    assert value(s, "sendpath_events_out_total") >= 1
    assert value(s, "sendpath_errors_total") >= 1, "the refused body is not counted"
    assert value(s, "sendpath_deadletters_total") >= 1, "the dead letter is not counted"
    for svc in ("intake", "timers", "notify"):  # each published something
        _, s = scraped[svc]
        n = value(s, "sendpath_kafka_produce_latency_seconds_count")
        assert n >= 1, (svc, "no delivery observed")
        # librdkafka lingers 5 ms before sending: no delivery is faster.
        assert value(s, "sendpath_kafka_produce_latency_seconds_bucket", le="0.001") == 0
        assert value(s, "sendpath_kafka_produce_errors_total") == 0, svc
    for svc in ("timers", "notify", "ops"):
        assert value(scraped[svc][1], "sendpath_events_in_total") >= 1, svc


def check_documented(stack, scraped):
    """Every family any service exposes is named in the runbook."""
    with open(os.path.join(stack.source, "docs/ops.md")) as f:
        doc = f.read()
    names = {n for types, _ in scraped.values() for n in types}
    missing = sorted(n for n in names if f"`{n}" not in doc)
    assert not missing, f"metrics not described in docs/ops.md: {missing}"


def lag_drained(stack):
    for svc in SERVICES:
        _, s = parse(scrape(stack, svc))
        if any(v != 0 for n, _, v in s if n == "sendpath_consumer_lag_messages"):
            return False
    return True


def intake_consumer(stack):
    """intake's (lag on the commands topic, processed, batch retries)."""
    _, s = parse(scrape(stack, "intake"))
    return (value(s, "sendpath_consumer_lag_messages", topic="sendpath.commands"),
            value(s, "sendpath_consumer_processed_total"),
            value(s, "sendpath_consumer_batch_retries_total"))


def check_lag_counts_stuck_batch(stack, case_id):
    """With Redis frozen (SIGSTOP), intake cannot finish its batch: the
    commands sent since must show as lag, those in the stuck batch included,
    the batch is retried and nothing counts as processed; once Redis runs
    again the lag drains and the 5 count as processed, once each."""
    redis = stack.procs["redis"]
    _, processed, retries = intake_consumer(stack)
    redis.send_signal(signal.SIGSTOP)
    try:
        stack.produce_many("sendpath.commands", [
            (case_id, json.dumps({"command": "decision_to_assess", "case_id": case_id,
                                  "idempotency_key": f"metrics-lag-{i}",
                                  "date": "2026-11-23", "assess": True}))
            for i in range(5)])
        # redis.timeout_ms (2 s) fails the batch's calls: it is retried.
        wait_for("intake's lag to count the 5 commands and its batch to be retried",
                 lambda: (lambda c: c[0] == 5 and c[2] > retries)(intake_consumer(stack)),
                 timeout=20, interval=0.5)
        time.sleep(1)
        lag, now_processed, _ = intake_consumer(stack)
        assert lag == 5, f"the lag moved while Redis was frozen: {lag}"
        assert now_processed == processed, "a message counted processed with Redis frozen"
    finally:
        redis.send_signal(signal.SIGCONT)
    wait_for("intake's lag to drain once Redis is back",
             lambda: intake_consumer(stack)[0] == 0, timeout=30, interval=0.5)
    assert intake_consumer(stack)[1] == processed + 5, intake_consumer(stack)


def check_lag_after_restart(stack):
    """A service restarted with nothing left to do has no lag. Regression:
    with nothing consumed since its partitions were assigned, the lag was
    counted from the start of each partition (rd_kafka_position knows no
    position yet), so ops, killed and restarted after the traffic, reported
    every message on its topics as lag for ever (found by tests/chaos). A
    clean stop commits its offsets, so the restarted ops has nothing to
    replay and consumes nothing."""
    assert stack.stop_service("ops") == 0
    stack.start_service("ops")
    stack.wait_ready("ops")

    def ops_lag():
        _, s = parse(scrape(stack, "ops"))
        vals = [v for n, _, v in s if n == "sendpath_consumer_lag_messages"]
        return vals if vals and all(v == 0 for v in vals) else None
    wait_for("the restarted ops to report lag 0", ops_lag, timeout=15, interval=0.5)


def test(stack):
    out = promtool(OLD_EXPOSITION)
    assert out.returncode != 0 and "_sum" in out.stdout + out.stderr, \
        f"promtool accepted the old exposition: {out}"
    case_id = drive_traffic(stack)
    wait_for("every consumer to catch up (lag 0 on every topic)",
             lambda: lag_drained(stack), timeout=30, interval=0.5)
    scraped, lines = {}, 0
    for svc in SERVICES:
        text = scrape(stack, svc)
        out = promtool(text)
        assert out.returncode == 0 and not out.stdout.strip() and not out.stderr.strip(), \
            f"promtool check metrics on {svc}:\n{out.stdout}{out.stderr}\n---\n{text}"
        scraped[svc] = parse(text)
        check_families(svc, *scraped[svc])
        lines += len(text.splitlines())
    check_figures(scraped)
    check_documented(stack, scraped)
    check_lag_counts_stuck_batch(stack, case_id)
    check_lag_after_restart(stack)
    print(f"metrics: {len(SERVICES)} services scraped ({lines} lines), promtool check "
          f"metrics clean on each; latency histograms and counters filled", file=sys.stderr)
    codes = stack.stop()
    assert all(c == 0 for c in codes.values()), f"unclean shutdown: {codes}"


if __name__ == "__main__":
    main(test, clock_start="2026-11-23T10:00:00Z")
