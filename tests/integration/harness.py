"""Runs a real sendpath stack for a test: redis-server, sendpath-broker and
the services as processes on loopback ports, each test in its own temporary
directory. Nothing is mocked; the test talks to the stack over HTTP, Kafka
(kcat) and Redis (redis-cli), exactly as an integrator would.

Auth is on, as in production: each stack makes its own token file with
`sendpath token new` (the harness's token has every scope but school), and
http() sends that token unless told otherwise (token=None: no header), so
every test goes through the same guard a portal does.

Only the standard library is used, so the tests run on Debian's python3.
"""
import argparse
import atexit
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

SERVICES = ("intake", "evidence", "timers", "notify", "ops")

# The bearer token http() sends by default: the running stack's (Stack.start).
DEFAULT_TOKEN = None
_DEFAULT = object()
HARNESS_SCOPES = "intake:write,casework:write,ops:read,admin"
SETPRIV = shutil.which("setpriv")  # util-linux; see _orphan_proof
# Lines by which AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer
# announce a report (the -DSP_ASAN=ON build). Any of them in a process's log
# fails the test, even when the test itself passed: a report in a path the
# test does not look at (shutdown, a background timer) is still a bug.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "SUMMARY: UndefinedBehaviorSanitizer", ": runtime error: ")


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


_handed_out = set()
# Ports promised to a process of this test are also claimed in a directory
# shared by every test on the machine, so tests run side by side (ctest -j)
# never hand out the same port: a claim is a file named for the port holding
# the claimant's pid, made with O_EXCL, and a dead claimant's file is stale.
_CLAIMS = os.path.join(tempfile.gettempdir(), "sendpath-test-ports")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _claim_port(port):
    """True when this process now holds the machine-wide claim on port."""
    os.makedirs(_CLAIMS, exist_ok=True)
    path = os.path.join(_CLAIMS, str(port))
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                with open(path) as f:
                    owner = int(f.read().strip() or 0)
            except (OSError, ValueError):
                owner = 0
            if owner and (owner == os.getpid() or _pid_alive(owner)):
                return False
            try:  # stale (its test died without cleaning up): take it over
                os.unlink(path)
            except FileNotFoundError:
                pass
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False


def _release_ports():
    for port in _handed_out:
        try:
            os.unlink(os.path.join(_CLAIMS, str(port)))
        except OSError:
            pass


atexit.register(_release_ports)


def free_port():
    """A port free now, chosen below the kernel's ephemeral range: the broker
    and every client socket take theirs from that range, so a port handed out
    here and bound a moment later by a service cannot be taken meanwhile by
    one of them (a bind(0) port could, and did: "Address already in use")."""
    lo = _ephemeral_range()[0]
    for _ in range(200):
        port = random.randrange(max(1024, lo - 12000), lo)
        if port in _handed_out:  # free now, but promised to a process of ours
            continue
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if not _claim_port(port):  # promised to a test running beside us
            continue
        _handed_out.add(port)
        return port
    with socket.socket() as s:  # the low range is full: fall back
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


def http(method, url, body=None, headers=None, timeout=10, token=_DEFAULT, context=None):
    """token: the bearer token to send; by default the stack's own, None for
    none. context: an ssl.SSLContext for https URLs."""
    data = None
    hdrs = dict(headers or {})
    if token is _DEFAULT:
        token = DEFAULT_TOKEN
    if token is not None:
        hdrs.setdefault("Authorization", f"Bearer {token}")
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        data = data.encode() if isinstance(data, str) else data
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
            return Response(r.status, r.headers, r.read().decode())
    except urllib.error.HTTPError as e:
        return Response(e.code, e.headers, e.read().decode())


def _orphan_proof(argv):
    """argv wrapped so the process is killed when the test process dies (a
    ctest timeout kills the test with SIGKILL, which runs no cleanup, and
    left services running with the ports they held). Linux ties the parent
    death signal to the thread that forks, so only processes started from
    the main thread get it: one a chaos thread restarts must outlive that
    thread."""
    if SETPRIV and threading.current_thread() is threading.main_thread():
        return [SETPRIV, "--pdeathsig", "KILL", "--"] + list(argv)
    return argv


class Stack:
    """instances: {service: n} runs n processes of that service, named
    "<service>.1" .. "<service>.<n>", each with its own HTTP port and log file
    and all in the service's one consumer group (sendpath-<service>), as
    replicas of a Deployment would be. Other services run once, named for the
    service."""
    def __init__(self, build_dir, source_dir, clock_start=None, services=SERVICES,
                 extra_env=None, tokens=None, instances=None):
        self.build = os.path.abspath(build_dir)
        self.source = os.path.abspath(source_dir)
        self.dir = tempfile.mkdtemp(prefix="sendpath-test-")
        self.var = os.path.join(self.dir, "var")
        os.makedirs(os.path.join(self.var, "logs"))
        self.clock_start = clock_start
        self.services = services
        self.extra_env = extra_env or {}
        self.procs = {}
        self.names = []  # every service process, instances included, in start order
        for s in services:
            n = (instances or {}).get(s, 1)
            self.names += [s] if n == 1 else [f"{s}.{i}" for i in range(1, n + 1)]
        self.exit_codes = {}  # name -> exit code of a SIGTERM/SIGINT stop
        self.injected = set()  # message values the test put on topics itself
        self.ports = {name: free_port() for name in self.names}
        self.redis_port = free_port()
        self.bootstrap_file = os.path.join(self.dir, "broker.bootstrap")
        # name -> token; "harness" is what http() sends by default.
        self.tokens_file = os.path.join(self.dir, "tokens")
        self.tokens = {}
        for name, scopes in {"harness": HARNESS_SCOPES, **(tokens or {})}.items():
            self.add_token(name, scopes)

    def add_token(self, name, scopes):
        """Makes a token with the real CLI and appends its line to the token
        file; services started after this load it."""
        out = subprocess.run([os.path.join(self.build, "tools/cli/sendpath"), "token", "new",
                              "--name", name, "--scope", scopes],
                             capture_output=True, text=True, timeout=10, check=True)
        token, line = out.stdout.splitlines()
        with open(self.tokens_file, "a") as f:
            f.write(line + "\n")
        self.tokens[name] = token
        return token

    # -- processes -----------------------------------------------------------
    def _spawn(self, name, argv, env=None):
        log = open(os.path.join(self.var, "logs", name + ".log"), "ab")
        p = subprocess.Popen(_orphan_proof(argv), stdout=log, stderr=subprocess.STDOUT,
                             env=env or os.environ.copy(), cwd=self.source)
        self.procs[name] = p
        return p

    def start(self):
        global DEFAULT_TOKEN
        DEFAULT_TOKEN = self.tokens["harness"]
        os.environ["SENDPATH_TOKEN"] = DEFAULT_TOKEN  # for the CLI tests run
        self.start_redis()
        self.start_broker()
        for name in self.names:
            self.start_service(name)
        for name in self.names:
            self.wait_ready(name)
        return self

    def start_redis(self):
        self._spawn("redis", ["redis-server", "--port", str(self.redis_port),
                              "--bind", "127.0.0.1", "--dir", self.dir,
                              "--appendonly", "yes", "--save", ""])
        wait_for("redis", lambda: self.redis("PING") == "PONG")

    def start_redis_server(self, name, port=None, args=()):
        """Another redis-server under its own name, port and directory (a
        shard's server, say); its AOF survives a restart on the same port.
        args: more redis-server options ("--replicaof", host, port).
        Returns the port."""
        port = port or free_port()
        d = os.path.join(self.dir, name)
        os.makedirs(d, exist_ok=True)
        self._spawn(name, ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                           "--dir", d, "--appendonly", "yes", "--save", "", *args])
        wait_for(name, lambda: self.redis_on(port, "PING") == "PONG")
        return port

    def start_broker(self, *args):
        """args: more sendpath-broker options ("--brokers", "3")."""
        self.control_port = free_port()
        self._spawn("broker", [os.path.join(self.build, "tools/broker/sendpath-broker"),
                               *args, "--bootstrap-file", self.bootstrap_file,
                               "--control-port", str(self.control_port)])
        wait_for("broker bootstrap file",
                 lambda: os.path.exists(self.bootstrap_file)
                 and os.path.getsize(self.bootstrap_file) > 0)
        with open(self.bootstrap_file) as f:
            self.bootstrap = f.read().strip()

    def control(self, line):
        """One command on the broker's control port ("down 1", "up 1",
        "errors ...", "clear"); fails unless it answers "ok"."""
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=10) as s:
            s.sendall((line + "\n").encode())
            reply = s.makefile().readline().strip()
        assert reply == "ok", f"broker control {line!r}: {reply}"

    @staticmethod
    def service_of(name):
        """"timers.2" -> "timers"; a single instance is named for its service."""
        return name.split(".", 1)[0]

    def instances(self, service):
        """The process names of one service's instances, in start order."""
        return [n for n in self.names if self.service_of(n) == service]

    def service_env(self, name):
        service = self.service_of(name)
        env = os.environ.copy()
        env.update({
            "SENDPATH_CONFIG": os.path.join(self.source, "config/sendpath.conf"),
            "SENDPATH_HTTP_PORT": str(self.ports[name]),
            "SENDPATH_REDIS_PORT": str(self.redis_port),
            "SENDPATH_BROKER_BOOTSTRAP_FILE": self.bootstrap_file,
            "SENDPATH_VAR_DIR": self.var,
            "SENDPATH_LOG_LEVEL": "debug",
            "SENDPATH_AUTH_TOKENS_FILE": self.tokens_file,
        })
        env.pop("SENDPATH_TOKEN", None)  # the CLI's, not a setting
        # The config file names each service's port; the environment wins.
        env[f"SENDPATH_{service.upper()}_HTTP_PORT"] = str(self.ports[name])
        if self.clock_start:
            env["SENDPATH_CLOCK_MODE"] = "manual"
            env["SENDPATH_CLOCK_START"] = self.clock_start
        env.update(self.extra_env)
        return env

    def start_service(self, name):
        """Starts a service, or one instance of it by its "<service>.<i>" name
        (a new name gets a port of its own and joins the same group)."""
        service = self.service_of(name)
        if name not in self.names:
            self.names.append(name)
        self.ports.setdefault(name, free_port())
        binary = os.path.join(self.build, f"services/{service}/sendpath-{service}")
        return self._spawn(name, [binary], env=self.service_env(name))

    def wait_ready(self, name, timeout=60):
        wait_for(f"{name} ready",
                 lambda: http("GET", self.url(name, "/readyz"), timeout=2).status == 200,
                 timeout=timeout, interval=0.2)

    def readyz(self, name):
        """The instance's /readyz body: {"ready", "redis", "partitions", ...}."""
        return http("GET", self.url(name, "/readyz"), timeout=2).json()

    def url(self, name, path):
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def post_intake(self, path, body, key=None):
        """POSTs body to intake with an idempotency key: key, or a fresh one
        per call ("harness-<n>"), so repeated seeds never collide."""
        self._posts = getattr(self, "_posts", 0) + 1
        body = dict(body, idempotency_key=key or f"harness-{self._posts}")
        return http("POST", self.url("intake", path), body)

    def create_intake(self, path, body):
        """post_intake that must create (201); returns the answer's JSON."""
        r = self.post_intake(path, body)
        assert r.status == 201, (path, r.status, r.body)
        return r.json()

    # librdkafka 2.0.2's own teardown race (upstream issue 3608): a broker's
    # last reference dropped on another thread while rd_kafka_destroy runs,
    # after the consumer has left its group. Not ours to fix (Debian's
    # library); docs/reliability.md. Only this exact abort is forgiven.
    RDKAFKA_TEARDOWN_RACE = ("rd_kafka_broker_destroy_final: Assertion "
                             "`thrd_is_current(rkb->rkb_thread)' failed.")

    def librdkafka_teardown_race(self, name, code):
        """True if name's exit was librdkafka's teardown abort, the last
        line of its log, after it had started stopping."""
        if code != -signal.SIGABRT:
            return False
        try:
            with open(os.path.join(self.var, "logs", f"{name}.log"), errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return False
        return (bool(lines) and lines[-1].endswith(self.RDKAFKA_TEARDOWN_RACE)
                and any("stopping" in ln for ln in lines[-20:]))

    def stop_service(self, name, sig=signal.SIGTERM, timeout=30):
        p = self.procs.pop(name)
        p.send_signal(sig)
        code = p.wait(timeout=timeout)
        if self.librdkafka_teardown_race(name, code):
            print(f"harness: {name} hit librdkafka's teardown race at exit (upstream issue "
                  f"3608, docs/reliability.md); not counted as an unclean stop",
                  file=sys.stderr)
            code = 0
        if sig in (signal.SIGTERM, signal.SIGINT):
            self.exit_codes[name] = code
        return code

    def stop_left_running(self):
        """Stops, with SIGTERM, the services the test left running, so that
        what happens at exit (LeakSanitizer's check, shutdown paths) is seen."""
        for name in reversed(self.names):
            if name in self.procs and self.procs[name].poll() is None:
                self.stop_service(name)

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
        for name in reversed(self.names):
            if name in self.procs:
                codes[name] = self.stop_service(name)
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

    def redis_on(self, port, *args):
        """redis-cli against any server of the stack, by port."""
        out = subprocess.run(["redis-cli", "-p", str(port), "--raw", *args],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.rstrip("\n")

    def topic(self, name, timeout_s=10):
        """Every message now on a topic, as dicts {key, partition, offset, ts,
        value}; ts is the message's timestamp (ms since the epoch), set by the
        producing client when it sent the message."""
        fmt = "%k\t%p\t%o\t%T\t%s\n"
        out = subprocess.run(["kcat", "-b", self.bootstrap, "-C", "-t", name,
                              "-o", "beginning", "-e", "-q", "-f", fmt],
                             capture_output=True, text=True, timeout=timeout_s)
        msgs = []
        for line in out.stdout.splitlines():
            if not line.strip():
                continue
            k, p, o, ts, v = line.split("\t", 4)
            msgs.append({"key": k, "partition": int(p), "offset": int(o), "ts": int(ts),
                         "value": v})
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
        self.set_clock_of(self.names, iso)

    def set_clock_of(self, names, iso):
        """Moves the manual clock of the named running processes only."""
        for name in names:
            if name in self.procs:
                r = http("POST", self.url(name, "/admin/clock"), {"now": iso})
                assert r.status == 200, (name, r.status, r.body)


def main(test_fn, clock_start=None, services=SERVICES, extra_env=None, tokens=None, instances=None):
    """Entry point shared by the test scripts: parses --build-dir and
    --source-dir, runs test_fn(stack), prints a closing line ctest and people
    can read, and keeps the stack's logs on failure."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    stack = Stack(args.build_dir, args.source_dir, clock_start=clock_start,
                  services=services, extra_env=extra_env, tokens=tokens, instances=instances)
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
