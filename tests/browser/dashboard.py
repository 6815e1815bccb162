"""The dashboard's browser test: a real stack (tests/integration/harness.py)
seeded with the ops cases (ops_seed.py) through intake's HTTP API and the
manual clock, then tests/browser/dashboard.mjs in Debian's Chromium.
Screenshots go to <build dir>/test-output/."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import main  # noqa: E402
from ops_seed import OPS_ENV, TODAY, seed  # noqa: E402


def test(stack):
    cases = seed(stack)
    out = os.path.join(stack.build, "test-output")
    os.makedirs(out, exist_ok=True)
    # The caseworker signs in with an ops:read token, as a person would.
    token = stack.tokens["dashboard"]
    r = subprocess.run(["node", os.path.join(HERE, "dashboard.mjs"), stack.url("ops", ""),
                        json.dumps(cases), out, token],
                       capture_output=True, text=True, timeout=180)
    sys.stderr.write(r.stdout + r.stderr)
    assert r.returncode == 0, "the dashboard test failed"
    assert os.path.getsize(os.path.join(out, "dashboard.png")) > 10000
    codes = stack.stop()
    assert all(v == 0 for v in codes.values()), f"unclean shutdown: {codes}"


if __name__ == "__main__":
    main(test, clock_start=TODAY, extra_env=OPS_ENV, tokens={"dashboard": "ops:read"})
