"""docs/ops/: the alerting rules are valid, tested, and in the runbook.

  1. promtool check config docs/ops/prometheus.yml (which loads alerts.yml)
     and promtool check rules docs/ops/alerts.yml (lint included);
  2. promtool test rules docs/ops/alerts.test.yml;
  3. every alert in alerts.yml is expected to fire at least once and to stay
     silent at least once in alerts.test.yml, and has a section named after
     it in docs/ops.md, the anchor its runbook annotation points to.

Any promtool complaint or a missing piece fails. Usage:
  check_alerts.py <source dir>
"""
import os
import re
import subprocess
import sys


def promtool(*args, cwd):
    out = subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True,
                         timeout=120)
    text = out.stdout + out.stderr
    # promtool prints lint findings without always failing; treat them as failures.
    if out.returncode != 0 or re.search(r"(?i)warning|lint", text):
        sys.exit(f"promtool {' '.join(args)} failed:\n{text}")
    return text


def alert_tests(path):
    """{alert: (times expected firing, times expected silent)}."""
    counts = {}
    name = None
    for line in open(path):
        m = re.match(r"\s*alertname:\s*(\S+)", line)
        if m:
            name = m[1]
            counts.setdefault(name, [0, 0])
            continue
        m = re.match(r"\s*exp_alerts:\s*(\[\])?\s*(#.*)?$", line)
        if m and name:
            counts[name][0 if m[1] is None else 1] += 1
            name = None
    return counts


def main():
    src = sys.argv[1]
    ops = os.path.join(src, "docs/ops")
    promtool("check", "config", "prometheus.yml", cwd=ops)
    promtool("check", "rules", "alerts.yml", cwd=ops)
    promtool("test", "rules", "alerts.test.yml", cwd=ops)
    rules = open(os.path.join(ops, "alerts.yml")).read()
    alerts = re.findall(r"^\s*-\s*alert:\s*(\S+)", rules, re.M)
    runbooks = dict(re.findall(r"^\s*-\s*alert:\s*(\S+)[\s\S]*?runbook:\s*(\S+)", rules, re.M))
    tests = alert_tests(os.path.join(ops, "alerts.test.yml"))
    with open(os.path.join(src, "docs/ops.md")) as f:
        headings = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
                    for h in re.findall(r"^#+\s+(.*)$", f.read(), re.M)}
    problems = []
    for a in alerts:
        fire, silent = tests.get(a, (0, 0))
        if not fire or not silent:
            problems.append(f"{a}: alerts.test.yml expects it firing {fire} and "
                            f"silent {silent} times; both must be at least 1")
        if a.lower() not in headings:
            problems.append(f"{a}: no section '{a}' in docs/ops.md")
        if runbooks.get(a) != f"docs/ops.md#{a.lower()}":
            problems.append(f"{a}: runbook annotation {runbooks.get(a)!r} is not "
                            f"docs/ops.md#{a.lower()}")
    for a in set(tests) - set(alerts):
        problems.append(f"{a}: tested in alerts.test.yml but not in alerts.yml")
    if problems:
        sys.exit("\n".join(problems))
    print(f"alerts: {len(alerts)} rules valid, each tested firing and silent, each in "
          f"docs/ops.md")


if __name__ == "__main__":
    main()
