"""The harness notices sanitizer reports: runs sanitizer_canary (built with
-DSP_ASAN=ON) the way the harness runs a service, once per kind of report,
and checks that Stack.sanitizer_reports() names each one and stays quiet for
a clean run. Registered only in the sanitizer build."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import Stack  # noqa: E402
import argparse  # noqa: E402


def run(stack, mode):
    p = stack._spawn(f"canary-{mode}", [os.path.join(stack.build, "tests/sanitizer_canary"),
                                        mode])
    p.wait(timeout=30)
    return [line for line in stack.sanitizer_reports() if line.startswith(f"canary-{mode}")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--source-dir", required=True)
    args = ap.parse_args()
    stack = Stack(args.build_dir, args.source_dir, services=())
    try:
        assert run(stack, "clean") == [], "a clean run was flagged"
        for mode, marker in (("overflow", "AddressSanitizer"), ("leak", "LeakSanitizer"),
                             ("undefined", "runtime error")):
            found = run(stack, mode)
            assert any(marker in line for line in found), (mode, found)
            print(f"canary: {mode} noticed: {found[0]}", file=sys.stderr)
        # And a run that passed its test still fails on them (main()'s check).
        try:
            stack.check_sanitizers()
        except AssertionError:
            pass
        else:
            raise AssertionError("check_sanitizers() let the reports pass")
    finally:
        stack.cleanup()
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
