"""Runs a real sendpath stack for a test: redis-server, sendpath-broker and
the services as processes on loopback ports, each test in its own temporary
directory. Nothing is mocked; the test talks to the stack over HTTP, Kafka
(kcat) and Redis (redis-cli), exactly as an integrator would.

Only the standard library is used, so the tests run on Debian's python3.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SERVICES = ("intake", "evidence", "timers", "notify", "ops")

# Lines by which AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer
# announce a report (the -DSP_ASAN=ON build). Any of them in a process's log
# fails the test, even when the test itself passed: a report in a path the
# test does not look at (shutdown, a background timer) is still a bug.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "SUMMARY: UndefinedBehaviorSanitizer", ": runtime error: ")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, fn, timeout=30.0, interval=0.1):
    """Calls fn until it returns a truthy value; fails the test on timeout."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # the stack is still starting
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def http(method, url, body=None, headers=None, timeout=10):
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        data = data.encode() if isinstance(data, str) else data
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Response(r.status, r.headers, r.read().decode())
    except urllib.error.HTTPError as e:
        return Response(e.code, e.headers, e.read().decode())


class Stack:
    def __init__(self, build_dir, source_dir, clock_start=None, services=SERVICES,
                 extra_env=None):
        self.build = os.path.abspath(build_dir)
        self.source = os.path.abspath(source_dir)
        self.dir = tempfile.mkdtemp(prefix="sendpath-test-")
        self.var = os.path.join(self.dir, "var")
        os.makedirs(os.path.join(self.var, "logs"))
        self.clock_start = clock_start
        self.services = services
        self.extra_env = extra_env or {}
        self.procs = {}
        self.exit_codes = {}  # name -> exit code of a SIGTERM/SIGINT stop
        self.injected = set()  # message values the test put on topics itself
        self.ports = {s: free_port() for s in services}
        self.redis_port = free_port()
        self.bootstrap_file = os.path.join(self.dir, "broker.bootstrap")

    # -- processes -----------------------------------------------------------
    def _spawn(self, name, argv, env=None):
        log = open(os.path.join(self.var, "logs", name + ".log"), "ab")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                             env=env or os.environ.copy(), cwd=self.source)
        self.procs[name] = p
        return p

    def start(self):
        self.start_redis()
        self.start_broker()
        for s in self.services:
            self.start_service(s)
        for s in self.services:
            self.wait_ready(s)
        return self

    def start_redis(self):
        self._spawn("redis", ["redis-server", "--port", str(self.redis_port),
                              "--bind", "127.0.0.1", "--dir", self.dir,
                              "--appendonly", "yes", "--save", ""])
        wait_for("redis", lambda: self.redis("PING") == "PONG")

    def start_broker(self):
        self._spawn("broker", [os.path.join(self.build, "tools/broker/sendpath-broker"),
                               "--bootstrap-file", self.bootstrap_file])
        wait_for("broker bootstrap file",
                 lambda: os.path.exists(self.bootstrap_file)
                 and os.path.getsize(self.bootstrap_file) > 0)
        with open(self.bootstrap_file) as f:
            self.bootstrap = f.read().strip()

    def service_env(self, name):
        env = os.environ.copy()
        env.update({
            "SENDPATH_CONFIG": os.path.join(self.source, "config/sendpath.conf"),
            "SENDPATH_HTTP_PORT": str(self.ports[name]),
            "SENDPATH_REDIS_PORT": str(self.redis_port),
            "SENDPATH_BROKER_BOOTSTRAP_FILE": self.bootstrap_file,
            "SENDPATH_VAR_DIR": self.var,
            "SENDPATH_LOG_LEVEL": "debug",
        })
        # The config file names each service's port; the environment wins.
        env[f"SENDPATH_{name.upper()}_HTTP_PORT"] = str(self.ports[name])
        if self.clock_start:
            env["SENDPATH_CLOCK_MODE"] = "manual"
            env["SENDPATH_CLOCK_START"] = self.clock_start
        env.update(self.extra_env)
        return env

    def start_service(self, name):
        binary = os.path.join(self.build, f"services/{name}/sendpath-{name}")
        return self._spawn(name, [binary], env=self.service_env(name))

    def wait_ready(self, name, timeout=60):
        wait_for(f"{name} ready",
                 lambda: http("GET", self.url(name, "/readyz"), timeout=2).status == 200,
                 timeout=timeout, interval=0.2)

    def url(self, name, path):
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def stop_service(self, name, sig=signal.SIGTERM, timeout=30):
        p = self.procs.pop(name)
        p.send_signal(sig)
        code = p.wait(timeout=timeout)
        if sig in (signal.SIGTERM, signal.SIGINT):
            self.exit_codes[name] = code
        return code

    def stop_left_running(self):
        """Stops, with SIGTERM, the services the test left running, so that
        what happens at exit (LeakSanitizer's check, shutdown paths) is seen."""
        for s in reversed(self.services):
            if s in self.procs and self.procs[s].poll() is None:
                self.stop_service(s)

    def sanitizer_reports(self):
        """Every sanitizer report line in the processes' logs, and every
        service or broker that exited non-zero after SIGTERM: a list of
        strings, empty when all is well."""
        found = []
        logs = os.path.join(self.var, "logs")
        for name in sorted(os.listdir(logs)):
            with open(os.path.join(logs, name), errors="replace") as f:
                found += [f"{name}: {line.strip()}" for line in f
                          if any(m in line for m in SANITIZER_MARKERS)]
        found += [f"{name} exited {code} after SIGTERM"
                  for name, code in sorted(self.exit_codes.items()) if code != 0]
        return found

    def check_sanitizers(self):
        found = self.sanitizer_reports()
        if found:
            raise AssertionError("sanitizer reports or failed exits:\n  " +
                                 "\n  ".join(found[:20]))

    # Topics whose every message must match proto/ (the commands and dead-letter
    # topics carry what clients sent, refused messages included, by design).
    CONTRACT_TOPICS = ("sendpath.case-events", "sendpath.deadlines",
                       "sendpath.evidence-events", "sendpath.notification-outcomes")

    def check_contract(self):
        """Every event the services published during this test, validated
        against proto/ with ajv (tests/contract/validate.mjs); what the test
        injected itself is left out. Fails the test on any mismatch, so the
        contract cannot drift from what the code sends."""
        path = os.path.join(self.dir, "messages.jsonl")
        count = 0
        with open(path, "w") as f:
            for topic in self.CONTRACT_TOPICS:
                for m in self.topic(topic):
                    if m["value"] in self.injected:
                        continue  # the test's own stand-ins for a service
                    f.write(json.dumps({"topic": topic, "key": m["key"],
                                        "value": m["value"]}) + "\n")
                    count += 1
        validator = os.path.join(self.source, "tests/contract/validate.mjs")
        out = subprocess.run(["node", validator, "--messages", path, "--quiet"],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise AssertionError(f"{count} messages checked against proto/; failures:\n"
                                 f"{out.stdout[-4000:]}{out.stderr[-2000:]}")
        print(f"contract: {count} messages on {len(self.CONTRACT_TOPICS)} topics match "
              f"proto/", file=sys.stderr)

    def stop(self):
        """Checks the contract while the broker is up, then stops the services
        with SIGTERM and returns their exit codes."""
        if "broker" in self.procs:
            self.check_contract()
        codes = {}
        for s in reversed(self.services):
            if s in self.procs:
                codes[s] = self.stop_service(s)
        for name in ("broker", "redis"):
            if name in self.procs:
                p = self.procs.pop(name)
                p.terminate()
                try:
                    code = p.wait(timeout=10)
                    if name == "broker":
                        self.exit_codes[name] = code
                except subprocess.TimeoutExpired:
                    p.kill()
        return codes

    def cleanup(self, keep=False):
        for p in self.procs.values():
            p.kill()
        if keep:
            print(f"stack directory kept: {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def dump_logs(self):
        logs = os.path.join(self.var, "logs")
        for name in sorted(os.listdir(logs)):
            with open(os.path.join(logs, name), errors="replace") as f:
                lines = f.readlines()[-40:]
            print(f"----- {name} (last {len(lines)} lines)", file=sys.stderr)
            sys.stderr.writelines(lines)

    # -- clients -------------------------------------------------------------
    def redis(self, *args):
        out = subprocess.run(["redis-cli", "-p", str(self.redis_port), "--raw", *args],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.rstrip("\n")

    def topic(self, name, timeout_s=10):
        """Every message now on a topic, as dicts {key, partition, offset, value}."""
        fmt = "%k\t%p\t%o\t%s\n"
        out = subprocess.run(["kcat", "-b", self.bootstrap, "-C", "-t", name,
                              "-o", "beginning", "-e", "-q", "-f", fmt],
                             capture_output=True, text=True, timeout=timeout_s)
        msgs = []
        for line in out.stdout.splitlines():
            if not line.strip():
                continue
            k, p, o, v = line.split("\t", 3)
            msgs.append({"key": k, "partition": int(p), "offset": int(o), "value": v})
        return msgs

    def kill(self, name):
        """SIGKILL: no shutdown, no offset commit, nothing flushed."""
        p = self.procs.pop(name)
        p.kill()
        p.wait(timeout=10)

    def produce(self, topic, key, value):
        self.injected.add(value)
        subprocess.run(["kcat", "-b", self.bootstrap, "-P", "-t", topic, "-K", "\t"],
                       input=f"{key}\t{value}\n", text=True, check=True, timeout=10)

    def produce_many(self, topic, pairs):
        self.injected.update(v for _, v in pairs)
        lines = "".join(f"{k}\t{v}\n" for k, v in pairs)
        subprocess.run(["kcat", "-b", self.bootstrap, "-P", "-t", topic, "-K", "\t"],
                       input=lines, text=True, check=True, timeout=60)

    def events(self, topic):
        return [json.loads(m["value"]) | {"_partition": m["partition"]}
                for m in self.topic(topic)]

    def set_clock(self, iso):
        # A service restarted later starts its manual clock here too.
        self.clock_start = iso
        for s in self.services:
            if s in self.procs:
                r = http("POST", self.url(s, "/admin/clock"), {"now": iso})
                assert r.status == 200, (s, r.status, r.body)


def main(test_fn, clock_start=None, services=SERVICES, extra_env=None):
    """Entry point shared by the test scripts: parses --build-dir and
    --source-dir, runs test_fn(stack), prints a closing line ctest and people
    can read, and keeps the stack's logs on failure."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    stack = Stack(args.build_dir, args.source_dir, clock_start=clock_start,
                  services=services, extra_env=extra_env)
    ok = False
    try:
        stack.start()
        test_fn(stack)
        stack.stop_left_running()
        stack.check_sanitizers()
        ok = True
    finally:
        if not ok:
            stack.dump_logs()
        stack.cleanup(keep=args.keep or not ok)
    print("1 passed, 0 failed")
