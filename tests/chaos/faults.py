"""The faults the chaos suite injects, and the stack it injects them into.

ChaosStack is the integration harness's Stack with two changes:

  - redis-server runs with `appendonly yes` and `appendfsync always`, and is
    killed with SIGKILL and restarted from its AOF on the same port. With
    `everysec` (Redis's default, and a fair production choice for speed) a
    kill may lose the last second of writes: an idempotency record, a
    "sent" mark, a clock's advance. The services are built to survive that
    (a lost record replays with the same ids), but the suite would then be
    testing Redis's durability window instead of the services, and a lost
    idempotency record can make a second case for one request. Production
    should run `appendfsync always` for the Redis that holds intake's keys
    (docs/reliability.md says why and what the services do otherwise).
  - sendpath-broker runs with --control-port, so the suite can take a broker
    down and up and push request errors (librdkafka's mock cluster:
    rd_kafka_mock_broker_set_down, rd_kafka_mock_push_request_errors).

Faults is the list of what can go wrong, one method each, each ending only
when the stack is back (every service ready): a SIGKILL of one service and
its restart, a broker down for a while then up, a burst of request errors,
Redis killed and restarted. Each is logged with the time it took to recover.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import Stack, http, wait_for  # noqa: E402

# Request errors pushed on the broker, by Kafka API key: every one a broker
# may really answer with and a client must retry (not a fatal one such as
# OUT_OF_ORDER_SEQUENCE_NUMBER, which no healthy broker sends).
REQUEST_ERRORS = {
    0: ("Produce", ["NOT_LEADER_FOR_PARTITION", "REQUEST_TIMED_OUT", "NOT_ENOUGH_REPLICAS",
                    "_TRANSPORT"]),
    1: ("Fetch", ["NOT_LEADER_FOR_PARTITION", "UNKNOWN_TOPIC_OR_PART", "_TRANSPORT"]),
    8: ("OffsetCommit", ["COORDINATOR_NOT_AVAILABLE", "REQUEST_TIMED_OUT",
                         "NOT_COORDINATOR"]),
    12: ("Heartbeat", ["COORDINATOR_LOAD_IN_PROGRESS", "NOT_COORDINATOR"]),
}
BROKERS = 3


class ChaosStack(Stack):
    """partitions: of every topic (= timers shards). The mock broker keeps
    about 5 MiB per partition and silently drops the oldest messages past
    that, so a long run needs more partitions than the default 6 to keep
    every message it counts (collect() fails the run if any was dropped)."""
    def __init__(self, *args, partitions=6, **kw):
        super().__init__(*args, **kw)
        self.partitions = partitions

    def start_redis(self):
        self._spawn("redis", ["redis-server", "--port", str(self.redis_port),
                              "--bind", "127.0.0.1", "--dir", self.dir,
                              "--appendonly", "yes", "--appendfsync", "always",
                              "--save", ""])
        wait_for("redis", lambda: self.redis("PING") == "PONG")

    def start_broker(self):
        super().start_broker("--brokers", str(BROKERS), "--partitions", str(self.partitions))

    def set_clock_running(self, iso):
        """Moves every running service's manual clock; one that is down or
        still starting gets it when it is back (Faults.restart)."""
        self.clock_start = iso
        for name in list(self.procs):
            if name in self.names:
                self.post_clock(name)

    def post_clock(self, name):
        try:
            http("POST", self.url(name, "/admin/clock"), {"now": self.clock_start}, timeout=5)
        except OSError:
            pass  # down: it starts at clock_start, or gets it once ready

    def all_ready(self):
        return all(http("GET", self.url(n, "/readyz"), timeout=2).status == 200
                   for n in self.names)


class Faults:
    """Each fault takes the stack down somewhere and returns once it is back;
    done[] records (fault, seconds from injection to every service ready)."""

    def __init__(self, stack, rng, log):
        self.stack, self.rng, self.log = stack, rng, log
        self.done = []

    def _recovered(self, what, t0):
        wait_for(f"every service ready after {what}", self.stack.all_ready, timeout=120,
                 interval=0.2)
        took = time.time() - t0
        self.done.append((what, took))
        self.log(f"fault {what}: recovered in {took:.1f} s")

    def restart(self, name):
        self.stack.start_service(name)
        self.stack.wait_ready(name, timeout=120)
        self.stack.post_clock(name)  # the clock may have moved while it was down

    def kill_service(self, name):
        t0 = time.time()
        self.stack.kill(name)
        time.sleep(self.rng.uniform(0.1, 1.5))  # down a while: work piles up
        self.restart(name)
        self._recovered(f"SIGKILL {name}", t0)

    def broker_down(self):
        broker = self.rng.randint(1, BROKERS)
        t0 = time.time()
        self.stack.control(f"down {broker}")
        time.sleep(self.rng.uniform(1.0, 4.0))
        self.stack.control(f"up {broker}")
        self._recovered(f"broker {broker} down", t0)

    def request_errors(self):
        t0 = time.time()
        for apikey, (_, codes) in REQUEST_ERRORS.items():
            picked = [self.rng.choice(codes) for _ in range(self.rng.randint(3, 8))]
            self.stack.control(f"errors {apikey} {' '.join(picked)}")
        time.sleep(self.rng.uniform(1.0, 3.0))
        self.stack.control("clear")  # what was not consumed yet is dropped
        self._recovered("request errors", t0)

    def restart_redis(self):
        t0 = time.time()
        self.stack.kill("redis")
        time.sleep(self.rng.uniform(0.2, 2.0))
        self.stack.start_redis()  # same port and directory: loads the AOF
        self._recovered("redis-server SIGKILL and restart from AOF", t0)

    def round(self, services):
        """Every fault once, in a random order, each at a random moment."""
        plan = [lambda n=n: self.kill_service(n) for n in services]
        plan += [self.broker_down, self.request_errors, self.restart_redis]
        self.rng.shuffle(plan)
        for fault in plan:
            time.sleep(self.rng.uniform(0.2, 3.0))
            fault()
